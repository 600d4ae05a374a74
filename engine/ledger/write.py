"""Writing a checked ledger: upsert with history in one transaction, all or nothing.

Persons and projects are read and checked first (they are small); the nodes then stream
through checking and writing in batches inside the same transaction. The first problem stops
the writing but not the checking, so every problem is still reported, and the transaction is
rolled back: nothing of a refused ledger stays.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import insert, literal, select
from sqlmodel import Session, col

from config.vocabulary import DeadlineStatus, HistoryKind, LogAction, LogEntity, ProjectStatus
from engine.context import App
from engine.errors import Refused
from engine.ledger.check import (
    NodeIn,
    PersonIn,
    ProjectIn,
    check_references,
    node_key,
    validate_nodes,
    validate_persons,
    validate_projects,
)
from engine.ledger.combined import split_combined
from engine.ledger.read import Problems, plain, read_ledger
from engine.record.holders import holder_of
from engine.record.write import assign, change_planned_date, log, record_completion
from engine.store.db import allocate_ids, bulk_insert, chunks, transaction
from engine.store.models import (
    FROM_THE_START,
    Assignment,
    ChangeLog,
    Deadline,
    Node,
    NodeHistory,
    Person,
    Project,
    table_of,
)

SOURCE = "ledger"


EXTENSION_REASON = "台账更新"


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
    notes: list[str] = field(default_factory=list)  # what the import read around (hidden sheets), to say so


def import_ledger(
    app: App,
    path: Path,
    as_of: dt.date | None = None,
    progress: Callable[[str, int, int | None], None] | None = None,
    source_name: str | None = None,
    new_persons: bool = False,
) -> ImportResult:
    """Import a ledger; refuse it whole (Refused with every problem) when anything is wrong.

    ``new_persons``: a 负责人 named on a combined sheet whom nobody known bears becomes a new person
    (`--new-persons`); without it that cell is refused, never guessed.

    Persons and projects are read and checked first (they are small); the nodes then stream
    through checking and writing in batches inside the same transaction. The first problem stops
    the writing but not the checking, so every problem is still reported, and the transaction is
    rolled back: nothing of a refused ledger stays.
    """
    as_of = as_of or app.today()
    problems = Problems(limit=app.settings.limits.max_problems)
    # A date without its year (「7月31日」) takes the sheet's (title, 填报日期), else this one's.
    ledger = read_ledger(path, problems, source_name, as_of.year, app.settings.limits)
    tables = ledger.tables
    persons = validate_persons(tables["persons"], problems) if "persons" in tables else []
    projects = validate_projects(tables["projects"], problems) if "projects" in tables else []
    result = ImportResult(notes=list(ledger.notes))
    with transaction(app.engine) as session:
        combined = split_combined(session, ledger.combined, persons, projects, problems, new_persons)
        persons, projects = [*persons, *combined.persons], [*projects, *combined.projects]
        check_references(app, session, persons, projects, problems)
        if not problems.lines:
            _write_persons(app, session, persons, result)
            _write_projects(app, session, projects, as_of, result)
        # The combined sheets' nodes first (an office's few), so the 节点 sheet's stream can be checked against them.
        node_tables = [*combined.nodes, *([tables["nodes"]] if "nodes" in tables else [])]
        if node_tables:
            project_pks: dict[str, int] = dict(session.execute(select(col(Project.code), col(Project.id))).all())
            known = project_pks.keys() | {p.code for p in projects} | combined.codes
            writer = _NodeWriter(app, session, project_pks, result, problems)
            elsewhere: dict[str, str] = {}
            for table in node_tables:
                nodes = validate_nodes(table, problems, app.today(), known, dict(elsewhere))
                for batch in chunks(nodes, 5000):
                    if progress is not None:
                        progress("节点", batch[-1].row, None)
                    writer.write(batch)
                    if table is not tables.get("nodes"):
                        elsewhere.update(
                            (node_key(n.project_code, n.code), f"{table.source} 第 {n.row} 行") for n in batch
                        )
            if not problems.lines:
                writer.finish()
        if problems.lines:
            raise Refused(
                *problems.lines, details=problems.items, omitted=problems.omitted
            )  # leaving by an exception rolls it back
        log(
            app,
            session,
            LogEntity.LEDGER,
            source_name or str(path),
            LogAction.IMPORT,
            {k: v for k, v in vars(result).items() if v and k != "notes"} | {"as_of": as_of.isoformat()},
        )
    return result


def _write_persons(app: App, session: Session, persons: list[PersonIn], result: ImportResult) -> None:
    existing = {p.person_id: p for p in session.scalars(select(Person))} if persons else {}
    new_rows: list[dict[str, Any]] = []
    for item in persons:
        current = existing.get(item.person_id)
        values = {
            "name": item.name,
            "unit": item.unit,
            "phone": item.phone,
            "email": item.email,
            "wecom_id": item.wecom_id,
            "dingtalk_id": item.dingtalk_id,
        }
        if current is None:
            new_rows.append({"person_id": item.person_id, **values, "extra": item.extra})
            continue
        # A person named on a combined sheet: only what its rows say; a 人员 sheet without the account
        # columns: everything but the accounts.
        if item.stated is not None:
            values = {k: v for k, v in values.items() if k in item.stated}
        changed = _changes(current, values, item.extra)
        if changed:
            for key, (_old, new) in changed.items():
                setattr(current, key, new)
            session.add(current)
            log(app, session, LogEntity.PERSON, item.person_id, LogAction.UPDATE, _jsonable(changed), "台账更新")
            result.persons_updated += 1
    if new_rows:
        session.execute(insert(table_of(Person)), new_rows)
        _bulk_log(app, session, LogEntity.PERSON, [r["person_id"] for r in new_rows], LogAction.CREATE)
        result.persons_added += len(new_rows)


def _changes(current: Any, values: dict[str, Any], extra: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    changed = {k: (getattr(current, k), v) for k, v in values.items() if getattr(current, k) != v}
    merged = {**(current.extra or {}), **extra}
    if merged != (current.extra or {}):
        changed["extra"] = (current.extra, merged)
    return changed


def _jsonable(changed: dict[str, tuple[Any, Any]]) -> dict[str, Any]:
    return {k: {"old": plain(old), "new": plain(new)} for k, (old, new) in changed.items()}


def _bulk_log(app: App, session: Session, entity: LogEntity, keys: list[str], action: LogAction) -> None:
    at = app.now()
    rows = [
        {
            "at": at,
            "actor": app.actor,
            "entity": entity,
            "key": key,
            "action": action,
            "detail": {"source": SOURCE},
            "reason": "台账导入",
        }
        for key in keys
    ]
    for chunk in chunks(rows, 5000):
        session.execute(insert(table_of(ChangeLog)), chunk)


def _write_projects(
    app: App, session: Session, projects: list[ProjectIn], as_of: dt.date, result: ImportResult
) -> None:
    if not projects:
        return
    existing = {p.code: p for p in session.scalars(select(Project))}
    person_pk: dict[str, int] = dict(session.execute(select(col(Person.person_id), col(Person.id))).all())
    new_rows: list[dict[str, Any]] = []
    new_assignments: list[tuple[str, str]] = []
    for item in projects:
        values = {
            "name": item.name,
            "district": item.district,
            "phase": item.phase,
            "batch": item.batch,
            "contractor": item.contractor,
            "households": item.households,
        }
        current = existing.get(item.code)
        if current is None:
            new_rows.append(
                {"code": item.code, **values, "status": item.status or ProjectStatus.ACTIVE, "extra": item.extra}
            )
            if item.responsible:
                new_assignments.append((item.code, item.responsible))
            continue
        if item.stated is not None:  # a combined sheet without, say, 期次 leaves the phase as it is
            values = {k: v for k, v in values.items() if k in item.stated}
        if item.status is not None:
            values["status"] = item.status
        changed = _changes(current, values, item.extra)
        if changed:
            for key, (_old, new) in changed.items():
                setattr(current, key, new)
            session.add(current)
            log(app, session, LogEntity.PROJECT, item.code, LogAction.UPDATE, _jsonable(changed), "台账更新")
            result.projects_updated += 1
        if item.responsible and item.responsible != holder_of(session, item.code):
            person = session.get(Person, person_pk[item.responsible])
            assert person is not None
            assign(app, session, current, person, as_of, SOURCE, "台账更新：负责人变更")
            result.reassignments += 1
    if new_rows:
        session.execute(insert(table_of(Project)), new_rows)
        _bulk_log(app, session, LogEntity.PROJECT, [r["code"] for r in new_rows], LogAction.CREATE)
        result.projects_added += len(new_rows)
    if new_assignments:
        project_pk: dict[str, int] = {}
        for chunk in chunks([c for c, _ in new_assignments]):  # PostgreSQL takes at most 65,535 parameters
            project_pk.update(
                (code, pk)
                for code, pk in session.execute(
                    select(col(Project.code), col(Project.id)).where(col(Project.code).in_(chunk))
                )
            )
        now = app.now()
        session.execute(
            insert(table_of(Assignment)),
            [
                {
                    "project_id": project_pk[code],
                    "person_pk": person_pk[pid],
                    "effective_from": FROM_THE_START,
                    "reason": "首次导入：自始担任负责人",
                    "source": SOURCE,
                    "actor": app.actor,
                    "recorded_at": now,
                }
                for code, pid in new_assignments
            ],
        )


class _NodeWriter:
    """Writes checked node rows batch by batch: new nodes in bulk, changed ones with their history."""

    def __init__(
        self, app: App, session: Session, project_pks: dict[str, int], result: ImportResult, problems: Problems
    ) -> None:
        self.app, self.session, self.result, self.problems = app, session, result, problems
        self.project_pks = project_pks
        # Projects created by this import have no nodes yet: their rows skip the lookup of existing ones.
        self.had_nodes = set(session.scalars(select(col(Node.project_id)).distinct()))
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
            for node in self.session.scalars(select(Node).where(col(Node.project_id).in_(chunk))):
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
            log(
                app,
                session,
                LogEntity.NODE,
                f"{project.code}/{item.code}",
                LogAction.UPDATE,
                {"name": {"old": current.name, "new": item.name}},
                "台账更新",
            )
            current.name, current.extra = item.name, {**current.extra, **item.extra}
            session.add(current)
            changed = True
        if change_planned_date(app, session, project, current, item.planned_date, EXTENSION_REASON, SOURCE):
            result.extensions += 1
            changed = True
        if item.completed_on is not None and record_completion(
            app, session, project, current, item.completed_on, SOURCE
        ):
            result.completions += 1
            changed = True
        result.nodes_updated += changed

    def _insert(self, items: list[NodeIn]) -> None:
        ids = allocate_ids(self.session, table_of(Node), len(items))
        pks = self.project_pks
        bulk_insert(
            self.session,
            table_of(Node),
            ("id", "project_id", "code", "name", "planned_date", "completed_on", "extra"),
            [
                (pk, pks[n.project_code], n.code, n.name, n.planned_date, n.completed_on, n.extra)
                for pk, n in zip(ids, items, strict=True)
            ],
        )
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
        node = table_of(Node)
        new = node.c.id.between(first, last)
        self.session.execute(
            insert(table_of(Deadline)).from_select(
                ["node_id", "planned_date", "status"],
                select(node.c.id, node.c.planned_date, literal(DeadlineStatus.OPEN.value))
                .where(new)
                .order_by(node.c.planned_date, node.c.id),
            )
        )
        history = table_of(NodeHistory)
        who = [
            literal(SOURCE),
            literal(self.app.actor),
            literal(self.now, history.c.recorded_at.type),
            literal("台账导入"),
        ]
        columns = ["source", "actor", "recorded_at", "reason"]
        self.session.execute(
            insert(history).from_select(
                ["node_id", "kind", "planned_date", *columns],
                select(node.c.id, literal(HistoryKind.PLANNED.value), node.c.planned_date, *who)
                .where(new)
                .order_by(node.c.id),
            )
        )
        self.session.execute(
            insert(history).from_select(
                ["node_id", "kind", "completed_on", *columns],
                select(node.c.id, literal(HistoryKind.COMPLETION.value), node.c.completed_on, *who)
                .where(new, node.c.completed_on.is_not(None))
                .order_by(node.c.id),
            )
        )
