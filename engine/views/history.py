"""The history (记录在案) as people read it: who did what, when and why, newest first.

Every source is a table that is already appended to by the engine (the change log, strike
events, status changes, evaluated days, sign-ins); nothing here writes. The audit chain's
state is read cheaply (its head); verifying it is ``engine.store.audit.verify``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session, SQLModel, col

from engine.store.models import (
    AuditEntry,
    ChangeLog,
    EvaluationDay,
    LoginAttempt,
    StatusChange,
    Strike,
    StrikeEvent,
    table_of,
)
from notifications.wording import Wording

#: The history's sections: key → title.
SECTIONS = {
    "changes": "变更记录",
    "strikes": "问责记录事件",
    "statuses": "人员状态变化",
    "days": "每日评估",
    "logins": "登录记录",
}


#: The keys a change's detail may hold (change_log.detail, written by engine/record, ledger, complaints,
#: app/users and evaluation days), each with its label in the wording's [detail] section.
DETAIL_KEYS = (
    "role",
    "district",
    "meeting",
    "node_id",
    "from",
    "to",
    "source",
    "on",
    "previous",
    "person_id",
    "added",
    "updated",
    "linked",
    "project",
    "how",
    "as_of",
    "strike",
    "name",
    "unit",
    "phone",
    "email",
    "extra",
    "phase",
    "batch",
    "status",
    "contractor",
    "households",
    "persons_added",
    "persons_updated",
    "projects_added",
    "projects_updated",
    "nodes_added",
    "nodes_updated",
    "extensions",
    "completions",
    "reassignments",
    "revocations",
    "misses",
    "new_strikes",
    "unmatched",
    "received_at",
    "content",
    "place",
    "due_at",
    "closed_at",
    "satisfaction",
    "report",
    "kind",
    "expires",
    "links",
)

#: Where a change came from (detail["source"]), each with its words in the wording's [source] section.
SOURCES = ("ledger", "cli", "web", "demo", "report")


@dataclass(frozen=True)
class HistoryQuery:
    """Which section of the history, filtered by who acted and when."""

    section: str = "changes"
    actor: str | None = None
    since: dt.date | None = None
    until: dt.date | None = None
    page: int = 1
    per_page: int = 100


def _window(column: Any, query: HistoryQuery, tz: dt.tzinfo) -> list[Any]:
    conditions = []
    if query.since is not None:
        conditions.append(column >= dt.datetime.combine(query.since, dt.time(0), tzinfo=tz))
    if query.until is not None:
        conditions.append(column < dt.datetime.combine(query.until + dt.timedelta(days=1), dt.time(0), tzinfo=tz))
    return conditions


def history(session: Session, query: HistoryQuery, tz: dt.tzinfo, words: Wording) -> tuple[list[dict[str, Any]], int]:
    """Return one page of a section of the history and how many entries match."""
    if query.section not in SECTIONS:
        raise ValueError(f"unknown section {query.section!r}")
    sources: dict[str, tuple[type[SQLModel], Any]] = {
        "changes": (ChangeLog, col(ChangeLog.at)),
        "strikes": (StrikeEvent, col(StrikeEvent.recorded_at)),
        "statuses": (StatusChange, col(StatusChange.recorded_at)),
        "days": (EvaluationDay, col(EvaluationDay.finished_at)),
        "logins": (LoginAttempt, col(LoginAttempt.at)),
    }
    model, at = sources[query.section]
    conditions = _window(at, query, tz)
    if query.actor:
        who = col(LoginAttempt.name) if model is LoginAttempt else table_of(model).c.actor
        conditions.append(who == query.actor)
    total = session.scalar(select(func.count()).select_from(model).where(*conditions)) or 0
    rows = session.scalars(
        select(model)
        .where(*conditions)
        .order_by(table_of(model).c.id.desc())
        .offset((max(query.page, 1) - 1) * query.per_page)
        .limit(query.per_page)
    )
    entries = [_entry(query.section, row, tz, words) for row in rows]
    for entry in entries:
        entry["detail"] = readable(entry["detail"], words)
    return entries, total


def _local(value: dt.datetime, tz: dt.tzinfo) -> str:
    return value.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")


def _entry(section: str, row: Any, tz: dt.tzinfo, words: Wording) -> dict[str, Any]:
    if section == "changes":
        return {
            "at": _local(row.at, tz),
            "actor": row.actor,
            "what": f"{words.word('log_entity', row.entity)} {row.key}",
            "action": words.word("log_action", row.action),
            "detail": row.detail,
            "reason": row.reason or "",
        }
    if section == "strikes":
        levels = f"（等级 {row.old_level} → {row.new_level}）" if row.kind == "level_changed" else ""
        return {
            "at": _local(row.recorded_at, tz),
            "actor": row.actor,
            "what": f"问责记录 #{row.strike_id}",
            "strike_id": row.strike_id,
            "action": words.word("event_kind", row.kind) + levels,
            "detail": {"meeting": row.meeting_date.isoformat()} if row.meeting_date else {},
            "reason": row.text or "",
        }
    if section == "statuses":
        return {
            "at": _local(row.recorded_at, tz),
            "actor": row.actor,
            "what": f"人员（内部编号 {row.person_pk}）",
            "person_pk": row.person_pk,
            "action": f"{words.word('person_status', row.old_status)} → {words.word('person_status', row.new_status)}",
            "detail": {"strike": row.strike_id} if row.strike_id else {},
            "reason": words.word("cause", row.cause),
        }
    if section == "days":
        return {
            "at": _local(row.finished_at, tz),
            "actor": row.actor,
            "what": f"评估 {row.day.isoformat()}",
            "action": "每日评估",
            "detail": {"misses": row.misses, "new_strikes": row.new_strikes},
            "reason": "",
        }
    return {
        "at": _local(row.at, tz),
        "actor": row.name,
        "what": row.client or "",
        "action": "登录成功" if row.ok else "登录失败",
        "detail": {},
        "reason": "",
    }


def readable(detail: dict[str, Any] | None, words: Wording) -> list[tuple[str, str]]:
    """A change's detail as people read it: Chinese labels, 「原 → 新」 for changed fields, （无） for nothing."""
    labels = words.section("detail")
    return [(labels.get(key, key), _value(key, value, words)) for key, value in (detail or {}).items()]


