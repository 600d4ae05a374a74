"""The web view (`duban serve`): server-rendered pages for the office, the leaders and the districts.

Start here: ``create_app`` builds the FastAPI application on an ``App`` (kept as ``state.app``;
routes receive it as ``app: AppDep``). Every route is declared in ``security.route`` with the
permission it needs (``security.ROUTES`` is the table). Route functions hold no queries: pages
read through ``engine.store.db.reading`` (never waiting for a writer) and the read models of
``engine/views/``, check what they name with ``security.visible``, and change data only through
``engine.record.actions`` and ``engine.ledger`` — the same functions as the command line — with
``pages.acted`` answering a form.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from engine.app.web import accounts, auth, documents, history, ledger, meeting, persons, phone, projects, review
from engine.app.web.limits import BodyLimit
from engine.app.web.pages import STATIC, render
from engine.app.web.security import Forbidden, NotFound, SignInRequired
from engine.context import App
from engine.errors import Refused

#: Sent with every response: no framing, no sniffing, scripts only from this site.
SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'self'"
    ),
    "Cache-Control": "no-store",
}


def create_app(app: App) -> FastAPI:
    """Build the web application on a running duban application (its settings, database and rules)."""
    web = FastAPI(title="督办", docs_url=None, redoc_url=None, openapi_url=None)
    web.state.app = app
    _ = app.engine, app.calendar  # made once here: every request's App (as_actor) shares them
    web.mount("/static", StaticFiles(directory=STATIC), name="static")
    for module in (auth, projects, persons, meeting, documents, ledger, history, accounts, phone, review):
        web.include_router(module.router)

    # The upload and its form fields: a megabyte more than the largest workbook accepted.
    web.add_middleware(
        BodyLimit,
        limit=(app.settings.web.max_upload_mb + 1) * 1024 * 1024,
        message=f"上传的文件超过 {app.settings.web.max_upload_mb} MB",
    )

    @web.middleware("http")  # added after BodyLimit, so it runs around it: a 413 has the headers too
    async def headers(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            if name == "Cache-Control" and request.url.path.startswith("/static/"):
                continue
            response.headers.setdefault(name, value)
        return response

    @web.exception_handler(SignInRequired)
    async def sign_in_first(request: Request, _exc: SignInRequired) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        login = f"/login?next={quote(target)}" if request.method == "GET" else "/login"
        if request.headers.get("hx-request"):
            return Response(status_code=401, headers={"HX-Redirect": login})
        if request.method != "GET":
            return HTMLResponse("请先登录", status_code=401)
        return RedirectResponse(login, status_code=303)

    @web.exception_handler(Forbidden)
    async def forbidden(request: Request, exc: Forbidden) -> Response:
        return render(request, "error.html", http_status=403, title="无权操作", message=exc.message)

    @web.exception_handler(NotFound)
    async def not_found(request: Request, exc: NotFound) -> Response:
        return render(request, "error.html", http_status=404, title="未找到", message=exc.message)

    @web.exception_handler(Refused)
    async def refused(request: Request, exc: Refused) -> Response:
        # A document of a day not evaluated yet, and the like: the same lines the command line prints.
        return render(request, "error.html", http_status=409, title="无法生成", message="；".join(exc.problems))

    @web.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        message = {404: "没有这个页面", 405: "不支持此操作"}.get(exc.status_code, "请求无法处理")
        return render(request, "error.html", http_status=exc.status_code, title=message, message=message)

    @web.exception_handler(OperationalError)
    async def busy(request: Request, exc: OperationalError) -> Response:
        # SQLite's writer lock held past its timeout (a national import), or the server unreachable.
        return render(
            request,
            "error.html",
            http_status=503,
            title="数据库忙",
            message="数据库正忙（可能正在导入台账或每日评估），本次操作未执行，请稍后再试。",
        )

    @web.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> Response:
        fields = "、".join(str(e.get("loc", ["?"])[-1]) for e in exc.errors())
        return render(request, "error.html", http_status=400, title="请求有误", message=f"请求的参数有误：{fields}")

    return web
