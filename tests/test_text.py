"""Normalization golden cases (shared/VIETNAMESE.md): NFC, tone placement, đ, invisibles."""

import unicodedata

import pytest

from searcher.text import (
    analysis_form,
    canonical_syllable,
    canonical_tones,
    fold_accents,
    has_accents,
    normalize_query,
)


@pytest.mark.parametrize(
    "old, new",
    [
        ("hoà", "hòa"),
        ("khoẻ", "khỏe"),
        ("thuỷ", "thủy"),
        ("Hoà", "Hòa"),
        ("HOÀ", "HÒA"),
        ("uỷ", "ủy"),
        ("hoá", "hóa"),
        ("loà", "lòa"),
    ],
)
def test_both_tone_placements_have_one_canonical_form(old, new):
    assert canonical_syllable(old) == canonical_syllable(new) == old


@pytest.mark.parametrize(
    "syllable",
    # Tone already where every convention puts it: on a marked vowel, before a final
    # consonant, after qu/gi, in triphthongs.
    ["người", "tuổi", "khuyến", "hoàn", "huỳnh", "quý", "quả", "già", "giữ", "gì", "ngoài", "khuỷu", "mùa", "chịu", "thuở", "Việt"],
)
def test_settled_placements_are_left_alone(syllable):
    assert canonical_syllable(syllable) == syllable


def test_canonical_tones_keeps_length_and_other_text():
    text = "Hòa bình, khỏe mạnh – Thủy lợi (2024)"
    out = canonical_tones(text)
    assert out == "Hoà bình, khoẻ mạnh – Thuỷ lợi (2024)"
    assert len(out) == len(text)


def test_nfd_input_reaches_the_same_analysis_form_as_nfc():
    nfc = "Việt Nam hòa bình"
    nfd = unicodedata.normalize("NFD", nfc)
    assert len(nfd) > len(nfc)
    assert normalize_query(nfd) == normalize_query(nfc) == "Việt Nam hoà bình"


@pytest.mark.parametrize(
    "text, folded",
    [
        ("Đà Nẵng", "da nang"),
        ("Ðà Nẵng", "da nang"),  # U+00D0, the Icelandic look-alike
        ("đường", "duong"),
        ("sợ trách nhiệm", "so trach nhiem"),
        ("ƯỚC MƠ", "uoc mo"),
    ],
)
def test_fold_accents_maps_d_bar_to_d(text, folded):
    assert fold_accents(text) == folded


def test_has_accents():
    assert has_accents("sợ")
    assert has_accents("đi")
    assert not has_accents("so trach nhiem")


def test_invisible_characters_are_dropped_with_offsets_kept():
    stored = "Vi\u200bệt\u00adNam\ufeff x"
    form, offsets = analysis_form(stored)
    assert form == "ViệtNam x"
    # Every analysis character points back at the same character in the stored text.
    assert all(stored[o] == c for o, c in zip(offsets, form))


def test_nbsp_and_other_spaces_become_plain_spaces():
    form, offsets = analysis_form("Thứ ba,\u00a018/02/2020\u2009nay")
    assert form == "Thứ ba, 18/02/2020 nay"
    assert offsets is None  # same length: offsets align one to one


def test_fullwidth_letters_fold_for_matching():
    stored = "ＶＩỆＴ"
    form, _ = analysis_form(stored)
    assert form == "VIỆT"
    assert fold_accents(form) == "viet"
