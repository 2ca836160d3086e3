"""The user's query language → a compiled query (``searcher.engine.nodes``) over the
analyzed fields of ``searcher.engine.schema``.

Syntax: words (all should match, ranked), ``"a phrase"``, ``-word`` / ``-"phrase"`` to
exclude, ``OR`` between alternatives, parentheses, ``title:word`` / ``title:"…"``,
``article:ID``. Malformed input is read sensibly: an unclosed quote runs to the end, an
unmatched parenthesis is ignored. A query without accents matches any accents; a query
with accents ranks the paragraphs that carry exactly those accents first.

Plain words rank: a paragraph matches if it holds any of them, and scores by BM25 over
the query's syllables, words (the index's own vocabulary) and bigrams, in its text and
its article's title, each distinct term once, question words (ai, gì, bao nhiêu…) left
out. Unless the query is a question, the paragraphs that hold every query syllable (in
their text or their title, any accents) come first: a keyword search shows its full
matches first, then the closest ones. Quoted phrases, exclusions and ``title:``/
``article:`` restrict; a quoted phrase inside a question only ranks (it does not veto).
Plain-word runs split by phrases or fields count as one.
"""

from __future__ import annotations

import re

from searcher.engine import schema as s
from searcher.engine.nodes import NOTHING, And, AndMaybe, Not as NotNode, Or, Phrase as PhraseNode, Term, Tiered, Variants
from searcher.errors import SearcherError
from searcher.records import Record, factory
from searcher.text import (
    SYLLABLE_RE,
    VARIANT_SEP,
    canonical_syllable,
    fold_accents,
    has_accents,
    normalize_query,
    variant_term,
)

# The weight of each kind of evidence, fitted by cross-validation on the dev split of
# benchmarks/tasks.py (benchmarks/QUALITY.md); each field's BM25 k1 and b are in
# searcher.engine.schema.BM25_PARAMS.
W_SYLLABLE = 1.0  # a query syllable, with its accents (or, typed without, any accents)
W_ANY_ACCENT = 0.5  # an accented query syllable matched with any accents (added to the above)
W_WORD = 0.5  # a word of the query (the index's vocabulary)
W_BIGRAM = 1.0  # two adjacent query syllables
W_TITLE = 0.1  # a query syllable in the article's title
W_TITLE_BIGRAM = 0.5  # two adjacent query syllables in the title
MAX_WORD_SYLLABLES = 4

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


# -- dates (--since, --until) ---------------------------------------------------------

DATE_FORMS = "YYYY, YYYY-MM or YYYY-MM-DD"
_DATE_RE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$", re.ASCII)


def check_date(value: str | None, name: str = "date") -> str | None:
    """A date as the index compares them: ``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD``, a real
    year, month and day; ``SearcherError`` naming ``name`` otherwise. None stays None."""
    if value is None:
        return None
    match = _DATE_RE.match(value)
    if match:
        year, month, day = (int(g) if g else None for g in match.groups())
        if year >= 1 and (month is None or (1 <= month <= 12 and (day is None or 1 <= day <= _days_in(year, month)))):
            return value
    prefix = f"{name} " if name else ""
    raise SearcherError(f"{prefix}{_shown(value, 40)} is not a date: use {DATE_FORMS} (a real month and day)")


def _days_in(year: int, month: int) -> int:
    import calendar

    return calendar.monthrange(year, month)[1]


# -- syntax tree ----------------------------------------------------------------------


class Terms(Record):
    """Plain words typed side by side."""

    syllables: tuple[str, ...]


class Phrase(Record):
    syllables: tuple[str, ...]


class Field(Record):
    name: str  # "title" or "article"
    node: object


class Not(Record):
    node: object


class AllOf(Record):
    nodes: tuple


class AnyOf(Record):
    nodes: tuple


FIELDS = ("title", "article")
_TOKEN_RE = re.compile(
    r'\s+|(?P<lp>\()|(?P<rp>\))|(?P<neg>-)(?=[^\s-])|(?P<field>(?:%s)):(?=\S)|"(?P<phrase>[^"]*)"?|(?P<word>[^\s()"]+)'
    % "|".join(FIELDS)
)


