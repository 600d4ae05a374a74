"""Reading the hotline's work-order export (12345 工单): a workbook or a CSV file into checked rows.

The hotline system exports one table, a row per work order, often under a title row, in UTF-8
or GBK. Columns are found by their headers (the names the hotline systems use, `HEADERS`);
the caller's name and phone, and any other column, are not read.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from config.limits import LimitsSettings
from engine.ledger.dates import parse_date
from engine.ledger.guard import SheetUnreadable, csv_fits, open_workbook
from engine.ledger.header import cell_text, letter, normal
from engine.ledger.read import Problems, encoding_hint, looks_utf16

#: Each column: its key, the names the exports give it (the first is the one users are told), required.
HEADERS: dict[str, tuple[tuple[str, ...], bool]] = {
    "order_no": (("工单编号", "工单号", "编号", "工单流水号", "受理编号", "诉求编号", "order_no"), True),
    "received_at": (("受理时间", "来电时间", "登记时间", "受理日期", "来电日期", "诉求时间", "received_at"), True),
    "content": (("诉求内容", "来电内容", "反映内容", "问题描述", "诉求描述", "事项内容", "content"), True),
    "place": (("地址/小区", "小区/地址", "地址", "诉求地址", "事发地址", "事发地点", "place", "address"), False),
    "community": (("小区", "小区名称", "community"), False),
    "due_at": (
        ("办理时限", "处理时限", "办结时限", "承办时限", "办理期限", "处理期限", "截止时间", "要求办结时间", "due_at"),
        True,
    ),
    "closed_at": (("办结时间", "办结日期", "完成时间", "处理完成时间", "closed_at"), False),
    "satisfaction": (("满意度", "回访满意度", "满意度评价", "评价结果", "satisfaction"), False),
    "project_code": (("项目编号", "project_code"), False),
}
_LOOKUP = {normal(name): key for key, (names, _required) in HEADERS.items() for name in names}
_MAX_TEXT = 4000
_TIME = re.compile(r"^(.*?)[ T]+(\d{1,2})[:：](\d{1,2})(?:[:：](\d{1,2}))?$")
_CN_TIME = re.compile(r"^(.*?日)\s*(\d{1,2})\s*[时点:：]\s*(\d{1,2})\s*分?(?:\s*(\d{1,2})\s*秒)?$")
_DAYS = re.compile(r"^(\d{1,3})\s*(个工作日|天|日)$")


@dataclass(frozen=True)
class WorkOrder:
    """One checked row of the export."""

    row: int
    order_no: str
    received_at: dt.datetime
    content: str
    place: str | None
    due_at: dt.datetime
    closed_at: dt.datetime | None
    satisfaction: str | None
    project_code: str | None


def read_export(
    path: Path,
    problems: Problems,
    tz: ZoneInfo,
    today: dt.date,
    workdays_after: Any = None,
    limits: LimitsSettings | None = None,
) -> list[WorkOrder]:
    """Read and check every row of an export; problems are recorded with their places, good rows returned.

    ``workdays_after(day, n)`` gives the n-th working day after a day, for 办理时限 written as
    "5个工作日" (the holiday calendar); without it such a value is refused. ``limits`` bound what
    the file may make duban read (engine/ledger/guard.py).
    """
    name = path.name
    if not path.is_file():
        problems.add(str(path), None, None, None, "文件不存在")
        return []
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm", ".xls"):
        rows, where = _workbook_rows(path, problems, limits)
        lettered = True
    elif suffix == ".csv":
        rows, where, lettered = _csv_rows(path, problems, limits), name, False
    else:
        problems.add(name, None, None, None, "不支持的文件类型（应为 12345 工单导出的 .xlsx 或 .csv）")
        return []
    if rows is None:
        return []
    return _check(where, rows, problems, tz, today, workdays_after, lettered)


def _workbook_rows(path: Path, problems: Problems, limits: LimitsSettings | None) -> tuple[list[list[Any]] | None, str]:
    workbook = open_workbook(path, problems, path.name, limits)  # checked against the limits, read in a child
    if workbook is None:
        return None, path.name
    for sheet in workbook.sheet_names:  # the first sheet with a work-order header
        try:
            rows = workbook.get_sheet_by_name(sheet).to_python(skip_empty_area=False)
        except SheetUnreadable as exc:
            problems.add(f"{path.name}[{sheet}]", None, None, None, f"无法读取工作表：{exc}")
            continue
        if _header_at(rows) is not None:
            return rows, f"{path.name}[{sheet}]"
    problems.add(path.name, None, None, None, f"没有找到工单表头（需要 {_required_names()} 等列）")
    return None, path.name


def _csv_rows(path: Path, problems: Problems, limits: LimitsSettings | None) -> list[list[Any]] | None:
    if not csv_fits(path, problems, path.name, limits):
        return None
    data = path.read_bytes()
    if looks_utf16(data):
        problems.add(path.name, None, None, None, "文件是 UTF-16 编码：请另存为 UTF-8 或 GBK 编码的 CSV 后再导入")
        return None
    for encoding in ("utf-8-sig", "gb18030"):  # hotline systems export GBK as often as UTF-8
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        problems.add(path.name, None, None, None, f"无法识别的文件编码（应为 UTF-8 或 GBK）{encoding_hint(data)}")
        return None
    try:
        return list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        problems.add(path.name, None, None, None, f"CSV 格式错误：{exc}")
        return None


def _required_names() -> str:
    return "、".join(names[0] for names, required in HEADERS.values() if required)


def _header_at(rows: list[list[Any]]) -> int | None:
    """Return the index of the header row among the first rows (title rows may come before it).

    The header is the first row naming the work order and its deadline, else the first naming the
    work order and two other columns (its missing columns are then named, with this row).
    """
    near = None
    for index, row in enumerate(rows[:15]):
        keys = {_LOOKUP.get(normal(_text(v))) for v in row if _text(v)} - {None}
        if {"order_no", "due_at"} <= keys:
            return index
        if near is None and "order_no" in keys and len(keys) >= 3:
            near = index
    return near


def _text(value: Any) -> str:
    return cell_text(value) or ""


def _check(
    where: str,
    rows: list[list[Any]],
    problems: Problems,
    tz: ZoneInfo,
    today: dt.date,
    workdays_after: Any,
    lettered: bool,
) -> list[WorkOrder]:
    start = _header_at(rows)
    if start is None:
        problems.add(where, None, None, None, f"没有找到工单表头（需要 {_required_names()} 等列）")
        return []
    columns: dict[str, int] = {}
    for position, value in enumerate(rows[start]):
        key = _LOOKUP.get(normal(_text(value)))
        if key is not None and key not in columns:
            columns[key] = position
    for key, (names, required) in HEADERS.items():
        if required and key not in columns:
            problems.add(
                where,
                start + 1,
                names[0],
                None,
                f"第 {start + 1} 行的表头缺少此列（也可写作：{'、'.join(n for n in names[1:] if not n.isascii())}）",
            )
    if any(required and key not in columns for key, (_n, required) in HEADERS.items()):
        return []
    out: list[WorkOrder] = []
    first_row: dict[str, int] = {}
    for number, raw in enumerate(rows[start + 1 :], start=start + 2):
        cells = {key: raw[position] if position < len(raw) else None for key, position in columns.items()}
        if not any(_text(v) for v in cells.values()):
            continue  # a blank line

        def bad(key: str, value: Any, reason: str, number: int = number) -> None:
            position = columns[key]  # the column's header as the export wrote it, and its letter in a workbook
            problems.add(
                where,
                number,
                _text(rows[start][position]),
                _text(value) or None,
                reason,
                letter(position) if lettered else None,
            )

        texts = {
            key: _text(cells.get(key))
            for key in ("order_no", "content", "place", "community", "satisfaction", "project_code")
        }
        for key in ("order_no", "content"):
            if not texts[key]:
                bad(key, None, "必填项为空")
        for key, value in texts.items():
            if len(value) > _MAX_TEXT:
                bad(key, value, f"内容过长（{len(value)} 字符，最多 {_MAX_TEXT}）")
        received = _moment(cells.get("received_at"), tz, end_of_day=False, key="received_at", bad=bad)
        due = _deadline(cells.get("due_at"), received, tz, workdays_after, bad)
        closed = None
        if _text(cells.get("closed_at")):
            closed = _moment(cells.get("closed_at"), tz, end_of_day=False, key="closed_at", bad=bad)
        if received is not None and closed is not None and closed < received:
            bad("closed_at", cells.get("closed_at"), "办结时间早于受理时间")
        for key, moment in (("received_at", received), ("closed_at", closed)):
            if moment is not None and moment.astimezone(tz).date() > today:
                bad(key, cells.get(key), f"晚于今天（{today.isoformat()}）")
        order_no = texts["order_no"]
        if order_no:
            if order_no in first_row:
                bad("order_no", order_no, f"工单编号重复（第 {first_row[order_no]} 行已有）")
                continue
            first_row[order_no] = number
        if order_no and texts["content"] and received is not None and due is not None:
            place = "　".join(t for t in (texts["community"], texts["place"]) if t) or None
            out.append(
                WorkOrder(
                    number,
                    order_no,
                    received,
                    texts["content"],
                    place,
                    due,
                    closed,
                    texts["satisfaction"] or None,
                    texts["project_code"] or None,
                )
            )
    return out


def _moment(value: Any, tz: ZoneInfo, end_of_day: bool, key: str, bad: Any) -> dt.datetime | None:
    """A date or date-and-time cell as an aware time in the office's zone (a bare date: its start or end)."""
    if value is None or _text(value) == "":
        bad(key, None, "必填项为空")
        return None
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=tz) if value.tzinfo is None else value
    text = _text(value).translate(str.maketrans("０１２３４５６７８９：", "0123456789:"))
    clock: dt.time | None = None
    for pattern in (_TIME, _CN_TIME):
        match = pattern.match(text)
        if match:
            hour, minute, second = (int(part or 0) for part in match.groups()[1:])
            try:
                clock = dt.time(hour, minute, second)
            except ValueError:
                bad(key, value, "时间不存在")
                return None
            text = match.group(1).strip()
            break
    try:
        day = parse_date(text if isinstance(value, str) else value)
    except ValueError as exc:
        bad(key, value, str(exc).replace("日期格式", "日期时间格式"))
        return None
    if clock is None:
        clock = dt.time(23, 59, 59) if end_of_day else dt.time(0)
    return dt.datetime.combine(day, clock, tzinfo=tz)


def _deadline(
    value: Any, received: dt.datetime | None, tz: ZoneInfo, workdays_after: Any, bad: Any
) -> dt.datetime | None:
    """办理时限: a date (its end), a date and time, or a number of days / working days after intake."""
    match = _DAYS.match(_text(value))
    if match is None:
        return _moment(value, tz, end_of_day=True, key="due_at", bad=bad)
    if received is None:
        return None
    count, unit = int(match.group(1)), match.group(2)
    start = received.astimezone(tz).date()
    if unit == "个工作日":
        if workdays_after is None:
            bad("due_at", value, "无法按工作日计算办理时限（缺少节假日表）")
            return None
        try:
            day = workdays_after(start, count)
        except Exception as exc:  # the year's holiday table is missing: said in Chinese by the calendar
            bad("due_at", value, str(exc))
            return None
    else:
        day = start + dt.timedelta(days=count)
    return dt.datetime.combine(day, dt.time(23, 59, 59), tzinfo=tz)
