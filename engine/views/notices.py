"""Read model of `duban notices`: every notice issued, with its number, date and state (the JSON is for scripts)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from config.vocabulary import Kind
from engine.context import App
from engine.record import numbers
from engine.record.notices import document_date, state, superseded
from engine.store.models import Notice, Person
from notifications.kinds import REGISTRY


def notices_listing(app: App, session: Session) -> list[dict[str, Any]]:
    """Return every notice, ordered by id: kind, person, strike, document number, date and state."""
    rows = list(session.scalars(select(Notice).order_by(col(Notice.id))))
    persons: dict[int, str] = dict(session.execute(select(col(Person.id), col(Person.person_id))).all())
    given = numbers.numbers_of(session, [numbers.notice_key(n.id or 0) for n in rows])
    replaced = superseded(rows)
    return [
        {
            "id": n.id,
            "kind": n.kind,
            "kind_cn": REGISTRY[Kind(n.kind)].title,
            "person_id": persons.get(n.person_pk) if n.person_pk else None,
            "strike_id": n.strike_id,
            "doc_number": given.get(numbers.notice_key(n.id or 0)),
            "date": document_date(app, session, n).isoformat(),
            "status": str(state(n, replaced)),
            "supersedes": list((n.payload or {}).get("supersedes", [])),
            "rendered": n.rendered_at is not None,
        }
        for n in rows
    ]
