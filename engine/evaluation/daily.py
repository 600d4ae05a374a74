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
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from config.vocabulary import DeadlineStatus, Decision, EventKind, ProjectStatus, StatusCause, StrikeStatus, TraceKind
from engine.context import App
from engine.errors import Refused
from engine.evaluation import traces
from engine.evaluation.levels import as_counted, ladder_key, rederive, status_moved
from engine.record import numbers
from engine.record.holders import assignment_history, holder_on
from engine.record.notices import drafted
from engine.store.db import (
    allocate_ids,
    as_date,
    bulk_insert,
    chunks,
    driver_execute,
    driver_rows,
    fetch,
    id_list,
    reading,
    transaction,
)
from engine.store.models import (
    Deadline,
    DecisionTrace,
    EvaluationDay,
    Meta,
    Miss,
    Node,
    Notice,
    Person,
    Project,
    StatusChange,
    Strike,
    StrikeEvent,
    table_of,
)
from rules.decisions import MissFact, Verdict

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
    day: dt.date | None = session.scalar(select(func.max(col(EvaluationDay.day))))
    return day


def first_day(session: Session) -> dt.date | None:
    """Return the day after the earliest planned date (the default start of the first run)."""
    earliest: dt.date | None = session.scalar(select(func.min(col(Deadline.planned_date))))
    return earliest + dt.timedelta(days=1) if earliest else None


def evaluate(app: App, through: dt.date, start: dt.date | None = None, progress: Any = None) -> RunResult:
    """Evaluate every day not yet evaluated up to ``through``, each in its own transaction."""
    if through > app.today():
        raise Refused(f"不能评估未来的日期：{through.isoformat()} 晚于今天 {app.today().isoformat()}")
    settle_policy(app)
    result = RunResult()
    run_id = uuid.uuid4().hex[:12]
    with reading(app.engine) as session:  # where to begin: read, the days' own transactions claim them
        last = last_evaluated_day(session)
        # Only a first run starts from the earliest plan (a scan of every deadline's date).
        default_start = first_day(session) if last is None and start is None else None
    if last is not None and start is not None and start != last + dt.timedelta(days=1):
        raise Refused(
            f"已评估至 {last.isoformat()}，下一个评估日应为 {(last + dt.timedelta(days=1)).isoformat()}，"
            f"与 --from {start.isoformat()} 不一致"
        )
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
            with reading(app.engine) as session:
                last = last_evaluated_day(session)
            assert last is not None
            day = last + dt.timedelta(days=1)
            continue
        result.evaluated_days.append(day)
        if progress is not None:
            progress.advance()
        day += dt.timedelta(days=1)
    if result.evaluated_days:
        with reading(app.engine) as session:
            result.warnings = count_warnings(app, session, result.evaluated_days[-1])
    return result


def _evaluate_day(app: App, day: dt.date, run_id: str, result: RunResult) -> bool | None:
    try:
        with transaction(app.engine) as session:
            last = last_evaluated_day(session)
            if last is not None and day != last + dt.timedelta(days=1):
                return None
            now = app.now()
            days = table_of(EvaluationDay)
            connection = session.connection()
            # The claim: a second run on the same day blocks or fails here (unique day).
            claim = connection.execute(
                insert(days)
                .values(
                    day=day,
                    run_id=run_id,
                    actor=app.actor,
                    started_at=now,
                    finished_at=now,
                    misses=0,
                    new_strikes=0,
                    joined=0,
                    warnings=0,
                )
                .returning(days.c.id)
            ).scalar_one()
            new_ids, misses = _decide_day(app, session, day)
            connection.execute(
                update(days)
                .where(days.c.id == claim)
                .values(misses=misses, new_strikes=len(new_ids), finished_at=app.now())
            )
    except IntegrityError:
        return None
    result.new_strikes.extend(new_ids)
    result.misses += misses
    return True


def _due_deadlines(session: Session, cutoff: dt.date) -> list[_Due]:
    # Thousands of rows a day: through the driver (see db.driver_rows), the index on (status, planned_date).
    rows = driver_rows(
        session,
        (
            "SELECT d.id, d.planned_date, n.id, n.code, n.completed_on, p.id, p.code, p.status FROM deadline d "
            "JOIN node n ON n.id = d.node_id JOIN project p ON p.id = n.project_id "
            "WHERE d.status = ? AND d.planned_date <= ?"
        ),
        (DeadlineStatus.OPEN.value, cutoff.isoformat()),
    )
    return [
        _Due(deadline_id, as_date(planned) or cutoff, node_id, node_code, as_date(completed), project_id, code, status)
        for deadline_id, planned, node_id, node_code, completed, project_id, code, status in rows
    ]


