"""Semantic ranking quality on Vietnamese XQuAD (240 paragraphs, 1,190 questions): e5 alone,
a textbook BM25, and their fusions (linear on min-max normalized scores, RRF), with
accents stripped from the questions, and float16 against float32 vectors.

    python benchmarks/semantic_quality.py

The vectors are cached in benchmarks/data/semantic-xquad/ (embedding them takes a few
minutes on two cores). BM25 here is the textbook one (k1 1.2, b 0.75, Lucene IDF) over
lowercased syllables + bigrams + pyvi words, one bag, so that the fusion is measured
against a fixed lexical baseline, not against searcher's engine of the day. Fusion
weights are chosen by 5-fold cross-validation over the articles (no article's questions
on both sides). Needs the extra: pip install -e '.[semantic]'.
"""

from __future__ import annotations

import json
import math
import sys
import unicodedata
from collections import Counter
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(BENCH))

import numpy as np  # noqa: E402

from _common import DATA, shared_dir  # noqa: E402
from searcher.analysis import analyze  # noqa: E402
from searcher.semantic import fusion  # noqa: E402
from searcher.semantic.embedder import passage_text  # noqa: E402
from searcher.text import fold_accents  # noqa: E402

CACHE = DATA / "semantic-xquad"
WEIGHTS = [round(0.2 + 0.05 * i, 2) for i in range(16)]  # of BM25: 0.2 … 0.95
POOLS = [(10, 10), (20, 20), (50, 20), (100, 20), (100, 100), (240, 240), (100, 0)]


def load():
    root = shared_dir() / "data" / "xquad_vi"
    passages = [json.loads(line) for line in open(root / "passages.jsonl", encoding="utf-8")]
    queries = [json.loads(line) for line in open(root / "queries.jsonl", encoding="utf-8")]
    index = {p["id"]: i for i, p in enumerate(passages)}
    rel = {}
    for line in open(root / "qrels.tsv", encoding="utf-8"):
        qid, pid, _ = line.rstrip("\n").split("\t")
        rel[qid] = index[pid]
    return passages, queries, np.array([rel[q["id"]] for q in queries])


def strip_accents(text: str) -> str:
    """Every diacritic removed, đ → d, case kept."""
    text = text.replace("đ", "d").replace("Đ", "D")
    return unicodedata.normalize("NFC", "".join(ch for ch in unicodedata.normalize("NFD", text)
                                               if not unicodedata.combining(ch)))


def tokens(text: str, folded: bool = False) -> list[str]:
    a = analyze(text)
    form = (lambda u: u.folded) if folded else (lambda u: u.canon)
    return ([f"s:{form(u)}" for u in a.syllables] + [f"b:{form(u)}" for u in a.bigrams]
            + [f"w:{form(u)}" for u in a.words])


def bm25_matrix(docs: list[list[str]], queries: list[list[str]], k1: float = 1.2, b: float = 0.75) -> np.ndarray:
    tfs = [Counter(d) for d in docs]
    lengths = np.array([len(d) for d in docs], float)
    norm = k1 * (1 - b + b * lengths / lengths.mean())
    df = Counter(t for tf in tfs for t in tf)
    n = len(docs)
    postings: dict[str, list[tuple[int, int]]] = {}
    for i, tf in enumerate(tfs):
        for t, c in tf.items():
            postings.setdefault(t, []).append((i, c))
    out = np.zeros((len(queries), n))
    for qi, q in enumerate(queries):
        for t in set(q):
            if t in postings:
                ids, tf = map(np.array, zip(*postings[t]))
                idf = math.log(1 + (n - df[t] + 0.5) / (df[t] + 0.5))
                out[qi, ids] += idf * tf * (k1 + 1) / (tf + norm[ids])
    return out


def embeddings(passages, queries):
    CACHE.mkdir(parents=True, exist_ok=True)
    wanted = {
        "passages": lambda e: e.embed_passages([passage_text(p["title"], p["text"]) for p in passages]),
        "passages-untitled": lambda e: e.embed_passages([p["text"] for p in passages]),
        "queries": lambda e: np.stack([e.embed_query(q["text"]) for q in queries]),
        "queries-stripped": lambda e: np.stack([e.embed_query(strip_accents(q["text"])) for q in queries]),
    }
    out, embedder = {}, None
    for name, make in wanted.items():
        path = CACHE / f"{name}.npy"
        if not path.exists():
            if embedder is None:
                from searcher.semantic.embedder import load_embedder

                embedder = load_embedder()
            print(f"# embedding {name} …", file=sys.stderr, flush=True)
            np.save(path, make(embedder))
        out[name] = np.load(path)
    return out


# -- metrics and fusions on whole score matrices (queries × passages) -----------------------


def ranks(scores: np.ndarray) -> np.ndarray:
    order = np.argsort(-scores, axis=1, kind="stable")
    out = np.empty_like(order)
    out[np.arange(len(scores))[:, None], order] = np.arange(scores.shape[1])[None, :]
    return out


def reciprocal_ranks(scores: np.ndarray, gold: np.ndarray) -> np.ndarray:
    top = np.argsort(-scores, axis=1, kind="stable")[:, :10]
    hit = top == gold[:, None]
    return np.where(hit.any(1), 1.0 / (hit.argmax(1) + 1), 0.0)


