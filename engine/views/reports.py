"""Reads of the reports from the site: the review queue (审核), a person's phone page, the photos.

The queue is every report without a decision, oldest first, with what the office needs to decide:
the project and node, the planned date then and now, what was reported and by whom, the photos,
and whether approving it would revoke a strike (a completion within a detected miss's deadline).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from config.vocabulary import ReportKind
from engine.context import App
from engine.record.holders import held_by
from engine.record.write import misses_met_by
from engine.store.models import Node, Person, Photo, Project, Report, ReportDecision, ReportPhoto, id_of
from engine.views.board import node_state


@dataclass(frozen=True)
class ReportView:
    """One report as the review queue and the phone page show it."""

    id: int
    kind: str  # ReportKind
    project_code: str
    project_name: str
    district: str | None
    node_code: str
    node_name: str
    planned_then: dt.date
    planned_now: dt.date
    completed_on: dt.date | None
    requested_date: dt.date | None
    note: str
    source: str  # ReportSource
    reported_by: str
    person_name: str | None
    created_at: dt.datetime
    photos: list[str] = field(default_factory=list)  # SHA-256 of each photo, in the order sent
    revokes: list[int] = field(default_factory=list)  # the strikes whose misses approving it would revoke
    decision: str | None = None  # None: waiting; approved | rejected
    decided_by: str | None = None
    decision_reason: str | None = None
    decided_at: dt.datetime | None = None

    def as_json(self) -> dict[str, Any]:
        """The report as `duban review list --json` prints it."""
        return {
            "id": self.id,
            "kind": self.kind,
            "project": self.project_code,
            "node": self.node_code,
            "district": self.district,
            "planned_date": self.planned_then.isoformat(),
            "planned_date_now": self.planned_now.isoformat(),
            "completed_on": self.completed_on.isoformat() if self.completed_on else None,
            "requested_date": self.requested_date.isoformat() if self.requested_date else None,
            "note": self.note,
            "source": self.source,
            "reported_by": self.reported_by,
            "person": self.person_name,
            "created_at": self.created_at.isoformat(),
            "photos": self.photos,
            "revokes_strikes": self.revokes,
            "decision": self.decision,
        }


def _views(app: App, session: Session, reports: list[Report], with_revokes: bool) -> list[ReportView]:
    if not reports:
        return []
    ids = [r.id for r in reports]
    photos: dict[int, list[str]] = {}
    for report_id, sha in session.execute(
        select(col(ReportPhoto.report_id), col(Photo.sha256))
        .join(Photo, col(Photo.id) == col(ReportPhoto.photo_id))
        .where(col(ReportPhoto.report_id).in_(ids))
        .order_by(col(ReportPhoto.report_id), col(ReportPhoto.position))
    ):
        photos.setdefault(report_id, []).append(sha)
    decisions = {
        d.report_id: d for d in session.scalars(select(ReportDecision).where(col(ReportDecision.report_id).in_(ids)))
    }
    found = []
    for report in reports:
        project, node = session.get(Project, report.project_id), session.get(Node, report.node_id)
        assert project is not None and node is not None
        person = session.get(Person, report.person_pk) if report.person_pk is not None else None
        revokes: list[int] = []
        decision = decisions.get(id_of(report))
        if with_revokes and decision is None and report.kind == ReportKind.COMPLETION and report.completed_on:
            revokes = sorted({m.strike_id for m in misses_met_by(app, session, node, report.completed_on)})
        found.append(
            ReportView(
                id=id_of(report),
                kind=report.kind,
                project_code=project.code,
                project_name=project.name,
                district=project.district,
                node_code=node.code,
                node_name=node.name,
                planned_then=report.planned_date,
                planned_now=node.planned_date,
                completed_on=report.completed_on,
                requested_date=report.requested_date,
                note=report.note,
                source=report.source,
                reported_by=report.reported_by,
                person_name=person.name if person else None,
                created_at=report.created_at,
                photos=photos.get(id_of(report), []),
                revokes=revokes,
                decision=None if decision is None else ("approved" if decision.approved else "rejected"),
                decided_by=decision.by if decision else None,
                decision_reason=decision.reason if decision else None,
                decided_at=decision.at if decision else None,
            )
        )
    return found


def pending(app: App, session: Session, district: str | None = None) -> list[ReportView]:
    """Return the reports waiting for the office, oldest first (of one district, if given)."""
    query = select(Report).where(col(Report.id).not_in(select(col(ReportDecision.report_id))))
    if district is not None:
        query = query.join(Project, col(Project.id) == col(Report.project_id)).where(col(Project.district) == district)
    return _views(app, session, list(session.scalars(query.order_by(col(Report.id)))), with_revokes=True)


def of_project(app: App, session: Session, project_id: int) -> list[ReportView]:
    """Return every report of a project, waiting or decided, oldest first: the project page's evidence (留痕)."""
    query = select(Report).where(col(Report.project_id) == project_id).order_by(col(Report.id))
    return _views(app, session, list(session.scalars(query)), with_revokes=True)


