"""The daily evaluation: find what fell due, let the rules decide, record it, one day at a time.

Data flow of one evaluated day D (all in one transaction):
1. claim D in ``evaluation_day`` (unique: a concurrent run blocks or fails here, never doubles);
2. select the open deadlines with planned date + grace < D (indexed; cost follows what fell due);
3. close those met on time, skip those of reserve/cancelled projects, the rest are misses;
4. find each miss's responsible person on its planned date (assignments with effective dates);
5. per subject (person, or project with nobody), the rules group misses into strikes and rank them;
6. write strikes, misses, events, notices and status changes; commit.
"""

from __future__ import annotations

import datetime as dt
import uuid
from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from engine.context import App
from engine.db import chunks, serialise, transaction
from engine.errors import Refused
from engine.levels import as_counted, counted_strikes, record_status_change, rederive
from engine.models import (
    Assignment,
    Deadline,
    DeadlineStatus,
    Decision,
    EvaluationDay,
    Meta,
    Miss,
    Node,
    Notice,
    Person,
    Project,
    ProjectStatus,
    Strike,
    StrikeEvent,
    StrikeStatus,
)
from rules.decisions import MissFact

_NOT_EVALUATED = (ProjectStatus.RESERVE, ProjectStatus.CANCELLED)
POLICY_KEY = "policy_fingerprint"


@dataclass
class RunResult:
    """What one `evaluate` run did."""

    evaluated_days: list[dt.date] = field(default_factory=list)
    new_strikes: list[int] = field(default_factory=list)
    misses: int = 0
    warnings: int = 0


@dataclass
class _Due:
    deadline_id: int
    planned_date: dt.date
    node_id: int
    node_code: str
    completed_on: dt.date | None
    project_id: int
    project_code: str
    project_status: str
    person_pk: int | None = None


def last_evaluated_day(session: Session) -> dt.date | None:
    """Return the last evaluated day, or None before the first run."""
    day: dt.date | None = session.scalar(select(func.max(EvaluationDay.day)))
    return day


def first_day(session: Session) -> dt.date | None:
    """Return the day after the earliest planned date (the default start of the first run)."""
    earliest: dt.date | None = session.scalar(select(func.min(Deadline.planned_date)))
    return earliest + dt.timedelta(days=1) if earliest else None


def evaluate(app: App, through: dt.date, start: dt.date | None = None,
             progress: Any = None) -> RunResult:
    """Evaluate every day not yet evaluated up to ``through``, each in its own transaction."""
    if through > app.today():
        raise Refused(f"不能评估未来的日期：{through.isoformat()} 晚于今天 {app.today().isoformat()}")
    settle_policy(app)
    result = RunResult()
    run_id = uuid.uuid4().hex[:12]
    with transaction(app.engine) as session:
        last = last_evaluated_day(session)
        default_start = first_day(session)
    if last is not None and start is not None and start != last + dt.timedelta(days=1):
        raise Refused(f"已评估至 {last.isoformat()}，下一个评估日应为 {(last + dt.timedelta(days=1)).isoformat()}，"
                      f"与 --from {start.isoformat()} 不一致")
    if last is None and start is None and default_start is None:
        return result
    day = last + dt.timedelta(days=1) if last is not None else (start or default_start)
    assert day is not None
    total = max((through - day).days + 1, 0)
    if progress is not None:
        progress.start(total)
    while day <= through:
        done = _evaluate_day(app, day, run_id, result)
        if done is None:
            # Another run took this day meanwhile: go on after the newest evaluated day.
            with transaction(app.engine) as session:
                last = last_evaluated_day(session)
            assert last is not None
            day = last + dt.timedelta(days=1)
            continue
        result.evaluated_days.append(day)
        if progress is not None:
            progress.advance()
        day += dt.timedelta(days=1)
    if result.evaluated_days:
        with transaction(app.engine) as session:
            result.warnings = count_warnings(app, session, result.evaluated_days[-1])
    return result


def _evaluate_day(app: App, day: dt.date, run_id: str, result: RunResult) -> bool | None:
    try:
        with transaction(app.engine) as session:
            last = last_evaluated_day(session)
            if last is not None and day != last + dt.timedelta(days=1):
                return None
            claim = EvaluationDay(day=day, run_id=run_id, actor=app.actor, finished_at=app.now())
            session.add(claim)
            session.flush()  # the claim: a second run on the same day blocks or fails here
            new_ids, misses = _decide_day(app, session, day)
            claim.misses, claim.new_strikes = misses, len(new_ids)
            claim.finished_at = app.now()
            session.add(claim)
    except IntegrityError:
        return None
    result.new_strikes.extend(new_ids)
    result.misses += misses
    return True