def _value(key: str, value: Any, words: Wording) -> str:
    if isinstance(value, dict) and {"old", "new"} <= set(value):
        moved = f"{_value(key, value['old'], words)} → {_value(key, value['new'], words)}"
        others = {k: v for k, v in value.items() if k not in ("old", "new")}
        return moved + "".join(f"（{label}：{text}）" for label, text in readable(others, words))
    if value is None or value == "" or value == {} or value == []:
        return "（无）"
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, dict):
        return "；".join(f"{k}：{_value(k, v, words)}" for k, v in value.items())
    if isinstance(value, list):
        return "、".join(_value(key, v, words) for v in value)
    if key == "source":
        return words.word("source", value)
    if key == "role":
        return words.word("role", value)
    if key == "how":
        return words.word("complaint_link", value)
    if key == "status":
        return words.word("project_status", value)
    return str(value)


def strike_person_names(session: Session, entries: list[dict[str, Any]]) -> None:
    """Name the persons of status changes (the table keeps only their internal key)."""
    from engine.store.models import Person

    pks = {e["person_pk"] for e in entries if "person_pk" in e}
    if not pks:
        return
    names = {
        pk: f"{name}（{pid}）"
        for pk, pid, name in session.execute(
            select(col(Person.id), col(Person.person_id), col(Person.name)).where(col(Person.id).in_(pks))
        )
    }
    for entry in entries:
        if "person_pk" in entry:
            entry["what"] = names.get(entry["person_pk"], entry["what"])


@dataclass(frozen=True)
class ChainState:
    """The audit chain's head, read without verifying it."""

    entries: int
    head_hash: str | None
    last_sealed: dt.datetime | None
    strikes: int


def chain_state(session: Session) -> ChainState:
    """Return the audit chain's length and head (verification is a separate, slower step)."""
    count = session.scalar(select(func.count()).select_from(AuditEntry)) or 0
    head = session.execute(
        select(col(AuditEntry.hash), col(AuditEntry.recorded_at)).order_by(col(AuditEntry.id).desc()).limit(1)
    ).first()
    strikes = session.scalar(select(func.count()).select_from(Strike)) or 0
    return ChainState(count, head[0] if head else None, head[1] if head else None, strikes)
