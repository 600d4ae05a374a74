"""Revision 0008's data step: rebuild the decision traces of strikes recorded before traces existed.

Runs after the schema upgrade, inside a sealed transaction (engine/app/upgrade.py, `duban init`), once: strikes that have
no ``opened`` trace get one, with their ``joined`` and ``reranked`` traces, rebuilt from what was
recorded — the strike's rule, explanation and agenda, its misses, its events (proposed, node
added, level changed, exempted, revoked) and its notices. What the old records did not hold
exactly (the action of a rung after a level change; the strikes a level rested on, recounted
from the events) is taken from the policy or recounted, and said so in the trace's ``note``.
Nothing recorded before is changed: the audit chain's old entries keep their digests, and the
new rows are sealed in a new entry.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from config.policy import LadderRung, Policy
from config.vocabulary import LADDER_KINDS, AgendaItem, EventKind, StatusCause, TraceKind
from engine.evaluation import traces
from engine.evaluation.levels import ladder_key
from engine.store.models import DecisionTrace, Meta, Miss, Node, Notice, Person, Project, Strike, StrikeEvent, id_of
from rules.decisions import GroupingRule, ladder_rule, rank_rule

_CAUSES = {
    "豁免后重新计算等级": StatusCause.EXEMPTION,
    "撤销后重新计算等级": StatusCause.REVOCATION,
    "策略变更后重新计算等级": StatusCause.POLICY,
}


def rebuild_traces(session: Session, policy: Policy, tz: dt.tzinfo) -> int:
    """Give every strike without traces its rebuilt ones; return how many strikes were rebuilt."""
    traced = set(session.scalars(select(col(DecisionTrace.strike_id)).distinct()))
    strikes = [s for s in session.scalars(select(Strike).order_by(col(Strike.id))) if s.id not in traced]
    if not strikes:
        return 0
    fingerprint = (
        session.scalar(select(col(Meta.value)).where(col(Meta.key) == "policy_fingerprint")) or policy.fingerprint()
    )
    persons: dict[int, str] = dict(session.execute(select(col(Person.id), col(Person.person_id))).all())
    events: dict[int, list[StrikeEvent]] = defaultdict(list)
    for event in session.scalars(select(StrikeEvent).order_by(col(StrikeEvent.id))):
        events[event.strike_id].append(event)
    misses: dict[int, list[tuple[Miss, str, str]]] = defaultdict(list)
    for miss, node_code, project_code in session.execute(
        select(Miss, col(Node.code), col(Project.code))
        .join(Node, col(Node.id) == col(Miss.node_id))
        .join(Project, col(Project.id) == col(Node.project_id))
        .order_by(col(Miss.id))
    ):
        misses[miss.strike_id].append((miss, project_code, node_code))
    notices = {
        n.strike_id: n.kind
        for n in session.scalars(
            select(Notice).where(col(Notice.kind).in_([k.value for k in LADDER_KINDS])).order_by(col(Notice.id))
        )
        if n.key == f"{n.kind}:{n.strike_id}"
    }
    by_person: dict[int, list[Strike]] = defaultdict(list)
    for strike in session.scalars(select(Strike)):
        if strike.person_pk is not None:
            by_person[strike.person_pk].append(strike)
    ended = {
        sid: min(e.recorded_at for e in evs if e.kind in (EventKind.EXEMPTED, EventKind.REVOKED))
        for sid, evs in events.items()
        if any(e.kind in (EventKind.EXEMPTED, EventKind.REVOKED) for e in evs)
    }
    for strike in strikes:
        _rebuild(
            session,
            strike,
            policy,
            fingerprint,
            persons,
            events[id_of(strike)],
            misses[id_of(strike)],
            notices,
            by_person.get(strike.person_pk or -1, []),
            ended,
            tz,
        )
    return len(strikes)


def _counted_before(
    strike: Strike, peers: list[Strike], at: dt.datetime, window: int | None, ended: dict[int, dt.datetime]
) -> list[int]:
    """The person's strikes that counted at a moment and rank before this one (within the window)."""
    found = []
    for other in sorted(peers, key=ladder_key):
        if other.id == strike.id or ladder_key(other) >= ladder_key(strike) or other.created_at > at:
            continue
        if other.id in ended and ended[id_of(other)] <= at:
            continue
        if window is not None and other.detected_on < strike.detected_on - dt.timedelta(days=window):
            continue
        found.append(id_of(other))
    return found


