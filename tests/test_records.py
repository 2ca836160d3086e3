"""Records (searcher.records) behave as the dataclasses they replace: each check is made on
a record class and on the dataclass with the same fields, and the two must agree."""

from __future__ import annotations

import dataclasses
import pickle

import pytest

from searcher.records import FrozenInstanceError, Record, asdict, factory, fields, replace


class Hit(Record):
    rank: int
    text: str
    duplicates: int = 0


@dataclasses.dataclass(frozen=True)
class HitDC:
    rank: int
    text: str
    duplicates: int = 0


class Part(Record, mutable=True):
    required: object | None = None
    optional: list = factory(list)


@dataclasses.dataclass
class PartDC:
    required: object | None = None
    optional: list = dataclasses.field(default_factory=list)


class Base(Record):
    engine: str
    paragraphs: int


class Extended(Base):
    semantic: bool = False
    model: str | None = None


def _same(make_record, make_dataclass):
    """Both constructions succeed with the same fields, or both raise TypeError."""
    try:
        expected = dataclasses.astuple(make_dataclass())
    except TypeError:
        with pytest.raises(TypeError):
            make_record()
        return
    assert make_record()._values() == expected


@pytest.mark.parametrize(
    "args, kwargs",
    [
        ((1, "sợ trách nhiệm"), {}),
        ((1, "sợ trách nhiệm", 3), {}),
        ((1,), {"text": "né tránh", "duplicates": 2}),
        ((), {"text": "đùn đẩy", "rank": 4}),
        ((1,), {}),  # missing a field
        ((1, "a", 2, 3), {}),  # too many
        ((1, "a"), {"rank": 2}),  # repeated
        ((1, "a"), {"score": 2.0}),  # unknown
    ],
)
def test_construction_matches_dataclasses(args, kwargs):
    _same(lambda: Hit(*args, **kwargs), lambda: HitDC(*args, **kwargs))


def test_a_frozen_record_compares_hashes_and_refuses_assignment_by_value():
    a, b = Hit(1, "trách nhiệm"), Hit(rank=1, text="trách nhiệm", duplicates=0)
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    assert a != Hit(2, "trách nhiệm")
    assert a != HitDC(1, "trách nhiệm")  # another class, even with the same fields
    with pytest.raises(FrozenInstanceError):
        a.rank = 5
    with pytest.raises(AttributeError):  # as dataclasses.FrozenInstanceError is
        del a.text
    assert a.rank == 1
    assert repr(a) == "Hit(rank=1, text='trách nhiệm', duplicates=0)"
    assert repr(a).replace("Hit(", "HitDC(") == repr(HitDC(1, "trách nhiệm"))


def test_a_mutable_record_assigns_and_is_not_hashable_like_a_dataclass():
    part, other = Part(), Part()
    part.optional.append("nêu gương")
    assert other.optional == []  # each record its own list
    part.required = "kỷ luật"
    assert part == Part("kỷ luật", ["nêu gương"])
    with pytest.raises(TypeError):
        hash(part)
    with pytest.raises(TypeError):
        hash(PartDC())
    assert "optional" not in vars(Part)  # no shared list left on the class


def test_a_subclass_adds_its_fields_after_its_bases():
    stats = Extended("whoosh", 12, semantic=True)
    assert fields(stats) == ("engine", "paragraphs", "semantic", "model")
    assert fields(Extended) == fields(stats) and fields(Base) == ("engine", "paragraphs")
    assert stats.model is None and stats.semantic is True
    assert Extended.__match_args__ == fields(Extended)


def test_a_field_without_a_default_after_one_with_is_refused_as_dataclasses_does():
    with pytest.raises(TypeError):

        class Wrong(Record):
            first: int = 0
            second: int

    with pytest.raises(TypeError):

        @dataclasses.dataclass
        class WrongDC:
            first: int = 0
            second: int


def test_replace_and_asdict_match_dataclasses():
    hit, hit_dc = Hit(1, "ngại va chạm"), HitDC(1, "ngại va chạm")
    assert replace(hit, duplicates=4)._values() == dataclasses.astuple(dataclasses.replace(hit_dc, duplicates=4))
    assert hit.duplicates == 0
    with pytest.raises(TypeError):
        replace(hit, score=1.0)
    with pytest.raises(TypeError):
        dataclasses.replace(hit_dc, score=1.0)
    nested = Part(hit, [hit, (hit,), {"k": hit}])
    nested_dc = PartDC(hit_dc, [hit_dc, (hit_dc,), {"k": hit_dc}])
    assert asdict(nested) == dataclasses.asdict(nested_dc)
    from searcher.analysis import analyze  # its units are namedtuples

    units = analyze("Sợ trách nhiệm").syllables
    assert asdict(Part(units)) == dataclasses.asdict(PartDC(units))


def test_records_pickle_and_copy_by_value():
    import copy

    for value in (Hit(1, "đô thị", 2), Part("x", ["y"]), Extended("opensearch", 3, model="e5")):
        assert pickle.loads(pickle.dumps(value)) == value
        assert copy.deepcopy(value) == value and copy.copy(value) == value
