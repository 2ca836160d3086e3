"""Nodes going away under a running searcher, on a cluster of its own (tests/cluster/start
under a state file of this module's: the shared test cluster is never stopped).

node-2 stopped: every shard still has a copy on node-1, so the same process goes on
answering, with the same hits, and a sync still writes. Both stopped: one line, exit 2.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from searcher.cli import cli
from searcher.engine import ClusterIndex
from searcher.errors import SearcherError
from searcher.index import Index
from tests.cluster.fixture import HERE, START_TIMEOUT_S, Cluster
from tests.conftest import CORPUS

pytestmark = [pytest.mark.opensearch, pytest.mark.slow]


@pytest.fixture(scope="module")
def own_cluster():
    with tempfile.TemporaryDirectory(prefix="searcher-failover-cluster.") as tmp:
        state = Path(tmp) / "state"
        env = {**os.environ, "SEARCHER_CLUSTER_STATE": str(state), "SEARCHER_CLUSTER_DIR": str(Path(tmp) / "nodes")}
        done = subprocess.run([str(HERE / "start")], env=env, capture_output=True, text=True, timeout=START_TIMEOUT_S)
        if done.returncode != 0:
            subprocess.run([str(HERE / "stop")], env=env, capture_output=True, timeout=120)
            pytest.fail(f"tests/cluster/start failed:\n{done.stderr.strip()}", pytrace=False)
        try:
            yield Cluster(done.stdout.strip().split(","), state)
        finally:
            subprocess.run([str(HERE / "stop")], env=env, capture_output=True, timeout=120)


def _wait_yellow(url: str) -> None:
    from opensearchpy import OpenSearch

    client = OpenSearch(hosts=[url], timeout=60)
    try:
        client.cluster.health(wait_for_nodes="1", wait_for_status="yellow", timeout="50s", request_timeout=60)
    finally:
        client.close()


def _answers(index: Index, queries) -> list:
    out = []
    for query in queries:
        results = index.search(query, limit=10)
        out.append((results.total, [(h.article, h.paragraph, h.score) for h in results.hits]))
    return out


QUERIES = ["sợ trách nhiệm", "so trach nhiem", '"nêu gương"', 'trách nhiệm -"nêu gương"', "cán bộ đảng viên"]


def test_node_2_stopped_mid_run_then_both(own_cluster, tmp_path):
    url = ",".join(own_cluster.urls)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for path in CORPUS.glob("*.txt"):
        (corpus / path.name).write_bytes(path.read_bytes())
    location = ClusterIndex(url, "failover")
    index = Index.open_or_create(location, corpus=corpus)
    index.sync()
    before = _answers(index, QUERIES)
    assert all(total > 0 for total, _ in before)

    own_cluster.stop("node-2")
    # The same process, the same client: node-2's URL refuses, node-1 answers from its copies.
    assert _answers(index, QUERIES) == before
    args = ["--engine", "opensearch", "--url", url, "--name", "failover", "--corpus", str(corpus)]
    result = CliRunner().invoke(cli, [*args, "query", "sợ trách nhiệm", "--json"])
    assert result.exit_code == 0, result.output
    # Writes go on too, once node-1's copies have taken over (yellow: no replicas).
    _wait_yellow(own_cluster.urls[0])
    (corpus / "moi.txt").write_text("Bài mới\n\nHợp tác xã nuôi cá lồng trên sông.\n", encoding="utf-8")
    result = CliRunner().invoke(cli, [*args, "index"])
    assert result.exit_code == 0, result.output
    assert "1 added" in result.stderr
    assert Index.open(location, corpus=corpus).search("nuôi cá lồng").complete == 1  # the new article, all three words

    own_cluster.stop("node-1")
    with pytest.raises(SearcherError) as failed:
        index.search("sợ trách nhiệm")
    assert str(failed.value) == f"cannot reach the OpenSearch cluster at {url}: connection refused"
    for command in (["query", "sợ trách nhiệm"], ["stats"], ["index"]):
        result = CliRunner().invoke(cli, [*args, *command])
        assert result.exit_code == 2, result.output
        assert result.stderr.strip().splitlines() == [f"Error: cannot reach the OpenSearch cluster at {url}: connection refused"]
