"""Who may do what on the web: permissions as data, the signed-in viewer, CSRF, and the route table.

Every route is declared through ``route()`` with the one permission it needs; the table
``ROUTES`` is what the permission tests walk (every route × every role). Anonymous requests are
sent to the sign-in page; a POST without the session's CSRF token is refused before anything
else is looked at. District staff are further limited to their district: what a page or a form
names is checked by ``visible`` (one rule for projects, strikes, persons and notices), lists by
the read models' ``district`` argument (``scope_of``), and a page's parts by ``in_scope``.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Request
from sqlmodel import Session

from config.vocabulary import Role
from engine.app.users import Viewer, touch_session, viewer_for
from engine.context import App
from engine.store.db import reading, transaction
from engine.views.lookup import Found

SESSION_COOKIE = "duban_session"
LOGIN_CSRF_COOKIE = "duban_login_csrf"
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"

T = TypeVar("T")
K = TypeVar("K")


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


def visible(viewer: Viewer, found: Found[T]) -> T:
    """Return the row a page or a form names, if the viewer may see it.

    None found: not found (404). Found, but outside a district's staff's district: refused (403), or
    answered as not found (404) when the resource says it is hidden (a person of another district).
    """
    if found.row is None:
        raise NotFound(found.missing)
    if viewer.role is Role.DISTRICT and viewer.district not in found.districts:
        message = found.outside or f"无权查看或操作其他片区的项目（您的片区：{viewer.district}）"
        raise NotFound(message) if found.hidden else Forbidden(message)
    return found.row


def look_up(app: App, viewer: Viewer, find: Callable[[Session, K], Found[T]], key: K) -> T:
    """Look up what a form names before anything is done, in a snapshot of its own (see ``visible``)."""
    with reading(app.engine) as session:
        return visible(viewer, find(session, key))


def scope_of(viewer: Viewer) -> str | None:
    """Return the district a viewer is limited to (None: the whole ledger)."""
    return viewer.district if viewer.role is Role.DISTRICT else None


def app_of(request: Request) -> App:
    """Return the application the server runs on (``create_app`` keeps it on the web application's state)."""
    found: App = request.app.state.app
    return found


#: The application the server runs on, as a route's parameter: ``app: AppDep``.
AppDep = Annotated[App, Depends(app_of)]


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
    proxies = app_of(request).settings.web.proxies()
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
    app = app_of(request)
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


#: The signed-in viewer, as a route's parameter: ``viewer: ViewerDep`` (anonymous: the sign-in page comes next).
ViewerDep = Annotated[Viewer, Depends(signed_in)]


def _touch(app: App, session_id: int, now: dt.datetime) -> None:
    """Slide a session's idle timeout forward (best effort: a missed touch only shortens the session)."""
    try:
        with transaction(app.engine) as session:
            touch_session(session, session_id, now, app.settings.web.session_hours)
    except Exception:  # a busy or unreachable database: the next page tries again
        return


async def csrf_checked(request: Request, viewer: ViewerDep) -> Viewer:
    """Refuse a state-changing request that does not carry the session's CSRF token."""
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        form = await request.form()  # parsed once; the route's Form fields reuse it
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if not sent or not secrets.compare_digest(sent.encode(), viewer.csrf.encode()):  # bytes: any text compares
        raise Forbidden("请求缺少有效的防伪令牌（CSRF），已拒绝。请刷新页面后重试。")
    return viewer


#: The signed-in viewer of a state-changing request, its CSRF token checked: ``viewer: CheckedViewerDep``.
CheckedViewerDep = Annotated[Viewer, Depends(csrf_checked)]


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

    def allowed(viewer: Viewer) -> Viewer:
        if not can(viewer, permission):
            raise Forbidden(f"您的角色无权{CAN_CN[permission]}")
        return viewer

    def reading_allowed(viewer: ViewerDep) -> Viewer:
        return allowed(viewer)

    def writing_allowed(viewer: CheckedViewerDep) -> Viewer:
        return allowed(viewer)

    check = writing_allowed if method == "POST" else reading_allowed

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
