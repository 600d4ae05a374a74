"""Recording what happened: completions, extensions, assignments, decisions.

Every function here is called inside the caller's transaction and appends history
(who, when, why); nothing is overwritten without a trace.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from config.vocabulary import (
    DeadlineStatus,
    Decision,
    EventKind,
    HistoryKind,
    Kind,
    LogAction,
    LogEntity,
    PersonStatus,
    StatusCause,
    StrikeStatus,
)
from engine.context import App
from engine.errors import Refused
from engine.evaluation import traces
from engine.evaluation.levels import Rederived, change_payload, rederive, status_of
from engine.record import notices
from engine.store.models import (
    Assignment,
    ChangeLog,
    Deadline,
    Miss,
    Node,
    NodeHistory,
    Person,
    Project,
    Strike,
    StrikeEvent,
    id_of,
)
from notifications.wording import cn_date


def log(
    app: App,
    session: Session,
    entity: LogEntity,
    key: str,
    action: LogAction,
    detail: dict[str, Any],
    reason: str | None = None,
) -> None:
    """Append one entry to the change log."""
    session.add(
        ChangeLog(at=app.now(), actor=app.actor, entity=entity, key=key, action=action, detail=detail, reason=reason)
    )


def find_node(session: Session, project_code: str, node_code: str) -> tuple[Project, Node]:
    """Return a project's node or refuse naming what is unknown."""
    project = session.scalars(select(Project).where(col(Project.code) == project_code)).first()
    if project is None:
        raise Refused(f"项目 {project_code} 不存在")
    node = session.scalars(select(Node).where(col(Node.project_id) == project.id, col(Node.code) == node_code)).first()
    if node is None:
        raise Refused(f"项目 {project_code} 没有节点 {node_code}")
    return project, node


def find_person(session: Session, person_id: str) -> Person:
    """Return a person by id or refuse."""
    person = session.scalars(select(Person).where(col(Person.person_id) == person_id)).first()
    if person is None:
        raise Refused(f"人员 {person_id} 不存在")
    return person


def open_deadline(session: Session, node_id: int, planned_date: dt.date) -> None:
    """Make a planned date a live deadline (new, or reopened after being superseded)."""
    existing = session.scalars(
        select(Deadline).where(col(Deadline.node_id) == node_id, col(Deadline.planned_date) == planned_date)
    ).first()
    if existing is None:
        session.add(Deadline(node_id=node_id, planned_date=planned_date))
    elif existing.status == DeadlineStatus.SUPERSEDED:
        existing.status, existing.closed_on = DeadlineStatus.OPEN, None
        session.add(existing)


def change_planned_date(
    app: App, session: Session, project: Project, node: Node, new_date: dt.date, reason: str, source: str
) -> bool:
    """Record an extension (a new planned date); a detected miss of the old date stays."""
    old = node.planned_date
    if new_date == old:
        return False
    for deadline in session.scalars(
        select(Deadline).where(col(Deadline.node_id) == node.id, col(Deadline.status) == DeadlineStatus.OPEN)
    ):
        deadline.status, deadline.closed_on = DeadlineStatus.SUPERSEDED, app.today()
        session.add(deadline)
    node.planned_date = new_date
    session.add(node)
    session.flush()
    open_deadline(session, id_of(node), new_date)
    session.add(
        NodeHistory(
            node_id=id_of(node),
            kind=HistoryKind.EXTENSION,
            planned_date=new_date,
            previous_planned_date=old,
            reason=reason,
            source=source,
            actor=app.actor,
            recorded_at=app.now(),
        )
    )
    log(
        app,
        session,
        LogEntity.NODE,
        f"{project.code}/{node.code}",
        LogAction.EXTEND,
        {"from": old.isoformat(), "to": new_date.isoformat(), "source": source},
        reason,
    )
    return True


