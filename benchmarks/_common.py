"""Helpers shared by the benchmark scripts (not a benchmark itself).

Everything here is standard library. The scripts measure the installed ``searcher`` from
the outside (subprocesses), the way a user meets it, and print their figures.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
DATA = BENCH / "data"  # generated corpora, indexes and peers' files; git-ignored
BUNDLED_CORPUS = REPO / "corpus"
QUERY = "sợ trách nhiệm"


def shared_dir() -> Path:
    """The shared data folder: $SEARCHER_SHARED, else ``shared`` beside the repository
    (``../shared``), else beside the folder that holds it (a git worktree one level
    deeper, ``../../shared``)."""
    if "SEARCHER_SHARED" in os.environ:
        return Path(os.environ["SEARCHER_SHARED"])
    for candidate in (REPO.parent / "shared", REPO.parent.parent / "shared"):
        if candidate.is_dir():
            return candidate
    return REPO.parent / "shared"


def searcher_cmd() -> list[str]:
    """The ``searcher`` console script of the running interpreter's environment."""
    script = Path(sys.executable).parent / "searcher"
    if script.exists():
        return [str(script)]
    found = shutil.which("searcher")
    return [found] if found else [sys.executable, "-m", "searcher"]


def searcher(index: Path, corpus: Path, *args: str) -> list[str]:
    return [*searcher_cmd(), "--index", str(index), "--corpus", str(corpus), *args]


def ensure_index(index: Path, corpus: Path) -> None:
    """Build or update ``index`` from ``corpus`` (never timed); stops on failure."""
    proc = subprocess.run(searcher(index, corpus, "index"), capture_output=True, text=True)
    if proc.returncode != 0 and "incompatible version" in proc.stderr:  # an older schema
        proc = subprocess.run(searcher(index, corpus, "index", "--rebuild"), capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"searcher index failed ({proc.returncode}):\n{proc.stderr}")


# -- statistics -----------------------------------------------------------------------


def median(values) -> float:
    return statistics.median(values)


def percentile(values, p: float) -> float:
    """Linear-interpolated percentile, p in [0, 100]."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "n/a"


def verdict(ok: bool) -> str:
    return "MET" if ok else "NOT MET"


# -- running and measuring processes ---------------------------------------------------


def _children_of() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as fh:
                stat = fh.read().decode("ascii", "replace")
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(name))
    return tree


def _pss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class TreeMemorySampler:
    """Samples the summed PSS of a process and all its descendants (peak kept).

    ``ru_maxrss`` is the peak of the largest single process; with a pool of workers the
    memory that matters is the sum over the tree at one moment, which only sampling sees.
    PSS counts pages shared between forked workers once, not once per worker.
    """

    def __init__(self, pid: int, interval: float = 1.0):
        self.pid = pid
        self.interval = interval
        self.peak_kib = 0
        self.peak_procs = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def _run(self):
        while not self._stop.is_set():
            tree = _children_of()
            pids, todo = [], [self.pid]
            while todo:
                pid = todo.pop()
                pids.append(pid)
                todo.extend(tree.get(pid, ()))
            total = sum(_pss_kib(pid) for pid in pids)
            if total > self.peak_kib:
                self.peak_kib = total
                self.peak_procs = len(pids)
            self._stop.wait(self.interval)


class Run:
    """The outcome of one measured subprocess."""

    def __init__(self, returncode, wall, maxrss_kib, user, sys_, stdout, stderr, tree_pss_kib=0):
        self.returncode = returncode
        self.wall = wall
        self.maxrss_kib = maxrss_kib  # ru_maxrss of the child (largest process of its tree)
        self.user = user
        self.sys = sys_
        self.stdout = stdout
        self.stderr = stderr
        self.tree_pss_kib = tree_pss_kib


def run_measured(cmd, *, stdin=None, capture=True, sample_memory=False, env=None, cwd=None) -> Run:
    """Run ``cmd``; wall time, and rusage of exactly this child (``os.wait4``).

    stdout is discarded unless ``capture``; stderr is captured to a temp file.
    """
    import tempfile

    out = tempfile.TemporaryFile() if capture else subprocess.DEVNULL
    err = tempfile.TemporaryFile()
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdin=stdin if stdin is not None else subprocess.DEVNULL,
                            stdout=out, stderr=err, env=env, cwd=cwd)
    sampler = TreeMemorySampler(proc.pid) if sample_memory else None
    if sampler:
        sampler.__enter__()
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    finally:
        if sampler:
            sampler.__exit__(None, None, None)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    stdout = b""
    if capture:
        out.seek(0)
        stdout = out.read()
        out.close()
    err.seek(0)
    stderr = err.read()
    err.close()
    return Run(proc.returncode, wall, usage.ru_maxrss, usage.ru_utime, usage.ru_stime,
               stdout, stderr, sampler.peak_kib if sampler else 0)


# -- the corpus as searcher reads it ---------------------------------------------------


def read_paragraphs(corpus: Path) -> list[str]:
    """Every paragraph searcher indexes from ``corpus``, read with searcher's own reader.

    Peers (pyvi alone, tantivy, SQLite FTS5) get exactly this list, so every engine
    handles the same text. Falls back to the documented file format if the reader's
    API has changed.
    """
    try:
        from searcher.corpus import Corpus, SourceError

        paragraphs: list[str] = []
        for source in Corpus(corpus).sources():
            if isinstance(source, SourceError):
                continue
            paragraphs.extend(source.load().paragraphs)
        return paragraphs
    except ImportError:
        import unicodedata

        paragraphs = []
        for path in sorted(corpus.glob("*.txt")):
            for line in path.read_text(encoding="utf-8-sig").splitlines():
                line = unicodedata.normalize("NFC", line).strip()
                if line:
                    paragraphs.append(line)
        return paragraphs


def dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


# -- reporting ------------------------------------------------------------------------


def git_state() -> str:
    try:
        head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--", "searcher"],
                               capture_output=True, text=True).stdout.strip()
        return head + (" (+ uncommitted changes under searcher/)" if dirty else "")
    except OSError:
        return "unknown"


def machine() -> str:
    model = ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        mem = next(int(l.split()[1]) for l in open("/proc/meminfo") if l.startswith("MemTotal"))
        mem_s = f"{mem / 1024 / 1024:.0f} GiB"
    except (OSError, StopIteration):
        mem_s = "?"
    return (f"{os.cpu_count()} cores {platform.machine()} ({model}), {mem_s}, "
            f"Python {platform.python_version()}")


def header(title: str) -> None:
    print(f"# {title}")
    print(f"date {time.strftime('%Y-%m-%d %H:%M')}; {machine()}")
    print(f"searcher at {git_state()}; {' '.join(searcher_cmd())}")
    print("load average before the run: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    print()


def write_json(path: Path, record: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
