"""The party-group meeting: its agenda with the decision forms, and each strike's page."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from config.calendar import HolidayTableMissing, meeting_dates
from config.vocabulary import Action, StrikeStatus
from engine.app.web.pages import acted, parse_day, redirect, render
from engine.app.web.security import AppDep, Can, ViewerDep, look_up, route, scope_of, visible
from engine.context import App
from engine.paperwork.contexts import agenda_context, decisions_context, next_meeting
from engine.paperwork.documents import issue_confirmed
from engine.record import actions
from engine.store.db import reading
from engine.views.board import default_as_of
from engine.views.strikes import (
    decision_states,
    explain,
    first_detected_on,
    responsible,
    strike_nodes,
    strike_numbered,
    strike_record,
    strikes_by_id,
)

router = APIRouter()


def _meetings_around(app: App, chosen: dt.date) -> list[dt.date]:
    with reading(app.engine) as session:
        first = first_detected_on(session) or chosen
    try:
        found = meeting_dates(
            app.policy.meetings, min(first, chosen) - dt.timedelta(days=7), chosen + dt.timedelta(days=14), app.calendar
        )
    except HolidayTableMissing:
        found = []
    return sorted(set(found) | {chosen}, reverse=True)


@route(router, "GET", "/meeting", Can.READ, "党组会：议程、待决定事项与已决定事项")
def meeting_page(
    request: Request, viewer: ViewerDep, app: AppDep, date: str | None = None, other: str | None = None
) -> HTMLResponse:
    """Show the agenda of the next (or the chosen) meeting with a form for every open decision, and what it decided."""
    with reading(app.engine) as session:
        as_of = default_as_of(session, app.today())
    meeting = parse_day(other) or parse_day(date) or next_meeting(app, app.calendar, as_of) or as_of
    with reading(app.engine) as session:
        agenda = agenda_context(app, session, meeting, app.calendar, scope_of(viewer))
        ids = [
            strike_id
            for items in (agenda.reviews, agenda.decisions, agenda.unassigned, agenda.exemption_requests)
            for item in items
            if (strike_id := item.strike.id) is not None
        ]
        strikes = strikes_by_id(session, ids)
        explanations = {strike_id: explain(app, session, strikes[strike_id]) for strike_id in ids}
        decided = decisions_context(app, session, meeting, scope_of(viewer))
        states = decision_states(app, session, list(strikes.values()))
    return render(
        request,
        "meeting.html",
        agenda=agenda,
        meeting=meeting,
        meetings=_meetings_around(app, meeting),
        explanations=explanations,
        decided=decided,
        states=states,
        back=f"/meeting?date={meeting.isoformat()}",
    )


@route(router, "GET", "/strikes/{strike_id}", Can.READ, "问责记录：事实、规则与全部记录")
def strike_page(request: Request, strike_id: int, viewer: ViewerDep, app: AppDep) -> HTMLResponse:
    """Show a strike with its explanation and its record, exactly as `duban strike explain` prints them."""
    with reading(app.engine) as session:
        strike, project = visible(viewer, strike_numbered(session, strike_id))
        lines = explain(app, session, strike)
        recorded = strike_record(app, session, strike_id)
        nodes = strike_nodes(session, [strike_id]).get(strike_id, [])
        person = responsible(session, strike)
        state = decision_states(app, session, [strike])[strike_id]
        meeting = next_meeting(app, app.calendar, default_as_of(session, app.today()))
    return render(
        request,
        "strike.html",
        strike=strike,
        project=project,
        lines=lines,
        recorded=recorded,
        nodes=nodes,
        person=person,
        state=state,
        meeting=meeting,
    )


def _back(back: str, strike_id: int) -> str:
    if back.startswith("/meeting") or back.startswith("/strikes/") or back.startswith("/persons/"):
        return f"{back}#strike-{strike_id}"
    return f"/strikes/{strike_id}"


@route(router, "POST", "/strikes/{strike_id}/confirm", Can.DECIDE, "记录党组会确认（免职、永不使用须再次确认）")
def confirm(
    request: Request,
    strike_id: int,
    viewer: ViewerDep,
    app: AppDep,
    meeting: Annotated[str, Form()] = "",
    text: Annotated[str, Form()] = "",
    back: Annotated[str, Form()] = "",
    sure: Annotated[str, Form()] = "",
) -> Response:
    """Record the meeting's confirmation and issue the final decision, as `duban strike confirm` does.

    A suspension or a dismissal ends a post or a career: the first press shows what will be
    recorded and asks again; only the second (``sure=yes``) records it.
    """
    strike, project = look_up(app, viewer, strike_numbered, strike_id)
    day = parse_day(meeting)
    if day is None:
        return redirect(request, _back(back, strike_id), "会议日期应为 YYYY-MM-DD 格式", "error")
    if sure != "yes":
        rung = app.policy.rung_for(strike.level) if strike.status == StrikeStatus.COUNTED and strike.level else None
        if rung is not None and rung.action in (Action.SUSPENSION, Action.DISMISSAL):
            with reading(app.engine) as session:
                person = responsible(session, strike)
                lines = explain(app, session, strike)
            return render(
                request,
                "confirm.html",
                strike=strike,
                project=project,
                person=person,
                rung=rung,
                action_cn=app.wording.word("action", rung.action),
                meeting=day,
                text=text,
                back=back,
                lines=lines,
            )
    actor = app.as_actor(viewer.actor)

    def issued(_: None) -> str:
        written = issue_confirmed(actor, strike_id)
        return f"问责记录 #{strike_id} 已由 {day.isoformat()} 党组会确认" + ("；正式决定已生成" if written else "")

    return acted(
        request,
        _back(back, strike_id),
        lambda: actions.confirm_strike(actor, strike_id, day, text.strip() or None),
        issued,
        f"问责记录 #{strike_id} 未确认：",
    )


@route(router, "POST", "/strikes/{strike_id}/exempt", Can.DECIDE, "记录党组会豁免（须写明理由）")
def exempt(
    request: Request,
    strike_id: int,
    viewer: ViewerDep,
    app: AppDep,
    reason: Annotated[str, Form()] = "",
    meeting: Annotated[str, Form()] = "",
    back: Annotated[str, Form()] = "",
) -> Response:
    """Exempt a strike, as `duban strike exempt` does (later levels move down, corrections follow)."""
    look_up(app, viewer, strike_numbered, strike_id)
    return acted(
        request,
        _back(back, strike_id),
        lambda: actions.exempt_strike(app.as_actor(viewer.actor), strike_id, reason, parse_day(meeting)),
        lambda _: f"问责记录 #{strike_id} 已豁免：{reason.strip()}",
        f"问责记录 #{strike_id} 未豁免：",
    )


@route(router, "POST", "/strikes/{strike_id}/reject-exemption", Can.DECIDE, "记录党组会驳回免责申请（须写明理由）")
def reject_exemption(
    request: Request,
    strike_id: int,
    viewer: ViewerDep,
    app: AppDep,
    reason: Annotated[str, Form()] = "",
    meeting: Annotated[str, Form()] = "",
    back: Annotated[str, Form()] = "",
) -> Response:
    """Turn down a strike's exemption request, as `duban strike reject-exemption` does (the strike stands)."""
    look_up(app, viewer, strike_numbered, strike_id)
    return acted(
        request,
        _back(back, strike_id),
        lambda: actions.reject_exemption(app.as_actor(viewer.actor), strike_id, reason, parse_day(meeting)),
        lambda _: f"问责记录 #{strike_id} 的免责申请已驳回：{reason.strip()}",
        f"问责记录 #{strike_id} 的免责申请未驳回：",
    )


@route(router, "POST", "/strikes/{strike_id}/request-exemption", Can.CORRECT, "登记免责申请（列入下次党组会）")
def request_exemption(
    request: Request,
    strike_id: int,
    viewer: ViewerDep,
    app: AppDep,
    reason: Annotated[str, Form()] = "",
    back: Annotated[str, Form()] = "",
) -> Response:
    """Record an exemption request, as `duban strike request-exemption` does."""
    look_up(app, viewer, strike_numbered, strike_id)
    return acted(
        request,
        _back(back, strike_id),
        lambda: actions.ask_exemption(app.as_actor(viewer.actor), strike_id, reason, actions.Scope(scope_of(viewer))),
        lambda _: f"问责记录 #{strike_id} 的免责申请已登记，将提交党组会审议",
        f"问责记录 #{strike_id} 的免责申请未登记：",
    )
