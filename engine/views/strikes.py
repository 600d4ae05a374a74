"""Read models: what `strikes`, `persons` and `strike explain` print (JSON fields are a contract)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, func, select
from sqlmodel import Session, col

from config.vocabulary import Decision, EventKind, StrikeStatus, TraceKind
from engine.context import App
from engine.evaluation import traces
from engine.store.db import chunks
from engine.store.models import Miss, Node, Person, Project, Strike, StrikeEvent, id_of
from engine.views.standing import Standing, sanction, standing
from notifications.wording import cn_date


def strike_nodes(session: Session, strike_ids: list[int] | None = None) -> dict[int, list[dict[str, Any]]]:
    """Return each strike's nodes (revoked ones last, flagged), in code order."""
    query = (
        select(
            col(Miss.strike_id),
            col(Project.code),
            col(Node.code),
            col(Node.name),
            col(Miss.planned_date),
            col(Miss.revoked_on),
        )
        .join(Node, col(Node.id) == col(Miss.node_id))
        .join(Project, col(Project.id) == col(Node.project_id))
    )
    queries = [query] if strike_ids is None else [query.where(col(Miss.strike_id).in_(c)) for c in chunks(strike_ids)]
    found: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for chunk_query in queries:
        for strike_id, project_code, node_code, name, planned, revoked in session.execute(chunk_query):
            found[strike_id].append(
                {
                    "project_code": project_code,
                    "node_code": node_code,
                    "name": name,
                    "planned_date": planned,
                    "revoked": revoked is not None,
                }
            )
    for nodes in found.values():
        nodes.sort(key=lambda n: (n["revoked"], n["project_code"], n["node_code"]))
    return found


def strikes_json(session: Session) -> list[dict[str, Any]]:
    """Return every strike as `duban strikes --json` prints it, ordered by id."""
    persons: dict[int, str] = dict(session.execute(select(col(Person.id), col(Person.person_id))).all())
    nodes = strike_nodes(session)
    out = []
    for strike in session.scalars(select(Strike).order_by(col(Strike.id))):
        listed = [n for n in nodes.get(id_of(strike), []) if not n["revoked"]] or nodes.get(id_of(strike), [])
        counted = strike.status == StrikeStatus.COUNTED
        out.append(
            {
                "id": strike.id,
                "person_id": persons.get(strike.person_pk) if strike.person_pk else None,
                "project_codes": sorted({n["project_code"] for n in listed}),
                "nodes": [
                    {
                        "project_code": n["project_code"],
                        "node_code": n["node_code"],
                        "planned_date": n["planned_date"].isoformat(),
                    }
                    for n in listed
                ],
                "planned_date": strike.planned_date.isoformat(),
                "detected_on": strike.detected_on.isoformat(),
                "level": strike.level if counted else None,
                "action": strike.action if counted else None,
                "status": strike.status,
                "decision": strike.decision if counted else None,
            }
        )
    return out


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


