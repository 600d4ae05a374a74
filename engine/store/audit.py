"""The tamper-evident record (记录在案): every recorded event sealed into a hash chain.

Each committing transaction seals the rows it added to the history tables (strikes, misses,
strike events — decisions, exemptions, revocations —, status changes, notices issued,
assignments, node history — extensions, completions —, the change log and the run ledger):
one ``audit_entry`` per table, holding the id range, the row count and a SHA-256 digest of
those rows' recorded content, chained to the entry before by hash. Nothing else is needed at
write time, so sealing costs one read of what the transaction wrote.

``verify`` recomputes every digest from the rows as they are now and walks the chain: a row
edited by hand changes a digest, a deleted row changes a count, a row inserted by hand lies
outside every sealed range, and an entry edited, removed or inserted breaks the chain. For
rows that legitimately change later (a strike's level, a miss's revocation) only the columns
fixed at creation are sealed; the changes themselves are strike events, sealed in turn.

Writers are serialised while they seal (SQLite's BEGIN IMMEDIATE; a transaction-scoped
advisory lock on PostgreSQL), so the id ranges of two transactions never interleave.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Table, func, insert, select
from sqlmodel import Session, col

from engine.store.models import (
    Assignment,
    AuditEntry,
    ChangeLog,
    Complaint,
    DecisionTrace,
    DocNumber,
    EvaluationDay,
    Miss,
    NodeHistory,
    Notice,
    PersonLink,
    Photo,
    Reminder,
    Report,
    ReportDecision,
    ReportPhoto,
    StatusChange,
    Strike,
    StrikeEvent,
    table_of,
)
from notifications.files import replacing

GENESIS = "0" * 64
#: Sealed tables and their columns fixed at creation, in sealing order.
SEALED: dict[str, tuple[Table, tuple[str, ...]]] = {}
for _model, _columns in (
    (ChangeLog, ()),
    (Assignment, ()),
    (NodeHistory, ()),
    (EvaluationDay, ()),
    (
        Strike,
        (
            "id",
            "person_pk",
            "project_id",
            "planned_date",
            "detected_on",
            "first_project_code",
            "first_node_code",
            "rule",
            "explanation",
            "agenda",
            "created_at",
        ),
    ),
    (Miss, ("id", "deadline_id", "node_id", "strike_id", "person_pk", "planned_date", "detected_on")),
    (StrikeEvent, ()),
    (StatusChange, ()),
    (Notice, ("id", "key", "kind", "person_pk", "strike_id", "status_change_id", "payload", "created_at")),
    (DecisionTrace, ()),  # since revision 0008; older entries never name it, so their digests stand
    (Complaint, ("id", "order_no", "received_at", "content", "place", "due_at", "created_at")),  # since 0011
    (DocNumber, ()),  # since 0012
    (Reminder, ()),  # since 0014
    # since 0015: reports and their decisions whole; a photo by its hash (the bytes are what it hashes);
    # a personal link as issued (its revocation is in the change log)
    (Report, ()),
    (ReportDecision, ()),
    (Photo, ("id", "sha256", "mime", "width", "height", "size", "taken_at", "created_at")),
    (ReportPhoto, ()),
    (PersonLink, ("id", "person_pk", "token_hash", "created_at", "created_by", "expires_at")),
):
    _table: Table = table_of(_model)
    SEALED[_table.name] = (_table, _columns or tuple(c.name for c in _table.columns))

#: Ids per window of the digest. Part of the digest format (each window is hashed as one list):
#: changing it makes every existing chain fail to verify.
_BATCH = 20_000


def high_water(session: Session) -> dict[str, int]:
    """The largest id of each sealed table (one round trip); rows up to it are not this transaction's."""
    row = session.execute(
        select(*(select(func.max(table.c.id)).scalar_subquery() for table, _columns in SEALED.values()))
    ).one()
    return {name: value or 0 for name, value in zip(SEALED, row, strict=True)}


