"""Unknown tables and keys in a configuration file are refused, naming the file, the key and a close match.

A table that is not read is worse than a typo refused: ``[web]`` instead of ``[duban.web]`` leaves
``cookie_secure`` off without a word. Both configuration files (``duban.toml`` and the policy) are
walked against their pydantic models before they are validated, so every unknown name is reported
the same way: 「duban.toml：未知的表 [web] — 是否应为 [duban.web]？」.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models a field's annotation holds (itself, in a tuple, a list or an optional)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    origin = typing.get_origin(annotation)
    if origin in (dict, Mapping):  # a free mapping (doc_series): its keys are data, not settings
        return []
    if origin in (tuple, list, typing.Union, types.UnionType):
        return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]
    return []


def _sequence_of(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(_sequence_of(arg) for arg in typing.get_args(annotation))
    return origin in (tuple, list)


def _suggest(name: str, known: list[str]) -> str | None:
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    return close[0] if close else None


def _walk(data: Mapping[str, Any], model: type[BaseModel], prefix: str) -> Iterator[str]:
    fields = model.model_fields
    known = [n for n in fields if n != "config_file"]
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if key not in known:
            near = _suggest(key, known)
            if isinstance(value, dict):
                hint = (
                    f" — 是否应为 [{prefix}{near}]？"
                    if near
                    else f"（[{prefix.rstrip('.') or '顶层'}] 中可用的表与键：{'、'.join(known)}）"
                )
                yield f"未知的表 [{dotted}]{hint}"
            else:
                hint = f" — 是否应为 {prefix}{near}？" if near else f"（可用的键：{'、'.join(known)}）"
                yield f"未知的键 {dotted}{hint}"
            continue
        models = _models_in(fields[key].annotation)
        if not models:
            continue
        if isinstance(value, dict):
            yield from _walk(value, models[0], f"{dotted}.")
        elif isinstance(value, list) and _sequence_of(fields[key].annotation):
            for index, item in enumerate(value):
                if isinstance(item, dict):
                    yield from _walk(item, models[0], f"{dotted}.{index}.")


def unknown_keys(data: Mapping[str, Any], model: type[BaseModel], prefix: str = "") -> list[str]:
    """Return one line per unknown table or key of ``data`` against ``model`` (``prefix``: where it sits)."""
    return list(_walk(data, model, prefix))


def unknown_tables(path: Path, document: Mapping[str, Any], root: str, model: type[BaseModel]) -> list[str]:
    """Check a whole file whose settings live under one table ``[root]``: anything beside it is unknown.

    A table beside ``[root]`` that names one of the model's sections (``[web]``) is the classic slip: the
    suggestion is ``[root.web]``; a key beside it that is one of the model's keys likewise.
    """
    problems: list[str] = []
    fields = [n for n in model.model_fields if n != "config_file"]
    for key, value in document.items():
        if key == root:
            continue
        if isinstance(value, dict):
            if key in fields:
                hint = f" — 是否应为 [{root}.{key}]？"
            else:
                near = _suggest(key, [root])
                nested = _suggest(key, fields)
                hint = (
                    f" — 是否应为 [{root}]？"
                    if near
                    else f" — 是否应为 [{root}.{nested}]？"
                    if nested
                    else f"（设置都写在 [{root}] 及其子表中）"
                )
            problems.append(f"未知的表 [{key}]{hint}")
        else:
            near = key if key in fields else _suggest(key, fields)
            hint = f" — 是否应为 {root}.{near}（写在 [{root}] 下）？" if near else f"（设置都写在 [{root}] 及其子表中）"
            problems.append(f"未知的键 {key}{hint}")
    section = document.get(root)
    if isinstance(section, dict):
        problems += unknown_keys(section, model, f"{root}.")
    return [f"{path}：{line}" for line in problems]
