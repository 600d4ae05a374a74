"""Importing the hotline's export and tying work orders to projects by hand: one transaction each.

An import is all or nothing, like the ledger's. It is keyed by the work-order number: the same
export again changes nothing; a row that changed (closed since, rated, re-dated) is updated and
the change written to the change log with its old and new values. Work orders not yet tied to a
project are matched again at every import (the ledger may have grown); a clerk's link is never
overridden by a later import.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select
from sqlmodel import Session, col

from config.vocabulary import ComplaintLink, LogAction, LogEntity
from engine.complaints.match import Matcher
from engine.complaints.read import WorkOrder, read_export
from engine.context import App
from engine.errors import Refused
from engine.ledger.read import Problems
from engine.record.write import log
from engine.store.db import chunks, transaction
from engine.store.models import Complaint, Project, table_of

#: The columns an import may change on a work order already on record.
_UPDATABLE = ("received_at", "content", "place", "due_at", "closed_at", "satisfaction")


@dataclass
class ComplaintImport:
    """What an import of the export changed, for the summary line."""

    added: int = 0
    updated: int = 0
    linked: int = 0
    unmatched: list[str] = field(default_factory=list)


def import_complaints(app: App, path: Path, source_name: str | None = None) -> ComplaintImport:
    """Import a hotline export; refuse it whole (Refused with every problem) when anything is wrong."""
    problems = Problems(limit=app.settings.limits.max_problems)
    calendar = app.calendar

    def workdays_after(day: dt.date, count: int) -> dt.date:
        for _ in range(count):
            day = calendar.next_workday(day + dt.timedelta(days=1))
        return day

    orders = read_export(path, problems, app.settings.tz, app.today(), workdays_after, app.settings.limits)
    if problems.lines:
        raise Refused(*problems.lines, details=problems.items, omitted=problems.omitted)
    result = ComplaintImport()
    with transaction(app.engine) as session:
        matcher = _matcher(session)
        existing = _existing(session, [o.order_no for o in orders])
        new_rows: list[dict[str, Any]] = []
        now = app.now()
        for order in orders:
            current = existing.get(order.order_no)
            if current is None:
                found = matcher.match(order.project_code, order.place)
                new_rows.append(
                    {
                        **_values(order),
                        "order_no": order.order_no,
                        "project_id": found.project_id,
                        "link": found.link,
                        "link_note": found.note,
                        "created_at": now,
                    }
                )
                result.added += 1
                result.linked += found.project_id is not None
                if found.project_id is None:
                    result.unmatched.append(order.order_no)
                continue
            _update(app, session, current, order, matcher, result)
        for chunk in chunks(new_rows, 2000):
            session.execute(insert(table_of(Complaint)), chunk)
        if result.added or result.updated or result.linked:  # the same export again leaves no trace at all
            log(
                app,
                session,
                LogEntity.HOTLINE,
                source_name or str(path),
                LogAction.IMPORT,
                {
                    "added": result.added,
                    "updated": result.updated,
                    "linked": result.linked,
                    "unmatched": len(result.unmatched),
                },
            )
    return result


def _values(order: WorkOrder) -> dict[str, Any]:
    return {
        "received_at": order.received_at,
        "content": order.content,
        "place": order.place,
        "due_at": order.due_at,
        "closed_at": order.closed_at,
        "satisfaction": order.satisfaction,
    }


def _matcher(session: Session) -> Matcher:
    return Matcher(
        session.execute(select(col(Project.id), col(Project.code), col(Project.name), col(Project.extra))).all()
    )


def _existing(session: Session, numbers: list[str]) -> dict[str, Complaint]:
    found: dict[str, Complaint] = {}
    for chunk in chunks(numbers):
        found.update(
            (c.order_no, c) for c in session.scalars(select(Complaint).where(col(Complaint.order_no).in_(chunk)))
        )
    return found


def _same(old: Any, new: Any) -> bool:
    if isinstance(old, dt.datetime) and isinstance(new, dt.datetime):
        return old.astimezone(dt.UTC) == new.astimezone(dt.UTC)
    return bool(old == new)


def _shown(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.datetime) else value


def _update(
    app: App, session: Session, current: Complaint, order: WorkOrder, matcher: Matcher, result: ComplaintImport
) -> None:
    """Bring a work order on record up to the export's row, logging each change; tie it if still loose."""
    values = _values(order)
    changed = {
        key: {"old": _shown(getattr(current, key)), "new": _shown(values[key])}
        for key in _UPDATABLE
        if not _same(getattr(current, key), values[key])
    }
    if current.project_id is None:
        found = matcher.match(order.project_code, order.place)
        if found.project_id is not None:
            changed["project"] = {"old": None, "new": matcher.code_of[found.project_id], "how": found.link}
            current.project_id, current.link, current.link_note = found.project_id, found.link, None
            result.linked += 1
        elif found.note != current.link_note:
            current.link_note = found.note
            session.add(current)
        if current.project_id is None:
            result.unmatched.append(order.order_no)
    if not changed:
        return
    for key in _UPDATABLE:
        setattr(current, key, values[key])
    session.add(current)
    log(app, session, LogEntity.COMPLAINT, current.order_no, LogAction.UPDATE, changed, "12345 工单导入")
    result.updated += 1


def link_complaint(app: App, order_no: str, project_code: str, reason: str | None = None) -> bool:
    """Tie a work order to a project by hand; return False when it was tied to that project already."""
    with transaction(app.engine) as session:
        complaint = session.scalars(select(Complaint).where(col(Complaint.order_no) == order_no)).first()
        if complaint is None:
            raise Refused(f"工单 {order_no} 不存在（先导入 12345 工单：duban import complaints 文件）")
        project = session.scalars(select(Project).where(col(Project.code) == project_code)).first()
        if project is None:
            raise Refused(f"项目 {project_code} 不存在")
        if complaint.project_id == project.id and complaint.link == ComplaintLink.HAND:
            return False
        previous = session.get(Project, complaint.project_id) if complaint.project_id else None
        log(
            app,
            session,
            LogEntity.COMPLAINT,
            order_no,
            LogAction.LINK,
            {
                "project": {"old": previous.code if previous else None, "new": project_code},
                "how": {"old": complaint.link, "new": ComplaintLink.HAND},
            },
            reason or "人工关联",
        )
        complaint.project_id, complaint.link, complaint.link_note = project.id, ComplaintLink.HAND, None
        session.add(complaint)
    return True
