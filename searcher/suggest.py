"""“Did you mean”: a corrected query from the index's own vocabulary.

Two mistakes are common: a query typed without accents whose accented form would find
more, and a typo. Each query syllable gets candidates — its accented variants from the
syllable vocabulary (same folded form), or the known syllables one or two edits away
when it is not in the vocabulary at all — and the sequence whose syllables and adjacent
pairs are most frequent in the index wins. It is offered only if it finds more.
"""

from __future__ import annotations

import math

from searcher.errors import SearcherError

from searcher.engine import schema as s
from searcher.query import compile_query
from searcher.text import SYLLABLE_RE, canonical_syllable, fold_accents, has_accents, normalize_query, variant_term

MAX_CANDIDATES = 8
# A longer query is pasted text rather than typed words: no correction is offered (each
# syllable's candidates cost a vocabulary scan, which a 1,000-word query would pay 1,000 times).
MAX_SYLLABLES = 16


MAX_TYPO_LENGTH = 8  # no Vietnamese syllable is longer ("nghiêng" is 7)
MAX_EDIT_SEARCHES = 4  # distinct unknown syllables looked up by edit distance, per query


def _typo_like(canon: str) -> bool:
    """Whether a syllable not in the index may be a mistyped one: Vietnamese letters only,
    of a syllable's length. The edit-distance search costs a walk of the term dictionary
    (tenths of a second each) and would find nothing useful for anything else."""
    return len(canon) <= MAX_TYPO_LENGTH and canon.isalpha() and fold_accents(canon).isascii()


def _candidates(syllable: str, vocabulary, variants, accentless: bool, edits: bool = True) -> list[str]:
    canon = canonical_syllable(syllable).lower()
    known = vocabulary.doc_frequency(s.SYL, canon) > 0
    distances = (1, 2) if len(canon) >= 4 else (1,)  # two edits make anything of a short syllable
    if not known and not (edits and _typo_like(canon)):
        distances = ()
    if accentless:
        folded = fold_accents(canon)
        found = list(variants.get(folded, []))
        for distance in distances:
            if found:
                break
            near = vocabulary.terms_within(s.FOLD, folded, distance)
            for terms in vocabulary.variants_of(s.SYL, near).values():
                found.extend(terms)
    elif known:
        return [canon]
    else:
        found = []
        for distance in distances:
            found = [t for t in vocabulary.terms_within(s.SYL, canon, distance) if t != canon]
            if found:
                break
    if not found:
        return [canon]
    frequencies = vocabulary.doc_frequencies(s.SYL, found)  # one request on a cluster
    found.sort(key=lambda t: -frequencies[t])
    return found[:MAX_CANDIDATES]


def _best_sequence(columns: list[list[str]], vocabulary) -> list[str]:
    """Viterbi over candidate syllables: unigram and bigram document frequencies (asked
    all at once: one request each on a cluster)."""

    def pair(a: str, b: str) -> str:
        return variant_term(f"{fold_accents(a)}_{fold_accents(b)}", f"{a}_{b}")

    unigrams = vocabulary.doc_frequencies(s.SYL, [t for column in columns for t in column])
    bigrams = vocabulary.doc_frequencies(
        s.BIGRAM, [pair(a, b) for left, right in zip(columns, columns[1:]) for a in left for b in right]
    )

    def unigram(term: str) -> float:
        return math.log1p(unigrams[term])

    def bigram(a: str, b: str) -> float:
        return 2.0 * math.log1p(bigrams[pair(a, b)])

    best = {t: (unigram(t), [t]) for t in columns[0]}
    for column in columns[1:]:
        step = {}
        for term in column:
            score, path = max(
                ((prev_score + bigram(prev, term), prev_path) for prev, (prev_score, prev_path) in best.items()),
                key=lambda item: item[0],
            )
            step[term] = (score + unigram(term), path + [term])
        best = step
    return max(best.values(), key=lambda item: item[0])[1]


def suggest(text: str, snapshot, filters, total: int) -> str | None:
    """A better query than ``text`` (which found ``total`` paragraphs), or ``None``."""
    form = normalize_query(text)
    matches = list(SYLLABLE_RE.finditer(form))
    if not matches or len(matches) > MAX_SYLLABLES:
        return None
    accentless = not has_accents(form)
    syllables = [canonical_syllable(m.group(0)).lower() for m in matches]
    snapshot.doc_frequencies(s.SYL, syllables)  # asked together (a cluster caches them)
    variants = snapshot.variants_of(s.SYL, [fold_accents(t) for t in syllables]) if accentless else {}
    found: dict[str, list[str]] = {}
    columns = []
    for m in matches:
        syllable = m.group(0)
        if syllable not in found:
            found[syllable] = _candidates(syllable, snapshot, variants, accentless, edits=len(found) < MAX_EDIT_SEARCHES)
        columns.append(found[syllable])
    chosen = _best_sequence(columns, snapshot)
    pieces, last = [], 0
    for match, syllable in zip(matches, chosen):
        pieces.append(form[last : match.start()])
        pieces.append(syllable)
        last = match.end()
    pieces.append(form[last:])
    candidate = "".join(pieces)
    if candidate.lower() == form.lower():
        return None
    try:
        better = snapshot.count(compile_query(candidate, snapshot).query, filters)
    except SearcherError:
        return None
    # An accentless query is shown its accented form as long as that finds something.
    return candidate if better > total or (accentless and better > 0) else None


def restore_accents(text: str, snapshot) -> str | None:
    """``text``, typed without accents, with the accents the index's vocabulary makes most
    likely (the syllable and bigram frequencies of ``suggest``; no typo corrections), or
    None when there is nothing to restore (accents typed, or no syllable has a variant).

    For an embedding model, which reads accentless Vietnamese as another language."""
    form = normalize_query(text)
    matches = list(SYLLABLE_RE.finditer(form))
    if not matches or has_accents(form):
        return None
    syllables = [canonical_syllable(m.group(0)).lower() for m in matches]
    variants = snapshot.variants_of(s.SYL, [fold_accents(t) for t in syllables])
    found: dict[str, list[str]] = {}
    columns = []
    for m in matches:
        syllable = m.group(0)
        if syllable not in found:
            found[syllable] = _candidates(syllable, snapshot, variants, True, edits=False)
        columns.append(found[syllable])
    chosen = _best_sequence(columns, snapshot)
    pieces, last = [], 0
    for match, syllable in zip(matches, chosen):
        pieces.append(form[last : match.start()])
        original = match.group(0)
        pieces.append(syllable.capitalize() if original[:1].isupper() else syllable)
        last = match.end()
    pieces.append(form[last:])
    restored = "".join(pieces)
    return restored if has_accents(restored) else None
