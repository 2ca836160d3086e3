"""Compiled queries: the engine-neutral tree an engine evaluates (or translates).

``searcher.query`` turns what a user types into this tree; the embedded engine evaluates
it (``searcher.engine.evaluate``), a cluster engine compiles it to its own query language.
Every node scores as a sum of BM25 term scores, so a score means the same thing whichever
engine computes it. Nodes are frozen records: hashable, comparable, printable.
"""

from __future__ import annotations


class FrozenInstanceError(AttributeError):
    """A node's field was assigned to."""


class _Record:
    """What ``@dataclass(frozen=True)`` gives a node (construction by position or keyword
    with defaults, equality and hashing by value, a repr, no assignment) from methods
    written once: on Python 3.11 ``dataclass`` compiles six methods per class, ~1 ms each
    class, and every query imports these."""

    _fields: tuple[str, ...] = ()
    _defaults: dict = {}

    def __init__(self, *args, **kwargs):
        names = self._fields
        if len(args) > len(names):
            raise TypeError(f"{type(self).__name__} takes {len(names)} arguments, {len(args)} given")
        values = dict(zip(names, args))
        for name, value in kwargs.items():
            if name not in names or name in values:
                raise TypeError(f"{type(self).__name__}: unexpected or repeated argument {name!r}")
            values[name] = value
        for name in names:
            if name not in values:
                if name not in self._defaults:
                    raise TypeError(f"{type(self).__name__}: missing argument {name!r}")
                values[name] = self._defaults[name]
            object.__setattr__(self, name, values[name])

    def _values(self) -> tuple:
        return tuple(getattr(self, name) for name in self._fields)

    def __eq__(self, other):
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self):
        return hash(self._values())

    def __repr__(self) -> str:
        return f"{type(self).__name__}(" + ", ".join(f"{n}={getattr(self, n)!r}" for n in self._fields) + ")"

    def __setattr__(self, name, value):
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name):
        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def __reduce__(self):
        return (type(self), self._values())


def record(cls):
    """A frozen record class from annotated fields (and their defaults), as
    ``dataclasses.dataclass(frozen=True)`` would make it (see ``_Record``)."""
    names = tuple(cls.__dict__.get("__annotations__", {}))
    defaults = {name: cls.__dict__[name] for name in names if name in cls.__dict__}
    body = {k: v for k, v in cls.__dict__.items() if k not in defaults and k not in ("__dict__", "__weakref__")}
    made = type(cls.__name__, (_Record,), body)
    made._fields, made._defaults, made.__match_args__ = names, defaults, names
    return made


@record
class Term:
    """One term of one field."""

    field: str
    text: str
    boost: float = 1.0

    def __str__(self) -> str:
        return f"{self.field}:{self.text}{_boost(self.boost)}"


@record
class Variants:
    """Every term of a keyed field that starts with ``prefix`` + the variant separator
    (``trach_nhiem|`` → ``trach_nhiem|trách_nhiệm``, ``trach_nhiem|trạch_nhiêm`` …),
    matched and scored as one term: a paragraph's frequency is the sum of its variants',
    the document frequency the sum of theirs (at most the number of paragraphs)."""

    field: str
    prefix: str
    boost: float = 1.0

    def __str__(self) -> str:
        return f"{self.field}:{self.prefix}|*{_boost(self.boost)}"


@record
class Phrase:
    """``terms`` of a positional field at consecutive positions, in order. It scores as
    the ``And`` of its terms (their BM25 scores added) where the phrase occurs."""

    field: str
    terms: tuple[str, ...]
    boost: float = 1.0

    def __str__(self) -> str:
        return f'{self.field}:"{" ".join(self.terms)}"{_boost(self.boost)}'


@record
class Not:
    """Inside an ``And``: paragraphs matching ``child`` are excluded."""

    child: object

    def __str__(self) -> str:
        return f"NOT {self.child}"


@record
class And:
    """Every positive child matches (scores added); no ``Not`` child does."""

    children: tuple
    boost: float = 1.0

    def __str__(self) -> str:
        return "(" + " AND ".join(map(str, self.children)) + ")" + _boost(self.boost)


@record
class Or:
    """At least one child matches; the scores of those that match are added."""

    children: tuple
    boost: float = 1.0

    def __str__(self) -> str:
        return "(" + " OR ".join(map(str, self.children)) + ")" + _boost(self.boost)


@record
class Quorum:
    """At least ``minimum`` children match; the scores of those that match are added."""

    children: tuple
    minimum: int
    boost: float = 1.0

    def __str__(self) -> str:
        return f"QUORUM({self.minimum} of: " + ", ".join(map(str, self.children)) + ")" + _boost(self.boost)


@record
class AndMaybe:
    """``required`` matches; ``optional`` only adds to the score where it matches too."""

    required: object
    optional: object
    boost: float = 1.0

    def __str__(self) -> str:
        return f"({self.required} ANDMAYBE {self.optional}){_boost(self.boost)}"


@record
class Tiered:
    """``query``'s matches and scores, with the paragraphs that also match ``first``
    ranked above all the others (by score within each tier); ``first`` itself scores
    nothing. A keyword search: paragraphs with every word first, then the closest."""

    first: object
    query: object

    def __str__(self) -> str:
        return f"TIERED(first: {self.first}; then: {self.query})"


@record
class Nothing:
    """Matches no paragraph."""

    def __str__(self) -> str:
        return "<nothing>"


NOTHING = Nothing()

Node = Term | Variants | Phrase | Not | And | Or | Quorum | AndMaybe | Tiered | Nothing


@record
class Filters:
    """Restrictions that do not score: one article, a date range (inclusive; a prefix
    of an ISO date such as ``2024`` or ``2024-05`` covers the whole period)."""

    article: str | None = None
    since: str | None = None
    until: str | None = None

    def __bool__(self) -> bool:
        return bool(self.article or self.since or self.until)


def _boost(boost: float) -> str:
    return f"^{boost:g}" if boost != 1.0 else ""


def leaves(node) -> list:
    """The ``Term``, ``Variants`` and ``Phrase`` nodes under ``node``, not under a ``Not``."""
    if isinstance(node, (Term, Variants, Phrase)):
        return [node]
    if isinstance(node, (And, Or, Quorum)):
        return [leaf for child in node.children for leaf in leaves(child)]
    if isinstance(node, AndMaybe):
        return leaves(node.required) + leaves(node.optional)
    if isinstance(node, Tiered):
        return leaves(node.query)
    return []
