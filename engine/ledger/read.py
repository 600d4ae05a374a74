"""Reading a ledger (工作台账): a workbook or a folder of CSV files into raw tables, with every problem's place.

Nothing is validated here but the shape: which tables, which header, which columns. The header
is found among the first rows (a title and a 填报 line may sit above it, see header.py); in a
workbook, merged cells give their value to every cell they cover. Tables are streamed (the nodes
of a national ledger are read once, never held whole); a plain table — header on the first row,
no merged cells — takes the same per-row path as ever.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from config.limits import LimitsSettings
from engine.errors import Problem
from engine.ledger.guard import csv_fits, open_workbook
from engine.ledger.header import (
    COMBINED,
    SCAN_ROWS,
    TABLES,
    Column,
    Slot,
    columns_of,
    find_header,
    ledger_year,
    letter,
    settle,
)

__all__ = ["COMBINED", "TABLES", "Column", "GatheredRow", "Ledger", "Problems", "Row", "Table", "read_ledger"]


@dataclass
class Row:
    """One data row of a table with its spreadsheet row number."""

    number: int
    values: dict[str, Any]
    extra: dict[str, Any]


@dataclass
class GatheredRow(Row):
    """A project gathered from several rows of a combined sheet: where each value was written.

    ``at`` maps a key to the table, row number and key of the cell it came from.
    """

    at: dict[str, tuple[Table, int, str]] = field(default_factory=dict)


@dataclass
class Table:
    """A table as read from a sheet or CSV file.

    ``rows`` is consumed once: the nodes table of a national ledger (millions of rows) is read,
    checked and written as a stream, never held in memory whole. ``places`` gives a workbook
    column's letter and header as the sheet shows them; ``year`` is the year of dates written
    without one (「7月31日」).
    """

    name: str
    source: str
    rows: Iterable[Row]
    places: dict[str, tuple[str | None, str]] = field(default_factory=dict)
    year: int | None = None

    def place(self, key: str) -> tuple[str | None, str]:
        """Return the column letter (workbooks only) and the header of a key, as problems name them."""
        return self.places.get(key) or (None, label(self.name, key))


@dataclass
class Ledger:
    """What a workbook or folder holds: the tables named 人员/项目/节点, and the combined sheets."""

    tables: dict[str, Table] = field(default_factory=dict)
    combined: list[Table] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what was read around, said to the user (hidden sheets)


def label(kind: str, key: str) -> str:
    """Return the Chinese header of a key of a table kind."""
    for column in columns_of(kind):
        if column.key == key:
            return column.chinese
    return key


@dataclass
class Problems:
    """Every problem found in a ledger, one line each: the first ``limit`` kept, the rest counted in ``omitted``."""

    lines: list[str] = field(default_factory=list)
    items: list[Problem] = field(default_factory=list)
    limit: int = LimitsSettings().max_problems
    omitted: int = 0

    def add(
        self,
        table: Table | str,
        row: int | None,
        column: str | None,
        value: Any,
        reason: str,
        letter: str | None = None,
    ) -> None:
        """Record one problem with its place."""
        if len(self.lines) >= self.limit:  # a broken national ledger has millions: count them, keep none
            self.omitted += 1
            return
        where = table.source if isinstance(table, Table) else table
        parts = [where]
        if row is not None:
            parts.append(f"第 {row} 行")
        if column is not None:
            parts.append(f"{letter} 列「{column}」" if letter else f"列「{column}」")
        shown = None
        if value is not None:
            shown = str(value).replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\\n")  # one line per problem
            shown = f"{shown[:60]}{'…' if len(shown) > 60 else ''}"
            parts.append(f"值「{shown}」")
        self.lines.append(f"{'，'.join(parts)}：{reason}")
        self.items.append(Problem(where, row, column, shown, reason, letter))

    def cell(self, table: Table, row: Row, key: str, value: Any, reason: str) -> None:
        """Record a problem of one cell: the row's key, named by its sheet, row, column letter and header."""
        number = row.number
        if isinstance(row, GatheredRow) and key in row.at:
            table, number, key = row.at[key]
        column_letter, header = table.place(key)
        self.add(table, number, header, value, reason, column_letter)


