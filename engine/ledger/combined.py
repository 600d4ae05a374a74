"""A combined sheet (工作台账): projects, their responsible persons and nodes on one sheet, one node a row.

A project's columns repeat on the rows of its nodes (often as merged cells) and must agree. A
node's code is its 节点编号, or else its name. The responsible person is the 负责人编号, or else the
one person named 负责人 (in the database or the 人员 sheet); with nobody of that name, a new person
whose 人员编号 is the name; with several, a problem asking for 负责人编号.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from engine.ledger.check import LIMITS, STATUS_WORDS, PersonIn, ProjectIn, not_one_person, text_of, validate_projects
from engine.ledger.read import GatheredRow, Problems, Row, Table
from engine.store.models import Person

#: A combined sheet's project columns, by the key the projects table gives them.
PROJECT_KEYS: dict[str, str] = {
    "project_code": "project_code",
    "project_name": "name",
    "district": "district",
    "phase": "phase",
    "batch": "batch",
    "status": "status",
    "contractor": "contractor",
    "households": "households",
    "responsible_person_id": "responsible_person_id",
    # The responsible person's own columns: one person per project, so they repeat with it.
    "person_name": "person_name",
    "unit": "unit",
    "phone": "phone",
}
#: Its node columns, by the key the nodes table gives them (node_code: see _node_row).
NODE_KEYS: dict[str, str] = {
    "project_code": "project_code",
    "node_name": "name",
    "planned_date": "planned_date",
    "completed_on": "completed_on",
    "adjusted_planned_date": "adjusted_planned_date",
}
_STATUS_WORD = {status: word for word, status in STATUS_WORDS.items() if not word.isascii()}
_NODE_DATA = ("node_code", "node_name", "planned_date", "completed_on", "adjusted_planned_date")
#: The longest code the database holds (a node's name may stand for its code, a name for a person's).
_MAX_CODE = min(LIMITS["node_code"], LIMITS["person_id"])
_SPACES = re.compile(r"\s+")
_ALIGNING = re.compile(r"(?<=[^\x00-\x7f]) (?=[^\x00-\x7f])")


@dataclass
class Combined:
    """What the combined sheets add: persons to create or update, projects, node tables, every project code."""

    persons: list[PersonIn] = field(default_factory=list)
    projects: list[ProjectIn] = field(default_factory=list)
    nodes: list[Table] = field(default_factory=list)
    codes: set[str] = field(default_factory=set)


@dataclass
class _Known:
    name: str
    unit: str | None
    phone: str | None
    item: PersonIn | None  # the 人员 sheet's row, when the person is on it


def name_key(name: str) -> str:
    """Return a person's name as matched: without the spaces clerks put in two-character names (「张  三」)."""
    return _SPACES.sub("", name)


def written_name(name: str) -> str:
    """Return a name as stored: without spaces between Chinese characters (「张  三」 → 张三), Latin ones kept."""
    return _ALIGNING.sub("", " ".join(name.split()))


def split_combined(
    session: Session,
    sheets: list[Table],
    persons: list[PersonIn],
    projects: list[ProjectIn],
    problems: Problems,
    new_persons: bool = False,
) -> Combined:
    """Turn the combined sheets into persons, projects and node tables; record every problem.

    A 负责人 named by no one known is refused unless ``new_persons`` (`--new-persons`): then a new
    person is created whose 人员编号 is the name.
    """
    out = Combined()
    if not sheets:
        return out  # the plain forms: not even the persons are read
    gathered: dict[str, GatheredRow] = {}
    views: list[Table] = []
    for sheet in sheets:
        view, nodes = _views(sheet)
        views.append(view)
        out.nodes.append(nodes)
        node_rows: list[Row] = []
        for row in sheet.rows:
            has_node = any(row.values.get(k) is not None for k in _NODE_DATA)
            code = row.values.get("project_code")
            if code is not None:
                _gather(gathered, str(code), view, row, problems)
            elif not has_node:  # a node row's missing 项目编号 is reported with its other problems
                problems.cell(view, row, "project_code", None, "必填项为空")
            if has_node:
                node_row = _node_row(sheet, nodes, row, problems)
                if node_row is not None:
                    node_rows.append(node_row)
        nodes.rows = node_rows
    out.codes = set(gathered)
    _resolve_persons(session, gathered, persons, problems, out, new_persons)
    stated = frozenset(PROJECT_KEYS[k] for sheet in sheets for k in sheet.places if k in PROJECT_KEYS)
    on_sheet = {p.code: p for p in projects}
    for view in views:
        view.rows = [row for row in gathered.values() if row.at["project_code"][0] is view]
        for item in validate_projects(view, problems, stated):
            if item.code in on_sheet:
                _agree(item, on_sheet[item.code], problems)
            else:
                out.projects.append(item)
    return out


