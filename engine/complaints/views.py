"""Reading work orders as of a day: open, overdue, per project, per week.

A work order is **open** on day D when it was received by the end of D and not closed by the
end of D; it is **overdue** on D when it is open and its 办理时限 fell on a day before D — the
same reading as a node's (overdue the day after its deadline). A project with a work order
overdue is red on the board, in the daily check and on the agenda.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlmodel import Session, col

from engine.store.db import chunks
from engine.store.models import Complaint, Project


@dataclass(frozen=True)
class WorkOrderView:
    """One work order as the paperwork and the pages show it (no caller's name or phone: none is kept)."""

    order_no: str
    project_id: int | None
    received_on: dt.date
    due_on: dt.date
    closed_on: dt.date | None
    content: str
    place: str | None
    satisfaction: str | None
    link: str | None

    def overdue_days(self, on: dt.date) -> int:
        """Return how many days past its deadline the work order is on a day (0: not overdue)."""
        open_then = self.received_on <= on and (self.closed_on is None or self.closed_on > on)
        return (on - self.due_on).days if open_then and self.due_on < on else 0

    def closed_late(self) -> bool:
        """Return whether it was closed on a day after its deadline."""
        return self.closed_on is not None and self.closed_on > self.due_on

    def as_dict(self, on: dt.date) -> dict[str, Any]:
        """Return the plain values a template prints."""
        return {
            "order_no": self.order_no,
            "received_on": self.received_on,
            "due_on": self.due_on,
            "closed_on": self.closed_on,
            "content": self.content,
            "place": self.place or "",
            "satisfaction": self.satisfaction or "",
            "overdue_days": self.overdue_days(on),
            "closed_late": self.closed_late(),
        }


def _start(day: dt.date, tz: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), tzinfo=tz)


def _view(row: Complaint, tz: ZoneInfo) -> WorkOrderView:
    return WorkOrderView(
        row.order_no,
        row.project_id,
        row.received_at.astimezone(tz).date(),
        row.due_at.astimezone(tz).date(),
        row.closed_at.astimezone(tz).date() if row.closed_at else None,
        row.content,
        row.place,
        row.satisfaction,
        row.link,
    )


def _in_district(district: str | None) -> list[Any]:
    if district is None:
        return []
    return [col(Complaint.project_id).in_(select(col(Project.id)).where(col(Project.district) == district))]


def overdue_on(
    session: Session, on: dt.date, tz: ZoneInfo, district: str | None = None
) -> dict[int, list[WorkOrderView]]:
    """Return the work orders overdue on a day, by project (only those tied to a project)."""
    after = _start(on + dt.timedelta(days=1), tz)
    rows = session.scalars(
        select(Complaint)
        .where(
            col(Complaint.project_id).is_not(None),
            col(Complaint.due_at) < _start(on, tz),
            col(Complaint.received_at) < after,
            or_(col(Complaint.closed_at).is_(None), col(Complaint.closed_at) >= after),
            *_in_district(district),
        )
        .order_by(col(Complaint.due_at), col(Complaint.order_no))
    )
    found: dict[int, list[WorkOrderView]] = defaultdict(list)
    for row in rows:
        found[row.project_id or 0].append(_view(row, tz))
    return found


def ever_overdue(session: Session, on: dt.date, tz: ZoneInfo, district: str | None = None) -> set[int]:
    """Return the projects that had a work order overdue on some day up to a day (red at some time)."""
    rows = session.execute(
        select(col(Complaint.project_id), col(Complaint.due_at), col(Complaint.closed_at)).where(
            col(Complaint.project_id).is_not(None), col(Complaint.due_at) < _start(on, tz), *_in_district(district)
        )
    )
    return {
        pid for pid, due, closed in rows if closed is None or closed.astimezone(tz).date() > due.astimezone(tz).date()
    }


def of_projects(
    session: Session, project_ids: Iterable[int], tz: ZoneInfo, on: dt.date
) -> dict[int, list[WorkOrderView]]:
    """Return the work orders received by a day of each project, oldest first."""
    found: dict[int, list[WorkOrderView]] = defaultdict(list)
    after = _start(on + dt.timedelta(days=1), tz)
    for chunk in chunks(sorted(set(project_ids))):
        for row in session.scalars(
            select(Complaint)
            .where(col(Complaint.project_id).in_(chunk), col(Complaint.received_at) < after)
            .order_by(col(Complaint.received_at), col(Complaint.order_no))
        ):
            found[row.project_id or 0].append(_view(row, tz))
    return found


def between(
    session: Session, first: dt.date, last: dt.date, tz: ZoneInfo, district: str | None = None
) -> list[tuple[WorkOrderView, str | None, str | None]]:
    """Return the work orders received or closed between two days, with their project's code and name."""
    lo, hi = _start(first, tz), _start(last + dt.timedelta(days=1), tz)
    rows = session.execute(
        select(Complaint, col(Project.code), col(Project.name))
        .outerjoin(Project, col(Project.id) == col(Complaint.project_id))
        .where(
            or_(col(Complaint.received_at).between(lo, hi), col(Complaint.closed_at).between(lo, hi)),
            *_in_district(district),
        )
        .order_by(col(Complaint.received_at), col(Complaint.order_no))
    ).all()
    return [
        (_view(row, tz), code, name)
        for row, code, name in rows
        if lo <= row.received_at < hi or (row.closed_at is not None and lo <= row.closed_at < hi)
    ]


def listing(
    session: Session, tz: ZoneInfo, on: dt.date, unmatched: bool = False, project_code: str | None = None
) -> list[dict[str, Any]]:
    """Return every work order (or the loose ones, or one project's), as `duban complaints` prints them."""
    query = (
        select(Complaint, col(Project.code))
        .outerjoin(Project, col(Project.id) == col(Complaint.project_id))
        .order_by(col(Complaint.received_at), col(Complaint.order_no))
    )
    if unmatched:
        query = query.where(col(Complaint.project_id).is_(None))
    if project_code is not None:
        query = query.where(col(Project.code) == project_code)
    out = []
    for row, code in session.execute(query).all():
        view = _view(row, tz)
        out.append(
            {
                "order_no": row.order_no,
                "project_code": code,
                "link": row.link,
                "link_note": row.link_note,
                "received_at": row.received_at.astimezone(tz).isoformat(timespec="minutes"),
                "due_at": row.due_at.astimezone(tz).isoformat(timespec="minutes"),
                "closed_at": row.closed_at.astimezone(tz).isoformat(timespec="minutes") if row.closed_at else None,
                "satisfaction": row.satisfaction,
                "place": row.place,
                "content": row.content,
                "overdue_days": view.overdue_days(on),
            }
        )
    return out
