"""What the paperwork says: typed contexts for the templates, built from the database.

Templates get frozen dataclasses of plain values (engine/paperwork/template_data.py, where each
field is described; never ORM objects): `notifications/` renders them and never reads the
database. Phone numbers and e-mail addresses are never put in a context.

Every document says only what has been decided and evaluated: a sanction the party-group
meeting has not confirmed is stated as proposed (engine/views/standing.py), documents addressed
outside the office list proposals only as 「提请党组会研究」, and no document counts a day that
was not evaluated (``evaluated_through``: the day it reads is the last evaluated day at most).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session, col

from config.calendar import HolidayTableMissing, WorkCalendar, meeting_dates, previous_meeting
from config.vocabulary import (
    Action,
    Decision,
    EventKind,
    Kind,
    PersonStatus,
    ProjectStatus,
    ReportKind,
    ReportSource,
    StrikeStatus,
)
from engine.complaints.views import between, overdue_on
from engine.context import App
from engine.errors import Refused
from engine.evaluation import traces
from engine.paperwork.template_data import (
    AgendaContext,
    AgendaEntry,
    BasisNode,
    BasisStrike,
    Batch,
    ComplaintCounts,
    Complaints,
    Correction,
    DailyContext,
    DailyStrike,
    DecisionItem,
    DecisionsContext,
    DistrictCount,
    DoneNode,
    DueItem,
    DueNode,
    ExemptionRequest,
    LevelMove,
    LightProject,
    Meta,
    MissedNode,
    NeedsPerson,
    NoticeContext,
    NoticePolicy,
    Outcome,
    PendingReport,
    PersonRef,
    ProjectWorkOrder,
    RankingRow,
    RedNode,
    RedProject,
    Referral,
    ReviewCount,
    StrikeNode,
    StrikeView,
    WeekDecision,
    WeekFigures,
    WeeklyContext,
    WorkOrder,
)
from engine.record import numbers
from engine.record.holders import holders as responsible_on
from engine.record.notices import document_date, is_draft
from engine.store.db import chunks
from engine.store.models import (
    EvaluationDay,
    Miss,
    Node,
    Notice,
    Person,
    Project,
    Reminder,
    StatusChange,
    Strike,
    StrikeEvent,
    id_of,
)
from engine.views.board import NOBODY, PENDING, lights_as_of, progress_by
from engine.views.figures import Figures, figures
from engine.views.reports import decided_between, pending_on
from engine.views.standing import sanction, standing_of
from engine.views.strikes import basis, explain, strike_nodes
from notifications.charts import progress_chart
from notifications.kinds import AGENDA_SECTIONS

_EVALUATED = (ProjectStatus.ACTIVE, ProjectStatus.COMPLETED)


def _person(person: Person | None) -> PersonRef | None:
    return None if person is None else PersonRef(person_id=person.person_id, name=person.name, unit=person.unit or "")


def _figures(f: Figures) -> WeekFigures:
    return WeekFigures(
        as_of=f.as_of,
        projects=f.projects,
        started=f.started,
        completed=f.completed,
        start_rate=f.start_rate,
        completion_rate=f.completion_rate,
        due_in_week=f.due_in_week,
        done_in_week=f.done_in_week,
        overdue_open=f.overdue_open,
    )


def next_meeting(app: App, calendar: WorkCalendar, on_or_after: dt.date) -> dt.date | None:
    """Return the first scheduled party-group meeting on or after a day (None when it can't be known)."""
    try:
        found = meeting_dates(app.policy.meetings, on_or_after, on_or_after + dt.timedelta(days=60), calendar)
    except HolidayTableMissing:
        return None  # next year's holidays are not published yet: the notice says "the next meeting"
    return found[0] if found else None


def evaluated_through(session: Session) -> dt.date | None:
    """Return the last evaluated day (None before the first evaluation): no document reads past it."""
    day: dt.date | None = session.scalar(select(func.max(col(EvaluationDay.day))))
    return day


def _not_evaluated(day: dt.date, through: dt.date | None) -> Refused:
    done = f"已评估至 {through.isoformat()}" if through else "尚未评估任何一天"
    return Refused(f"{day.isoformat()} 尚未评估（{done}）：请先运行 duban evaluate --through {day.isoformat()}")


def _strike_view(
    app: App,
    strike: Strike,
    trace: traces.Trace | None,
    as_of: dt.date,
    decision: str | None = None,
    meeting_date: dt.date | None = None,
    status: str | None = None,
) -> StrikeView:
    """A strike as the templates print it, with its decision (from the trace) and the words for its values.

    ``sanction`` says whether the meeting decided it (by which meeting) or it is proposed (awaiting which).
    ``decision``, ``meeting_date`` and ``status`` state it as it stood at another time (a draft's, an
    agenda's) instead of now.
    """
    words = app.wording
    if decision is None:
        decision, meeting_date = strike.decision, strike.meeting_date
    status = status or strike.status
    ranking = trace.ranking if trace is not None else None
    counted = status == StrikeStatus.COUNTED and ranking is not None
    level, action = (ranking.level, ranking.action) if counted and ranking else (None, None)
    stated = sanction(
        app,
        status=status,
        level=level,
        action=action,
        decision=decision,
        meeting_date=meeting_date,
        detected_on=strike.detected_on,
        as_of=as_of,
    )
    return StrikeView(
        id=strike.id,
        level=level,
        action=action,
        action_cn=words.word("action", action),
        status=status,
        status_cn=words.word("strike_status", status),
        decision=decision,
        decision_cn=words.word("decision", decision),
        planned_date=strike.planned_date,
        detected_on=strike.detected_on,
        meeting_date=meeting_date,
        title=ranking.title if ranking else "",
        counted_before=len(ranking.counted_before) if ranking else None,
        agenda=list(trace.agenda) if trace is not None else [],
        decided=stated.decided if stated else False,
        awaiting=None if stated is None or stated.decided else stated.meeting,
        sanction=stated.text if stated else "",
        sanction_short=stated.short if stated else "",
    )


def _nodes(session: Session, strike_ids: list[int]) -> dict[int, list[StrikeNode]]:
    # Only the projects these strikes name: the cost follows the document, not the size of the ledger.
    completed: dict[tuple[str, str], Any] = {}
    names: dict[str, str] = {}
    for chunk in chunks(strike_ids):
        for code, name, node_code, completed_on in session.execute(
            select(col(Project.code), col(Project.name), col(Node.code), col(Node.completed_on))
            .join(Project, col(Project.id) == col(Node.project_id))
            .join(Miss, col(Miss.node_id) == col(Node.id))
            .where(col(Miss.strike_id).in_(chunk))
        ):
            completed[(code, node_code)] = completed_on
            names[code] = name
    found = strike_nodes(session, strike_ids)
    return {
        sid: [
            StrikeNode(
                **n,
                project_name=names.get(n["project_code"], ""),
                node_name=n["name"],
                completed_on=completed.get((n["project_code"], n["node_code"])),
            )
            for n in nodes
        ]
        for sid, nodes in found.items()
    }


def meta(
    app: App,
    title: str,
    date: dt.date,
    *,
    district: str | None = None,
    doc_number: str | None = None,
    recipient: str | None = None,
    draft: bool = False,
    through: dt.date | None = None,
) -> Meta:
    """Return the header every document carries: title (of one district, if given), issuer, number, recipient,
    signature, its date and as-of day."""
    return Meta(
        title=_scoped_title(title, district),
        issuer=app.settings.issuer,
        doc_number=doc_number,
        recipient=recipient,
        signature=app.settings.office,
        date=date,
        draft=draft,
        evaluated_through=through,
    )


def _dated(title: str, day: dt.date) -> str:
    """A title with its day: 「…（2024年7月31日）」."""
    return f"{title}（{day.year}年{day.month}月{day.day}日）"


# ------------------------------------------------------------------------------------ notices


_TITLES = {
    Kind.REVIEW_NOTICE: "关于{name}同志未按期完成计划节点作出检查的通知",
    Kind.SUSPENSION_DECISION: "关于免除{name}同志项目负责人职务、留用整改的决定",
    Kind.DISMISSAL_DECISION: "关于彻底免除{name}同志项目负责人职务、永不使用的决定",
    Kind.CORRECTION_NOTICE: "关于更正{name}同志问责记录的通知",
}


def notice_context(app: App, session: Session, notice: Notice, calendar: WorkCalendar) -> NoticeContext:
    """Return everything a notice prints, with the explanation of the decision (facts, never who clicked what)."""
    kind = Kind(notice.kind)
    person = session.get(Person, notice.person_pk) if notice.person_pk else None
    strike = session.get(Strike, notice.strike_id) if notice.strike_id else None
    name = person.name if person else "（无责任人）"
    issued = document_date(app, session, notice)
    payload = notice.payload or {}
    draft = is_draft(notice)
    number = numbers.numbers_of(session, [numbers.notice_key(id_of(notice))]).get(numbers.notice_key(id_of(notice)))
    decision = traces.for_notice(session, notice)
    rests_on = decision.ranking.counted_before if decision is not None and decision.ranking else ()
    final_meeting = (
        dt.date.fromisoformat(payload["meeting"]) if payload.get("final") and payload.get("meeting") else None
    )
    stated = None
    if strike is not None:
        # A draft states the proposal it was written on, a final decision its meeting, whatever happened later.
        when = (
            {"decision": Decision.PROPOSED, "status": StrikeStatus.COUNTED}
            if draft
            else {"decision": Decision.CONFIRMED, "meeting_date": final_meeting, "status": StrikeStatus.COUNTED}
            if final_meeting
            else {}
        )
        stated = replace(_strike_view(app, strike, decision, issued, **when), level=payload.get("level", strike.level))
    return NoticeContext(
        kind=kind.value,
        meta=meta(
            app,
            _TITLES[kind].format(name=name),
            issued,
            doc_number=number,
            recipient=f"{name}同志：" if person else None,
            draft=draft,
        ),
        person=_person(person),
        # A notice says what was decided when it was issued; later corrections get their own notice.
        strike=stated,
        nodes=_nodes(session, [strike.id]).get(strike.id, []) if strike and strike.id else [],
        explanation=explain(app, session, strike, decision, issued) if strike else [],
        # The earlier strikes the level rests on (a suspension or dismissal cites them by number and date).
        basis=[_basis_strike(session, b) for b in basis(session, rests_on)],
        meeting=next_meeting(app, calendar, issued),
        payload=payload,
        policy=NoticePolicy(grace_days=app.policy.grace_days),
        correction=_correction(app, payload) if kind is Kind.CORRECTION_NOTICE else None,
    )


def _basis_strike(session: Session, cited: dict[str, Any]) -> BasisStrike:
    """An earlier strike a decision cites, with its nodes that were not revoked, each in one phrase."""
    nodes = [
        BasisNode(**asdict(n), label=f"{n.project_code} {n.project_name}“{n.node_name}”")
        for n in _nodes(session, [cited["id"]]).get(cited["id"], [])
        if not n.revoked
    ]
    return BasisStrike(
        id=cited["id"], detected_on=cited["detected_on"], planned_date=cited["planned_date"], nodes=nodes
    )


def _correction(app: App, payload: dict[str, Any]) -> Correction:
    """What a correction notice states: the event (exemption, revocation, policy) and how the level moved."""
    words = app.wording
    meeting = payload.get("meeting")
    return Correction(
        cause=payload.get("cause"),
        cause_cn=words.word("correction", payload.get("cause")),
        reason=payload.get("reason"),
        meeting=dt.date.fromisoformat(meeting) if meeting else None,
        old_level=payload.get("old_level"),
        new_level=payload.get("new_level"),
        # Only when the person's level or status moved (a status change): what it was, what it is.
        status_moved="new_status" in payload,
        old_status_cn=words.word("person_status", payload.get("old_status")),
        new_status_cn=words.word("person_status", payload.get("new_status")),
        moved=[LevelMove(id=sid, old_level=old, new_level=new) for sid, old, new in payload.get("moved", [])],
    )


# ------------------------------------------------------------------------------------- agenda


def red_projects(app: App, session: Session, day: dt.date, district: str | None = None) -> list[RedProject]:
    """Return the red projects of a day with why: their overdue, uncompleted nodes and overdue 12345 work orders.

    A node is overdue when the end of its deadline (``App.deadline_end``: grace, and the move to a
    working day when the policy says so) is before the day — the evaluation's own deadline.
    """
    rows = session.execute(
        select(
            col(Project.code),
            col(Project.name),
            col(Project.district),
            col(Node.code),
            col(Node.name),
            col(Node.planned_date),
        )
        .join(Project, col(Project.id) == col(Node.project_id))
        .where(
            col(Project.status).in_(_EVALUATED),
            col(Node.planned_date) < day,
            (col(Node.completed_on).is_(None)) | (col(Node.completed_on) > day),
            *_in_district(district),
        )
    ).all()
    grouped: dict[str, RedProject] = {}

    def entry(code: str, name: str, district: str | None) -> RedProject:
        return grouped.setdefault(
            code, RedProject(project_code=code, project_name=name, district=district or "", nodes=[], complaints=[])
        )

    ends: dict[dt.date, dt.date] = {}
    for code, name, district_name, node_code, node_name, planned in sorted(rows, key=lambda r: (r[0], r[3])):
        end = ends.get(planned) or ends.setdefault(planned, app.deadline_end(planned))
        if end >= day:
            continue  # within its grace, or its deadline moved to a working day not yet past
        entry(code, name, district_name).nodes.append(
            RedNode(node_code=node_code, node_name=node_name, planned_date=planned, days_overdue=(day - end).days)
        )
    overdue = overdue_on(session, day, app.settings.tz, district)
    for chunk in chunks(sorted(overdue)):
        for project_id, code, name, district_name in session.execute(
            select(col(Project.id), col(Project.code), col(Project.name), col(Project.district)).where(
                col(Project.id).in_(chunk), col(Project.status).in_(_EVALUATED)
            )
        ):
            entry(code, name, district_name).complaints.extend(WorkOrder(**o.as_dict(day)) for o in overdue[project_id])
    return [grouped[code] for code in sorted(grouped)]


def _in_district(district: str | None) -> list[Any]:
    """The condition on Project that keeps one district (none: the whole ledger)."""
    return [] if district is None else [col(Project.district) == district]


def _strikes_in_district(district: str | None) -> list[Any]:
    """The condition on Strike that keeps the strikes of one district's projects."""
    if district is None:
        return []
    return [col(Strike.project_id).in_(select(col(Project.id)).where(col(Project.district) == district))]


def _persons(session: Session, pks: Any) -> dict[int | None, Person]:
    """The persons a document names (not every person of the ledger)."""
    wanted = sorted({pk for pk in pks if pk is not None})
    found: dict[int | None, Person] = {}
    for chunk in chunks(wanted):
        found.update((p.id, p) for p in session.scalars(select(Person).where(col(Person.id).in_(chunk))))
    return found


def _scoped_title(title: str, district: str | None) -> str:
    return title if district is None else f"{title}（{district}）"


def _pending_at(app: App, session: Session, meeting: dt.date, district: str | None) -> list[Strike]:
    """The strikes that awaited a decision at a meeting, as it stood then (an agenda produced later says the same).

    Found by the meeting and not decided at an earlier one: still proposed, or confirmed or exempted
    at this meeting or a later one. A revoked strike is on no agenda (its miss was not a miss).
    """
    found = list(
        session.scalars(
            select(Strike)
            .where(
                col(Strike.detected_on) <= meeting,
                col(Strike.status).in_((StrikeStatus.COUNTED, StrikeStatus.EXEMPTED)),
                *_strikes_in_district(district),
            )
            .order_by(col(Strike.id))
        )
    )
    exempted = [id_of(s) for s in found if s.status == StrikeStatus.EXEMPTED]
    pending = []
    decided_on = _exempted_on(app, session, exempted)
    for strike in found:
        if strike.status == StrikeStatus.EXEMPTED:
            when = decided_on.get(id_of(strike))
            if when is None or when < meeting:
                continue
        elif (
            strike.decision == Decision.CONFIRMED and strike.meeting_date is not None and strike.meeting_date < meeting
        ):
            continue
        pending.append(strike)
    return pending


def _exempted_on(app: App, session: Session, strike_ids: list[int]) -> dict[int, dt.date]:
    """The day each exemption was decided: its meeting, else the date of its correction notice (the business day)."""
    found: dict[int, dt.date] = {}
    for chunk in chunks(strike_ids):
        for sid, day in session.execute(
            select(col(Strike.id), col(Strike.meeting_date)).where(col(Strike.id).in_(chunk))
        ):
            if day is not None:
                found[sid] = day
        for notice in session.scalars(
            select(Notice).where(
                col(Notice.key).in_(
                    [f"correction:strike:{sid}:{StrikeStatus.EXEMPTED}" for sid in chunk if sid not in found]
                )
            )
        ):
            if notice.strike_id is not None:
                found[notice.strike_id] = document_date(app, session, notice)
    return found


def _statuses_then(session: Session, pks: set[int], day: dt.date, app: App) -> dict[int, PersonStatus]:
    """Each person's status as it was on a day: the last status change recorded by then (history, not today's)."""
    until = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=app.settings.tz)
    found: dict[int, PersonStatus] = {}
    for chunk in chunks(sorted(pks)):
        for pk, status in session.execute(
            select(col(StatusChange.person_pk), col(StatusChange.new_status))
            .where(
                col(StatusChange.person_pk).in_(chunk),
                (col(StatusChange.day) <= day)
                | (col(StatusChange.day).is_(None) & (col(StatusChange.recorded_at) < until)),
            )
            .order_by(col(StatusChange.id))
        ):
            found[pk] = PersonStatus(status)
    return found


