"""The accounts (账号与登录限流): who may sign in, whose password must be reset, and every sign-in throttle.

For the office only (``Can.ACCOUNTS``). Lifting an account's throttles here is `duban user unlock`:
the same function, in the change log as ``web:NAME``.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from config.vocabulary import ThrottleKind
from engine.app.users import password_state, throttles, unlock, users
from engine.app.web.pages import redirect, render
from engine.app.web.security import AppDep, Can, NotFound, ViewerDep, route
from engine.errors import Refused
from engine.store.db import reading, transaction

router = APIRouter()


@route(router, "GET", "/accounts", Can.ACCOUNTS, "账号：启用状态、须重设的密码、被限流的登录")
def accounts_page(request: Request, viewer: ViewerDep, app: AppDep) -> HTMLResponse:
    """List every account with its password state and its throttles, then the addresses trying made-up names."""
    now = app.now()
    with reading(app.engine) as session:
        accounts = users(session)
        found = throttles(session, now)
    by_name: dict[str, list[object]] = {}
    for t in found:
        if t.kind is ThrottleKind.ACCOUNT and t.account:
            by_name.setdefault(t.name, []).append(t)
    made_up = [t for t in found if t.kind is ThrottleKind.UNKNOWN]
    rows = [{"user": u, "password": password_state(u), "throttles": by_name.get(u.name, [])} for u in accounts]
    return render(
        request, "accounts.html", rows=rows, made_up=made_up, now=now, throttled=sum(1 for r in rows if r["throttles"])
    )


@route(router, "POST", "/accounts/{name}/unlock", Can.ACCOUNTS, "解除账号的全部登录限流（与 duban user unlock 相同）")
def unlock_account(request: Request, name: str, viewer: ViewerDep, app: AppDep) -> RedirectResponse:
    """Lift every throttle of one account; recorded as the office member who did it."""
    actor = app.as_actor(viewer.actor)
    try:
        with transaction(actor.engine) as session:
            blocked = unlock(actor, session, name)
    except Refused as exc:
        raise NotFound(exc.problems[0]) from None
    where = f"（曾被限流的地址：{'、'.join(blocked)}）" if blocked else ""
    return redirect(request, "/accounts", f"已解除账号 {name} 的全部登录限流{where}")
