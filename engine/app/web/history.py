"""The history page (记录在案, at /record): who did what, when and why, and the audit chain's state."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from engine.app.web.pages import page_number, parse_day, render
from engine.app.web.security import AppDep, Can, ViewerDep, route
from engine.store import audit
from engine.store.db import reading
from engine.views.history import SECTIONS, HistoryQuery, chain_state, history, strike_person_names

router = APIRouter()
PER_PAGE = 100


@route(router, "GET", "/record", Can.RECORD, "记录在案：谁、何时、做了什么、为什么")
def history_page(
    request: Request,
    viewer: ViewerDep,
    app: AppDep,
    section: str | None = None,
    actor: str | None = None,
    since: str | None = None,
    until: str | None = None,
    page: str | None = None,
) -> HTMLResponse:
    """Show one section of the history, newest first, with the audit chain's head."""
    query = HistoryQuery(
        section=section if section in SECTIONS else "changes",
        actor=(actor or "").strip() or None,
        since=parse_day(since),
        until=parse_day(until),
        page=page_number(page),
        per_page=PER_PAGE,
    )
    with reading(app.engine) as session:
        entries, total = history(session, query, app.settings.tz, app.wording)
        strike_person_names(session, entries)
        chain = chain_state(session)
    filters = {"section": query.section, "actor": query.actor, "since": since or None, "until": until or None}
    return render(
        request,
        "history.html",
        entries=entries,
        total=total,
        query=query,
        sections=SECTIONS,
        chain=chain,
        filters=filters,
        pages=max(1, -(-total // PER_PAGE)),
        verdict=None,
    )


@route(router, "GET", "/record/audit", Can.RECORD, "校验审计链（与 duban audit verify 相同）")
def verify_page(request: Request, viewer: ViewerDep, app: AppDep) -> HTMLResponse:
    """Verify the whole audit chain now, as `duban audit verify` does."""
    with reading(app.engine) as session:
        verdict = audit.verify(session)
        chain = chain_state(session)
    return render(request, "audit.html", verdict=verdict, chain=chain)
