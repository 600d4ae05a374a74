"""The progress tables reported upward (省、部进度表) as an Excel workbook, laid out as the forms are.

A plain context in (see engine/paperwork/contexts.progress_context), a workbook out: a merged
title row, the reporting unit and date, a two-row header with merged group cells (开工, 完工,
涉及居民户数), one row per district with a 合计 row, and one sheet per ranking. No database here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from notifications.files import replacing
from notifications.wording import cn_date

_THIN = {"style": "thin", "color": "000000"}
#: (header, key, group) of the progress sheet; a group spans its columns in the first header row.
PROGRESS_COLUMNS: tuple[tuple[str, str, str | None], ...] = (
    ("序号", "index", None),
    ("片区/区县", "name", None),
    ("计划任务数（个）", "projects", None),
    ("数量（个）", "started", "开工"),
    ("开工率", "start_rate", "开工"),
    ("数量（个）", "completed_projects", "完工"),
    ("完工率", "completion_rate", "完工"),
    ("计划", "households", "涉及居民户数"),
    ("已开工", "started_households", "涉及居民户数"),
    ("已完工", "completed_households", "涉及居民户数"),
    ("到期节点（个）", "due", None),
    ("逾期未完成节点（个）", "overdue", None),
    ("逾期未办结 12345 工单（件）", "complaints_overdue", None),
)
RANKING_COLUMNS: tuple[tuple[str, str], ...] = (
    ("名次", "rank"),
    ("名称", "name"),
    ("项目数", "projects"),
    ("开工数", "started"),
    ("开工率", "start_rate"),
    ("完工数", "completed_projects"),
    ("完工率", "completion_rate"),
    ("到期节点", "due"),
    ("按期完成", "on_time"),
    ("按期完成率", "on_time_rate"),
    ("逾期未完成", "overdue"),
    ("逾期工单", "complaints_overdue"),
)
_RATES = {"start_rate", "completion_rate", "on_time_rate"}


def write_progress(context: dict[str, Any], path: Path) -> Path:
    """Write the progress workbook of a context to a path (atomically); return the path."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "进度表"
    _progress_sheet(sheet, context)
    for title, rows in context["rankings"]:
        _ranking_sheet(book.create_sheet(title), title, rows, context)
    path.parent.mkdir(parents=True, exist_ok=True)
    with replacing(path) as temp:
        book.save(temp)
    return path


def _styles() -> dict[str, Any]:
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side

    side = Side(**_THIN)
    return {
        "border": Border(left=side, right=side, top=side, bottom=side),
        "center": Alignment(horizontal="center", vertical="center", wrap_text=True),
        "title": Font(name="方正小标宋简体", size=16, bold=True),
        "bold": Font(bold=True),
        "head": PatternFill("solid", fgColor="DDEBF7"),
    }


def _title(sheet: Any, text: str, width: int, context: dict[str, Any]) -> None:
    style = _styles()
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=width)
    cell = sheet.cell(row=1, column=1, value=text)
    cell.font, cell.alignment = style["title"], style["center"]
    sheet.row_dimensions[1].height = 32
    sheet.cell(row=2, column=1, value=f"填报单位：{context['issuer']}")
    sheet.cell(row=2, column=width, value=f"截至日期：{cn_date(context['as_of'])}")


def _progress_sheet(sheet: Any, context: dict[str, Any]) -> None:
    style = _styles()
    width = len(PROGRESS_COLUMNS)
    _title(sheet, context["title"], width, context)
    column = 1
    while column <= width:  # the two header rows: a group spans its columns, a lone header both rows
        _header, _key, group = PROGRESS_COLUMNS[column - 1]
        span = 1
        while group is not None and column + span <= width and PROGRESS_COLUMNS[column + span - 1][2] == group:
            span += 1
        if group is None:
            sheet.merge_cells(start_row=3, start_column=column, end_row=4, end_column=column)
            sheet.cell(row=3, column=column, value=PROGRESS_COLUMNS[column - 1][0])
        else:
            sheet.merge_cells(start_row=3, start_column=column, end_row=3, end_column=column + span - 1)
            sheet.cell(row=3, column=column, value=group)
            for offset in range(span):
                sheet.cell(row=4, column=column + offset, value=PROGRESS_COLUMNS[column + offset - 1][0])
        column += span
    for row in (3, 4):
        for column in range(1, width + 1):
            cell = sheet.cell(row=row, column=column)
            cell.alignment, cell.border, cell.font, cell.fill = (
                style["center"],
                style["border"],
                style["bold"],
                style["head"],
            )
    rows = [{**r, "index": i} for i, r in enumerate(context["districts"], start=1)]
    rows.append({**context["total"], "index": "", "name": "合计"})
    for offset, data in enumerate(rows):
        for column, (_header, key, _group) in enumerate(PROGRESS_COLUMNS, start=1):
            _put(sheet.cell(row=5 + offset, column=column, value=data.get(key)), key, style)
        if data["name"] == "合计":
            for column in range(1, width + 1):
                sheet.cell(row=5 + offset, column=column).font = style["bold"]
    _widths(sheet, [6, 16, 12, 10, 9, 10, 9, 10, 10, 10, 12, 14, 16])
    sheet.freeze_panes = "C5"


def _ranking_sheet(sheet: Any, title: str, rows: list[dict[str, Any]], context: dict[str, Any]) -> None:
    style = _styles()
    width = len(RANKING_COLUMNS)
    _title(sheet, f"{context['title_short']}{title}（截至{cn_date(context['as_of'])}）", width, context)
    for column, (header, _key) in enumerate(RANKING_COLUMNS, start=1):
        cell = sheet.cell(row=3, column=column, value=header)
        cell.alignment, cell.border, cell.font, cell.fill = (
            style["center"],
            style["border"],
            style["bold"],
            style["head"],
        )
    for offset, data in enumerate(rows):
        for column, (_header, key) in enumerate(RANKING_COLUMNS, start=1):
            _put(sheet.cell(row=4 + offset, column=column, value=data.get(key)), key, style)
    _widths(sheet, [6, 24, 8, 8, 9, 8, 9, 9, 9, 10, 10, 9])
    sheet.freeze_panes = "C4"


def _put(cell: Any, key: str, style: dict[str, Any]) -> None:
    """Format one data cell: rates as percentages, text cells as text (never a formula)."""
    cell.border = style["border"]
    if key in _RATES and isinstance(cell.value, float):
        cell.number_format = "0.0%"
    elif isinstance(cell.value, str):
        cell.data_type = "s"  # a name like "=cmd|…" from the ledger stays text


def _widths(sheet: Any, widths: list[int]) -> None:
    from openpyxl.utils import get_column_letter

    for column, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(column)].width = width
