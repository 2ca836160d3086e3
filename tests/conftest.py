"""Shared fixtures: the bundled corpus, an index built from it once per session, and a
``run`` helper that invokes the CLI the way a user types it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from searcher.cli import cli

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "corpus"
SEED_IDS = sorted(p.stem for p in CORPUS.glob("*.txt"))  # the five bundled articles
QUERY = "sợ trách nhiệm"  # the README's query
# The team's shared data sits beside the repository (CI lays a copy there too).
SHARED = Path(os.environ.get("SEARCHER_SHARED", REPO.parent / "shared"))


def shared_path(*parts: str) -> Path:
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.fail(f"shared data not found: {path} (set SEARCHER_SHARED to the shared/ folder)")
    return path


@pytest.fixture(scope="session")
def seed_index(tmp_path_factory) -> Path:
    """An index of the bundled corpus, built once through the CLI."""
    index = tmp_path_factory.mktemp("seed-index")
    result = CliRunner().invoke(cli, ["--index", str(index), "--corpus", str(CORPUS), "index"])
    assert result.exit_code == 0, result.output
    return index


@pytest.fixture
def run(seed_index):
    """``run("query", "sợ trách nhiệm")`` → click Result, against the seed index."""

    def invoke(*args: str, index: Path | None = None, corpus: Path | None = None, env=None, input=None):
        argv = ["--index", str(index or seed_index), "--corpus", str(corpus or CORPUS), *args]
        return CliRunner().invoke(cli, argv, env=env, input=input)

    return invoke


@pytest.fixture
def corpus_copy(tmp_path) -> Path:
    """A writable copy of the bundled corpus."""
    target = tmp_path / "corpus"
    shutil.copytree(CORPUS, target)
    return target
