"""Levels and statuses, derived from counted strikes by the rules, and their corrections."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy import func, select
from sqlmodel import Session, col

from config.vocabulary import EventKind, Kind, PersonStatus, StatusCause, StrikeStatus, TraceKind
from engine.context import App
from engine.evaluation import traces
from engine.store.db import chunks
from engine.store.models import DecisionTrace, Person, StatusChange, Strike, StrikeEvent, id_of
from rules.decisions import CountedStrike


def counted_strikes(session: Session, person_pks: list[int]) -> dict[int, list[Strike]]:
    """Return each person's counted strikes in ladder order."""
    found: dict[int, list[Strike]] = {pk: [] for pk in person_pks}
    for chunk in chunks(person_pks):
        rows = session.scalars(
            select(Strike).where(col(Strike.person_pk).in_(chunk), col(Strike.status) == StrikeStatus.COUNTED)
        )
        for strike in rows:
            found[strike.person_pk or 0].append(strike)  # the query names persons: never None here
    for pk, strikes in found.items():
        strikes.sort(key=ladder_key)
        found[pk] = strikes
    return found


class Ordered(Protocol):
    """What ladder order and the rules need of a strike (a stored Strike or the evaluation's lighter rows)."""

    @property
    def id(self) -> int | None: ...
    @property
    def detected_on(self) -> dt.date: ...
    @property
    def planned_date(self) -> dt.date: ...
    @property
    def first_project_code(self) -> str: ...
    @property
    def first_node_code(self) -> str: ...


def ladder_key(strike: Ordered) -> tuple[dt.date, dt.date, str, str]:
    """Return the ordering key of levels: detected, planned date, project, node."""
    return (strike.detected_on, strike.planned_date, strike.first_project_code, strike.first_node_code)


def as_counted(strike: Ordered) -> CountedStrike:
    """Return the rules' view of a stored strike."""
    return CountedStrike(
        ref=f"s{strike.id}",
        planned_date=strike.planned_date,
        detected_on=strike.detected_on,
        project_code=strike.first_project_code,
        node_code=strike.first_node_code,
    )


def highest_level(session: Session, person_pk: int) -> int | None:
    """Return the highest level among a person's counted strikes (None when there is none)."""
    level: int | None = session.scalar(
        select(func.max(col(Strike.level))).where(
            col(Strike.person_pk) == person_pk, col(Strike.status) == StrikeStatus.COUNTED
        )
    )
    return level


def status_of(app: App, session: Session, person_pk: int) -> PersonStatus:
    """Return a person's derived status."""
    return app.policy.status_for(highest_level(session, person_pk))


def status_moved(app: App, old_level: int | None, new_level: int | None) -> bool:
    """Whether a person's highest level or status changed: what makes a status change to record."""
    return old_level != new_level or app.policy.status_for(old_level) != app.policy.status_for(new_level)


def record_status_change(
    app: App,
    session: Session,
    person: Person,
    old_level: int | None,
    new_level: int | None,
    cause: StatusCause,
    strike_id: int | None,
    day: dt.date | None,
) -> StatusChange | None:
    """Record a change of a person's highest level or status (the ground of a correction notice)."""
    if not status_moved(app, old_level, new_level):
        return None
    old_status = app.policy.status_for(old_level)
    new_status = app.policy.status_for(new_level)
    change = StatusChange(
        person_pk=id_of(person),
        old_level=old_level,
        new_level=new_level,
        old_status=old_status,
        new_status=new_status,
        cause=cause,
        strike_id=strike_id,
        day=day,
        actor=app.actor,
        recorded_at=app.now(),
    )
    session.add(change)
    session.flush()
    return change


def change_payload(change: StatusChange | None) -> dict[str, object]:
    """What a correction notice says of a person's level and status (nothing when they did not move)."""
    if change is None:
        return {}
    return {
        "old_level": change.old_level,
        "new_level": change.new_level,
        "old_status": str(change.old_status),
        "new_status": str(change.new_status),
    }