def _minmax(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    low = np.where(mask, x, np.inf).min(1, keepdims=True)
    high = np.where(mask, x, -np.inf).max(1, keepdims=True)
    span = high - low
    return np.where(mask, np.where(span > 0, (x - low) / np.where(span > 0, span, 1), 1.0), 0.0)


def linear(lex, sem, weight, k_lex, k_sem):
    """As fusion.linear: BM25 min-max over its top k_lex (0 outside), cosine min-max over all candidates."""
    lex_c = (ranks(lex) < k_lex) & (lex > 0)
    cand = lex_c | (ranks(sem) < k_sem)
    fused = weight * _minmax(lex, lex_c) + (1 - weight) * _minmax(sem, cand)
    return np.where(cand, fused, -np.inf)


def rrf(lex, sem, k_lex, k_sem, k=fusion.RRF_K):
    rl, rs = ranks(lex), ranks(sem)
    lex_c, sem_c = (rl < k_lex) & (lex > 0), rs < k_sem
    fused = np.where(lex_c, 1 / (k + rl + 1), 0) + np.where(sem_c, 1 / (k + rs + 1), 0)
    return np.where(lex_c | sem_c, fused, -np.inf)


def cross_validated(lex, sem, gold, folds, k_lex, k_sem):
    """Test MRR@10 with the weight chosen on the other folds, and the weights chosen."""
    rr = {w: reciprocal_ranks(linear(lex, sem, w, k_lex, k_sem), gold) for w in WEIGHTS}
    test = np.zeros(len(gold))
    chosen = []
    for f in sorted(set(folds)):
        train = folds != f
        best = max(WEIGHTS, key=lambda w: (rr[w][train].mean(), -abs(w - fusion.DEFAULT_WEIGHT)))
        chosen.append(best)
        test[~train] = rr[best][~train]
    return test.mean(), chosen, {w: rr[w].mean() for w in WEIGHTS}


def package_fusion_mrr(lex, sem, gold, weight, k_lex, k_sem) -> float:
    """The same fusion through searcher.semantic.fusion.linear, one query at a time."""
    rr = []
    for i in range(len(gold)):
        top_lex = [j for j in np.argsort(-lex[i], kind="stable")[:k_lex] if lex[i, j] > 0]
        near = list(np.argsort(-sem[i], kind="stable")[:k_sem])
        cosines = {int(j): float(sem[i, j]) for j in set(top_lex) | set(near)}
        fused = fusion.linear([(int(j), float(lex[i, j])) for j in top_lex], cosines, weight)
        ranked = [key for key, _ in fused[:10]]
        rr.append(1 / (ranked.index(gold[i]) + 1) if gold[i] in ranked else 0.0)
    return float(np.mean(rr))


def main() -> None:
    passages, queries, gold = load()
    vec = embeddings(passages, queries)
    titles = sorted({p["title"] for p in passages})
    folds = np.array([titles.index(passages[g]["title"]) % 5 for g in gold])

    docs = [tokens(p["text"]) for p in passages]
    docs_folded = [tokens(p["text"], folded=True) for p in passages]
    lex = bm25_matrix(docs, [tokens(q["text"]) for q in queries])
    lex_stripped = bm25_matrix(docs_folded, [tokens(fold_accents(q["text"]), folded=True) for q in queries])
    sem = vec["queries"] @ vec["passages"].T
    sem_stripped = vec["queries-stripped"] @ vec["passages"].T

    def mrr(scores):
        return reciprocal_ranks(scores, gold).mean()

    print(f"XQuAD-vi: {len(passages)} paragraphs, {len(queries)} questions; MRR@10")
    print(f"  BM25 (syllables + bigrams + words)     {mrr(lex):.4f}")
    print(f"  e5 alone, title + paragraph            {mrr(sem):.4f}")
    print(f"  e5 alone, paragraph without its title  {mrr(vec['queries'] @ vec['passages-untitled'].T):.4f}")
    print(f"  accents stripped: BM25 on folded text  {mrr(lex_stripped):.4f}, e5 {mrr(sem_stripped):.4f}")
    half = vec["passages"].astype(np.float16).astype(np.float32)
    sem_half = vec["queries"] @ half.T
    top, top_half = np.argsort(-sem, 1)[:, :10], np.argsort(-sem_half, 1)[:, :10]
    print(f"  float16 rows: e5 {mrr(sem_half):.4f}, max |Δcos| {np.abs(sem - sem_half).max():.1e}, "
          f"{int((top != top_half).any(1).sum())} queries with a top-10 order change, "
          f"{int((top[:, 0] != top_half[:, 0]).sum())} with another top hit")
    print("linear fusion, MRR@10 by BM25 weight; CV: weight chosen on 4 folds of articles, tested on the 5th")
    for name, (lx, sm) in {"as written": (lex, sem), "accents stripped": (lex_stripped, sem_stripped)}.items():
        for k_lex, k_sem in POOLS:
            cv, chosen, by = cross_validated(lx, sm, gold, folds, k_lex, k_sem)
            row = " ".join(f"{w:.1f}:{v:.4f}" for w, v in by.items() if round(w * 10) == w * 10)
            print(f"  {name:16} lexical {k_lex:3} + nearest {k_sem:3}: {row}  CV {cv:.4f} (weights {chosen})")
        row = " ".join(f"{kl}/{ks}:{mrr(rrf(lx, sm, kl, ks)):.4f}" for kl, ks in POOLS)
        print(f"  {name:16} RRF k=60: {row}")
    weight, k_lex, k_sem = fusion.DEFAULT_WEIGHT, 100, 20
    print(f"searcher.semantic.fusion.linear, weight {weight}, lexical {k_lex} + nearest {k_sem}: "
          f"{package_fusion_mrr(lex, sem, gold, weight, k_lex, k_sem):.4f} "
          f"(matrix version {mrr(linear(lex, sem, weight, k_lex, k_sem)):.4f})")


if __name__ == "__main__":
    main()
