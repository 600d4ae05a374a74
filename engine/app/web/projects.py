"""The board (挂图作战), the rankings, one project's page, and the corrections made from it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from engine.app.users import Viewer
from engine.app.web.pages import acted, page_number, parse_day, redirect, render
from engine.app.web.security import AppDep, Can, ViewerDep, look_up, route, scope_of, visible
from engine.context import App
from engine.record import actions
from engine.store.db import reading
from engine.views.board import (
    COLOURS,
    RANKED_BY,
    WAS_RED,
    BoardQuery,
    board,
    default_as_of,
    rankings,
)
from engine.views.projects import project_details, project_named
from engine.views.reports import pending_completion_projects

router = APIRouter()
PER_PAGE = 50


def as_of(app: App, value: str | None) -> dt.date:
    """Return the day a page shows: the one asked for, else the last evaluated day."""
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
    viewer: ViewerDep,
    app: AppDep,
    on: str | None = None,
    district: str | None = None,
    batch: str | None = None,
    colour: str | None = None,
    person: str | None = None,
    q: str | None = None,
    page: str | None = None,
) -> HTMLResponse:
    """Show the board, filtered; an htmx request gets the results only."""
    day = as_of(app, on)
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
def rankings_page(request: Request, viewer: ViewerDep, app: AppDep, on: str | None = None) -> HTMLResponse:
    """Show the start and completion rates and the rankings by district, contractor and person."""
    day = as_of(app, on)
    with reading(app.engine) as session:
        tables, totals = rankings(app, session, day, scope_of(viewer))
    return render(request, "rankings.html", tables=tables, titles=RANKED_BY, figures=totals, day=day)


@route(
    router, "GET", "/projects/{code}", Can.READ, "项目：节点、现场报告（留痕）、红灯记录、12345 工单、负责人与问责记录"
)
def project_page(request: Request, code: str, viewer: ViewerDep, app: AppDep, on: str | None = None) -> HTMLResponse:
    """Show one project: its nodes as of a day, its red history, its responsible persons and strikes."""
    day = as_of(app, on)
    with reading(app.engine) as session:
        project = visible(viewer, project_named(session, code))
        shown = project_details(app, session, project, day)
    return render(request, "project.html", project=project, day=day, today=app.today(), **shown)


def _correct(
    request: Request,
    app: App,
    viewer: Viewer,
    code: str,
    value: str,
    what: str,
    act: Callable[[App, dt.date], str],
    refused: str = "未记录：",
) -> Response:
    """Check the project and the date, run one action as the viewer, and say what it did on the project's page."""
    actor = app.as_actor(viewer.actor)
    look_up(actor, viewer, project_named, code)
    back = f"/projects/{code}"
    day = parse_day(value)
    if day is None:
        return redirect(request, back, f"{what}应为 YYYY-MM-DD 格式", "error")
    return acted(request, back, lambda: act(actor, day), lambda done: done, refused)


@route(router, "POST", "/projects/{code}/nodes/{node}/complete", Can.CORRECT, "记录节点完成")
def complete(
    request: Request,
    code: str,
    node: str,
    viewer: ViewerDep,
    app: AppDep,
    on: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
) -> Response:
    """Record a completion, as `duban node complete` does."""

    def act(actor: App, day: dt.date) -> str:
        changed = actions.complete_node(
            actor, code, node, day, reason.strip() or None, "web", actions.Scope(scope_of(viewer))
        )
        if changed is actions.Completion.PENDING:
            return f"{code} {node}：已报完成，待审核（完成日期 {day.isoformat()} 将撤销或改变问责记录，须工作专班审核）"
        return f"{code} {node}：完成日期 {day.isoformat()}" + ("" if changed else "（与已有记录相同，未变化）")

    return _correct(request, app, viewer, code, on, "完成日期", act)


@route(router, "POST", "/projects/{code}/nodes/{node}/extend", Can.CORRECT, "记录批准的延期")
def extend(
    request: Request,
    code: str,
    node: str,
    viewer: ViewerDep,
    app: AppDep,
    to: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
) -> Response:
    """Record an approved extension, as `duban node extend` does."""

    def act(actor: App, day: dt.date) -> str:
        old, changed = actions.extend_node(actor, code, node, day, reason, "web", actions.Scope(scope_of(viewer)))
        return (
            f"{code} {node}：计划日期 {old.isoformat()} → {day.isoformat()}"
            if changed
            else f"{code} {node}：计划日期已是 {day.isoformat()}，未变化"
        )

    return _correct(request, app, viewer, code, to, "新的计划日期", act)


@route(router, "POST", "/projects/{code}/assign", Can.ASSIGN, "指定项目负责人")
def assign(
    request: Request,
    code: str,
    viewer: ViewerDep,
    app: AppDep,
    person: Annotated[str, Form()] = "",
    effective_from: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
) -> Response:
    """Make a person responsible from a date, as `duban project assign` does (a dismissed person is refused)."""

    def act(actor: App, day: dt.date) -> str:
        actions.assign_project(actor, code, person.strip(), day, reason.strip() or None, "web")
        return f"项目 {code} 的负责人自 {day.isoformat()} 起为 {person.strip()}"

    return _correct(request, app, viewer, code, effective_from, "生效日期", act, "未指定：")
