"""The board (挂图作战), the rankings, one project's page, and the corrections made from it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlmodel import Session, col

from engine.app.users import Viewer
from engine.app.web.pages import page_number, parse_day, redirect, render
from engine.app.web.security import Can, NotFound, check_project, duban, require_scope, route, scope_of, signed_in
from engine.complaints.views import of_projects
from engine.context import App
from engine.errors import Refused
from engine.record import actions
from engine.store.db import reading
from engine.store.models import Node, Project
from engine.store.versioned import cached
from engine.views.board import (
    COLOURS,
    RANKED_BY,
    WAS_RED,
    BoardQuery,
    board,
    default_as_of,
    node_state,
    progress_by,
    red_episodes,
    unevaluated_overdue,
)
from engine.views.figures import figures
from engine.views.reports import pending_completion_projects
from engine.views.strikes import project_history

router = APIRouter()
PER_PAGE = 50


def as_of(request: Request, value: str | None) -> dt.date:
    """Return the day a page shows: the one asked for, else the last evaluated day."""
    app = duban(request)
    asked = parse_day(value)
    if asked is not None:
        return min(asked, app.today())
    with reading(app.engine) as session:
        return default_as_of(session, app.today())


@route(router, "GET", "/", Can.READ, "首页：转到挂图作战")
def home(request: Request) -> Response:
    """Go to the board."""
    return redirect(request, "/board")


@route(router, "GET", "/board", Can.READ, "挂图作战：全部项目的红黄绿灯（含 12345 工单件数与逾期）")
def board_page(
    request: Request,
    on: str | None = None,
    district: str | None = None,
    batch: str | None = None,
    colour: str | None = None,
    person: str | None = None,
    q: str | None = None,
    page: str | None = None,
    viewer: Viewer = Depends(signed_in),
) -> HTMLResponse:
    """Show the board, filtered; an htmx request gets the results only."""
    app = duban(request)
    day = as_of(request, on)
    query = BoardQuery(
        on=day,
        district=district or None,
        batch=batch or None,
        colour=colour if colour in (*COLOURS, WAS_RED) else None,
        person_id=(person or "").strip() or None,
        text=q or None,
        page=page_number(page),
        per_page=PER_PAGE,
    )
    scope = scope_of(viewer)
    with reading(app.engine) as session:
        result = board(app, session, query, scope)
        reported = pending_completion_projects(session)  # 「已报完成，待审核」 (engine/views/reports.py)
    filters = {
        "on": on,
        "district": query.district,
        "batch": query.batch,
        "colour": query.colour,
        "person": query.person_id,
        "q": query.text,
    }
    template = "_board_results.html" if request.headers.get("hx-request") else "board.html"
    return render(request, template, board=result, figures=result.figures, filters=filters, day=day, reported=reported)


@route(router, "GET", "/board/rankings", Can.READ, "排名：片区、施工单位、负责人")
def rankings_page(request: Request, on: str | None = None, viewer: Viewer = Depends(signed_in)) -> HTMLResponse:
    """Show the start and completion rates and the rankings by district, contractor and person."""
    app = duban(request)
    day = as_of(request, on)
    scope = scope_of(viewer)
    with reading(app.engine) as session:
        tables = cached(
            session,
            ("rankings", day, scope, app.policy.grace_days),
            lambda: {by: progress_by(app, session, day, by, scope) for by in RANKED_BY},
        )
        totals = cached(
            session, ("figures", day, scope, app.policy.grace_days), lambda: figures(session, app.policy, day, scope)
        )
    return render(request, "rankings.html", tables=tables, titles=RANKED_BY, figures=totals, day=day)


def _project(session: Session, code: str, viewer: Viewer) -> Project:
    project = session.scalars(select(Project).where(col(Project.code) == code)).first()
    if project is None:
        raise NotFound(f"项目 {code} 不存在")
    require_scope(viewer, project.district)
    return project


@route(router, "GET", "/projects/{code}", Can.READ, "项目：节点、红灯记录、12345 工单、负责人与问责记录")
def project_page(
    request: Request, code: str, on: str | None = None, viewer: Viewer = Depends(signed_in)
) -> HTMLResponse:
    """Show one project: its nodes as of a day, its red history, its responsible persons and strikes."""
    app = duban(request)
    day = as_of(request, on)
    with reading(app.engine) as session:
        project = _project(session, code, viewer)
        waiting = {planned for pid, planned in unevaluated_overdue(app, session, day) if pid == project.id}
        nodes = [
            {
                "node": n,
                "state": node_state(app, n.planned_date, n.completed_on, day),
                "waiting": n.planned_date in waiting,
            }
            for n in session.scalars(
                select(Node).where(col(Node.project_id) == project.id).order_by(col(Node.planned_date), col(Node.code))
            )
        ]
        held = of_projects(session, [project.id or 0], app.settings.tz, day)
        episodes = red_episodes(app, session, [project.id or 0], day, held).get(project.id or 0, [])
        orders = held.get(project.id or 0, [])
        history = project_history(app, session, project)
    return render(
        request,
        "project.html",
        project=project,
        nodes=nodes,
        episodes=episodes,
        day=day,
        waiting=[item["node"] for item in nodes if item["waiting"] and item["state"] == "overdue"],
        today=app.today(),
        complaints=orders,
        **history,
    )


def _correct(
    request: Request,
    viewer: Viewer,
    code: str,
    value: str,
    what: str,
    act: Callable[[App, dt.date], str],
    refused: str = "未记录：",
) -> Response:
    """Check the project and the date, run one action as the viewer, and say what it did on the project's page."""
    app = duban(request).as_actor(viewer.actor)
    check_project(app, viewer, code)
    back = f"/projects/{code}"
    day = parse_day(value)
    if day is None:
        return redirect(request, back, f"{what}应为 YYYY-MM-DD 格式", "error")
    try:
        done = act(app, day)
    except Refused as exc:
        return redirect(request, back, refused, "error", exc.problems)
    return redirect(request, back, done)


