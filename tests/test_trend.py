"""`searcher trend`: matches per month or year, the same counts as `searcher query`."""

from __future__ import annotations

import json

import pytest

from searcher import cli as cli_module
from searcher.errors import SearcherError
from searcher.index import Index
from searcher.trend import Period, bucket, check_by, check_date, count_periods, following


def records(result) -> list[dict]:
    return [json.loads(line) for line in result.stdout.splitlines()]


# -- periods: pure functions on dates --------------------------------------------------


@pytest.mark.parametrize(
    "date, by, period",
    [
        ("2024-10-30", "month", "2024-10"),
        ("2024-10-30", "year", "2024"),
        ("2024-10", "month", "2024-10"),
        ("2024", "year", "2024"),
        ("2024", "month", None),  # coarser than a month: undated at that scale
        (None, "year", None),
        ("", "month", None),
        ("30/10/2024", "month", None),
    ],
)
def test_bucket(date, by, period):
    assert bucket(date, by) == period


def test_following_crosses_years():
    assert following("2024-12") == "2025-01"
    assert following("2024-09") == "2024-10"
    assert following("1999") == "2000"


def test_count_periods_fills_gaps_and_puts_undated_last():
    matches = [  # (date, article, matching paragraphs)
        ("2023-11-02", "a", 1),
        ("2023-11-20", "b", 1),
        ("2024-02-01", "c", 1),
        ("2023-11-05", "d", 1),
        ("2023-11-02", "a", 2),  # the same article again
        (None, "e", 2),
    ]
    assert count_periods(matches, "month") == [
        Period("2023-11", 5, 3),
        Period("2023-12", 0, 0),
        Period("2024-01", 0, 0),
        Period("2024-02", 1, 1),
        Period(None, 2, 1),
    ]
    assert count_periods(matches, "year") == [Period("2023", 5, 3), Period("2024", 1, 1), Period(None, 2, 1)]
    assert count_periods([], "year") == []


def test_bad_by_and_dates_name_the_culprit():
    with pytest.raises(SearcherError, match="'week'"):
        check_by("week")
    for bad in ("2024-13", "2024-02-30", "24-01-01", "2024/01/01", "hôm qua"):
        with pytest.raises(SearcherError, match="since"):
            check_date(bad, "since")
    assert check_date("2024-02-29", "since") == "2024-02-29"
    assert check_date("2024", "until") == "2024"


# -- the library on the bundled corpus -------------------------------------------------


def full_matches(results) -> int:
    """The paragraphs a search matches fully: with every word, for a keyword query."""
    return results.total if results.complete is None else results.complete


def test_trend_counts_equal_search_totals_per_period(engine, seed_index):
    index = Index.open(engine.location(seed_index))
    for query in ("trách nhiệm", "so trach nhiem", 'trách nhiệm -"nêu gương"', '"cán bộ" OR "đảng viên"', "ai chịu trách nhiệm"):
        for by in ("month", "year"):
            periods = index.trend(query, by=by)
            assert sum(p.paragraphs for p in periods) == full_matches(index.search(query)) > 0
            for p in periods:
                if p.period is not None:
                    assert full_matches(index.search(query, since=p.period, until=p.period)) == p.paragraphs, (query, p)


def test_trend_filters_by_date_and_article(engine, seed_index):
    index = Index.open(engine.location(seed_index))
    months = index.trend("trách nhiệm", by="month", since="2024-01", until="2024-12")
    # The two dated 2024 articles: February and October, the months between empty.
    assert [p.period for p in months] == [f"2024-{m:02d}" for m in range(2, 11)]
    assert [p.articles for p in months] == [1, 0, 0, 0, 0, 0, 0, 0, 1]
    for p in months:
        assert p.paragraphs == full_matches(index.search("trách nhiệm", since=p.period, until=p.period))
    only = index.trend("trách nhiệm", by="year", article="004_94dc4981a5173811")
    assert only == [Period("2020", full_matches(index.search("trách nhiệm", article="004_94dc4981a5173811")), 1)]


@pytest.mark.engines("embedded")
def test_trend_with_the_dense_evaluator_gives_the_same_periods(seed_index, monkeypatch):
    index = Index.open(seed_index)
    expected = index.trend("sợ trách nhiệm", by="year")
    monkeypatch.setattr("searcher.engine.evaluate.DENSE_MIN_DOCS", 0)
    dense = Index.open(seed_index)  # a new snapshot, hence a new (dense) evaluator
    assert dense.trend("sợ trách nhiệm", by="year") == expected


# -- the command ----------------------------------------------------------------------


def test_trend_tsv_matches_query_totals_per_date(run):
    result = run("trend", "trách nhiệm", "--by", "year")
    assert result.exit_code == 0
    rows = [line.split("\t") for line in result.stdout.splitlines()]
    assert [r[0] for r in rows] == ["2020", "2021", "2022", "2023", "2024", "undated"]
    for period, paragraphs, articles in rows:
        if period == "undated":
            continue
        summary = records(run("query", "trách nhiệm", "--json", "--since", period, "--until", period))[-1]
        assert summary["total"] == int(paragraphs)
    total = records(run("query", "trách nhiệm", "--json"))[-1]["total"]
    assert sum(int(r[1]) for r in rows) == total
    assert [int(r[2]) for r in rows] == [1, 0, 0, 1, 2, 1]


def test_trend_json_lines_end_with_a_summary(run):
    lines = records(run("trend", "trách nhiệm", "--json"))
    periods, summary = lines[:-1], lines[-1]
    assert {p["type"] for p in periods} == {"period"}
    assert periods[0]["period"] == "2020-02" and periods[-1]["period"] is None
    assert [p["period"] for p in periods if p["paragraphs"]] == ["2020-02", "2023-10", "2024-02", "2024-10", None]
    assert summary == {
        "type": "summary",
        "query": "trách nhiệm",
        "by": "month",
        "periods": len(periods) - 1,
        "paragraphs": sum(p["paragraphs"] for p in periods),
        "articles": 5,
    }


def test_trend_on_a_terminal_draws_one_bar_per_period(run, engine, seed_index, monkeypatch):
    monkeypatch.setattr(cli_module, "stdout_is_tty", lambda: True)
    result = run("trend", "trách nhiệm", "--by", "year", "--color", "never")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert "“trách nhiệm”" in lines[0]
    bars = {line.split()[0]: line for line in lines[1:-1]}
    assert list(bars) == ["2020", "2021", "2022", "2023", "2024", "undated"]
    assert bars["2024"].count("█") == 40  # the largest period fills the width
    assert "█" not in bars["2021"] and " 0 ¶" in bars["2021"]
    index = Index.open(engine.location(seed_index))
    in_2024 = full_matches(index.search("trách nhiệm", since="2024", until="2024"))
    assert f"{in_2024} ¶" in bars["2024"] and "2 articles" in bars["2024"]
    assert lines[-1] == f"{full_matches(index.search('trách nhiệm'))} paragraphs in 5 articles"


def test_trend_without_matches_exits_1_and_bad_input_exits_2(run):
    result = run("trend", "xyzzyq")
    assert result.exit_code == 1 and result.stdout == ""
    result = run("trend", "trách nhiệm", "--since", "2024-13")
    assert result.exit_code == 2