def _decided_before(session: Session, pks: set[int], day: dt.date, app: App) -> dict[int, PersonStatus]:
    """Each person's status as decided by meetings before a day (their highest confirmed counted level)."""
    found: dict[int, PersonStatus] = {}
    for chunk in chunks(sorted(pks)):
        for pk, level in session.execute(
            select(col(Strike.person_pk), func.max(col(Strike.level)))
            .where(
                col(Strike.person_pk).in_(chunk),
                col(Strike.status) == StrikeStatus.COUNTED,
                col(Strike.decision) == Decision.CONFIRMED,
                col(Strike.meeting_date) < day,
            )
            .group_by(col(Strike.person_pk))
        ):
            found[pk] = app.policy.status_for(level)
    return found


def _requests_at(app: App, session: Session, pending: list[Strike], meeting: dt.date) -> list[tuple[int, str]]:
    """The exemption requests put to a meeting: those of its strikes not turned down by an earlier meeting.

    (A request records only the clock time it was made, which in a replay is not the business day:
    it is not used to leave requests out.)
    """
    ids = [id_of(s) for s in pending]
    asked: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for chunk in chunks(ids):
        for event in session.scalars(
            select(StrikeEvent)
            .where(
                col(StrikeEvent.strike_id).in_(chunk),
                col(StrikeEvent.kind).in_((EventKind.EXEMPTION_REQUESTED, EventKind.EXEMPTION_REJECTED)),
            )
            .order_by(col(StrikeEvent.id))
        ):
            if event.kind == EventKind.EXEMPTION_REJECTED:
                if event.meeting_date is None or event.meeting_date < meeting:
                    asked.pop(event.strike_id, None)
            else:
                asked[event.strike_id].append((id_of(event), event.text or ""))
    return sorted(((sid, text) for sid, events in asked.items() for _id, text in events), key=lambda r: r[0])


