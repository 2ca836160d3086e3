"""`searcher serve` through an HTTP client: every endpoint, errors, limits, escaping,
and an index changing under a running application."""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
import threading
from html import unescape
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from searcher.index import Index
from searcher.web.app import MAX_QUERY, create_app
from searcher.web.server import LOOPBACK_NAMES
from tests.conftest import CORPUS

# The web layer is engine-neutral (it calls searcher.Index); its tests use the embedded index.
pytestmark = pytest.mark.engines("embedded")

SEARCHER = [sys.executable, "-m", "searcher"]


def hits_of(result) -> list[dict]:
    return [r for r in map(json.loads, result.stdout.splitlines()) if r["type"] == "hit"]


def marks_in(html: str) -> list[str]:
    return [unescape(m) for m in re.findall(r"<mark>(.*?)</mark>", html, re.S)]


def marked_spans(fragment: str) -> tuple[str, list[tuple[int, int]]]:
    """The plain text of an HTML fragment of text and <mark>s, and the marks' offsets in it."""
    plain, spans = "", []
    for match in re.finditer(r"<mark>(.*?)</mark>|([^<]+)", fragment, re.S):
        text = unescape(match.group(1) if match.group(1) is not None else match.group(2))
        if match.group(1) is not None:
            spans.append((len(plain), len(plain) + len(text)))
        plain += text
    return plain, spans


@pytest.fixture(scope="module")
def client(seed_index):
    with TestClient(create_app(seed_index, CORPUS)) as client:
        yield client


# -- /api/search ------------------------------------------------------------------------


def test_api_search_hits_are_the_json_lines_hits(client, run):
    body = client.get("/api/search", params={"q": "sợ trách nhiệm"}).json()
    cli = [json.loads(line) for line in run("query", "sợ trách nhiệm", "--json").stdout.splitlines()]
    assert body["hits"] == cli[:-1]
    summary = cli[-1]
    assert (body["query"], body["total"], body["complete"], body["returned"], body["suggestion"]) == (
        "sợ trách nhiệm", summary["total"], summary["complete"], 10, None
    )
    assert 10 < body["complete"] < body["total"]
    assert set(body) == {"query", "total", "complete", "returned", "elapsed_ms", "suggestion", "hits"}
    for hit in body["hits"]:
        assert {hit["text"][s:e].lower() for s, e in hit["highlights"]} <= {"sợ", "trách nhiệm", "nhiệm"}


def test_api_search_pages_filters_and_groups_like_the_cli(client, run):
    all_ten = client.get("/api/search", params={"q": "trách nhiệm"}).json()["hits"]
    second = client.get("/api/search", params={"q": "trách nhiệm", "limit": 5, "offset": 5}).json()["hits"]
    assert [(h["article"], h["paragraph"]) for h in second] == [(h["article"], h["paragraph"]) for h in all_ten[5:]]
    assert [h["rank"] for h in second] == [6, 7, 8, 9, 10]
    dated = client.get("/api/search", params={"q": "trách nhiệm", "since": "2024-01", "until": "2024-06"}).json()
    summary = json.loads(run("query", "trách nhiệm", "--since", "2024-01", "--until", "2024-06", "--json").stdout.splitlines()[-1])
    assert dated["total"] == summary["total"] and {h["date"] for h in dated["hits"]} == {"2024-02-21"}
    only = client.get("/api/search", params={"q": "cán bộ", "article": "004_94dc4981a5173811", "limit": 3}).json()
    assert only["hits"] == hits_of(run("query", "cán bộ", "--article", "004_94dc4981a5173811", "-n", "3", "--json"))
    grouped = client.get("/api/search", params={"q": "trách nhiệm", "group": 2, "limit": 3}).json()
    assert grouped["hits"] == hits_of(run("query", "trách nhiệm", "--group", "2", "-n", "3", "--json"))
    assert [h["group"] for h in grouped["hits"]] == [1, 1, 2, 2, 3, 3]


def test_api_search_suggests_a_correction(client):
    body = client.get("/api/search", params={"q": "tráhc nhiệm"}).json()
    assert body["complete"] == 0 and body["suggestion"] == "trách nhiệm"
    assert all(not h["complete"] for h in body["hits"])


def test_accentless_query_finds_the_same_paragraphs(client):
    def found(q):
        return {(h["article"], h["paragraph"]) for h in client.get("/api/search", params={"q": q, "limit": 100}).json()["hits"]}

    assert found("so trach nhiem") == found("sợ trách nhiệm")


# -- /api/articles/{id}, /api/trend, /api/stats ----------------------------------------------


