"""The phone page of a responsible person (/m/{token}): their nodes and lights, and reporting progress.

Reached by a personal link (`duban person link`), not by an account: the token in the address is the
credential, checked on every request (unknown, expired or revoked → the refusal page, 403). Plain HTML
forms, no script, 375 px wide, for WeChat's and DingTalk's in-app browsers. A POST needs no CSRF token:
a cross-site form cannot post to an address whose token it does not know, and the token is the secret.
The report goes through engine/app/review.py, as `duban review` reads it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response

from config.vocabulary import ReportKind
from engine.app import review
from engine.app.web.pages import parse_day, redirect, render
from engine.app.web.security import AppDep
from engine.errors import Refused
from engine.record.links import resolve
from engine.record.reports import MAX_NOTE, MAX_PHOTOS
from engine.store.db import reading
from engine.views.reports import phone_nodes

router = APIRouter()


def _refused(request: Request, message: str) -> HTMLResponse:
    return render(request, "phone/refused.html", http_status=403, message=message)


@router.get("/m/{token}", include_in_schema=False)
def phone_page(request: Request, token: str, app: AppDep) -> HTMLResponse:
    """Show a person's nodes with their dates and lights, and a report form per open node."""
    with reading(app.engine) as session:
        found = resolve(session, token, app.now())
        if found.person is None:
            return _refused(request, found.refusal or "链接无效")
        nodes = phone_nodes(app, session, found.person)
    return render(
        request,
        "phone/page.html",
        person=found.person,
        nodes=nodes,
        token=token,
        today=app.today(),
        expires=found.expires_at,
        max_photos=MAX_PHOTOS,
        max_note=MAX_NOTE,
        max_photo_mb=app.settings.web.max_photo_mb,
    )


@router.post("/m/{token}/report", include_in_schema=False)
def phone_report(
    request: Request,
    token: str,
    app: AppDep,
    project: Annotated[str, Form()] = "",
    node: Annotated[str, Form()] = "",
    kind: Annotated[str, Form()] = "",
    day: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
    photos: Annotated[list[UploadFile] | None, File()] = None,
) -> Response:
    """Record a report (done, with photos; or an extension asked) for the office to review."""
    back = f"/m/{token}"
    with reading(app.engine) as session:
        found = resolve(session, token, app.now())
    if found.person is None:
        return _refused(request, found.refusal or "链接无效")
    if kind not in (ReportKind.COMPLETION, ReportKind.EXTENSION):
        return redirect(request, back, "请选择报完成或申请延期", "error")
    date = parse_day(day)
    if date is None:
        return redirect(request, back, "日期应为 YYYY-MM-DD 格式", "error")
    limit = app.settings.web.max_photo_mb * 1024 * 1024
    uploads, too_big = [], []
    for photo in photos or []:
        if not photo.filename and not photo.size:
            continue  # the empty file field a browser sends when no photo was chosen
        if photo.size is not None and photo.size > limit:  # refused unread, named with its real size
            mb = app.settings.web.max_photo_mb
            too_big.append(f"照片 {photo.filename}：{photo.size / 1024 / 1024:.1f} MB，超过上限 {mb} MB")
            continue
        uploads.append(review.Upload(photo.filename or "", photo.file.read(limit + 1)))
    if too_big:
        return redirect(request, back, "未提交：", "error", too_big)
    try:
        report_id = review.submit(app, token, project, node, ReportKind(kind), date, note, uploads)
    except Refused as exc:
        return redirect(request, back, "未提交：", "error", exc.problems)
    words = "完成情况" if kind == ReportKind.COMPLETION else "延期申请"
    return redirect(request, back + "#done", f"{project} {node}：{words}已提交（报告 #{report_id}），待工作专班审核")
