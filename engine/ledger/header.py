"""The ledger's columns and how offices head them: the known names, their aliases, and finding the header row.

A real 工作台账 has a title, a 填报单位/填报日期 line and the header on row 2–4, sometimes in two
rows with merged cells (「节点」 over 「名称 | 计划完成日期 | 实际完成日期」). The header is the
row, or pair of rows, whose cells best match the known names of a table kind.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Column:
    """One column of a ledger table: its key, English and Chinese headers, and whether required."""

    key: str
    chinese: str
    required: bool = False


TABLES: dict[str, tuple[str, tuple[Column, ...]]] = {
    "persons": (
        "人员",
        (
            Column("person_id", "人员编号", True),
            Column("name", "姓名", True),
            Column("unit", "单位"),
            Column("phone", "电话"),
            Column("email", "邮箱"),
            Column("wecom_id", "企业微信账号"),
            Column("dingtalk_id", "钉钉账号"),
        ),
    ),
    "projects": (
        "项目",
        (
            Column("project_code", "项目编号", True),
            Column("name", "项目名称", True),
            Column("district", "片区"),
            Column("phase", "期次"),
            Column("batch", "批次"),
            Column("status", "状态"),
            Column("responsible_person_id", "负责人编号"),
            Column("contractor", "施工单位"),
            Column("households", "户数"),
        ),
    ),
    "nodes": (
        "节点",
        (
            Column("project_code", "项目编号", True),
            Column("node_code", "节点编号", True),
            Column("name", "节点名称", True),
            Column("planned_date", "计划完成日期", True),
            Column("completed_on", "实际完成日期"),
            Column("adjusted_planned_date", "调整后计划完成日期"),
        ),
    ),
}

#: The kind of a sheet holding projects and nodes together, one node per row (any sheet name).
COMBINED = "ledger"
#: Its columns: a project's columns repeat on every row of its nodes (often as merged cells).
COMBINED_COLUMNS: tuple[Column, ...] = (
    Column("project_code", "项目编号", True),
    Column("project_name", "项目名称", True),
    Column("person_name", "负责人"),
    Column("responsible_person_id", "负责人编号"),
    Column("node_code", "节点编号"),
    Column("node_name", "节点名称", True),
    Column("planned_date", "计划完成日期", True),
    Column("completed_on", "实际完成日期"),
    Column("adjusted_planned_date", "调整后计划完成日期"),
    Column("district", "片区"),
    Column("phase", "期次"),
    Column("batch", "批次"),
    Column("status", "状态"),
    Column("contractor", "施工单位"),
    Column("households", "户数"),
    Column("unit", "单位"),
    Column("phone", "电话"),
)

#: Other headers offices write for a column, by its Chinese name (the one table of aliases).
#: Matching ignores spaces, line breaks, case, full-width forms, a leading * and a note in brackets.
ALIASES: dict[str, tuple[str, ...]] = {
    "人员编号": ("人员代码",),
    "姓名": ("人员姓名",),
    "单位": ("所在单位", "工作单位", "负责人单位"),
    "电话": ("联系电话", "联系方式", "手机", "手机号", "手机号码", "负责人电话"),
    "邮箱": ("电子邮箱", "电子邮件", "e-mail"),
    "企业微信账号": ("企微账号", "企业微信ID", "企微ID", "企业微信UserID", "企业微信用户ID", "企业微信帐号"),
    "钉钉账号": ("钉钉ID", "钉钉UserID", "钉钉用户ID", "钉钉帐号"),
    "项目编号": ("项目代码",),
    "项目名称": ("项目", "小区名称", "小区", "改造项目", "改造项目名称"),
    "片区": ("所属片区", "区域", "县区", "县市区"),
    "期次": ("改造期次",),
    "批次": ("改造批次",),
    "状态": ("项目状态",),
    "负责人": ("负责人姓名", "项目负责人", "项目负责人姓名", "责任人", "项目责任人"),
    "负责人编号": ("责任人编号", "项目负责人编号"),
    "施工单位": ("承建单位", "施工企业"),
    "户数": ("改造户数", "涉及户数", "居民户数"),
    "节点编号": ("节点代码",),
    "节点名称": ("节点", "计划节点", "节点内容", "工作节点"),
    "计划完成日期": ("计划完成时间", "计划日期", "计划时间", "完成时限", "计划完成时限"),
    "实际完成日期": ("实际完成时间", "完成日期", "完成时间", "实际日期"),
    "调整后计划完成日期": (
        "调整后完成日期",
        "调整后计划日期",
        "调整后计划完成时间",
        "调整计划完成日期",
        "调整后日期",
        "变更后计划完成日期",
        "延期后计划完成日期",
    ),
}

#: Columns that are not data: 序号 is a row number.
IGNORED = frozenset({"序号"})

#: How many rows from the top may hold the title, the 填报 line and the header.
SCAN_ROWS = 20

_NOTE = re.compile(r"[(\[][^)\]]*[)\]]")  # "计划完成日期（年月日）", "户数(户)" — after NFKC the brackets are ASCII
_SPACE = re.compile(r"\s+")


def normal(text: str) -> str:
    """Return a header as it is matched: full-width folded, notes in brackets, spaces and * dropped, lower case."""
    text = unicodedata.normalize("NFKC", text)
    text = _NOTE.sub("", text)
    return _SPACE.sub("", text).lstrip("*").lower()


def columns_of(kind: str) -> tuple[Column, ...]:
    """Return the columns of a table kind."""
    return COMBINED_COLUMNS if kind == COMBINED else TABLES[kind][1]


def lookup_of(kind: str) -> dict[str, tuple[str, int]]:
    """Return every accepted header of a table kind, as matched, to its column's key and rank (0: the spec's name)."""
    found: dict[str, tuple[str, int]] = {}
    for column in columns_of(kind):
        names = (column.key, column.chinese, *ALIASES.get(column.chinese, ()))
        for rank, name in enumerate(names):
            found.setdefault(normal(name), (column.key, max(rank - 1, 0)))
    return found


def letter(position: int) -> str:
    """Return the Excel column letter of a 0-based position (0 → A, 26 → AA)."""
    name = ""
    position += 1
    while position:
        position, rest = divmod(position - 1, 26)
        name = chr(ord("A") + rest) + name
    return name


@dataclass(frozen=True)
class Slot:
    """One column of a found header: the key it matched (None: an unknown column, kept as an extra)."""

    key: str | None
    text: str
    position: int
    ignored: bool = False
    rank: int = 0  # 0: the spec's name; an alias ranks after it (「项目名称」 beside 「小区名称」 wins)


@dataclass(frozen=True)
class Header:
    """The header of a table: its first row (0-based index), how many rows it takes, its columns."""

    index: int
    height: int
    slots: tuple[Slot | None, ...]

    @property
    def keys(self) -> set[str]:
        """Return the keys the header matched."""
        return {s.key for s in self.slots if s is not None and s.key is not None}


def cell_text(value: Any) -> str | None:
    """Return a cell as trimmed text (a whole float without its ".0"), or None when it is empty."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None


