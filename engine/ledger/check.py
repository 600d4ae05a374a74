"""Checking a ledger: every row of every table, and its references to the database, before anything is written.

Each problem is recorded with its place (table, row, column, value) and reason; the nodes are
checked as they stream by.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Container, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session, col

from config.vocabulary import PersonStatus, ProjectStatus, StrikeStatus
from engine.context import App
from engine.ledger.dates import parse_date, parse_iso
from engine.ledger.read import Problems, Row, Table
from engine.record.holders import holder_of
from engine.store.models import Node, Person, Project, Strike, table_of

STATUS_WORDS = {
    "储备": ProjectStatus.RESERVE,
    "reserve": ProjectStatus.RESERVE,
    "在建": ProjectStatus.ACTIVE,
    "active": ProjectStatus.ACTIVE,
    "完工": ProjectStatus.COMPLETED,
    "completed": ProjectStatus.COMPLETED,
    "取消": ProjectStatus.CANCELLED,
    "cancelled": ProjectStatus.CANCELLED,
}


_MAX_CELL = 2000


def _limits() -> dict[str, int]:
    """The longest text each column may hold: the database's own column lengths (PostgreSQL enforces them)."""
    person, project, node = table_of(Person).c, table_of(Project).c, table_of(Node).c
    columns = {
        "person_id": person.person_id,
        "unit": person.unit,
        "phone": person.phone,
        "email": person.email,
        "wecom_id": person.wecom_id,
        "dingtalk_id": person.dingtalk_id,
        "project_code": project.code,
        "district": project.district,
        "phase": project.phase,
        "batch": project.batch,
        "contractor": project.contractor,
        "responsible_person_id": person.person_id,
        "node_code": node.code,
        "name": node.name,
        "project_name": project.name,
        "person_name": person.name,
        "node_name": node.name,
    }
    return {key: int(getattr(column.type, "length", None) or _MAX_CELL) for key, column in columns.items()}


#: Longest text per ledger column (a longer cell is refused with its place, never left to the database).
LIMITS = _limits()
_CODE, _NAME = LIMITS["node_code"], LIMITS["name"]


#: Control characters (NUL …) and the bidirectional controls that make text display in another order
#: than it is stored (U+202A–202E, U+2066–2069, U+200E/200F, U+061C): refused in any cell.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")

#: Codes are compared after folding full-width letters, digits and signs to their ASCII forms
#: (「ＬＬ－００１」 is LL-001): the keys a code may sit in.
CODE_KEYS = frozenset({"person_id", "project_code", "node_code", "responsible_person_id"})
_FULL_WIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}


def fold_code(text: str) -> str:
    """Return a code as compared and stored: full-width ASCII forms folded to ASCII."""
    return text if text.isascii() else text.translate(_FULL_WIDTH)


#: What separates several names in one cell: 、 , ， / ／ ; ； | ｜ and line breaks (and 和/及/与 between names).
_SEPARATORS = re.compile(r"[、,，/／;；|｜\n\r]")
_JOINED = re.compile(r"(?<=[^\x00-\x7f]{2})[和及与](?=[^\x00-\x7f]{2})")
_BRACKETS = re.compile(r"[()（）\[\]【】〔〕<>《》]")


def not_one_person(name: str) -> str | None:
    """Return why a 负责人 cell does not name exactly one person, or None when it does.

    The normalisation (docs/LEDGER.md): spaces at either end go, a full-width space is a space, and
    spaces between Chinese characters are alignment when what they separate is a single character
    (「张  三」 is 张三). A cell with a separator, a note in brackets, 和/及/与 between two names, or
    spaces between parts of two characters or more (「张三 李四」) names no one for certain.
    """
    text = name.replace("\u3000", " ").strip()
    if _SEPARATORS.search(text) or _JOINED.search(text.replace(" ", "")):
        return "一个单元格中有多个姓名：每个项目只能有一位负责人，请只写一人（或增加「负责人编号」列）"
    if _BRACKETS.search(text):
        return "姓名带有括注（如「（代）」「(暂)」）：请只写姓名，说明写在备注列"
    parts = text.split()
    if len(parts) > 1 and not text.isascii() and all(len(part) >= 2 for part in parts):
        return "姓名中间有空格，看起来是多个姓名：请只写一人（两字姓名对齐用的空格可以保留）"
    return None


