"""The figures the office reports: start and completion rates, nodes due and done, traffic lights."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import and_, func, or_, select
from sqlmodel import Session, col

from config.policy import Policy
from config.vocabulary import ProjectStatus
from engine.store.db import fetch
from engine.store.models import Node, Project


@dataclass(frozen=True)
class Figures:
    """Progress as of a day, and over the week ending that day."""

    as_of: dt.date
    projects: int
    started: int
    completed: int
    due_in_week: int
    done_in_week: int
    overdue_open: int

    @property
    def start_rate(self) -> float:
        """Return 开工率: projects with a completed node over projects not cancelled."""
        return self.started / self.projects if self.projects else 0.0

    @property
    def completion_rate(self) -> float:
        """Return 完工率: projects with every node completed over projects not cancelled."""
        return self.completed / self.projects if self.projects else 0.0


def not_done(session: Session, on: dt.date) -> list[tuple[int, dt.date]]:
    """Return (project id, planned date) of every node not completed by a day: one index-only range.

    Lights and figures need only these (ix_node_completion): the rest of the ledger is done.
    """
    return fetch(
        session,
        select(col(Node.project_id), col(Node.planned_date)).where(
            or_(col(Node.completed_on).is_(None), col(Node.completed_on) > on)
        ),
    )


def node_counts(session: Session) -> dict[int, int]:
    """Return how many nodes each project has (read from the (project, code) index alone).

    Nodes are never deleted nor moved to another project, so the largest node id versions the
    counts: they are read again only after an import added nodes.
    """
    from engine.store.versioned import cached

    newest = session.scalar(select(func.max(col(Node.id))))
    return cached(
        session,
        "node_counts",
        lambda: dict(fetch(session, select(col(Node.project_id), func.count()).group_by(col(Node.project_id)))),
        version=("node", newest),
    )


def figures(
    session: Session,
    policy: Policy,
    as_of: dt.date,
    district: str | None = None,
    statuses: dict[int, str] | None = None,
    open_nodes: list[tuple[int, dt.date]] | None = None,
) -> Figures:
    """Compute the figures as of a day (the week is the seven days ending that day), of one district if given.

    ``statuses`` (project id → status, of the district) and ``open_nodes`` (``not_done``) may be
    passed by a caller that has read them already (the board).
    """
    here = [] if district is None else [col(Project.district) == district]
    if statuses is None:
        statuses = dict(fetch(session, select(col(Project.id), col(Project.status)).where(*here)))
    scope = {pid: status for pid, status in statuses.items() if status != ProjectStatus.CANCELLED}
    totals = {pid: n for pid, n in node_counts(session).items() if pid in scope}
    open_count: dict[int, int] = {}
    overdue = 0
    cutoff = as_of - dt.timedelta(days=policy.grace_days)
    for project_id, planned in not_done(session, as_of) if open_nodes is None else open_nodes:
        if project_id not in scope:
            continue
        open_count[project_id] = open_count.get(project_id, 0) + 1
        if planned < cutoff and scope[project_id] != ProjectStatus.RESERVE:
            overdue += 1
    started = sum(1 for pid, n in totals.items() if open_count.get(pid, 0) < n)
    completed = sum(1 for pid in totals if not open_count.get(pid))
    week_start = as_of - dt.timedelta(days=6)
    done = and_(col(Node.completed_on).is_not(None), col(Node.completed_on) <= as_of)
    evaluated = and_(col(Project.status).not_in((ProjectStatus.RESERVE, ProjectStatus.CANCELLED)), *here)
    due = (
        session.scalar(
            select(func.count())
            .select_from(Node)
            .join(Project, col(Project.id) == col(Node.project_id))
            .where(evaluated, col(Node.planned_date).between(week_start, as_of))
        )
        or 0
    )
    done_week = (
        session.scalar(
            select(func.count())
            .select_from(Node)
            .join(Project, col(Project.id) == col(Node.project_id))
            .where(evaluated, col(Node.planned_date).between(week_start, as_of), done)
        )
        or 0
    )
    return Figures(as_of, len(scope), started, completed, due, done_week, overdue)