def is_meeting_day(app: App, day: dt.date, calendar: WorkCalendar) -> bool:
    """Whether a party-group meeting sits on a day by the policy's schedule (or its extra dates)."""
    return day in meeting_dates(app.policy.meetings, day, day, calendar)


def agenda_context(
    app: App, session: Session, meeting: dt.date, calendar: WorkCalendar, district: str | None = None
) -> AgendaContext:
    """Return the party-group meeting agenda of §7 for the meeting on a date (of one district, if given).

    It holds what awaited a decision at that meeting, as it stood then: levels and statuses as of
    the meeting's day, whenever the agenda is produced. Its red list and figures read the last
    evaluated day at most.
    """
    previous = previous_meeting(app.policy.meetings, meeting, calendar)
    through = evaluated_through(session)
    as_of = min(meeting, through) if through is not None else meeting
    pending = _pending_at(app, session, meeting, district)
    sections, requests = _agenda_items(app, session, pending, meeting, previous)
    active = list(
        session.scalars(
            select(Project)
            .where(col(Project.status) == ProjectStatus.ACTIVE, *_in_district(district))
            .order_by(col(Project.code))
        )
    )
    needs = _needs_person(app, session, active, pending, meeting, district)
    red = red_projects(app, session, as_of, district) if through is not None else []
    # A whole-country agenda names the first projects and counts the rest by district: the
    # district editions (duban agenda --district) list all of theirs.
    limit = None if district is not None else app.settings.agenda_list_limit
    return AgendaContext(
        kind=Kind.MEETING_AGENDA.value,
        meta=meta(
            app, _dated(f"{app.settings.issuer}党组会议议程", meeting), meeting, district=district, through=through
        ),
        meeting=meeting,
        previous=previous,
        scheduled=is_meeting_day(app, meeting, calendar),
        as_of=as_of,
        reviews=sections["reviews"],
        decisions=sections["decisions"],
        unassigned=sections["unassigned"],
        exemption_requests=requests,
        needs_person=needs[:limit],
        needs_person_total=len(needs),
        red_projects=red[:limit],
        red_projects_total=len(red),
        by_district=_by_district(red, needs, {p.code: p.district for p in active}),
        figures=_figures(figures(session, app.policy, as_of, district)),
        district=district,
    )