def explain(
    app: App, session: Session, strike: Strike, decision: traces.Trace | None = None, as_of: dt.date | None = None
) -> list[str]:
    """Return the facts and the rules behind a strike, in Chinese, one line each — read from its decision trace.

    The level printed is that of ``decision`` (a notice's), by default the strike's current one.
    Only facts: node, planned date, day found, the rule, the earlier strikes counted, the
    decision. Who recorded what is the strike's record (``strike_record``), kept in 记录在案.
    """
    words = app.wording
    person = session.get(Person, strike.person_pk) if strike.person_pk else None
    project = session.get(Project, strike.project_id)
    assert project is not None
    assert strike.id is not None
    nodes = strike_nodes(session, [strike.id]).get(strike.id, [])
    recorded = traces.of_strike(session, strike.id)
    opened = next((t for row, t in recorded if row.kind == TraceKind.OPENED), None)
    if opened is None:
        raise ValueError(f"strike #{strike.id} has no decision trace: run duban init")
    if decision is None:
        decision = next(t for row, t in reversed(recorded) if row.kind != TraceKind.JOINED)
    lines = [f"问责记录 #{strike.id}（{words.word('strike_status', strike.status)}）"]
    lines.append(
        f"责任人：{person.person_id} {person.name}（计划日期当天的项目负责人）"
        if person
        else f"责任人：无（项目 {project.code} {project.name} 在计划日期当天没有负责人）"
    )
    for node in nodes:
        mark = "（已撤销：补录的完成日期未逾期）" if node["revoked"] else ""
        lines.append(
            f"逾期节点：{node['project_code']} {node['node_code']} {node['name']}，"
            f"计划完成日期 {cn_date(node['planned_date'])}{mark}"
        )
    grace = opened.grace_days
    deadline = "计划日期当天结束" if not grace else f"计划日期后 {grace} 天（宽限期）结束"
    lines.append(f"事实：截至{deadline}仍未完成，于 {cn_date(strike.detected_on)} 的每日检点中发现")
    lines.append(f"规则：{words.word('grouping_rule', opened.grouping)}")
    for rule in dict.fromkeys(t.grouping for row, t in recorded if row.kind == TraceKind.JOINED):
        lines.append(f"规则：{words.word('grouping_rule', rule)}")
    ranking = decision.ranking
    if strike.status == StrikeStatus.COUNTED and ranking is not None:
        action = words.word("action", ranking.action)
        # The rung's title often begins with the action's own word (做检查（记录在案）): say it once.
        outcome = ranking.title if ranking.title.startswith(action) else f"{action}：{ranking.title}"
        lines.append(
            f"等级：第 {ranking.level} 次（{words.word('rank_rule', ranking.rule, window=ranking.window_days)}）"
            f" → {outcome}"
        )
        if ranking.counted_before:
            lines.append(f"依据：此前计入的问责记录 {basis_text(session, ranking.counted_before)}")
        decided, meeting = strike.decision, strike.meeting_date
        if as_of is not None and meeting is not None and meeting > as_of:
            decided, meeting = Decision.PROPOSED, None  # a document dated before the meeting states the proposal
        stated = sanction(
            app,
            status=strike.status,
            level=ranking.level,
            action=ranking.action,
            decision=decided,
            meeting_date=meeting,
            detected_on=strike.detected_on,
            as_of=as_of or app.today(),
        )
        if stated is not None:
            lines.append(f"决定：{stated.text}")
    elif strike.status == StrikeStatus.EXEMPTED:
        when = f"经 {cn_date(strike.meeting_date)} 党组会研究" if strike.meeting_date else ""
        lines.append(f"决定：{when}予以豁免（{strike.decision_text}），不计入问责次数")
    notes = list(dict.fromkeys(t.note for _row, t in recorded if t.note))
    if notes:
        lines.append(f"说明：依据由数据库升级时按原有记录重建（{'；'.join(notes)}）")
    return lines


def strike_record(app: App, session: Session, strike_id: int) -> list[str]:
    """Return what was recorded on a strike — who did what and when, oldest first (记录在案, not for documents)."""
    words = app.wording
    lines = []
    for event in session.scalars(
        select(StrikeEvent).where(col(StrikeEvent.strike_id) == strike_id).order_by(col(StrikeEvent.id))
    ):
        when = event.recorded_at.astimezone(app.settings.tz).strftime("%Y-%m-%d %H:%M")
        detail = f"：{event.text}" if event.text else ""
        levels = f"（等级 {event.old_level} → {event.new_level}）" if event.kind == EventKind.LEVEL_CHANGED else ""
        meeting = f"（{cn_date(event.meeting_date)} 党组会）" if event.meeting_date else ""
        lines.append(f"{when} {event.actor} {words.word('event_kind', event.kind)}{meeting}{levels}{detail}")
    return lines


@dataclass(frozen=True)
class DecisionState:
    """Where a strike stands for the meeting page: decided (and how) or open, and any request awaiting an answer."""

    decided: bool
    words: str  # 已由 2024年7月8日 党组会确认 / 已豁免（…）/ 已撤销 / ''
    request_open: bool
    request_reason: str


def decision_states(app: App, session: Session, strikes: list[Strike]) -> dict[int, DecisionState]:
    """Whether each strike is still to be decided (no decision form is offered for a decided one)."""
    from engine.record.write import open_requests

    requests = open_requests(session, [id_of(s) for s in strikes]) if strikes else {}
    states = {}
    for strike in strikes:
        if strike.status == StrikeStatus.EXEMPTED:
            when = f"经 {cn_date(strike.meeting_date)} 党组会研究" if strike.meeting_date else ""
            words = f"已{when}豁免（{strike.decision_text}）" if strike.decision_text else f"已{when}豁免"
        elif strike.status != StrikeStatus.COUNTED:
            words = f"已{app.wording.word('strike_status', strike.status)}"
        elif strike.decision == Decision.CONFIRMED:
            words = f"已由 {cn_date(strike.meeting_date)} 党组会确认" if strike.meeting_date else "已由党组会确认"
        else:
            words = ""
        opened = requests.get(id_of(strike), [])
        states[id_of(strike)] = DecisionState(
            decided=bool(words),
            words=words,
            request_open=bool(opened) and strike.status == StrikeStatus.COUNTED,
            request_reason=opened[-1].text or "" if opened else "",
        )
    return states


def basis(session: Session, strike_ids: tuple[int, ...]) -> list[dict[str, Any]]:
    """The strikes a level rests on, with their numbers, dates and nodes (what a decision cites)."""
    found = {s.id: s for s in session.scalars(select(Strike).where(col(Strike.id).in_(strike_ids)))}
    nodes = strike_nodes(session, list(strike_ids))
    return [
        {
            "id": sid,
            "detected_on": found[sid].detected_on,
            "planned_date": found[sid].planned_date,
            "nodes": [n for n in nodes.get(sid, []) if not n["revoked"]] or nodes.get(sid, []),
        }
        for sid in strike_ids
        if sid in found
    ]


