"""Read models of projects: `duban projects`, and one project's page (its nodes, red history, work orders,
assignments, node history and strikes)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session, col

from config.vocabulary import ReportKind
from engine.complaints.views import of_projects
from engine.context import App
from engine.record.holders import holders
from engine.store.models import Assignment, Node, NodeHistory, Person, Project, Strike, id_of
from engine.views.board import node_state, red_episodes, unevaluated_overdue
from engine.views.lookup import Found
from engine.views.reports import of_project


def project_named(session: Session, code: str) -> Found[Project]:
    """The project of a code, and its district."""
    project = session.scalars(select(Project).where(col(Project.code) == code)).first()
    return Found(project, f"项目 {code} 不存在", frozenset({project.district}) if project else frozenset())


def projects_view(session: Session) -> list[dict[str, Any]]:
    """Return every project with its current responsible person and node counts."""
    person_ids: dict[int, str] = dict(session.execute(select(col(Person.id), col(Person.person_id))).all())
    latest = {project_id: person_ids[pk] for project_id, pk in holders(session).items()}
    counts = {
        pid: (total, done)
        for pid, total, done in session.execute(
            select(col(Node.project_id), func.count(), func.count(col(Node.completed_on))).group_by(
                col(Node.project_id)
            )
        )
    }
    out = []
    for project in session.scalars(select(Project).order_by(col(Project.code))):
        total, done = counts.get(project.id, (0, 0))
        out.append(
            {
                "project_code": project.code,
                "name": project.name,
                "district": project.district,
                "phase": project.phase,
                "batch": project.batch,
                "status": project.status,
                "responsible_person_id": latest.get(id_of(project)),
                "contractor": project.contractor,
                "households": project.households,
                "nodes": total,
                "completed": done,
            }
        )
    return out


def project_details(app: App, session: Session, project: Project, day: dt.date) -> dict[str, Any]:
    """Return what a project's page shows as of a day: its nodes with their states, which of the overdue ones no
    evaluation has reached (``waiting``), its red episodes, its 12345 work orders, its reports from the site
    (the evidence, 留痕, each with its photos and decision), and its history."""
    project_id = id_of(project)
    unevaluated = {planned for pid, planned in unevaluated_overdue(app, session, day) if pid == project_id}
    reports = of_project(app, session, project_id)
    reported = {r.node_code for r in reports if r.decision is None and r.kind == ReportKind.COMPLETION}
    nodes = [
        {
            "node": n,
            "state": node_state(app, n.planned_date, n.completed_on, day),
            "waiting": n.planned_date in unevaluated,
            "reported": n.code in reported,  # a completion reported from the site, waiting for review
        }
        for n in session.scalars(
            select(Node).where(col(Node.project_id) == project_id).order_by(col(Node.planned_date), col(Node.code))
        )
    ]
    orders = of_projects(session, [project_id], app.settings.tz, day)
    return {
        "nodes": nodes,
        "reports": reports,
        "episodes": red_episodes(app, session, [project_id], day, orders).get(project_id, []),
        "waiting": [item["node"] for item in nodes if item["waiting"] and item["state"] == "overdue"],
        "complaints": orders.get(project_id, []),
        **project_history(app, session, project),
    }


def project_history(app: App, session: Session, project: Project) -> dict[str, Any]:
    """Return a project's assignments, node history and strikes, oldest first: what its page shows."""
    rows = list(
        session.scalars(
            select(Assignment)
            .where(col(Assignment.project_id) == project.id)
            .order_by(col(Assignment.effective_from), col(Assignment.id))
        )
    )
    strikes = list(session.scalars(select(Strike).where(col(Strike.project_id) == project.id).order_by(col(Strike.id))))
    pks = {a.person_pk for a in rows} | {s.person_pk for s in strikes if s.person_pk is not None}
    persons: dict[int | None, str] = {}
    names: dict[int | None, str] = {}
    for pk, person_id, name in session.execute(
        select(col(Person.id), col(Person.person_id), col(Person.name)).where(col(Person.id).in_(pks))
    ):
        persons[pk], names[pk] = person_id, name
    assignments = [
        {
            "person_id": persons.get(a.person_pk),
            "name": names.get(a.person_pk),
            "effective_from": a.effective_from,
            "reason": a.reason,
            "source": a.source,
            "actor": a.actor,
            "recorded_at": a.recorded_at,
        }
        for a in rows
    ]
    node_codes: dict[int, str] = dict(
        session.execute(select(col(Node.id), col(Node.code)).where(col(Node.project_id) == project.id)).all()
    )
    history = [
        {
            "node_code": node_codes[h.node_id],
            "kind": h.kind,
            "planned_date": h.planned_date,
            "previous_planned_date": h.previous_planned_date,
            "completed_on": h.completed_on,
            "previous_completed_on": h.previous_completed_on,
            "reason": h.reason,
            "source": h.source,
            "actor": h.actor,
            "recorded_at": h.recorded_at,
        }
        for h in session.scalars(
            select(NodeHistory).where(col(NodeHistory.node_id).in_(node_codes)).order_by(col(NodeHistory.id))
        )
    ]
    return {
        "assignments": assignments,
        "history": history,
        "strikes": strikes,
        "strike_persons": {s.id: (persons.get(s.person_pk), names.get(s.person_pk)) for s in strikes},
    }
