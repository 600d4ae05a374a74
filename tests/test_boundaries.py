"""Dependencies point one way: engine uses rules, config and notifications; they never import engine."""

from __future__ import annotations

import ast

import pytest

from tests.conftest import ROOT


def _imports(package: str) -> list[tuple[str, int, str]]:
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                found.append((str(path.relative_to(ROOT)), node.lineno, node.module))
            elif isinstance(node, ast.Import):
                found.extend((str(path.relative_to(ROOT)), node.lineno, alias.name) for alias in node.names)
    return found


@pytest.mark.parametrize("package", ["rules", "notifications", "config"])
def test_the_package_never_imports_engine(package: str) -> None:
    offenders = [f"{path}:{line} imports {module}" for path, line, module in _imports(package)
                 if module == "engine" or module.startswith("engine.")]
    assert not offenders, f"{package}/ must not depend on engine/: " + "; ".join(offenders)


def test_only_rules_knows_durable_rules() -> None:
    offenders = [f"{path}:{line}" for package in ("engine", "notifications", "config")
                 for path, line, module in _imports(package) if module.split(".")[0] == "durable"]
    assert not offenders, "durable-rules is used only inside rules/: " + "; ".join(offenders)


def test_the_store_does_not_reach_up_into_the_application() -> None:
    offenders = [f"{path}:{line} imports {module}" for path, line, module in _imports("engine/store")
                 if module.startswith(("engine.app", "engine.paperwork", "engine.views", "engine.delivery"))]
    assert not offenders, "engine/store/ is the bottom layer: " + "; ".join(offenders)