def record_completion(
    app: App,
    session: Session,
    project: Project,
    node: Node,
    completed_on: dt.date,
    source: str,
    reason: str | None = None,
) -> bool:
    """Record a completion; one dated within a missed deadline's grace revokes that miss."""
    if completed_on > app.today():
        raise Refused(f"完成日期 {completed_on.isoformat()} 晚于今天 {app.today().isoformat()}")
    previous = node.completed_on
    if previous == completed_on:
        return False
    node.completed_on = completed_on
    session.add(node)
    session.add(
        NodeHistory(
            node_id=id_of(node),
            kind=HistoryKind.COMPLETION,
            completed_on=completed_on,
            previous_completed_on=previous,
            reason=reason,
            source=source,
            actor=app.actor,
            recorded_at=app.now(),
        )
    )
    log(
        app,
        session,
        LogEntity.NODE,
        f"{project.code}/{node.code}",
        LogAction.COMPLETE,
        {"on": completed_on.isoformat(), "previous": previous.isoformat() if previous else None, "source": source},
        reason,
    )
    session.flush()
    _revoke_misses_met_by(app, session, node, completed_on)
    return True


def misses_met_by(app: App, session: Session, node: Node, completed_on: dt.date) -> list[Miss]:
    """Return the node's misses not revoked that a completion on this day would revoke (within their deadline)."""
    misses = session.scalars(select(Miss).where(col(Miss.node_id) == node.id, col(Miss.revoked_on).is_(None))).all()
    return [miss for miss in misses if completed_on <= app.deadline_end(miss.planned_date)]


def _revoke_misses_met_by(app: App, session: Session, node: Node, completed_on: dt.date) -> None:
    for miss in misses_met_by(app, session, node, completed_on):
        miss.revoked_on = app.today()
        miss.revoked_reason = f"补录完成日期 {cn_date(completed_on)}，未超过计划日期 {cn_date(miss.planned_date)}"
        session.add(miss)
        session.flush()
        strike = session.get(Strike, miss.strike_id)
        assert strike is not None
        remaining = session.scalars(
            select(Miss).where(col(Miss.strike_id) == strike.id, col(Miss.revoked_on).is_(None))
        ).first()
        if remaining is not None:
            session.add(
                StrikeEvent(
                    strike_id=id_of(strike),
                    kind=EventKind.NODE_REVOKED,
                    text=miss.revoked_reason,
                    actor=app.actor,
                    recorded_at=app.now(),
                )
            )
            continue
        if strike.status != StrikeStatus.COUNTED:
            continue
        old_level = strike.level
        strike.status = StrikeStatus.REVOKED
        session.add(strike)
        session.add(
            StrikeEvent(
                strike_id=id_of(strike),
                kind=EventKind.REVOKED,
                text=miss.revoked_reason,
                actor=app.actor,
                recorded_at=app.now(),
            )
        )
        log(app, session, LogEntity.STRIKE, str(strike.id), LogAction.REVOKE, {"node_id": node.id}, miss.revoked_reason)
        session.flush()
        moved = (
            rederive(app, session, strike.person_pk, StatusCause.REVOCATION, strike.id, app.today())
            if strike.person_pk is not None
            else Rederived()
        )
        _correction(app, session, strike, StrikeStatus.REVOKED, miss.revoked_reason, None, old_level, moved)


def _correction(
    app: App,
    session: Session,
    strike: Strike,
    what: StrikeStatus,
    reason: str,
    meeting: dt.date | None,
    old_level: int | None,
    moved: Rederived,
) -> None:
    """Issue the one correction notice of an exemption or a revocation: what happened, and how the level moved."""
    notices.issue(
        app,
        session,
        key=f"correction:strike:{strike.id}:{what}",
        kind=Kind.CORRECTION_NOTICE,
        person_pk=strike.person_pk,
        strike_id=strike.id,
        status_change_id=moved.change.id if moved.change is not None else None,
        date=app.today(),
        payload={
            "cause": what,
            "reason": reason,
            "meeting": meeting.isoformat() if meeting else None,
            "old_level": old_level,
            **change_payload(moved.change),
            "moved": [m for m in moved.moved if m[0] != strike.id],
        },
        supersedes=[id_of(n) for n in notices.open_drafts(session, [id_of(strike)])],
    )


