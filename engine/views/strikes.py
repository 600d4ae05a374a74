"""Read models of strikes: what `strikes` and `strike explain` print (JSON fields are a contract), a strike's
record, where it stands for the meeting, and the strikes a level rests on."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session, col

from config.vocabulary import Decision, EventKind, StrikeStatus, TraceKind
from engine.context import App
from engine.evaluation import traces
from engine.store.db import chunks
from engine.store.models import Miss, Node, Person, Project, Strike, StrikeEvent, id_of
from engine.views.lookup import Found
from engine.views.standing import sanction
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


def strike_numbered(session: Session, strike_id: int) -> Found[tuple[Strike, Project]]:
    """The strike of a number with its project, and the project's district."""
    strike = session.get(Strike, strike_id)
    if strike is None:
        return Found(None, f"问责记录 #{strike_id} 不存在")
    project = session.get(Project, strike.project_id)
    assert project is not None
    return Found((strike, project), f"问责记录 #{strike_id} 不存在", frozenset({project.district}))


def strikes_by_id(session: Session, strike_ids: list[int]) -> dict[int, Strike]:
    """Return the strikes of some numbers, by number."""
    return {id_of(s): s for s in session.scalars(select(Strike).where(col(Strike.id).in_(strike_ids)))}


def first_detected_on(session: Session) -> dt.date | None:
    """Return the day the first strike was found (None: no strike yet)."""
    first: dt.date | None = session.scalar(select(func.min(col(Strike.detected_on))))
    return first


def responsible(session: Session, strike: Strike) -> Person | None:
    """Return the person a strike is on (None: the project had nobody responsible that day)."""
    return session.get(Person, strike.person_pk) if strike.person_pk else None


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