def _responsible(session: Session, dues: list[_Due]) -> None:
    history = assignment_history(session, {d.project_id for d in dues})
    for due in dues:
        due.person_pk = holder_on(history, due.project_id, due.planned_date)


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
    # Sorted here, not in SQL: code order must not depend on the database's collation.
    missed.sort(key=lambda d: (d.planned_date, d.project_code, d.node_code))
    for ids, status in (
        (met, DeadlineStatus.MET),
        (skipped, DeadlineStatus.SKIPPED),
        ([d.deadline_id for d in missed], DeadlineStatus.MISSED),
    ):
        for chunk in chunks(ids, 1000):
            driver_execute(
                session,
                f"UPDATE deadline SET status = ?, closed_on = ? WHERE id IN ({id_list(chunk)})",
                (status.value, day.isoformat()),
            )
    if not missed:
        return [], 0
    _responsible(session, missed)
    return _record_misses(app, session, day, missed), len(missed)


@dataclass(frozen=True)
class _Prior:
    """A counted strike on record before the day, as much of it as the day's decisions need."""

    id: int
    planned_date: dt.date
    detected_on: dt.date
    first_project_code: str
    first_node_code: str
    level: int | None


_PRIOR_COLUMNS = (
    col(Strike.id),
    col(Strike.planned_date),
    col(Strike.detected_on),
    col(Strike.first_project_code),
    col(Strike.first_node_code),
    col(Strike.level),
)


def _prior_strikes(session: Session, person_pks: list[int]) -> dict[int, list[_Prior]]:
    """Each person's counted strikes in ladder order (plain rows: no ORM objects on the hot path)."""
    found: dict[int, list[_Prior]] = {pk: [] for pk in person_pks}
    for chunk in chunks(person_pks):
        for pk, *values in fetch(
            session,
            select(col(Strike.person_pk), *_PRIOR_COLUMNS).where(
                col(Strike.person_pk).in_(chunk), col(Strike.status) == StrikeStatus.COUNTED
            ),
        ):
            found[pk].append(_Prior(*values))
    for strikes in found.values():
        strikes.sort(key=ladder_key)
    return found


def _prior_unassigned(session: Session, project_id: int) -> list[_Prior]:
    rows = session.execute(
        select(*_PRIOR_COLUMNS).where(
            col(Strike.project_id) == project_id,
            col(Strike.person_pk).is_(None),
            col(Strike.status) == StrikeStatus.COUNTED,
        )
    )
    return sorted((_Prior(*row) for row in rows), key=ladder_key)


@dataclass(frozen=True)
class _New:
    """A strike the day opens, by its position until its id is reserved."""

    index: int


class _NewStrike(NamedTuple):
    """A strike the day opens (the columns it is written with, in order)."""

    person_pk: int | None
    project_id: int
    planned_date: dt.date
    first_project_code: str
    first_node_code: str
    level: int | None
    action: str | None
    rule: str


class _Decided(NamedTuple):
    """A verdict kept to be stored as its strike's trace."""

    strike: int | _New
    verdict: Verdict
    refs: dict[str, int | _New]  # the subject's strikes by the refs the rules use
    due: _Due  # the miss
    person_id: str | None  # who was responsible


class _Proposed(NamedTuple):
    """The proposal a new strike opens with (its `proposed` event)."""

    strike: _New
    level: int | None
    text: str


class _NewNotice(NamedTuple):
    """The notice a new counted strike calls for."""

    kind: str
    strike: _New
    person_pk: int
    level: int
    decided: int  # the position of its verdict in ``_DayRecord.decided``: the trace it is issued on


class _NewMiss(NamedTuple):
    """A missed deadline and the strike it went into (the columns it is written with, in order)."""

    deadline_id: int
    node_id: int
    strike_id: int | _New
    person_pk: int | None
    planned_date: dt.date


class _StatusMove(NamedTuple):
    """A person's level moving far enough to change their status, caused by the day's last new strike."""

    person_pk: int
    old_level: int | None
    new_level: int
    strike: _New