def _agenda_items(
    app: App, session: Session, pending: list[Strike], meeting: dt.date, previous: dt.date | None
) -> tuple[dict[str, list[AgendaEntry]], list[ExemptionRequest]]:
    """The strikes awaiting the meeting by agenda section, and the exemption requests put to it, as they stood then."""
    ids = [id_of(s) for s in pending]
    nodes = _nodes(session, ids)
    sections: dict[str, list[AgendaEntry]] = {section: [] for section in AGENDA_SECTIONS}
    then = traces.current(session, ids, as_of=meeting)
    outcomes = _outcomes(session, ids, meeting)
    persons = _persons(session, (s.person_pk for s in pending))
    by_id = {id_of(s): s for s in pending}

    def proposed(strike: Strike) -> StrikeView:
        return _strike_view(
            app, strike, then.get(id_of(strike)), meeting, decision=Decision.PROPOSED, status=StrikeStatus.COUNTED
        )

    for strike in pending:
        trace = then.get(id_of(strike))
        if trace is None:
            continue
        sections[_section(trace)].append(
            AgendaEntry(
                strike=proposed(strike),
                person=_person(persons.get(strike.person_pk)),
                nodes=nodes.get(id_of(strike), []),
                new=previous is None or strike.detected_on > previous,
                outcome=outcomes.get(id_of(strike)),
            )
        )
    requests = [
        ExemptionRequest(
            strike=proposed(by_id[sid]),
            person=_person(persons.get(by_id[sid].person_pk)),
            reason=reason,
            nodes=nodes.get(sid, []),
            outcome=outcomes.get(sid),
        )
        for sid, reason in _requests_at(app, session, pending, meeting)
        if sid in then
    ]
    return sections, requests


def _needs_person(
    app: App, session: Session, active: list[Project], pending: list[Strike], meeting: dt.date, district: str | None
) -> list[NeedsPerson]:
    """The active projects that need a person named at the meeting: nobody holds them, or their holder was removed."""
    holders = responsible_on(session, meeting, None if district is None else [id_of(p) for p in active])
    holding = set(holders.values())
    statuses = _statuses_then(session, holding, meeting, app)
    decided = _decided_before(session, holding, meeting, app)
    holder_persons = _persons(session, holding)
    needs = []
    unassigned_projects = {s.project_id for s in pending if s.person_pk is None}
    # A person whose rung removes them from the post leaves their projects needing someone.
    removed = {r.status for r in app.policy.ladder if r.action in (Action.SUSPENSION, Action.DISMISSAL)}
    for project in active:
        holder = holders.get(id_of(project))
        status = statuses.get(holder, PersonStatus.ACTIVE) if holder else None
        if holder is None:
            reason = "无负责人" + ("，且已有逾期节点" if project.id in unassigned_projects else "")
        elif status in removed:
            person = holder_persons[holder]
            words = standing_of(app, status, decided.get(holder, PersonStatus.ACTIVE), meeting, meeting).words
            reason = f"原负责人 {person.name}（{person.person_id}）{words}"
        else:
            continue
        needs.append(NeedsPerson(project_code=project.code, project_name=project.name, reason=reason))
    return needs


