"""The test suite's own layout: test modules share helpers through plain modules and conftest
fixtures (tests/live.py, tests/clients.py, tests/csp.py, tests/xss_corpus.py,
messaging/tests/sockets.py, ...), never by importing another test module, which would also
collect and run that module's tests again under the importer's name."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SKIP = {".venv", ".git", "node_modules", "staticfiles"}


def suite_modules() -> list[Path]:
    return [
        path
        for path in ROOT.rglob("test_*.py")
        if not SKIP.intersection(path.relative_to(ROOT).parts)
    ]


def imported_modules(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
        elif isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
    return names


def test_no_test_module_imports_another():
    modules = suite_modules()
    assert len(modules) > 100  # the walk found the suite
    offenders = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in modules
        for name in imported_modules(path)
        if name.rsplit(".", 1)[-1].startswith("test_")
    ]
    assert offenders == []