def _due_deadlines(session: Session, cutoff: dt.date) -> list[_Due]:
    rows = session.execute(
        select(Deadline.id, Deadline.planned_date, Node.id, Node.code, Node.completed_on,
               Project.id, Project.code, Project.status)
        .join(Node, Node.id == Deadline.node_id)
        .join(Project, Project.id == Node.project_id)
        .where(Deadline.status == DeadlineStatus.OPEN, Deadline.planned_date <= cutoff)
    ).all()
    # Sorted here, not in SQL: code order must not depend on the database's collation.
    return sorted((_Due(*row) for row in rows), key=lambda d: (d.planned_date, d.project_code, d.node_code))


def _responsible(session: Session, dues: list[_Due]) -> None:
    project_ids = sorted({d.project_id for d in dues})
    history: dict[int, tuple[list[dt.date], list[int]]] = defaultdict(lambda: ([], []))
    for chunk in chunks(project_ids):
        rows = session.execute(
            select(Assignment.project_id, Assignment.effective_from, Assignment.person_pk)
            .where(Assignment.project_id.in_(chunk))
            .order_by(Assignment.project_id, Assignment.effective_from, Assignment.id)
        ).all()
        for project_id, effective_from, person_pk in rows:
            dates, persons = history[project_id]
            dates.append(effective_from)
            persons.append(person_pk)
    for due in dues:
        dates, persons = history.get(due.project_id, ([], []))
        at = bisect_right(dates, due.planned_date)
        due.person_pk = persons[at - 1] if at else None


def _decide_day(app: App, session: Session, day: dt.date) -> tuple[list[int], int]:
    grace = dt.timedelta(days=app.policy.grace_days)
    dues = _due_deadlines(session, day - dt.timedelta(days=1) - grace)
    met, skipped, missed = [], [], []
    for due in dues:
        end = app.deadline_end(due.planned_date)
        if end >= day:
            continue  # a holiday deadline moved to the next working day: not due yet
        if due.project_status in _NOT_EVALUATED:
            skipped.append(due.deadline_id)
        elif due.completed_on is not None and due.completed_on <= end:
            met.append(due.deadline_id)
        else:
            missed.append(due)
    for ids, status in ((met, DeadlineStatus.MET), (skipped, DeadlineStatus.SKIPPED),
                        ([d.deadline_id for d in missed], DeadlineStatus.MISSED)):
        for chunk in chunks(ids):
            session.execute(update(Deadline).where(Deadline.id.in_(chunk))
                            .values(status=status, closed_on=day))
    if not missed:
        return [], 0
    _responsible(session, missed)
    return _record_misses(app, session, day, missed), len(missed)


