"""The board (挂图作战): every project's light as of a day, its nodes, its red history, and rankings.

One reading of the traffic lights of spec §6 for the board, the daily report and the agenda:
a node not completed by the end of its deadline (planned date + grace, moved to a working day
when the policy says so) is overdue and makes its project red; a node due within the warning
days and not completed makes it yellow; otherwise green. Reserve and cancelled projects are not
evaluated and have no light.

The colour history is derived from the record, never lost: every detected miss that was not
revoked is a red episode from the day after its deadline until the node was completed (or
re-planned), so a red fixed late still shows that it was red. A mayor's-hotline work order tied
to a project and overdue (engine/complaints) makes the project red too, and is a red episode of
its own until it is closed.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlmodel import Session, col

from config.vocabulary import DeadlineStatus, ProjectStatus
from engine.complaints.views import WorkOrderView, ever_overdue, of_projects, overdue_on
from engine.context import App
from engine.record.holders import holders
from engine.store.db import chunks, fetch
from engine.store.models import Deadline, EvaluationDay, Miss, Node, NodeHistory, Person, Project
from engine.views.figures import Figures, figures, not_done

EVALUATED = (ProjectStatus.ACTIVE, ProjectStatus.COMPLETED)
COLOURS = ("red", "yellow", "green")

#: A project whose only overdue nodes no evaluation has decided yet: shown 「待评估」, never an unexplained red.
PENDING = "pending"
#: A node's states as of a day (node_state); their words are the wording's node_state section.
NODE_STATES = ("done", "done_late", "overdue", "due_soon", "pending")
#: Board filters beyond the three lights: green or yellow now, but red at some time before.
WAS_RED = "was_red"
UNFILLED = "（未填）"
NOBODY = "（无负责人）"


def default_as_of(session: Session, today: dt.date) -> dt.date:
    """Return the day pages show by default: the last evaluated day (what the daily check knows), else today."""
    last: dt.date | None = session.scalar(select(func.max(col(EvaluationDay.day))))
    return min(last, today) if last is not None else today


def node_state(app: App, planned: dt.date, completed: dt.date | None, on: dt.date) -> str:
    """Return a node's state as of a day (its words: the node_state section of the wording)."""
    end = app.deadline_end(planned)
    if completed is not None and completed <= on:
        return "done" if completed <= end else "done_late"
    if end < on:
        return "overdue"
    if planned <= on + dt.timedelta(days=app.policy.warning_days):
        return "due_soon"
    return "pending"


def lights_as_of(
    app: App,
    session: Session,
    on: dt.date,
    district: str | None = None,
    evaluated: Iterable[int] | None = None,
    open_nodes: list[tuple[int, dt.date]] | None = None,
) -> dict[int, str]:
    """Return the light of every evaluated project as of a day (project id → red, yellow or green).

    Only nodes that can make a project red or yellow are read (not completed by the day: ``not_done``);
    every other evaluated project is green. A caller that has read the evaluated projects and
    the open nodes already passes them.
    """
    horizon = on + dt.timedelta(days=app.policy.warning_days)
    if evaluated is None:
        scope: list[Any] = [col(Project.status).in_(EVALUATED)]
        if district is not None:
            scope.append(col(Project.district) == district)
        evaluated = session.scalars(select(col(Project.id)).where(*scope))
    colour: dict[int, str] = dict.fromkeys(evaluated, "green")
    ends: dict[dt.date, dt.date] = {}
    unevaluated = unevaluated_overdue(app, session, on)
    for project_id, planned in not_done(session, on) if open_nodes is None else open_nodes:
        if planned > horizon or colour.get(project_id, "red") == "red":
            continue  # not due yet, not evaluated (or not in the district), or red already
        end = ends.get(planned)
        if end is None:
            end = ends[planned] = app.deadline_end(planned)
        if end >= on:
            if colour[project_id] == "green":
                colour[project_id] = "yellow"
        elif (project_id, planned) in unevaluated:
            colour[project_id] = PENDING  # past due, but no evaluation has found it yet: no unexplained red
        else:
            colour[project_id] = "red"
    for project_id in overdue_on(session, on, app.settings.tz, district):
        if project_id in colour:
            colour[project_id] = "red"
    return colour