#: Where a node read from two plan-date columns keeps the original one (its 计划完成日期 beside 调整后计划完成日期).
ORIGINAL_PLAN = "原计划完成日期"


@dataclass
class PersonIn:
    """A validated person row.

    ``stated`` names the fields the ledger says something about (None: all of them); a person
    named on a combined sheet states only what its row gives, and keeps the rest (an e-mail, say).
    """

    person_id: str
    name: str
    unit: str | None
    phone: str | None
    email: str | None
    extra: dict[str, Any]
    row: int = 0
    stated: frozenset[str] | None = None
    wecom_id: str | None = None
    dingtalk_id: str | None = None


@dataclass
class ProjectIn:
    """A validated project row, with the table and row it came from (to place a problem of it).

    ``stated`` names the fields its table has columns for (None: all of them).
    """

    table: Table
    source: Row
    code: str
    name: str
    district: str | None
    phase: str | None
    batch: str | None
    status: str | None
    responsible: str | None
    contractor: str | None
    households: int | None
    extra: dict[str, Any]
    stated: frozenset[str] | None = field(default=None)

    @property
    def row(self) -> int:
        """Return the row number it was read from."""
        return self.source.number


@dataclass
class NodeIn:
    """A validated node row."""

    row: int
    project_code: str
    code: str
    name: str
    planned_date: dt.date
    completed_on: dt.date | None
    extra: dict[str, Any]


def text_of(table: Table, row: Row, key: str, problems: Problems, required: bool = False) -> str | None:
    """Return a cell as text, or None (empty, or a problem recorded: too long, control characters)."""
    value = row.values.get(key)
    if value is None:
        if required:
            problems.cell(table, row, key, None, "必填项为空")
        return None
    if isinstance(value, dt.datetime | dt.date):
        value = value.isoformat()
    if isinstance(value, float):
        value = repr(value)
    text = str(value)
    limit = LIMITS.get(key, _MAX_CELL)
    if len(text) > limit:
        problems.cell(table, row, key, text, f"内容过长（{len(text)} 字符，最多 {limit}）")
        return None
    if _CONTROL.search(text):
        problems.cell(
            table,
            row,
            key,
            text.encode("unicode_escape").decode(),
            "含有控制字符或改变文字显示方向的字符：请删除后再导入",
        )
        return None
    return fold_code(text).strip() if key in CODE_KEYS else text


def _date(table: Table, row: Row, key: str, problems: Problems, required: bool = False) -> dt.date | None:
    value = row.values.get(key)
    if value is None:
        if required:
            problems.cell(table, row, key, None, "必填项为空")
        return None
    try:
        return parse_date(value, table.year)
    except ValueError as exc:
        problems.cell(table, row, key, value, str(exc))
        return None


def _unique(table: Table, items: Iterable[tuple[Row, str]], key: str, problems: Problems) -> set[str]:
    first: dict[str, int] = {}
    duplicated: set[str] = set()
    for row, code in items:
        if code in first:
            problems.cell(table, row, key, code, f"编号重复（第 {first[code]} 行已有）")
            duplicated.add(code)
        else:
            first[code] = row.number
    return duplicated


#: The persons' accounts in WeCom and DingTalk (企业微信账号, 钉钉账号): the user ids messages go to.
ACCOUNT_KEYS = ("wecom_id", "dingtalk_id")
#: What a WeCom or DingTalk user id may hold: letters, digits and _ - @ . (64 at most, the database's length).
_ACCOUNT = re.compile(r"[A-Za-z0-9_\-@.]{1,64}")
_PERSON_FIELDS = frozenset({"name", "unit", "phone", "email", *ACCOUNT_KEYS})