def _record_misses(app: App, session: Session, day: dt.date, missed: list[_Due]) -> list[int]:
    persons = {p.id: p for p in session.scalars(select(Person).where(
        Person.id.in_({d.person_pk for d in missed if d.person_pk is not None})))}
    by_subject: dict[tuple[str, int], list[_Due]] = defaultdict(list)
    for due in missed:  # already in (planned date, project, node) order
        key = ("person", due.person_pk) if due.person_pk is not None else ("project", due.project_id)
        by_subject[key].append(due)
    counted = counted_strikes(session, [pk for kind, pk in by_subject if kind == "person"])
    new_ids: list[int] = []
    for (kind, pk), dues in by_subject.items():
        person = persons.get(pk) if kind == "person" else None
        subject = f"person:{person.person_id}" if person else f"project:{dues[0].project_code}"
        existing = counted.get(pk, []) if person else _unassigned_strikes(session, pk)
        facts = [MissFact(ref=str(i), project_code=d.project_code, node_code=d.node_code,
                          planned_date=d.planned_date, person_id=person.person_id if person else None)
                 for i, d in enumerate(dues)]
        outcome = app.rules.decide_misses(subject, day, [as_counted(s) for s in existing], facts)
        strikes: dict[str, Strike] = {f"s{s.id}": s for s in existing}
        ranked = {r.strike_ref: r for r in outcome.ranked}
        for opened in outcome.opened:
            due = dues[int(opened.miss_ref)]
            rank = ranked.get(opened.strike_ref)
            strike = Strike(
                person_pk=person.id if person else None, project_id=due.project_id,
                planned_date=due.planned_date, detected_on=day, first_project_code=due.project_code,
                first_node_code=due.node_code, status=StrikeStatus.COUNTED,
                level=rank.level if rank else None, action=rank.action if rank else None,
                decision=Decision.PROPOSED, rule=opened.rule,
                explanation=_explanation(app, opened.rule, rank, person, due),
                agenda=[*opened.agenda, *(rank.agenda if rank else ())], created_at=app.now())
            session.add(strike)
            session.flush()
            strikes[opened.strike_ref] = strike
            new_ids.append(strike.id)
            session.add(StrikeEvent(strike_id=strike.id, kind="proposed", new_level=strike.level,
                                    text=rank.title if rank else "项目无负责人", actor=app.actor,
                                    recorded_at=app.now()))
            if rank is not None and person is not None:
                session.add(Notice(key=f"{rank.notice}:{strike.id}", kind=rank.notice, person_pk=person.id,
                                   strike_id=strike.id, payload={"level": rank.level}, created_at=app.now()))
        joined_existing: set[int] = set()
        for join in outcome.joins:
            target = strikes[join.strike_ref]
            if not join.strike_ref.startswith("new:"):
                joined_existing.add(target.id)
        for opened_or_join in [*outcome.opened, *outcome.joins]:
            due = dues[int(opened_or_join.miss_ref)]
            session.add(Miss(deadline_id=due.deadline_id, node_id=due.node_id,
                             strike_id=strikes[opened_or_join.strike_ref].id,
                             person_pk=person.id if person else None, planned_date=due.planned_date,
                             detected_on=day))
        for strike_id in sorted(joined_existing):
            session.add(StrikeEvent(strike_id=strike_id, kind="node_added", text="同一计划日期的节点后续发现逾期，并入本记录",
                                    actor=app.actor, recorded_at=app.now()))
        if person is not None and outcome.ranked:
            old = max((s.level for s in existing if s.level is not None), default=None)
            new = max([old or 0, *(r.level for r in outcome.ranked)])
            record_status_change(app, session, person, old, new, "strike", new_ids[-1], day)
    session.flush()
    return new_ids


def _unassigned_strikes(session: Session, project_id: int) -> list[Strike]:
    return sorted(session.scalars(select(Strike).where(
        Strike.project_id == project_id, Strike.person_pk.is_(None),
        Strike.status == StrikeStatus.COUNTED)), key=lambda s: (s.detected_on, s.planned_date, s.first_node_code))


def _explanation(app: App, rule: str, rank: Any, person: Person | None, due: _Due) -> dict[str, Any]:
    return {
        "rule": rule,
        "ladder_rule": rank.rule if rank else None,
        "counted_before": rank.counted_before if rank else None,
        "title": rank.title if rank else None,
        "grace_days": app.policy.grace_days,
        "grouping": app.policy.strike_grouping,
        "window_days": app.policy.strike_window_days,
        "responsible": person.person_id if person else None,
        "completed_on": due.completed_on.isoformat() if due.completed_on else None,
    }


def count_warnings(app: App, session: Session, day: dt.date) -> int:
    """Count uncompleted nodes of evaluated projects due within the warning window (yellow)."""
    grace = dt.timedelta(days=app.policy.grace_days)
    warn = dt.timedelta(days=app.policy.warning_days)
    count: int = session.scalar(
        select(func.count()).select_from(Node).join(Project, Project.id == Node.project_id).where(
            Node.planned_date >= day - grace, Node.planned_date <= day + warn,
            or_(Node.completed_on.is_(None), Node.completed_on > day),
            Project.status.not_in(_NOT_EVALUATED))
    ) or 0
    return count


def settle_policy(app: App) -> None:
    """Re-derive every person's levels when the policy's grouping, window or ladder changed."""
    fingerprint = app.policy.fingerprint()
    with transaction(app.engine) as session:
        serialise(session, POLICY_KEY)
        meta = session.get(Meta, POLICY_KEY)
        if meta is not None and meta.value == fingerprint:
            return
        if meta is not None:
            pks = sorted(set(session.scalars(select(Strike.person_pk).where(
                and_(Strike.person_pk.is_not(None), Strike.status == StrikeStatus.COUNTED)))))
            for pk in pks:
                rederive(app, session, pk, "policy", None, app.today())
        session.merge(Meta(key=POLICY_KEY, value=fingerprint))