def _views(sheet: Table) -> tuple[Table, Table]:
    """Return a combined sheet seen as a projects table and as a nodes table (same source, same cells)."""
    places = sheet.places
    projects = Table(
        "projects", sheet.source, [], {v: places[k] for k, v in PROJECT_KEYS.items() if k in places}, sheet.year
    )
    person = places.get("responsible_person_id") or places.get("person_name")
    if person is not None:
        projects.places["responsible_person_id"] = person
    nodes = Table("nodes", sheet.source, [], {v: places[k] for k, v in NODE_KEYS.items() if k in places}, sheet.year)
    code = places.get("node_code") or places.get("node_name")
    if code is not None:
        nodes.places["node_code"] = code
    return projects, nodes


def _gather(gathered: dict[str, GatheredRow], code: str, view: Table, row: Row, problems: Problems) -> None:
    """Add a row's project columns to its project; a value that differs from an earlier row's is a problem."""
    project = gathered.get(code)
    if project is None:
        project = gathered[code] = GatheredRow(row.number, {}, {})
    for combined_key, key in PROJECT_KEYS.items():
        value = row.values.get(combined_key)
        if value is None:
            continue  # an empty cell says nothing: the project's value is on another of its rows
        if key not in project.values:
            project.values[key] = value
            project.at[key] = (view, row.number, key)
            continue
        first = project.values[key]
        if _same(key, first, value):
            continue
        table, number, _key = project.at[key]
        where = f"第 {number} 行" if table.source == view.source else f"{table.source} 第 {number} 行"
        problems.cell(view, row, key, value, f"与{where}不一致（{where}是「{first}」），同一项目（{code}）的各行应相同")


def _same(key: str, first: Any, value: Any) -> bool:
    if key == "person_name":
        return name_key(str(first)) == name_key(str(value))
    return str(first) == str(value)


def _node_row(sheet: Table, nodes: Table, row: Row, problems: Problems) -> Row | None:
    """Return a row's node as the nodes table has it; without 节点编号 its name is its code."""
    values = {key: row.values.get(combined_key) for combined_key, key in NODE_KEYS.items()}
    code = row.values.get("node_code") if "node_code" in sheet.places else row.values.get("node_name")
    if "node_code" not in sheet.places and code is not None and len(str(code)) > _MAX_CODE:
        problems.cell(nodes, row, "name", code, f"节点名称超过 {_MAX_CODE} 字，不能用作节点编号：请增加「节点编号」列")
        return None
    values["node_code"] = code
    return Row(row.number, values, row.extra)


def _resolve_persons(
    session: Session,
    gathered: dict[str, GatheredRow],
    persons: list[PersonIn],
    problems: Problems,
    out: Combined,
    new_persons: bool,
) -> None:
    """Give every project its responsible person's code; collect the persons to create or update."""
    known: dict[str, _Known] = {
        pid: _Known(name, unit, phone, None)
        for pid, name, unit, phone in session.execute(
            select(col(Person.person_id), col(Person.name), col(Person.unit), col(Person.phone))
        ).all()
    }
    for item in persons:
        known[item.person_id] = _Known(item.name, item.unit, item.phone, item)
    by_name: dict[str, list[str]] = {}
    for code, someone in known.items():
        by_name.setdefault(name_key(someone.name), []).append(code)
    new: dict[str, PersonIn] = {}
    updates: dict[str, PersonIn] = {}
    said: dict[tuple[str, str], tuple[str, GatheredRow]] = {}  # (person, field) → first value, its project
    for project in gathered.values():
        view = project.at["project_code"][0]
        name = text_of(view, project, "person_name", problems)
        if name is not None and (why := not_one_person(name)) is not None:
            problems.cell(view, project, "person_name", name, why)
            project.values["responsible_person_id"] = None
            continue
        name = None if name is None else written_name(name)
        pid = _person_of(view, project, name, known, by_name, problems, new_persons)
        project.values["responsible_person_id"] = pid  # checked once here, not again with the project
        if pid is None:
            continue
        person = known.get(pid)
        if person is None and pid not in new:
            if name is None:
                continue  # an unknown 负责人编号 without a name: check_references says 人员表中没有此人
            new[pid] = PersonIn(pid, name, None, None, None, {}, project.number)
        if person is None and name is not None:
            _consistent(said, pid, "person_name", name, view, project, problems)
        for key in ("unit", "phone"):
            value = text_of(view, project, key, problems)
            if value is None or not _consistent(said, pid, key, value, view, project, problems):
                continue
            if pid in new:
                setattr(new[pid], key, value)
            elif person is not None and person.item is not None:
                _agree_with_sheet(view, project, key, value, person.item, problems)
            elif person is not None and getattr(person, key) != value:
                update = updates.setdefault(
                    pid, PersonIn(pid, person.name, person.unit, person.phone, None, {}, project.number, frozenset())
                )
                setattr(update, key, value)
                update.stated = frozenset({*(update.stated or ()), key})
    out.persons = [*new.values(), *updates.values()]