def account_of(table: Table, row: Row, key: str, problems: Problems) -> str | None:
    """Return a 企业微信账号 / 钉钉账号 cell as the user id it is, or None (empty, or a problem recorded).

    The id is text: a number cell is refused, since Excel drops an id's leading zeros (「007」 becomes 7)
    and shows a long one as 1.23E+17 — duban cannot know what was typed.
    """
    value = row.values.get(key)
    if value is None:
        return None
    if isinstance(value, int | float):
        problems.cell(
            table,
            row,
            key,
            value,
            "账号是数字格式的单元格（Excel 可能已去掉开头的 0 或改写了长数字）：把该列设为文本格式后重新填写",
        )
        return None
    if not isinstance(value, str):
        problems.cell(table, row, key, value, "账号不是文本单元格：把该列设为文本格式后重新填写")
        return None
    text = text_of(table, row, key, problems)
    if text is None:
        return None
    text = text.strip()
    if not _ACCOUNT.fullmatch(text):
        problems.cell(
            table, row, key, text, "账号只能由英文字母、数字和 _ - @ . 组成（最多 64 个字符），请照通讯录中的账号填写"
        )
        return None
    return text


def validate_persons(table: Table, problems: Problems) -> list[PersonIn]:
    """Validate the persons table.

    A sheet without a 企业微信账号 or 钉钉账号 column says nothing about it: a person keeps the account
    on record (a ledger of before these columns imports as it always has).
    """
    out, seen = [], []
    stated = frozenset(k for k in _PERSON_FIELDS if k not in ACCOUNT_KEYS or k in table.places)
    for row in table.rows:
        person_id = text_of(table, row, "person_id", problems, True)
        name = text_of(table, row, "name", problems, True)
        unit = text_of(table, row, "unit", problems)
        phone = text_of(table, row, "phone", problems)
        email = text_of(table, row, "email", problems)
        if email is not None and ("@" not in email or " " in email):
            problems.cell(table, row, "email", email, "不是有效的电子邮箱地址")
        wecom_id, dingtalk_id = (account_of(table, row, key, problems) for key in ACCOUNT_KEYS)
        if person_id is not None:
            seen.append((row, person_id))
        if person_id and name:
            out.append(
                PersonIn(
                    person_id,
                    name,
                    unit,
                    phone,
                    email,
                    row.extra,
                    row.number,
                    None if stated == _PERSON_FIELDS else stated,
                    wecom_id,
                    dingtalk_id,
                )
            )
    _unique(table, seen, "person_id", problems)
    return out


def validate_projects(table: Table, problems: Problems, stated: frozenset[str] | None = None) -> list[ProjectIn]:
    """Validate the projects table (``stated``: the fields it may change, None for all)."""
    out, seen = [], []
    for row in table.rows:
        code = text_of(table, row, "project_code", problems, True)
        name = text_of(table, row, "name", problems, True)
        status_text = text_of(table, row, "status", problems)
        status = None
        if status_text is not None:
            status = STATUS_WORDS.get(status_text.lower())
            if status is None:
                problems.cell(
                    table,
                    row,
                    "status",
                    status_text,
                    "应为 储备/在建/完工/取消（或 reserve/active/completed/cancelled）",
                )
        households = None
        raw = row.values.get("households")
        if raw is not None:
            if isinstance(raw, bool) or not isinstance(raw, int | str) or not str(raw).strip().isdigit():
                problems.cell(table, row, "households", raw, "应为不小于 0 的整数")
            else:
                households = int(str(raw).strip())
        fields = {k: text_of(table, row, k, problems) for k in ("district", "phase", "batch", "contractor")}
        responsible = text_of(table, row, "responsible_person_id", problems)
        if code is not None:
            seen.append((row, code))
        if code and name:
            out.append(
                ProjectIn(
                    table,
                    row,
                    code,
                    name,
                    fields["district"],
                    fields["phase"],
                    fields["batch"],
                    status,
                    responsible,
                    fields["contractor"],
                    households,
                    row.extra,
                    stated,
                )
            )
    _unique(table, seen, "project_code", problems)
    return out


