"""`duban export ledger PATH.xlsx`: the ledger as the system now holds it, plus the strikes on record.

The workbook has the importer's sheets and Chinese headers (人员/项目/节点), so it can be edited and
imported back; a 问责记录 sheet lists the strikes. Every text cell is written as text: a value a
user typed such as ``=cmd|' /C calc'!A0`` stays inert text in Excel, never a formula.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from sqlalchemy import select
from sqlmodel import Session, col

from engine.context import App
from engine.errors import Refused
from engine.ledger import TABLES
from engine.ledger.check import STATUS_WORDS
from engine.record.holders import holders
from engine.store.db import transaction
from engine.store.models import Node, Person, Project, Strike, id_of
from notifications.files import replacing
from notifications.wording import Wording

#: A project's status as the ledger format writes it (储备/在建/完工/取消): what imports back.
LEDGER_STATUS: dict[str, str] = {str(status): word for word, status in STATUS_WORDS.items() if not word.isascii()}


def export_ledger(app: App, path: Path) -> dict[str, int]:
    """Write the workbook atomically; return the rows written per sheet."""
    if path.suffix.lower() != ".xlsx":
        raise Refused(f"{path}：导出文件应为 .xlsx")
    if not path.parent.is_dir():
        raise Refused(f"{path.parent}：文件夹不存在")
    workbook = Workbook(write_only=True)
    counts: dict[str, int] = {}
    with transaction(app.engine) as session:
        for title, header, rows in _sheets(session, app.wording):
            sheet = workbook.create_sheet(title)
            sheet.append([_text_cell(sheet, h) for h in header])
            count = 0
            for row in rows:
                sheet.append([_cell(sheet, value) for value in row])
                count += 1
            counts[title] = count
    with replacing(path) as temp:
        workbook.save(temp)
    return counts


def _sheets(session: Session, words: Wording) -> Iterator[tuple[str, list[str], Iterable[tuple[Any, ...]]]]:
    persons: dict[int, str] = dict(session.execute(select(col(Person.id), col(Person.person_id))).all())
    yield (
        "人员",
        _header("persons"),
        (
            (p.person_id, p.name, p.unit, p.phone, p.email, p.wecom_id, p.dingtalk_id)
            for p in session.scalars(select(Person).order_by(col(Person.person_id)))
        ),
    )
    held = {project_id: persons[pk] for project_id, pk in holders(session).items()}
    yield (
        "项目",
        _header("projects"),
        (
            (
                p.code,
                p.name,
                p.district,
                p.phase,
                p.batch,
                LEDGER_STATUS.get(p.status, p.status),
                held.get(id_of(p)),
                p.contractor,
                p.households,
            )
            for p in session.scalars(select(Project).order_by(col(Project.code)))
        ),
    )
    yield (
        "节点",
        _header("nodes"),
        (
            row
            for row in session.execute(
                select(
                    col(Project.code), col(Node.code), col(Node.name), col(Node.planned_date), col(Node.completed_on)
                )
                .join(Project, col(Project.id) == col(Node.project_id))
                .order_by(col(Project.code), col(Node.code))
            )
        ),
    )
    yield (
        "问责记录",
        ["编号", "人员编号", "项目编号", "节点编号", "计划完成日期", "发现日期", "等级", "处理", "状态", "决定"],
        (
            (
                s.id,
                persons.get(s.person_pk or 0),
                s.first_project_code,
                s.first_node_code,
                s.planned_date,
                s.detected_on,
                s.level,
                words.word("action", s.action),
                words.word("strike_status", s.status),
                words.word("decision", s.decision),
            )
            for s in session.scalars(select(Strike).order_by(col(Strike.id)))
        ),
    )


def _header(table: str) -> list[str]:
    return [column.chinese for column in TABLES[table][1]]


def _text_cell(sheet: Any, value: str) -> Any:
    cell = WriteOnlyCell(sheet, value=value)
    cell.data_type = "s"  # text, even when it starts with = + - @: Excel never evaluates it
    return cell


def _cell(sheet: Any, value: Any) -> Any:
    if isinstance(value, str):
        return _text_cell(sheet, value)
    if isinstance(value, dt.date):
        cell = WriteOnlyCell(sheet, value=value)
        cell.number_format = "yyyy-mm-dd"
        return cell
    return value
