"""Who may do what on the web: permissions as data, the signed-in viewer, CSRF, and the route table.

Every route is declared through ``route()`` with the one permission it needs; the table
``ROUTES`` is what the permission tests walk (every route × every role). Anonymous requests are
sent to the sign-in page; a POST without the session's CSRF token is refused before anything
else is looked at. District staff are further limited to their district by the pages themselves
(``in_scope``), always through the same check.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from fastapi import APIRouter, Depends, Request
from sqlmodel import col

from config.vocabulary import Role
from engine.app.users import Viewer, touch_session, viewer_for
from engine.context import App
from engine.store.db import reading, transaction

SESSION_COOKIE = "duban_session"
LOGIN_CSRF_COOKIE = "duban_login_csrf"
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"


class Can(StrEnum):
    """Permissions; a role grants a set of them (``GRANTS``)."""

    READ = "read"  # the board, persons, meeting, documents of what the role may see
    CORRECT = "correct"  # record completions and extensions, ask for an exemption
    DECIDE = "decide"  # the meeting's decisions: confirm, exempt
    ASSIGN = "assign"  # make a person responsible for a project
    IMPORT = "import"  # upload the ledger
    RECORD = "record"  # the whole record and the audit chain
    CONTACTS = "contacts"  # phone numbers and e-mail addresses
    ACCOUNTS = "accounts"  # the accounts, their sign-in throttles, and lifting them
    REVIEW = "review"  # verify reports from the site (审核): approve, reject


GRANTS: dict[Role, frozenset[Can]] = {
    Role.LEADER: frozenset({Can.READ, Can.RECORD}),
    Role.OFFICE: frozenset(Can),
    Role.DISTRICT: frozenset({Can.READ, Can.CORRECT}),
}
CAN_CN = {
    Can.READ: "查看",
    Can.CORRECT: "更正节点、申请免责",
    Can.DECIDE: "记录党组会决定（确认、豁免）",
    Can.ASSIGN: "指定负责人",
    Can.IMPORT: "导入台账",
    Can.RECORD: "查看全部记录与审计链",
    Can.CONTACTS: "查看电话与邮箱",
    Can.ACCOUNTS: "管理账号（查看与解除登录限流）",
    Can.REVIEW: "审核现场报告",
}


class SignInRequired(Exception):
    """No valid session: the sign-in page comes next."""


class Forbidden(Exception):
    """Signed in, but not allowed; the message says why, in Chinese."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(Exception):
    """Nothing of that name (a project, person, strike, notice)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def can(viewer: Viewer, permission: Can) -> bool:
    """Whether the viewer's role grants a permission."""
    return permission in GRANTS[viewer.role]


def in_scope(viewer: Viewer, district: str | None) -> bool:
    """Whether the viewer may see and act on a project of this district."""
    return viewer.role is not Role.DISTRICT or district == viewer.district


def require_scope(viewer: Viewer, district: str | None) -> None:
    """Refuse a district's staff anything of another district."""
    if not in_scope(viewer, district):
        raise Forbidden(f"无权查看或操作其他片区的项目（您的片区：{viewer.district}）")


def check_project(app: App, viewer: Viewer, code: str) -> None:
    """Refuse, before anything is done, an unknown project or one of another district."""
    from sqlalchemy import select

    from engine.store.models import Project

    with reading(app.engine) as session:
        found = session.execute(select(col(Project.id), col(Project.district)).where(col(Project.code) == code)).first()
    if found is None:
        raise NotFound(f"项目 {code} 不存在")
    require_scope(viewer, found[1])


def check_strike(app: App, viewer: Viewer, strike_id: int) -> None:
    """Refuse, before anything is done, an unknown strike or one of another district's project."""
    from sqlalchemy import select

    from engine.store.models import Project, Strike

    with reading(app.engine) as session:
        found = session.execute(
            select(col(Strike.id), col(Project.district))
            .join(Project, col(Project.id) == col(Strike.project_id))
            .where(col(Strike.id) == strike_id)
        ).first()
    if found is None:
        raise NotFound(f"问责记录 #{strike_id} 不存在")
    require_scope(viewer, found[1])


