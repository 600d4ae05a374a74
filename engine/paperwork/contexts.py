"""What the paperwork says: plain contexts for the templates, built from the database.

Templates get dicts of plain values (never ORM objects): `notifications/` renders them and
never reads the database. Phone numbers and e-mail addresses are never put in a context.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session, col

from config.calendar import HolidayTableMissing, WorkCalendar, meeting_dates, previous_meeting
from config.policy import Action, PersonStatus
from engine.complaints.views import between, overdue_on
from engine.context import App
from engine.evaluation import traces
from engine.record.holders import holders as responsible_on
from engine.store.db import chunks
from engine.store.models import (
    Decision,
    EvaluationDay,
    EventKind,
    Miss,
    Node,
    Notice,
    Person,
    Project,
    ProjectStatus,
    StatusChange,
    Strike,
    StrikeEvent,
    StrikeStatus,
    id_of,
)
from engine.views.board import NOBODY, lights_as_of, progress_by
from engine.views.figures import Figures, figures
from engine.views.strikes import basis, explain, strike_nodes
from notifications.charts import progress_chart
from notifications.kinds import AGENDA_SECTIONS, Kind

_EVALUATED = (ProjectStatus.ACTIVE, ProjectStatus.COMPLETED)


def _person(person: Person | None) -> dict[str, Any] | None:
    return None if person is None else {"person_id": person.person_id, "name": person.name, "unit": person.unit or ""}


def _figures(f: Figures) -> dict[str, Any]:
    return {"as_of": f.as_of, "projects": f.projects, "started": f.started, "completed": f.completed,
            "start_rate": f.start_rate, "completion_rate": f.completion_rate, "due_in_week": f.due_in_week,
            "done_in_week": f.done_in_week, "overdue_open": f.overdue_open}


def next_meeting(app: App, calendar: WorkCalendar, on_or_after: dt.date) -> dt.date | None:
    """Return the first scheduled party-group meeting on or after a day (None when it can't be known)."""
    try:
        found = meeting_dates(app.policy.meetings, on_or_after, on_or_after + dt.timedelta(days=60), calendar)
    except HolidayTableMissing:
        return None  # next year's holidays are not published yet: the notice says "the next meeting"
    return found[0] if found else None


def _doc_number(app: App, year: int, serial: int) -> str:
    return f"{app.settings.doc_prefix}〔{year}〕{serial}号"


def _strike_dict(app: App, strike: Strike, trace: traces.Trace | None) -> dict[str, Any]:
    """A strike as the templates print it, with its decision (from the trace) and the words for its values."""
    words = app.wording
    ranking = trace.ranking if trace is not None else None
    counted = strike.status == StrikeStatus.COUNTED and ranking is not None
    level, action = (ranking.level, ranking.action) if counted and ranking else (None, None)
    return {
        "id": strike.id, "level": level, "action": action,
        "action_cn": words.word("action", action), "status": strike.status,
        "status_cn": words.word("strike_status", strike.status), "decision": strike.decision,
        "decision_cn": words.word("decision", strike.decision), "planned_date": strike.planned_date,
        "detected_on": strike.detected_on, "meeting_date": strike.meeting_date,
        "title": ranking.title if ranking else "", "counted_before": len(ranking.counted_before) if ranking else None,
        "agenda": list(trace.agenda) if trace is not None else [],
    }


def _nodes(session: Session, strike_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    # Only the projects these strikes name: the cost follows the document, not the size of the ledger.
    completed: dict[tuple[str, str], Any] = {}
    names: dict[str, str] = {}
    for chunk in chunks(strike_ids):
        for code, name, node_code, completed_on in session.execute(
                select(col(Project.code), col(Project.name), col(Node.code), col(Node.completed_on))
                .join(Project, col(Project.id) == col(Node.project_id))
                .join(Miss, col(Miss.node_id) == col(Node.id)).where(col(Miss.strike_id).in_(chunk))):
            completed[(code, node_code)] = completed_on
            names[code] = name
    found = strike_nodes(session, strike_ids)
    return {sid: [{**n, "project_name": names.get(n["project_code"], ""), "node_name": n["name"],
                   "completed_on": completed.get((n["project_code"], n["node_code"]))} for n in nodes]
            for sid, nodes in found.items()}


# ------------------------------------------------------------------------------------ notices


_TITLES = {
    Kind.REVIEW_NOTICE: "关于{name}同志未按期完成计划节点作出检查的通知",
    Kind.SUSPENSION_DECISION: "关于免除{name}同志项目负责人职务、留用整改的决定",
    Kind.DISMISSAL_DECISION: "关于彻底免除{name}同志项目负责人职务、永不使用的决定",
    Kind.CORRECTION_NOTICE: "关于更正{name}同志问责记录的通知",
}


def notice_context(app: App, session: Session, notice: Notice, calendar: WorkCalendar) -> dict[str, Any]:
    """Return everything a notice prints, with the explanation of the decision."""
    kind = Kind(notice.kind)
    person = session.get(Person, notice.person_pk) if notice.person_pk else None
    strike = session.get(Strike, notice.strike_id) if notice.strike_id else None
    name = person.name if person else "（无责任人）"
    issued = strike.detected_on if strike is not None else notice.created_at.astimezone(app.settings.tz).date()
    if kind is Kind.CORRECTION_NOTICE:
        issued = notice.created_at.astimezone(app.settings.tz).date()
        change = session.get(StatusChange, notice.status_change_id) if notice.status_change_id else None
        if change is not None and change.day:
            issued = change.day
    draft = kind in (Kind.SUSPENSION_DECISION, Kind.DISMISSAL_DECISION) and (
        strike is None or strike.decision != Decision.CONFIRMED)
    decision = traces.for_notice(session, notice)
    rests_on = decision.ranking.counted_before if decision is not None and decision.ranking else ()
    context: dict[str, Any] = {
        "kind": kind.value,
        "meta": {"title": _TITLES[kind].format(name=name), "issuer": app.settings.issuer,
                 "doc_number": _doc_number(app, issued.year, notice.id or 0),
                 "recipient": f"{name}同志：" if person else None, "signature": app.settings.office,
                 "date": issued, "draft": draft},
        "person": _person(person),
        # A notice says what was decided when it was issued; later corrections get their own notice.
        "strike": {**_strike_dict(app, strike, decision), "level": notice.payload.get("level", strike.level)}
        if strike else None,
        "nodes": _nodes(session, [strike.id]).get(strike.id, []) if strike and strike.id else [],
        "explanation": explain(app, session, strike, decision) if strike else [],
        # The earlier strikes the level rests on (a suspension or dismissal cites them by number and date).
        "basis": [{**b, "nodes": [{**n, "label": f"{n['project_code']} {n['project_name']}“{n['node_name']}”"}
                                  for n in _nodes(session, [b["id"]]).get(b["id"], []) if not n["revoked"]]}
                  for b in basis(session, rests_on)],
        "meeting": next_meeting(app, calendar, issued),
        "payload": notice.payload,
        "policy": {"grace_days": app.policy.grace_days},
    }
    if kind is Kind.CORRECTION_NOTICE:
        payload = notice.payload
        words = app.wording
        context["correction"] = {
            "cause": payload.get("cause"),
            "cause_cn": words.word("correction", payload.get("cause")),
            "reason": payload.get("reason"),
            "old_level": payload.get("old_level"), "new_level": payload.get("new_level"),
            "old_status_cn": words.word("person_status", payload.get("old_status")),
            "new_status_cn": words.word("person_status", payload.get("new_status")),
        }
    return context


# ------------------------------------------------------------------------------------- agenda


def _person_statuses(app: App, session: Session) -> dict[int, str]:
    return {pk: str(app.policy.status_for(level)) for pk, level in session.execute(
        select(col(Strike.person_pk), func.max(col(Strike.level))).where(
            col(Strike.status) == StrikeStatus.COUNTED, col(Strike.person_pk).is_not(None)).group_by(col(Strike.person_pk)))}


def red_projects(app: App, session: Session, day: dt.date, district: str | None = None) -> list[dict[str, Any]]:
    """Return the red projects of a day with why: their overdue, uncompleted nodes and overdue 12345 work orders."""
    grace = dt.timedelta(days=app.policy.grace_days)
    rows = session.execute(
        select(col(Project.code), col(Project.name), col(Project.district), col(Node.code), col(Node.name), col(Node.planned_date))
        .join(Project, col(Project.id) == col(Node.project_id))
        .where(col(Project.status).in_(_EVALUATED), col(Node.planned_date) < day - grace,
               (col(Node.completed_on).is_(None)) | (col(Node.completed_on) > day), *_in_district(district))).all()
    grouped: dict[str, dict[str, Any]] = {}

    def entry(code: str, name: str, district: str | None) -> dict[str, Any]:
        return grouped.setdefault(code, {"project_code": code, "project_name": name, "district": district or "",
                                         "nodes": [], "complaints": []})

    for code, name, district_name, node_code, node_name, planned in sorted(rows, key=lambda r: (r[0], r[3])):
        entry(code, name, district_name)["nodes"].append({"node_code": node_code, "node_name": node_name,
                                                          "planned_date": planned, "days_overdue": (day - planned).days})
    overdue = overdue_on(session, day, app.settings.tz, district)
    for chunk in chunks(sorted(overdue)):
        for project_id, code, name, district_name in session.execute(
                select(col(Project.id), col(Project.code), col(Project.name), col(Project.district))
                .where(col(Project.id).in_(chunk), col(Project.status).in_(_EVALUATED))):
            entry(code, name, district_name)["complaints"] = [o.as_dict(day) for o in overdue[project_id]]
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


def agenda_context(app: App, session: Session, meeting: dt.date, calendar: WorkCalendar,
                   district: str | None = None) -> dict[str, Any]:
    """Return the party-group meeting agenda of §7 for the meeting on a date (of one district, if given)."""
    previous = previous_meeting(app.policy.meetings, meeting, calendar)
    pending = list(session.scalars(select(Strike).where(
        col(Strike.status) == StrikeStatus.COUNTED, col(Strike.decision) == Decision.PROPOSED,
        col(Strike.detected_on) <= meeting, *_strikes_in_district(district)).order_by(col(Strike.id))))
    nodes = _nodes(session, [s.id for s in pending if s.id is not None])
    items: dict[str, list[dict[str, Any]]] = {section: [] for section in AGENDA_SECTIONS}
    persons_pending = _persons(session, (s.person_pk for s in pending))
    decided = traces.current(session, [s.id or 0 for s in pending])
    for strike in pending:
        trace = decided[strike.id or 0]
        entry = {"strike": _strike_dict(app, strike, trace), "person": _person(persons_pending.get(strike.person_pk)),
                 "nodes": nodes.get(strike.id or 0, []),
                 "new": previous is None or strike.detected_on > previous}
        items[_section(trace)].append(entry)
    requested = session.execute(
        select(col(StrikeEvent.strike_id), col(StrikeEvent.text), col(StrikeEvent.recorded_at)).join(Strike, col(Strike.id) == col(StrikeEvent.strike_id))
        .where(col(StrikeEvent.kind) == EventKind.EXEMPTION_REQUESTED, col(Strike.status) == StrikeStatus.COUNTED,
               *_strikes_in_district(district))
        .order_by(col(StrikeEvent.id))).all()
    asked = {id_of(s): s for chunk in chunks(sorted({r[0] for r in requested}))
             for s in session.scalars(select(Strike).where(col(Strike.id).in_(chunk)))}
    statuses = _person_statuses(app, session)
    active = list(session.scalars(select(Project).where(col(Project.status) == ProjectStatus.ACTIVE,
                                                        *_in_district(district)).order_by(col(Project.code))))
    holders = responsible_on(session, meeting, None if district is None else [id_of(p) for p in active])
    persons = _persons(session, [*(s.person_pk for s in pending), *(s.person_pk for s in asked.values()),
                                 *(holders.get(p.id or 0) for p in active)])
    requests = []
    asked_nodes = _nodes(session, list(asked))
    asked_traces = traces.current(session, list(asked))
    for strike_id, reason, _at in requested:
        strike = asked[strike_id]
        requests.append({"strike": _strike_dict(app, strike, asked_traces.get(strike_id)),
                         "person": _person(persons.get(strike.person_pk)),
                         "reason": reason, "nodes": asked_nodes.get(strike_id, [])})
    needs = []
    unassigned_projects = {s.project_id for s in pending if s.person_pk is None}
    # A person whose rung removes them from the post leaves their projects needing someone.
    removed = {str(r.status) for r in app.policy.ladder if r.action in (Action.SUSPENSION, Action.DISMISSAL)}
    for project in active:
        holder = holders.get(project.id or 0)
        status = statuses.get(holder or 0, PersonStatus.ACTIVE) if holder else None
        if holder is None:
            reason = "无负责人" + ("，且已有逾期节点" if project.id in unassigned_projects else "")
        elif status in removed:
            reason = f"原负责人 {persons[holder].name}（{persons[holder].person_id}）{app.wording.word('person_status', status)}"
        else:
            continue
        needs.append({"project_code": project.code, "project_name": project.name, "reason": reason})
    red = red_projects(app, session, meeting, district)
    # A whole-country agenda names the first projects and counts the rest by district: the
    # district editions (duban agenda --district) list all of theirs.
    limit = None if district is not None else app.settings.agenda_list_limit
    return {
        "kind": Kind.MEETING_AGENDA.value,
        "meta": {"title": _scoped_title(f"{app.settings.issuer}党组会议议程（{meeting.year}年{meeting.month}月{meeting.day}日）",
                                        district),
                 "issuer": app.settings.issuer, "doc_number": None, "recipient": None,
                 "signature": app.settings.office, "date": meeting, "draft": False},
        "meeting": meeting, "previous": previous, **items, "exemption_requests": requests,
        "needs_person": needs[:limit], "needs_person_total": len(needs),
        "red_projects": red[:limit], "red_projects_total": len(red),
        "by_district": _by_district(red, needs, {p.code: p.district for p in active}),
        "figures": _figures(figures(session, app.policy, meeting, district)), "district": district,
    }


def _by_district(red: list[dict[str, Any]], needs: list[dict[str, Any]],
                 district_of: dict[str, str | None]) -> list[dict[str, Any]]:
    """Red projects and projects needing a person, counted by district (the whole-country agenda's summary)."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for project in red:
        counts[project["district"] or "（未填）"][0] += 1
    for project in needs:
        counts[district_of.get(project["project_code"]) or "（未填）"][1] += 1
    return [{"district": name, "red": n_red, "needs_person": n_needs} for name, (n_red, n_needs) in sorted(counts.items())]


def _section(trace: traces.Trace) -> str:
    """The agenda section of a strike: the first of its decision's agenda items that has one."""
    for item in trace.agenda:
        for section, held in AGENDA_SECTIONS.items():
            if item in held:
                return section
    raise ValueError(f"no agenda section for items {list(trace.agenda)}")


# ------------------------------------------------------------------------------------ reports


def lights(app: App, session: Session, day: dt.date, district: str | None = None) -> dict[str, list[dict[str, Any]]]:
    """Return projects by traffic light (§6): red overdue, yellow due within the warning days, green."""
    colour = lights_as_of(app, session, day, district)
    out: dict[str, list[dict[str, Any]]] = {"red": [], "yellow": [], "green": []}
    for project in session.scalars(select(Project).where(col(Project.status).in_(_EVALUATED), *_in_district(district))
                                   .order_by(col(Project.code))):
        out[colour.get(project.id or 0, "green")].append(
            {"project_code": project.code, "project_name": project.name, "district": project.district or ""})
    return out


def daily_context(app: App, session: Session, day: dt.date, district: str | None = None) -> dict[str, Any]:
    """Return the daily check report (每日检点) of a day (of one district, if given)."""
    here = _in_district(district)
    due = session.execute(
        select(col(Project.code), col(Project.name), col(Node.code), col(Node.name), col(Node.completed_on)).join(Project, col(Project.id) == col(Node.project_id))
        .where(col(Project.status).in_(_EVALUATED), col(Node.planned_date) == day, *here)).all()
    done = session.execute(
        select(col(Project.code), col(Project.name), col(Node.code), col(Node.name), col(Node.planned_date)).join(Project, col(Project.id) == col(Node.project_id))
        .where(col(Node.completed_on) == day, *here)).all()
    overdue = session.execute(
        select(col(Project.code), col(Project.name), col(Node.code), col(Node.name), col(Miss.planned_date)).join(Node, col(Node.id) == col(Miss.node_id))
        .join(Project, col(Project.id) == col(Node.project_id)).where(col(Miss.detected_on) == day, *here)).all()
    strikes = list(session.scalars(select(Strike).where(col(Strike.detected_on) == day, *_strikes_in_district(district))
                                   .order_by(col(Strike.id))))
    persons = _persons(session, (s.person_pk for s in strikes))
    nodes = _nodes(session, [s.id for s in strikes if s.id is not None])
    decided = traces.current(session, [s.id or 0 for s in strikes])
    evaluated = session.scalar(select(col(EvaluationDay.day)).where(col(EvaluationDay.day) == day))
    light = lights(app, session, day, district)
    return {
        "kind": Kind.DAILY_REPORT.value,
        "meta": {"title": _scoped_title(f"老旧小区改造每日检点（{day.year}年{day.month}月{day.day}日）", district),
                 "issuer": app.settings.issuer,
                 "doc_number": None, "recipient": None, "signature": app.settings.office, "date": day, "draft": False},
        "day": day, "evaluated": evaluated is not None,
        "due": [{"project_code": p, "project_name": pn, "node_code": n, "node_name": nn,
                 "done": c is not None and c <= day} for p, pn, n, nn, c in sorted(due)],
        "done": [{"project_code": p, "project_name": pn, "node_code": n, "node_name": nn, "planned_date": pl,
                  "late": pl < day} for p, pn, n, nn, pl in sorted(done)],
        "newly_overdue": [{"project_code": p, "project_name": pn, "node_code": n, "node_name": nn, "planned_date": pl}
                          for p, pn, n, nn, pl in sorted(overdue)],
        "strikes": [{"strike": _strike_dict(app, s, decided.get(s.id or 0)), "person": _person(persons.get(s.person_pk)),
                     "nodes": nodes.get(s.id or 0, [])} for s in strikes],
        "lights": light, "counts": {k: len(v) for k, v in light.items()}, "district": district,
        "complaints": complaints_between(app, session, day, day, district),
    }


def complaints_between(app: App, session: Session, first: dt.date, last: dt.date,
                       district: str | None = None) -> dict[str, Any]:
    """Return the 12345 work orders of some days: received, closed (late or not), and overdue on the last day."""
    tz = app.settings.tz
    received, closed, late, unmatched = [], 0, 0, 0
    for order, code, name in between(session, first, last, tz, district):
        if first <= order.received_on <= last:
            received.append({**order.as_dict(last), "project_code": code or "", "project_name": name or ""})
            unmatched += code is None
        if order.closed_on is not None and first <= order.closed_on <= last:
            closed += 1
            late += order.closed_late()
    overdue: list[dict[str, Any]] = []
    late_now = overdue_on(session, last, tz, district)
    for chunk in chunks(sorted(late_now)):
        for project_id, code, name in session.execute(select(col(Project.id), col(Project.code), col(Project.name))
                                                      .where(col(Project.id).in_(chunk))):
            overdue.extend({**o.as_dict(last), "project_code": code, "project_name": name} for o in late_now[project_id])
    overdue.sort(key=lambda o: (-o["overdue_days"], o["order_no"]))
    return {"received": received, "overdue": overdue,
            "counts": {"received": len(received), "closed": closed, "closed_late": late, "overdue": len(overdue),
                       "unmatched": unmatched}}


_SUMMED = ("projects", "started", "completed_projects", "households", "started_households", "completed_households",
           "due", "on_time", "overdue", "complaints_overdue")


def progress_context(app: App, session: Session, on: dt.date, district: str | None = None) -> dict[str, Any]:
    """Return the progress tables reported upward as of a day: by district with a total, and the three rankings."""
    tables = {by: progress_by(app, session, on, by, district) for by in ("district", "contractor", "person")}
    total: dict[str, Any] = {key: sum(r[key] for r in tables["district"]) for key in _SUMMED}
    total["start_rate"] = total["started"] / total["projects"] if total["projects"] else 0.0
    total["completion_rate"] = total["completed_projects"] / total["projects"] if total["projects"] else 0.0
    scope = f"{district}" if district else ""
    return {
        "title": f"{app.settings.issuer}{scope}老旧小区改造项目进展情况表", "title_short": f"老旧小区改造{scope}",
        "issuer": app.settings.issuer, "as_of": on, "district": district,
        "districts": sorted(tables["district"], key=lambda r: r["name"]), "total": total,
        "rankings": [("片区排名", tables["district"]), ("施工单位排名", tables["contractor"]),
                     ("负责人排名", [r for r in tables["person"] if r["name"] != NOBODY])],
    }


#: How many responsible persons the bulletin names at each end of the ranking.
PERSONS_RANKED = 5


def _persons_fast_and_slow(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The responsible persons with nodes due, ranked: all of them when few, else the fastest and the slowest."""
    ranked = [{**r, "rank": rank} for rank, r in
              enumerate((r for r in rows if r["due"] and r["name"] != NOBODY), start=1)]
    if len(ranked) <= 2 * PERSONS_RANKED:
        return {"persons_ranked": ranked, "persons_fast": [], "persons_slow": []}
    return {"persons_ranked": [], "persons_fast": ranked[:PERSONS_RANKED],
            "persons_slow": ranked[-PERSONS_RANKED:][::-1]}


def _batch_end(batch: str | None) -> dt.date | None:
    try:
        year, month = (int(part) for part in (batch or "").split("-")[:2])
        return (dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1))
    except ValueError:
        return None


def weekly_context(app: App, session: Session, week_of: dt.date, chart_dir: Path | None,
                   district: str | None = None) -> dict[str, Any]:
    """Return the weekly bulletin (每周通报) of the week (Monday–Sunday) holding a day (of one district, if given)."""
    monday = week_of - dt.timedelta(days=week_of.weekday())
    sunday = monday + dt.timedelta(days=6)
    first_day = session.scalar(select(func.min(col(EvaluationDay.day)))) or session.scalar(select(func.min(col(Node.planned_date)))) or monday
    first_monday = first_day - dt.timedelta(days=first_day.weekday())
    issue = max((monday - first_monday).days // 7 + 1, 1)
    as_of = sunday
    here = _in_district(district)
    batches: dict[str, dict[str, Any]] = {}
    done_by_project: dict[int, list[bool]] = defaultdict(list)
    batch_of: dict[int, str] = {}
    for project_id, batch, completed in session.execute(
            select(col(Project.id), col(Project.batch), col(Node.completed_on)).join(Node, col(Node.project_id) == col(Project.id))
            .where(col(Project.status).in_(_EVALUATED), *here)):
        batch_of[project_id] = batch or "（未填）"
        done_by_project[project_id].append(completed is not None and completed <= as_of)
    for project_id, done in done_by_project.items():
        entry = batches.setdefault(batch_of[project_id], {"batch": batch_of[project_id], "projects": 0, "completed": 0,
                                                          "deadline": _batch_end(batch_of[project_id])})
        entry["projects"] += 1
        entry["completed"] += all(done)
    for entry in batches.values():
        entry["rate"] = entry["completed"] / entry["projects"] if entry["projects"] else 0.0
        entry["due"] = entry["deadline"] is not None and entry["deadline"] <= as_of
    strikes = list(session.scalars(select(Strike).where(col(Strike.detected_on).between(monday, sunday),
                                                        *_strikes_in_district(district)).order_by(col(Strike.id))))
    persons = _persons(session, (s.person_pk for s in strikes))
    nodes = _nodes(session, [s.id for s in strikes if s.id is not None])
    decided = traces.current(session, [s.id or 0 for s in strikes])
    chart = None
    if chart_dir is not None:
        planned_days = sorted(session.scalars(select(col(Node.planned_date)).join(Project, col(Project.id) == col(Node.project_id))
                                              .where(col(Project.status).in_(_EVALUATED), *here)))
        done_days = sorted(d for d in session.scalars(select(col(Node.completed_on)).join(Project, col(Project.id) == col(Node.project_id))
                                                      .where(col(Project.status).in_(_EVALUATED), *here)) if d is not None)
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
        chart = progress_chart(points, chart_dir / f"progress-{monday.isoformat()}{suffix}.png",
                               f"计划节点累计完成情况（截至{as_of.month}月{as_of.day}日）")
    return {
        "kind": Kind.WEEKLY_BULLETIN.value,
        "meta": {"title": _scoped_title(f"关于老旧小区改造进展情况的通报（第{issue}期）", district),
                 "issuer": app.settings.issuer,
                 "doc_number": _doc_number(app, monday.year, issue).replace("督", "督通"), "recipient": "各项目负责人、各施工单位：",
                 "signature": app.settings.office, "date": sunday, "draft": False},
        "issue": issue, "monday": monday, "sunday": sunday,
        "figures": _figures(figures(session, app.policy, as_of, district)),
        "batches": sorted(batches.values(), key=lambda b: b["batch"]),
        "districts": progress_by(app, session, as_of, "district", district),
        "contractors": progress_by(app, session, as_of, "contractor", district),
        **_persons_fast_and_slow(progress_by(app, session, as_of, "person", district)),
        "red_projects": red_projects(app, session, as_of, district),
        "complaints": complaints_between(app, session, monday, sunday, district),
        "district": district,
        "strikes": [{"strike": _strike_dict(app, s, decided.get(s.id or 0)), "person": _person(persons.get(s.person_pk)),
                     "nodes": nodes.get(s.id or 0, [])} for s in strikes],
        "chart": chart.name if chart else None,
    }
