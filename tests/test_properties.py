"""Property tests: arbitrary Unicode and query syntax never crash the analyzer or the
parser, and every token's offsets slice the stored text exactly."""

from __future__ import annotations


from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from searcher.analysis import analyze
from searcher.errors import SearcherError
from searcher.query import parse
from searcher.index import Index
from searcher.text import SYLLABLE_RE, analysis_form, canonical_tones, fold_accents, nfc
from tests.conftest import CORPUS

VIETNAMESE = "aăâbcdđeêghiklmnoôơpqrstuưvxyàáảãạằắẳẵặầấẩẫậèéẻẽẹềếểễệìíỉĩịòóỏõọồốổỗộờớởỡợùúủũụừứửữựỳýỷỹỵĐÐ"
SPECIAL = "\u200b\u200d\u00ad\ufeff\u00a0\u2009“”‘’–—…•_-'\".,;:!?()/\\\n\t ＶＩＥＴ̣̀́̉̃"
text_strategy = st.text(
    alphabet=st.one_of(st.sampled_from(VIETNAMESE + VIETNAMESE.upper() + SPECIAL), st.characters()),
    max_size=120,
)
query_strategy = st.lists(
    st.one_of(
        st.sampled_from(['"', "(", ")", "-", "OR", "title:", "article:", " ", "sợ", "trách", "nhiệm", "so", "hoà", "Đà"]),
        text_strategy,
    ),
    max_size=12,
).map("".join)


@settings(max_examples=300, deadline=None)
@given(text_strategy)
def test_every_unit_slices_the_stored_text(raw):
    text = nfc(raw)
    analysis = analyze(text)
    for unit in analysis.syllables:
        piece = text[unit.start : unit.end]
        assert piece, unit
        # The stored characters, made comparable the way analysis makes them (invisible
        # characters dropped, NFKC: "¼" is "1⁄4", two syllables), hold the syllable indexed.
        form = analysis_form(piece)[0]
        assert unit.folded in [fold_accents(canonical_tones(m).lower()) for m in SYLLABLE_RE.findall(form)], (piece, unit)
    for unit in analysis.words + analysis.bigrams:
        assert 0 <= unit.start < unit.end <= len(text)
        assert unit.canon.count("_") == unit.folded.count("_")
    starts = [u.start for u in analysis.syllables]
    assert starts == sorted(starts)


@settings(max_examples=300, deadline=None)
@given(query_strategy)
def test_parser_never_raises_anything_but_a_user_error(text):
    try:
        parse(text)
    except SearcherError as exc:
        assert str(exc).startswith("nothing to search for")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query_strategy)
def test_search_never_crashes_and_highlights_slice_the_text(engine, seed_index, text):
    index = Index.open(engine.location(seed_index))
    try:
        results = index.search(text, limit=5)
    except SearcherError:
        return
    for hit in results.hits:
        for start, end in hit.highlights:
            assert 0 <= start < end <= len(hit.text)
            assert hit.text[start:end].strip() == hit.text[start:end]


def test_corpus_paragraphs_round_trip_through_analysis():
    from searcher.corpus import Corpus

    for source in Corpus(CORPUS).sources():
        for paragraph in source.load().paragraphs:
            for unit in analyze(paragraph).syllables:
                assert canonical_tones(paragraph[unit.start : unit.end]).lower() == unit.canon


@given(st.text())
def test_folding_a_whole_text_at_once_is_the_general_fold(text):
    """``fold_accents`` folds precomposed Latin letters with one table; anything else
    takes the general way (decompose, drop the combining marks)."""
    from searcher.text import _fold_slowly

    assert fold_accents(text) == _fold_slowly(text).lower()