def _table_key(name: str) -> str | None:
    cleaned = name.strip().lower()
    for key, (chinese, _columns) in TABLES.items():
        if cleaned in (key, chinese):
            return key
    return None


def read_ledger(
    path: Path,
    problems: Problems,
    name: str | None = None,
    year: int | None = None,
    limits: LimitsSettings | None = None,
) -> Ledger:
    """Read a workbook or a folder of CSV files into raw tables (no validation of values yet).

    ``name`` is what problems call the file (an upload is saved under another name); ``year`` is
    the year of dates without one when the sheet's title and 填报日期 do not say it; ``limits`` bound
    what the files may make duban read (guard.py).
    """
    if path.is_dir():
        return _read_csv_folder(path, problems, year, limits)
    if not path.exists():
        problems.add(str(path), None, None, None, "文件或文件夹不存在")
        return Ledger()
    if path.suffix.lower() in (".xlsx", ".xlsm", ".xls", ".ods"):
        return _read_workbook(path, problems, name or path.name, year, limits)
    if path.suffix.lower() == ".csv":
        problems.add(
            str(path), None, None, None, "请导入包含 persons.csv、projects.csv、nodes.csv 的文件夹，或 .xlsx 工作簿"
        )
        return Ledger()
    problems.add(str(path), None, None, None, "不支持的文件类型（应为 .xlsx 工作簿或 CSV 文件夹）")
    return Ledger()


def _read_workbook(
    path: Path, problems: Problems, name: str, year: int | None, limits: LimitsSettings | None
) -> Ledger:
    from engine.ledger.workbook_facts import NotAWorkbook, WorkbookFacts, not_a_zip, row_and_column, workbook_facts

    zipped = path.suffix.lower() in (".xlsx", ".xlsm")
    if zipped and (why := not_a_zip(path)) is not None:
        problems.add(name, None, None, None, why)
        return Ledger()
    workbook = open_workbook(path, problems, name, limits)  # checked against the limits, read by calamine in a child
    if workbook is None:
        return Ledger()
    facts = WorkbookFacts()
    if zipped:  # after the limits: its XML is read only once the archive's sizes are known to be sane
        try:
            facts = workbook_facts(path)
        except NotAWorkbook as exc:
            problems.add(name, None, None, None, str(exc))
            return Ledger()
    ledger = Ledger()
    near: list[str] = []
    for sheet_name in workbook.sheet_names:
        key = _table_key(sheet_name)
        where = f"{name}[{sheet_name}]"
        if sheet_name in facts.hidden:
            ledger.notes.append(f"已忽略隐藏的工作表「{sheet_name}」（如需导入，请在 Excel/WPS 中取消隐藏）")
            continue
        for reference in facts.uncached.get(sheet_name, []):
            row, column = row_and_column(reference)
            problems.add(
                where,
                row,
                None,
                None,
                f"{reference} 单元格的公式没有保存计算结果：请在 Excel/WPS 中打开并保存后再导入",
                column,
            )
        if key in ledger.tables:
            problems.add(where, None, None, None, f"重复的表 {key}")
            continue
        try:
            sheet = workbook.get_sheet_by_name(sheet_name)
            rows = sheet.to_python(skip_empty_area=False)
        except Exception as exc:
            problems.add(where, None, None, None, f"无法读取工作表：{exc}")
            continue
        carried = _carry(rows, _merged_ranges(sheet))
        if key is not None:
            table = _to_table(key, where, rows, problems, lettered=True, carried=carried, year=year)
            assert table is not None
            ledger.tables[key] = table
            continue
        # Any other sheet is a combined ledger if its header says so (a 问责记录 sheet, say, does not).
        table = _to_table(COMBINED, where, rows, problems, lettered=True, carried=carried, year=year, near=near)
        if table is not None:
            if "district" not in table.places and DISTRICT_SHEET.fullmatch(sheet_name.strip()):
                table.rows = _in_district(table.rows, sheet_name.strip())
                ledger.notes.append(
                    f"工作表「{sheet_name}」没有「片区」列：其中的项目按工作表名记为「{sheet_name.strip()}」"
                )
            ledger.combined.append(table)
    if not ledger.tables and not ledger.combined:
        hint = f"（{'；'.join(near)}）" if near else ""
        problems.add(
            name,
            None,
            None,
            None,
            "工作簿中没有 人员/项目/节点（persons/projects/nodes）工作表，"
            f"也没有表头含 项目编号、项目名称、节点名称、计划完成日期 的工作台账表{hint}",
        )
    return ledger


