"""The query language and result options, on the bundled articles (issue: search quality)."""

from __future__ import annotations

import json
import re

import pytest

from searcher.text import canonical_tones, fold_accents
from tests.test_cli import hits_of


def lower(text: str) -> str:
    """The text's syllables, lowercased, tones in canonical place, one space apart: a
    phrase matches across punctuation, so it is looked for here."""
    return " ".join(re.findall(r"[^\W_]+", canonical_tones(text).lower()))


def test_exclusion_removes_every_paragraph_with_the_phrase(run):
    everything = hits_of(run("query", "trách nhiệm", "--json", "-n", "500"))
    assert any("nêu gương" in lower(h["text"]) for h in everything)
    excluded = hits_of(run("query", 'trách nhiệm -"nêu gương"', "--json", "-n", "500"))
    assert excluded
    assert not any("nêu gương" in lower(h["text"]) for h in excluded)
    assert len(excluded) < len(everything)


def test_or_returns_paragraphs_with_either_phrase(run):
    hits = hits_of(run("query", '"trách nhiệm" OR "kỷ luật"', "--json", "-n", "500"))
    with_duty = [h for h in hits if "trách nhiệm" in lower(h["text"])]
    with_discipline = [h for h in hits if "kỷ luật" in lower(h["text"])]
    assert with_duty and with_discipline
    assert [h for h in with_discipline if h not in with_duty]  # some have only "kỷ luật"
    assert all(h in with_duty or h in with_discipline for h in hits)


def test_parentheses_group_alternatives(run):
    hits = hits_of(run("query", '(kỷ luật OR "nêu gương") cán bộ', "--json", "-n", "500"))
    full = [h for h in hits if h["complete"]]
    assert full and hits[: len(full)] == full  # the full matches first
    for hit in full:
        # Accented words also match other accents (ranked lower): compare folded forms;
        # a word may be in the article's title.
        words = set(re.findall(r"[^\W_]+", fold_accents(hit["text"] + " " + hit["title"])))
        assert {"can", "bo"} <= words
        assert {"ky", "luat"} <= words or "neu guong" in fold_accents(hit["text"])


@pytest.mark.parametrize("query", ['"trách nhiệm', "trách nhiệm)", "((trách nhiệm", 'title:"Bình Thuận', "OR trách", "trách OR"])
def test_unbalanced_input_gets_a_sensible_reading(run, query):
    result = run("query", query, "--json")
    assert result.exit_code == 0, result.stderr
    assert hits_of(result)


@pytest.mark.parametrize("query", ['""', "()", "-trách", "OR", "( - )", "– … “”"])
def test_queries_with_nothing_to_search_are_errors(run, query):
    result = run("query", "--", query)
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: nothing to search for")
    assert "Traceback" not in result.stderr


def test_title_field_searches_article_titles(run):
    hits = hits_of(run("query", 'title:"Bình Thuận" cán bộ', "--json", "-n", "100"))
    assert hits
    assert {h["article"] for h in hits} == {"000_130b3206c8046e67"}


def test_article_field_and_option_restrict_to_one_article(run):
    by_field = hits_of(run("query", "cán bộ article:004_94dc4981a5173811", "--json", "-n", "100"))
    by_option = hits_of(run("query", "cán bộ", "--article", "004_94dc4981a5173811", "--json", "-n", "100"))
    assert by_field and {h["article"] for h in by_field} == {"004_94dc4981a5173811"}
    assert [(h["article"], h["paragraph"]) for h in by_field] == [(h["article"], h["paragraph"]) for h in by_option]


def test_since_and_until_filter_on_the_article_date(run):
    all_dates = {h["date"] for h in hits_of(run("query", "cán bộ", "--json", "-n", "500"))}
    assert {"2020-02-18", "2024-10-30"} <= all_dates
    recent = hits_of(run("query", "cán bộ", "--since", "2024-01-01", "--json", "-n", "500"))
    assert recent and all(h["date"] >= "2024-01-01" for h in recent)
    old = hits_of(run("query", "cán bộ", "--until", "2023", "--json", "-n", "500"))
    assert old and all(h["date"] <= "2023-12-31" for h in old)
    bad = run("query", "cán bộ", "--since", "hôm qua")
    assert bad.exit_code == 2 and "not a date" in bad.stderr


def test_group_shows_the_best_paragraphs_per_article(run):
    hits = hits_of(run("query", "trách nhiệm", "--group", "2", "-n", "3", "--json"))
    groups = [h["group"] for h in hits]
    assert groups == sorted(groups) and set(groups) == {1, 2, 3}
    for group in (1, 2, 3):
        members = [h for h in hits if h["group"] == group]
        assert 1 <= len(members) <= 2
        assert len({h["article"] for h in members}) == 1
        assert [h["score"] for h in members] == sorted((h["score"] for h in members), reverse=True)


def test_context_brings_the_neighbouring_paragraphs(run):
    hit = hits_of(run("query", "Lời thề Đảng viên", "-C", "1", "-n", "1", "--json"))[0]
    assert [c["paragraph"] for c in hit["after"]] == [hit["paragraph"] + 1]
    assert all(c["paragraph"] == hit["paragraph"] - 1 for c in hit["before"])
    lines = run("query", "Lời thề Đảng viên", "-C", "1", "-n", "1").stdout.splitlines()
    assert [line.split("\t")[0] for line in lines][-2:] == ["1", "-"]


