"""Word segmentation with pyvi's own CRF model, without importing scikit-learn.

``pyvi.ViTokenizer`` unpickles a scikit-learn estimator at import time (about 2 s). The
estimator only wraps a python-crfsuite model, so we read the model bytes out of pyvi's
pickle with a restricted unpickler, open them with ``pycrfsuite`` (well under 0.1 s) and
compute exactly pyvi's features. ``tests/test_segment.py`` proves the output identical to
``ViTokenizer.tokenize`` on every text under ``shared/``.
"""

from __future__ import annotations

import importlib.util
import pickle
import re
import string
import threading
import unicodedata
from pathlib import Path

from searcher.errors import SearcherError

# pyvi.ViTokenizer.sylabelize's pattern, verbatim in meaning: the alternatives are tried in
# this order, so a token's extent is exactly the one pyvi sees.
_ABBREVIATIONS = [r"[A-ZĐ]+\.", r"Tp\.", r"Mr\.", r"Mrs\.", r"Ms\.", r"Dr\.", r"ThS\."]
_SPECIALS = [r"==>", r"->", r"\.\.\.", r">>", "\n"]
_WEB = r"\w+://[^\s]+"
_EMAIL = r"([a-zA-Z0-9_.+-]+@([a-zA-Z0-9-]+\.)+[a-zA-Z0-9-]+)"
_DIGIT = r"\d+([\.,_]\d+)+"
TOKEN_RE = re.compile(
    "(" + "|".join([*_ABBREVIATIONS, *_SPECIALS, _WEB, _EMAIL, _DIGIT, r"[^\w\s]", r"\w+"]) + ")",
    re.UNICODE,
)
_PUNCTUATION = frozenset(string.punctuation)


class _Stub:
    """Stands in for any class the pickle names; keeps whatever state it is given."""

    def __init__(self, *args, **kwargs):
        pass

    def __setstate__(self, state):
        self.__dict__["_state"] = state


class _ModelUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if module == "_codecs" and name == "encode":
            import codecs

            return codecs.encode
        return _Stub


def _find_model_bytes(obj, depth=0):
    """Depth-first search of the unpickled stubs for the crfsuite file contents."""
    if depth > 6:
        return None
    if isinstance(obj, _Stub):
        obj = obj.__dict__.get("_state")
    if isinstance(obj, dict):
        data = obj.get("__FILE_RESOURCE_DATA__")
        if isinstance(data, bytes):
            return data
        for value in obj.values():
            found = _find_model_bytes(value, depth + 1)
            if found is not None:
                return found
    elif isinstance(obj, (list, tuple)):
        for value in obj:
            found = _find_model_bytes(value, depth + 1)
            if found is not None:
                return found
    return None


def pyvi_dir() -> Path:
    """The installed pyvi package folder, found without importing pyvi's tokenizer."""
    spec = importlib.util.find_spec("pyvi")
    if spec is None or not spec.submodule_search_locations:
        raise SearcherError("pyvi is not installed: pip install pyvi")
    return Path(next(iter(spec.submodule_search_locations)))


class Segmenter:
    """pyvi's word segmenter: the same CRF, the same features, the same joining rules."""

    def __init__(self, model_dir: Path | None = None):
        import pycrfsuite  # deferred: only indexing needs the CRF

        model_dir = model_dir or pyvi_dir() / "models"
        self.bi_grams: set[str] = set()
        self.tri_grams: set[str] = set()
        with open(model_dir / "words.txt", encoding="utf-8") as fin:
            for entry in fin.read().split("\n"):
                size = len(entry.split(" "))
                if size == 2:
                    self.bi_grams.add(entry)
                elif size == 3:
                    self.tri_grams.add(entry)
        with open(model_dir / "pyvi3.pkl", "rb") as fin:
            model = _find_model_bytes(_ModelUnpickler(fin).load())
        if model is None:
            raise SearcherError(f"no CRF model found in {model_dir / 'pyvi3.pkl'}")
        self._model = model  # the tagger reads this buffer in place: keep it alive
        self.tagger = pycrfsuite.Tagger()
        self.tagger.open_inmemory(model)

    def _features(self, sent: list[str]) -> list[dict]:
        bi_grams, tri_grams = self.bi_grams, self.tri_grams
        lower = [w.lower() for w in sent]
        n = len(sent)
        out = []
        for i, word in enumerate(sent):
            f = {
                "bias": 1.0,
                "word.lower()": lower[i],
                "word.isupper()": word.isupper(),
                "word.istitle()": word.istitle(),
                "word.isdigit()": word.isdigit(),
            }
            if i > 0:
                w1 = sent[i - 1]
                f["-1:word.lower()"] = lower[i - 1]
                f["-1:word.istitle()"] = w1.istitle()
                f["-1:word.isupper()"] = w1.isupper()
                f["-1:word.bi_gram()"] = f"{lower[i - 1]} {lower[i]}" in bi_grams
                if i > 1:
                    f["-2:word.tri_gram()"] = f"{lower[i - 2]} {lower[i - 1]} {lower[i]}" in tri_grams
            if i < n - 1:
                w1 = sent[i + 1]
                f["+1:word.lower()"] = lower[i + 1]
                f["+1:word.istitle()"] = w1.istitle()
                f["+1:word.isupper()"] = w1.isupper()
                f["+1:word.bi_gram()"] = f"{lower[i]} {lower[i + 1]}" in bi_grams
                if i < n - 2:
                    f["+2:word.tri_gram()"] = f"{lower[i]} {lower[i + 1]} {lower[i + 2]}" in tri_grams
            out.append(f)
        return out

    def spans(self, text: str) -> list[tuple[int, int]]:
        """Word extents in ``text`` (NFC expected): ``(start, end)`` per pyvi word, in order.

        A word of several syllables spans from its first syllable's start to its last's end.
        """
        matches = list(TOKEN_RE.finditer(text))
        if not matches:
            return []
        tokens = [m.group(0) for m in matches]
        labels = self.tagger.tag(self._features(tokens))
        spans = [[matches[0].start(), matches[0].end()]]
        for i in range(1, len(tokens)):
            cur, prev = tokens[i], tokens[i - 1]
            if (
                labels[i] == "I_W"
                and cur not in _PUNCTUATION
                and prev not in _PUNCTUATION
                and not cur[0].isdigit()
                and not prev[0].isdigit()
                and not (cur[0].istitle() and not prev[0].istitle())
            ):
                spans[-1][1] = matches[i].end()
            else:
                spans.append([matches[i].start(), matches[i].end()])
        return [(s, e) for s, e in spans]

    def tokenize(self, text: str) -> str:
        """The string ``pyvi.ViTokenizer.tokenize(text)`` returns, for comparison."""
        text = unicodedata.normalize("NFC", text)
        matches = list(TOKEN_RE.finditer(text))
        if not matches:
            return text
        words = []
        for start, end in self.spans(text):
            words.append("_".join(m.group(0) for m in matches if start <= m.start() and m.end() <= end))
        return " ".join(words)


_shared: Segmenter | None = None
_lock = threading.Lock()


def segmenter() -> Segmenter:
    """The process-wide segmenter, loaded on first use."""
    global _shared
    with _lock:
        if _shared is None:
            _shared = Segmenter()
        return _shared
