"""Rendering the web pages: one autoescaped Jinja environment, the layout's context, flash messages."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from engine.app.users import Viewer
from engine.app.web.flash import FLASH_COOKIE, opened, sealed
from engine.app.web.security import CSRF_FIELD, GRANTS, Can, app_of
from engine.errors import Refused
from notifications.render import percent
from notifications.wording import cn_date

TEMPLATES = Path(__file__).with_name("templates")
STATIC = Path(__file__).with_name("static")

T = TypeVar("T")


def _when(value: dt.datetime | None, tz: dt.tzinfo | None = None) -> str:
    if value is None:
        return ""
    return value.astimezone(tz).strftime("%Y-%m-%d %H:%M") if tz else value.strftime("%Y-%m-%d %H:%M")


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        undefined=StrictUndefined,
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(cn_date=cn_date, percent=percent, when=_when, iso=lambda d: d.isoformat() if d else "")
    env.globals.update(Can=Can, CSRF_FIELD=CSRF_FIELD)
    return env


ENV = _environment()


def query_string(base: dict[str, Any], **changes: Any) -> str:
    """Return ``?…`` for a link that keeps the current filters and changes some (None drops one)."""
    merged = {k: v for k, v in {**base, **changes}.items() if v not in (None, "")}
    return "?" + urlencode(merged) if merged else ""


ENV.globals["query_string"] = query_string


def render(request: Request, template: str, http_status: int = 200, **context: Any) -> HTMLResponse:
    """Render a page with the layout's context: the viewer, what they may do, a flash message."""
    viewer: Viewer | None = getattr(request.state, "viewer", None)
    app = app_of(request)
    flash = _read_flash(request)
    html = ENV.get_template(template).render(
        request=request,
        viewer=viewer,
        grants=GRANTS[viewer.role] if viewer else frozenset(),
        W=app.wording,
        flash=flash,
        tz=app.settings.tz,
        path=request.url.path,
        **context,
    )
    response = HTMLResponse(html, status_code=http_status)
    if flash is not None:
        response.delete_cookie(FLASH_COOKIE, path="/")
    return response


def redirect(
    request: Request, url: str, message: str | None = None, kind: str = "ok", lines: list[str] | None = None
) -> RedirectResponse:
    """Redirect after a POST (303), carrying a one-time message to the next page."""
    response = RedirectResponse(url, status_code=303)
    if message is not None or lines:
        response.set_cookie(
            FLASH_COOKIE,
            sealed(request, {"kind": kind, "message": message or "", "lines": lines or []}),
            httponly=True,
            samesite="lax",
            path="/",
            max_age=60,
            secure=app_of(request).settings.web.cookie_secure,
        )
    return response


def acted(
    request: Request, back: str, action: Callable[[], T], said: Callable[[T], str], refused: str
) -> RedirectResponse:
    """Run one form's action and go back to ``back``: saying what it did, or, refused, ``refused`` and every reason.

    ``said`` runs only once the action succeeded, outside the refusal's catch: a refusal of a later
    step (issuing the decision a confirmation made) is not the form's, and is answered as any error is.
    """
    try:
        result = action()
    except Refused as exc:
        return redirect(request, back, refused, "error", exc.problems)
    return redirect(request, back, said(result))


def _read_flash(request: Request) -> dict[str, Any] | None:
    data = opened(request)
    if data is None:
        return None
    return {
        "kind": str(data.get("kind", "ok")),
        "message": str(data.get("message", "")),
        "lines": [str(line) for line in data.get("lines", [])][:200],
    }


def parse_day(value: str | None) -> dt.date | None:
    """Read a date from a query or form field (ISO), or None when it is empty or not a date."""
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        return None


def page_number(value: str | None) -> int:
    """Read a page number (1 when missing or not a number)."""
    try:
        return max(1, int(value or 1))
    except ValueError:
        return 1
