"""Which files are articles: the corpus folder's listing, and the walk over folders given
to ``searcher add``. No parsing here (``searcher query`` lists the corpus at every start).

Only regular files are read. A name that looks like an article but is something else (a
dangling symbolic link, a link loop, a folder called ``x.txt``, a FIFO, a device) is an
``Entry`` with a ``problem``, so that it is named and skipped, never opened: opening a
FIFO would block.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from searcher.corpus.model import display
from searcher.errors import SearcherError
from searcher.records import Record

ARTICLE_SUFFIXES = (".txt", ".json", ".jsonl", ".html", ".htm")


class Entry(Record):
    """A name with an article suffix: a regular file (``problem`` is ``None``) or not."""

    path: Path
    problem: str | None = None
    size: int = 0
    mtime_ns: int = 0


def is_article_name(name: str) -> bool:
    """Not hidden, and one of the article suffixes (any case)."""
    return not name.startswith(".") and os.path.splitext(name)[1].lower() in ARTICLE_SUFFIXES


def examine(path: Path) -> Entry:
    """What ``path`` is, without opening it (``stat`` follows symbolic links, never blocks)."""
    try:
        st = os.stat(path)
    except OSError as exc:
        return Entry(path, _stat_problem(path, exc))
    if stat.S_ISREG(st.st_mode):
        return Entry(path, None, st.st_size, st.st_mtime_ns)
    return Entry(path, kind_problem(st.st_mode), st.st_size, st.st_mtime_ns)


def _stat_problem(path: Path, exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return "a symbolic link loop, not an article file"
    if exc.errno == errno.ENOENT and os.path.islink(path):
        return "a dangling symbolic link, not an article file"
    if exc.errno == errno.ENOENT:
        return "no such file"
    return f"cannot read ({exc.strerror})"


def kind_problem(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder, not an article file"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO), not an article file"
    if stat.S_ISSOCK(mode):
        return "a socket, not an article file"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device, not an article file"
    return "not a regular file"


def corpus_entries(corpus: Path) -> list[Entry]:
    """Every entry of a corpus folder with an article name, sorted by name (hidden left out)."""
    try:
        with os.scandir(corpus) as it:
            names = [entry.name for entry in it if is_article_name(entry.name)]
    except NotADirectoryError:
        raise SearcherError(f"corpus folder not found: {display(corpus)}") from None
    except FileNotFoundError:
        raise SearcherError(f"corpus folder not found: {display(corpus)}") from None
    except OSError as exc:
        raise SearcherError(f"cannot list the corpus folder {display(corpus)}: {exc.strerror}") from None
    return [examine(corpus / name) for name in sorted(names)]


def walk_articles(folder: Path) -> tuple[list[Path], list[str]]:
    """The article files under ``folder`` (sorted) and one message per entry skipped.

    Hidden files and folders are left out (``.git/config.json`` is no article). The walk
    is iterative (any depth) and enters a folder once, by device and inode, so a symbolic
    link loop ends it instead of repeating.
    """
    found: list[Path] = []
    problems: list[str] = []
    seen: set[tuple[int, int]] = set()
    stack = [folder]
    while stack:
        current = stack.pop()
        try:
            st = os.stat(current)
            if (st.st_dev, st.st_ino) in seen:
                continue  # reached again through a link: already walked
            seen.add((st.st_dev, st.st_ino))
            with os.scandir(current) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            problems.append(f"{display(current)}: cannot list the folder ({exc.strerror})")
            continue
        folders = []
        for entry in entries:
            if entry.name.startswith("."):
                continue
            path = current / entry.name
            if is_article_name(entry.name):
                examined = examine(path)
                if examined.problem is None:
                    found.append(path)
                    continue
                problems.append(f"{display(path)}: {examined.problem}")
                continue
            try:
                if entry.is_dir():  # follows a link to a folder; ``seen`` stops loops
                    folders.append(path)
            except OSError:
                continue
        stack.extend(reversed(folders))
    found.sort()
    return found, problems