# Bounds on what one query may hold, checked before anything walks the tree: every later
# step (compiling, evaluating, highlighting, suggesting) recurses over it or scores each
# term, so a query nested thousands deep or made of tens of thousands of words would
# otherwise end in a RecursionError or run for minutes. Lucene's default clause limit is
# 1,024; a pasted paragraph of a few hundred words stays well inside.
MAX_DEPTH = 50  # parentheses inside parentheses
MAX_TOKENS = 1000  # words, phrases, operators and parentheses
MAX_LENGTH = 20_000  # characters


def _shown(text: str, width: int = 60) -> str:
    """The query as one short line for a message."""
    line = " ".join(text.split())
    return repr(line if len(line) <= width else line[: width - 1] + "…")


def _lex(text: str) -> list[tuple[str, str]]:
    if len(text) > MAX_LENGTH:
        raise SearcherError(f"the query {_shown(text)} is too long ({len(text):,} characters; at most {MAX_LENGTH:,})")
    tokens = []
    depth = 0
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
        if kind == "lp":
            depth += 1
            if depth > MAX_DEPTH:
                raise SearcherError(
                    f"the query {_shown(text)} nests parentheses too deeply (more than {MAX_DEPTH} levels)"
                )
        elif kind == "rp":
            depth = max(0, depth - 1)  # an unmatched ")" is ignored
        if len(tokens) > MAX_TOKENS:
            raise SearcherError(f"the query {_shown(text)} is too long (more than {MAX_TOKENS:,} words and operators)")
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
        raise SearcherError(f"nothing to search for in the query {_shown(text)}")
    if _syllables_in(tree) > MAX_TOKENS:
        raise SearcherError(f"the query {_shown(text)} is too long (more than {MAX_TOKENS:,} words)")
    return tree


def _syllables_in(node) -> int:
    if isinstance(node, (Terms, Phrase)):
        return len(node.syllables)
    if isinstance(node, Field):
        return _syllables_in(node.node) if not isinstance(node.node, str) else 1
    if isinstance(node, Not):
        return _syllables_in(node.node)
    if isinstance(node, (AllOf, AnyOf)):
        return sum(_syllables_in(n) for n in node.nodes)
    return 0


def _has_positive(node) -> bool:
    if isinstance(node, Not):
        return False
    if isinstance(node, AllOf):
        return any(_has_positive(n) for n in node.nodes)
    if isinstance(node, AnyOf):
        return all(_has_positive(n) for n in node.nodes)
    return True


# -- compiling ------------------------------------------------------------------------


class Mark(Record):
    """What the highlighter looks for in a paragraph: query syllables side by side.

    A ``phrase`` is marked only where it occurs whole. ``words`` (a run of plain words) are
    marked where two or more of them stand side by side as in the query; a word of the
    run that stands so nowhere in the paragraph is marked wherever it occurs alone. A
    syllable typed with accents (``exact``) marks its exact form, or, in a paragraph
    that has no such form (it matched through another accent), its accent variants.
    ``joins`` are the positions i where syllables i and i+1 make one word (one span).
    """

    kind: str  # "phrase" or "words"
    canon: tuple[str, ...]
    folded: tuple[str, ...]
    exact: tuple[bool, ...]
    joins: frozenset[int] = frozenset()


class Compiled(Record, mutable=True):
    """A compiled query plus what the highlighter needs to mark its matches."""

    query: object
    accentless: bool
    marks: list[Mark] = factory(list)


class _Part(Record, mutable=True):
    """What one syntax node compiles to: the query it requires (None: nothing), the
    evidence that only ranks, and the condition of a full match (``None``: none to
    tier by: a question)."""

    required: object | None = None
    optional: list = factory(list)
    full: object | None = None