def _rebuild(
    session: Session,
    strike: Strike,
    policy: Policy,
    fingerprint: str,
    persons: dict[int, str],
    events: list[StrikeEvent],
    misses: list[tuple[Miss, str, str]],
    notices: dict[int | None, str],
    peers: list[Strike],
    ended: dict[int, dt.datetime],
    tz: dt.tzinfo,
) -> None:
    info: dict[str, Any] = strike.explanation or {}
    grouping_policy = str(info.get("grouping") or policy.strike_grouping)
    window = info.get("window_days")
    common = {
        "policy": fingerprint,
        "grace_days": int(info.get("grace_days") or 0),
        "grouping_policy": grouping_policy,
        "responsible": info.get("responsible") or persons.get(strike.person_pk or -1),
        "rebuilt": True,
    }
    first = misses[0] if misses else None
    node = traces.TracedNode(
        project_code=first[1] if first else strike.first_project_code,
        node_code=first[2] if first else strike.first_node_code,
        planned_date=strike.planned_date,
    )
    level_changes = [e for e in events if e.kind == EventKind.LEVEL_CHANGED]
    proposed = next((e for e in events if e.kind == EventKind.PROPOSED), None)
    ranking = None
    notes = []
    grouping = GroupingRule(strike.rule)
    if grouping is GroupingRule.OPEN_STRIKE:
        level = proposed.new_level if proposed and proposed.new_level else int(info.get("counted_before") or 0) + 1
        rung_name = str(info.get("ladder_rule") or "")
        rung = (
            int(rung_name.rsplit("_", 1)[1])
            if rung_name.startswith("ladder_level_")
            else min(level, len(policy.ladder))
        )
        exact_action = strike.action if not level_changes and strike.action else None
        policy_rung = policy.rung_for(rung)
        if exact_action is None:
            notes.append("处理方式按现行策略的阶梯推定")
        counted = _counted_before(strike, peers, strike.created_at, window, ended)
        if len(counted) != level - 1:
            notes.append(f"按记录重算此前计入的问责记录 {len(counted)} 条，与当时的第 {level} 次不一致")
        ranking = _ranking(
            policy_rung,
            rung,
            level,
            counted,
            window,
            action=exact_action,
            notice=notices.get(strike.id),
            agenda=_known(strike.agenda, notes),
            title=info.get("title"),
        )
    opened = traces.Trace(
        kind=TraceKind.OPENED,
        grouping=grouping,
        node=node,
        ranking=ranking,
        agenda=_known(strike.agenda, notes),
        note="；".join(dict.fromkeys(notes)) or None,
        **common,
    )
    _add(session, strike, TraceKind.OPENED, opened, strike.detected_on, strike.created_at)
    join_rule = GroupingRule.JOIN_SAME_NODE if grouping_policy == "per_node" else GroupingRule.JOIN_SAME_DUE_DATE
    added = [e.recorded_at for e in events if e.kind == EventKind.NODE_ADDED]
    for miss, project_code, node_code in misses[1:]:
        at = next((t for t in added if t.astimezone(tz).date() >= miss.detected_on), strike.created_at)
        joined = traces.Trace(
            kind=TraceKind.JOINED,
            grouping=join_rule,
            node=traces.TracedNode(project_code=project_code, node_code=node_code, planned_date=miss.planned_date),
            **common,
        )
        _add(session, strike, TraceKind.JOINED, joined, miss.detected_on, at)
    for event in level_changes:
        if event.new_level is None:
            continue
        new_level = event.new_level
        policy_rung = policy.rung_for(new_level)
        rung_level = min(new_level, len(policy.ladder))
        counted = _counted_before(strike, peers, event.recorded_at, window, ended)
        reranked = traces.Trace(
            kind=TraceKind.RERANKED,
            cause=_CAUSES.get(event.text or "", StatusCause.POLICY),
            ranking=_ranking(policy_rung, rung_level, new_level, counted, window),
            agenda=(policy_rung.agenda,),
            note="处理方式按现行策略的阶梯推定",
            **common,
        )
        _add(session, strike, TraceKind.RERANKED, reranked, event.recorded_at.astimezone(tz).date(), event.recorded_at)


def _ranking(
    policy_rung: LadderRung, rung: int, level: int, counted: list[int], window: int | None, **recorded: Any
) -> traces.TracedRanking:
    """A rebuilt ranking: what the old records held exactly (``recorded``, where not empty), the rest from the rung."""
    return traces.TracedRanking.model_validate(
        {
            "rule": rank_rule(window),
            "window_days": window,
            "level": level,
            "counted_before": tuple(counted),
            "ladder_rule": ladder_rule(level, rung),
            "rung": rung,
            **policy_rung.model_dump(include={"action", "status", "notice", "title"}),
            "agenda": (policy_rung.agenda,),
            **{key: value for key, value in recorded.items() if value},
        }
    )


def _known(items: list[str], notes: list[str]) -> tuple[AgendaItem, ...]:
    """The agenda items recorded, as registered items (a policy before 0008 could name anything)."""
    known = {item.value for item in AgendaItem}
    unknown = [item for item in items if item not in known]
    if unknown:
        notes.append(f"记录中的议程事项 {'、'.join(unknown)} 未登记，已略去")
    return tuple(AgendaItem(item) for item in items if item in known)


def _add(session: Session, strike: Strike, kind: TraceKind, trace: traces.Trace, on: dt.date, at: dt.datetime) -> None:
    session.add(
        DecisionTrace(
            strike_id=id_of(strike),
            kind=kind,
            version=traces.TRACE_VERSION,
            body=traces.body(trace),
            decided_on=on,
            decided_at=at,
            rebuilt=True,
        )
    )
