"""The ledger import (工作台账): read, validate everything, then upsert with history in one go.

An import is all-or-nothing: every problem of every table is collected first (table, row,
column, value, reason) and reported together; only a clean ledger is written, in one
transaction.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections.abc import Callable, Container, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, literal, select
from sqlmodel import Session

from config.policy import PersonStatus
from engine.context import App
from engine.dates import parse_date, parse_iso
from engine.db import allocate_ids, bulk_insert, chunks, transaction
from engine.errors import Problem, Refused
from engine.models import (
    FROM_THE_START,
    Assignment,
    ChangeLog,
    Deadline,
    DeadlineStatus,
    Node,
    NodeHistory,
    Person,
    Project,
    ProjectStatus,
    Strike,
    StrikeStatus,
)
from engine.records import assign, change_planned_date, log, record_completion

SOURCE = "ledger"
EXTENSION_REASON = "台账更新"


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

STATUS_WORDS = {
    "储备": ProjectStatus.RESERVE, "reserve": ProjectStatus.RESERVE,
    "在建": ProjectStatus.ACTIVE, "active": ProjectStatus.ACTIVE,
    "完工": ProjectStatus.COMPLETED, "completed": ProjectStatus.COMPLETED,
    "取消": ProjectStatus.CANCELLED, "cancelled": ProjectStatus.CANCELLED,
}
_MAX_CELL = 2000
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


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


@dataclass
class ImportResult:
    """What an import changed, for the summary line."""

    persons_added: int = 0
    persons_updated: int = 0
    projects_added: int = 0
    projects_updated: int = 0
    nodes_added: int = 0
    nodes_updated: int = 0
    extensions: int = 0
    completions: int = 0
    reassignments: int = 0
    revocations: int = 0


# ---------------------------------------------------------------------------------------- reading


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
                    extra[f"列{position + 1}"] = _plain(value)
                continue
            column_name, is_known = column
            if is_known:
                values[column_name] = value
            elif value is not None:
                extra[column_name] = _plain(value)
        if not any(v is not None for v in values.values()) and not extra:
            continue  # blank line
        yield Row(number, values, extra)


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time | dt.timedelta):
        return value.isoformat()
    return value


# ------------------------------------------------------------------------------------- validating


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


# --------------------------------------------------------------------------------------- writing


def import_ledger(app: App, path: Path, as_of: dt.date | None = None,
                  progress: Callable[[str, int, int | None], None] | None = None,
                  source_name: str | None = None) -> ImportResult:
    """Import a ledger; refuse it whole (Refused with every problem) when anything is wrong.

    Persons and projects are read and checked first (they are small); the nodes then stream
    through checking and writing in batches inside the same transaction. The first problem stops
    the writing but not the checking, so every problem is still reported, and the transaction is
    rolled back: nothing of a refused ledger stays.
    """
    as_of = as_of or app.today()
    problems = Problems()
    tables = read_ledger(path, problems, source_name)
    persons = validate_persons(tables["persons"], problems) if "persons" in tables else []
    projects = validate_projects(tables["projects"], problems) if "projects" in tables else []
    result = ImportResult()
    with transaction(app.engine) as session:
        _check_references(app, session, tables, persons, projects, problems)
        if not problems.lines:
            _write_persons(app, session, persons, result)
            _write_projects(app, session, projects, as_of, result)
        if "nodes" in tables:
            project_pks: dict[str, int] = dict(session.execute(select(Project.code, Project.id)).all())
            known = project_pks.keys() | {p.code for p in projects}
            writer = _NodeWriter(app, session, project_pks, result, problems)
            nodes = validate_nodes(tables["nodes"], problems, app.today(), known)
            for batch in chunks(nodes, 5000):
                if progress is not None:
                    progress("节点", batch[-1].row, None)
                writer.write(batch)
            if not problems.lines:
                writer.finish()
        if problems.lines:
            raise Refused(*problems.lines, details=problems.items)  # leaving by an exception rolls it back
        log(app, session, "ledger", source_name or str(path), "import",
            {k: v for k, v in vars(result).items() if v} | {"as_of": as_of.isoformat()})
    return result


def _check_references(app: App, session: Session, tables: dict[str, Table], persons: list[PersonIn],
                      projects: list[ProjectIn], problems: Problems) -> None:
    if not projects:
        return
    known_persons = set(session.scalars(select(Person.person_id))) | {p.person_id for p in persons}
    dismissed = _dismissed_persons(app, session)
    for project in projects:
        if project.responsible is None:
            continue
        if project.responsible not in known_persons:
            problems.add(tables["projects"], project.row, "负责人编号", project.responsible, "人员表中没有此人")
        elif project.responsible in dismissed:
            current = _current_responsible(session, project.code)
            if current != project.responsible:
                problems.add(tables["projects"], project.row, "负责人编号", project.responsible,
                             f"此人已被彻底免除负责人职务、永不使用（问责记录 #{dismissed[project.responsible]}），不能担任负责人")


def _dismissed_persons(app: App, session: Session) -> dict[str, int]:
    dismissal_level = next(r.level for r in app.policy.ladder if r.status == PersonStatus.DISMISSED)
    rows = session.execute(
        select(Person.person_id, func.min(Strike.id)).join(Strike, Strike.person_pk == Person.id)
        .where(Strike.status == StrikeStatus.COUNTED, Strike.level >= dismissal_level)
        .group_by(Person.person_id)).all()
    return {person_id: strike_id for person_id, strike_id in rows}


def _current_responsible(session: Session, project_code: str) -> str | None:
    row = session.execute(
        select(Person.person_id).join(Assignment, Assignment.person_pk == Person.id)
        .join(Project, Project.id == Assignment.project_id).where(Project.code == project_code)
        .order_by(Assignment.effective_from.desc(), Assignment.id.desc()).limit(1)).first()
    return row[0] if row else None


def _write_persons(app: App, session: Session, persons: list[PersonIn], result: ImportResult) -> None:
    existing = {p.person_id: p for p in session.scalars(select(Person))} if persons else {}
    new_rows = []
    for item in persons:
        current = existing.get(item.person_id)
        values = {"name": item.name, "unit": item.unit, "phone": item.phone, "email": item.email}
        if current is None:
            new_rows.append({"person_id": item.person_id, **values, "extra": item.extra})
            continue
        changed = _changes(current, values, item.extra)
        if changed:
            for key, (_old, new) in changed.items():
                setattr(current, key, new)
            session.add(current)
            log(app, session, "person", item.person_id, "update", _jsonable(changed), "台账更新")
            result.persons_updated += 1
    if new_rows:
        session.execute(insert(Person.__table__), new_rows)
        _bulk_log(app, session, "person", [r["person_id"] for r in new_rows], "create")
        result.persons_added += len(new_rows)


def _changes(current: Any, values: dict[str, Any], extra: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    changed = {k: (getattr(current, k), v) for k, v in values.items() if getattr(current, k) != v}
    merged = {**(current.extra or {}), **extra}
    if merged != (current.extra or {}):
        changed["extra"] = (current.extra, merged)
    return changed


def _jsonable(changed: dict[str, tuple[Any, Any]]) -> dict[str, Any]:
    return {k: {"old": _plain(old), "new": _plain(new)} for k, (old, new) in changed.items()}


def _bulk_log(app: App, session: Session, entity: str, keys: list[str], action: str) -> None:
    at = app.now()
    rows = [{"at": at, "actor": app.actor, "entity": entity, "key": key, "action": action,
             "detail": {"source": SOURCE}, "reason": "台账导入"} for key in keys]
    for chunk in chunks(rows, 5000):
        session.execute(insert(ChangeLog.__table__), chunk)


def _write_projects(app: App, session: Session, projects: list[ProjectIn], as_of: dt.date,
                    result: ImportResult) -> None:
    if not projects:
        return
    existing = {p.code: p for p in session.scalars(select(Project))}
    person_pk: dict[str, int] = dict(session.execute(select(Person.person_id, Person.id)).all())
    new_rows, new_assignments = [], []
    for item in projects:
        values = {"name": item.name, "district": item.district, "phase": item.phase, "batch": item.batch,
                  "contractor": item.contractor, "households": item.households}
        current = existing.get(item.code)
        if current is None:
            new_rows.append({"code": item.code, **values, "status": item.status or ProjectStatus.ACTIVE,
                             "extra": item.extra})
            if item.responsible:
                new_assignments.append((item.code, item.responsible))
            continue
        if item.status is not None:
            values["status"] = item.status
        changed = _changes(current, values, item.extra)
        if changed:
            for key, (_old, new) in changed.items():
                setattr(current, key, new)
            session.add(current)
            log(app, session, "project", item.code, "update", _jsonable(changed), "台账更新")
            result.projects_updated += 1
        if item.responsible and item.responsible != _current_responsible(session, item.code):
            person = session.get(Person, person_pk[item.responsible])
            assert person is not None
            assign(app, session, current, person, as_of, SOURCE, "台账更新：负责人变更")
            result.reassignments += 1
    if new_rows:
        session.execute(insert(Project.__table__), new_rows)
        _bulk_log(app, session, "project", [r["code"] for r in new_rows], "create")
        result.projects_added += len(new_rows)
    if new_assignments:
        project_pk: dict[str, int] = dict(session.execute(select(Project.code, Project.id).where(
            Project.code.in_([c for c, _ in new_assignments]))).all())
        now = app.now()
        session.execute(insert(Assignment.__table__), [
            {"project_id": project_pk[code], "person_pk": person_pk[pid], "effective_from": FROM_THE_START,
             "reason": "首次导入：自始担任负责人", "source": SOURCE, "actor": app.actor, "recorded_at": now}
            for code, pid in new_assignments])


class _NodeWriter:
    """Writes checked node rows batch by batch: new nodes in bulk, changed ones with their history."""

    def __init__(self, app: App, session: Session, project_pks: dict[str, int], result: ImportResult,
                 problems: Problems) -> None:
        self.app, self.session, self.result, self.problems = app, session, result, problems
        self.project_pks = project_pks
        # Projects created by this import have no nodes yet: their rows skip the lookup of existing ones.
        self.had_nodes = set(session.scalars(select(Node.project_id).distinct()))
        self.now = app.now()
        # The id range of the nodes this import creates: writers take turns (db.transaction), so it is ours alone.
        self.new_ids = (2**62, 0)

    def write(self, batch: Sequence[NodeIn]) -> None:
        """Write one batch, unless a problem was found: then only the checking goes on."""
        if self.problems.lines:
            return
        old_projects = sorted({pk for n in batch if (pk := self.project_pks[n.project_code]) in self.had_nodes})
        existing: dict[tuple[int, str], Node] = {}
        for chunk in chunks(old_projects):
            for node in self.session.scalars(select(Node).where(Node.project_id.in_(chunk))):
                existing[(node.project_id, node.code)] = node
        new_items = []
        for item in batch:
            current = existing.get((self.project_pks[item.project_code], item.code))
            if current is None:
                new_items.append(item)
            else:
                self._update(item, current)
        if new_items:
            self._insert(new_items)

    def _update(self, item: NodeIn, current: Node) -> None:
        app, session, result = self.app, self.session, self.result
        project = session.get(Project, current.project_id)
        assert project is not None
        changed = False
        if current.name != item.name or {**current.extra, **item.extra} != current.extra:
            log(app, session, "node", f"{project.code}/{item.code}", "update",
                {"name": {"old": current.name, "new": item.name}}, "台账更新")
            current.name, current.extra = item.name, {**current.extra, **item.extra}
            session.add(current)
            changed = True
        if change_planned_date(app, session, project, current, item.planned_date, EXTENSION_REASON, SOURCE):
            result.extensions += 1
            changed = True
        if item.completed_on is not None and record_completion(app, session, project, current,
                                                               item.completed_on, SOURCE):
            result.completions += 1
            changed = True
        result.nodes_updated += changed

    def _insert(self, items: list[NodeIn]) -> None:
        ids = allocate_ids(self.session, Node.__table__, len(items))
        pks = self.project_pks
        bulk_insert(self.session, Node.__table__,
                    ("id", "project_id", "code", "name", "planned_date", "completed_on", "extra"),
                    [(pk, pks[n.project_code], n.code, n.name, n.planned_date, n.completed_on, n.extra)
                     for pk, n in zip(ids, items, strict=True)])
        self.new_ids = (min(ids[0], self.new_ids[0]), max(ids[-1], self.new_ids[1]))
        self.result.completions += sum(1 for n in items if n.completed_on is not None)
        self.result.nodes_added += len(items)

    def finish(self) -> None:
        """Give the new nodes their deadlines and history, inside the database.

        One INSERT ... SELECT per table instead of rows through Python; deadlines go in planned-date
        order, so one day's deadlines sit together on disk and the daily evaluation that closes
        them touches a few pages, not one page per deadline.
        """
        first, last = self.new_ids
        if first > last:
            return
        node = Node.__table__
        new = node.c.id.between(first, last)
        self.session.execute(insert(Deadline.__table__).from_select(
            ["node_id", "planned_date", "status"],
            select(node.c.id, node.c.planned_date, literal(DeadlineStatus.OPEN.value)).where(new)
            .order_by(node.c.planned_date, node.c.id)))
        history = NodeHistory.__table__
        who = [literal(SOURCE), literal(self.app.actor), literal(self.now, history.c.recorded_at.type),
               literal("台账导入")]
        columns = ["source", "actor", "recorded_at", "reason"]
        self.session.execute(insert(history).from_select(
            ["node_id", "kind", "planned_date", *columns],
            select(node.c.id, literal("planned"), node.c.planned_date, *who).where(new).order_by(node.c.id)))
        self.session.execute(insert(history).from_select(
            ["node_id", "kind", "completed_on", *columns],
            select(node.c.id, literal("completion"), node.c.completed_on, *who)
            .where(new, node.c.completed_on.is_not(None)).order_by(node.c.id)))