#: A sheet named for a district (滨河片区, 离石区, 交城县, 城关镇, 凤山街道 …): one district's ledger.
DISTRICT_SHEET = re.compile(r"[^\W\d_a-zA-Z]{1,10}(?:片区|区|县|市|镇|乡|街道|办事处)")


def _in_district(rows: Iterable[Row], district: str) -> Iterator[Row]:
    """The rows of a per-district sheet without a 片区 column, each in the sheet's district."""
    for row in rows:
        if row.values.get("district") is None:
            row.values["district"] = district
        yield row


def _merged_ranges(sheet: Any) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    try:
        return list(sheet.merged_cell_ranges or ())
    except Exception:  # a format calamine reads no merged cells of
        return []


def _carry(grid: list[list[Any]], merges: Sequence[tuple[tuple[int, int], tuple[int, int]]]) -> dict[int, set[int]]:
    """Give every cell of a merged range its top-left cell's value; return the cells so filled, by row index.

    Only merged cells are filled: an empty cell that is not merged stays empty (an empty 实际完成日期
    means "not completed", never "as the row above").
    """
    filled: dict[int, set[int]] = {}
    for (top, left), (bottom, right) in merges:
        if top >= len(grid) or left >= len(grid[top]) or _cell(grid[top][left]) is None:
            continue
        value = grid[top][left]
        for index in range(top, min(bottom, len(grid) - 1) + 1):
            row = grid[index]
            if len(row) <= right:
                row.extend([""] * (right + 1 - len(row)))
            for position in range(left, right + 1):
                if index != top or position != left:
                    row[position] = value
                    filled.setdefault(index, set()).add(position)
    return filled


def _read_csv_folder(folder: Path, problems: Problems, year: int | None, limits: LimitsSettings | None) -> Ledger:
    ledger = Ledger()
    # A file in another encoding is said once, and nothing is read: its tables missing would only
    # add false problems (「人员表中没有此人」) after the true one.
    tables = [file for file in sorted(folder.iterdir()) if file.suffix.lower() == ".csv" and _table_key(file.stem)]
    if not all([csv_fits(file, problems, file.name, limits) for file in tables]):
        return ledger  # beyond a limit: said, and nothing of it read
    unreadable = [(file, why) for file in tables if (why := _encoding_problem(file)) is not None]
    for file, why in unreadable:
        problems.add(file.name, None, None, None, why)
    if unreadable:
        return ledger
    for file in sorted(folder.iterdir()):
        if file.suffix.lower() != ".csv":
            continue
        key = _table_key(file.stem)
        if key is None:
            continue
        if key in ledger.tables:
            problems.add(file.name, None, None, None, f"重复的表 {key}")
            continue
        table = _to_table(key, file.name, _csv_rows(file, problems, limits), problems, lettered=False, year=year)
        assert table is not None
        ledger.tables[key] = table
    if not ledger.tables:
        problems.add(
            str(folder),
            None,
            None,
            None,
            "文件夹中没有 persons.csv / projects.csv / nodes.csv（或 人员/项目/节点.csv）",
        )
    return ledger


