"""The user's query language → a compiled query (``searcher.engine.nodes``) over the
analyzed fields of ``searcher.engine.schema``.

Syntax: words (all should match, ranked), ``"a phrase"``, ``-word`` / ``-"phrase"`` to
exclude, ``OR`` between alternatives, parentheses, ``title:word`` / ``title:"…"``,
``article:ID``. Malformed input is read sensibly: an unclosed quote runs to the end, an
unmatched parenthesis is ignored. A query without accents matches any accents; a query
with accents ranks the paragraphs that carry exactly those accents first.

Plain words: a query of up to ``SHORT_QUERY`` syllables with no question word needs
every one (a keyword search). A question or a longer one (a pasted sentence) needs ``QUORUM`` of its distinct
syllables, at least ``QUORUM_MIN``, the question words (ai, gì, bao nhiêu…) not counted;
the rest only rank. Plain-word runs split by phrases or fields count as one.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from searcher.engine import schema as s
from searcher.engine.nodes import NOTHING, And, AndMaybe, Not as NotNode, Or, Phrase as PhraseNode, Quorum, Term, Variants
from searcher.errors import SearcherError
from searcher.text import (
    SYLLABLE_RE,
    VARIANT_SEP,
    canonical_syllable,
    fold_accents,
    has_accents,
    normalize_query,
    variant_term,
)

# Evidence weights (see ARCHITECTURE.md for how they were chosen).
W_SYLLABLE = 1.0
W_FOLDED = 0.35  # an accent-folded match of an accented query syllable
W_WORD = 0.6
W_BIGRAM = 0.6
W_TITLE = 0.3
MAX_WORD_SYLLABLES = 4

# Plain words (benchmarks/QUALITY.md): up to SHORT_QUERY distinct syllables, without a
# question word, all must match; questions and longer runs need ceil(QUORUM * known syllables), at least QUORUM_MIN.
SHORT_QUERY = 5
QUORUM = 0.3
QUORUM_MIN = 2

# Interrogatives: in a question they say what is asked, not what the answer paragraph
# contains, so they do not count toward the quorum (they still rank, through words and
# bigrams). Matched on the accented form; an accentless query leaves out only the
# two-syllable ones, since "may", "dau", "nao", "gi" fold together with content words
# (máy, đầu, não…).
QUESTION_WORDS = frozenset(
    {
        ("ai",), ("gì",), ("nào",), ("đâu",), ("mấy",),
        ("bao", "nhiêu"), ("bao", "giờ"), ("bao", "lâu"), ("bao", "xa"), ("thế", "nào"), ("làm", "sao"),
        ("tại", "sao"), ("vì", "sao"),
    }
)
_FOLDED_QUESTION_WORDS = frozenset(tuple(fold_accents(s) for s in w) for w in QUESTION_WORDS if len(w) > 1)
# In an accentless query of more than ACCENTLESS_KEYWORDS syllables, the one-syllable
# question words count too: "ai", "gi", "nao" there are far more often questions than
# "ải", "gỉ", "não". Shorter accentless queries (so trach nhiem) stay keywords.
ACCENTLESS_KEYWORDS = 3
_FOLDED_SINGLE_QUESTION_WORDS = frozenset(tuple(fold_accents(s) for s in w) for w in QUESTION_WORDS if len(w) == 1)


# -- syntax tree ----------------------------------------------------------------------


@dataclass(frozen=True)
class Terms:
    """Plain words typed side by side: every syllable must match."""

    syllables: tuple[str, ...]


@dataclass(frozen=True)
class Phrase:
    syllables: tuple[str, ...]


@dataclass(frozen=True)
class Field:
    name: str  # "title" or "article"
    node: object


@dataclass(frozen=True)
class Not:
    node: object


@dataclass(frozen=True)
class AllOf:
    nodes: tuple


@dataclass(frozen=True)
class AnyOf:
    nodes: tuple


FIELDS = ("title", "article")
_TOKEN_RE = re.compile(
    r'\s+|(?P<lp>\()|(?P<rp>\))|(?P<neg>-)(?=[^\s-])|(?P<field>(?:%s)):(?=\S)|"(?P<phrase>[^"]*)"?|(?P<word>[^\s()"]+)'
    % "|".join(FIELDS)
)


def _lex(text: str) -> list[tuple[str, str]]:
    tokens = []
    for m in _TOKEN_RE.finditer(text):
        kind = m.lastgroup
        if kind is None:
            continue
        if kind == "word" and m.group("word") == "OR":
            tokens.append(("or", "OR"))
        elif kind in ("lp", "rp", "neg"):
            tokens.append((kind, m.group(0)))
        else:
            tokens.append((kind, m.group(kind)))
    return tokens


def syllables_of(text: str) -> tuple[str, ...]:
    return tuple(m.group(0) for m in SYLLABLE_RE.finditer(normalize_query(text)))


class _Parser:
    def __init__(self, tokens):
        self.tokens = tokens
        self.i = 0

    def peek(self):
        return self.tokens[self.i][0] if self.i < len(self.tokens) else None

    def take(self):
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def parse(self):
        nodes = []
        while self.peek() is not None:
            if self.peek() == "rp":  # an unmatched ")" is ignored
                self.take()
                continue
            node = self.or_expr()
            if node is not None:
                nodes.append(node)
        return _all(nodes)

    def or_expr(self):
        options = [self.and_expr()]
        while self.peek() == "or":
            self.take()
            options.append(self.and_expr())
        options = [o for o in options if o is not None]
        if not options:
            return None
        return options[0] if len(options) == 1 else AnyOf(tuple(options))

    def and_expr(self):
        nodes = []
        run: list[str] = []
        while self.peek() not in (None, "or", "rp"):
            if self.peek() == "word":
                run.extend(syllables_of(self.take()[1]))
                continue
            if run:
                nodes.append(Terms(tuple(run)))
                run = []
            node = self.unary()
            if node is not None:
                nodes.append(node)
        if run:
            nodes.append(Terms(tuple(run)))
        return _all(nodes)

    def unary(self):
        kind = self.peek()
        if kind == "neg":
            self.take()
            if self.peek() in (None, "or", "rp"):
                return None
            node = self.atom()
            return Not(node) if node is not None else None
        return self.atom()

    def atom(self):
        kind, value = self.take()
        if kind == "lp":
            node = self.or_expr()
            if self.peek() == "rp":
                self.take()
            return node
        if kind == "phrase":
            syllables = syllables_of(value)
            return Phrase(syllables) if syllables else None
        if kind == "word":
            syllables = syllables_of(value)
            return Terms(syllables) if syllables else None
        if kind == "field":
            if self.peek() in (None, "or", "rp", "lp", "neg", "field"):
                return None
            inner_kind, inner = self.take()
            if value == "article":
                return Field("article", inner.strip())
            syllables = syllables_of(inner)
            if not syllables:
                return None
            return Field("title", Phrase(syllables) if inner_kind == "phrase" else Terms(syllables))
        return None  # a stray ")" or "OR" where an operand belongs


def _all(nodes):
    nodes = [n for n in nodes if n is not None]
    if not nodes:
        return None
    return nodes[0] if len(nodes) == 1 else AllOf(tuple(nodes))


def parse(text: str):
    """Parse a query string into a syntax tree; ``SearcherError`` if nothing is searchable."""
    tree = _Parser(_lex(text)).parse()
    if tree is None or not _has_positive(tree):
        raise SearcherError(f"nothing to search for in the query {text!r}")
    return tree


def _has_positive(node) -> bool:
    if isinstance(node, Not):
        return False
    if isinstance(node, AllOf):
        return any(_has_positive(n) for n in node.nodes)
    if isinstance(node, AnyOf):
        return all(_has_positive(n) for n in node.nodes)
    return True


# -- compiling ------------------------------------------------------------------------


@dataclass
class Compiled:
    """A compiled query plus what the highlighter needs to mark its matches."""

    query: object
    accentless: bool
    exact: set[str] = field(default_factory=set)  # canonical syllables to highlight
    folded: set[str] = field(default_factory=set)  # folded syllables to highlight
    joins: set[tuple[str, str]] = field(default_factory=set)  # adjacent pairs inside one word


class Compiler:
    """Builds compiled queries; looks words up in the index's own vocabulary (a ``Snapshot``)."""

    def __init__(self, vocabulary, accentless: bool):
        self.vocabulary = vocabulary
        self.accentless = accentless
        self.compiled = Compiled(NOTHING, accentless)

    def _known(self, fieldname: str, term: str) -> bool:
        return self.vocabulary.doc_frequency(fieldname, term) > 0

    def forms(self, syllables):
        canon = [canonical_syllable(syl).lower() for syl in syllables]
        return canon, [fold_accents(c) for c in canon]

    def _syllable(self, raw: str, canon: str, folded: str, fields=(s.SYL, s.FOLD)):
        if self.accentless or not has_accents(raw):
            self.compiled.folded.add(folded)
        else:
            self.compiled.exact.add(canon)
        if self.accentless:
            return Term(fields[1], folded)
        return Or((Term(fields[0], canon, W_SYLLABLE), Term(fields[1], folded, W_FOLDED)))

    def _has_variants(self, fieldname: str, folded: str) -> bool:
        return self.vocabulary.has_prefix(fieldname, folded + VARIANT_SEP)

    def _unit(self, fieldname: str, canon: str, folded: str, boost: float):
        """A word or bigram: its exact term, or all its accent variants when accentless."""
        if self.accentless:
            return Variants(fieldname, folded, boost)
        return Term(fieldname, variant_term(folded, canon), boost)

    def _words(self, canon, folded) -> list:
        """Optional evidence: pyvi words found in the index vocabulary, and bigrams."""
        forms = folded if self.accentless else canon
        extra: list = []
        for i in range(len(forms)):
            for n in range(MAX_WORD_SYLLABLES, 0, -1):
                if i + n > len(forms):
                    continue
                word, fword = "_".join(canon[i : i + n]), "_".join(folded[i : i + n])
                if self.accentless:
                    known = self._has_variants(s.WORD, fword)
                else:
                    known = self._known(s.WORD, variant_term(fword, word))
                if known:
                    extra.append(self._unit(s.WORD, word, fword, W_WORD))
                    for k in range(i, i + n - 1):
                        self.compiled.joins.add((forms[k], forms[k + 1]))
        for i in range(1, len(forms)):
            bigram, fbigram = f"{canon[i - 1]}_{canon[i]}", f"{folded[i - 1]}_{folded[i]}"
            extra.append(self._unit(s.BIGRAM, bigram, fbigram, W_BIGRAM))
        return extra

    def terms(self, syllables, title=False) -> tuple[object, list]:
        canon, folded = self.forms(syllables)
        fields = (s.TITLE_SYL, s.TITLE_FOLD) if title else (s.SYL, s.FOLD)
        required = [self._syllable(r, c, f, fields) for r, c, f in zip(syllables, canon, folded)]
        optional = [] if title else self._words(canon, folded)
        if not title:
            tfield = s.TITLE_FOLD if self.accentless else s.TITLE_SYL
            tforms = folded if self.accentless else canon
            optional.extend(Term(tfield, t, W_TITLE) for t in tforms)
        return (required[0] if len(required) == 1 else And(tuple(required))), optional

    def _question_words(self, forms) -> set[int]:
        """Positions in ``forms`` (canonical, or folded when accentless) of question words."""
        words = _FOLDED_QUESTION_WORDS if self.accentless else QUESTION_WORDS
        if self.accentless and len(forms) > ACCENTLESS_KEYWORDS:
            words = words | _FOLDED_SINGLE_QUESTION_WORDS
        found: set[int] = set()
        for i, form in enumerate(forms):
            if (form,) in words:
                found.add(i)
            if i + 1 < len(forms) and (form, forms[i + 1]) in words:
                found.update((i, i + 1))
        return found

    def plain_words(self, runs) -> tuple[object, list]:
        """The plain-word runs of one conjunction: AND when short, else a quorum."""
        clauses: list = []
        optional: list = []
        syllables: list[str] = []
        for run in runs:
            required, extra = self.terms(run.syllables)
            clauses.extend(required.children if isinstance(required, And) else [required])
            optional.extend(extra)
            syllables.extend(run.syllables)
        canon, folded = self.forms(syllables)
        asked = self._question_words(folded if self.accentless else canon)
        # Keywords (short, no question word) must all match; a question or a long pasted
        # sentence needs only a quorum of its syllables.
        if len(set(canon)) <= SHORT_QUERY and not asked:
            return (clauses[0] if len(clauses) == 1 else And(tuple(clauses))), optional
        # One clause per distinct syllable, question words left to rank only.
        kept: dict[str, object] = {}
        for i, clause in enumerate(clauses):
            if i not in asked:
                kept.setdefault(canon[i], clause)
        if not kept:
            kept = {c: q for c, q in zip(canon, clauses)}
        known = sum(1 for c in kept if self._known(s.FOLD, fold_accents(c)))
        minimum = max(QUORUM_MIN, math.ceil(QUORUM * known - 1e-9))
        children = tuple(kept.values())
        return Quorum(children, min(minimum, max(known, 1), len(children))), optional

    def phrase(self, syllables, title=False):
        canon, folded = self.forms(syllables)
        fields = (s.TITLE_SYL, s.TITLE_FOLD) if title else (s.SYL, s.FOLD)
        for raw, c, f in zip(syllables, canon, folded):
            self._syllable(raw, c, f)
        pairs = folded if self.accentless or not has_accents("".join(syllables)) else canon
        self.compiled.joins.update(zip(pairs, pairs[1:]))
        if len(canon) == 1:
            return self._syllable(syllables[0], canon[0], folded[0], fields)
        folded_phrase = PhraseNode(fields[1], tuple(folded))
        if self.accentless:
            return folded_phrase
        return Or((PhraseNode(fields[0], tuple(canon), W_SYLLABLE), PhraseNode(fields[1], tuple(folded), W_FOLDED)))

    def build(self, node, negated=False) -> tuple[object, list]:
        """(required query, optional ranking evidence) for one syntax node."""
        if isinstance(node, Terms):
            if negated:
                return self.phrase(node.syllables) if len(node.syllables) > 1 else self.terms(node.syllables)[0], []
            return self.plain_words([node])
        if isinstance(node, Phrase):
            return self.phrase(node.syllables), []
        if isinstance(node, Field):
            if node.name == "article":
                return Term(s.ARTICLE, node.node), []
            inner = node.node
            if isinstance(inner, Phrase):
                return self.phrase(inner.syllables, title=True), []
            return self.terms(inner.syllables, title=True)[0], []
        if isinstance(node, Not):
            saved = (set(self.compiled.exact), set(self.compiled.folded), set(self.compiled.joins))
            inner, _ = self.build(node.node, negated=True)
            # Excluded words are not highlighted.
            self.compiled.exact, self.compiled.folded, self.compiled.joins = saved
            return NotNode(inner), []
        if isinstance(node, AllOf):
            required, optional = [], []
            runs = [child for child in node.nodes if isinstance(child, Terms)]
            if runs and not negated:
                q, extra = self.plain_words(runs)
                required.append(q)
                optional.extend(extra)
            for child in node.nodes:
                if isinstance(child, Terms) and not negated:
                    continue
                q, extra = self.build(child, negated)
                required.append(q)
                optional.extend(extra)
            return And(tuple(required)), optional
        if isinstance(node, AnyOf):
            options, optional = [], []
            for child in node.nodes:
                q, extra = self.build(child, negated)
                options.append(q)
                optional.extend(extra)
            return Or(tuple(options)), optional
        raise TypeError(node)