def _outcomes(session: Session, strike_ids: list[int], meeting: dt.date) -> dict[int, Outcome]:
    """What the meeting on a day decided about some strikes (confirmed, exempted, request turned down)."""
    found: dict[int, Outcome] = {}
    for chunk in chunks(strike_ids):
        for event in session.scalars(
            select(StrikeEvent)
            .where(
                col(StrikeEvent.strike_id).in_(chunk),
                col(StrikeEvent.meeting_date) == meeting,
                col(StrikeEvent.kind).in_((EventKind.CONFIRMED, EventKind.EXEMPTED, EventKind.EXEMPTION_REJECTED)),
            )
            .order_by(col(StrikeEvent.id))
        ):
            found[event.strike_id] = Outcome(
                kind=event.kind, text=event.text or "", actor=event.actor, recorded_at=event.recorded_at
            )
    return found


def decisions_context(app: App, session: Session, meeting: dt.date, district: str | None = None) -> DecisionsContext:
    """Return the meeting's 决定事项, read from the record: every confirmation, exemption and request turned down.

    Each item states what was decided on whom, at which level (as recorded when it was decided),
    the decision's text, and who recorded it when.
    """
    events = list(
        session.scalars(
            select(StrikeEvent)
            .where(
                col(StrikeEvent.meeting_date) == meeting,
                col(StrikeEvent.kind).in_((EventKind.CONFIRMED, EventKind.EXEMPTED, EventKind.EXEMPTION_REJECTED)),
                col(StrikeEvent.strike_id).in_(select(col(Strike.id)).where(*_strikes_in_district(district))),
            )
            .order_by(col(StrikeEvent.id))
        )
    )
    strikes = {
        id_of(s): s
        for chunk in chunks(sorted({e.strike_id for e in events}))
        for s in session.scalars(select(Strike).where(col(Strike.id).in_(chunk)))
    }
    then = traces.current(session, strikes, as_of=meeting)
    nodes = _nodes(session, list(strikes))
    persons = _persons(session, (s.person_pk for s in strikes.values()))
    sections: dict[EventKind, list[DecisionItem]] = {
        EventKind.CONFIRMED: [],
        EventKind.EXEMPTED: [],
        EventKind.EXEMPTION_REJECTED: [],
    }
    for event in events:
        sections[EventKind(event.kind)].append(
            _decision_item(app, event, strikes[event.strike_id], then.get(event.strike_id), persons, nodes)
        )
    return DecisionsContext(
        kind=Kind.MEETING_DECISIONS.value,
        meta=meta(app, _dated(f"{app.settings.issuer}党组会决定事项", meeting), meeting, district=district),
        meeting=meeting,
        confirmed=sections[EventKind.CONFIRMED],
        exempted=sections[EventKind.EXEMPTED],
        rejected=sections[EventKind.EXEMPTION_REJECTED],
        total=len(events),
        district=district,
    )


def _decision_item(
    app: App,
    event: StrikeEvent,
    strike: Strike,
    trace: traces.Trace | None,
    persons: dict[int | None, Person],
    nodes: dict[int, list[StrikeNode]],
) -> DecisionItem:
    """One decision of the meeting: on whom, at which level (as recorded when it was decided), its text, who recorded it."""
    level = event.new_level if event.kind == EventKind.CONFIRMED else event.old_level
    if level is None and trace is not None and trace.ranking is not None:
        level = trace.ranking.level  # recorded before revision 0012 kept no level on the event
    rung = app.policy.rung_for(level) if level else None
    return DecisionItem(
        strike_id=event.strike_id,
        person=_person(persons.get(strike.person_pk)),
        nodes=nodes.get(event.strike_id, []),
        level=level,
        action_cn=app.wording.word("action", rung.action) if rung else "",
        title=rung.title if rung else "",
        text=event.text or "",
        actor=event.actor,
        recorded_at=event.recorded_at.astimezone(app.settings.tz).strftime("%Y-%m-%d %H:%M"),
        planned_date=strike.planned_date,
        detected_on=strike.detected_on,
    )


def _by_district(
    red: list[RedProject], needs: list[NeedsPerson], district_of: dict[str, str | None]
) -> list[DistrictCount]:
    """Red projects and projects needing a person, counted by district (the whole-country agenda's summary)."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for project in red:
        counts[project.district or "（未填）"][0] += 1
    for needing in needs:
        counts[district_of.get(needing.project_code) or "（未填）"][1] += 1
    return [
        DistrictCount(district=name, red=n_red, needs_person=n_needs)
        for name, (n_red, n_needs) in sorted(counts.items())
    ]


def _section(trace: traces.Trace) -> str:
    """The agenda section of a strike: the first of its decision's agenda items that has one."""
    for item in trace.agenda:
        for section, items in AGENDA_SECTIONS.items():
            if item in items:
                return section
    raise ValueError(f"no agenda section for items {list(trace.agenda)}")


# ------------------------------------------------------------------------------------ reports


def lights(app: App, session: Session, day: dt.date, district: str | None = None) -> dict[str, list[LightProject]]:
    """Return projects by traffic light (§6): red overdue, yellow due within the warning days, green."""
    colour = lights_as_of(app, session, day, district)
    out: dict[str, list[LightProject]] = {"red": [], PENDING: [], "yellow": [], "green": []}
    for project in session.scalars(
        select(Project).where(col(Project.status).in_(_EVALUATED), *_in_district(district)).order_by(col(Project.code))
    ):
        out[colour.get(id_of(project), "green")].append(
            LightProject(project_code=project.code, project_name=project.name, district=project.district or "")
        )
    return out


