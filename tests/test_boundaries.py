"""Dependencies point one way, as docs/ARCHITECTURE.md draws them ("Layers").

At the bottom, ``config/vocabulary.py`` (the stored StrEnums) imports nothing of duban. ``config/`` is
below ``rules/`` and ``notifications/``, which never import each other's packages above them, and
nothing outside ``engine/`` imports ``engine/``. Inside ``engine/``, each package may import only the
packages listed for it here: the store is the bottom, the application the top.
"""

from __future__ import annotations

import ast

import pytest

from tests.conftest import ROOT

OURS = ("config", "rules", "notifications", "engine")


def _imports(package: str) -> list[tuple[str, int, str]]:
    """(file, line, module) of every import in a package (or a module, given as ``a/b.py``)."""
    found = []
    target = ROOT / package
    paths = [target] if target.suffix == ".py" else sorted(target.rglob("*.py"))
    for path in paths:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.append((str(path.relative_to(ROOT)), node.lineno, node.module))
            elif isinstance(node, ast.Import):
                found.extend((str(path.relative_to(ROOT)), node.lineno, alias.name) for alias in node.names)
    return found


def _offenders(package: str, forbidden: tuple[str, ...]) -> list[str]:
    return [
        f"{path}:{line} imports {module}"
        for path, line, module in _imports(package)
        if any(module == f or module.startswith(f + ".") for f in forbidden)
    ]


def test_the_vocabulary_imports_nothing_of_duban() -> None:
    offenders = _offenders("config/vocabulary.py", OURS)
    assert not offenders, "config/vocabulary.py is the bottom of the house: " + "; ".join(offenders)


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("config", ("engine", "rules", "notifications")),
        ("rules", ("engine", "notifications")),
        ("notifications", ("engine", "rules")),
    ],
)
def test_the_lower_packages_never_reach_up(package: str, forbidden: tuple[str, ...]) -> None:
    offenders = _offenders(package, forbidden)
    assert not offenders, f"{package}/ must not depend on {', '.join(forbidden)}: " + "; ".join(offenders)


def test_only_rules_knows_durable_rules() -> None:
    offenders = [
        f"{path}:{line}"
        for package in ("engine", "notifications", "config")
        for path, line, module in _imports(package)
        if module.split(".")[0] == "durable"
    ]
    assert not offenders, "durable-rules is used only inside rules/: " + "; ".join(offenders)


#: What each part of engine/ may import of engine/ (besides itself): the layers of ARCHITECTURE.md.
#: ``errors`` and ``clock`` are leaves every part may use; ``context`` (App) sits on the store.
ENGINE_LAYERS: dict[str, tuple[str, ...]] = {
    "errors": (),
    "clock": (),
    "store": ("errors",),
    "context": ("errors", "clock", "store"),
    "record": ("errors", "clock", "store", "context", "evaluation"),
    "evaluation": ("errors", "clock", "store", "context", "record"),
    "ledger": ("errors", "clock", "store", "context", "record"),
    "complaints": ("errors", "clock", "store", "context", "record", "ledger"),
    "views": ("errors", "clock", "store", "context", "record", "evaluation", "complaints"),
    "delivery": ("errors", "clock", "store", "context"),
    "paperwork": ("errors", "clock", "store", "context", "record", "evaluation", "complaints", "views", "delivery"),
    "app": (
        "errors",
        "clock",
        "store",
        "context",
        "record",
        "evaluation",
        "ledger",
        "complaints",
        "views",
        "delivery",
        "paperwork",
    ),
}


def _engine_parts() -> list[str]:
    return sorted(
        p.stem if p.is_file() else p.name
        for p in (ROOT / "engine").iterdir()
        if (p.suffix == ".py" and p.stem != "__init__") or (p.is_dir() and (p / "__init__.py").exists())
    )


def test_every_part_of_engine_has_a_layer() -> None:
    assert set(_engine_parts()) == set(ENGINE_LAYERS), (
        "add the new part of engine/ to ENGINE_LAYERS (and ARCHITECTURE.md)"
    )


@pytest.mark.parametrize("part", sorted(ENGINE_LAYERS))
def test_each_part_of_engine_imports_only_the_layers_below_it(part: str) -> None:
    path = f"engine/{part}.py" if (ROOT / "engine" / f"{part}.py").exists() else f"engine/{part}"
    allowed = {part, *ENGINE_LAYERS[part]}
    offenders = [
        f"{file}:{line} imports {module}"
        for file, line, module in _imports(path)
        if module.startswith("engine.") and module.split(".")[1] not in allowed
    ]
    assert not offenders, f"engine/{part} may import only {sorted(allowed)}: " + "; ".join(offenders)