def test_a_typo_gets_a_suggestion_from_the_vocabulary(run):
    result = run("query", "trách nhiệmm")
    assert result.exit_code == 1  # no paragraph has both words
    assert "Did you mean: trách nhiệm?" in result.stderr.splitlines()
    summary = json.loads(run("query", "kỷ luậtt", "--json").stdout.splitlines()[-1])
    assert summary["suggestion"] == "kỷ luật"


def test_an_accentless_query_with_a_typo_gets_its_accented_form(run):
    result = run("query", "so trach nhiemm")
    assert result.exit_code == 1
    assert "Did you mean: sợ trách nhiệm?" in result.stderr.splitlines()


def test_a_query_that_finds_plenty_gets_no_suggestion(run):
    result = run("query", "trách nhiệm", "--json")
    assert "suggestion" not in json.loads(result.stdout.splitlines()[-1])


def test_explain_shows_the_parsed_query(run):
    result = run("query", 'trách nhiệm -"nêu gương"', "--explain", "-n", "1")
    assert result.exit_code == 0
    assert 'parsed:   ALL(words(trách nhiệm), NOT phrase("nêu gương"))' in result.stderr
    assert len(result.stdout.splitlines()) == 1


def test_batch_answers_many_queries_with_query_ids(engine, seed_index):
    from click.testing import CliRunner

    from searcher.cli import cli
    from tests.conftest import CORPUS

    lines = "\n".join(
        ["sợ trách nhiệm", json.dumps({"id": "q-7", "query": "nêu gương"}, ensure_ascii=False), "", "zzzxq"]
    )
    result = CliRunner().invoke(
        cli, [*engine.args(seed_index), "--corpus", str(CORPUS), "query", "--batch", "-", "-n", "2"], input=lines
    )
    assert result.exit_code == 0
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["query_id"] for r in records if r["type"] == "summary"] == [1, "q-7", 4]
    hits = [r for r in records if r["type"] == "hit"]
    assert [r["query_id"] for r in hits] == [1, 1, "q-7", "q-7"]
    assert {r["query"] for r in hits} == {"sợ trách nhiệm", "nêu gương"}


def test_batch_reports_a_bad_json_line_and_goes_on(engine, seed_index):
    from click.testing import CliRunner

    from searcher.cli import cli
    from tests.conftest import CORPUS

    result = CliRunner().invoke(
        cli,
        [*engine.args(seed_index), "--corpus", str(CORPUS), "query", "--batch", "-"],
        input='{"id": 1, "q": "thiếu khoá query"}\nnêu gương\n',
    )
    assert result.exit_code == 2  # a query failed; the others were answered
    assert 'batch line 1: not a JSON object with a "query"' in result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert records[0] == {
        "type": "error",
        "query_id": 1,
        "query": '{"id": 1, "q": "thiếu khoá query"}',
        "message": 'batch line 1: not a JSON object with a "query" string',
    }
    assert any(r["query_id"] == 2 and r["type"] == "hit" for r in records)


def test_a_question_needs_only_a_quorum_of_its_words(run):
    # "ai" (who) and most words of the question are not in the answer paragraph.
    hits = hits_of(run("query", "Tỉnh uỷ nào ban hành quy định số 644 về trách nhiệm nêu gương?", "--json", "-n", "3"))
    assert hits[0]["article"] == "004_94dc4981a5173811"
    assert "644" in hits[0]["text"]


def test_short_keyword_queries_still_need_every_word(run):
    assert run("query", "ngộ độc thực phẩm").exit_code == 1


def test_an_empty_index_answers_a_batch_with_no_hits(engine, tmp_path):
    """A batch keeps its searcher between queries; on an empty index Whoosh's refresh of
    it failed (a traceback at the second query)."""
    from click.testing import CliRunner

    from searcher.cli import cli

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    args = [*engine.args(tmp_path / "index"), "--corpus", str(corpus)]
    assert CliRunner().invoke(cli, [*args, "index"]).exit_code == 0
    result = CliRunner().invoke(cli, [*args, "query", "--batch", "-"], input="sợ trách nhiệm\nnêu gương\ncán bộ\n")
    assert result.exit_code == 1 and (result.exception is None or isinstance(result.exception, SystemExit))
    summaries = [json.loads(line) for line in result.stdout.splitlines() if '"summary"' in line]
    assert [s["total"] for s in summaries] == [0, 0, 0]


@pytest.mark.parametrize("dense", [False, True])
def test_an_accentless_word_with_many_variants_in_every_paragraph_still_ranks(tmp_path, monkeypatch, dense):
    """Summed over số, sổ, sợ…, the variants' document frequencies can exceed the number of
    paragraphs: the IDF must stay positive, or a match scores below nothing at all and
    the top hits are lost (seen: 24 matches, 0 returned)."""
    from click.testing import CliRunner

    from searcher.cli import cli

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i in range(8):
        (corpus / f"a{i}.txt").write_text(
            "Bài về sổ sách\n\nSố liệu trong sổ làm tôi sợ, số 1.\n\nMột đoạn nữa có số và sổ và sợ.\n",
            encoding="utf-8",
        )
    if dense:
        monkeypatch.setattr("searcher.engine.evaluate.DENSE_MIN_DOCS", 0)  # numpy tables
    args = ["--index", str(tmp_path / "index"), "--corpus", str(corpus)]
    result = CliRunner().invoke(cli, [*args, "query", "so", "-n", "1", "--json"])
    assert result.exit_code == 0
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert records[-1]["total"] == 24 and records[-1]["returned"] == 1
    assert records[0]["score"] > 0