def _consistent(
    said: dict[tuple[str, str], tuple[str, GatheredRow]],
    pid: str,
    key: str,
    value: str,
    view: Table,
    project: GatheredRow,
    problems: Problems,
) -> bool:
    """Check a person's value against what an earlier project said of the same person."""
    earlier, where_project = said.setdefault((pid, key), (value, project))
    if earlier == value or (key == "person_name" and name_key(earlier) == name_key(value)):
        return True
    table, number, _key = where_project.at[key]
    where = f"第 {number} 行" if table is view else f"{table.source} 第 {number} 行"
    problems.cell(view, project, key, value, f"与{where}不一致（{where}是「{earlier}」），同一负责人（{pid}）应相同")
    return False


def _person_of(
    view: Table,
    project: GatheredRow,
    name: str | None,
    known: dict[str, _Known],
    by_name: dict[str, list[str]],
    problems: Problems,
    new_persons: bool,
) -> str | None:
    """Return the code of a project's responsible person: its 负责人编号, or the one person of its 负责人's name."""
    if project.values.get("responsible_person_id") is not None:
        pid = text_of(view, project, "responsible_person_id", problems)
        person = known.get(pid) if pid is not None else None
        if person is not None and name is not None and name_key(person.name) != name_key(name):
            problems.cell(
                view, project, "person_name", name, f"负责人编号「{pid}」是「{person.name}」，与此处的姓名不一致"
            )
        return pid
    if name is None:
        return None
    # The person is named: the problems of the person are the 负责人 cell's.
    project.at["responsible_person_id"] = project.at["person_name"]
    candidates = by_name.get(name_key(name), [])
    if len(candidates) > 1:
        listed = "、".join(f"{pid}（{known[pid].unit}）" if known[pid].unit else pid for pid in sorted(candidates))
        problems.cell(
            view,
            project,
            "person_name",
            name,
            f"有 {len(candidates)} 位同名人员：{listed}；请增加「负责人编号」列写明是哪一位",
        )
        return None
    if candidates:
        return candidates[0]
    if not new_persons:
        problems.cell(
            view,
            project,
            "person_name",
            name,
            "人员表和数据库中都没有此人：若是新的负责人，请在「人员」表登记其人员编号和姓名，"
            "或导入时加 --new-persons 按姓名新建人员",
        )
        return None
    pid = name
    if len(pid) > _MAX_CODE:
        problems.cell(
            view, project, "person_name", name, f"姓名超过 {_MAX_CODE} 字，不能用作人员编号：请增加「负责人编号」列"
        )
        return None
    if pid in known:  # a 人员编号 equal to the name, of someone else
        problems.cell(
            view,
            project,
            "person_name",
            name,
            f"人员编号「{pid}」已是「{known[pid].name}」的编号：请增加「负责人编号」列",
        )
        return None
    return pid


def _agree_with_sheet(
    view: Table, project: GatheredRow, key: str, value: str, item: PersonIn, problems: Problems
) -> None:
    """Check a person's value against the 人员 sheet's row; where that row says nothing, it fills it."""
    current = getattr(item, key)
    if current is None:
        setattr(item, key, value)
    elif current != value:
        problems.cell(view, project, key, value, f"与人员表第 {item.row} 行不一致（人员表是「{current}」）")


def _agree(item: ProjectIn, on_sheet: ProjectIn, problems: Problems) -> None:
    """Check a project of a combined sheet against the same project on the 项目 sheet."""
    for attribute, key in (
        ("name", "name"),
        ("district", "district"),
        ("phase", "phase"),
        ("batch", "batch"),
        ("status", "status"),
        ("contractor", "contractor"),
        ("households", "households"),
        ("responsible", "responsible_person_id"),
    ):
        value, there = getattr(item, attribute), getattr(on_sheet, attribute)
        if value is None or value == there:
            continue
        if attribute == "status":
            value, there = _STATUS_WORD.get(value, value), _STATUS_WORD.get(there, there)
        problems.cell(
            item.table,
            item.source,
            key,
            value,
            f"与 {on_sheet.table.source} 第 {on_sheet.row} 行不一致（那里是「{there or ''}」），同一项目应相同",
        )
