"""The layers hold without exceptions: import-linter's contracts list no `ignore_imports`,
and no module outside mailflow/cli/ imports inside a function (an import hidden there is
how a cycle between two modules stays invisible to import-linter). Pure reading of files."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "mailflow"


def function_imports(path: Path, root: Path = ROOT) -> list[str]:
    """`file:line (function: module)` for each import statement inside a function of `path`
    (named relative to `root`)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for func in ast.walk(tree):
        if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(func):
            if isinstance(node, ast.Import):
                names = ", ".join(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                names = "." * node.level + (node.module or "")
            else:
                continue
            where = path.relative_to(root)
            found.append(f"{where}:{node.lineno} ({func.name}: {names})")
    return sorted(set(found))


def test_no_import_inside_a_function_outside_cli() -> None:
    modules = [p for p in sorted(PACKAGE.rglob("*.py")) if p.relative_to(PACKAGE).parts[0] != "cli"]
    assert len(modules) > 100
    hidden = [hit for path in modules for hit in function_imports(path)]
    assert hidden == []


def test_the_walk_sees_an_import_inside_a_function(tmp_path: Path) -> None:
    """The check above can fail: a nested import, even under an `if`, is found; a module's
    own imports are not."""
    path = tmp_path / "sample.py"
    path.write_text(
        "import os\n\n\ndef late():\n    if os:\n        from mailflow import clock\n"
        "    return clock\n",
        encoding="utf-8",
    )
    assert function_imports(path, tmp_path) == ["sample.py:6 (late: mailflow)"]


def test_import_linter_lists_no_exception() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    assert {c["type"] for c in contracts} >= {"layers", "forbidden"}
    assert [c["name"] for c in contracts if c.get("ignore_imports")] == []