@dataclass
class Rederived:
    """What a re-ranking moved: the person's status change (if any) and each strike whose level changed."""

    change: StatusChange | None = None
    moved: list[tuple[int, int | None, int]] = field(default_factory=list)  # (strike id, old level, new level)


def rederive(
    app: App, session: Session, person_pk: int, cause: StatusCause, strike_id: int | None, day: dt.date | None = None
) -> Rederived:
    """Re-rank a person's counted strikes through the rules and record every level that moved.

    The caller issues the one correction notice the event calls for (an exemption, a revocation);
    a policy change, which has no event of its own, issues one per person whose status moved.
    """
    person = session.get(Person, person_pk)
    assert person is not None
    old_level = _cached_highest(session, person_pk, strike_id)
    for stopped in session.scalars(
        select(Strike).where(
            col(Strike.person_pk) == person_pk,
            col(Strike.status) != StrikeStatus.COUNTED,
            col(Strike.level).is_not(None),
        )
    ):
        stopped.level, stopped.action, stopped.decision = None, None, None
        session.add(stopped)
    strikes = counted_strikes(session, [person_pk])[person_pk]
    by_ref = {f"s{s.id}": s for s in strikes}
    ids = {ref: id_of(strike) for ref, strike in by_ref.items()}
    ranked = app.rules.derive_levels(f"person:{person.person_id}", [as_counted(s) for s in strikes])
    before = traces.current(session, ids.values())
    now, today = app.now(), day or app.today()
    result = Rederived()
    for decision in ranked:
        strike = by_ref[decision.strike_ref]
        ranking = traces.traced_ranking(decision, ids)
        if strike.level != decision.level or strike.action != decision.action:
            result.moved.append((id_of(strike), strike.level, decision.level))
            session.add(
                StrikeEvent(
                    strike_id=id_of(strike),
                    kind=EventKind.LEVEL_CHANGED,
                    old_level=strike.level,
                    new_level=decision.level,
                    text=app.wording.word("recalculated", cause),
                    actor=app.actor,
                    recorded_at=now,
                )
            )
            strike.level, strike.action = decision.level, decision.action
            session.add(strike)
        current = before.get(id_of(strike))
        if current is None or current.ranking != ranking:  # the level, or the strikes it rests on, moved
            trace = traces.Trace(
                kind=TraceKind.RERANKED,
                ranking=ranking,
                agenda=ranking.agenda,
                cause=StatusCause(cause),
                responsible=person.person_id,
                policy=app.rules.fingerprint,
                grace_days=app.policy.grace_days,
                grouping_policy=app.policy.strike_grouping,
            )
            session.add(
                DecisionTrace(
                    strike_id=id_of(strike),
                    kind=TraceKind.RERANKED,
                    version=traces.TRACE_VERSION,
                    body=traces.body(trace),
                    decided_on=today,
                    decided_at=now,
                )
            )
    new_level = max((d.level for d in ranked), default=None)
    session.flush()
    result.change = record_status_change(app, session, person, old_level, new_level, cause, strike_id, day)
    if cause == StatusCause.POLICY and result.change is not None:
        from engine.record.notices import issue

        issue(
            app,
            session,
            key=f"correction:status:{result.change.id}",
            kind=Kind.CORRECTION_NOTICE,
            person_pk=person.id,
            strike_id=None,
            status_change_id=result.change.id,
            date=today,
            payload={"cause": cause, **change_payload(result.change), "moved": result.moved},
        )
    return result


def _cached_highest(session: Session, person_pk: int, changed_strike_id: int | None) -> int | None:
    # The highest level before the change: counted strikes plus the one that just stopped counting.
    levels = [
        s.level
        for s in session.scalars(select(Strike).where(col(Strike.person_pk) == person_pk))
        if s.level is not None and (s.status == StrikeStatus.COUNTED or s.id == changed_strike_id)
    ]
    return max(levels, default=None)
