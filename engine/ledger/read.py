"""Reading a ledger (工作台账): a workbook or a folder of CSV files into raw tables, with every problem's place.

Nothing is validated here but the shape: which tables, which header, which columns. Tables are
streamed (the nodes of a national ledger are read once, never held whole).
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.errors import Problem


@dataclass(frozen=True)
class Column:
    """One column of a ledger table: its key, English and Chinese headers, and whether required."""

    key: str
    chinese: str
    required: bool = False


TABLES: dict[str, tuple[str, tuple[Column, ...]]] = {
    "persons": ("人员", (
        Column("person_id", "人员编号", True), Column("name", "姓名", True), Column("unit", "单位"),
        Column("phone", "电话"), Column("email", "邮箱"))),
    "projects": ("项目", (
        Column("project_code", "项目编号", True), Column("name", "项目名称", True), Column("district", "片区"),
        Column("phase", "期次"), Column("batch", "批次"), Column("status", "状态"),
        Column("responsible_person_id", "负责人编号"), Column("contractor", "施工单位"),
        Column("households", "户数"))),
    "nodes": ("节点", (
        Column("project_code", "项目编号", True), Column("node_code", "节点编号", True),
        Column("name", "节点名称", True), Column("planned_date", "计划完成日期", True),
        Column("completed_on", "实际完成日期"))),
}


@dataclass
class Row:
    """One data row of a table with its spreadsheet row number."""

    number: int
    values: dict[str, Any]
    extra: dict[str, Any]


@dataclass
class Table:
    """A table as read from a sheet or CSV file.

    ``rows`` is consumed once: the nodes table of a national ledger (millions of rows) is read,
    checked and written as a stream, never held in memory whole.
    """

    name: str
    source: str
    rows: Iterable[Row]


@dataclass
class Problems:
    """Every problem found in a ledger, one line each."""

    lines: list[str] = field(default_factory=list)
    items: list[Problem] = field(default_factory=list)

    def add(self, table: Table | str, row: int | None, column: str | None, value: Any, reason: str) -> None:
        """Record one problem with its place."""
        where = table.source if isinstance(table, Table) else table
        parts = [where]
        if row is not None:
            parts.append(f"第 {row} 行")
        if column is not None:
            parts.append(f"列「{column}」")
        shown = None
        if value is not None:
            shown = str(value)
            shown = f"{shown[:60]}{'…' if len(shown) > 60 else ''}"
            parts.append(f"值「{shown}」")
        self.lines.append(f"{'，'.join(parts)}：{reason}")
        self.items.append(Problem(where, row, column, shown, reason))


def _table_key(name: str) -> str | None:
    cleaned = name.strip().lower()
    for key, (chinese, _columns) in TABLES.items():
        if cleaned in (key, chinese):
            return key
    return None


def read_ledger(path: Path, problems: Problems, name: str | None = None) -> dict[str, Table]:
    """Read a workbook or a folder of CSV files into raw tables (no validation of values yet).

    ``name`` is what problems call the file (an upload is saved under another name).
    """
    if path.is_dir():
        return _read_csv_folder(path, problems)
    if not path.exists():
        problems.add(str(path), None, None, None, "文件或文件夹不存在")
        return {}
    if path.suffix.lower() in (".xlsx", ".xlsm", ".xls", ".ods"):
        return _read_workbook(path, problems, name or path.name)
    if path.suffix.lower() == ".csv":
        problems.add(str(path), None, None, None, "请导入包含 persons.csv、projects.csv、nodes.csv 的文件夹，或 .xlsx 工作簿")
        return {}
    problems.add(str(path), None, None, None, "不支持的文件类型（应为 .xlsx 工作簿或 CSV 文件夹）")
    return {}


def _read_workbook(path: Path, problems: Problems, name: str) -> dict[str, Table]:
    from python_calamine import CalamineWorkbook

    try:
        workbook = CalamineWorkbook.from_path(str(path))
    except Exception as exc:  # calamine raises several error types for unreadable files
        problems.add(name, None, None, None, f"无法读取工作簿：{exc}")
        return {}
    tables: dict[str, Table] = {}
    for sheet_name in workbook.sheet_names:
        key = _table_key(sheet_name)
        if key is None:
            continue
        if key in tables:
            problems.add(f"{name}[{sheet_name}]", None, None, None, f"重复的表 {key}")
            continue
        try:
            rows = workbook.get_sheet_by_name(sheet_name).to_python(skip_empty_area=False)
        except Exception as exc:
            problems.add(f"{name}[{sheet_name}]", None, None, None, f"无法读取工作表：{exc}")
            continue
        tables[key] = _to_table(key, f"{name}[{sheet_name}]", rows, problems)
    if not tables:
        problems.add(name, None, None, None, "工作簿中没有 人员/项目/节点（persons/projects/nodes）工作表")
    return tables


def _read_csv_folder(folder: Path, problems: Problems) -> dict[str, Table]:
    tables: dict[str, Table] = {}
    for file in sorted(folder.iterdir()):
        if file.suffix.lower() != ".csv":
            continue
        key = _table_key(file.stem)
        if key is None:
            continue
        if key in tables:
            problems.add(file.name, None, None, None, f"重复的表 {key}")
            continue
        tables[key] = _to_table(key, file.name, _csv_rows(file, problems), problems, text_only=True)
    if not tables:
        problems.add(str(folder), None, None, None, "文件夹中没有 persons.csv / projects.csv / nodes.csv（或 人员/项目/节点.csv）")
    return tables


def _csv_rows(file: Path, problems: Problems) -> Iterator[list[Any]]:
    """Stream the rows of a UTF-8 CSV file; a problem (encoding, NUL, CSV syntax) ends the file."""
    try:
        with file.open(encoding="utf-8-sig", newline="") as handle:
            yield from csv.reader(handle)
    except UnicodeDecodeError as exc:
        problems.add(file.name, None, None, None, f"不是 UTF-8 编码，第 {exc.start} 字节附近无法解码{_gbk_hint(file)}")
    except csv.Error as exc:
        problems.add(file.name, None, None, None, f"CSV 格式错误：{exc}")


def _gbk_hint(file: Path) -> str:
    try:
        file.read_bytes().decode("gb18030")
    except UnicodeDecodeError:
        return ""
    return "（看起来是 GBK/GB18030 编码，请另存为 UTF-8）"


def _cell(value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip()
        return value or None
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def _to_table(key: str, source: str, rows: Iterable[list[Any]], problems: Problems, text_only: bool = False) -> Table:
    """Read the header now (its problems are known at once); the data rows follow lazily."""
    stream = iter(rows)
    header_row: list[Any] | None = None
    header_number = 0
    for header_number, raw in enumerate(stream, start=1):  # noqa: B007  (the number is used below)
        if any(_cell(v) is not None for v in raw):
            header_row = raw
            break
    if header_row is None:
        problems.add(source, None, None, None, "表是空的（没有表头）")
        return Table(key, source, [])
    _chinese, columns = TABLES[key]
    lookup = {}
    for column in columns:
        lookup[column.key.lower()] = column.key
        lookup[column.chinese.lower()] = column.key
    header: list[tuple[str, bool] | None] = []
    seen: dict[str, int] = {}
    for position, raw_name in enumerate(header_row):
        name = _cell(raw_name)
        if name is None:
            header.append(None)
            continue
        text = str(name)
        known = lookup.get(text.lower())
        target = known or text
        if target in seen:
            problems.add(source, header_number, text, None, "表头重复")
        seen[target] = position
        header.append((target, known is not None))
    missing = [c for c in columns if c.required and c.key not in seen]
    for column in missing:
        problems.add(source, header_number, f"{column.chinese}/{column.key}", None, "缺少必填列")
    return Table(key, source, _data_rows(stream, header, header_number + 1, text_only))


def _data_rows(stream: Iterator[list[Any]], header: list[tuple[str, bool] | None], first: int,
               text_only: bool) -> Iterator[Row]:
    width = len(header)
    # The common shape, a full row of text cells under known columns only, takes a short path.
    known = [(position, column[0]) for position, column in enumerate(header) if column is not None and column[1]]
    simple = len(known) == width
    for number, raw_row in enumerate(stream, start=first):
        if simple and len(raw_row) == width and (text_only or all(type(v) is str for v in raw_row)):
            values = {name: raw_row[position].strip() or None for position, name in known}
            if any(values.values()):
                yield Row(number, values, {})
            continue
        values = {}
        extra: dict[str, Any] = {}
        for position, raw in enumerate(raw_row):
            value = _cell(raw)
            column = header[position] if position < width else None
            if column is None:
                if value is not None:
                    extra[f"列{position + 1}"] = plain(value)
                continue
            column_name, is_known = column
            if is_known:
                values[column_name] = value
            elif value is not None:
                extra[column_name] = plain(value)
        if not any(v is not None for v in values.values()) and not extra:
            continue  # blank line
        yield Row(number, values, extra)


def plain(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):  # a duration cell: kept as written ("1 day, 2:00:00")
        return str(value)
    return value