def daily_context(app: App, session: Session, day: dt.date, district: str | None = None) -> DailyContext:
    """Return the daily check report (每日检点) of a day (of one district, if given); the day must be evaluated."""
    through = evaluated_through(session)
    if session.scalar(select(col(EvaluationDay.day)).where(col(EvaluationDay.day) == day)) is None:
        raise _not_evaluated(day, through)
    due, done, overdue = _day_nodes(session, day, district)
    light = lights(app, session, day, district)
    return DailyContext(
        kind=Kind.DAILY_REPORT.value,
        meta=meta(app, _dated("老旧小区改造每日检点", day), day, district=district, through=through),
        day=day,
        evaluated=True,
        due=due,
        done=done,
        newly_overdue=overdue,
        strikes=_day_strikes(app, session, day, district),
        lights=light,
        counts={k: len(v) for k, v in light.items()},
        district=district,
        complaints=complaints_between(app, session, day, day, district),
        reminders=day_reminders(session, day, district),
        pending_reports=pending_reports(app, session, day, district),
    )


def _reporter(source: str, reported_by: str, person_name: str | None) -> str:
    """Who made a report, as the daily check names them: the person (name and id) or the district account."""
    if source == ReportSource.PHONE:
        return f"{person_name}（{reported_by}）" if person_name else reported_by
    return f"片区账号 {reported_by.removeprefix('web:')}"


def pending_reports(app: App, session: Session, day: dt.date, district: str | None = None) -> list[PendingReport]:
    """The reports waiting for review at the end of a day, as the daily check lists them (engine/views/reports.py)."""
    return [
        PendingReport(
            id=r.id,
            kind=r.kind,
            kind_cn="报完成" if r.kind == ReportKind.COMPLETION else "申请延期",
            project_code=r.project_code,
            project_name=r.project_name,
            district=r.district or "",
            node_code=r.node_code,
            node_name=r.node_name,
            planned_date=r.planned_then,
            completed_on=r.completed_on,
            requested_date=r.requested_date,
            reported_on=r.created_at.astimezone(app.settings.tz).date(),
            reporter=_reporter(r.source, r.reported_by, r.person_name),
            photos=len(r.photos),
            revokes=r.revokes,
        )
        for r in pending_on(app, session, day, district)
    ]


def day_reminders(session: Session, day: dt.date, district: str | None = None) -> list[DueItem]:
    """The warnings (预警) sent on a day, one per node (two thresholds on one day are one), soonest due first.

    Read through the reminders' day index: a day's warnings, never the ledger.
    """
    rows = session.execute(
        select(
            col(Reminder.node_id),
            col(Reminder.planned_date),
            col(Reminder.person_pk),
            col(Project.code),
            col(Project.name),
            col(Project.district),
            col(Node.code),
            col(Node.name),
        )
        .join(Node, col(Node.id) == col(Reminder.node_id))
        .join(Project, col(Project.id) == col(Reminder.project_id))
        .where(col(Reminder.remind_on) == day, *_in_district(district))
        .order_by(col(Reminder.planned_date), col(Project.code), col(Node.code), col(Reminder.id))
    ).all()
    persons = _persons(session, (row[2] for row in rows))
    seen: set[tuple[int, dt.date]] = set()
    items: list[DueItem] = []
    for node_id, planned, person_pk, code, name, district_of, node_code, node_name in rows:
        if (node_id, planned) in seen:
            continue
        seen.add((node_id, planned))
        items.append(
            DueItem(
                project_code=code,
                project_name=name,
                district=district_of or "",
                node_code=node_code,
                node_name=node_name,
                planned_date=planned,
                days_left=(planned - day).days,
                person=_person(persons.get(person_pk)),
            )
        )
    return items


def _day_nodes(
    session: Session, day: dt.date, district: str | None
) -> tuple[list[DueNode], list[DoneNode], list[MissedNode]]:
    """The nodes planned for a day, those completed on it and those found overdue on it."""
    here = _in_district(district)
    due = session.execute(
        select(col(Project.code), col(Project.name), col(Node.code), col(Node.name), col(Node.completed_on))
        .join(Project, col(Project.id) == col(Node.project_id))
        .where(col(Project.status).in_(_EVALUATED), col(Node.planned_date) == day, *here)
    ).all()
    done = session.execute(
        select(col(Project.code), col(Project.name), col(Node.code), col(Node.name), col(Node.planned_date))
        .join(Project, col(Project.id) == col(Node.project_id))
        .where(col(Node.completed_on) == day, *here)
    ).all()
    overdue = session.execute(
        select(col(Project.code), col(Project.name), col(Node.code), col(Node.name), col(Miss.planned_date))
        .join(Node, col(Node.id) == col(Miss.node_id))
        .join(Project, col(Project.id) == col(Node.project_id))
        .where(col(Miss.detected_on) == day, *here)
    ).all()
    return (
        [
            DueNode(project_code=p, project_name=pn, node_code=n, node_name=nn, done=c is not None and c <= day)
            for p, pn, n, nn, c in sorted(due)
        ],
        [
            DoneNode(project_code=p, project_name=pn, node_code=n, node_name=nn, planned_date=pl, late=pl < day)
            for p, pn, n, nn, pl in sorted(done)
        ],
        [
            MissedNode(project_code=p, project_name=pn, node_code=n, node_name=nn, planned_date=pl)
            for p, pn, n, nn, pl in sorted(overdue)
        ],
    )


def _day_strikes(app: App, session: Session, day: dt.date, district: str | None) -> list[DailyStrike]:
    """The strikes found on a day, with their persons and nodes."""
    strikes = list(
        session.scalars(
            select(Strike)
            .where(col(Strike.detected_on) == day, *_strikes_in_district(district))
            .order_by(col(Strike.id))
        )
    )
    persons = _persons(session, (s.person_pk for s in strikes))
    nodes = _nodes(session, [id_of(s) for s in strikes])
    decided = traces.current(session, [id_of(s) for s in strikes])
    return [
        DailyStrike(
            strike=_strike_view(app, s, decided.get(id_of(s)), day),
            person=_person(persons.get(s.person_pk)),
            nodes=nodes.get(id_of(s), []),
        )
        for s in strikes
    ]