class _DayRecord:
    """Rows of one evaluated day, collected while the rules decide, then written in bulk.

    New strikes are referred to by their position (``_New``) until their ids are reserved, so that
    every table of the day goes in with one executemany instead of one ORM flush per strike.
    """

    def __init__(self, app: App, day: dt.date) -> None:
        self.app, self.day, self.now = app, day, app.now()
        self.strikes: list[_NewStrike] = []
        self.decided: list[_Decided] = []
        self.proposed: list[_Proposed] = []
        self.notices: list[_NewNotice] = []
        self.misses: list[_NewMiss] = []
        self.joined: list[int] = []  # strikes on record a miss of the day joined
        self.changes: list[_StatusMove] = []

    def open(self, strike: _NewStrike) -> _New:
        self.strikes.append(strike)
        return _New(len(self.strikes) - 1)

    def decide(self, decided: _Decided) -> int:
        """Keep a verdict to store as its strike's trace; return its position (for the notice that cites it)."""
        self.decided.append(decided)
        return len(self.decided) - 1

    def write(self, session: Session) -> list[int]:
        ids = allocate_ids(session, table_of(Strike), len(self.strikes))

        def resolve(ref: int | _New) -> int:
            return ids[ref.index] if isinstance(ref, _New) else ref

        app, day, now = self.app, self.day, self.now
        bulk_insert(
            session,
            table_of(Strike),
            ("id", *_NewStrike._fields),
            [(i, *row) for i, row in zip(ids, self.strikes, strict=True)],
            {
                "detected_on": day,
                "status": StrikeStatus.COUNTED,
                "decision": Decision.PROPOSED,
                "created_at": now,
                "explanation": {},
                "agenda": [],
            },
        )
        trace_ids = allocate_ids(session, table_of(DecisionTrace), len(self.decided))
        bulk_insert(
            session,
            table_of(DecisionTrace),
            ("id", "strike_id", "kind", "body"),
            [
                (trace_id, resolve(d.strike), kind, traces.body(_trace(app, kind, d, resolve)))
                for trace_id, d in zip(trace_ids, self.decided, strict=True)
                for kind in (TraceKind.OPENED if d.verdict.opens else TraceKind.JOINED,)
            ],
            {"version": traces.TRACE_VERSION, "decided_on": day, "decided_at": now, "rebuilt": False},
        )
        who = {"actor": app.actor, "recorded_at": now}
        bulk_insert(
            session,
            table_of(StrikeEvent),
            ("strike_id", "new_level", "text"),
            [(resolve(p.strike), p.level, p.text) for p in self.proposed],
            {"kind": EventKind.PROPOSED, **who},
        )
        bulk_insert(
            session,
            table_of(StrikeEvent),
            ("strike_id",),
            [(i,) for i in sorted(set(self.joined))],
            {"kind": EventKind.NODE_ADDED, "text": "同一计划日期的节点后续发现逾期，并入本记录", **who},
        )
        # Notices get their ids here too: a notice's number is printed on it, so it must not skip.
        notice_ids = allocate_ids(session, table_of(Notice), len(self.notices))
        bulk_insert(
            session,
            table_of(Notice),
            ("id", "key", "kind", "person_pk", "strike_id", "payload"),
            [
                (
                    notice_id,
                    f"{n.kind}:{resolve(n.strike)}",
                    n.kind,
                    n.person_pk,
                    resolve(n.strike),
                    {"level": n.level, "trace": trace_ids[n.decided], "date": day.isoformat()},
                )
                for notice_id, n in zip(notice_ids, self.notices, strict=True)
            ],
            {"created_at": now},
        )
        # A review notice is issued now, with its number; a decision stays a draft until the meeting confirms it.
        numbers.assign(
            app,
            session,
            [
                numbers.Wanted(n.kind, numbers.notice_key(notice_id), day, notice_id)
                for notice_id, n in zip(notice_ids, self.notices, strict=True)
                if not drafted(n.kind)
            ],
        )
        bulk_insert(
            session,
            table_of(Miss),
            _NewMiss._fields,
            [m._replace(strike_id=resolve(m.strike_id)) for m in self.misses],
            {"detected_on": day},
        )
        policy = app.policy
        bulk_insert(
            session,
            table_of(StatusChange),
            ("person_pk", "old_level", "new_level", "old_status", "new_status", "strike_id"),
            [
                (
                    c.person_pk,
                    c.old_level,
                    c.new_level,
                    policy.status_for(c.old_level),
                    policy.status_for(c.new_level),
                    resolve(c.strike),
                )
                for c in self.changes
            ],
            {"cause": StatusCause.STRIKE, "day": day, **who},
        )
        return ids


def _trace(app: App, kind: TraceKind, decided: _Decided, resolve: Callable[[int | _New], int]) -> traces.Trace:
    """A verdict as the trace its strike keeps."""
    verdict, due = decided.verdict, decided.due
    ranking = (
        None
        if verdict.ranking is None
        else traces.traced_ranking(
            verdict.ranking, {ref: resolve(decided.refs[ref]) for ref in verdict.ranking.counted_before}
        )
    )
    return traces.Trace(
        kind=kind,
        grouping=verdict.grouping,
        node=traces.TracedNode(project_code=due.project_code, node_code=due.node_code, planned_date=due.planned_date),
        ranking=ranking,
        agenda=(*verdict.agenda, *(ranking.agenda if ranking else ())),
        responsible=decided.person_id,
        policy=verdict.policy,
        grace_days=app.policy.grace_days,
        grouping_policy=app.policy.strike_grouping,
    )


