"""Signing in and out."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from engine.app.users import LockedOut, end_session, sign_in
from engine.app.web import flash
from engine.app.web.pages import render
from engine.app.web.security import LOGIN_CSRF_COOKIE, SESSION_COOKIE, AppDep, CheckedViewerDep, app_of, client_address
from engine.errors import Refused
from engine.store.db import transaction

router = APIRouter()


def _safe_next(target: str | None) -> str:
    # Only a path of this site: never an address elsewhere ("//evil", "https://…").
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/board"
    return target


def _login_page(request: Request, message: str | None, status: int, target: str) -> HTMLResponse:
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(24)
    response = render(request, "login.html", http_status=status, message=message, login_csrf=token, next=target)
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        path="/login",
        secure=app_of(request).settings.web.cookie_secure,
    )
    return response


@router.get("/login", include_in_schema=False)
def login_form(request: Request, next: str | None = None) -> HTMLResponse:
    """Show the sign-in page."""
    return _login_page(request, None, 200, _safe_next(next))


@router.post("/login", include_in_schema=False)
def login(
    request: Request,
    app: AppDep,
    name: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/board",
) -> Response:
    """Sign in: a session cookie on success, a clear reason otherwise (rate-limited)."""
    target = _safe_next(next)
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE)
    if not cookie or not csrf or not secrets.compare_digest(cookie.encode(), csrf.encode()):
        return _login_page(request, "页面已过期，请重新输入用户名和密码", 403, target)
    client = client_address(request)
    try:
        token = sign_in(app, name, password, client, app.settings.web.session_hours)
    except LockedOut as exc:
        return _login_page(request, exc.problems[0], 429, target)
    except Refused as exc:
        return _login_page(request, exc.problems[0], 401, target)
    flash.prepare(request)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE, token, httponly=True, samesite="lax", path="/", secure=app.settings.web.cookie_secure
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.post("/logout", include_in_schema=False)
def logout(viewer: CheckedViewerDep, app: AppDep) -> Response:
    """Sign out: the session ends in the database, the cookie is dropped."""
    with transaction(app.engine) as session:
        end_session(app, session, viewer.session_id)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