def assign(
    app: App,
    session: Session,
    project: Project,
    person: Person,
    effective_from: dt.date,
    source: str,
    reason: str | None = None,
) -> None:
    """Make a person responsible for a project from a date; a dismissed person is refused."""
    if status_of(app, session, id_of(person)) == PersonStatus.DISMISSED:
        strike = dismissal_strike(session, id_of(person))
        raise Refused(
            f"人员 {person.person_id}（{person.name}）已被彻底免除负责人职务、永不使用"
            f"（问责记录 #{strike}），不能担任项目 {project.code} 的负责人"
        )
    session.add(
        Assignment(
            project_id=id_of(project),
            person_pk=id_of(person),
            effective_from=effective_from,
            reason=reason,
            source=source,
            actor=app.actor,
            recorded_at=app.now(),
        )
    )
    log(
        app,
        session,
        LogEntity.PROJECT,
        project.code,
        LogAction.ASSIGN,
        {"person_id": person.person_id, "from": effective_from.isoformat(), "source": source},
        reason,
    )


def dismissal_strike(session: Session, person_pk: int) -> int | None:
    """Return the id of the counted strike that dismissed a person (the highest level)."""
    strike = session.scalars(
        select(Strike)
        .where(col(Strike.person_pk) == person_pk, col(Strike.status) == StrikeStatus.COUNTED)
        .order_by(col(Strike.level).desc(), col(Strike.id))
    ).first()
    return strike.id if strike else None


def confirm(app: App, session: Session, strike: Strike, meeting: dt.date, text: str | None) -> None:
    """Record the meeting's confirmation of a counted strike."""
    if strike.status != StrikeStatus.COUNTED:
        raise Refused(f"问责记录 #{strike.id} 状态为 {strike.status}，不能确认")
    if strike.person_pk is None:
        raise Refused(f"问责记录 #{strike.id} 没有责任人，请先为项目指定负责人")
    if strike.decision == Decision.CONFIRMED:
        raise Refused(f"问责记录 #{strike.id} 已于 {strike.meeting_date} 的党组会确认")
    if meeting < strike.detected_on:
        raise Refused(
            f"会议日期 {meeting.isoformat()} 早于问责记录 #{strike.id} 的发现日期 {strike.detected_on.isoformat()}"
        )
    strike.decision, strike.meeting_date, strike.decision_text = Decision.CONFIRMED, meeting, text
    session.add(strike)
    session.add(
        StrikeEvent(
            strike_id=id_of(strike),
            kind=EventKind.CONFIRMED,
            meeting_date=meeting,
            text=text,
            new_level=strike.level,
            actor=app.actor,
            recorded_at=app.now(),
        )
    )
    log(app, session, LogEntity.STRIKE, str(strike.id), LogAction.CONFIRM, {"meeting": meeting.isoformat()}, text)
    _issue_final(app, session, strike, meeting)


def _issue_final(app: App, session: Session, strike: Strike, meeting: dt.date) -> None:
    """Issue the decision the meeting confirmed: numbered, dated the meeting's day, replacing its draft.

    The notice is of the strike's kind as it stands now (an exemption at the same meeting may have
    moved it down a rung); a review notice already issued for the strike is not issued again.
    """
    current = traces.current_rows(session, [id_of(strike)]).get(id_of(strike))
    if current is None or current[1].ranking is None:
        return
    row, trace = current
    assert trace.ranking is not None
    kind = trace.ranking.notice
    drafts = notices.open_drafts(session, [id_of(strike)])
    if not notices.drafted(kind) and not drafts and notices.has_notice(session, id_of(strike), kind):
        return
    notices.issue(
        app,
        session,
        key=f"{kind}:{strike.id}:final",
        kind=kind,
        person_pk=strike.person_pk,
        strike_id=strike.id,
        date=meeting,
        supersedes=[id_of(n) for n in drafts],
        payload={"level": trace.ranking.level, "trace": row.id, "final": True, "meeting": meeting.isoformat()},
    )