def test_api_article_is_show_json(client, run):
    body = client.get("/api/articles/004_94dc4981a5173811", params={"q": "nêu gương"}).json()
    assert body == json.loads(run("show", "004_94dc4981a5173811", "--query", "nêu gương", "--json").stdout)
    assert body["title"].startswith("Thực hiện trách nhiệm nêu gương")
    marked = [p for p in body["paragraphs"] if p["highlights"]]
    assert marked and all(p["text"][s:e].lower() in {"nêu gương", "nêu", "gương"} for p in marked for s, e in p["highlights"])
    plain = client.get("/api/articles/004_94dc4981a5173811").json()
    assert all(p["highlights"] == [] for p in plain["paragraphs"])


def test_api_trend_is_trend_json(client, run):
    periods = client.get("/api/trend", params={"q": "trách nhiệm", "by": "year"}).json()
    lines = [json.loads(line) for line in run("trend", "trách nhiệm", "--by", "year", "--json").stdout.splitlines()]
    assert periods == [{k: r[k] for k in ("period", "paragraphs", "articles")} for r in lines[:-1]]
    undated = json.loads(run("query", "trách nhiệm", "--article", "001_e644faf4f154a8b4", "--json").stdout.splitlines()[-1])
    assert periods[-1] == {"period": None, "paragraphs": undated["complete"], "articles": 1}
    assert client.get("/api/trend", params={"q": "xyzzyq"}).json() == []


def test_api_stats(client):
    body = client.get("/api/stats").json()
    assert body["articles"] == 5 and body["paragraphs"] == 93


# -- errors and limits ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "path, params, culprit",
    [
        ("/api/search", {}, "q"),
        ("/api/search", {"q": ""}, "q"),
        ("/api/search", {"q": "x" * (MAX_QUERY + 1)}, "q"),
        ("/api/search", {"q": "cán bộ", "limit": 0}, "limit"),
        ("/api/search", {"q": "cán bộ", "limit": 101}, "limit"),
        ("/api/search", {"q": "cán bộ", "limit": "mười"}, "limit"),
        ("/api/search", {"q": "cán bộ", "offset": -1}, "offset"),
        ("/api/search", {"q": "cán bộ", "offset": 10_001}, "offset"),
        ("/api/search", {"q": "cán bộ", "group": 11}, "group"),
        ("/api/search", {"q": "cán bộ", "since": "30/10/2024"}, "since"),
        ("/api/search", {"q": "cán bộ", "until": "2024-02-30"}, "until"),
        ("/api/search", {"q": "cán bộ", "article": "../../etc/passwd"}, "article"),
        ("/api/search", {"q": "-cán"}, "nothing to search for"),
        ("/api/trend", {"q": "cán bộ", "by": "week"}, "by"),
        ("/api/trend", {"q": "cán bộ", "since": "2024-13"}, "since"),
    ],
)
def test_bad_input_is_a_400_naming_the_culprit(client, path, params, culprit):
    response = client.get(path, params=params)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    assert set(response.json()) == {"error"} and culprit in response.json()["error"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/articles/khong_co_bai_nay",
        "/api/articles/..%2F..%2Fetc%2Fpasswd",
        "/api/articles/%2e%2e",
        "/api/articles/..%5C..%5Cindex",
        "/article/..%2F..%2Fetc%2Fpasswd",
        "/article/%2e%2e",
        "/static/..%2F..%2Fstore.py",
        "/static/../app.py",
    ],
)
def test_unknown_articles_and_traversal_attempts_get_nothing(client, path):
    response = client.get(path)
    assert response.status_code in (400, 404)
    assert "root:" not in response.text and "import" not in response.text
    if path.startswith("/api/"):
        assert set(response.json()) == {"error"}


def test_unknown_article_is_a_404(client):
    response = client.get("/api/articles/khong_co_bai_nay")
    assert response.status_code == 404 and response.json() == {"error": "no article 'khong_co_bai_nay'"}
    page = client.get("/article/khong_co_bai_nay")
    assert page.status_code == 404 and 'lang="vi"' in page.text


def test_read_only_and_unknown_routes(client):
    assert client.post("/api/search", params={"q": "cán bộ"}).status_code == 405
    assert client.delete("/api/articles/004_94dc4981a5173811").status_code == 405
    assert client.get("/api/add").json() == {"error": "not found"}
    assert client.get("/docs").status_code == 404  # Swagger UI would load from a CDN


