"""Uploading the ledger: the same import as `duban import ledger`, every problem shown, nothing changed on refusal."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse

from engine.app.web.pages import parse_day, render
from engine.app.web.security import AppDep, Can, ViewerDep, route
from engine.errors import Problem, Refused
from engine.ledger import import_ledger

router = APIRouter()
ACCEPTED = (".xlsx", ".xlsm")
SUMMARY = (
    ("新增人员", "persons_added"),
    ("更新人员", "persons_updated"),
    ("新增项目", "projects_added"),
    ("更新项目", "projects_updated"),
    ("新增节点", "nodes_added"),
    ("更新节点", "nodes_updated"),
    ("延期", "extensions"),
    ("完成", "completions"),
    ("负责人变更", "reassignments"),
)


@route(router, "GET", "/ledger", Can.IMPORT, "上传工作台账")
def ledger_form(request: Request, viewer: ViewerDep, app: AppDep) -> HTMLResponse:
    """Show the upload form."""
    return render(request, "ledger.html", result=None, problems=None, omitted=0, today=app.today(), filename=None)


@route(router, "POST", "/ledger", Can.IMPORT, "导入工作台账（全部成功或全部不变）")
def ledger_upload(
    request: Request,
    workbook: Annotated[UploadFile, File()],
    viewer: ViewerDep,
    app: AppDep,
    as_of: Annotated[str, Form()] = "",
    new_persons: Annotated[str, Form()] = "",
) -> HTMLResponse:
    """Import an uploaded workbook; show what changed, or every problem with its place."""
    actor = app.as_actor(viewer.actor)
    name = Path(workbook.filename or "台账.xlsx").name
    suffix = Path(name).suffix.lower()

    def page(status: int, **context: object) -> HTMLResponse:
        return render(
            request,
            "ledger.html",
            http_status=status,
            today=app.today(),
            filename=name,
            **{"result": None, "problems": None, "notes": [], "omitted": 0, **context},
        )

    if suffix not in ACCEPTED:
        return page(400, problems=[_problem(name, "请上传 .xlsx 工作簿（Excel 2007 及以后版本）")])
    day = parse_day(as_of) if as_of else app.today()
    if day is None:
        return page(400, problems=[_problem("负责人变更生效日期", "应为 YYYY-MM-DD 格式", as_of)])
    limit = app.settings.web.max_upload_mb * 1024 * 1024
    folder = Path(tempfile.mkdtemp(prefix="duban-upload-"))
    try:
        target = folder / f"upload{suffix}"
        with target.open("wb") as handle:
            shutil.copyfileobj(workbook.file, handle, 1024 * 1024)
        if target.stat().st_size > limit:
            return page(413, problems=[_problem(name, f"文件超过 {app.settings.web.max_upload_mb} MB")])
        try:
            result = import_ledger(actor, target, day, source_name=name, new_persons=new_persons == "yes")
        except Refused as exc:
            if not exc.details:  # no places: its lines, the one saying how many were left out among them
                return page(422, problems=[_problem(name, line) for line in exc.problems])
            return page(422, problems=[vars(p) for p in exc.details], omitted=exc.omitted)
    finally:
        shutil.rmtree(folder, True)
    changes = [(label, getattr(result, key)) for label, key in SUMMARY if getattr(result, key)]
    return page(200, result=changes, notes=result.notes)


def _problem(where: str, reason: str, value: str | None = None) -> dict[str, object]:
    """Return a problem of the upload itself as a row of the problems table (no sheet, row or column)."""
    return vars(Problem(where, None, None, value, reason))
