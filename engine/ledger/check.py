"""Checking a ledger: every row of every table, and its references to the database, before anything is written.

Each problem is recorded with its place (table, row, column, value) and reason; the nodes are
checked as they stream by.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Container, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session, col

from config.policy import PersonStatus
from engine.context import App
from engine.ledger.dates import parse_date, parse_iso
from engine.ledger.read import TABLES, Problems, Row, Table
from engine.record.holders import holder_of
from engine.store.models import (
    Person,
    ProjectStatus,
    Strike,
    StrikeStatus,
)

STATUS_WORDS = {
    "储备": ProjectStatus.RESERVE, "reserve": ProjectStatus.RESERVE,
    "在建": ProjectStatus.ACTIVE, "active": ProjectStatus.ACTIVE,
    "完工": ProjectStatus.COMPLETED, "completed": ProjectStatus.COMPLETED,
    "取消": ProjectStatus.CANCELLED, "cancelled": ProjectStatus.CANCELLED,
}


_MAX_CELL = 2000


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass
class PersonIn:
    """A validated person row."""

    person_id: str
    name: str
    unit: str | None
    phone: str | None
    email: str | None
    extra: dict[str, Any]


@dataclass
class ProjectIn:
    """A validated project row."""

    row: int
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


def _text(table: Table, row: Row, key: str, problems: Problems, required: bool = False) -> str | None:
    value = row.values.get(key)
    label = _label(table.name, key)
    if value is None:
        if required:
            problems.add(table, row.number, label, None, "必填项为空")
        return None
    if isinstance(value, dt.datetime | dt.date):
        value = value.isoformat()
    if isinstance(value, float):
        value = repr(value)
    text = str(value)
    if len(text) > _MAX_CELL:
        problems.add(table, row.number, label, text, f"内容过长（{len(text)} 字符，最多 {_MAX_CELL}）")
        return None
    if _CONTROL.search(text):
        problems.add(table, row.number, label, text.encode("unicode_escape").decode(), "含有控制字符")
        return None
    return text


def _label(table: str, key: str) -> str:
    for column in TABLES[table][1]:
        if column.key == key:
            return column.chinese
    return key


def _date(table: Table, row: Row, key: str, problems: Problems, required: bool = False) -> dt.date | None:
    value = row.values.get(key)
    if value is None:
        if required:
            problems.add(table, row.number, _label(table.name, key), None, "必填项为空")
        return None
    try:
        return parse_date(value)
    except ValueError as exc:
        problems.add(table, row.number, _label(table.name, key), value, str(exc))
        return None


def _unique(table: Table, items: Iterable[tuple[int, str]], column: str, problems: Problems) -> set[str]:
    first: dict[str, int] = {}
    duplicated: set[str] = set()
    for number, code in items:
        if code in first:
            problems.add(table, number, column, code, f"编号重复（第 {first[code]} 行已有）")
            duplicated.add(code)
        else:
            first[code] = number
    return duplicated


def validate_persons(table: Table, problems: Problems) -> list[PersonIn]:
    """Validate the persons table."""
    out, seen = [], []
    for row in table.rows:
        person_id = _text(table, row, "person_id", problems, True)
        name = _text(table, row, "name", problems, True)
        unit = _text(table, row, "unit", problems)
        phone = _text(table, row, "phone", problems)
        email = _text(table, row, "email", problems)
        if email is not None and ("@" not in email or " " in email):
            problems.add(table, row.number, "邮箱", email, "不是有效的电子邮箱地址")
        if person_id is not None:
            seen.append((row.number, person_id))
        if person_id and name:
            out.append(PersonIn(person_id, name, unit, phone, email, row.extra))
    _unique(table, seen, "人员编号", problems)
    return out


def validate_projects(table: Table, problems: Problems) -> list[ProjectIn]:
    """Validate the projects table."""
    out, seen = [], []
    for row in table.rows:
        code = _text(table, row, "project_code", problems, True)
        name = _text(table, row, "name", problems, True)
        status_text = _text(table, row, "status", problems)
        status = None
        if status_text is not None:
            status = STATUS_WORDS.get(status_text.lower())
            if status is None:
                problems.add(table, row.number, "状态", status_text, "应为 储备/在建/完工/取消（或 reserve/active/completed/cancelled）")
        households = None
        raw = row.values.get("households")
        if raw is not None:
            if isinstance(raw, bool) or not isinstance(raw, int | str) or not str(raw).strip().isdigit():
                problems.add(table, row.number, "户数", raw, "应为不小于 0 的整数")
            else:
                households = int(str(raw).strip())
        fields = {k: _text(table, row, k, problems) for k in ("district", "phase", "batch", "contractor")}
        responsible = _text(table, row, "responsible_person_id", problems)
        if code is not None:
            seen.append((row.number, code))
        if code and name:
            out.append(ProjectIn(row.number, code, name, fields["district"], fields["phase"], fields["batch"],
                                 status, responsible, fields["contractor"], households, row.extra))
    _unique(table, seen, "项目编号", problems)
    return out


def validate_nodes(table: Table, problems: Problems, today: dt.date, known_projects: Container[str]) -> Iterator[NodeIn]:
    """Check the nodes table row by row, yielding the good rows as they are read.

    A ledger of millions of nodes streams through here: per row only a key for the duplicate
    check is kept. The plain case (text cells, ISO dates) takes a short path.
    """
    seen: dict[str, int] = {}
    for row in table.rows:
        values = row.values
        project_code, code, name = values.get("project_code"), values.get("node_code"), values.get("name")
        planned_raw, completed_raw = values.get("planned_date"), values.get("completed_on")
        if not (type(project_code) is str and type(code) is str and type(name) is str
                and _plain_text(project_code) and _plain_text(code) and _plain_text(name)):
            project_code = _text(table, row, "project_code", problems, True)
            code = _text(table, row, "node_code", problems, True)
            name = _text(table, row, "name", problems, True)
        planned = parse_iso(planned_raw) or _date(table, row, "planned_date", problems, True)
        completed = None
        if completed_raw is not None:
            completed = parse_iso(completed_raw) or _date(table, row, "completed_on", problems)
        if completed is not None and completed > today:
            problems.add(table, row.number, "实际完成日期", completed_raw, f"完成日期晚于今天（{today.isoformat()}）")
            continue
        if project_code is None or code is None:
            continue
        key = f"{project_code}\x1f{code}"
        first = seen.setdefault(key, row.number)
        if first != row.number:
            problems.add(table, row.number, "节点编号", f"{project_code} / {code}", f"编号重复（第 {first} 行已有）")
            continue
        if project_code not in known_projects:
            problems.add(table, row.number, "项目编号", project_code, "项目表中没有此项目")
            continue
        if name and planned:
            yield NodeIn(row.number, project_code, code, name, planned, completed, row.extra)


def _plain_text(value: str) -> bool:
    return len(value) <= _MAX_CELL and _CONTROL.search(value) is None


def check_references(app: App, session: Session, tables: dict[str, Table], persons: list[PersonIn],
                      projects: list[ProjectIn], problems: Problems) -> None:
    if not projects:
        return
    known_persons = set(session.scalars(select(col(Person.person_id)))) | {p.person_id for p in persons}
    dismissed = _dismissed_persons(app, session)
    for project in projects:
        if project.responsible is None:
            continue
        if project.responsible not in known_persons:
            problems.add(tables["projects"], project.row, "负责人编号", project.responsible, "人员表中没有此人")
        elif project.responsible in dismissed:
            current = holder_of(session, project.code)
            if current != project.responsible:
                problems.add(tables["projects"], project.row, "负责人编号", project.responsible,
                             f"此人已被彻底免除负责人职务、永不使用（问责记录 #{dismissed[project.responsible]}），不能担任负责人")


def _dismissed_persons(app: App, session: Session) -> dict[str, int]:
    dismissal_level = next(r.level for r in app.policy.ladder if r.status == PersonStatus.DISMISSED)
    rows = session.execute(
        select(col(Person.person_id), func.min(col(Strike.id))).join(Strike, col(Strike.person_pk) == col(Person.id))
        .where(col(Strike.status) == StrikeStatus.COUNTED, col(Strike.level) >= dismissal_level)
        .group_by(col(Person.person_id))).all()
    return {person_id: strike_id for person_id, strike_id in rows}

