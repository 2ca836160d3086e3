"""The command line as a user meets it: query output modes, exit statuses, errors."""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest

from searcher import cli as cli_module
from searcher.engine.embedded import INDEX_NAME
from searcher.text import canonical_tones, fold_accents
from tests.conftest import CORPUS, REPO

ANSI = "\x1b["


def hits_of(result) -> list[dict]:
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert records[-1]["type"] == "summary"
    return [r for r in records if r["type"] == "hit"]


def test_exactly_one_distribution_provides_whoosh():
    providers = [
        dist.metadata["Name"]
        for dist in importlib.metadata.distributions()
        if "whoosh" in (dist.read_text("top_level.txt") or "").split()
        or any(str(f).startswith("whoosh/") for f in (dist.files or []))
    ]
    assert [p.lower() for p in providers] == ["whoosh-reloaded"]


def test_query_prints_hits_from_the_bundled_articles(run):
    result = run("query", "sợ trách nhiệm")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert 1 <= len(lines) <= 10
    assert "sợ trách nhiệm" in lines[0]
    assert result.stderr == ""


def test_piped_output_is_one_tab_separated_line_per_hit_without_colour(run):
    result = run("query", "trách nhiệm", "-n", "5")
    lines = result.stdout.splitlines()
    assert len(lines) == 5
    for rank, line in enumerate(lines, start=1):
        fields = line.split("\t")
        assert len(fields) == 7
        assert fields[0] == str(rank)
        assert fields[2] in {p.stem for p in CORPUS.glob("*.txt")}
        assert ANSI not in line
    assert "trách nhiệm" in lines[0].split("\t")[6].lower()


def test_color_always_marks_highlights_even_in_a_pipe(run):
    result = run("query", "nêu gương", "-n", "1", "--color", "always")
    assert f"{ANSI}1;31mnêu{ANSI}0m {ANSI}1;31mgương{ANSI}0m" in result.stdout


def test_json_lines_highlights_slice_the_query_words(run):
    result = run("query", "sợ trách nhiệm", "--json")
    assert result.exit_code == 0
    hits = hits_of(result)
    assert len(hits) == 10
    summary = json.loads(result.stdout.splitlines()[-1])
    assert summary["returned"] == 10 and summary["total"] >= 10
    allowed = {"sợ", "trách", "nhiệm", "trách nhiệm", "sợ trách nhiệm"}
    for hit in hits:
        assert hit["highlights"], hit["text"]
        for start, end in hit["highlights"]:
            assert hit["text"][start:end].lower() in allowed
    first = hits[0]
    assert set(first) >= {"type", "query", "rank", "score", "article", "paragraph", "title", "date", "author", "url", "text"}
    assert first["query"] == "sợ trách nhiệm" and first["rank"] == 1


def test_every_hit_carries_its_articles_title_date_author_and_url(run):
    """They are stored once per article (with its first paragraph): a hit on any
    paragraph, in any segment, still shows them."""
    from searcher.corpus import Corpus

    articles = {s.id: s.load() for s in Corpus(CORPUS).sources()}
    hits = hits_of(run("query", "cán bộ", "--json", "-n", "40"))
    assert len(hits) == 40 and any(h["paragraph"] > 1 for h in hits)
    for hit in hits:
        article = articles[hit["article"]]
        assert hit["title"] == article.title and hit["title"]
        assert (hit["date"], hit["author"], hit["url"]) == (article.date, article.author, article.url)


def test_accentless_query_finds_the_same_top_articles(run):
    accented = hits_of(run("query", "sợ trách nhiệm", "--json"))
    accentless = hits_of(run("query", "so trach nhiem", "--json"))
    assert {h["article"] for h in accentless} == {h["article"] for h in accented}
    for hit in accentless:
        for start, end in hit["highlights"]:
            # Typed without accents, the words match whatever accents they carry (sợ, sở…).
            assert fold_accents(hit["text"][start:end]) in {"so", "trach", "nhiem", "trach nhiem"}