def _record_misses(app: App, session: Session, day: dt.date, missed: list[_Due]) -> list[int]:
    person_ids: dict[int, str] = dict(
        fetch(
            session,
            select(col(Person.id), col(Person.person_id)).where(
                col(Person.id).in_({d.person_pk for d in missed if d.person_pk is not None})
            ),
        )
    )
    by_subject: dict[tuple[str, int], list[_Due]] = defaultdict(list)
    for due in missed:  # already in (planned date, project, node) order
        key = ("person", due.person_pk) if due.person_pk is not None else ("project", due.project_id)
        by_subject[key].append(due)
    prior = _prior_strikes(session, [pk for kind, pk in by_subject if kind == "person"])
    record = _DayRecord(app, day)
    for (kind, pk), dues in by_subject.items():
        person_id = person_ids.get(pk) if kind == "person" else None
        person_pk = pk if person_id else None
        subject = f"person:{person_id}" if person_id else f"project:{dues[0].project_code}"
        existing = prior.get(pk, []) if person_id else _prior_unassigned(session, pk)
        facts = [
            MissFact(
                ref=str(i),
                project_code=d.project_code,
                node_code=d.node_code,
                planned_date=d.planned_date,
                person_id=person_id,
            )
            for i, d in enumerate(dues)
        ]
        verdicts = app.rules.decide_misses(subject, day, [as_counted(h) for h in existing], facts)
        refs: dict[str, int | _New] = {f"s{h.id}": h.id for h in existing}
        new: _New | None = None
        levels = []
        for verdict in verdicts:  # in miss order: a group's first miss opens it, the rest join
            due = dues[int(verdict.miss_ref)]
            rank = verdict.ranking
            if verdict.opens:
                new = record.open(
                    _NewStrike(
                        person_pk,
                        due.project_id,
                        due.planned_date,
                        due.project_code,
                        due.node_code,
                        rank.level if rank else None,
                        rank.action if rank else None,
                        verdict.grouping,
                    )
                )
                refs[verdict.strike_ref] = new
                decided = record.decide(_Decided(new, verdict, refs, due, person_id))
                record.proposed.append(
                    _Proposed(new, rank.level if rank else None, rank.title if rank else "项目无负责人")
                )
                if rank is not None:
                    levels.append(rank.level)
                    if person_pk is not None:
                        record.notices.append(_NewNotice(rank.notice, new, person_pk, rank.level, decided))
            else:
                target = refs[verdict.strike_ref]
                record.decide(_Decided(target, verdict, refs, due, person_id))
                if not isinstance(target, _New):
                    record.joined.append(target)
            record.misses.append(
                _NewMiss(due.deadline_id, due.node_id, refs[verdict.strike_ref], person_pk, due.planned_date)
            )
        if person_pk is not None and levels and new is not None:
            old = max((h.level for h in existing if h.level is not None), default=None)
            new_level = max([old or 0, *levels])
            if status_moved(app, old, new_level):
                record.changes.append(_StatusMove(person_pk, old, new_level, new))
    return record.write(session)


def count_warnings(app: App, session: Session, day: dt.date) -> int:
    """Count uncompleted nodes of evaluated projects due within the warning window (yellow)."""
    grace = dt.timedelta(days=app.policy.grace_days)
    warn = dt.timedelta(days=app.policy.warning_days)
    count: int = (
        session.scalar(
            select(func.count())
            .select_from(Node)
            .join(Project, col(Project.id) == col(Node.project_id))
            .where(
                col(Node.planned_date) >= day - grace,
                col(Node.planned_date) <= day + warn,
                or_(col(Node.completed_on).is_(None), col(Node.completed_on) > day),
                col(Project.status).not_in(_NOT_EVALUATED),
            )
        )
        or 0
    )
    return count


def settle_policy(app: App) -> None:
    """Re-derive every person's levels when the policy's grouping, window or ladder changed."""
    fingerprint = app.policy.fingerprint()
    with reading(app.engine) as session:  # the common case: the policy is the one on record, nothing to write
        if session.scalar(select(col(Meta.value)).where(col(Meta.key) == POLICY_KEY)) == fingerprint:
            return
    with transaction(app.engine) as session:  # writers take turns: two runs cannot both insert it
        meta = session.get(Meta, POLICY_KEY)
        if meta is not None and meta.value == fingerprint:
            return
        if meta is not None:
            persons = sorted(
                {
                    person
                    for person in session.scalars(
                        select(col(Strike.person_pk)).where(
                            and_(col(Strike.person_pk).is_not(None), col(Strike.status) == StrikeStatus.COUNTED)
                        )
                    )
                    if person is not None
                }
            )
            for person in persons:
                rederive(app, session, person, StatusCause.POLICY, None, app.today())
        session.merge(Meta(key=POLICY_KEY, value=fingerprint))
