"""Every token knows where it came from: offsets round-trip on the seed texts."""

import unicodedata

import pytest

from searcher.analysis import analyze
from searcher.engine.schema import ANALYZED, BIGRAM, FOLD, SYL, WORD, FieldSpec, field_postings, unit_terms
from searcher.corpus import Corpus
from searcher.wordseg import segmenter
from searcher.text import SYLLABLE_RE, canonical_tones, fold_accents
from tests.conftest import CORPUS


def _seed_paragraphs():
    paragraphs = []
    for source in Corpus(CORPUS).sources():
        paragraphs.extend(source.load().paragraphs)
    assert len(paragraphs) > 50
    return paragraphs


SEED_PARAGRAPHS = _seed_paragraphs()


def test_every_token_slices_the_stored_text_exactly():
    for text in SEED_PARAGRAPHS:
        analysis = analyze(text)
        for unit in analysis.syllables:
            piece = text[unit.start : unit.end]
            assert canonical_tones(piece).lower() == unit.canon
            assert fold_accents(piece) == unit.folded
        for unit in analysis.words + analysis.bigrams:
            piece = text[unit.start : unit.end]
            # A word or bigram is its syllables, joined by "_" where the text has spaces.
            syllables = [s for s in analysis.syllables if unit.start <= s.start and s.end <= unit.end]
            assert unit.canon == "_".join(s.canon for s in syllables)
            assert piece.startswith(text[syllables[0].start : syllables[0].end])
            assert piece.endswith(text[syllables[-1].start : syllables[-1].end])


def test_words_are_pyvi_words():
    for text in SEED_PARAGRAPHS[:40]:
        pyvi_words = segmenter().tokenize(canonical_tones(text)).lower().split(" ")
        # A word is its syllables joined by "_" (pyvi's "41.782" is "41_782" here), and
        # pyvi's punctuation tokens are not words.
        expected = ["_".join(SYLLABLE_RE.findall(w)) for w in pyvi_words]
        got = [u.canon for u in analyze(text).words]
        assert got == [w for w in expected if w]


def test_offsets_survive_invisible_characters_and_nfd_sources():
    text = "Chữa căn\u200b bệnh “sợ trách nhi\u00adệm”"
    analysis = analyze(text)
    assert [text[u.start : u.end] for u in analysis.words] == ["Chữa", "căn\u200b bệnh", "sợ", "trách nhi\u00adệm"]
    assert [u.canon for u in analysis.words] == ["chữa", "căn_bệnh", "sợ", "trách_nhiệm"]


def test_indexed_fields_are_views_of_one_analysis():
    text = "Bệnh “sợ trách nhiệm” ở Bình Thuận"
    analysis = analyze(text)
    syllables = field_postings(ANALYZED[SYL], analysis)
    # Punctuation leaves no gap: a phrase copied with its quotes still matches.
    assert [(t, p) for t, p in syllables.items()][:3] == [("bệnh", [0]), ("sợ", [1]), ("trách", [2])]
    assert [text[u.start : u.end] for u in analysis.syllables][:3] == ["Bệnh", "sợ", "trách"]
    assert unit_terms(FieldSpec("words"), analysis.words) == ["bệnh", "sợ", "trách_nhiệm", "ở", "bình_thuận"]
    assert unit_terms(FieldSpec("words", folded=True), analysis.words) == ["benh", "so", "trach_nhiem", "o", "binh_thuan"]
    assert list(field_postings(ANALYZED[FOLD], analysis))[:2] == ["benh", "so"]
    # What the index holds: "folded|canonical", so the accent variants of a word sit side by
    # side in the term dictionary (đ folds to d).
    keyed = list(field_postings(ANALYZED[BIGRAM], analyze("trách nhiệm Đảng viên")))
    assert keyed == ["trach_nhiem|trách_nhiệm", "nhiem_dang|nhiệm_đảng", "dang_vien|đảng_viên"]
    assert dict(field_postings(ANALYZED[WORD], analyze("sợ sợ trách nhiệm"))) == {"so|sợ": 2, "trach_nhiem|trách_nhiệm": 1}


def test_positions_and_bigrams_continue_across_punctuation():
    """As in SQLite FTS5 and Lucene: "minh bạch, dân chủ" is the phrase "minh bạch dân chủ"."""
    analysis = analyze("chức trách, nhiệm vụ Rịa-Vũng Tàu (3.5 phần trăm)")
    positions = {t: p[0] for t, p in field_postings(ANALYZED[SYL], analysis).items()}
    assert positions["nhiệm"] - positions["trách"] == 1
    assert positions["vũng"] - positions["rịa"] == 1
    assert positions["5"] - positions["3"] == 1
    bigrams = [u.canon for u in analysis.bigrams]
    assert {"trách_nhiệm", "rịa_vũng", "tàu_3", "3_5", "5_phần"} <= set(bigrams)
    assert len(bigrams) == len(analysis.syllables) - 1


@pytest.mark.parametrize("word", ["ở", "in", "to", "an", "không", "và", "là", "a"])
def test_no_stop_words_and_one_letter_words_kept(word):
    text = f"Người dân {word} đây"
    assert word in [u.canon for u in analyze(text).syllables]


def test_tone_placement_is_canonical_before_segmentation():
    old = analyze("hoà bình").words
    new = analyze("hòa bình").words
    assert [u.canon for u in old] == [u.canon for u in new] == ["hoà_bình"]


def test_nfc_and_nfd_analyze_alike():
    nfc = "Thực hiện trách nhiệm nêu gương"
    nfd = unicodedata.normalize("NFD", nfc)
    assert [u.canon for u in analyze(unicodedata.normalize("NFC", nfd)).words] == [u.canon for u in analyze(nfc).words]
