"""Read models of persons: `duban persons`, the persons' list and each one's page (their ladder, with the
explanation of every strike, and their projects), and the never-use register (永不使用人员名册)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import case, func, select
from sqlmodel import Session, col

from config.vocabulary import Decision, PersonStatus, StrikeStatus
from engine.context import App
from engine.evaluation.levels import ladder_key
from engine.record.holders import holders
from engine.store.db import chunks
from engine.store.models import Assignment, Person, Project, Strike, id_of
from engine.store.versioned import cached
from engine.views.lookup import Found
from engine.views.standing import Standing, sanction, standing
from engine.views.strikes import explain, strike_nodes, strike_record


def person_named(session: Session, person_id: str) -> Found[Person]:
    """The person of an id, and the districts whose staff may see them (where they were responsible or struck)."""
    person = session.scalars(select(Person).where(col(Person.person_id) == person_id)).first()
    if person is None:
        return Found(None, f"人员 {person_id} 不存在")
    assigned = select(col(Assignment.project_id)).where(col(Assignment.person_pk) == person.id)
    struck = select(col(Strike.project_id)).where(col(Strike.person_pk) == person.id)
    districts = frozenset(
        session.scalars(
            select(col(Project.district)).where(col(Project.id).in_(assigned) | col(Project.id).in_(struck)).distinct()
        )
    )
    return Found(person, f"人员 {person_id} 不存在", districts, hidden=True, outside=f"人员 {person_id} 不在您的片区")


def person_projects(session: Session, person: Person, district: str | None = None) -> list[dict[str, Any]]:
    """Return the projects a person was ever responsible for (``district``: of that district only), in code order,
    each saying whether they hold it now."""
    mine = list(
        session.scalars(
            select(Project)
            .where(
                col(Project.id).in_(select(col(Assignment.project_id)).where(col(Assignment.person_pk) == person.id))
            )
            .order_by(col(Project.code))
        )
    )
    holder_of = holders(session, project_ids=[id_of(p) for p in mine])
    return [
        {"code": p.code, "name": p.name, "district": p.district or "", "current": holder_of.get(id_of(p)) == person.id}
        for p in mine
        if district is None or p.district == district
    ]


def persons_json(app: App, session: Session) -> list[dict[str, Any]]:
    """Return every person with derived status and counted strikes, ordered by person id."""
    stats = {
        pk: (count, level)
        for pk, count, level in session.execute(
            select(col(Strike.person_pk), func.count(), func.max(col(Strike.level)))
            .where(col(Strike.status) == StrikeStatus.COUNTED, col(Strike.person_pk).is_not(None))
            .group_by(col(Strike.person_pk))
        )
    }
    out = []
    for person in session.scalars(select(Person).order_by(col(Person.person_id))):
        count, level = stats.get(person.id, (0, None))
        out.append(
            {
                "person_id": person.person_id,
                "name": person.name,
                "status": str(app.policy.status_for(level)),
                "counted_strikes": count,
            }
        )
    return out


def visible_person_pks(session: Session, district: str) -> set[int]:
    """Return the persons district staff may see: ever responsible for, or struck on, a project of theirs."""
    in_district = select(col(Project.id)).where(col(Project.district) == district)
    assigned = set(
        session.scalars(select(col(Assignment.person_pk)).where(col(Assignment.project_id).in_(in_district)))
    )
    struck = set(
        session.scalars(
            select(col(Strike.person_pk)).where(
                col(Strike.project_id).in_(in_district), col(Strike.person_pk).is_not(None)
            )
        )
    )
    return assigned | {pk for pk in struck if pk is not None}


def persons_page(
    app: App,
    session: Session,
    status: str | None = None,
    text: str | None = None,
    district: str | None = None,
    page: int = 1,
    per_page: int = 50,
) -> tuple[list[dict[str, Any]], int]:
    """Return one page of persons (status, counted strikes, highest level) and how many match."""
    everyone = cached(
        session,
        ("persons", district, app.policy.fingerprint(), app.today()),
        lambda: _persons_with_status(app, session, district),
    )
    wanted = (text or "").strip().lower()
    rows = [
        row
        for row in everyone
        if (not status or row["status"] == status)
        and (not wanted or wanted in row["person_id"].lower() or wanted in row["name"].lower())
    ]
    start = (max(page, 1) - 1) * per_page
    return rows[start : start + per_page], len(rows)


def counted_stats(
    session: Session, person_pks: list[int] | None = None
) -> dict[int, tuple[int, int | None, int | None]]:
    """Each person's counted strikes: how many, the highest level, and the highest level the meeting confirmed."""
    confirmed = func.max(case((col(Strike.decision) == Decision.CONFIRMED, col(Strike.level)), else_=None))
    query = (
        select(col(Strike.person_pk), func.count(), func.max(col(Strike.level)), confirmed)
        .where(col(Strike.status) == StrikeStatus.COUNTED, col(Strike.person_pk).is_not(None))
        .group_by(col(Strike.person_pk))
    )
    if person_pks is not None:
        query = query.where(col(Strike.person_pk).in_(person_pks))
    return {pk: (count, level, decided) for pk, count, level, decided in session.execute(query)}