@pytest.fixture
def mixed_corpus(tmp_path) -> Path:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "exact.txt").write_text(
        "Cán bộ sợ trách nhiệm\n\nNhiều cán bộ còn sợ trách nhiệm khi làm việc.\n", encoding="utf-8"
    )
    (corpus / "folded.txt").write_text(
        "Sổ tay\n\nSố liệu về trách nhiệm được ghi vào sổ trách nhiệm của xã.\n", encoding="utf-8"
    )
    (corpus / "tones.txt").write_text(
        "Văn hoá\n\nHòa bình và văn hoá của tỉnh.\n\nSức khỏe người dân là trên hết.\n", encoding="utf-8"
    )
    return corpus


def test_repeated_paragraphs_collapse_into_one_hit(run, tmp_path):
    """The same paragraph in three articles (one with old tone placement and other
    spacing) is one hit with two duplicates; a paragraph that differs by a tone is not."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    same = "Hòa bình và thủy lợi là trách nhiệm của tỉnh."
    (corpus / "a.txt").write_text(f"Tin A\n\n{same}\n", encoding="utf-8")
    (corpus / "b.txt").write_text("Tin B\n\nHoà bình  và thuỷ lợi là trách nhiệm của tỉnh.\n", encoding="utf-8")
    (corpus / "c.txt").write_text(f"Tin C\n\n{same}\n", encoding="utf-8")
    (corpus / "d.txt").write_text("Tin D\n\nHòa bình và thủy lợi là trách nhiệm của tính.\n", encoding="utf-8")
    hits = hits_of(run("query", "thủy lợi trách nhiệm", "--json", index=tmp_path / "index", corpus=corpus))
    assert len(hits) == 2
    assert sorted(h.get("duplicates", 0) for h in hits) == [0, 2]
    assert {h["text"].split()[-1] for h in hits} == {"tỉnh.", "tính."}


def test_exact_accents_rank_above_folded_matches(run, mixed_corpus, tmp_path):
    index = tmp_path / "index"
    hits = hits_of(run("query", "sợ trách nhiệm", "--json", index=index, corpus=mixed_corpus))
    articles = [h["article"] for h in hits]
    # Both paragraphs of "exact" (title line and body) rank above the folded-only match;
    # the headline "Sổ tay" holds only some of the words: it comes last.
    assert articles[:3] == ["exact", "exact", "folded"]
    assert hits[1]["score"] > hits[2]["score"]
    assert [h["complete"] for h in hits] == [True, True, True] + [False] * (len(hits) - 3)


def test_nfd_query_returns_the_same_hits_as_nfc(run):
    nfc = hits_of(run("query", "nêu gương", "--json"))
    nfd = hits_of(run("query", unicodedata.normalize("NFD", "nêu gương"), "--json"))
    assert [(h["article"], h["paragraph"]) for h in nfd] == [(h["article"], h["paragraph"]) for h in nfc]
    assert nfc


@pytest.mark.parametrize("typed, written", [("hoà bình", "Hòa bình"), ("khoẻ", "khỏe"), ("văn hóa", "văn hoá")])
def test_old_and_new_tone_placement_match_each_other(run, mixed_corpus, tmp_path, typed, written):
    hits = hits_of(run("query", typed, "--json", index=tmp_path / "index", corpus=mixed_corpus))
    assert hits
    marked = [hits[0]["text"][s:e].lower() for s, e in hits[0]["highlights"]]
    assert written.lower() in marked


def test_tinh_uy_matches_both_placements_in_the_seeds(run):
    # The seeds write "ủy" 87 times and "uỷ" twice; either spelling finds both.
    for typed in ("Tỉnh uỷ", "tỉnh ủy"):
        hits = hits_of(run("query", typed, "--json", "-n", "100"))
        written = {h["text"][s:e] for h in hits for s, e in h["highlights"]}
        assert {"Tỉnh ủy", "Tỉnh uỷ"} <= written


def test_one_syllable_finds_it_inside_pyvi_words(run):
    hits = hits_of(run("query", "trách", "--json", "-n", "50"))
    assert len(hits) >= 20
    # In the paragraph, or in its article's title (every paragraph of an article about it).
    assert all("trách" in (h["text"] + " " + h["title"]).lower() for h in hits)
    assert any("trách nhiệm" in h["text"].lower() for h in hits)
    in_text = [h for h in hits if "trách" in h["text"].lower()]
    assert hits[: len(in_text)] == in_text  # those with it in their own text rank first


def test_phrase_query_needs_the_words_in_order(run):
    hits = hits_of(run("query", '"nêu gương"', "--json", "-n", "50"))
    assert hits
    assert all("nêu gương" in canonical_tones(h["text"]).lower() for h in hits)


def test_no_hits_exits_1_with_nothing_on_stdout(run):
    result = run("query", "zzzxq")
    assert result.exit_code == 1
    assert result.stdout == ""


def test_no_hits_in_json_still_prints_the_summary(run):
    result = run("query", "zzzxq", "--json")
    assert result.exit_code == 1
    summary = json.loads(result.stdout)
    elapsed = summary.pop("elapsed_ms")
    assert summary == {"type": "summary", "query": "zzzxq", "total": 0, "returned": 0, "complete": 0}
    assert isinstance(elapsed, float) and elapsed >= 0  # a duration in ms (speed is for benchmarks/)


def test_missing_corpus_is_a_one_line_error(run, tmp_path):
    result = run("query", "trách nhiệm", index=tmp_path / "index", corpus=tmp_path / "nowhere")
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert lines[-1] == f"Error: corpus folder not found: {tmp_path / 'nowhere'}"
    assert "Traceback" not in result.stderr


@pytest.mark.engines("embedded")
def test_unreadable_index_is_a_one_line_error(run, tmp_path):
    index = tmp_path / "index"
    index.mkdir()
    (index / f"_{INDEX_NAME}_1.toc").write_bytes(b"garbage, not a whoosh table of contents")
    result = run("query", "trách nhiệm", index=index)
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"Error: the index at {index} is damaged (its table of contents cannot be read")
    assert "rebuild" in result.stderr


@pytest.mark.engines("embedded")
def test_index_of_another_schema_version_asks_for_a_rebuild(run, tmp_path, corpus_copy):
    index = tmp_path / "index"
    index.mkdir()
    (index / "_searcher_v0_1.toc").write_bytes(b"an older layout")
    (index / "searcher_v0_2v0yq4r1c8b7e3xk.seg").write_bytes(b"an older segment")
    result = run("query", "trách nhiệm", index=index, corpus=corpus_copy)
    assert result.exit_code == 2
    assert "incompatible version" in result.stderr and "searcher index --rebuild" in result.stderr
    rebuilt = run("index", "--rebuild", index=index, corpus=corpus_copy)
    assert rebuilt.exit_code == 0, rebuilt.stderr
    assert not [p.name for p in index.iterdir() if p.name.startswith(("_searcher_v0", "searcher_v0"))]
    assert run("query", "trách nhiệm", index=index, corpus=corpus_copy).exit_code == 0


def test_first_query_builds_the_index(run, tmp_path):
    index = tmp_path / "fresh"
    result = run("query", "sợ trách nhiệm", "-n", "3", index=index)
    assert result.exit_code == 0
    assert len(result.stdout.splitlines()) == 3
    assert "building it" in result.stderr  # progress goes to stderr, never stdout


def test_malformed_query_is_an_error_not_a_traceback(run):
    result = run("query", "-- ( ) OR")
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: nothing to search for")


def test_a_misspelt_option_is_an_error_not_query_words(run):
    result = run("query", "--jsn", "trách nhiệm")
    assert result.exit_code == 2
    assert "no such option: --jsn" in result.output
    # a minus before a query word is still an exclusion
    assert run("query", 'trách nhiệm -"nêu gương"').exit_code == 0


def test_an_unquoted_exclusion_gets_a_hint_not_a_bare_integer_error(run):
    # what a shell passes for: searcher query trách nhiệm -"nêu gương"
    for word in ("-nêu gương", "-Công an"):
        result = run("query", "trách nhiệm", word)
        assert result.exit_code == 2
        assert "To exclude words, quote the whole query" in result.stderr


def test_terminal_gets_rich_output_with_highlights(run, monkeypatch):
    monkeypatch.setattr(cli_module, "stdout_is_tty", lambda: True)
    result = run("query", "sợ trách nhiệm", "-n", "2", "--color", "always")
    assert result.exit_code == 0
    assert "¶" in result.stdout and "score" in result.stdout
    assert ANSI in result.stdout
    assert "\t" not in result.stdout


def test_terminal_output_honours_no_color(run, monkeypatch):
    monkeypatch.setattr(cli_module, "stdout_is_tty", lambda: True)
    result = run("query", "sợ trách nhiệm", "-n", "2", env={"NO_COLOR": "1"})
    assert result.exit_code == 0
    assert "¶" in result.stdout
    assert "\x1b[3" not in result.stdout and "\x1b[9" not in result.stdout  # no colour codes


def _searcher_cmd() -> list[str]:
    return [sys.executable, "-m", "searcher"]


def test_closed_pipe_ends_quietly(engine, seed_index):
    cmd = " ".join([*_searcher_cmd(), *engine.args(seed_index)]) + f" --corpus {CORPUS} query trách -n 500 | head -1"
    done = subprocess.run(["bash", "-o", "pipefail", "-c", cmd], capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == 1
    assert done.stderr == ""


def test_module_entry_point_and_exit_status(engine, seed_index):
    done = subprocess.run(
        [*_searcher_cmd(), *engine.args(seed_index), "--corpus", str(CORPUS), "query", "zzzxq"],
        capture_output=True,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert done.returncode == 1
    assert done.stdout == "" and done.stderr == ""


@pytest.mark.engines("embedded")
def test_every_command_has_help(run):
    for command in cli_module.cli.commands:
        result = run(command, "--help")
        assert result.exit_code == 0
        assert "Usage:" in result.stdout


def test_the_query_path_skips_what_whoosh_imports_for_nothing(tmp_path):
    """asyncio (through the cached_property package), Whoosh's English inflection
    tables, urllib.request (through whoosh.compat) and multiprocessing (only indexing
    needs workers) cost a cold query ~80 ms and serve nothing there
    (engine/embedded/startup.py); what Whoosh uses them for still works: deleted
    documents stay hidden, variations and urlretrieve load."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    article = corpus / "a.json"
    args = ["--index", str(tmp_path / "index"), "--corpus", str(corpus)]
    article.write_text(json.dumps({"id": "a", "title": "Cán bộ", "text": "Cán bộ sợ trách nhiệm."}), encoding="utf-8")
    assert subprocess.run([sys.executable, "-m", "searcher", *args, "index"], cwd=REPO).returncode == 0
    article.write_text(json.dumps({"id": "a", "title": "Cán bộ", "text": "Cán bộ dám làm."}), encoding="utf-8")
    assert subprocess.run([sys.executable, "-m", "searcher", *args, "index"], cwd=REPO).returncode == 0
    code = f"""
import sys
from searcher.cli import cli
try:
    cli({[*args, "query", "cán bộ", "--json"]!r})
except SystemExit:
    pass
print("LOADED", [m for m in ("asyncio", "whoosh.lang.morph_en", "urllib.request", "http.client", "multiprocessing")
                 if m in sys.modules], file=sys.stderr)
from whoosh.query.terms import variations
print("VARIATIONS", "rendering" in variations("render"), file=sys.stderr)
from whoosh.compat import urlretrieve
import urllib.request
urlretrieve("file://" + {str(article)!r}, {str(tmp_path / "copy.json")!r})
print("URLRETRIEVE", type(urllib.request).__name__, hasattr(urllib.request, "Request"), file=sys.stderr)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert "LOADED []" in done.stderr, done.stderr
    assert "VARIATIONS True" in done.stderr
    assert "URLRETRIEVE module True" in done.stderr and (tmp_path / "copy.json").read_bytes() == article.read_bytes()
    hits = [json.loads(line) for line in done.stdout.splitlines() if '"type": "hit"' in line]
    texts = [h["text"] for h in hits]
    assert "Cán bộ dám làm." in texts and "Cán bộ sợ trách nhiệm." not in texts  # the old version is deleted
