"""Who holds a project on a day: the one answer, for the evaluation, the ledger, the paperwork and the web.

A project's responsible person on day D is the assignment in force then: the latest effective
date on or before D, and of two with the same date the one recorded later. Assignments are
append-only, so the answer for any past day never changes.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_right
from collections.abc import Iterable

from sqlalchemy import select
from sqlmodel import Session, col

from engine.store.db import chunks
from engine.store.models import Assignment, Person, Project

#: A project's assignments in force order: the effective dates and, beside them, the persons (pks).
History = tuple[list[dt.date], list[int]]


def assignment_history(session: Session, project_ids: Iterable[int] | None = None) -> dict[int, History]:
    """Return each project's assignments in force order (all projects when none are named)."""
    query = select(col(Assignment.project_id), col(Assignment.effective_from), col(Assignment.person_pk)).order_by(
        col(Assignment.project_id), col(Assignment.effective_from), col(Assignment.id)
    )
    queries = (
        [query]
        if project_ids is None
        else [query.where(col(Assignment.project_id).in_(chunk)) for chunk in chunks(sorted(set(project_ids)))]
    )
    found: dict[int, History] = {}
    for chunk_query in queries:
        for project_id, effective_from, person_pk in session.execute(chunk_query):
            dates, persons = found.setdefault(project_id, ([], []))
            dates.append(effective_from)
            persons.append(person_pk)
    return found


def holder_on(history: dict[int, History], project_id: int, day: dt.date) -> int | None:
    """Return who holds a project on a day, from its assignment history (None: nobody)."""
    dates, persons = history.get(project_id, ([], []))
    at = bisect_right(dates, day)
    return persons[at - 1] if at else None


def holders(session: Session, on: dt.date = dt.date.max, project_ids: Iterable[int] | None = None) -> dict[int, int]:
    """Return each project's responsible person (pk) on a day; by default, the latest assignment of all projects."""
    history = assignment_history(session, project_ids)
    found = {pid: holder_on(history, pid, on) for pid in history}
    return {pid: pk for pid, pk in found.items() if pk is not None}


def held_by(session: Session, person_pk: int, on: dt.date) -> list[int]:
    """Return the projects a person holds on a day, in id order.

    Only the projects ever assigned to them are looked at: the cost follows the person's projects,
    not the ledger (the phone page asks on every request).
    """
    theirs = set(session.scalars(select(col(Assignment.project_id)).where(col(Assignment.person_pk) == person_pk)))
    return sorted(pid for pid, pk in holders(session, on, theirs).items() if pk == person_pk)


def holder_of(session: Session, project_code: str, on: dt.date = dt.date.max) -> str | None:
    """Return the person id of who holds one project (by code) on a day."""
    project_id = session.scalar(select(col(Project.id)).where(col(Project.code) == project_code))
    if project_id is None:
        return None
    pk = holders(session, on, [project_id]).get(project_id)
    return None if pk is None else session.scalar(select(col(Person.person_id)).where(col(Person.id) == pk))
