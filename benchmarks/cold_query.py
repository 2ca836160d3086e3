"""Cold query: a new `searcher query` process per run, beside the import floor.

    python benchmarks/cold_query.py [--runs 10]

On the bundled corpus (``corpus/``; its index is built first into
``benchmarks/data/index-bundled``, outside the timing), each round runs, in a rotating
order so no command always goes first:

- ``searcher --index I --corpus C query "sợ trách nhiệm"`` (stdout discarded: pipe mode);
- the floor ``python -c "import whoosh.index, click, rich.console"`` (the same interpreter);
- ``searcher --help`` and ``searcher --version``.

Prints the median wall time of each over the rounds and each one's ratio to the floor
(issue 5: query median ≤ 1.5 × floor and < 0.6 s). "Cold" means a new process; the page
cache is warm (one untimed run of each comes first), as for a user typing queries.

Then ``python -X importtime`` on the query, ``--help`` and ``--version`` says which heavy
modules each imports: sklearn, scipy, numpy, pyvi.ViTokenizer, pycrfsuite, trafilatura.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    BUNDLED_CORPUS,
    DATA,
    QUERY,
    ensure_index,
    header,
    median,
    ratio,
    run_measured,
    searcher,
    verdict,
)

HEAVY = ("sklearn", "scipy", "numpy", "pyvi.ViTokenizer", "pycrfsuite", "trafilatura")
FLOOR_CODE = "import whoosh.index, click, rich.console"


def import_report(args: list[str], index: Path, corpus: Path) -> tuple[dict[str, float], list[tuple[float, str]], float]:
    """Heavy modules imported (name → cumulative ms) and the slowest top-level imports."""
    cmd = [sys.executable, "-X", "importtime", "-m", "searcher", "--index", str(index), "--corpus", str(corpus), *args]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    heavy: dict[str, float] = {}
    top: list[tuple[float, str]] = []
    total = 0.0
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "imported package" in line:
            continue
        _, cumulative_us, name = _parse_importtime_line(line)
        ms = cumulative_us / 1000
        module = name.strip()
        if len(name) - len(name.lstrip()) <= 1:  # top level: nested imports are indented further
            top.append((ms, module))
            total += ms
        for wanted in HEAVY:
            if module == wanted or module.startswith(wanted + "."):
                heavy[wanted] = max(heavy.get(wanted, 0.0), ms)
    top.sort(reverse=True)
    return heavy, top, total


def _parse_importtime_line(line: str):
    # "import time:       123 |        456 |   module.name"
    fields = line[len("import time:"):].split("|")
    return int(fields[0]), int(fields[1]), fields[2].rstrip("\n")


def main() -> None:
    parser = argparse.ArgumentParser(description="Cold-start query time beside the import floor.")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--corpus", type=Path, default=BUNDLED_CORPUS)
    args = parser.parse_args()

    corpus = args.corpus
    index = DATA / ("index-bundled" if corpus == BUNDLED_CORPUS else f"index-{corpus.name}")
    header("cold query")
    ensure_index(index, corpus)
    # An installed package has its bytecode; an editable install (a checkout) writes it at
    # the first run, unless PYTHONDONTWRITEBYTECODE is set (as on some CI machines): then
    # every run would compile searcher's modules again. Compile them once, as pip does.
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(Path(__file__).resolve().parents[1] / "searcher")], check=False)

    commands = {
        "query": searcher(index, corpus, "query", QUERY),
        "floor": [sys.executable, "-c", FLOOR_CODE],
        "--help": searcher(index, corpus, "--help"),
        "--version": searcher(index, corpus, "--version"),
    }
    names = list(commands)
    for name in names:  # warm the page cache, and check each command works
        run = run_measured(commands[name], capture=True)
        if run.returncode not in (0, 1):
            sys.exit(f"{name} failed ({run.returncode}): {run.stderr.decode(errors='replace')}")
    times: dict[str, list[float]] = {name: [] for name in names}
    for round_ in range(args.runs):
        order = names[round_ % len(names):] + names[: round_ % len(names)]
        for name in order:
            times[name].append(run_measured(commands[name], capture=False).wall)

    floor = median(times["floor"])
    print(f"corpus {corpus}, index {index}; {args.runs} rounds, medians of wall time")
    print(f"{'command':<12} {'median':>9} {'min':>9} {'max':>9} {'÷ floor':>8}")
    for name in names:
        m = median(times[name])
        print(f"{name:<12} {m:>8.3f}s {min(times[name]):>8.3f}s {max(times[name]):>8.3f}s {ratio(m, floor):>8}")
    q = median(times["query"])
    print()
    print(f"target: query median ≤ 1.5 × floor: {q:.3f} s vs {1.5 * floor:.3f} s → {verdict(q <= 1.5 * floor)}")
    print(f"target: query median < 0.6 s: {q:.3f} s → {verdict(q < 0.6)}")
    print()

    for label, cmd_args in (("query", ["query", QUERY]), ("--help", ["--help"]), ("--version", ["--version"])):
        heavy, top, total = import_report(cmd_args, index, corpus)
        found = ", ".join(f"{m} ({ms:.0f} ms)" for m, ms in heavy.items()) or "none"
        absent = ", ".join(m for m in HEAVY if m not in heavy) or "none"
        print(f"imports of `searcher {' '.join(cmd_args)}` (python -X importtime, {total:.0f} ms in all):")
        print(f"  heavy modules imported: {found}")
        print(f"  not imported: {absent}")
        print("  slowest top-level imports: " + ", ".join(f"{name} {ms:.0f} ms" for ms, name in top[:6]))
    print()


if __name__ == "__main__":
    main()
