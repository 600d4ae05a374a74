"""The same work as duban, in bare SQL and plain Python: the yardstick of `make bench` (issue 12).

On a database made by `duban init` (the same schema, the same indexes), it writes the rows duban
writes and seals them the way duban's audit chain does (SHA-256 of each transaction's new rows
per table, in windows of ids, chained by hash):

* import, one transaction: persons, projects, assignments, nodes, one deadline and a "planned"
  node_history row per node, a "completion" row per completed node, a change_log row per person
  and project created and one for the import;
* replay, one transaction per day: the evaluation_day claim; the open deadlines that fell due
  (indexed), closed as met, skipped or missed; each miss's holder on its planned date; the
  person's counted strikes read back; the ladder decided in plain Python (one strike per person
  and planned date, level = 1 + counted strikes before it); per strike a strike, a
  decision_trace, a "proposed" strike_event, a notice, its misses, and a status_change when the
  person's status moved; a "node_added" event and a joined trace for a late join.

Run by scripts/bench.py; `python scripts/same_work.py URL LEDGER` runs it alone.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import sys
import time
from bisect import bisect_right
from collections import defaultdict
from pathlib import Path
from typing import Any

SEALED = (
    "change_log",
    "assignment",
    "node_history",
    "evaluation_day",
    "strike",
    "miss",
    "strike_event",
    "status_change",
    "notice",
    "decision_trace",
)
GENESIS = "0" * 64
WINDOW = 20_000
STATUS = {0: "active", 1: "reviewed", 2: "suspended"}
ACTIONS = {
    1: ("review", "review_notice", "present_review", "做检查（记录在案）"),
    2: ("suspension", "suspension_decision", "confirm_suspension", "免除负责人职务，留用整改"),
    3: ("dismissal", "dismissal_decision", "confirm_dismissal", "彻底免除负责人职务，永不使用"),
}
NOW = "2024-11-01 08:00:00.000000"


class Db:
    """A DB-API connection to SQLite or PostgreSQL, with the statements written once."""

    def __init__(self, url: str) -> None:
        self.postgres = url.startswith("postgresql")
        if self.postgres:
            import psycopg

            self.conn: Any = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True)
        else:
            import sqlite3

            self.conn = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
            self.conn.execute("PRAGMA journal_mode = WAL")
            self.conn.execute("PRAGMA synchronous = NORMAL")
            self.conn.execute("PRAGMA foreign_keys = ON")

    def sql(self, text: str) -> str:
        return text.replace("?", "%s") if self.postgres else text

    def run(self, text: str, params: Any = ()) -> Any:
        cursor = self.conn.cursor()
        cursor.execute(self.sql(text), params)
        return cursor

    def many(self, table: str, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        if self.postgres:  # COPY, as duban does on PostgreSQL
            with self.conn.cursor() as cursor, cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return
        self.conn.executemany(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})", rows
        )

    def begin(self) -> None:
        self.run("BEGIN" if self.postgres else "BEGIN IMMEDIATE")

    def commit(self) -> None:
        self.run("COMMIT")

    def marks(self) -> dict[str, int]:
        return {t: self.run(f"SELECT coalesce(max(id), 0) FROM {t}").fetchone()[0] for t in SEALED}

    def seal(self, marks: dict[str, int]) -> None:
        """Hash the rows added since the marks, per table, and chain an audit entry for each."""
        prev = self.run("SELECT hash FROM audit_entry ORDER BY id DESC LIMIT 1").fetchone()
        prev_hash = prev[0] if prev else GENESIS
        entries = []
        for table in SEALED:
            last = self.run(f"SELECT coalesce(max(id), 0) FROM {table}").fetchone()[0]
            first = marks[table] + 1
            if last < first:
                continue
            sha, count, start = hashlib.sha256(), 0, first
            while start <= last:
                stop = min(start + WINDOW - 1, last)
                rows = self.run(f"SELECT * FROM {table} WHERE id BETWEEN ? AND ? ORDER BY id", (start, stop)).fetchall()
                sha.update(repr(rows).encode())
                count += len(rows)
                start = stop + 1
            digest = sha.hexdigest()
            entry_hash = hashlib.sha256(
                f"{prev_hash}|{table}|{first}|{last}|{count}|{digest}|{NOW}".encode()
            ).hexdigest()
            entries.append((table, first, last, count, digest, NOW, prev_hash, entry_hash))
            prev_hash = entry_hash
        for entry in entries:  # one by one: the hash is unique and the chain must stay ordered
            self.run(
                "INSERT INTO audit_entry (table_name, first_id, last_id, rows, digest, recorded_at, prev_hash, hash) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                entry,
            )


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def import_ledger(db: Db, ledger: Path) -> float:
    """Load the ledger with its history and seal it, in one transaction; return the seconds."""
    started = time.perf_counter()
    persons, projects = _csv(ledger / "persons.csv"), _csv(ledger / "projects.csv")
    db.begin()
    marks = db.marks()
    db.many(
        "person",
        ["person_id", "name", "unit", "phone", "email", "extra"],
        [(p["person_id"], p["name"], p["unit"] or None, p["phone"] or None, p["email"] or None, "{}") for p in persons],
    )
    db.many(
        "project",
        ["code", "name", "district", "phase", "batch", "status", "contractor", "households", "extra"],
        [
            (
                p["project_code"],
                p["name"],
                p["district"] or None,
                p["phase"] or None,
                p["batch"] or None,
                p["status"] or "active",
                p["contractor"] or None,
                int(p["households"]) if p["households"] else None,
                "{}",
            )
            for p in projects
        ],
    )
    log = [
        (NOW, "bench", entity, key, "create", '{"source": "ledger"}', "台账导入")
        for entity, key in [
            *(("person", p["person_id"]) for p in persons),
            *(("project", p["project_code"]) for p in projects),
        ]
    ]
    db.many("change_log", ["at", "actor", "entity", "key", "action", "detail", "reason"], log)
    person_pk = dict(db.run("SELECT person_id, id FROM person").fetchall())
    project_pk = dict(db.run("SELECT code, id FROM project").fetchall())
    db.many(
        "assignment",
        ["project_id", "person_pk", "effective_from", "reason", "source", "actor", "recorded_at"],
        [
            (
                project_pk[p["project_code"]],
                person_pk[p["responsible_person_id"]],
                "1900-01-01",
                "首次导入：自始担任负责人",
                "ledger",
                "bench",
                NOW,
            )
            for p in projects
            if p["responsible_person_id"]
        ],
    )
    with (ledger / "nodes.csv").open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        next(reader)
        batch: list[tuple[Any, ...]] = []
        for project_code, code, name, planned, completed in reader:
            batch.append((project_pk[project_code], code, name, planned, completed or None, "{}"))
            if len(batch) == 5000:
                db.many("node", ["project_id", "code", "name", "planned_date", "completed_on", "extra"], batch)
                batch = []
        db.many("node", ["project_id", "code", "name", "planned_date", "completed_on", "extra"], batch)
    db.run(
        "INSERT INTO deadline (node_id, planned_date, status) SELECT id, planned_date, 'open' FROM node "
        "ORDER BY planned_date, id"
    )
    who = "'ledger', 'bench', '" + NOW + "', '台账导入'"
    db.run(
        "INSERT INTO node_history (node_id, kind, planned_date, source, actor, recorded_at, reason) "
        f"SELECT id, 'planned', planned_date, {who} FROM node ORDER BY id"
    )
    db.run(
        "INSERT INTO node_history (node_id, kind, completed_on, source, actor, recorded_at, reason) "
        f"SELECT id, 'completion', completed_on, {who} FROM node WHERE completed_on IS NOT NULL ORDER BY id"
    )
    db.run(
        "INSERT INTO change_log (at, actor, entity, key, action, detail, reason) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (NOW, "bench", "ledger", str(ledger), "import", "{}", None),
    )
    db.seal(marks)
    db.commit()
    return time.perf_counter() - started


def replay(db: Db, first: dt.date, last: dt.date) -> tuple[float, int]:
    """Evaluate each day as duban does, one transaction per day; return the seconds and the strikes."""
    started = time.perf_counter()
    strikes = 0
    day = first
    while day <= last:
        strikes += _day(db, day)
        day += dt.timedelta(days=1)
    return time.perf_counter() - started, strikes


def _day(db: Db, day: dt.date) -> int:
    db.begin()
    marks = db.marks()
    db.run(
        "INSERT INTO evaluation_day (day, run_id, misses, new_strikes, joined, warnings, actor, started_at, "
        "finished_at) VALUES (?, 'bench', 0, 0, 0, 0, 'bench', ?, ?)",
        (day.isoformat(), NOW, NOW),
    )
    cutoff = (day - dt.timedelta(days=1)).isoformat()
    due = db.run(
        "SELECT d.id, d.planned_date, n.id, n.code, n.completed_on, p.id, p.code, p.status FROM deadline d "
        "JOIN node n ON n.id = d.node_id JOIN project p ON p.id = n.project_id "
        "WHERE d.status = 'open' AND d.planned_date <= ?",
        (cutoff,),
    ).fetchall()
    closed: dict[str, list[int]] = defaultdict(list)
    missed = []
    for deadline_id, planned, node_id, node_code, completed, project_id, project_code, status in due:
        planned = str(planned)
        if status in ("reserve", "cancelled"):
            closed["skipped"].append(deadline_id)
        elif completed is not None and str(completed) <= planned:
            closed["met"].append(deadline_id)
        else:
            closed["missed"].append(deadline_id)
            missed.append((planned, project_code, node_code, deadline_id, node_id, project_id))
    for status, ids in closed.items():
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            db.run(
                f"UPDATE deadline SET status = ?, closed_on = ? WHERE id IN ({', '.join('?' * len(chunk))})",
                (status, day.isoformat(), *chunk),
            )
    new = 0
    if missed:
        new = _strikes(db, day, sorted(missed))
    db.seal(marks)
    db.commit()
    return new


def _strikes(db: Db, day: dt.date, missed: list[tuple[Any, ...]]) -> int:
    projects = sorted({m[5] for m in missed})
    history: dict[int, tuple[list[str], list[int]]] = defaultdict(lambda: ([], []))
    for i in range(0, len(projects), 500):
        chunk = projects[i : i + 500]
        for project_id, effective, person_pk in db.run(
            f"SELECT project_id, effective_from, person_pk FROM assignment WHERE project_id IN "
            f"({', '.join('?' * len(chunk))}) ORDER BY project_id, effective_from, id",
            chunk,
        ).fetchall():
            history[project_id][0].append(str(effective))
            history[project_id][1].append(person_pk)
    by_person: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    for miss in missed:
        dates, persons = history.get(miss[5], ([], []))
        at = bisect_right(dates, miss[0])
        if at:
            by_person[persons[at - 1]].append(miss)
    pks = sorted(by_person)
    counted: dict[int, list[tuple[int, str]]] = defaultdict(list)  # person -> [(strike id, planned date)]
    for i in range(0, len(pks), 500):
        chunk = pks[i : i + 500]
        for strike_id, person_pk, planned in db.run(
            f"SELECT id, person_pk, planned_date FROM strike WHERE status = 'counted' AND person_pk IN "
            f"({', '.join('?' * len(chunk))}) ORDER BY detected_on, planned_date, id",
            chunk,
        ).fetchall():
            counted[person_pk].append((strike_id, str(planned)))
    next_strike = db.run("SELECT coalesce(max(id), 0) FROM strike").fetchone()[0] + 1
    rows: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
    new = 0
    for person_pk, misses in by_person.items():
        held = counted[person_pk]
        by_date = {planned: sid for sid, planned in held}
        old_level = len(held)
        for planned, project_code, node_code, deadline_id, node_id, project_id in misses:
            node = {"project_code": project_code, "node_code": node_code, "planned_date": planned}
            if planned in by_date:  # joins the person's strike of that planned date
                strike_id = by_date[planned]
                rows["decision_trace"].append(
                    (
                        strike_id,
                        "joined",
                        1,
                        json.dumps(
                            {"version": 1, "kind": "joined", "grouping": "join_same_due_date", "node": node},
                            ensure_ascii=False,
                        ),
                        day.isoformat(),
                        NOW,
                        False,
                    )
                )
                if strike_id < next_strike:
                    rows["strike_event"].append((strike_id, "node_added", None, "并入本记录", None, None, "bench", NOW))
            else:
                strike_id, new = next_strike + new, new + 1
                before = [sid for sid, _ in held]
                level = len(before) + 1
                action, notice, agenda, title = ACTIONS[min(level, 3)]
                held.append((strike_id, planned))
                by_date[planned] = strike_id
                rows["strike"].append(
                    (
                        strike_id,
                        person_pk,
                        project_id,
                        planned,
                        day.isoformat(),
                        project_code,
                        node_code,
                        "counted",
                        level,
                        action,
                        "proposed",
                        "open_strike",
                        "{}",
                        "[]",
                        NOW,
                    )
                )
                rows["decision_trace"].append(
                    (
                        strike_id,
                        "opened",
                        1,
                        json.dumps(
                            {
                                "version": 1,
                                "kind": "opened",
                                "grouping": "open_strike",
                                "node": node,
                                "ranking": {
                                    "rule": "rank_whole_campaign",
                                    "level": level,
                                    "counted_before": before,
                                    "ladder_rule": "ladder_rung",
                                    "rung": min(level, 3),
                                    "action": action,
                                    "notice": notice,
                                    "agenda": [agenda],
                                    "title": title,
                                },
                                "agenda": [agenda],
                                "policy": "bench",
                                "grace_days": 0,
                                "grouping_policy": "per_due_date",
                            },
                            ensure_ascii=False,
                        ),
                        day.isoformat(),
                        NOW,
                        False,
                    )
                )
                rows["strike_event"].append((strike_id, "proposed", None, title, None, level, "bench", NOW))
                rows["notice"].append(
                    (f"{notice}:{strike_id}", notice, person_pk, strike_id, None, json.dumps({"level": level}), NOW)
                )
            rows["miss"].append((deadline_id, node_id, strike_id, person_pk, planned, day.isoformat()))
        new_level = len(held)
        if STATUS.get(min(old_level, 3), "dismissed") != STATUS.get(min(new_level, 3), "dismissed"):
            rows["status_change"].append(
                (
                    person_pk,
                    old_level or None,
                    new_level,
                    STATUS.get(min(old_level, 3), "dismissed"),
                    STATUS.get(min(new_level, 3), "dismissed"),
                    "strike",
                    rows["strike"][-1][0],
                    day.isoformat(),
                    "bench",
                    NOW,
                )
            )
    db.many(
        "strike",
        [
            "id",
            "person_pk",
            "project_id",
            "planned_date",
            "detected_on",
            "first_project_code",
            "first_node_code",
            "status",
            "level",
            "action",
            "decision",
            "rule",
            "explanation",
            "agenda",
            "created_at",
        ],
        rows["strike"],
    )
    db.many(
        "decision_trace",
        ["strike_id", "kind", "version", "body", "decided_on", "decided_at", "rebuilt"],
        rows["decision_trace"],
    )
    db.many(
        "strike_event",
        ["strike_id", "kind", "meeting_date", "text", "old_level", "new_level", "actor", "recorded_at"],
        rows["strike_event"],
    )
    db.many(
        "notice", ["key", "kind", "person_pk", "strike_id", "status_change_id", "payload", "created_at"], rows["notice"]
    )
    db.many("miss", ["deadline_id", "node_id", "strike_id", "person_pk", "planned_date", "detected_on"], rows["miss"])
    db.many(
        "status_change",
        [
            "person_pk",
            "old_level",
            "new_level",
            "old_status",
            "new_status",
            "cause",
            "strike_id",
            "day",
            "actor",
            "recorded_at",
        ],
        rows["status_change"],
    )
    return new


if __name__ == "__main__":
    database = Db(sys.argv[1])
    print(f"import {import_ledger(database, Path(sys.argv[2])):.2f} s")
    seconds, count = replay(database, dt.date(2024, 5, 1), dt.date(2024, 10, 31))
    print(f"replay {seconds:.2f} s, {count} strikes")