def test_an_unexpected_failure_is_a_generic_500_logged_on_the_server(seed_index, caplog, monkeypatch):
    app = create_app(seed_index, CORPUS)

    def broken(*args, **kwargs):
        raise RuntimeError("secret detail /etc/shadow")

    monkeypatch.setattr(app.state.library, "search", broken)
    with TestClient(app, raise_server_exceptions=False) as client, caplog.at_level(logging.ERROR, "searcher.web"):
        response = client.get("/api/search", params={"q": "cán bộ"})
        page = client.get("/", params={"q": "cán bộ"})
    assert response.status_code == 500 and response.json() == {"error": "internal error (logged on the server)"}
    assert page.status_code == 500 and "secret" not in page.text and "Traceback" not in page.text
    assert "secret detail" in caplog.text  # the traceback went to the log (stderr), not the client


def test_openapi_documents_the_api_with_400_errors(client):
    spec = client.get("/openapi.json").json()
    assert set(spec["paths"]) == {"/api/search", "/api/articles/{article_id}", "/api/trend", "/api/stats"}
    search = spec["paths"]["/api/search"]["get"]
    assert {"200", "400", "500"} <= set(search["responses"]) and "422" not in search["responses"]
    params = {p["name"]: p["schema"] for p in search["parameters"]}
    assert params["limit"]["maximum"] == 100 and params["q"]["maxLength"] == MAX_QUERY


# -- pages -------------------------------------------------------------------------------------


def test_search_page_shows_highlighted_hits_at_the_api_offsets(client):
    response = client.get("/", params={"q": "sợ trách nhiệm"})
    html = response.text
    assert response.status_code == 200 and response.headers["content-type"] == "text/html; charset=utf-8"
    assert '<html lang="vi">' in html and '<meta charset="utf-8">' in html and 'name="viewport"' in html
    api = client.get("/api/search", params={"q": "sợ trách nhiệm"}).json()["hits"]
    snippets = re.findall(r'<p class="snippet">(.*?)</p>', html, re.S)
    assert len(snippets) == len(api) == 10
    for hit, fragment in zip(api, snippets):
        plain, spans = marked_spans(fragment)
        window = plain.strip("…")
        start = hit["text"].find(window)
        assert start >= 0 and (plain.startswith("…") == (start > 0))
        inside = [(s - start, e - start) for s, e in hit["highlights"] if s >= start and e <= start + len(window)]
        assert [(s - plain.startswith("…"), e - plain.startswith("…")) for s, e in spans] == inside
        assert inside, hit["text"]
    first = api[0]
    assert unescape(first["title"]) in unescape(html) and f"¶{first['paragraph']}" in html and first["date"] in html
    assert html.count('<li class="hit"') == 10
    assert 'href="/?q=s%E1%BB%A3+tr%C3%A1ch+nhi%E1%BB%87m&amp;page=2"' in html  # pagination
    assert "Cú pháp tìm kiếm" in html  # the query language's help


def test_search_page_timeline_bars_link_to_their_period(client):
    html = client.get("/", params={"q": "trách nhiệm"}).text
    bars = re.findall(r'<a class="bar-link" href="([^"]+)" data-period="([^"]+)"', html)
    # 57 months from 2020-02 to 2024-10: more than a page shows by month, so by year.
    assert [period for _, period in bars] == ["2020", "2023", "2024"]
    assert unescape(bars[-1][0]) == "/?q=tr%C3%A1ch+nhi%E1%BB%87m&since=2024&until=2024"
    undated = client.get("/api/trend", params={"q": "trách nhiệm", "by": "year"}).json()[-1]
    assert undated["period"] is None
    assert f"{undated['paragraphs']} đoạn (1 bài) không có ngày" in html
    narrowed = client.get(unescape(bars[-1][0])).text
    months = re.findall(r'data-period="([^"]+)"', narrowed)
    assert months == ["2024-02", "2024-10"]  # within 2024, by month
    in_2024 = client.get("/api/trend", params={"q": "trách nhiệm", "by": "year", "since": "2024", "until": "2024"}).json()
    assert re.search(rf"<strong>{in_2024[0]['paragraphs']}</strong> đoạn có đủ các từ", narrowed)


def test_search_page_filters_group_and_suggestion(client):
    grouped = client.get("/", params={"q": "trách nhiệm", "group": "1"}).text
    assert grouped.count('class="group-head"') == 5 and 'name="group" value="1" checked' in grouped
    typo = client.get("/", params={"q": "tráhc nhiệm"}).text
    assert 'Có phải bạn muốn tìm: <a href="/?q=tr%C3%A1ch+nhi%E1%BB%87m">trách nhiệm</a>' in typo
    bad = client.get("/", params={"q": "cán bộ", "since": "hôm qua"})
    assert bad.status_code == 400 and "since &#39;hôm qua&#39; is not a date" in bad.text
    only = client.get("/", params={"q": "cán bộ", "article": "002_b41fb742aef53c22"}).text
    assert set(re.findall(r'<span class="id">([^<]+)</span>', only)) == {"002_b41fb742aef53c22"}


