"""The office's review queue (审核, /review), and the photos of the reports (/photos/{sha256}).

Approving or rejecting calls engine/app/review.py, as `duban review approve|reject` does, acting
as `web:NAME`. A photo is shown to a signed-in viewer who may see a project whose report carries it.
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from engine.app import review
from engine.app.web.pages import acted, render
from engine.app.web.security import AppDep, Can, NotFound, ViewerDep, in_scope, route
from engine.store.db import reading
from engine.views.reports import pending, photo_bytes, photo_districts

router = APIRouter()
SHA256 = re.compile(r"[0-9a-f]{64}")


@route(router, "GET", "/review", Can.REVIEW, "审核：现场报告的完成、延期申请，片区账号将撤销问责的完成")
def review_page(request: Request, viewer: ViewerDep, app: AppDep) -> HTMLResponse:
    """Show the reports waiting for the office, with their photos and what approving them would revoke."""
    with reading(app.engine) as session:
        waiting = pending(app, session)
    return render(request, "review/queue.html", reports=waiting)


@route(router, "POST", "/review/{report_id}/approve", Can.REVIEW, "审核通过（与 duban review approve 相同）")
def approve(
    request: Request, report_id: int, viewer: ViewerDep, app: AppDep, note: Annotated[str, Form()] = ""
) -> Response:
    """Approve a report: its completion or extension is recorded, naming the reporter and the approver."""
    return acted(
        request,
        "/review",
        lambda: review.approve(app.as_actor(viewer.actor), report_id, note.strip() or None),
        lambda _: f"报告 #{report_id} 审核通过，已记录",
        "未审核：",
    )


@route(router, "POST", "/review/{report_id}/reject", Can.REVIEW, "审核退回（须写明理由，发给报告人）")
def reject(
    request: Request, report_id: int, viewer: ViewerDep, app: AppDep, reason: Annotated[str, Form()] = ""
) -> Response:
    """Reject a report with a reason, which goes back to the person."""
    return acted(
        request,
        "/review",
        lambda: review.reject(app.as_actor(viewer.actor), report_id, reason),
        lambda done: (
            f"报告 #{report_id} 已退回，" + ("理由已发给报告人" if done[1] else "已记录在案（报告人没有可发送的渠道）")
        ),
        "未退回：",
    )


@route(router, "GET", "/photos/{sha256}", Can.READ, "现场照片（?thumb=1 为缩略图）")
def photo(sha256: str, viewer: ViewerDep, app: AppDep, thumb: str | None = None) -> Response:
    """Send a report's photo (JPEG) to a viewer who may see one of the projects it was reported for."""
    if not SHA256.fullmatch(sha256):
        raise NotFound("没有这张照片")
    with reading(app.engine) as session:
        districts = photo_districts(session, sha256)
        if not any(in_scope(viewer, d) for d in districts):
            raise NotFound("没有这张照片")  # another district's photo: as if it did not exist
        data = photo_bytes(session, sha256, thumbnail=bool(thumb))
    if data is None:
        raise NotFound("没有这张照片")
    return Response(bytes(data), media_type="image/jpeg")