def person_standing(app: App, session: Session, person_pk: int, as_of: dt.date) -> tuple[Standing, int]:
    """Return a person's standing (decided, or proposed awaiting a meeting) and their counted strikes."""
    count, level, decided = counted_stats(session, [person_pk]).get(person_pk, (0, None, None))
    return standing(app, level, decided, as_of), count


def _persons_with_status(app: App, session: Session, district: str | None) -> list[dict[str, Any]]:
    stats = counted_stats(session)
    visible = visible_person_pks(session, district) if district is not None else None
    as_of = app.today()
    rows = []
    for pk, person_id, name, unit in session.connection().execute(
        select(col(Person.id), col(Person.person_id), col(Person.name), col(Person.unit)).order_by(
            col(Person.person_id)
        )
    ):
        assert pk is not None
        if visible is not None and pk not in visible:
            continue
        count, level, decided = stats.get(pk, (0, None, None))
        stood = standing(app, level, decided, as_of)
        rows.append(
            {
                "pk": pk,
                "person_id": person_id,
                "name": name,
                "unit": unit or "",
                "status": str(stood.status),
                "status_cn": stood.words,
                "pending": stood.pending,
                "counted_strikes": count,
                "level": level,
            }
        )
    return rows


def person_ladder(app: App, session: Session, person: Person) -> list[dict[str, Any]]:
    """Return every strike of a person, in ladder order for the counted ones, each with its explanation."""
    strikes = list(session.scalars(select(Strike).where(col(Strike.person_pk) == person.id)))
    strikes.sort(key=lambda s: (s.status != StrikeStatus.COUNTED, ladder_key(s), s.id))
    nodes = strike_nodes(session, [s.id for s in strikes if s.id is not None])
    districts: dict[int, str | None] = dict(
        session.execute(
            select(col(Project.id), col(Project.district)).where(col(Project.id).in_({s.project_id for s in strikes}))
        ).all()
    )
    today = app.today()
    out = []
    for s in strikes:
        stated = sanction(
            app,
            status=s.status,
            level=s.level,
            action=s.action,
            decision=s.decision,
            meeting_date=s.meeting_date,
            detected_on=s.detected_on,
            as_of=today,
        )
        out.append(
            {
                "strike": s,
                "nodes": nodes.get(id_of(s), []),
                "district": districts.get(s.project_id),
                "explanation": explain(app, session, s),
                "record": strike_record(app, session, id_of(s)),
                "sanction": stated.text if stated else "",
                "decided": bool(stated and stated.decided),
                "action_cn": app.wording.word("action", s.action),
                "status_cn": app.wording.word("strike_status", s.status),
                "decision_cn": app.wording.word("decision", s.decision),
            }
        )
    return out


def never_use_register(
    app: App, session: Session, district: str | None = None, proposed: bool = False
) -> list[dict[str, Any]]:
    """Return the never-use register (永不使用人员名册): each person whose dismissal the meeting confirmed.

    ``proposed``: instead, the dismissals still awaiting the meeting (not in the register: 提请党组会研究)
    of persons the register does not hold yet.
    """
    dismissal_level = next(r.level for r in app.policy.ladder if r.status == PersonStatus.DISMISSED)
    visible = visible_person_pks(session, district) if district is not None else None
    first: dict[int, Strike] = {}
    confirmed = {
        pk
        for pk in session.scalars(
            select(col(Strike.person_pk)).where(
                col(Strike.status) == StrikeStatus.COUNTED,
                col(Strike.level) >= dismissal_level,
                col(Strike.decision) == Decision.CONFIRMED,
            )
        )
        if pk is not None
    }
    wanted = col(Strike.decision) == (Decision.PROPOSED if proposed else Decision.CONFIRMED)
    for strike in session.scalars(
        select(Strike)
        .where(col(Strike.status) == StrikeStatus.COUNTED, wanted, col(Strike.level) >= dismissal_level)
        .order_by(col(Strike.id))
    ):
        if proposed and strike.person_pk in confirmed:
            continue
        if strike.person_pk is not None and (visible is None or strike.person_pk in visible):
            current = first.get(strike.person_pk)
            if current is None or (strike.level or 0) < (current.level or 0):
                first[strike.person_pk] = strike
    persons = {
        p.id: p
        for chunk in chunks(sorted(first))
        for p in session.scalars(select(Person).where(col(Person.id).in_(chunk)))
    }
    nodes = strike_nodes(session, [s.id for s in first.values() if s.id is not None])
    out = []
    for pk, strike in sorted(first.items(), key=lambda item: (item[1].detected_on, persons[item[0]].person_id)):
        person = persons[pk]
        stated = sanction(
            app,
            status=strike.status,
            level=strike.level,
            action=strike.action,
            decision=strike.decision,
            meeting_date=strike.meeting_date,
            detected_on=strike.detected_on,
            as_of=app.today(),
        )
        out.append(
            {
                "person_id": person.person_id,
                "name": person.name,
                "unit": person.unit or "",
                "strike_id": strike.id,
                "level": strike.level,
                "detected_on": strike.detected_on,
                "decision": strike.decision,
                "decision_cn": app.wording.word("decision", strike.decision),
                "sanction": stated.text if stated else "",
                "meeting_date": strike.meeting_date,
                "nodes": nodes.get(id_of(strike), []),
            }
        )
    return out
