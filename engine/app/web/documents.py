"""Downloads: the agenda, notices, daily report and weekly bulletin in every format, and the bulletin's chart.

Every file is written by the same functions as `duban agenda`, `duban report …` and
`duban notices render` (engine.paperwork.documents), into a temporary folder removed after sending.
District staff get their district's edition of each document.
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse
from starlette.background import BackgroundTask

from config.vocabulary import Format, Kind
from engine.app.web.pages import page_number, parse_day, render
from engine.app.web.security import AppDep, Can, NotFound, ViewerDep, route, scope_of, visible
from engine.errors import Refused
from engine.paperwork.contexts import next_meeting
from engine.paperwork.documents import notice_file, write_agenda, write_daily, write_decisions, write_weekly
from engine.store.db import reading
from engine.views.board import default_as_of
from engine.views.notices import notice_numbered, notices_page
from notifications.kinds import REGISTRY

router = APIRouter()
PER_PAGE = 50
MEDIA = {
    Format.MD: "text/markdown; charset=utf-8",
    Format.HTML: "text/html; charset=utf-8",
    Format.DOCX: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}


def _format(kind: Kind, value: str | None) -> Format:
    try:
        fmt = Format((value or "docx").lower())
    except ValueError:
        raise NotFound(f"没有 {value} 格式（可用：md、html、docx）") from None
    if fmt not in REGISTRY[kind].formats:
        raise NotFound(f"{REGISTRY[kind].title}不提供 {fmt.value} 格式")
    return fmt


def _send(path: Path, folder: Path, name: str, fmt: Format) -> FileResponse:
    return FileResponse(
        path,
        media_type=MEDIA[fmt],
        filename=f"{name}.{fmt.value}",
        background=BackgroundTask(shutil.rmtree, folder, True),
    )


def _scratch() -> Path:
    return Path(tempfile.mkdtemp(prefix="duban-web-"))


@route(router, "GET", "/documents", Can.READ, "文书：议程、通知、每日检点、每周通报下载")
def documents_page(
    request: Request, viewer: ViewerDep, app: AppDep, kind: str | None = None, page: str | None = None
) -> HTMLResponse:
    """List what can be downloaded: the documents by date, and every notice."""
    number = page_number(page)
    scope = scope_of(viewer)
    with reading(app.engine) as session:
        as_of = default_as_of(session, app.today())
        notices, total = notices_page(session, kind, scope, number, PER_PAGE)
    meeting = next_meeting(app, app.calendar, as_of) or as_of
    monday = as_of - dt.timedelta(days=as_of.weekday())
    kinds = [
        (k.value, REGISTRY[k].title)
        for k in (Kind.REVIEW_NOTICE, Kind.SUSPENSION_DECISION, Kind.DISMISSAL_DECISION, Kind.CORRECTION_NOTICE)
    ]
    return render(
        request,
        "documents.html",
        notices=notices,
        total=total,
        page=number,
        pages=max(1, -(-total // PER_PAGE)),
        meeting=meeting,
        day=as_of,
        monday=monday,
        kinds=kinds,
        kind=kind if kind in dict(kinds) else None,
    )


def _day(value: str | None, what: str) -> dt.date:
    day = parse_day(value)
    if day is None:
        raise NotFound(f"{what}应为 YYYY-MM-DD 格式")
    return day


@route(router, "GET", "/documents/agenda", Can.READ, "下载党组会议程（md、html、docx）")
def agenda_file(
    request: Request, viewer: ViewerDep, app: AppDep, meeting: str | None = None, format: str | None = None
) -> FileResponse:
    """Write the agenda of a meeting, as `duban agenda` does."""
    day, fmt, folder = _day(meeting, "会议日期"), _format(Kind.MEETING_AGENDA, format), _scratch()
    _, path = write_agenda(app, day, fmt, folder / f"agenda.{fmt.value}", district=scope_of(viewer))
    assert path is not None
    return _send(path, folder, f"党组会议程-{day.isoformat()}", fmt)


@route(router, "GET", "/documents/decisions", Can.READ, "下载党组会决定事项（md、html、docx）")
def decisions_file(
    request: Request, viewer: ViewerDep, app: AppDep, meeting: str | None = None, format: str | None = None
) -> FileResponse:
    """Write the meeting's 决定事项 from the record, as `duban decisions` does."""
    day, fmt, folder = _day(meeting, "会议日期"), _format(Kind.MEETING_DECISIONS, format), _scratch()
    _, path = write_decisions(app, day, fmt, folder / f"decisions.{fmt.value}", district=scope_of(viewer))
    assert path is not None
    return _send(path, folder, f"党组会决定事项-{day.isoformat()}", fmt)


@route(router, "GET", "/documents/daily", Can.READ, "下载每日检点（md、html）")
def daily_file(
    request: Request, viewer: ViewerDep, app: AppDep, date: str | None = None, format: str | None = None
) -> FileResponse:
    """Write the daily check report of a day, as `duban report daily` does."""
    day, fmt, folder = _day(date, "检点日期"), _format(Kind.DAILY_REPORT, format or "html"), _scratch()
    _, path = write_daily(app, day, fmt, folder / f"daily.{fmt.value}", scope_of(viewer))
    assert path is not None
    return _send(path, folder, f"每日检点-{day.isoformat()}", fmt)


@route(router, "GET", "/documents/bulletin", Can.READ, "下载每周通报（md、html、docx）")
def bulletin_file(
    request: Request, viewer: ViewerDep, app: AppDep, week: str | None = None, format: str | None = None
) -> FileResponse:
    """Write the weekly bulletin of the week holding a day, as `duban report weekly` does."""
    day, fmt, folder = _day(week, "日期"), _format(Kind.WEEKLY_BULLETIN, format), _scratch()
    _, path = write_weekly(app, day, fmt, folder / f"bulletin.{fmt.value}", scope_of(viewer))
    assert path is not None
    monday = day - dt.timedelta(days=day.weekday())
    return _send(path, folder, f"每周通报-{monday.isoformat()}", fmt)


@route(router, "GET", "/documents/chart", Can.READ, "每周通报的进度图（PNG）")
def bulletin_chart(request: Request, viewer: ViewerDep, app: AppDep, week: str | None = None) -> FileResponse:
    """Draw the bulletin's progress chart of the week holding a day."""
    day, folder = _day(week, "日期"), _scratch()
    write_weekly(app, day, Format.MD, folder / "bulletin.md", scope_of(viewer))
    charts = sorted(folder.glob("progress-*.png"))
    if not charts:
        shutil.rmtree(folder, True)
        raise NotFound("这一周没有可画的进度（没有计划节点）")
    return FileResponse(charts[0], media_type="image/png", background=BackgroundTask(shutil.rmtree, folder, True))


@route(router, "GET", "/documents/notices/{notice_id}", Can.READ, "下载一份通知或决定（md、html、docx）")
def notice_download(
    request: Request, notice_id: int, viewer: ViewerDep, app: AppDep, format: str | None = None
) -> FileResponse:
    """Write one notice, with the same text `duban notices render` writes (it is not marked sent)."""
    with reading(app.engine) as session:
        notice = visible(viewer, notice_numbered(session, notice_id))
    kind = Kind(notice.kind)
    fmt, folder = _format(kind, format), _scratch()
    try:
        path = notice_file(app, notice_id, fmt, folder)
    except Refused as exc:
        shutil.rmtree(folder, True)
        raise NotFound(exc.problems[0]) from None
    return _send(path, folder, f"{REGISTRY[kind].title}-{path.stem}", fmt)