def complaints_between(
    app: App, session: Session, first: dt.date, last: dt.date, district: str | None = None
) -> Complaints:
    """Return the 12345 work orders of some days: received, closed (late or not), and overdue on the last day."""
    tz = app.settings.tz
    received: list[ProjectWorkOrder] = []
    closed, late, unmatched = 0, 0, 0
    for order, code, name in between(session, first, last, tz, district):
        if first <= order.received_on <= last:
            received.append(ProjectWorkOrder(**order.as_dict(last), project_code=code or "", project_name=name or ""))
            unmatched += code is None
        if order.closed_on is not None and first <= order.closed_on <= last:
            closed += 1
            late += order.closed_late()
    overdue: list[ProjectWorkOrder] = []
    late_now = overdue_on(session, last, tz, district)
    for chunk in chunks(sorted(late_now)):
        for project_id, code, name in session.execute(
            select(col(Project.id), col(Project.code), col(Project.name)).where(col(Project.id).in_(chunk))
        ):
            overdue.extend(
                ProjectWorkOrder(**o.as_dict(last), project_code=code, project_name=name) for o in late_now[project_id]
            )
    overdue.sort(key=lambda o: (-o.overdue_days, o.order_no))
    return Complaints(
        received=received,
        overdue=overdue,
        counts=ComplaintCounts(
            received=len(received), closed=closed, closed_late=late, overdue=len(overdue), unmatched=unmatched
        ),
    )


_SUMMED = (
    "projects",
    "started",
    "completed_projects",
    "households",
    "started_households",
    "completed_households",
    "due",
    "on_time",
    "overdue",
    "complaints_overdue",
)


def progress_context(app: App, session: Session, on: dt.date, district: str | None = None) -> dict[str, Any]:
    """Return the progress tables reported upward as of a day (the last evaluated day at most): by district with a
    total, and the three rankings."""
    through = evaluated_through(session)
    if through is None:
        raise _not_evaluated(on, through)
    on = min(on, through)
    tables = {by: progress_by(app, session, on, by, district) for by in ("district", "contractor", "person")}
    total: dict[str, Any] = {key: sum(r[key] for r in tables["district"]) for key in _SUMMED}
    total["start_rate"] = total["started"] / total["projects"] if total["projects"] else 0.0
    total["completion_rate"] = total["completed_projects"] / total["projects"] if total["projects"] else 0.0
    scope = f"{district}" if district else ""
    return {
        "title": f"{app.settings.issuer}{scope}老旧小区改造项目进展情况表",
        "title_short": f"老旧小区改造{scope}",
        "issuer": app.settings.issuer,
        "as_of": on,
        "district": district,
        "districts": sorted(tables["district"], key=lambda r: r["name"]),
        "total": total,
        "rankings": [
            ("片区排名", tables["district"]),
            ("施工单位排名", tables["contractor"]),
            ("负责人排名", [r for r in tables["person"] if r["name"] != NOBODY]),
        ],
    }


#: How many responsible persons the bulletin names at each end of the ranking.
PERSONS_RANKED = 5


def _persons_fast_and_slow(rows: list[RankingRow]) -> tuple[list[RankingRow], list[RankingRow], list[RankingRow]]:
    """The responsible persons with nodes due, ranked: all of them when few (the first list), else the fastest and
    the slowest (the second and third)."""
    ranked = [replace(r, rank=rank) for rank, r in enumerate((r for r in rows if r.due and r.name != NOBODY), start=1)]
    if len(ranked) <= 2 * PERSONS_RANKED:
        return ranked, [], []
    return [], ranked[:PERSONS_RANKED], ranked[-PERSONS_RANKED:][::-1]


def _ranking(app: App, session: Session, on: dt.date, by: str, district: str | None) -> list[RankingRow]:
    """The districts, contractors or responsible persons ranked as of a day (engine/views/board.py's rows)."""
    return [RankingRow(**row) for row in progress_by(app, session, on, by, district)]


def _batch_end(batch: str | None) -> dt.date | None:
    try:
        year, month = (int(part) for part in (batch or "").split("-")[:2])
        return dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)
    except ValueError:
        return None


def bulletin_key(week_of: dt.date, district: str | None = None) -> str:
    """Return the document key of the weekly bulletin of the week holding a day (its number is kept under it)."""
    monday = week_of - dt.timedelta(days=week_of.weekday())
    return f"{Kind.WEEKLY_BULLETIN.value}:{monday.isoformat()}" + (f":{district}" if district else "")


def bulletin_as_of(session: Session, week_of: dt.date) -> tuple[dt.date, bool]:
    """Return the day a bulletin reads (its Sunday, or the last evaluated day) and whether its week is whole.

    A week not evaluated at all is refused with the command to run.
    """
    monday = week_of - dt.timedelta(days=week_of.weekday())
    sunday = monday + dt.timedelta(days=6)
    through = evaluated_through(session)
    if through is None or through < monday:
        raise _not_evaluated(monday, through)
    return min(sunday, through), through >= sunday


def weekly_context(
    app: App,
    session: Session,
    week_of: dt.date,
    chart_dir: Path | None,
    district: str | None = None,
    number: str | None = None,
) -> WeeklyContext:
    """Return the weekly bulletin (每周通报) of the week (Monday–Sunday) holding a day (of one district, if given).

    It reads the week through its last evaluated day (「截至」 that day). It is addressed to the
    responsible persons and the contractors, so it lists only the sanctions the meeting decided;
    the week's new strikes appear only as 「提请党组会研究」. ``number`` is the bulletin's document
    number, given when a whole week's bulletin is issued (``documents.issue_bulletin``).
    """
    monday = week_of - dt.timedelta(days=week_of.weekday())
    sunday = monday + dt.timedelta(days=6)
    as_of, _whole = bulletin_as_of(session, week_of)
    issue = _issue(session, monday)
    chart = None
    if chart_dir is not None:
        chart = _chart(app, session, monday, as_of, chart_dir, district)
    persons_ranked, persons_fast, persons_slow = _persons_fast_and_slow(
        _ranking(app, session, as_of, "person", district)
    )
    decided, referred = _week_accountability(app, session, monday, as_of, district)
    return WeeklyContext(
        kind=Kind.WEEKLY_BULLETIN.value,
        meta=meta(
            app,
            f"关于老旧小区改造进展情况的通报（第{issue}期）",
            as_of,
            district=district,
            doc_number=number,
            recipient="各项目负责人、各施工单位：",
            through=as_of,
        ),
        issue=issue,
        monday=monday,
        sunday=sunday,
        as_of=as_of,
        whole_week=as_of == sunday,
        figures=_figures(figures(session, app.policy, as_of, district)),
        batches=_batches(session, as_of, district),
        districts=_ranking(app, session, as_of, "district", district),
        contractors=_ranking(app, session, as_of, "contractor", district),
        persons_ranked=persons_ranked,
        persons_fast=persons_fast,
        persons_slow=persons_slow,
        red_projects=red_projects(app, session, as_of, district),
        complaints=complaints_between(app, session, monday, as_of, district),
        district=district,
        decided=decided,
        referred=referred,
        chart=chart.name if chart else None,
        reviews=[
            ReviewCount(district=name or "（未填）", approved=approved, rejected=rejected)
            for name, (approved, rejected) in decided_between(app, session, monday, as_of, district).items()
        ],
    )


