"""`searcher serve` in a real headless Chromium (Debian's /usr/bin/chromium, driven by
Playwright; no browser is ever downloaded), against a real server on a free loopback port.

Set SEARCHER_UPDATE_SCREENSHOT=1 to rewrite docs/screenshot.png from the search page.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from searcher.text import fold_accents
from tests.conftest import CORPUS, REPO

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOT = REPO / "docs" / "screenshot.png"

# The web layer over the embedded engine (its cluster reads are the CLI tests').
pytestmark = [pytest.mark.slow, pytest.mark.engines("embedded")]


@pytest.fixture(scope="module")
def server(seed_index):
    """``searcher serve --port 0`` in its own process; yields its base URL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "searcher", "--index", str(seed_index), "--corpus", str(CORPUS), "serve", "--port", "0"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stderr.readline()
        found = re.search(r"at (http://127\.0\.0\.1:\d+/) ", line)
        assert found, f"searcher serve did not start: {line}{proc.stderr.read() if proc.poll() is not None else ''}"
        yield found.group(1).rstrip("/")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} not found: install Debian's Chromium with `apt-get install -y chromium` (.ci/run does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, server):
    """A page that records every request and console error, for the checks at the end."""
    context = browser.new_context(viewport={"width": 1100, "height": 900}, locale="vi-VN")
    page = context.new_page()
    page.requests, page.errors = [], []
    page.on("request", lambda request: page.requests.append(request.url))
    page.on("console", lambda message: message.type == "error" and page.errors.append(message.text))
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    yield page
    context.close()
    assert [u for u in page.requests if not u.startswith(server + "/")] == []  # no CDN, no network
    assert page.errors == []  # nothing broken, nothing blocked by the Content-Security-Policy


def api(server: str, path: str, **params) -> dict:
    with urllib.request.urlopen(f"{server}{path}?{urllib.parse.urlencode(params)}") as response:
        return json.load(response)


def search(page, text: str) -> None:
    page.fill("#q", text)
    with page.expect_navigation():
        page.press("#q", "Enter")


def hits_on(page) -> list[tuple[str, str]]:
    """(article id, ¶n) of the hits shown."""
    return [
        (li.locator(".id").inner_text(), li.locator(".meta a").first.inner_text())
        for li in page.locator("li.hit").all()
    ]


def all_hits(page) -> set[tuple[str, str]]:
    """The hits of every page of results, following the "next" links."""
    found = set(hits_on(page))
    while page.locator("a[rel=next]").count():
        with page.expect_navigation():
            page.click("a[rel=next]")
        found |= set(hits_on(page))
    return found


def test_search_highlights_the_hits_at_the_api_offsets(page, server):
    page.goto(server + "/")
    assert page.locator("html").get_attribute("lang") == "vi"
    search(page, "sợ trách nhiệm")
    assert page.title() == "sợ trách nhiệm – searcher"
    assert page.locator("li.hit").count() == 10
    expected = api(server, "/api/search", q="sợ trách nhiệm")
    assert page.locator(".summary strong").first.inner_text() == str(expected["complete"])
    for li, hit in zip(page.locator("li.hit").all(), expected["hits"]):
        assert li.locator("h2").inner_text() == hit["title"]
        assert li.locator(".meta a").first.inner_text() == f"¶{hit['paragraph']}"
        marks = li.locator(".snippet mark").all_inner_texts()
        assert marks and marks == [hit["text"][s:e] for s, e in hit["highlights"]][: len(marks)]
        assert {m.lower() for m in marks} <= {"sợ", "trách nhiệm", "nhiệm"}
    if os.environ.get("SEARCHER_UPDATE_SCREENSHOT") == "1":
        SCREENSHOT.parent.mkdir(exist_ok=True)
        page.screenshot(path=str(SCREENSHOT), clip={"x": 0, "y": 0, "width": 1100, "height": 900})


