"""Issuing notices, and what state each is in: draft, final or superseded.

A decision of the ladder (a suspension, a dismissal) is only a proposal until the party-group
meeting confirms it: its notice is written as a draft (no number, marked 草稿, not sent to the
person). The meeting's confirmation issues the final decision — a new notice, numbered, that
``supersedes`` the draft. A notice that is not a decision (a review notice, a correction) is final
when issued. Each event issues one notice: an exemption or a revocation is one correction notice
saying what happened and how the person's level moved.

The state is derived from what was recorded at creation (the sealed ``payload``), never a flag
changed later.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from config.vocabulary import Kind
from engine.context import App
from engine.record import numbers
from engine.store.db import chunks
from engine.store.models import Notice, StatusChange, Strike, id_of
from notifications.kinds import REGISTRY


class NoticeState(StrEnum):
    """A notice's state (printed by `duban notices --json`); values are stable."""

    DRAFT = "draft"  # a decision awaiting the meeting: not numbered, not sent to the person
    FINAL = "final"  # issued: numbered where its kind is, sent
    SUPERSEDED = "superseded"  # a draft replaced by the final decision or by a correction


def drafted(kind: str) -> bool:
    """Whether a kind is issued as a draft until the meeting confirms it (the ladder's decisions)."""
    return REGISTRY[Kind(kind)].drafted


def is_draft(notice: Notice) -> bool:
    """Whether a notice is a draft (a decision not yet confirmed when it was written)."""
    return drafted(notice.kind) and not (notice.payload or {}).get("final")


def issue(
    app: App,
    session: Session,
    *,
    key: str,
    kind: str,
    person_pk: int | None,
    strike_id: int | None,
    payload: dict[str, Any],
    date: dt.date,
    status_change_id: int | None = None,
    supersedes: Iterable[int] = (),
) -> Notice:
    """Record a notice dated ``date`` (the replay's day, never the machine's); a final one gets its number."""
    body = {**payload, "date": date.isoformat()}
    replaced = sorted(set(supersedes))
    if replaced:
        body["supersedes"] = replaced
    notice = Notice(
        key=key,
        kind=kind,
        person_pk=person_pk,
        strike_id=strike_id,
        status_change_id=status_change_id,
        payload=body,
        created_at=app.now(),
    )
    session.add(notice)
    session.flush()
    if not is_draft(notice):
        numbers.assign_one(app, session, kind, numbers.notice_key(id_of(notice)), date, id_of(notice))
    return notice


def open_drafts(session: Session, strike_ids: Iterable[int]) -> list[Notice]:
    """Return the drafts of some strikes that nothing has superseded yet."""
    of_strikes = [
        n
        for chunk in chunks(sorted(set(strike_ids)))
        for n in session.scalars(select(Notice).where(col(Notice.strike_id).in_(chunk)).order_by(col(Notice.id)))
    ]
    replaced = {i for n in of_strikes for i in (n.payload or {}).get("supersedes", [])}
    return [n for n in of_strikes if is_draft(n) and n.id not in replaced]


def has_notice(session: Session, strike_id: int, kind: str) -> bool:
    """Whether a notice of a kind was issued for a strike."""
    return (
        session.scalar(
            select(col(Notice.id)).where(col(Notice.strike_id) == strike_id, col(Notice.kind) == kind).limit(1)
        )
        is not None
    )


def superseded(notices: Iterable[Notice]) -> set[int]:
    """Return the ids of the notices that some notice among these supersedes."""
    return {int(i) for n in notices for i in (n.payload or {}).get("supersedes", [])}


def state(notice: Notice, replaced: set[int]) -> NoticeState:
    """Return a notice's state, given the ids superseded (``superseded``)."""
    if notice.id in replaced:
        return NoticeState.SUPERSEDED
    return NoticeState.DRAFT if is_draft(notice) else NoticeState.FINAL


def document_date(app: App, session: Session, notice: Notice) -> dt.date:
    """Return the date a notice bears: the one recorded when it was issued.

    Notices issued before revision 0012 recorded none: a strike's notice bears the day it was
    found; a correction, the day of its status change, else the day it was written.
    """
    recorded = (notice.payload or {}).get("date")
    if recorded:
        return dt.date.fromisoformat(recorded)
    if notice.kind == Kind.CORRECTION_NOTICE:
        change = session.get(StatusChange, notice.status_change_id) if notice.status_change_id else None
        if change is not None and change.day is not None:
            return change.day
    elif notice.strike_id is not None:
        strike = session.get(Strike, notice.strike_id)
        if strike is not None:
            return strike.detected_on
    return notice.created_at.astimezone(app.settings.tz).date()