def _day_start(app: App, day: dt.date) -> dt.datetime:
    """The first instant of a day in the configured zone."""
    return dt.datetime.combine(day, dt.time(), app.settings.tz)


def pending_on(app: App, session: Session, day: dt.date, district: str | None = None) -> list[ReportView]:
    """Return the reports waiting for the office at the end of a day (made by then, not decided by then), oldest first.

    What approving one would revoke is read as the queue reads it now (only for a report still waiting).
    """
    end = _day_start(app, day + dt.timedelta(days=1))
    decided = select(col(ReportDecision.report_id)).where(col(ReportDecision.at) < end)
    query = select(Report).where(col(Report.created_at) < end, col(Report.id).not_in(decided))
    if district is not None:
        query = query.join(Project, col(Project.id) == col(Report.project_id)).where(col(Project.district) == district)
    return _views(app, session, list(session.scalars(query.order_by(col(Report.id)))), with_revokes=True)


def decided_between(
    app: App, session: Session, first: dt.date, last: dt.date, district: str | None = None
) -> dict[str, tuple[int, int]]:
    """Return, per district ('' when not filled in), the reports approved and rejected from ``first`` to ``last``.

    A decision counts on its day in the configured zone.
    """
    rows = session.execute(
        select(col(Project.district), col(ReportDecision.approved))
        .join(Report, col(Report.id) == col(ReportDecision.report_id))
        .join(Project, col(Project.id) == col(Report.project_id))
        .where(
            col(ReportDecision.at) >= _day_start(app, first),
            col(ReportDecision.at) < _day_start(app, last + dt.timedelta(days=1)),
            *([col(Project.district) == district] if district is not None else []),
        )
    ).all()
    counts: dict[str, list[int]] = {}
    for district_of, approved in rows:
        pair = counts.setdefault(district_of or "", [0, 0])
        pair[0 if approved else 1] += 1
    return {name: (pair[0], pair[1]) for name, pair in sorted(counts.items())}


def pending_completion_projects(session: Session) -> set[int]:
    """Return the projects with a completion reported and waiting for review (the board's 「已报完成，待审核」)."""
    return set(
        session.scalars(
            select(col(Report.project_id)).where(
                col(Report.kind) == ReportKind.COMPLETION, col(Report.id).not_in(select(col(ReportDecision.report_id)))
            )
        )
    )


@dataclass(frozen=True)
class PhoneNode:
    """One node on a person's phone page."""

    project_code: str
    project_name: str
    node_code: str
    node_name: str
    planned_date: dt.date
    completed_on: dt.date | None
    state: str  # board.NODE_STATES
    light: str  # red | yellow | green (the node's own light)
    last_report: ReportView | None  # the latest report of the node, waiting or decided


LIGHT_OF_STATE = {"overdue": "red", "due_soon": "yellow", "done": "green", "done_late": "green", "pending": "green"}


def phone_nodes(app: App, session: Session, person: Person) -> list[PhoneNode]:
    """Return the nodes of the projects a person holds today, open ones first, with their lights and reports."""
    today = app.today()
    project_ids = held_by(session, id_of(person), today)
    if not project_ids:
        return []
    rows = session.execute(
        select(Node, Project)
        .join(Project, col(Project.id) == col(Node.project_id))
        .where(col(Node.project_id).in_(project_ids))
        .order_by(col(Project.code), col(Node.planned_date), col(Node.code))
    ).all()
    node_ids = [node.id for node, _project in rows]
    latest: dict[int, Report] = {}
    for report in session.scalars(select(Report).where(col(Report.node_id).in_(node_ids)).order_by(col(Report.id))):
        latest[report.node_id] = report
    views = {v.id: v for v in _views(app, session, list(latest.values()), with_revokes=False)}
    found = []
    for node, project in rows:
        state = node_state(app, node.planned_date, node.completed_on, today)
        last = latest.get(id_of(node))
        found.append(
            PhoneNode(
                project_code=project.code,
                project_name=project.name,
                node_code=node.code,
                node_name=node.name,
                planned_date=node.planned_date,
                completed_on=node.completed_on,
                state=state,
                light=LIGHT_OF_STATE[state],
                last_report=views.get(id_of(last)) if last else None,
            )
        )
    found.sort(key=lambda n: (n.completed_on is not None, n.planned_date))
    return found


def photo_bytes(session: Session, sha256: str, thumbnail: bool) -> bytes | None:
    """Return a photo's JPEG (or its thumbnail) by its SHA-256, or None."""
    column = col(Photo.thumbnail) if thumbnail else col(Photo.content)
    found: bytes | None = session.scalar(select(column).where(col(Photo.sha256) == sha256))
    return found


def photo_districts(session: Session, sha256: str) -> set[str | None]:
    """Return the districts of the projects whose reports carry a photo (who may see it follows from them)."""
    return set(
        session.scalars(
            select(col(Project.district))
            .join(Report, col(Report.project_id) == col(Project.id))
            .join(ReportPhoto, col(ReportPhoto.report_id) == col(Report.id))
            .join(Photo, col(Photo.id) == col(ReportPhoto.photo_id))
            .where(col(Photo.sha256) == sha256)
        )
    )