def _candidates(upper: Any, lower: Any, pair: bool) -> list[str]:
    """Return the names a header cell may be read as, best first (upper+lower, lower, upper)."""
    top = cell_text(upper)
    if not pair:
        return [top] if top else []
    bottom = cell_text(lower)
    if bottom is None or bottom == top:  # a cell merged down over both rows, or a one-row header cell
        return [top] if top else []
    if top is None:
        return [bottom]
    return [top + bottom, bottom]  # 「节点」+「名称」 → 节点名称; 「节点」+「计划完成日期」 → 计划完成日期


def _read(rows: Sequence[Sequence[Any]], index: int, pair: bool, lookup: dict[str, tuple[str, int]]) -> Header:
    upper = rows[index]
    lower = rows[index + 1] if pair else ()
    slots: list[Slot | None] = []
    for position in range(max(len(upper), len(lower))):
        names = _candidates(
            upper[position] if position < len(upper) else None, lower[position] if position < len(lower) else None, pair
        )
        if not names:
            slots.append(None)
            continue
        slot = Slot(None, names[0], position)
        for name in names:
            matched = normal(name)
            if matched in IGNORED:
                slot = Slot(None, name, position, ignored=True)
                break
            if matched in lookup:
                key, rank = lookup[matched]
                slot = Slot(key, name, position, rank=rank)
                break
        slots.append(slot)
    return Header(index, 2 if pair else 1, tuple(slots))