def _csv_rows(file: Path, problems: Problems, limits: LimitsSettings | None = None) -> Iterator[list[Any]]:
    """Stream the rows of a UTF-8 CSV file; a problem (beyond a limit, encoding, NUL, CSV syntax) ends the file.

    A file in another encoding is one problem that says which (UTF-16, GBK), and nothing else of
    the folder is read (``_read_csv_folder``): no second problem follows from the first.
    """
    if not csv_fits(file, problems, file.name, limits):
        return
    try:
        with file.open(encoding="utf-8-sig", newline="") as handle:
            yield from csv.reader(handle)
    except UnicodeDecodeError as exc:
        problems.add(
            file.name,
            None,
            None,
            None,
            f"不是 UTF-8 编码，第 {exc.start} 字节附近无法解码{encoding_hint(file.read_bytes())}",
        )
    except csv.Error as exc:
        problems.add(file.name, None, None, None, f"CSV 格式错误：{exc}")


def _encoding_problem(file: Path) -> str | None:
    """Why a CSV file is not UTF-8 text (which encoding it seems to be in), or None; read in chunks."""
    import codecs

    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    with file.open("rb") as handle:
        head = handle.read(4096)
        if looks_utf16(head):
            return "是 UTF-16 编码（Excel 的「Unicode 文本」）：请另存为「CSV UTF-8（逗号分隔）」后再导入"
        chunk = head
        while chunk:
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                handle.seek(0)
                return f"不是 UTF-8 编码，第 {offset + exc.start} 字节附近无法解码{encoding_hint(handle.read())}"
            offset += len(chunk)
            chunk = handle.read(1 << 20)
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return "不是 UTF-8 编码：文件末尾不完整"
    return None