@route(router, "POST", "/projects/{code}/nodes/{node}/complete", Can.CORRECT, "记录节点完成")
def complete(
    request: Request,
    code: str,
    node: str,
    on: str = Form(""),
    reason: str = Form(""),
    viewer: Viewer = Depends(signed_in),
) -> Response:
    """Record a completion, as `duban node complete` does."""

    def act(app: App, day: dt.date) -> str:
        changed = actions.complete_node(
            app, code, node, day, reason.strip() or None, "web", actions.Scope(scope_of(viewer))
        )
        if changed is actions.Completion.PENDING:
            return f"{code} {node}：已报完成，待审核（完成日期 {day.isoformat()} 将撤销或改变问责记录，须工作专班审核）"
        return f"{code} {node}：完成日期 {day.isoformat()}" + ("" if changed else "（与已有记录相同，未变化）")

    return _correct(request, viewer, code, on, "完成日期", act)


@route(router, "POST", "/projects/{code}/nodes/{node}/extend", Can.CORRECT, "记录批准的延期")
def extend(
    request: Request,
    code: str,
    node: str,
    to: str = Form(""),
    reason: str = Form(""),
    viewer: Viewer = Depends(signed_in),
) -> Response:
    """Record an approved extension, as `duban node extend` does."""

    def act(app: App, day: dt.date) -> str:
        old, changed = actions.extend_node(app, code, node, day, reason, "web", actions.Scope(scope_of(viewer)))
        return (
            f"{code} {node}：计划日期 {old.isoformat()} → {day.isoformat()}"
            if changed
            else f"{code} {node}：计划日期已是 {day.isoformat()}，未变化"
        )

    return _correct(request, viewer, code, to, "新的计划日期", act)


@route(router, "POST", "/projects/{code}/assign", Can.ASSIGN, "指定项目负责人")
def assign(
    request: Request,
    code: str,
    person: str = Form(""),
    effective_from: str = Form(""),
    reason: str = Form(""),
    viewer: Viewer = Depends(signed_in),
) -> Response:
    """Make a person responsible from a date, as `duban project assign` does (a dismissed person is refused)."""

    def act(app: App, day: dt.date) -> str:
        actions.assign_project(app, code, person.strip(), day, reason.strip() or None, "web")
        return f"项目 {code} 的负责人自 {day.isoformat()} 起为 {person.strip()}"

    return _correct(request, viewer, code, effective_from, "生效日期", act, "未指定：")