def settle(header: Header) -> tuple[Header, list[Slot]]:
    """Return the header with one column per key, and the columns that repeat a key (a problem).

    Of several columns for one key the best-ranked keeps it and the others become unknown columns
    (kept as extras): an office ledger with both 项目名称 and 小区名称 is not refused for it. Two
    of the same rank are a repeated header.
    """
    best: dict[str, int] = {}
    for slot in header.slots:
        if slot is not None and slot.key is not None:
            best[slot.key] = min(best.get(slot.key, slot.rank), slot.rank)
    slots: list[Slot | None] = []
    repeated: list[Slot] = []
    holders: set[str] = set()
    for slot in header.slots:
        if slot is None or slot.key is None:
            slots.append(slot)
        elif slot.rank > best[slot.key]:
            slots.append(Slot(None, slot.text, slot.position))
        else:
            if slot.key in holders:
                repeated.append(slot)
            holders.add(slot.key)
            slots.append(slot)
    return Header(header.index, header.height, tuple(slots)), repeated


def _score(header: Header, required: set[str]) -> tuple[bool, int]:
    keys = header.keys
    return required <= keys, len(keys)


def _blank(row: Sequence[Any]) -> bool:
    return all(cell_text(v) is None for v in row)


def find_header(rows: Sequence[Sequence[Any]], kind: str) -> Header | None:
    """Return the header among the first rows: the row or pair of rows that best matches the kind's columns.

    A pair is taken only when it matches more than each of its rows alone: a data row under a
    one-row header adds nothing, nor does a title above it. A header with every required column
    wins at once; otherwise the best one, and when nothing matches at all, the first non-blank
    row (its missing columns are then reported).
    """
    lookup = lookup_of(kind)
    required = {c.key for c in columns_of(kind) if c.required}
    scanned = min(len(rows), SCAN_ROWS)
    singles = [_read(rows, index, False, lookup) for index in range(min(len(rows), scanned + 1))]
    scores = [_score(header, required) for header in singles]
    best: Header | None = None
    best_score = (False, 0)
    first: int | None = None
    for index in range(scanned):
        if _blank(rows[index]):
            continue
        if first is None:
            first = index
        header, score = singles[index], scores[index]
        if index + 1 < len(singles):
            pair = _read(rows, index, True, lookup)
            pair_score = _score(pair, required)
            if pair_score > score and pair_score > scores[index + 1]:
                header, score = pair, pair_score
        if score > best_score:
            best, best_score = header, score
        if score[0]:
            break  # complete: rows further down are data
    if best is None:
        return None if first is None else singles[first]
    return best


_YEAR = re.compile(r"((?:19|20)\d{2})\s*年")
_REPORTED = re.compile(r"填报日期\D*?((?:19|20)\d{2})")


def ledger_year(rows: Sequence[Sequence[Any]]) -> int | None:
    """Return the year of the ledger from the rows above its header: the title's, else the 填报日期's."""
    titles, reported = [], []
    for row in rows:
        line = " ".join(_cell_text(v) for v in row if v is not None and v != "")
        line = unicodedata.normalize("NFKC", line)
        if "填报" in line:
            reported.append(line)
        else:
            titles.append(line)
    for line in titles:
        match = _YEAR.search(line)
        if match:
            return int(match.group(1))
    for line in reported:
        match = _REPORTED.search(line)
        if match:
            return int(match.group(1))
    return None


def _cell_text(value: Any) -> str:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return str(value)
