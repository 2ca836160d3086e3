"""The test cluster itself: what the OpenSearch engine's tests will stand on.

Plain HTTP (urllib), so that these run before opensearch-py is a dependency. The node
stop/start test comes last: it leaves the cluster green again, but later tests in the same
session would otherwise meet it yellow.
"""

from __future__ import annotations

import json
import urllib.request

import pytest

pytestmark = pytest.mark.opensearch

# Pre-analyzed terms as the engine sends them: "<folded>|<canonical>" words, space-joined.
PARAGRAPHS = [
    "benh|bệnh so|sợ trach_nhiem|trách_nhiệm o|ở binh_thuan|bình_thuận",
    "can_bo|cán_bộ so|sợ trach_nhiem|trách_nhiệm khong|không dam|dám lam|làm",
    "chan_chinh|chấn_chỉnh tinh_trang|tình_trạng ne_tranh|né_tránh trach_nhiem|trách_nhiệm",
    "so|số dang_vien|đảng_viên cua|của tinh|tỉnh",
]


def call(url: str, method: str, path: str, body=None, ndjson: bool = False):
    data = None
    headers = {}
    if body is not None:
        if ndjson:
            data = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in body).encode()
            headers["Content-Type"] = "application/x-ndjson"
        else:
            data = json.dumps(body, ensure_ascii=False).encode()
            headers["Content-Type"] = "application/json"
    req = urllib.request.Request(url.split(",")[0] + path, data=data, method=method, headers=headers)
    with urllib.request.urlopen(req, timeout=60) as resp:
        return json.loads(resp.read())


def test_two_nodes_green_node_1_manages(opensearch_url):
    health = call(opensearch_url, "GET", "/_cluster/health")
    assert (health["cluster_name"], health["status"], health["number_of_nodes"]) == ("searcher-test", "green", 2)
    nodes = {n["name"]: n for n in call(opensearch_url, "GET", "/_nodes")["nodes"].values()}
    assert sorted(nodes) == ["node-1", "node-2"]
    assert "cluster_manager" in nodes["node-1"]["roles"] and "cluster_manager" not in nodes["node-2"]["roles"]
    assert {n["version"] for n in nodes.values()} == {"2.19.6"}


def test_a_new_index_has_two_shards_one_replica_and_keeps_terms_as_sent(opensearch_url):
    call(opensearch_url, "PUT", "/cluster-defaults", {"mappings": {"properties": {"word": {"type": "text", "analyzer": "whitespace"}}}})
    try:
        settings = call(opensearch_url, "GET", "/cluster-defaults/_settings")["cluster-defaults"]["settings"]["index"]
        assert (settings["number_of_shards"], settings["number_of_replicas"]) == ("2", "1")
        tokens = call(opensearch_url, "POST", "/cluster-defaults/_analyze", {"field": "word", "text": PARAGRAPHS[0]})
        assert [t["token"] for t in tokens["tokens"]] == PARAGRAPHS[0].split(" ")
    finally:
        call(opensearch_url, "DELETE", "/cluster-defaults")


def test_replicas_answer_while_node_2_is_stopped(opensearch_url, opensearch_cluster):
    lines = []
    for i, text in enumerate(PARAGRAPHS):
        lines += [{"index": {"_index": "cluster-failover", "_id": str(i)}}, {"word": text}]
    # wait_for_active_shards=all: the call returns once every replica is started. Without
    # it a replica can still be recovering when node-2 stops, and what it missed is lost.
    call(
        opensearch_url,
        "PUT",
        "/cluster-failover?wait_for_active_shards=all",
        {"mappings": {"properties": {"word": {"type": "text", "analyzer": "whitespace"}}}},
    )
    stopped = False
    try:
        assert call(opensearch_url, "POST", "/_bulk?refresh=true", lines, ndjson=True)["errors"] is False
        query = {"query": {"term": {"word": "trach_nhiem|trách_nhiệm"}}, "track_total_hits": True}
        search = "/cluster-failover/_search?search_type=dfs_query_then_fetch"
        before = call(opensearch_url, "POST", search, query)
        assert before["hits"]["total"] == {"value": 3, "relation": "eq"}

        opensearch_cluster.stop("node-2")
        stopped = True
        # Answered at once, from node-1's copies, even while the shards whose primary was on
        # node-2 are not yet promoted (health red for a moment).
        during = call(opensearch_url, "POST", search, query)
        assert during["_shards"]["failed"] == 0, during["_shards"]
        assert [(h["_id"], h["_score"]) for h in during["hits"]["hits"]] == [
            (h["_id"], h["_score"]) for h in before["hits"]["hits"]
        ]

        # Until node-1 has taken node-2 out of the cluster (green stays green for a moment).
        health = call(opensearch_url, "GET", "/_cluster/health?wait_for_nodes=1&wait_for_status=yellow&timeout=60s")
        assert (health["status"], health["number_of_nodes"], health["timed_out"]) == ("yellow", 1, False)

        opensearch_cluster.start("node-2")
        stopped = False
        health = call(opensearch_url, "GET", "/_cluster/health")
        assert (health["status"], health["number_of_nodes"]) == ("green", 2)
    finally:
        if stopped:  # leave the cluster whole for whatever runs next
            opensearch_cluster.start("node-2")
        call(opensearch_url, "DELETE", "/cluster-failover")