@dataclass(frozen=True)
class RedEpisode:
    """One stretch of red: a missed deadline of a node, from the day after it until it was put right."""

    project_id: int
    node_code: str
    node_name: str
    planned_date: dt.date
    red_from: dt.date
    red_until: dt.date | None  # the last red day; None while it is still red
    put_right: str | None  # completion | extension | closed (a work order) | None
    cause: str = "node"  # node | complaint (node_code is then the work order's number)

    @property
    def days(self) -> int | None:
        """Return how many days it was red (None while still red)."""
        return None if self.red_until is None else (self.red_until - self.red_from).days + 1


def red_episodes(
    app: App,
    session: Session,
    project_ids: Iterable[int],
    on: dt.date,
    orders: dict[int, list[WorkOrderView]] | None = None,
) -> dict[int, list[RedEpisode]]:
    """Return each project's red episodes known on a day, oldest first (misses not revoked, overdue work orders).

    ``orders`` are the projects' work orders (``of_projects``) when the caller has read them already.
    """
    found: dict[int, list[RedEpisode]] = defaultdict(list)
    ids = sorted(set(project_ids))
    for chunk in chunks(ids):
        rows = session.execute(
            select(
                col(Node.project_id),
                col(Node.id),
                col(Node.code),
                col(Node.name),
                col(Miss.planned_date),
                col(Node.completed_on),
                col(Node.planned_date),
            )
            .join(Node, col(Node.id) == col(Miss.node_id))
            .where(col(Node.project_id).in_(chunk), col(Miss.revoked_on).is_(None), col(Miss.detected_on) <= on)
        ).all()
        if not rows:
            continue
        replanned: dict[tuple[int, dt.date], dt.date] = {}
        for node_id, previous, recorded_at in session.execute(
            select(col(NodeHistory.node_id), col(NodeHistory.previous_planned_date), col(NodeHistory.recorded_at))
            .where(col(NodeHistory.node_id).in_({r[1] for r in rows}), col(NodeHistory.kind) == "extension")
            .order_by(col(NodeHistory.id))
        ):
            replanned.setdefault((node_id, previous), recorded_at.astimezone(app.settings.tz).date())
        for project_id, node_id, code, name, planned, completed, current_plan in rows:
            red_from = app.deadline_end(planned) + dt.timedelta(days=1)
            ends: list[tuple[dt.date, str]] = []
            if completed is not None and completed <= on:
                ends.append((completed, "completion"))
            moved = replanned.get((node_id, planned))
            if moved is not None and current_plan != planned and moved <= on:
                ends.append((moved, "extension"))
            end, how = min(ends) if ends else (None, None)
            until = max(end - dt.timedelta(days=1), red_from) if end is not None else None
            found[project_id].append(RedEpisode(project_id, code, name, planned, red_from, until, how))
    if orders is None:
        orders = of_projects(session, ids, app.settings.tz, on)
    for project_id, project_orders in orders.items():
        for order in project_orders:
            if order.closed_on is not None and order.closed_on <= order.due_on:
                continue  # closed in time: never red
            red_from = order.due_on + dt.timedelta(days=1)
            if red_from > on:
                continue
            closed = order.closed_on if order.closed_on is not None and order.closed_on <= on else None
            until = max(closed - dt.timedelta(days=1), red_from) if closed is not None else None
            found[project_id].append(
                RedEpisode(
                    project_id,
                    order.order_no,
                    "12345 工单",
                    order.due_on,
                    red_from,
                    until,
                    "closed" if closed is not None else None,
                    "complaint",
                )
            )
    for episodes in found.values():
        episodes.sort(key=lambda e: (e.red_from, e.node_code))
    return found


def ever_red(app: App, session: Session, on: dt.date, district: str | None = None) -> set[int]:
    """Return the projects that had a missed deadline detected, or a work order overdue, by a day (a red episode)."""
    # Misses first (a few per cent of nodes), then their nodes by primary key: not every node.
    missed = select(col(Miss.node_id)).where(col(Miss.revoked_on).is_(None), col(Miss.detected_on) <= on)
    query = select(col(Node.project_id)).where(col(Node.id).in_(missed)).distinct()
    if district is not None:
        query = query.where(col(Node.project_id).in_(select(col(Project.id)).where(col(Project.district) == district)))
    return {row[0] for row in fetch(session, query)} | ever_overdue(session, on, app.settings.tz, district)


# -------------------------------------------------------------------------------------- the board