def scope_of(viewer: Viewer) -> str | None:
    """Return the district a viewer is limited to (None: the whole ledger)."""
    return viewer.district if viewer.role is Role.DISTRICT else None


def duban(request: Request) -> App:
    """Return the application the server runs on."""
    found: App = request.app.state.duban
    return found


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def client_address(request: Request) -> str | None:
    """Return the address of whoever sent the request: the one recorded and rate-limited.

    The peer's own address, unless the peer is one of ``[duban.web] trusted_proxies``: then the
    right-most address of ``X-Forwarded-For`` that is not a trusted proxy (each proxy appends the
    address it was reached from; anything further left was written by the client and proves
    nothing). With no trusted proxies (the default) the header is never read.
    """
    peer = request.client.host if request.client else None
    proxies = duban(request).settings.web.proxies()
    if peer is None or not proxies:
        return peer
    peer_address = _address(peer)
    if peer_address is None or not any(peer_address in network for network in proxies):
        return peer
    hops = [hop for header in request.headers.getlist("x-forwarded-for") for hop in header.split(",")]
    nearest = peer
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:  # not an address: nothing left of it can be believed
            return nearest
        if not any(address in network for network in proxies):
            return str(address)
        nearest = str(address)
    return nearest


def signed_in(request: Request) -> Viewer:
    """Return the signed-in viewer, or send the browser to the sign-in page."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise SignInRequired
    app = duban(request)
    now = app.now()
    lifetime = dt.timedelta(days=app.settings.web.session_lifetime_days)
    with reading(app.engine) as session:
        found = viewer_for(session, token, now, lifetime)
    if found is None:
        raise SignInRequired
    viewer, stale = found
    if stale:  # rarely, and never holding the page up: a long import may hold the writer lock
        threading.Thread(target=_touch, args=(app, viewer.session_id, now), daemon=True).start()
    request.state.viewer = viewer
    return viewer


def _touch(app: App, session_id: int, now: dt.datetime) -> None:
    """Slide a session's idle timeout forward (best effort: a missed touch only shortens the session)."""
    try:
        with transaction(app.engine) as session:
            touch_session(session, session_id, now, app.settings.web.session_hours)
    except Exception:  # a busy or unreachable database: the next page tries again
        return


async def csrf_checked(request: Request, viewer: Viewer = Depends(signed_in)) -> Viewer:
    """Refuse a state-changing request that does not carry the session's CSRF token."""
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        form = await request.form()  # parsed once; the route's Form fields reuse it
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if not sent or not secrets.compare_digest(sent, viewer.csrf):
        raise Forbidden("请求缺少有效的防伪令牌（CSRF），已拒绝。请刷新页面后重试。")
    return viewer


@dataclass(frozen=True)
class RouteInfo:
    """One route of the web view and the permission it needs."""

    method: str
    path: str
    permission: Can
    summary: str


ROUTES: list[RouteInfo] = []


def route(
    router: APIRouter, method: str, path: str, permission: Can, summary: str, **kwargs: Any
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare a route with the one permission it needs (POSTs also need the CSRF token)."""

    def check(request: Request, viewer: Viewer = Depends(csrf_checked if method == "POST" else signed_in)) -> Viewer:
        if not can(viewer, permission):
            raise Forbidden(f"您的角色无权{CAN_CN[permission]}")
        return viewer

    def register(handler: Callable[..., Any]) -> Callable[..., Any]:
        ROUTES.append(RouteInfo(method, path, permission, summary))
        router.add_api_route(
            path,
            handler,
            methods=[method],
            dependencies=[Depends(check)],
            summary=summary,
            include_in_schema=False,
            **kwargs,
        )
        return handler

    return register