class Compiler:
    """Builds compiled queries; looks words up in the index's own vocabulary (a ``Snapshot``)."""

    def __init__(self, vocabulary, accentless: bool):
        self.vocabulary = vocabulary
        self.accentless = accentless
        self.compiled = Compiled(NOTHING, accentless)
        self.tiered = False  # some plain words rank "every word first"

    def _known(self, fieldname: str, term: str) -> bool:
        return self.vocabulary.doc_frequency(fieldname, term) > 0

    def forms(self, syllables):
        canon = [canonical_syllable(syl).lower() for syl in syllables]
        return canon, [fold_accents(c) for c in canon]

    def _mark(self, kind: str, raw, canon, folded, joins=()) -> None:
        exact = tuple(not self.accentless and has_accents(r) for r in raw)
        self.compiled.marks.append(Mark(kind, tuple(canon), tuple(folded), exact, frozenset(joins)))

    def _unit(self, fieldname: str, canon: str, folded: str, boost: float):
        """A keyed term (word or bigram): its exact term, or all its accent variants."""
        if self.accentless:
            return Variants(fieldname, folded, boost)
        return Term(fieldname, variant_term(folded, canon), boost)

    def _has_word(self, canon: str, folded: str) -> bool:
        if self.accentless:
            return self.vocabulary.has_prefix(s.WORD, folded + VARIANT_SEP)
        return self._known(s.WORD, variant_term(folded, canon))

    def _words(self, canon: list[str], folded: list[str]) -> list[tuple[int, int]]:
        """The query's words: at each syllable the longest run of up to
        ``MAX_WORD_SYLLABLES`` that is a word of the index (no segmentation model at query
        time: measured to rank as pyvi's own words do), else the syllable alone."""
        words, i = [], 0
        while i < len(canon):
            for n in range(min(MAX_WORD_SYLLABLES, len(canon) - i), 0, -1):
                if n == 1 or self._has_word("_".join(canon[i : i + n]), "_".join(folded[i : i + n])):
                    words.append((i, i + n))
                    i += n
                    break
        return words

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

    def is_question(self, syllables) -> bool:
        canon, folded = self.forms(syllables)
        return bool(self._question_words(folded if self.accentless else canon))

    def plain_words(self, runs) -> _Part:
        """Plain words, ranked (``searcher.query`` docstring): each distinct syllable,
        word and bigram of the query scores once, question words in none; unless the
        query is a question, the paragraphs holding every syllable (in their text or their
        article's title, any accents) form the first tier."""
        optional: list = []
        syllables: list[str] = []
        asked_all: set[int] = set()
        for run in runs:
            raw = list(run.syllables)
            canon, folded = self.forms(raw)
            forms = folded if self.accentless else canon
            asked = self._question_words(forms)
            keep = [i for i in range(len(raw)) if i not in asked] or list(range(len(raw)))
            words = self._words(canon, folded)
            joins = {k for a, b in words for k in range(a, b - 1)}
            self._mark("words", raw, canon, folded, joins)
            # syllables
            for i in keep:
                if self.accentless:
                    optional.append(Term(s.FOLD, folded[i], W_SYLLABLE))
                else:
                    optional.append(Term(s.SYL, canon[i], W_SYLLABLE))
                    optional.append(Term(s.FOLD, folded[i], W_ANY_ACCENT))
                optional.append(Term(s.TITLE_FOLD if self.accentless else s.TITLE_SYL, forms[i], W_TITLE))
            # words (a word made of question words only is left out)
            for a, b in words:
                if all(k in asked for k in range(a, b)):
                    continue
                optional.append(self._unit(s.WORD, "_".join(canon[a:b]), "_".join(folded[a:b]), W_WORD))
            # bigrams, but those inside question words
            for i in range(1, len(raw)):
                if i - 1 in asked and i in asked:
                    continue
                pair, fpair = f"{canon[i - 1]}_{canon[i]}", f"{folded[i - 1]}_{folded[i]}"
                optional.append(self._unit(s.BIGRAM, pair, fpair, W_BIGRAM))
                optional.append(self._unit(s.TITLE_BIGRAM, pair, fpair, W_TITLE_BIGRAM))
            syllables.extend(raw)
            asked_all.update(len(syllables) - len(raw) + i for i in asked)
        optional = list(dict.fromkeys(optional))  # each distinct term once
        if asked_all:
            return _Part(None, optional, None)
        canon, folded = self.forms(syllables)
        every = [Or((Term(s.FOLD, f), Term(s.TITLE_FOLD, f))) for f in dict.fromkeys(folded)]
        self.tiered = True
        return _Part(None, optional, every[0] if len(every) == 1 else And(tuple(every)))

    def title_terms(self, syllables):
        """``title:word``: every syllable in the title (a filter that also scores)."""
        canon, folded = self.forms(syllables)
        field_name = s.TITLE_FOLD if self.accentless else s.TITLE_SYL
        forms = folded if self.accentless else canon
        terms = [Term(field_name, f) for f in dict.fromkeys(forms)]
        return terms[0] if len(terms) == 1 else And(tuple(terms))

    def phrase(self, syllables, title=False):
        canon, folded = self.forms(syllables)
        fields = (s.TITLE_SYL, s.TITLE_FOLD) if title else (s.SYL, s.FOLD)
        if not title:
            self._mark("phrase", syllables, canon, folded, range(len(canon) - 1))
        if len(canon) == 1:
            if self.accentless:
                return Term(fields[1], folded[0])
            return Or((Term(fields[0], canon[0], W_SYLLABLE), Term(fields[1], folded[0], W_ANY_ACCENT)))
        if self.accentless:
            return PhraseNode(fields[1], tuple(folded))
        return Or((PhraseNode(fields[0], tuple(canon), W_SYLLABLE), PhraseNode(fields[1], tuple(folded), W_ANY_ACCENT)))

    def build(self, node, negated=False) -> _Part:
        if isinstance(node, Terms):
            if negated:  # -word, -"a phrase": what to leave out
                query = self.phrase(node.syllables) if len(node.syllables) > 1 else self.phrase(node.syllables[:1])
                return _Part(query, [], query)
            return self.plain_words([node])
        if isinstance(node, Phrase):
            query = self.phrase(node.syllables)
            return _Part(query, [], query)
        if isinstance(node, Field):
            if node.name == "article":
                query = Term(s.ARTICLE, node.node)
            elif isinstance(node.node, Phrase):
                query = self.phrase(node.node.syllables, title=True)
            else:
                query = self.title_terms(node.node.syllables)
            return _Part(query, [], query)
        if isinstance(node, Not):
            marks = len(self.compiled.marks)
            inner = self.build(node.node, negated=True)
            del self.compiled.marks[marks:]  # excluded words are not highlighted
            query = NotNode(_whole(inner))
            return _Part(query, [], query)
        if isinstance(node, AllOf):
            return self._all_of(node, negated)
        if isinstance(node, AnyOf):
            parts = [self.build(child, negated) for child in node.nodes]
            query = Or(tuple(_whole(p) for p in parts))
            full = None if any(p.full is None for p in parts) else Or(tuple(p.full for p in parts))
            return _Part(query, [], full)
        raise TypeError(node)

    def _all_of(self, node: AllOf, negated: bool) -> _Part:
        runs = [child for child in node.nodes if isinstance(child, Terms)]
        rest = [child for child in node.nodes if not (isinstance(child, Terms) and not negated)]
        parts: list[_Part] = []
        if runs and not negated:
            # A question's quoted text ranks with its other words: it does not veto.
            if self.is_question([syl for run in runs for syl in run.syllables]):
                quoted = [child for child in rest if isinstance(child, Phrase)]
                rest = [child for child in rest if not isinstance(child, Phrase)]
                plain = self.plain_words(runs + [Terms(q.syllables) for q in quoted])
                plain.optional.extend(self.phrase(q.syllables) for q in quoted if len(q.syllables) > 1)
                parts.append(plain)
            else:
                parts.append(self.plain_words(runs))
        parts.extend(self.build(child, negated) for child in rest)
        required = [p.required for p in parts if p.required is not None]
        optional = [q for p in parts for q in p.optional]
        fulls = [p.full for p in parts]
        full = None if any(f is None for f in fulls) else (fulls[0] if len(fulls) == 1 else And(tuple(fulls)))
        if not required:
            return _Part(None, optional, full)
        if optional and all(isinstance(q, NotNode) for q in required):
            # Only exclusions beside the words: a paragraph must still hold one of them.
            return _Part(And((Or(tuple(optional)), *required)), [], full)
        return _Part(required[0] if len(required) == 1 else And(tuple(required)), optional, full)