def seal(session: Session, marks: dict[str, int], now: dt.datetime) -> int:
    """Seal the rows this transaction added to each table; return how many entries were written."""
    now_marks = high_water(session)
    prev: str | None = None
    entries: list[dict[str, Any]] = []
    at = now.astimezone(dt.UTC)
    for name, (table, columns) in SEALED.items():
        first, last = marks[name] + 1, now_marks[name]
        if last < first:
            continue
        digest, rows = _digest(session, table, columns, first, last)
        if rows:
            if prev is None:
                prev = session.execute(
                    select(col(AuditEntry.hash)).order_by(col(AuditEntry.id).desc()).limit(1)
                ).scalar()
                prev = prev or GENESIS
            entry_hash = _entry_hash(prev, name, first, last, rows, digest, at)
            entries.append(
                {
                    "table_name": name,
                    "first_id": first,
                    "last_id": last,
                    "rows": rows,
                    "digest": digest,
                    "recorded_at": at,
                    "prev_hash": prev,
                    "hash": entry_hash,
                }
            )
            prev = entry_hash
    connection = session.connection()
    for entry in entries:  # one by one, in chain order: the ids must follow the chain on every backend
        connection.execute(insert(table_of(AuditEntry)).values(**entry))
    return len(entries)


def adopt(session: Session, now: dt.datetime) -> int:
    """Seal rows recorded before the chain existed (a database upgraded to revision 0005)."""
    if session.execute(select(func.count()).select_from(AuditEntry)).scalar():
        return 0
    return seal(session, dict.fromkeys(SEALED, 0), now)


def _windows(
    session: Session, table: Table, columns: tuple[str, ...], first: int, last: int
) -> Iterator[list[tuple[Any, ...]]]:
    """The rows of an id range in id order, in fixed windows of ids (a national import seals millions).

    Values are read as the driver gives them (untyped columns: no per-value conversion) and put in
    SQLite's stored form, so a database copied from SQLite to PostgreSQL digests the same.
    """
    connection = session.connection()
    dialect = connection.dialect
    quote = dialect.identifier_preparer.quote
    mark = "?" if dialect.paramstyle == "qmark" else "%s"
    sql = (
        f"SELECT {', '.join(quote(c) for c in columns)} FROM {quote(table.name)} "
        f"WHERE id BETWEEN {mark} AND {mark} ORDER BY id"
    )
    cursor = connection.connection.cursor()  # the driver's own cursor: plain tuples, no per-row objects
    canonical = _postgres_row if dialect.name == "postgresql" else None
    try:
        start = first
        while start <= last:
            stop = min(start + _BATCH - 1, last)
            cursor.execute(sql, (start, stop))
            rows = cursor.fetchall()
            yield [canonical(row) for row in rows] if canonical else [tuple(row) for row in rows]
            start = stop + 1
    finally:
        cursor.close()


_SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"


def _postgres_value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime(_SQLITE_TIME)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)  # as engine.store.db stores JSON text on SQLite
    if isinstance(value, bool):
        return int(value)
    return value


def _postgres_row(row: Any) -> tuple[Any, ...]:
    return tuple(_postgres_value(v) for v in row)


def _digest(session: Session, table: Table, columns: tuple[str, ...], first: int, last: int) -> tuple[str, int]:
    """SHA-256 over the rows' stored values (repr of each window of rows); windows are fixed by id."""
    sha = hashlib.sha256()
    count = 0
    for window in _windows(session, table, columns, first, last):
        sha.update(repr(window).encode())
        count += len(window)
    return sha.hexdigest(), count


def _entry_hash(prev: str, table: str, first: int, last: int, rows: int, digest: str, at: dt.datetime) -> str:
    text = f"{prev}|{table}|{first}|{last}|{rows}|{digest}|{at.astimezone(dt.UTC).isoformat()}"
    return hashlib.sha256(text.encode()).hexdigest()


# ------------------------------------------------------------------------------------------ verify


@dataclass
class Verdict:
    """The result of a verification: entries and rows checked, and the first problem (or None)."""

    entries: int
    rows: int
    problem: str | None


