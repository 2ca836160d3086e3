"""Peak memory of indexing files with no line breaks (issue 12: ≤ 0.5 GB per process).

    python benchmarks/memory.py [--mb 5 50] [--jobs 2]

For each size, writes one ``.txt`` article of that many megabytes of Vietnamese words
(sentences, no line break) into a fresh corpus under ``benchmarks/data/memory/``, runs
``searcher index --jobs N`` on it, and samples the resident set size of the command and of
each of its worker processes every 50 ms (``/proc``). Prints the peak of the largest
process and the wall time. Slow: pyvi segments about 80k syllables a second per process.
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
from _common import BUNDLED_CORPUS, DATA, searcher  # noqa: E402


def write_article(path: Path, megabytes: float) -> None:
    words = " ".join(p.read_text(encoding="utf-8") for p in sorted(BUNDLED_CORPUS.glob("*.txt"))).split()
    rng = random.Random(12)
    target = int(megabytes * 1_000_000)
    with open(path, "w", encoding="utf-8") as out:
        out.write("Một bài không xuống dòng\n\n")
        written = 0
        while written < target:
            sentence = " ".join(rng.choice(words) for _ in range(rng.randint(8, 30))) + ". "
            out.write(sentence)
            written += len(sentence.encode("utf-8"))


def rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree(pid: int) -> list[int]:
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return pids
    for child in children:
        pids.extend(tree(int(child)))
    return pids


def measure(megabytes: float, jobs: int) -> tuple[float, float]:
    folder = DATA / "memory" / f"{megabytes:g}mb"
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "corpus").mkdir(parents=True)
    write_article(folder / "corpus" / "long.txt", megabytes)
    command = searcher(folder / "index", folder / "corpus", "index", "--jobs", str(jobs))
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak: dict[int, int] = {}
    while process.poll() is None:
        for pid in tree(process.pid):
            peak[pid] = max(peak.get(pid, 0), rss_kb(pid))
        time.sleep(0.05)
    seconds = time.perf_counter() - started
    stderr = process.stderr.read().decode("utf-8", "replace").strip().splitlines()
    if process.returncode != 0:
        raise SystemExit(f"searcher index failed ({process.returncode}): {stderr[-1:] }")
    print(f"  {stderr[-1]}")
    return max(peak.values()) / 1024 / 1024, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, nargs="+", default=[5, 50])
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    for megabytes in args.mb:
        peak, seconds = measure(megabytes, args.jobs)
        print(f"{megabytes:g} MB, one paragraph, --jobs {args.jobs}: peak {peak:.2f} GB (largest process), {seconds:.0f} s")


if __name__ == "__main__":
    main()