def test_home_page_has_the_box_and_help_and_only_local_resources(client):
    html = client.get("/").text
    assert 'name="q"' in html and "<details class=\"help\" open>" in html
    for url in re.findall(r'(?:src|href)="([^"]+)"', html):
        assert url.startswith("/"), url  # nothing from another host: no CDN, no fonts
    css = client.get("/static/style.css").text
    assert "Noto Sans" in css and "DejaVu Sans" in css and "@import" not in css and "url(" not in css


def test_article_page_numbers_paragraphs_marks_matches_and_links_back(client):
    back = "/?q=n%C3%AAu+g%C6%B0%C6%A1ng#hit-2"
    html = client.get("/article/004_94dc4981a5173811", params={"q": "nêu gương", "p": 3, "back": back}).text
    assert html.count('class="num" href="#p') == 10
    assert 'id="p3" class="para marked target"' in html or 'id="p3" class="para target"' in html
    assert f'href="{back.replace("&", "&amp;")}">← Quay lại kết quả' in html
    api = client.get("/api/articles/004_94dc4981a5173811", params={"q": "nêu gương"}).json()
    assert marks_in(html) == [p["text"][s:e] for p in api["paragraphs"] for s, e in p["highlights"]]
    assert {m.lower() for m in marks_in(html)} == {"nêu", "gương"}
    assert "PHÙNG KHIÊM" in html and "2020-02-18" in html
    source = client.get("/article/001_e644faf4f154a8b4").text
    assert '<a class="source" href="http://baotuyenquang.com.vn/chan-chinh-tinh-trang' in source
    elsewhere = client.get("/article/004_94dc4981a5173811", params={"back": "https://evil.example/"}).text
    assert "evil.example" not in elsewhere


# -- safety ------------------------------------------------------------------------------------

NASTY = {
    "id": "xss_test",
    "title": "Tiêu đề <script>alert('tiêu đề')</script>",
    "author": '"><img src=x onerror=alert(1)>',
    "url": "javascript:alert(document.cookie)",
    "date": "2024-05-06",
    "text": "Đoạn một có <script>alert(1)</script> trách nhiệm.\n\n"
    'Đoạn hai "><img src=x onerror=alert(2)> trách nhiệm <b>đậm</b>.',
}


@pytest.fixture(scope="module")
def nasty_client(tmp_path_factory):
    corpus = tmp_path_factory.mktemp("nasty-corpus")
    (corpus / "xss_test.json").write_text(json.dumps(NASTY, ensure_ascii=False), encoding="utf-8")
    index = tmp_path_factory.mktemp("nasty-index")
    subprocess.run([*SEARCHER, "--index", str(index), "--corpus", str(corpus), "index"], check=True, capture_output=True)
    with TestClient(create_app(index, corpus)) as client:
        yield client


def test_article_text_is_always_escaped(nasty_client):
    pages = [
        nasty_client.get("/", params={"q": "trách nhiệm"}).text,
        nasty_client.get("/article/xss_test", params={"q": "trách nhiệm"}).text,
        nasty_client.get("/", params={"q": "<script>alert(1)</script> trách nhiệm"}).text,
    ]
    for html in pages:
        assert "<script>alert" not in html and "<img src=x" not in html and "<b>" not in html
        assert 'href="javascript' not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in pages[1] and "&lt;img src=x onerror=alert(2)&gt;" in pages[1]
    assert "javascript:alert(document.cookie)</dd>" in pages[1]  # shown as text, not linked
    assert 'value="&lt;script&gt;alert(1)&lt;/script&gt; trách nhiệm"' in pages[2]
    api = nasty_client.get("/api/articles/xss_test").json()
    assert "<script>alert(1)</script>" in api["paragraphs"][1]["text"]  # JSON carries the text as it is


def test_security_headers_and_host_check(seed_index, client):
    headers = client.get("/").headers
    assert "script-src 'self'" in headers["content-security-policy"] and headers["x-content-type-options"] == "nosniff"
    with TestClient(create_app(seed_index, CORPUS, allowed_hosts=LOOPBACK_NAMES), base_url="http://127.0.0.1:8750") as local:
        assert local.get("/api/stats").status_code == 200
        rebound = local.get("/api/stats", headers={"host": "attacker.example:8750"})
        assert rebound.status_code == 400 and rebound.json() == {"error": "unexpected Host header"}