def _whole(part: _Part):
    """A part as one query: what it requires, its evidence ranking; or the evidence alone
    (any of it matches)."""
    evidence = Or(tuple(part.optional)) if part.optional else None
    if part.required is None:
        return evidence if evidence is not None else NOTHING
    return AndMaybe(part.required, evidence) if evidence is not None else part.required


class _Lookups:
    """A vocabulary that knows no term and records what is asked of it: compiling against
    it first lists every lookup the query can make (a word not found, the compiler tries
    the shorter ones), which a cluster answers in one request."""

    def __init__(self):
        self.asked: list[tuple[str, str, str]] = []

    def doc_frequency(self, fieldname: str, term: str) -> int:
        self.asked.append(("df", fieldname, term))
        return 0

    def has_prefix(self, fieldname: str, prefix: str) -> bool:
        self.asked.append(("has_prefix", fieldname, prefix))
        return False


def compile_query(text: str, vocabulary) -> Compiled:
    """Parse ``text`` and compile it against the index's vocabulary (a ``Snapshot``)."""
    tree = parse(text)
    accentless = not has_accents(normalize_query(text))
    if getattr(vocabulary, "batches_lookups", False):
        lookups = _Lookups()
        Compiler(lookups, accentless).build(tree)
        vocabulary.prefetch(lookups.asked)
    compiler = Compiler(vocabulary, accentless)
    part = compiler.build(tree)
    query = _whole(part)
    if compiler.tiered and part.full is not None:
        query = Tiered(part.full, query)
    compiler.compiled.query = query
    return compiler.compiled