def _issue(session: Session, monday: dt.date) -> int:
    """The bulletin's issue (第几期): its week counted from the week of the first evaluated day."""
    first_day = session.scalar(select(func.min(col(EvaluationDay.day)))) or monday
    first_monday = first_day - dt.timedelta(days=first_day.weekday())
    return max((monday - first_monday).days // 7 + 1, 1)


def _batches(session: Session, as_of: dt.date, district: str | None) -> list[Batch]:
    """The batches (批次) by name: their projects, how many are completed by a day, and their target month's end."""
    done_by_project: dict[int, list[bool]] = defaultdict(list)
    batch_of: dict[int, str] = {}
    for project_id, batch, completed in session.execute(
        select(col(Project.id), col(Project.batch), col(Node.completed_on))
        .join(Node, col(Node.project_id) == col(Project.id))
        .where(col(Project.status).in_(_EVALUATED), *_in_district(district))
    ):
        batch_of[project_id] = batch or "（未填）"
        done_by_project[project_id].append(completed is not None and completed <= as_of)
    counts: dict[str, list[int]] = {}  # batch → [projects, completed], in the order the batches are met
    for project_id, done in done_by_project.items():
        tally = counts.setdefault(batch_of[project_id], [0, 0])
        tally[0] += 1
        tally[1] += all(done)
    batches = []
    for name, (projects, completed) in counts.items():
        deadline = _batch_end(name)
        batches.append(
            Batch(
                batch=name,
                projects=projects,
                completed=completed,
                deadline=deadline,
                rate=completed / projects if projects else 0.0,
                due=deadline is not None and deadline <= as_of,
            )
        )
    return sorted(batches, key=lambda b: b.batch)


def _chart(app: App, session: Session, monday: dt.date, as_of: dt.date, chart_dir: Path, district: str | None) -> Path:
    """Draw the bulletin's chart: nodes planned and done, day by day, through the day the bulletin reads."""
    here = _in_district(district)
    planned_days = sorted(
        session.scalars(
            select(col(Node.planned_date))
            .join(Project, col(Project.id) == col(Node.project_id))
            .where(col(Project.status).in_(_EVALUATED), *here)
        )
    )
    done_days = sorted(
        d
        for d in session.scalars(
            select(col(Node.completed_on))
            .join(Project, col(Project.id) == col(Node.project_id))
            .where(col(Project.status).in_(_EVALUATED), *here)
        )
        if d is not None
    )
    # From the first planned or done node, or the week itself when the first plan is later (a chart of zeros).
    start = min(planned_days[0], done_days[0] if done_days else planned_days[0], monday) if planned_days else monday
    points, i, j = [], 0, 0
    day = start
    while day <= as_of:
        while i < len(planned_days) and planned_days[i] <= day:
            i += 1
        while j < len(done_days) and done_days[j] <= day:
            j += 1
        points.append((day, i, j))
        day += dt.timedelta(days=1)
    chart_dir.mkdir(parents=True, exist_ok=True)
    suffix = "" if district is None else f"-{district}"
    return progress_chart(
        points,
        chart_dir / f"progress-{monday.isoformat()}{suffix}.png",
        f"计划节点累计完成情况（截至{as_of.month}月{as_of.day}日）",
    )


def _week_accountability(
    app: App, session: Session, monday: dt.date, as_of: dt.date, district: str | None
) -> tuple[list[WeekDecision], list[Referral]]:
    """The bulletin's accountability: what the week's meetings decided, and what was found and put to the meeting."""
    decided_events = list(
        session.scalars(
            select(StrikeEvent)
            .where(
                col(StrikeEvent.kind).in_((EventKind.CONFIRMED, EventKind.EXEMPTED)),
                col(StrikeEvent.meeting_date).between(monday, as_of),
                col(StrikeEvent.strike_id).in_(select(col(Strike.id)).where(*_strikes_in_district(district))),
            )
            .order_by(col(StrikeEvent.id))
        )
    )
    found = list(
        session.scalars(
            select(Strike)
            .where(
                col(Strike.detected_on).between(monday, as_of),
                col(Strike.status) != StrikeStatus.REVOKED,
                *_strikes_in_district(district),
            )
            .order_by(col(Strike.id))
        )
    )
    decided_ids = {e.strike_id for e in decided_events}
    strikes = {
        id_of(s): s
        for chunk in chunks(sorted(decided_ids | {id_of(s) for s in found}))
        for s in session.scalars(select(Strike).where(col(Strike.id).in_(chunk)))
    }
    persons = _persons(session, (s.person_pk for s in strikes.values()))
    nodes = _nodes(session, list(strikes))
    words = app.wording
    decided = []
    for event in decided_events:
        strike = strikes[event.strike_id]
        level = event.new_level if event.kind == EventKind.CONFIRMED else event.old_level
        rung = app.policy.rung_for(level) if level else None
        decided.append(
            WeekDecision(
                strike_id=event.strike_id,
                kind=event.kind,
                meeting=event.meeting_date,
                person=_person(persons.get(strike.person_pk)),
                nodes=nodes.get(event.strike_id, []),
                level=level,
                action_cn=words.word("action", rung.action) if rung else "",
                reason=event.text or "",
            )
        )
    referred = [
        Referral(strike_id=id_of(s), person=_person(persons.get(s.person_pk)), nodes=nodes.get(id_of(s), []))
        for s in found
        if id_of(s) not in decided_ids
    ]
    return decided, referred
