"""Route functions render what the read models return: no query is written in engine/app/web (docs/WEB.md)."""

from __future__ import annotations

import ast

import pytest

from tests.conftest import ROOT

WEB = ROOT / "engine" / "app" / "web"
#: Session methods that run a query or write a row.
QUERIES = {"execute", "exec", "scalar", "scalars", "get", "query", "add", "merge", "delete"}


def queries(source: str) -> list[str]:
    """Where a module queries the database itself: sqlalchemy or the tables imported, a session's query called."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module.split(".")[0] == "sqlalchemy" and node.module != "sqlalchemy.exc":  # errors may be caught
                found.append(f"line {node.lineno}: imports {node.module}")
            tables = [alias.name for alias in node.names if alias.name != "id_of"]
            if node.module == "engine.store.models" and tables:
                found.append(f"line {node.lineno}: imports the tables {', '.join(tables)}")
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "session"
            and node.func.attr in QUERIES
        ):
            found.append(f"line {node.lineno}: session.{node.func.attr}(…)")
    return found


@pytest.mark.parametrize("name", sorted(p.name for p in WEB.glob("*.py")))
def test_no_query_is_written_in_a_web_module(name: str) -> None:
    found = queries((WEB / name).read_text(encoding="utf-8"))
    assert not found, f"engine/app/web/{name} queries the database itself; read through engine/views: {found}"


def test_a_query_in_a_route_is_found() -> None:
    route = (
        "from sqlalchemy import select\n"
        "from engine.store.models import Project\n"
        "def page(app):\n"
        "    with reading(app.engine) as session:\n"
        "        one = session.get(Project, 1)\n"
        "        rows = session.scalars(select(Project))\n"
    )
    assert [line.split(":")[0] for line in queries(route)] == ["line 1", "line 2", "line 5", "line 6"]