class _Lookups:
    """A vocabulary that knows every term and records what is asked of it: compiling
    against it first lists a query's lookups, which a cluster answers in one request."""

    def __init__(self):
        self.asked: list[tuple[str, str, str]] = []

    def doc_frequency(self, fieldname: str, term: str) -> int:
        self.asked.append(("df", fieldname, term))
        return 1

    def has_prefix(self, fieldname: str, prefix: str) -> bool:
        self.asked.append(("has_prefix", fieldname, prefix))
        return True


def compile_query(text: str, vocabulary) -> Compiled:
    """Parse ``text`` and compile it against the index's vocabulary (a ``Snapshot``)."""
    tree = parse(text)
    accentless = not has_accents(normalize_query(text))
    if getattr(vocabulary, "batches_lookups", False):
        lookups = _Lookups()
        Compiler(lookups, accentless).build(tree)
        vocabulary.prefetch(lookups.asked)
    compiler = Compiler(vocabulary, accentless)
    required, optional = compiler.build(tree)
    compiler.compiled.query = AndMaybe(required, Or(tuple(optional))) if optional else required
    return compiler.compiled


def describe(node) -> str:
    """The syntax tree in a readable form, for ``--explain``."""
    if isinstance(node, Terms):
        return "words(" + " ".join(node.syllables) + ")"
    if isinstance(node, Phrase):
        return 'phrase("' + " ".join(node.syllables) + '")'
    if isinstance(node, Field):
        inner = node.node if isinstance(node.node, str) else describe(node.node)
        return f"{node.name}:{inner}"
    if isinstance(node, Not):
        return f"NOT {describe(node.node)}"
    if isinstance(node, AllOf):
        return "ALL(" + ", ".join(describe(n) for n in node.nodes) + ")"
    if isinstance(node, AnyOf):
        return "ANY(" + " | ".join(describe(n) for n in node.nodes) + ")"
    return repr(node)


def explain(text: str, vocabulary) -> str:
    """What ``text`` means: its syntax tree, accent mode and the compiled query."""
    compiled = compile_query(text, vocabulary)
    return "\n".join(
        [
            f"query:    {text}",
            f"parsed:   {describe(parse(text))}",
            f"accents:  {'none typed: any accents match' if compiled.accentless else 'exact accents rank first'}",
            f"compiled: {compiled.query}",
        ]
    )