def unevaluated_overdue(app: App, session: Session, on: dt.date) -> set[tuple[int, dt.date]]:
    """The (project, planned date) of open deadlines past due on a day that no evaluation has decided yet.

    An evaluated day closes every deadline it finds missed, so an open deadline past its end is one
    the evaluation has not reached: a node imported (or re-planned) after its day was evaluated, or a
    day not evaluated yet. Few rows: the (status, planned date) index reads only the open ones before the day.
    """
    rows = fetch(
        session,
        select(col(Node.project_id), col(Deadline.planned_date))
        .join(Node, col(Node.id) == col(Deadline.node_id))
        .join(Project, col(Project.id) == col(Node.project_id))
        .where(
            col(Deadline.status) == DeadlineStatus.OPEN,
            col(Deadline.planned_date) < on,
            col(Project.status).in_(EVALUATED),
            or_(col(Node.completed_on).is_(None), col(Node.completed_on) > on),
        ),
    )
    return {(project_id, planned) for project_id, planned in rows if app.deadline_end(planned) < on}


@dataclass(frozen=True)
class BoardQuery:
    """What the board shows: the day, the filters and the page."""

    on: dt.date
    district: str | None = None
    batch: str | None = None
    colour: str | None = None  # red | yellow | green | was_red
    person_id: str | None = None
    text: str | None = None  # part of a project's code or name
    page: int = 1
    per_page: int = 50


@dataclass
class NodeCell:
    """One node on the board."""

    code: str
    name: str
    planned_date: dt.date
    completed_on: dt.date | None
    state: str


@dataclass
class BoardRow:
    """One project on the board."""

    project_id: int
    code: str
    name: str
    district: str
    batch: str
    contractor: str
    status: str
    light: str
    person_id: str | None
    person_name: str | None
    was_red: bool
    nodes: list[NodeCell] = field(default_factory=list)
    episodes: list[RedEpisode] = field(default_factory=list)
    complaints: int = 0  # 12345 work orders received by the day
    overdue_complaints: int = 0  # of them, open and past their deadline on the day
    unevaluated: list[NodeCell] = field(default_factory=list)  # a 待评估 row's reason: its nodes not yet evaluated