# -- the index changing under a running application ----------------------------------------


@pytest.mark.slow
def test_the_server_answers_from_each_new_commit_and_during_a_rebuild(tmp_path, corpus_copy):
    index = tmp_path / "index"
    base = [*SEARCHER, "--index", str(index), "--corpus", str(corpus_copy)]
    subprocess.run([*base, "index"], check=True, capture_output=True)
    new = tmp_path / "moi.json"
    new.write_text(
        json.dumps({"id": "bai_moi", "title": "Bài mới về chim hồng hạc", "date": "2025-03-04",
                    "text": "Đàn chim hồng hạc bay về đầm phá Tam Giang."}, ensure_ascii=False),
        encoding="utf-8",
    )
    with TestClient(create_app(index, corpus_copy)) as client:
        assert client.get("/api/search", params={"q": "hồng hạc"}).json()["complete"] == 0
        subprocess.run([*base, "add", str(new)], check=True, capture_output=True)  # another process
        body = client.get("/api/search", params={"q": "hồng hạc"}).json()
        assert body["complete"] == 2 and {h["article"] for h in body["hits"] if h["complete"]} == {"bai_moi"}
        assert client.get("/api/articles/bai_moi").json()["date"] == "2025-03-04"
        assert client.get("/api/trend", params={"q": "hồng hạc"}).json() == [{"period": "2025-03", "paragraphs": 2, "articles": 1}]

        # Queries keep answering while another process rebuilds the index from scratch.
        statuses, totals, stop = [], [], threading.Event()
        expected = client.get("/api/search", params={"q": "trách nhiệm", "limit": 3}).json()["total"]

        def hammer():
            while not stop.is_set():
                response = client.get("/api/search", params={"q": "trách nhiệm", "limit": 3})
                statuses.append(response.status_code)
                totals.append(response.json().get("total"))

        threads = [threading.Thread(target=hammer) for _ in range(3)]
        for thread in threads:
            thread.start()
        try:
            subprocess.run([*base, "index", "--rebuild"], check=True, capture_output=True)
        finally:
            stop.set()
            for thread in threads:
                thread.join()
        assert statuses and set(statuses) == {200}, statuses
        assert set(totals) == {expected}
        subprocess.run([*base, "remove", "bai_moi"], check=True, capture_output=True)
        assert client.get("/api/search", params={"q": "hồng hạc"}).json()["complete"] == 0
        assert client.get("/api/articles/bai_moi").status_code == 404


# -- the query path stays light; the command's own checks ----------------------------------


def test_a_query_imports_nothing_of_the_web_server(seed_index):
    probe = (
        "import sys\n"
        "from searcher.cli import main\n"
        f"sys.argv = ['searcher', '--index', {str(seed_index)!r}, '--corpus', {str(CORPUS)!r}, 'query', 'sợ trách nhiệm']\n"
        "try:\n    main()\nexcept SystemExit as exit:\n    assert exit.code == 0, exit.code\n"
        "heavy = {'fastapi', 'starlette', 'uvicorn', 'jinja2', 'pydantic', 'searcher.web', 'anyio'}\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy or m.startswith('searcher.web')), file=sys.stderr)\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip().splitlines()[-1] == "[]"
    assert result.stdout.startswith("1\t")


def test_serve_warns_when_bound_beyond_loopback_and_refuses_a_busy_port(seed_index):
    wide = subprocess.Popen(
        [*SEARCHER, "--index", str(seed_index), "--corpus", str(CORPUS), "serve", "--host", "0.0.0.0", "--port", "0"],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
    )
    try:
        first = wide.stderr.readline()
        second = wide.stderr.readline()
        assert first.startswith("Warning: listening on 0.0.0.0: anyone who can reach this machine")
        port = int(re.search(r":(\d+)/ ", second).group(1))
        busy = subprocess.run(
            [*SEARCHER, "--index", str(seed_index), "serve", "--host", "0.0.0.0", "--port", str(port)],
            capture_output=True, text=True, timeout=60,
        )
        assert busy.returncode == 2 and busy.stderr.startswith(f"Error: cannot listen on 0.0.0.0:{port}")
    finally:
        wide.terminate()
        wide.wait(timeout=30)
    assert not Path(seed_index, "moi.json").exists()
    assert Index.open(seed_index).stats().articles == 5  # serving changed nothing
