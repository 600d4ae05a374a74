"""Whole-ledger reads kept while the record is unchanged: the audit chain's head is the version.

Every committing transaction that changes what pages show seals new rows into the audit chain
(engine.store.audit), so the newest entry's id and hash name the state of the data: a result computed
at that head is valid until the next commit. Restoring a backup or copying a database gives
another head, never a stale hit. The web pages use this for what costs a pass over the ledger
(the board's lights, the rankings, the figures); everything else is read fresh.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import TypeVar

from sqlalchemy import select
from sqlmodel import Session, col

from engine.store.models import AuditEntry

T = TypeVar("T")
_SIZE = 32
_items: OrderedDict[Hashable, object] = OrderedDict()
_lock = threading.Lock()


def data_version(session: Session) -> tuple[int, str]:
    """Return the audit chain's head (id, hash): it changes with every committed change."""
    row = session.execute(
        select(col(AuditEntry.id), col(AuditEntry.hash)).order_by(col(AuditEntry.id).desc()).limit(1)
    ).first()
    return (int(row[0]), str(row[1])) if row else (0, "")


def cached(session: Session, key: Hashable, compute: Callable[[], T], version: Hashable | None = None) -> T:
    """Return ``compute()`` for this key at the session's data version, computing it once per version.

    ``version`` replaces the audit head where the caller knows a narrower one (node counts change
    only when nodes are added, so the largest node id is theirs).
    """
    full = (str(session.get_bind().engine.url), data_version(session) if version is None else version, key)
    with _lock:
        if full in _items:
            _items.move_to_end(full)
            return _items[full]  # type: ignore[return-value]
    value = compute()
    with _lock:
        _items[full] = value
        while len(_items) > _SIZE:
            _items.popitem(last=False)
    return value


def clear() -> None:
    """Forget everything (tests)."""
    with _lock:
        _items.clear()
