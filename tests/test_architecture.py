"""The walls between the layers (ARCHITECTURE.md): the import-linter contracts in pyproject.toml
hold, they catch a wall being broken, and no two files of monitor/ import each other in a cycle
(function-local imports count)."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    if shutil.which("lint-imports") is None:
        pytest.skip("import-linter is not installed (pip install '.[test]')")
    return subprocess.run(["lint-imports", "--no-cache"], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_import_linter_contracts_hold() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_a_store_to_analysis_import_breaks_the_contracts(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "monitor", tmp_path / "monitor", ignore=shutil.ignore_patterns("__pycache__", "weights"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    rows = tmp_path / "monitor" / "store" / "rows.py"
    rows.write_text(rows.read_text() + "\nfrom monitor.analysis.pipeline import Analysis  # noqa\n")
    result = lint_imports(tmp_path)
    assert result.returncode != 0
    assert "The store knows rows, not platforms or analysers BROKEN" in result.stdout
    assert "monitor.store.rows -> monitor.analysis.pipeline" in result.stdout


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, modules: set[str]) -> set[str]:
    """monitor.* modules a file imports anywhere in it (function-local imports too)."""
    mod = _module(path)
    package = mod if path.name == "__init__.py" else mod.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            names = [base] + [f"{base}.{a.name}" for a in node.names]
        for name in names:
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name and name not in (mod, "monitor"):
                found.add(name)
    return found


def test_no_import_cycles_between_files() -> None:
    files = {_module(p): p for p in (ROOT / "monitor").rglob("*.py")}
    graph = {mod: _imports(path, set(files)) for mod, path in files.items()}
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append([*path[path.index(nxt):], nxt])
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for start in sorted(graph):
        if start not in state:
            visit(start, [start])
    assert cycles == []


def test_ruff_is_clean() -> None:
    """The style rules of pyproject.toml ([tool.ruff]) hold over the whole repository, in CI too."""
    ruff = shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed (pip install '.[test]')")
    result = subprocess.run([ruff, "check", "--no-cache", "."], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_read_commands_start_without_libraries_they_do_not_use() -> None:
    """`monitor status`, `summary`, `sql` and `report` start a process at every call. Importing their
    modules loads no HTTP client, scheduler, Arrow, model runtime, templates, sources or daemon: the
    commands that use them import them (the HTTP client was imported for `status`: ~0.18 s of its start)."""
    heavy = ["httpx", "apscheduler", "pyarrow", "onnxruntime", "tokenizers", "torch", "dask", "jinja2",
             "monitor.sources", "monitor.ingest", "monitor.daemon"]
    code = ("import sys, monitor.cli, monitor.status, monitor.summary, monitor.report.commands\n"
            f"print(','.join(m for m in {heavy!r} if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == ""
