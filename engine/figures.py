"""The figures the office reports: start and completion rates, nodes due and done, traffic lights."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import and_, case, func, or_, select
from sqlmodel import Session

from config.policy import Policy
from engine.models import Node, Project, ProjectStatus


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


def figures(session: Session, policy: Policy, as_of: dt.date) -> Figures:
    """Compute the figures as of a day (the week is the seven days ending that day)."""
    done = and_(Node.completed_on.is_not(None), Node.completed_on <= as_of)
    per_project = (
        select(Node.project_id.label("project_id"), func.count().label("nodes"),
               func.sum(case((done, 1), else_=0)).label("done"))
        .join(Project, Project.id == Node.project_id)
        .where(Project.status != ProjectStatus.CANCELLED)
        .group_by(Node.project_id).subquery())
    projects = session.scalar(select(func.count()).select_from(Project)
                              .where(Project.status != ProjectStatus.CANCELLED)) or 0
    started = session.scalar(select(func.count()).select_from(per_project).where(per_project.c.done > 0)) or 0
    completed = session.scalar(select(func.count()).select_from(per_project)
                               .where(per_project.c.done == per_project.c.nodes)) or 0
    week_start = as_of - dt.timedelta(days=6)
    grace = dt.timedelta(days=policy.grace_days)
    evaluated = Project.status.not_in((ProjectStatus.RESERVE, ProjectStatus.CANCELLED))
    due = session.scalar(select(func.count()).select_from(Node).join(Project, Project.id == Node.project_id)
                         .where(evaluated, Node.planned_date.between(week_start, as_of))) or 0
    done_week = session.scalar(select(func.count()).select_from(Node).join(Project, Project.id == Node.project_id)
                               .where(evaluated, Node.planned_date.between(week_start, as_of), done)) or 0
    overdue = session.scalar(select(func.count()).select_from(Node).join(Project, Project.id == Node.project_id)
                             .where(evaluated, Node.planned_date < as_of - grace,
                                    or_(Node.completed_on.is_(None), Node.completed_on > as_of)))
    return Figures(as_of, projects, started, completed, due, done_week, overdue or 0)
