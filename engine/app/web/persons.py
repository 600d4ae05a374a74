"""Persons: each one's ladder with the explanation of every strike, and the never-use register."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from config.vocabulary import PersonStatus
from engine.app.web.pages import page_number, render
from engine.app.web.security import AppDep, Can, ViewerDep, can, in_scope, route, scope_of, visible
from engine.store.db import reading
from engine.store.models import id_of
from engine.views.persons import (
    never_use_register,
    person_ladder,
    person_named,
    person_projects,
    person_standing,
    persons_page,
)

router = APIRouter()
PER_PAGE = 50
STATUSES = tuple(str(s) for s in PersonStatus)


@route(router, "GET", "/persons", Can.READ, "人员：状态与计入的问责记录")
def persons(
    request: Request,
    viewer: ViewerDep,
    app: AppDep,
    status: str | None = None,
    q: str | None = None,
    page: str | None = None,
) -> HTMLResponse:
    """List persons with their derived status, filtered and paginated."""
    number = page_number(page)
    with reading(app.engine) as session:
        rows, total = persons_page(
            app, session, status if status in STATUSES else None, q, scope_of(viewer), number, PER_PAGE
        )
    filters = {"status": status if status in STATUSES else None, "q": q or None}
    template = "_persons_results.html" if request.headers.get("hx-request") else "persons.html"
    return render(
        request,
        template,
        rows=rows,
        total=total,
        page=number,
        pages=max(1, -(-total // PER_PAGE)),
        filters=filters,
        statuses=STATUSES,
    )


@route(router, "GET", "/persons/{person_id}", Can.READ, "人员：问责阶梯与每条问责记录的说明")
def person(request: Request, person_id: str, viewer: ViewerDep, app: AppDep) -> HTMLResponse:
    """Show a person's ladder: every strike, its level, status, decision and explanation."""
    with reading(app.engine) as session:
        found = visible(viewer, person_named(session, person_id))
        ladder = person_ladder(app, session, found)
        shown = [entry for entry in ladder if in_scope(viewer, entry["district"])]
        hidden = len(ladder) - len(shown)
        projects = person_projects(session, found, scope_of(viewer))
        stood, counted = person_standing(app, session, id_of(found), app.today())
    contacts = {"phone": found.phone, "email": found.email} if can(viewer, Can.CONTACTS) else None
    return render(
        request,
        "person.html",
        person=found,
        ladder=shown,
        hidden=hidden,
        projects=projects,
        status=str(stood.status),
        standing=stood,
        contacts=contacts,
        counted=counted,
    )


@route(router, "GET", "/register", Can.READ, "永不使用人员名册")
def register(request: Request, viewer: ViewerDep, app: AppDep) -> HTMLResponse:
    """Show the never-use register (confirmed dismissals), and apart from it the dismissals awaiting the meeting."""
    with reading(app.engine) as session:
        rows = never_use_register(app, session, scope_of(viewer))
        proposed = never_use_register(app, session, scope_of(viewer), proposed=True)
    return render(request, "register.html", rows=rows, proposed=proposed)