def exempt(app: App, session: Session, strike: Strike, reason: str, meeting: dt.date | None) -> None:
    """Exempt a strike: it stops counting and the person's later strikes move down."""
    if not reason.strip():
        raise Refused("豁免必须写明理由（--reason）")
    if strike.status != StrikeStatus.COUNTED:
        raise Refused(f"问责记录 #{strike.id} 状态为 {strike.status}，不能豁免")
    old_level = strike.level
    strike.status = StrikeStatus.EXEMPTED
    strike.decision_text = reason
    if meeting is not None:
        strike.meeting_date = meeting
    session.add(strike)
    session.add(
        StrikeEvent(
            strike_id=id_of(strike),
            kind=EventKind.EXEMPTED,
            meeting_date=meeting,
            text=reason,
            old_level=old_level,
            actor=app.actor,
            recorded_at=app.now(),
        )
    )
    log(
        app,
        session,
        LogEntity.STRIKE,
        str(strike.id),
        LogAction.EXEMPT,
        {"meeting": meeting.isoformat() if meeting else None},
        reason,
    )
    session.flush()
    moved = (
        rederive(app, session, strike.person_pk, StatusCause.EXEMPTION, strike.id, app.today())
        if strike.person_pk is not None
        else Rederived()
    )
    _correction(app, session, strike, StrikeStatus.EXEMPTED, reason, meeting, old_level, moved)


def request_exemption(app: App, session: Session, strike: Strike, reason: str) -> None:
    """Record that the office asks the meeting to exempt a strike (it goes on the next agenda)."""
    if not reason.strip():
        raise Refused("免责申请必须写明理由（--reason）")
    if strike.status != StrikeStatus.COUNTED:
        raise Refused(f"问责记录 #{strike.id} 状态为 {strike.status}，无需申请免责")
    session.add(
        StrikeEvent(
            strike_id=id_of(strike),
            kind=EventKind.EXEMPTION_REQUESTED,
            text=reason,
            actor=app.actor,
            recorded_at=app.now(),
        )
    )
    log(app, session, LogEntity.STRIKE, str(strike.id), LogAction.REQUEST_EXEMPTION, {}, reason)


def open_requests(session: Session, strike_ids: list[int] | None = None) -> dict[int, list[StrikeEvent]]:
    """Return the exemption requests no meeting has answered yet, by strike (a rejection answers those before it)."""
    query = select(StrikeEvent).where(
        col(StrikeEvent.kind).in_((EventKind.EXEMPTION_REQUESTED, EventKind.EXEMPTION_REJECTED))
    )
    if strike_ids is not None:
        query = query.where(col(StrikeEvent.strike_id).in_(strike_ids))
    pending: dict[int, list[StrikeEvent]] = {}
    for event in session.scalars(query.order_by(col(StrikeEvent.id))):
        if event.kind == EventKind.EXEMPTION_REJECTED:
            pending.pop(event.strike_id, None)
        else:
            pending.setdefault(event.strike_id, []).append(event)
    return pending


def reject_exemption(app: App, session: Session, strike: Strike, reason: str, meeting: dt.date | None) -> None:
    """Record that the meeting turned down a strike's exemption request (the strike stands as it was)."""
    if not reason.strip():
        raise Refused("驳回免责申请必须写明理由（--reason）")
    if strike.status != StrikeStatus.COUNTED:
        raise Refused(f"问责记录 #{strike.id} 状态为 {strike.status}，没有待审议的免责申请")
    if not open_requests(session, [id_of(strike)]):
        raise Refused(f"问责记录 #{strike.id} 没有待审议的免责申请")
    session.add(
        StrikeEvent(
            strike_id=id_of(strike),
            kind=EventKind.EXEMPTION_REJECTED,
            meeting_date=meeting,
            text=reason,
            actor=app.actor,
            recorded_at=app.now(),
        )
    )
    log(
        app,
        session,
        LogEntity.STRIKE,
        str(strike.id),
        LogAction.REJECT_EXEMPTION,
        {"meeting": meeting.isoformat() if meeting else None},
        reason,
    )
