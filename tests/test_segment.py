"""Segmentation must be pyvi's, exactly, without importing scikit-learn at query time."""

import json
import subprocess
import sys

import pytest

from searcher.wordseg import segmenter
from tests.conftest import CORPUS, shared_path


def _shared_texts():
    texts = []
    for path in sorted(CORPUS.glob("*.txt")) + sorted(shared_path("seeds").glob("*.txt")):
        texts.extend(path.read_text(encoding="utf-8").split("\n"))
    for path in sorted(shared_path("data", "ud_vtb_ws").glob("*.raw")):
        texts.extend(path.read_text(encoding="utf-8").split("\n"))
    for name in ("passages.jsonl", "queries.jsonl"):
        with open(shared_path("data", "xquad_vi", name), encoding="utf-8") as lines:
            texts.extend(json.loads(line)["text"] for line in lines)
    return texts


def test_segmentation_examples():
    seg = segmenter()
    assert seg.tokenize("Chữa căn bệnh sợ trách nhiệm") == "Chữa căn_bệnh sợ trách_nhiệm"
    assert seg.tokenize("hoà bình") == "hoà_bình"
    assert seg.tokenize("so trach nhiem") == "so trach nhiem"


def test_spans_cover_words_exactly():
    text = "Đảng bộ tỉnh Bình Thuận hiện có 463 tổ chức"
    words = [text[s:e] for s, e in segmenter().spans(text)]
    assert words == ["Đảng bộ", "tỉnh", "Bình Thuận", "hiện", "có", "463", "tổ chức"]


@pytest.mark.slow
def test_identical_to_pyvi_on_all_shared_text():
    from pyvi import ViTokenizer

    seg = segmenter()
    texts = _shared_texts()
    assert len(texts) > 4000
    differing = [t for t in texts if seg.tokenize(t) != ViTokenizer.tokenize(t)]
    assert differing == []


def test_query_path_does_not_import_heavy_modules(engine, seed_index):
    code = (
        "import sys\n"
        "from searcher.cli import cli\n"
        "try:\n"
        f"    cli([*{engine.args(seed_index)!r}, '--corpus', {str(CORPUS)!r}, 'query', 'sợ trách nhiệm', '--json'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = [m for m in ('sklearn', 'scipy', 'numpy', 'pyvi.ViTokenizer', 'pycrfsuite') if m in sys.modules]\n"
        "print('HEAVY', heavy, file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "HEAVY []" in done.stderr