@dataclass
class BoardPage:
    """A page of the board with the counts of the whole filtered set."""

    query: BoardQuery
    rows: list[BoardRow]
    total: int
    counts: dict[str, int]
    districts: list[str]
    batches: list[str]
    figures: Figures

    @property
    def pages(self) -> int:
        """Return how many pages the filtered set fills."""
        return max(1, -(-self.total // self.query.per_page))


_ORDER = {"red": 0, PENDING: 1, "yellow": 2, "green": 3, "none": 4}


@dataclass(frozen=True)
class _Ledger:
    """What a board of one day needs from the whole ledger (cached while the record is unchanged)."""

    projects: list[tuple[Any, ...]]  # (id, code, name, district, batch, contractor, status)
    light: dict[int, str]
    red_before: frozenset[int]
    districts: list[str]
    batches: list[str]
    figures: Figures


def _ledger(app: App, session: Session, on: dt.date, district: str | None) -> _Ledger:
    query = select(
        col(Project.id),
        col(Project.code),
        col(Project.name),
        col(Project.district),
        col(Project.batch),
        col(Project.contractor),
        col(Project.status),
    )
    if district is not None:
        query = query.where(col(Project.district) == district)
    projects = fetch(session, query)
    all_districts = sorted({d or UNFILLED for d in session.scalars(select(col(Project.district)).distinct())})
    open_nodes = not_done(session, on)  # read once for the lights and the figures
    statuses = {p[0]: p[6] for p in projects}
    light = lights_as_of(
        app, session, on, district, [pid for pid, status in statuses.items() if status in EVALUATED], open_nodes
    )
    totals = figures(session, app.policy, on, district, statuses, open_nodes)
    return _Ledger(
        projects,
        light,
        frozenset(ever_red(app, session, on, district)),
        all_districts,
        sorted({p[4] or UNFILLED for p in projects}),
        totals,
    )


def _projects_held_by(session: Session, person_id: str, on: dt.date) -> set[int]:
    """The projects a person holds on a day."""
    from engine.store.models import Assignment

    pk = session.scalar(select(col(Person.id)).where(col(Person.person_id) == person_id))
    if pk is None:
        return set()
    candidates = set(session.scalars(select(col(Assignment.project_id)).where(col(Assignment.person_pk) == pk)))
    return {project for project, holder in holders(session, on, candidates).items() if holder == pk}


def board(app: App, session: Session, query: BoardQuery, scope: str | None = None) -> BoardPage:
    """Return one page of the board; ``scope`` restricts it to one district (district staff)."""
    from engine.store.versioned import cached

    on = query.on
    district = scope if scope is not None else query.district
    ledger = cached(
        session,
        ("board", on, district, app.policy.fingerprint(), app.policy.warning_days, app.policy.grace_days),
        lambda: _ledger(app, session, on, district),
    )
    wanted = _projects_held_by(session, query.person_id, on) if query.person_id else None
    text = (query.text or "").strip().lower()
    rows: list[tuple[Any, ...]] = []
    counts = dict.fromkeys((*COLOURS, PENDING, WAS_RED, "none"), 0)
    for pid, code, name, dist, batch, contractor, status in ledger.projects:
        if query.batch and (batch or UNFILLED) != query.batch:
            continue
        if wanted is not None and pid not in wanted:
            continue
        if text and text not in code.lower() and text not in name.lower():
            continue
        colour = ledger.light.get(pid, "none")
        was_red = pid in ledger.red_before and colour != "red"
        counts[colour] += 1
        counts[WAS_RED] += was_red
        if query.colour == WAS_RED and not was_red:
            continue
        if query.colour in (*COLOURS, PENDING) and colour != query.colour:
            continue
        rows.append((_ORDER[colour], code, pid, name, dist, batch, contractor, status, colour, was_red))
    rows.sort()
    total = len(rows)
    start = (max(query.page, 1) - 1) * query.per_page
    shown = rows[start : start + query.per_page]
    holder_of = holders(session, on, [r[2] for r in shown])
    person_by_pk: dict[int, tuple[str, str]] = {}
    for pk, person_id, name in session.execute(
        select(col(Person.id), col(Person.person_id), col(Person.name)).where(
            col(Person.id).in_(set(holder_of.values()))
        )
    ):
        person_by_pk[pk] = (person_id, name)
    page_rows = []
    for _order, code, pid, name, dist, batch, contractor, status, colour, was_red in shown:
        holder = person_by_pk.get(holder_of.get(pid, -1))
        page_rows.append(
            BoardRow(
                pid,
                code,
                name,
                dist or UNFILLED,
                batch or UNFILLED,
                contractor or UNFILLED,
                status,
                colour,
                holder[0] if holder else None,
                holder[1] if holder else None,
                was_red,
            )
        )
    _fill_nodes(app, session, page_rows, on)
    return BoardPage(
        query, page_rows, total, counts, [scope] if scope else ledger.districts, ledger.batches, ledger.figures
    )


def _fill_nodes(app: App, session: Session, rows: list[BoardRow], on: dt.date) -> None:
    by_id = {r.project_id: r for r in rows}
    if not by_id:
        return
    for project_id, code, name, planned, completed in session.execute(
        select(
            col(Node.project_id), col(Node.code), col(Node.name), col(Node.planned_date), col(Node.completed_on)
        ).where(col(Node.project_id).in_(by_id))
    ):
        by_id[project_id].nodes.append(
            NodeCell(code, name, planned, completed, node_state(app, planned, completed, on))
        )
    waiting = unevaluated_overdue(app, session, on) if any(r.light == PENDING for r in rows) else set()
    for row in rows:
        row.nodes.sort(key=lambda n: (n.planned_date, n.code))
        row.unevaluated = [n for n in row.nodes if (row.project_id, n.planned_date) in waiting and n.state == "overdue"]
    orders = of_projects(session, by_id, app.settings.tz, on)  # read once: the counts and the red episodes
    for project_id, episodes in red_episodes(app, session, by_id, on, orders).items():
        by_id[project_id].episodes = episodes
    for project_id, project_orders in orders.items():
        by_id[project_id].complaints = len(project_orders)
        by_id[project_id].overdue_complaints = sum(1 for o in project_orders if o.overdue_days(on))


# ------------------------------------------------------------------------------------ rankings

RANKED_BY = {"district": "片区", "contractor": "施工单位", "person": "负责人"}


def progress_by(app: App, session: Session, on: dt.date, by: str, district: str | None = None) -> list[dict[str, Any]]:
    """Rank districts, contractors or responsible persons by nodes done on time as of a day.

    Each row: projects, started and completed projects (开工、完工) with their rates and households,
    nodes, nodes due (deadline passed), on time, overdue and the on-time rate, and 12345 work
    orders overdue; fastest first (on-time rate, then fewer overdue, then name). Responsible
    persons are the holders on that day.
    """
    if by not in RANKED_BY:
        raise ValueError(f"unknown ranking {by!r}")
    grace = app.policy.grace_days
    done = and_(col(Node.completed_on).is_not(None), col(Node.completed_on) <= on)
    due = col(Node.planned_date) < on - dt.timedelta(days=grace)
    on_time = and_(done, col(Node.completed_on) <= _plus_days(session, col(Node.planned_date), grace))
    scope: list[Any] = [col(Project.status).in_(EVALUATED)]
    if district is not None:
        scope.append(col(Project.district) == district)
    per_project = session.execute(
        select(
            col(Project.id),
            col(Project.district),
            col(Project.contractor),
            col(Project.households),
            func.count(),
            func.sum(_flag(done)),
            func.sum(_flag(due)),
            func.sum(_flag(and_(due, on_time))),
            func.sum(_flag(and_(due, ~done))),
        )
        .join(Node, col(Node.project_id) == col(Project.id))
        .where(*scope)
        .group_by(col(Project.id), col(Project.district), col(Project.contractor), col(Project.households))
    ).all()
    complaints = {pid: len(orders) for pid, orders in overdue_on(session, on, app.settings.tz, district).items()}
    names: dict[int, str] = {}
    holder_of: dict[int, int] = {}
    if by == "person":
        holder_of = holders(session, on)
        for chunk in chunks(sorted(set(holder_of.values()))):  # every holder of the ledger: in chunks of parameters
            names.update(
                (pk, f"{name}（{pid}）")
                for pk, pid, name in session.execute(
                    select(col(Person.id), col(Person.person_id), col(Person.name)).where(col(Person.id).in_(chunk))
                )
            )
    stats: dict[str, dict[str, Any]] = {}
    for project_id, dist, contractor, households, nodes, done_n, due_n, on_time_n, overdue_n in per_project:
        if by == "district":
            key = dist or UNFILLED
        elif by == "contractor":
            key = contractor or UNFILLED
        else:
            key = names.get(holder_of.get(project_id, -1), NOBODY)
        entry = stats.setdefault(
            key,
            {
                "name": key,
                "projects": 0,
                "started": 0,
                "completed_projects": 0,
                "nodes": 0,
                "due": 0,
                "on_time": 0,
                "overdue": 0,
                "households": 0,
                "started_households": 0,
                "completed_households": 0,
                "complaints_overdue": 0,
            },
        )
        started, completed = (done_n or 0) > 0, (done_n or 0) == nodes
        entry["projects"] += 1
        entry["started"] += started
        entry["completed_projects"] += completed
        entry["households"] += households or 0
        entry["started_households"] += (households or 0) if started else 0
        entry["completed_households"] += (households or 0) if completed else 0
        entry["complaints_overdue"] += complaints.get(project_id, 0)
        entry["nodes"] += nodes
        entry["due"] += due_n or 0
        entry["on_time"] += on_time_n or 0
        entry["overdue"] += overdue_n or 0
    rows = list(stats.values())
    for row in rows:
        row["on_time_rate"] = row["on_time"] / row["due"] if row["due"] else 1.0
        row["start_rate"] = row["started"] / row["projects"] if row["projects"] else 0.0
        row["completion_rate"] = row["completed_projects"] / row["projects"] if row["projects"] else 0.0
    rows.sort(key=lambda r: (-r["on_time_rate"], r["overdue"], r["name"]))
    for rank, row in enumerate(rows, start=1):
        row["rank"] = rank
    return rows


def rankings(
    app: App, session: Session, on: dt.date, district: str | None = None
) -> tuple[dict[str, list[dict[str, Any]]], Figures]:
    """Return the rankings page as of a day: each ranking (``RANKED_BY``) and the figures above them."""
    from engine.store.versioned import cached

    tables = cached(
        session,
        ("rankings", on, district, app.policy.grace_days),
        lambda: {by: progress_by(app, session, on, by, district) for by in RANKED_BY},
    )
    totals = cached(
        session, ("figures", on, district, app.policy.grace_days), lambda: figures(session, app.policy, on, district)
    )
    return tables, totals


def _flag(condition: Any) -> Any:
    from sqlalchemy import case

    return case((condition, 1), else_=0)


def _plus_days(session: Session, column: Any, days: int) -> Any:
    """``column + days`` as a date on either backend (SQLite keeps dates as ISO text)."""
    if not days:
        return column
    if session.get_bind().dialect.name == "sqlite":
        return func.date(column, f"+{int(days)} days")
    return column + days