def looks_utf16(data: bytes) -> bool:
    """Whether bytes look like UTF-16 text: a byte-order mark, or a zero in every other byte of the start."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return True
    sample = data[:200]
    return len(sample) >= 8 and (sample[1::2].count(0) > len(sample) // 4 or sample[0::2].count(0) > len(sample) // 4)


def encoding_hint(data: bytes) -> str:
    """Say which encoding undecodable bytes seem to be in."""
    if looks_utf16(data):
        return "（看起来是 UTF-16 编码，请另存为 UTF-8）"
    try:
        data.decode("gb18030")
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


def _blank(row: Sequence[Any]) -> bool:
    return all(_cell(v) is None for v in row)


def _to_table(
    kind: str,
    source: str,
    rows: Iterable[list[Any]],
    problems: Problems,
    *,
    lettered: bool,
    carried: dict[int, set[int]] | None = None,
    year: int | None = None,
    near: list[str] | None = None,
) -> Table | None:
    """Find the header now (its problems are known at once); the data rows follow lazily.

    With ``near`` the sheet is only a candidate (a combined ledger): it is a table only if its
    header has every required column, else None, and a header that came close is noted in ``near``.
    """
    stream = iter(rows)
    skipped = 0  # blank rows above everything: not scanned, but counted (row numbers are Excel's)
    head: list[list[Any]] = []
    for raw in stream:
        if head or not _blank(raw):
            head.append(raw)
            if len(head) > SCAN_ROWS:  # one more than scanned: a pair header's second row
                break
        else:
            skipped += 1
    header = find_header(head, kind)
    columns = columns_of(kind)
    required = [c for c in columns if c.required]
    if near is not None:
        keys = header.keys if header is not None else set()
        missing_keys = [c for c in required if c.key not in keys]
        if header is None or missing_keys:
            if header is not None and len(keys) >= 3 and len(missing_keys) == 1:
                near.append(f"「{source}」第 {skipped + header.index + 1} 行的表头缺少「{missing_keys[0].chinese}」")
            return None
    if header is None:
        problems.add(source, None, None, None, "表是空的（没有表头）")
        return Table(kind, source, [])
    header_number = skipped + header.index + 1
    header, repeated = settle(header)
    for twice in repeated:
        problems.add(source, header_number, twice.text, None, "表头重复", letter(twice.position) if lettered else None)
    places: dict[str, tuple[str | None, str]] = {}
    for slot in header.slots:
        if slot is not None and slot.key is not None:
            # A CSV problem names the column by its Chinese header, as it always has.
            places[slot.key] = (
                letter(slot.position) if lettered else None,
                slot.text if lettered else label(kind, slot.key),
            )
    for column in required:
        if column.key not in places:
            name = column.chinese if kind == COMBINED else f"{column.chinese}/{column.key}"
            problems.add(source, header_number, name, None, "缺少必填列")
    first = header.index + header.height
    rest: Iterable[list[Any]] = head[first:]
    if carried:
        ignored = {s.position for s in header.slots if s is not None and s.ignored}
        rest, stream = (
            _uncarried(rest, skipped + first, carried, ignored),
            _uncarried(stream, skipped + len(head), carried, ignored),
        )
    year = ledger_year(head[: header.index]) or year
    return Table(kind, source, _data_rows(rest, stream, header.slots, skipped + first + 1, not lettered), places, year)


def _uncarried(
    rows: Iterable[list[Any]], first: int, carried: dict[int, set[int]], ignored: set[int]
) -> Iterator[list[Any]]:
    """Blank out rows whose only values came from merged cells above them (a project's spare rows)."""
    for index, raw in enumerate(rows, start=first):
        filled = carried.get(index)
        if filled and all(p in filled or p in ignored or _cell(v) is None for p, v in enumerate(raw)):
            yield []
        else:
            yield raw


#: A table's footer or subtotal line (合计, 填报人：…, 注：…) begins with one of these in its first cell.
_FOOTER = re.compile(r"^(?:合计|总计|小计)$|^(?:填报人|填表人|审核人|制表人|单位负责人|分管领导|注|说明|备注)\s*[：:]")
_FOOTER_FIRST = frozenset("合总小填审制单分注说备")


def _footer(raw_row: Sequence[Any], slots: Sequence[Slot | None]) -> bool:
    """Return whether a row is a footer or a subtotal line: its first filled cell (序号 aside) says so."""
    for position, raw in enumerate(raw_row):
        slot = slots[position] if position < len(slots) else None
        if raw is None or raw == "" or (slot is not None and slot.ignored):
            continue
        text = str(raw).strip()
        return bool(text) and text[0] in _FOOTER_FIRST and _FOOTER.match(text) is not None
    return False


def _data_rows(
    head: Iterable[list[Any]], stream: Iterable[list[Any]], slots: Sequence[Slot | None], first: int, text_only: bool
) -> Iterator[Row]:
    """Yield the data rows: the rows read with the header, then the rest of the stream."""
    width = len(slots)
    # The common shape, a full row of text cells under known columns only, takes a short path.
    known = [(s.position, s.key) for s in slots if s is not None and s.key is not None]
    simple = len(known) == width
    number = first - 1
    for part in (head, stream):
        for raw_row in part:
            number += 1
            if simple and len(raw_row) == width and (text_only or all(type(v) is str for v in raw_row)):
                values = {name: raw_row[position].strip() or None for position, name in known}
                if any(values.values()) and not (raw_row[0][:1] in _FOOTER_FIRST and _footer(raw_row, slots)):
                    yield Row(number, values, {})
                continue
            if _footer(raw_row, slots):
                continue  # 合计, 填报人：…, 注：… under the table
            values = {}
            extra: dict[str, Any] = {}
            for position, raw in enumerate(raw_row):
                value = _cell(raw)
                slot = slots[position] if position < width else None
                if slot is None:
                    if value is not None:
                        extra[f"列{position + 1}"] = plain(value)
                    continue
                if slot.ignored:
                    continue  # 序号: a row number, not data
                if slot.key is not None:
                    values[slot.key] = value
                elif value is not None:
                    extra[slot.text] = plain(value)
            if not any(v is not None for v in values.values()) and not extra:
                continue  # blank line
            yield Row(number, values, extra)


def plain(value: Any) -> Any:
    """Return a cell's value as JSON can hold it (dates as ISO text)."""
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):  # a duration cell: kept as written ("1 day, 2:00:00")
        return str(value)
    return value