def test_the_accentless_query_gives_the_same_hits(page, server):
    page.goto(server + "/")
    search(page, "sợ trách nhiệm")
    accented_total = page.locator(".summary strong").first.inner_text()
    accented = all_hits(page)
    search(page, "so trach nhiem")
    assert page.locator(".summary strong").first.inner_text() == accented_total
    assert all_hits(page) == accented and len(accented) > 30
    search(page, "so trach nhiem")  # the first page again: full matches, marked
    marks = page.locator("li.hit .snippet mark").all_inner_texts()
    assert marks and {fold_accents(m.lower()) for m in marks} <= {"so", "trach nhiem", "trach", "nhiem"}


def test_open_an_article_and_come_back_to_the_hit(page, server):
    page.goto(server + "/?" + urllib.parse.urlencode({"q": "sợ trách nhiệm"}))
    second = page.locator("li.hit").nth(1)
    title = second.locator("h2").inner_text()
    number = second.locator(".meta a").first.inner_text().lstrip("¶")
    with page.expect_navigation():
        second.locator("h2 a").click()
    assert page.locator("h1").inner_text() == title
    target = page.locator(f"#p{number}")
    assert "target" in target.get_attribute("class")
    assert target.locator("mark").count() >= 2
    assert page.locator("p.para").count() == len(api(server, "/api/articles/000_130b3206c8046e67")["paragraphs"])
    with page.expect_navigation():
        page.click("text=← Quay lại kết quả")
    assert page.url.endswith("#hit-2") and page.locator("li.hit").count() == 10


def test_a_date_filter_narrows_the_hits(page, server):
    page.goto(server + "/?" + urllib.parse.urlencode({"q": "trách nhiệm"}))
    page.fill("input[name=since]", "2024-01-01")
    page.fill("input[name=until]", "2024-06-30")
    with page.expect_navigation():
        page.click("fieldset.filters button")
    expected = api(server, "/api/search", q="trách nhiệm", since="2024-01-01", until="2024-06-30")
    assert page.locator(".summary strong").first.inner_text() == str(expected["complete"])
    assert expected["complete"] > 0
    assert set(page.locator("li.hit time").all_inner_texts()) == {"2024-02-21"}


def test_clicking_timeline_bars_narrows_to_their_period(page, server):
    page.goto(server + "/?" + urllib.parse.urlencode({"q": "trách nhiệm"}))
    bars = page.locator("svg.timeline a.bar-link")
    assert [b.get_attribute("data-period") for b in bars.all()] == ["2020", "2023", "2024"]
    with page.expect_navigation():
        page.locator('a.bar-link[data-period="2024"] rect.bar').click()
    assert "since=2024&until=2024" in page.url
    assert page.locator("input[name=since]").input_value() == "2024"
    in_2024 = api(server, "/api/trend", q="trách nhiệm", by="year", since="2024", until="2024")
    assert page.locator(".summary strong").first.inner_text() == str(in_2024[0]["paragraphs"])
    assert {d[:4] for d in page.locator("li.hit time").all_inner_texts()} == {"2024"}
    months = [b.get_attribute("data-period") for b in page.locator("svg.timeline a.bar-link").all()]
    assert months == ["2024-02", "2024-10"]
    with page.expect_navigation():
        page.locator('a.bar-link[data-period="2024-10"] rect.bar').click()
    assert set(page.locator("li.hit time").all_inner_texts()) == {"2024-10-30"}


def test_pages_work_without_javascript_and_at_phone_width(browser, server):
    context = browser.new_context(java_script_enabled=False, viewport={"width": 360, "height": 740}, is_mobile=True)
    try:
        page = context.new_page()
        page.goto(server + "/")
        search(page, "nêu gương")
        assert page.locator("li.hit").count() == 10
        assert page.locator("li.hit .snippet mark").count() >= 10
        for url in (page.url, server + "/article/004_94dc4981a5173811?q=n%C3%AAu+g%C6%B0%C6%A1ng"):
            page.goto(url)
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 360, f"{url} is {width}px wide at phone width"
    finally:
        context.close()