def verify(session: Session, archived: list[dict[str, Any]] | None = None) -> Verdict:
    """Walk the chain and recompute every digest; stop at the first problem, named in Chinese."""
    entries = list(session.scalars(select(AuditEntry).order_by(col(AuditEntry.id))))
    prev = GENESIS
    covered: dict[str, list[tuple[int, int]]] = {name: [] for name in SEALED}
    total = 0
    for number, entry in enumerate(entries, start=1):
        where = f"第 {number} 条审计记录（编号 {entry.id}，表 {entry.table_name}，行 {entry.first_id}–{entry.last_id}）"
        if entry.prev_hash != prev:
            return Verdict(number - 1, total, f"{where}：与前一条记录的链接断开（之前有记录被删除、插入或修改）")
        if entry.hash != _entry_hash(
            prev, entry.table_name, entry.first_id, entry.last_id, entry.rows, entry.digest, entry.recorded_at
        ):
            return Verdict(number - 1, total, f"{where}：审计记录本身被修改")
        if entry.table_name not in SEALED:
            return Verdict(number - 1, total, f"{where}：未知的表")
        table, columns = SEALED[entry.table_name]
        digest, rows = _digest(session, table, columns, entry.first_id, entry.last_id)
        if rows < entry.rows:
            return Verdict(number - 1, total, f"{where}：有 {entry.rows - rows} 行被删除")
        if rows > entry.rows:
            return Verdict(number - 1, total, f"{where}：有 {rows - entry.rows} 行被插入")
        if digest != entry.digest:
            return Verdict(number - 1, total, f"{where}：内容被修改")
        covered[entry.table_name].append((entry.first_id, entry.last_id))
        total += rows
        prev = entry.hash
    for name, ranges in covered.items():
        stray = _uncovered(session, SEALED[name][0], ranges)
        if stray is not None:
            return Verdict(len(entries), total, f"表 {name} 的第 {stray} 行不在任何审计记录中（记录之外插入）")
    if archived:
        problem = _compare_archive(entries, archived)
        if problem:
            return Verdict(len(entries), total, problem)
    return Verdict(len(entries), total, None)


def _uncovered(session: Session, table: Table, ranges: list[tuple[int, int]]) -> int | None:
    """The first id of a table that no sealed range covers, or None (one query per gap between ranges)."""
    start = 1
    for first, last in sorted(ranges):
        if first > start:
            stray = session.execute(
                select(func.min(table.c.id)).where(table.c.id >= start, table.c.id < first)
            ).scalar()
            if stray is not None:
                return int(stray)
        start = max(start, last + 1)
    stray = session.execute(select(func.min(table.c.id)).where(table.c.id >= start)).scalar()
    return int(stray) if stray is not None else None


def _compare_archive(entries: list[AuditEntry], archived: list[dict[str, Any]]) -> str | None:
    """An archived export must be a prefix of the chain: a rewritten chain cannot match it."""
    for number, old in enumerate(archived, start=1):
        if number > len(entries):
            return f"归档中的第 {number} 条审计记录在数据库中已不存在（链被截断）"
        if entries[number - 1].hash != old.get("hash"):
            return f"第 {number} 条审计记录与归档不一致（链被改写）"
    return None


# ------------------------------------------------------------------------------------------ export


def export(session: Session, path: Path) -> int:
    """Write the chain as JSON lines (one entry per line, the head last); return how many."""
    count = 0
    with replacing(path) as temp, temp.open("w", encoding="utf-8") as handle:
        for entry in session.scalars(select(AuditEntry).order_by(col(AuditEntry.id))):
            handle.write(
                json.dumps(
                    {
                        "id": entry.id,
                        "table": entry.table_name,
                        "first_id": entry.first_id,
                        "last_id": entry.last_id,
                        "rows": entry.rows,
                        "digest": entry.digest,
                        "recorded_at": entry.recorded_at.isoformat(),
                        "prev_hash": entry.prev_hash,
                        "hash": entry.hash,
                    },
                    ensure_ascii=False,
                )
                + "\n"
            )
            count += 1
    return count


def read_archive(path: Path) -> list[dict[str, Any]]:
    """Read an exported chain."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
