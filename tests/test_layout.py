"""The layout: no two parts of bot/ import each other, storage knows no feature, one schema.

A part is a top-level subpackage (bot/retrieval/) or module (bot/cli.py); an import anywhere in
a file counts, lazy ones inside functions included, since a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

BOT = Path(__file__).resolve().parents[1] / "bot"


def _part(name: str) -> str:
    """Return the part of bot/ a dotted module name belongs to ("" outside bot)."""
    parts = name.split(".")
    return parts[1] if parts[0] == "bot" and len(parts) > 1 else ""


def import_graph() -> dict[str, set[str]]:
    """Return, per part of bot/, the other parts it imports."""
    graph: dict[str, set[str]] = {}
    for path in BOT.rglob("*.py"):
        source = path.relative_to(BOT).parts[0].removesuffix(".py")
        targets = graph.setdefault(source, set())
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                assert not node.level, f"{path}: use absolute imports (this check reads only those)"
                module = node.module or ""
                names = [f"bot.{a.name}" for a in node.names] if module == "bot" else [module]
            else:
                continue
            targets.update(p for p in map(_part, names) if p and p != source)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str]:
    """Return one import cycle as a path (first part repeated at the end), or [] if none."""
    done: set[str] = set()

    def visit(path: list[str]) -> list[str]:
        for nxt in sorted(graph.get(path[-1], ())):
            if nxt in path:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in done and (found := visit([*path, nxt])):
                return found
        done.add(path[-1])
        return []

    for start in sorted(graph):
        if start not in done and (found := visit([start])):
            return found
    return []


def test_no_two_parts_of_bot_import_each_other() -> None:
    assert find_cycle(import_graph()) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"b"}, "d": set()}
    assert find_cycle(graph) == ["b", "c", "b"]
    assert find_cycle({"a": {"b"}, "b": set()}) == []


def test_storage_imports_no_other_package() -> None:
    packages = {p.name for p in BOT.iterdir() if (p / "__init__.py").exists()}
    assert import_graph()["storage"] & packages == set()


def test_open_database_creates_every_table_declared_in_bot() -> None:
    declared = {
        stmt.value.value
        for path in BOT.rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text("utf-8")))
        if isinstance(node, ast.ClassDef)
        for stmt in node.body
        if isinstance(stmt, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == "__tablename__" for t in stmt.targets)
        and isinstance(stmt.value, ast.Constant)
    }
    # a fresh interpreter: in this one other tests may have imported table modules already
    script = (
        "import json, sqlalchemy, sys; from bot.schema import open_database; "
        "db = open_database('sqlite://'); "
        "print(json.dumps(sqlalchemy.inspect(db.engine).get_table_names()))"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=BOT.parent, capture_output=True, text=True, check=True
    ).stdout
    assert declared and set(json.loads(out)) == declared | {"alembic_version"}