def validate_nodes(
    table: Table,
    problems: Problems,
    today: dt.date,
    known_projects: Container[str],
    elsewhere: dict[str, str] | None = None,
) -> Iterator[NodeIn]:
    """Check the nodes table row by row, yielding the good rows as they are read.

    A ledger of millions of nodes streams through here: per row only a key for the duplicate
    check is kept. The plain case (text cells, ISO dates) takes a short path. ``elsewhere`` holds
    the nodes of other sheets (key ``node_key``, where it is): one of them again is a duplicate.
    """
    seen: dict[str, int] = {}
    others: list[str] = []
    for index, (key, where) in enumerate((elsewhere or {}).items()):
        seen[key] = -1 - index  # a row number no row has: the duplicate check stays one lookup
        others.append(where)
    # On a combined sheet without 节点编号 the node's name is its code: a repeated name is the problem.
    by_name = table.place("node_code") == table.place("name")
    for row in table.rows:
        values = row.values
        project_code, code, name = values.get("project_code"), values.get("node_code"), values.get("name")
        planned_raw, completed_raw = values.get("planned_date"), values.get("completed_on")
        if not (
            type(project_code) is str
            and type(code) is str
            and type(name) is str
            and project_code.isascii()
            and code.isascii()
            and _plain_text(project_code, _CODE)
            and _plain_text(code, _CODE)
            and _plain_text(name, _NAME)
        ):
            project_code = text_of(table, row, "project_code", problems, True)
            code = text_of(table, row, "node_code", problems, not by_name)  # by name: one cell, one problem
            name = text_of(table, row, "name", problems, True)
        planned = parse_iso(planned_raw) or _date(table, row, "planned_date", problems, True)
        extra = row.extra
        adjusted_raw = values.get("adjusted_planned_date")
        if adjusted_raw is not None:
            # Two plan-date columns: the adjusted date is the plan; the original is kept beside it.
            adjusted = parse_iso(adjusted_raw) or _date(table, row, "adjusted_planned_date", problems)
            if adjusted is None:
                continue
            if planned is not None and adjusted != planned:
                extra = {**extra, ORIGINAL_PLAN: planned.isoformat()}
            planned = adjusted
        completed = None
        if completed_raw is not None:
            completed = parse_iso(completed_raw) or _date(table, row, "completed_on", problems)
        if completed is not None and completed > today:
            problems.cell(table, row, "completed_on", completed_raw, f"完成日期晚于今天（{today.isoformat()}）")
            continue
        if project_code is None or code is None:
            continue
        key = f"{project_code}\x1f{code}"  # node_key(), written out: this line runs once per node
        first = seen.setdefault(key, row.number)
        if first != row.number:
            where = f"第 {first} 行" if first > 0 else others[-1 - first]
            reason = (
                f"同一项目的节点名称重复（{where}已有；同名节点请增加「节点编号」列区分）"
                if by_name
                else f"编号重复（{where}已有）"
            )
            problems.cell(table, row, "node_code", f"{project_code} / {code}", reason)
            continue
        if project_code not in known_projects:
            problems.cell(table, row, "project_code", project_code, "项目表中没有此项目")
            continue
        if name and planned:
            yield NodeIn(row.number, project_code, code, name, planned, completed, extra)


def node_key(project_code: str, code: str) -> str:
    """Return the key a node is unique by."""
    return f"{project_code}\x1f{code}"


def _plain_text(value: str, limit: int) -> bool:
    return len(value) <= limit and _CONTROL.search(value) is None


def check_references(
    app: App, session: Session, persons: list[PersonIn], projects: list[ProjectIn], problems: Problems
) -> None:
    """Check that every responsible person exists and may hold the project."""
    if not projects:
        return
    known_persons = set(session.scalars(select(col(Person.person_id)))) | {p.person_id for p in persons}
    dismissed = _dismissed_persons(app, session)
    for project in projects:
        if project.responsible is None:
            continue
        if project.responsible not in known_persons:
            problems.cell(
                project.table, project.source, "responsible_person_id", project.responsible, "人员表中没有此人"
            )
        elif project.responsible in dismissed:
            current = holder_of(session, project.code)
            if current != project.responsible:
                problems.cell(
                    project.table,
                    project.source,
                    "responsible_person_id",
                    project.responsible,
                    f"此人已被彻底免除负责人职务、永不使用（问责记录 #{dismissed[project.responsible]}），不能担任负责人",
                )


def _dismissed_persons(app: App, session: Session) -> dict[str, int]:
    dismissal_level = next(r.level for r in app.policy.ladder if r.status == PersonStatus.DISMISSED)
    rows = session.execute(
        select(col(Person.person_id), func.min(col(Strike.id)))
        .join(Strike, col(Strike.person_pk) == col(Person.id))
        .where(col(Strike.status) == StrikeStatus.COUNTED, col(Strike.level) >= dismissal_level)
        .group_by(col(Person.person_id))
    ).all()
    return {person_id: strike_id for person_id, strike_id in rows}
