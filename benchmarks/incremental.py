"""Adding one article to a big index costs a small fraction of a rebuild (issue 3).

    python benchmarks/incremental.py [--articles 10000] [--jobs N]

Builds (outside the timing) a corpus of ARTICLES short articles from the shared sentences
(see make_corpus.py for the sources and their CC BY-SA 4.0 licence), then times, in one
run: a full `searcher index --rebuild`; then `searcher add` of one new article, three
times, each followed by a query for a phrase only that article has (it must be found at
once). Prints both times and their ratio.
"""

from __future__ import annotations

import argparse
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DATA, header, median, searcher, shared_dir  # noqa: E402
from make_corpus import load_sentences, make_title  # noqa: E402

SEED = 20261125


def make_articles(count: int, outdir: Path) -> int:
    """``count`` articles of 1-2 paragraphs; returns the number of paragraphs written."""
    if outdir.exists() and len(list(outdir.glob("*.txt"))) == count:
        return sum(len(p.read_text(encoding="utf-8").split("\n\n")) - 1 for p in outdir.glob("*.txt"))
    shutil.rmtree(outdir, ignore_errors=True)
    outdir.mkdir(parents=True)
    sentences = [s for _, s in load_sentences(shared_dir())]
    rng = random.Random(SEED)
    paragraphs = 0
    for n in range(count):
        body = [" ".join(rng.choice(sentences) for _ in range(rng.randint(1, 3))) for _ in range(rng.randint(1, 2))]
        paragraphs += len(body)
        (outdir / f"art_{n:05d}.txt").write_text(make_title(rng, sentences) + "\n\n" + "\n\n".join(body) + "\n", encoding="utf-8")
    return paragraphs


def timed(cmd: list[str]) -> tuple[float, subprocess.CompletedProcess]:
    started = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    return time.perf_counter() - started, done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--jobs", type=int, default=None)
    args = parser.parse_args()
    corpus = DATA / f"corpus-articles-{args.articles}"
    index = DATA / f"index-articles-{args.articles}"
    paragraphs = make_articles(args.articles, corpus)
    header(f"incremental add, {args.articles} articles")
    jobs = ["--jobs", str(args.jobs)] if args.jobs else []

    rebuild, done = timed(searcher(index, corpus, "index", "--rebuild", *jobs))
    if done.returncode != 0:
        sys.exit(f"rebuild failed:\n{done.stderr}")
    print(f"corpus {corpus}: {args.articles} articles, {paragraphs} body paragraphs")
    print(f"searcher index --rebuild       {rebuild:8.2f} s   ({done.stderr.strip().splitlines()[-1]})")

    adds = []
    incoming = DATA / "incoming"
    incoming.mkdir(exist_ok=True)
    for n in range(3):
        marker = f"Hợp tác xã thử nghiệm số {n} nuôi cá tầm trên hồ Tuyền Lâm"
        new = incoming / f"new_{n}_{int(time.time())}.txt"
        new.write_text(f"Bài mới {n}\n\n{marker}.\n", encoding="utf-8")
        took, done = timed(searcher(index, corpus, "add", str(new), *jobs))
        if done.returncode != 0:
            sys.exit(f"add failed:\n{done.stderr}")
        found = subprocess.run(searcher(index, corpus, "query", f'"{marker}"', "-n", "1"), capture_output=True, text=True)
        assert found.returncode == 0 and new.stem in found.stdout, (found.returncode, found.stdout, found.stderr)
        adds.append(took)
        print(f"searcher add (one article) #{n + 1}  {took:8.2f} s   found by the next query: yes")
    print()
    print(f"median add {median(adds):.2f} s = {median(adds) / rebuild:.1%} of a rebuild ({rebuild:.1f} s)")
    # Leave the corpus as generated for the next run.
    subprocess.run(searcher(index, corpus, "remove", *[p.stem for p in incoming.glob("new_*.txt")]), capture_output=True)
    shutil.rmtree(incoming, ignore_errors=True)


if __name__ == "__main__":
    main()