def basis_text(session: Session, strike_ids: tuple[int, ...]) -> str:
    """The strikes a level rests on, in one line: #1（2024年7月2日发现，计划 2024年7月1日）、…"""
    return "、".join(
        f"#{b['id']}（{cn_date(b['detected_on'])}发现，计划完成日期 {cn_date(b['planned_date'])}）"
        for b in basis(session, strike_ids)
    )


def projects_view(session: Session) -> list[dict[str, Any]]:
    """Return every project with its current responsible person and node counts."""
    from engine.record.holders import holders

    person_ids: dict[int, str] = dict(session.execute(select(col(Person.id), col(Person.person_id))).all())
    latest = {project_id: person_ids[pk] for project_id, pk in holders(session).items()}
    counts = {
        pid: (total, done)
        for pid, total, done in session.execute(
            select(col(Node.project_id), func.count(), func.count(col(Node.completed_on))).group_by(
                col(Node.project_id)
            )
        )
    }
    out = []
    for project in session.scalars(select(Project).order_by(col(Project.code))):
        total, done = counts.get(project.id, (0, 0))
        out.append(
            {
                "project_code": project.code,
                "name": project.name,
                "district": project.district,
                "phase": project.phase,
                "batch": project.batch,
                "status": project.status,
                "responsible_person_id": latest.get(project.id or 0),
                "contractor": project.contractor,
                "households": project.households,
                "nodes": total,
                "completed": done,
            }
        )
    return out


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


# ------------------------------------------------------------------------ persons, register, project


def visible_person_pks(session: Session, district: str) -> set[int]:
    """Return the persons district staff may see: ever responsible for, or struck on, a project of theirs."""
    in_district = select(col(Project.id)).where(col(Project.district) == district)
    from engine.store.models import Assignment

    held = set(session.scalars(select(col(Assignment.person_pk)).where(col(Assignment.project_id).in_(in_district))))
    struck = set(
        session.scalars(
            select(col(Strike.person_pk)).where(
                col(Strike.project_id).in_(in_district), col(Strike.person_pk).is_not(None)
            )
        )
    )
    return held | {pk for pk in struck if pk is not None}


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
    from engine.store.versioned import cached

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
    from engine.evaluation.levels import ladder_key

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
                "nodes": nodes.get(s.id or 0, []),
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
    from config.vocabulary import PersonStatus

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
                "nodes": nodes.get(strike.id or 0, []),
            }
        )
    return out


def project_history(app: App, session: Session, project: Project) -> dict[str, Any]:
    """Return a project's assignments, node history and strikes, oldest first: what its page shows."""
    from engine.store.models import Assignment, NodeHistory

    rows = list(
        session.scalars(
            select(Assignment)
            .where(col(Assignment.project_id) == project.id)
            .order_by(col(Assignment.effective_from), col(Assignment.id))
        )
    )
    strikes = list(session.scalars(select(Strike).where(col(Strike.project_id) == project.id).order_by(col(Strike.id))))
    pks = {a.person_pk for a in rows} | {s.person_pk for s in strikes if s.person_pk is not None}
    persons: dict[int | None, str] = {}
    names: dict[int | None, str] = {}
    for pk, person_id, name in session.execute(
        select(col(Person.id), col(Person.person_id), col(Person.name)).where(col(Person.id).in_(pks))
    ):
        persons[pk], names[pk] = person_id, name
    assignments = [
        {
            "person_id": persons.get(a.person_pk),
            "name": names.get(a.person_pk),
            "effective_from": a.effective_from,
            "reason": a.reason,
            "source": a.source,
            "actor": a.actor,
            "recorded_at": a.recorded_at,
        }
        for a in rows
    ]
    node_codes: dict[int, str] = dict(
        session.execute(select(col(Node.id), col(Node.code)).where(col(Node.project_id) == project.id)).all()
    )
    history = [
        {
            "node_code": node_codes[h.node_id],
            "kind": h.kind,
            "planned_date": h.planned_date,
            "previous_planned_date": h.previous_planned_date,
            "completed_on": h.completed_on,
            "previous_completed_on": h.previous_completed_on,
            "reason": h.reason,
            "source": h.source,
            "actor": h.actor,
            "recorded_at": h.recorded_at,
        }
        for h in session.scalars(
            select(NodeHistory).where(col(NodeHistory.node_id).in_(node_codes)).order_by(col(NodeHistory.id))
        )
    ]
    return {
        "assignments": assignments,
        "history": history,
        "strikes": strikes,
        "strike_persons": {s.id: (persons.get(s.person_pk), names.get(s.person_pk)) for s in strikes},
    }
