"""Read models of notices: `duban notices` (every notice issued, with its number, date and state; the JSON is
for scripts), the documents page's list of notices, and one notice for its download."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session, col

from config.vocabulary import Kind
from engine.context import App
from engine.record import numbers
from engine.record.notices import document_date, state, superseded
from engine.store.models import Notice, Person, Project, Strike, id_of
from engine.views.lookup import Found
from notifications.kinds import REGISTRY


def notices_listing(app: App, session: Session) -> list[dict[str, Any]]:
    """Return every notice, ordered by id: kind, person, strike, document number, date and state."""
    rows = list(session.scalars(select(Notice).order_by(col(Notice.id))))
    persons: dict[int, str] = dict(session.execute(select(col(Person.id), col(Person.person_id))).all())
    given = numbers.numbers_of(session, [numbers.notice_key(id_of(n)) for n in rows])
    replaced = superseded(rows)
    return [
        {
            "id": n.id,
            "kind": n.kind,
            "kind_cn": REGISTRY[Kind(n.kind)].title,
            "person_id": persons.get(n.person_pk) if n.person_pk else None,
            "strike_id": n.strike_id,
            "doc_number": given.get(numbers.notice_key(id_of(n))),
            "date": document_date(app, session, n).isoformat(),
            "status": str(state(n, replaced)),
            "supersedes": list((n.payload or {}).get("supersedes", [])),
            "rendered": n.rendered_at is not None,
        }
        for n in rows
    ]


def notices_page(
    session: Session, kind: str | None = None, district: str | None = None, page: int = 1, per_page: int = 50
) -> tuple[list[dict[str, Any]], int]:
    """Return one page of notices, newest first (``kind``: of that kind; ``district``: about its strikes only),
    each with its person and title, and how many there are."""
    query = (
        select(Notice, col(Person.person_id), col(Person.name))
        .outerjoin(Person, col(Person.id) == col(Notice.person_pk))
        .outerjoin(Strike, col(Strike.id) == col(Notice.strike_id))
    )
    if district is not None:
        query = query.join(Project, col(Project.id) == col(Strike.project_id)).where(col(Project.district) == district)
    if kind in {k.value for k in Kind}:
        query = query.where(col(Notice.kind) == kind)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    notices = [
        {"notice": n, "person_id": pid, "name": name, "title": REGISTRY[Kind(n.kind)].title}
        for n, pid, name in session.execute(
            query.order_by(col(Notice.id).desc()).offset((page - 1) * per_page).limit(per_page)
        )
    ]
    return notices, total


def notice_numbered(session: Session, notice_id: int) -> Found[Notice]:
    """The notice of a number, and the district of its strike's project (None: a notice of no strike)."""
    notice = session.get(Notice, notice_id)
    if notice is None:
        return Found(None, f"通知 #{notice_id} 不存在")
    district = (
        session.scalar(
            select(col(Project.district))
            .join(Strike, col(Strike.project_id) == col(Project.id))
            .where(col(Strike.id) == notice.strike_id)
        )
        if notice.strike_id
        else None
    )
    return Found(notice, f"通知 #{notice_id} 不存在", frozenset({district}), outside="无权查看其他片区的通知")
