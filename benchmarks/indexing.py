"""Indexing: a full `searcher index --rebuild` beside pyvi alone and tantivy, in one run.

    python benchmarks/indexing.py [--paragraphs 20000] [--repeat 1]
    python benchmarks/indexing.py --paragraphs 2000 --profile     (cProfile of one build)

On the scale corpus of N paragraphs (``make_corpus.py``, generated if missing), one after
the other in the same run:

1. ``searcher index --rebuild`` into an empty ``benchmarks/data/index-N``: wall time, CPU
   time, ``ru_maxrss`` of the child (the largest single process of its tree) and the summed
   PSS of its whole process tree sampled once a second (what a pool of workers costs).
   ``--jobs`` is passed (all cores) only if ``searcher index --help`` lists it.
2. pyvi alone: ``pyvi.ViTokenizer.tokenize`` once per paragraph, one process (one core),
   over exactly the paragraphs searcher indexes (read with searcher's corpus reader).
   Its import time (~2 s of scikit-learn) is reported apart, not counted.
3. tantivy (reference; benchmark-only dependency): the pyvi-segmented paragraphs indexed
   as syllables, folded syllables, words and folded words (positions kept) plus the stored
   original text; default writer threads. Segmentation is not part of its time.

Prints each figure, the ratios to pyvi's segmentation time and the issue-5 targets
(searcher wall ≤ 1.5 × single-core pyvi segmentation; peak memory ≤ 1.5 GB).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DATA, dir_size, header, median, ratio, read_paragraphs, run_measured, searcher, verdict  # noqa: E402
from make_corpus import ensure_corpus  # noqa: E402

GB = 1e9


# -- workers (run in their own processes so their memory and imports stay apart) -------


def pyvi_worker(corpus: Path, out: Path) -> None:
    paragraphs = read_paragraphs(corpus)
    started = time.perf_counter()
    from pyvi import ViTokenizer

    import_s = time.perf_counter() - started
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    segmented = [ViTokenizer.tokenize(p) for p in paragraphs]
    seconds = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    with open(out, "w", encoding="utf-8") as fh:
        for original, seg in zip(paragraphs, segmented):
            fh.write(json.dumps([original, seg], ensure_ascii=False) + "\n")
    print(json.dumps(dict(import_s=import_s, seconds=seconds, cpu=cpu, paragraphs=len(paragraphs),
                          characters=sum(map(len, paragraphs)))))


def tantivy_worker(segmented: Path, outdir: Path) -> None:
    import tantivy

    pairs = [json.loads(line) for line in segmented.read_text(encoding="utf-8").splitlines()]
    t0 = time.perf_counter()
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("text", stored=True, index_option="basic", tokenizer_name="raw")
    for name in ("syl", "fold", "word", "wfold"):
        builder.add_text_field(name, tokenizer_name=name)
    builder.add_unsigned_field("para", stored=True)
    schema = builder.build()
    if outdir.exists():
        shutil.rmtree(outdir)
    outdir.mkdir(parents=True)
    index = tantivy.Index(schema, path=str(outdir))
    # syllables: split on non-alphanumerics (the "_" pyvi joins words with included);
    # words: runs of \w (the "_" kept, so a pyvi word is one token)
    T, F, B = tantivy.Tokenizer, tantivy.Filter, tantivy.TextAnalyzerBuilder
    index.register_tokenizer("syl", B(T.simple()).filter(F.lowercase()).build())
    index.register_tokenizer("fold", B(T.simple()).filter(F.lowercase()).filter(F.ascii_fold()).build())
    index.register_tokenizer("word", B(T.regex(r"\w+")).filter(F.lowercase()).build())
    index.register_tokenizer("wfold", B(T.regex(r"\w+")).filter(F.lowercase()).filter(F.ascii_fold()).build())
    writer = index.writer(heap_size=256_000_000)
    for number, (original, seg) in enumerate(pairs):
        writer.add_document(tantivy.Document(text=original, syl=seg, fold=seg, word=seg, wfold=seg, para=number))
    writer.commit()
    writer.wait_merging_threads()
    seconds = time.perf_counter() - t0
    print(json.dumps(dict(seconds=seconds, size=dir_size(outdir), docs=len(pairs))))


# -- the benchmark ---------------------------------------------------------------------


def index_help_lists_jobs(corpus: Path, index: Path) -> bool:
    proc = subprocess.run(searcher(index, corpus, "index", "--help"), capture_output=True, text=True)
    return "--jobs" in proc.stdout


def run_worker(kind: str, *args: Path):
    run = run_measured([sys.executable, __file__, f"--worker-{kind}", *map(str, args)], sample_memory=True)
    if run.returncode != 0:
        sys.exit(f"{kind} worker failed:\n{run.stderr.decode(errors='replace')}")
    return run, json.loads(run.stdout.decode().strip().splitlines()[-1])


def profile(n: int, corpus: Path, jobs_flag: list[str]) -> None:
    import pstats

    index = DATA / f"index-{n}-profile"
    prof = DATA / f"indexing-{n}.prof"
    shutil.rmtree(index, ignore_errors=True)
    cmd = [sys.executable, "-m", "cProfile", "-o", str(prof), "-m", "searcher",
           "--index", str(index), "--corpus", str(corpus), "index", "--rebuild", *jobs_flag]
    run = run_measured(cmd)
    print(f"cProfile of `searcher index --rebuild` on {n} paragraphs: {run.wall:.1f} s wall (profiled), "
          f"saved in {prof}")
    print(run.stderr.decode(errors="replace").strip().splitlines()[-1])
    stats = pstats.Stats(str(prof))
    stats.sort_stats("tottime").print_stats(25)
    stats.sort_stats("cumulative").print_stats(40)


def main() -> None:
    parser = argparse.ArgumentParser(description="Full index build beside pyvi alone and tantivy.")
    parser.add_argument("--paragraphs", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=1, help="rounds (medians reported)")
    parser.add_argument("--profile", action="store_true", help="only profile one build with cProfile")
    parser.add_argument("--worker-pyvi", nargs=2, type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--worker-tantivy", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker_pyvi:
        return pyvi_worker(*args.worker_pyvi)
    if args.worker_tantivy:
        return tantivy_worker(*args.worker_tantivy)

    n = args.paragraphs
    corpus = ensure_corpus(n)
    index = DATA / f"index-{n}"
    segmented = DATA / f"segmented-{n}.jsonl"
    tantivy_dir = DATA / f"tantivy-{n}"
    jobs = index_help_lists_jobs(corpus, index)
    jobs_flag = ["--jobs", str(os.cpu_count() or 1)] if jobs else []
    if args.profile:
        return profile(n, corpus, ["--jobs", "1"] if jobs else [])

    header(f"indexing, {n} paragraphs")
    rounds = []
    for r in range(args.repeat):
        shutil.rmtree(index, ignore_errors=True)
        s = run_measured(searcher(index, corpus, "index", "--rebuild", *jobs_flag), capture=False, sample_memory=True)
        if s.returncode != 0:
            sys.exit(f"searcher index failed ({s.returncode}):\n{s.stderr.decode(errors='replace')}")
        summary = s.stderr.decode(errors="replace").strip().splitlines()[-1]
        p_run, p = run_worker("pyvi", corpus, segmented)
        t_run, t = run_worker("tantivy", segmented, tantivy_dir)
        rounds.append((s, summary, p_run, p, t_run, t))
        print(f"round {r + 1}: searcher {s.wall:.1f} s, pyvi {p['seconds']:.1f} s, tantivy {t['seconds']:.1f} s",
              file=sys.stderr)

    s_wall = median(r[0].wall for r in rounds)
    s_cpu = median(r[0].user + r[0].sys for r in rounds)
    s_rss = max(r[0].maxrss_kib for r in rounds) * 1024
    s_pss = max(r[0].tree_pss_kib for r in rounds) * 1024
    p_seg = median(r[3]["seconds"] for r in rounds)
    p_cpu = median(r[3]["cpu"] for r in rounds)
    p_import = median(r[3]["import_s"] for r in rounds)
    p_rss = max(r[2].maxrss_kib for r in rounds) * 1024
    t_sec = median(r[5]["seconds"] for r in rounds)
    t_rss = max(r[4].maxrss_kib for r in rounds) * 1024
    t_cpu = median(r[4].user + r[4].sys for r in rounds)  # includes reading its input
    paragraphs, chars = rounds[0][3]["paragraphs"], rounds[0][3]["characters"]

    print(f"corpus {corpus}: {paragraphs} paragraphs indexed (titles included), {chars:,} characters; "
          f"{args.repeat} round(s), medians")
    print(f"searcher: {rounds[-1][1]}")
    print(f"searcher --jobs: {'listed, passed ' + ' '.join(jobs_flag) if jobs else 'not listed by `searcher index --help`, not passed'}")
    print()
    print(f"{'':<34} {'wall':>9} {'CPU':>9} {'chars/s':>10} {'÷ pyvi':>8} {'peak memory':>24}")
    print(f"{'searcher index --rebuild':<34} {s_wall:>8.1f}s {s_cpu:>8.1f}s {chars / s_wall:>10,.0f} "
          f"{ratio(s_wall, p_seg):>8} {s_rss / GB:>5.2f} GB rss, {s_pss / GB:.2f} GB tree pss")
    print(f"{'pyvi alone (segmentation, 1 core)':<34} {p_seg:>8.1f}s {p_cpu:>8.1f}s {chars / p_seg:>10,.0f} "
          f"{'1.00x':>8} {p_rss / GB:>5.2f} GB rss")
    print(f"{'tantivy (pre-segmented text)':<34} {t_sec:>8.1f}s {t_cpu:>8.1f}s {chars / t_sec:>10,.0f} "
          f"{ratio(t_sec, p_seg):>8} {t_rss / GB:>5.2f} GB rss")
    print(f"(pyvi import, not counted above: {p_import:.1f} s; tantivy index {rounds[-1][5]['size'] / 1e6:.1f} MB, "
          f"searcher index {dir_size(index) / 1e6:.1f} MB)")
    print(f"CPU time ratio searcher / pyvi segmentation: {ratio(s_cpu, p_cpu)} "
          f"(less sensitive to other load on the machine than wall time)")
    print()
    peak = max(s_rss, s_pss)
    print(f"target: searcher wall ≤ 1.5 × pyvi segmentation: {s_wall:.1f} s vs {1.5 * p_seg:.1f} s "
          f"({ratio(s_wall, p_seg)}) → {verdict(s_wall <= 1.5 * p_seg)}")
    print(f"target: peak memory ≤ 1.5 GB: {peak / 1e9:.2f} GB → {verdict(peak <= 1.5e9)}")


if __name__ == "__main__":
    main()
