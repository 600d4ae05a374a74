"""Read model of `duban nodes`: each node with its current planned and completion dates."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from engine.store.models import Node, Project


def nodes_view(session: Session, project_code: str | None = None) -> list[dict[str, Any]]:
    """Return nodes with their current planned and completion dates."""
    query = select(
        col(Project.code), col(Node.code), col(Node.name), col(Node.planned_date), col(Node.completed_on)
    ).join(Project, col(Project.id) == col(Node.project_id))
    if project_code is not None:
        query = query.where(col(Project.code) == project_code)
    rows = sorted(session.execute(query).all(), key=lambda r: (r[0], r[1]))
    return [
        {
            "project_code": p,
            "node_code": n,
            "name": name,
            "planned_date": planned.isoformat(),
            "completed_on": done.isoformat() if done else None,
        }
        for p, n, name, planned, done in rows
    ]