class _Constraints:
    """The part of a query that must hold of every paragraph shown, whatever ranked it:
    phrases, exclusions, ``title:`` and ``article:``. Plain words only rank (a paragraph
    found by meaning may share none of them), and so does a phrase inside a question."""

    def __init__(self, compiler: Compiler):
        self.compiler = compiler

    def of(self, node, question: bool = False):
        """A compiled query every allowed paragraph matches, or None (any paragraph)."""
        c = self.compiler
        if isinstance(node, Terms):
            return None
        if isinstance(node, Phrase):
            return None if question else c.phrase(node.syllables)
        if isinstance(node, (Field, Not)):
            return c.build(node).required
        if isinstance(node, AllOf):
            runs = [n for n in node.nodes if isinstance(n, Terms)]
            question = question or (bool(runs) and c.is_question([syl for r in runs for syl in r.syllables]))
            found = [q for q in (self.of(n, question) for n in node.nodes) if q is not None]
            if not found:
                return None
            return found[0] if len(found) == 1 else And(tuple(found))
        if isinstance(node, AnyOf):
            options = [self.of(n, question) for n in node.nodes]
            return None if any(o is None for o in options) else Or(tuple(options))
        raise TypeError(node)


def constraint_query(text: str, vocabulary):
    """What every hit of ``text`` must match however it was found (``_Constraints``): a
    compiled query, or None when the query restricts nothing (plain words only). A lone
    exclusion is a ``Not`` node: combine it with a positive query before evaluating it."""
    tree = parse(text)
    accentless = not has_accents(normalize_query(text))
    if getattr(vocabulary, "batches_lookups", False):
        lookups = _Lookups()
        _Constraints(Compiler(lookups, accentless)).of(tree)
        vocabulary.prefetch(lookups.asked)
    return _Constraints(Compiler(vocabulary, accentless)).of(tree)


def embedding_text(text: str) -> str:
    """What a query means, for an embedding model: its words and phrases as typed, without
    the syntax, exclusions or ``article:``."""
    tree = parse(text)
    if isinstance(tree, Terms) or (isinstance(tree, AllOf) and all(isinstance(n, Terms) for n in tree.nodes)):
        return " ".join(normalize_query(text).split())  # plain words: as typed, punctuation and all
    words: list[str] = []

    def walk(node) -> None:
        if isinstance(node, (Terms, Phrase)):
            words.extend(node.syllables)
        elif isinstance(node, Field):
            if node.name == "title":
                walk(node.node)
        elif isinstance(node, (AllOf, AnyOf)):
            for n in node.nodes:
                walk(n)

    walk(tree)
    return " ".join(words)


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
