"""What a page names by its key (a project by code, a strike by number, a person by id, a notice by number).

Each resource's read model looks its row up and says which districts it belongs to; the web
decides in one place (``engine.app.web.security.visible``) whether the viewer may see it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Found(Generic[T]):
    """A row looked up by the key a page names, or None, and the districts it belongs to."""

    row: T | None
    missing: str  # the reason given when there is no such row: 项目 BH-9 不存在
    districts: frozenset[str | None] = frozenset()
    hidden: bool = False  # outside the viewer's district it is answered "not found" (a person), not refused
    outside: str | None = None  # the reason given outside the viewer's district (None: the projects' refusal)
