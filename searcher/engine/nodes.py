"""Compiled queries: the engine-neutral tree an engine evaluates (or translates).

``searcher.query`` turns what a user types into this tree; the embedded engine evaluates
it (``searcher.engine.evaluate``), a cluster engine compiles it to its own query language.
Every node scores as a sum of BM25 term scores, so a score means the same thing whichever
engine computes it. Nodes are frozen records: hashable, comparable, printable.
"""

from __future__ import annotations

from searcher.records import Record


class Term(Record):
    """One term of one field."""

    field: str
    text: str
    boost: float = 1.0

    def __str__(self) -> str:
        return f"{self.field}:{self.text}{_boost(self.boost)}"


class Variants(Record):
    """Every term of a keyed field that starts with ``prefix`` + the variant separator
    (``trach_nhiem|`` → ``trach_nhiem|trách_nhiệm``, ``trach_nhiem|trạch_nhiêm`` …),
    matched and scored as one term: a paragraph's frequency is the sum of its variants',
    the document frequency the sum of theirs (at most the number of paragraphs)."""

    field: str
    prefix: str
    boost: float = 1.0

    def __str__(self) -> str:
        return f"{self.field}:{self.prefix}|*{_boost(self.boost)}"


class Phrase(Record):
    """``terms`` of a positional field at consecutive positions, in order. It scores as
    the ``And`` of its terms (their BM25 scores added) where the phrase occurs."""

    field: str
    terms: tuple[str, ...]
    boost: float = 1.0

    def __str__(self) -> str:
        return f'{self.field}:"{" ".join(self.terms)}"{_boost(self.boost)}'


class Not(Record):
    """Inside an ``And``: paragraphs matching ``child`` are excluded."""

    child: object

    def __str__(self) -> str:
        return f"NOT {self.child}"


class And(Record):
    """Every positive child matches (scores added); no ``Not`` child does."""

    children: tuple
    boost: float = 1.0

    def __str__(self) -> str:
        return "(" + " AND ".join(map(str, self.children)) + ")" + _boost(self.boost)


class Or(Record):
    """At least one child matches; the scores of those that match are added."""

    children: tuple
    boost: float = 1.0

    def __str__(self) -> str:
        return "(" + " OR ".join(map(str, self.children)) + ")" + _boost(self.boost)


class Quorum(Record):
    """At least ``minimum`` children match; the scores of those that match are added."""

    children: tuple
    minimum: int
    boost: float = 1.0

    def __str__(self) -> str:
        return f"QUORUM({self.minimum} of: " + ", ".join(map(str, self.children)) + ")" + _boost(self.boost)


class AndMaybe(Record):
    """``required`` matches; ``optional`` only adds to the score where it matches too."""

    required: object
    optional: object
    boost: float = 1.0

    def __str__(self) -> str:
        return f"({self.required} ANDMAYBE {self.optional}){_boost(self.boost)}"


class Tiered(Record):
    """``query``'s matches and scores, with the paragraphs that also match ``first``
    ranked above all the others (by score within each tier); ``first`` itself scores
    nothing. A keyword search: paragraphs with every word first, then the closest."""

    first: object
    query: object

    def __str__(self) -> str:
        return f"TIERED(first: {self.first}; then: {self.query})"


class Nothing(Record):
    """Matches no paragraph."""

    def __str__(self) -> str:
        return "<nothing>"


NOTHING = Nothing()

Node = Term | Variants | Phrase | Not | And | Or | Quorum | AndMaybe | Tiered | Nothing


class Filters(Record):
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
