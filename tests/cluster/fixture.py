"""pytest fixtures for tests that run against the real 2-node OpenSearch test cluster.

Wire them in with ``pytest_plugins = ["tests.cluster.fixture"]`` in ``tests/conftest.py``,
and mark such tests ``@pytest.mark.opensearch``.

- ``SEARCHER_TEST_OPENSEARCH_URL`` set (``.ci/run`` started the cluster): the tests use it,
  and nothing here starts or stops anything.
- Not set: the first test that asks for the cluster starts one for the session
  (``tests/cluster/start``, under a state file of its own, on the next free ports) and the
  session's end stops it. A cluster that cannot start fails those tests with the script's
  message (``Error: no java …``); it is never skipped. ``pytest -m "not opensearch"``
  leaves them out on purpose.

``opensearch_cluster`` can stop and start a node (``stop("node-2")`` / ``start("node-2")``)
when the state file is known: the one this session started, or ``SEARCHER_CLUSTER_STATE``
(default ``tests/cluster/.run/state``, where ``.ci/run``'s start writes it).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
URL_ENV = "SEARCHER_TEST_OPENSEARCH_URL"
START_TIMEOUT_S = 600  # a cold build downloads ~70 MB from Maven Central first


def pytest_configure(config):
    config.addinivalue_line("markers", "opensearch: needs the OpenSearch test cluster (tests/cluster)")


@dataclass
class Cluster:
    """The running test cluster: its URLs and, when known, its state file."""

    urls: list[str]
    state: Path | None

    def _run(self, script: str, *args: str) -> None:
        if self.state is None:
            raise RuntimeError("the cluster's state file is unknown: set SEARCHER_CLUSTER_STATE")
        env = {**os.environ, "SEARCHER_CLUSTER_STATE": str(self.state)}
        done = subprocess.run([str(HERE / script), *args], env=env, capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            raise RuntimeError(f"tests/cluster/{script} {' '.join(args)} failed: {done.stderr.strip()}")

    def stop(self, node: str) -> None:
        """Stop one node (SIGTERM; the cluster goes yellow, its replicas answer)."""
        self._run("stop", node)

    def start(self, node: str) -> None:
        """Start a stopped node again and wait until the cluster is green with 2 nodes."""
        self._run("start", node)


@pytest.fixture(scope="session")
def opensearch_cluster():
    url = os.environ.get(URL_ENV)
    if url:
        state = Path(os.environ.get("SEARCHER_CLUSTER_STATE", HERE / ".run" / "state"))
        yield Cluster(url.split(","), state if state.exists() else None)
        return
    with tempfile.TemporaryDirectory(prefix="searcher-pytest-cluster.") as tmp:
        state = Path(tmp) / "state"
        env = {**os.environ, "SEARCHER_CLUSTER_STATE": str(state), "SEARCHER_CLUSTER_DIR": str(Path(tmp) / "nodes")}
        try:
            done = subprocess.run(
                [str(HERE / "start")], env=env, capture_output=True, text=True, timeout=START_TIMEOUT_S
            )
        except subprocess.TimeoutExpired:
            subprocess.run([str(HERE / "stop")], env=env, capture_output=True, timeout=120)
            pytest.fail(f"tests/cluster/start did not finish in {START_TIMEOUT_S} s", pytrace=False)
        if done.returncode != 0:
            pytest.fail(f"tests/cluster/start failed:\n{done.stderr.strip()}", pytrace=False)
        try:
            yield Cluster(done.stdout.strip().split(","), state)
        finally:
            subprocess.run([str(HERE / "stop")], env=env, capture_output=True, timeout=120)


@pytest.fixture(scope="session")
def opensearch_url(opensearch_cluster) -> str:
    """The cluster's HTTP URLs, comma-separated (what ``--url`` takes)."""
    return ",".join(opensearch_cluster.urls)


@pytest.fixture
def opensearch_client(opensearch_cluster):
    """An opensearch-py client over both nodes (imported here: only these tests need it)."""
    from opensearchpy import OpenSearch

    client = OpenSearch(hosts=opensearch_cluster.urls, timeout=30, max_retries=2, retry_on_timeout=True)
    yield client
    client.close()


@pytest.fixture
def opensearch_index(opensearch_client):
    """A fresh index name for one test; the index is deleted after it, whatever happened."""
    name = f"searcher-test-{uuid.uuid4().hex[:12]}"
    yield name
    opensearch_client.indices.delete(index=name, ignore_unavailable=True)
