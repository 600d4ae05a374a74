"""Crash safety: real `duban` processes SIGKILLed at many points of real runs on a sizeable ledger.

Every unit of work — an import, one evaluated day, one rendered notice, one delivery — must be
there whole or not at all after the kill, and the next run must finish the job with exactly
the result of a run that was never interrupted.

Where to kill follows observed progress, never the clock: a reference database runs each phase
uninterrupted and counts its units (days evaluated, notices rendered, messages sent, bytes the
import adds); the crashed database's process is then SIGKILLed as soon as the database shows a
quarter, a half and three quarters of those units done while the process still runs. So the kill
falls at the same point of the work on an idle machine and on one loaded ten times over. A kill
that finds its process already finished did not land: the phase is put back as it was before
its first kill and tried again with the points halved, so every kill counted interrupted real work.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any

import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool
from sqlmodel import SQLModel

from config.vocabulary import Kind
from engine.store import models  # noqa: F401  (registers every table, for the PostgreSQL snapshot)
from notifications.kinds import REGISTRY
from tests.conftest import _postgres_url

ROOT = Path(__file__).resolve().parents[3]
PROJECTS = 800  # 9,600 nodes, 364 persons
THROUGH = "2024-06-30"
#: Where to kill, as fractions of a phase's units counted on the reference run.
KILL_AT = (1 / 4, 2 / 4, 3 / 4)
#: A phase whose process finished before a kill is redone with the points halved, at most this often.
ROUNDS = 5
#: Seconds: the upper bound for a process that is stuck. Only a hang reaches it; it decides nothing else.
LIMIT = 300.0
#: Seconds between two looks at the database while a process works (pacing, not a measure).
POLL = 0.003


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("ledger")
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "make_synthetic_ledger.py"),
            "--projects",
            str(PROJECTS),
            "--out",
            str(folder),
        ],
        check=True,
        capture_output=True,
    )
    return folder


class Child:
    """A `duban` process whose output goes to files: one that filled a pipe nobody reads would stall."""

    def __init__(self, args: list[str], cwd: Path, env: dict[str, str]) -> None:
        self.args = args
        self._out: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115  (closed by finish)
        self._err: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "engine.app.launch", *args], cwd=cwd, env=env, stdout=self._out, stderr=self._err
        )

    def running(self) -> bool:
        return self.popen.poll() is None

    def kill(self) -> None:
        """SIGKILL, unless it has exited already (then its exit status says so: 0, not -9)."""
        self.popen.kill()

    def finish(self) -> tuple[int, str, str]:
        try:
            code = self.popen.wait(timeout=LIMIT)
        except subprocess.TimeoutExpired:
            self.kill()
            self.popen.wait()
            raise AssertionError(f"duban {' '.join(self.args)} still ran after {LIMIT:.0f} s: stuck") from None
        texts = []
        for stream in (self._out, self._err):
            stream.seek(0)
            texts.append(stream.read().decode())
            stream.close()
        return code, texts[0], texts[1]


class Site:
    """One database and working folder, driven through the real command in child processes."""

    def __init__(self, url: str, folder: Path, schema: str | None = None, admin: sa.Engine | None = None) -> None:
        self.url, self.folder, self.schema, self.admin = url, folder, schema, admin
        folder.mkdir(parents=True, exist_ok=True)
        self.path = Path(url.removeprefix("sqlite:///")) if url.startswith("sqlite") else None
        self.env = {
            **os.environ,
            "DUBAN_DATABASE_URL": url,
            "DUBAN_TODAY": "2024-11-01",
            "DUBAN_ACTOR": "tester",
            "PYTHONPATH": str(ROOT),
        }
        # SQLite: a connection per look, so none stays open between runs (the last to close removes the WAL).
        self.engine = sa.create_engine(url, poolclass=NullPool) if self.path else sa.create_engine(url)

    def start(self, *args: str) -> Child:
        return Child(list(args), self.folder, self.env)

    def run(self, *args: str) -> str:
        code, out, err = self.start(*args).finish()
        assert code == 0, f"duban {' '.join(args)} exited {code}: {err}"
        return out

    def scalar(self, sql: str) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(sa.text(sql)).scalar()

    def execute(self, sql: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(sa.text(sql))

    def count(self, sql: str) -> int:
        return int(self.scalar(sql))

    def strikes(self) -> list[dict[str, Any]]:
        return [{k: v for k, v in s.items() if k != "id"} for s in json.loads(self.run("strikes", "--json"))]

    def evaluated(self) -> int:
        return self.count("SELECT count(*) FROM evaluation_day")

    def rendered(self) -> int:
        return self.count("SELECT count(*) FROM notice WHERE rendered_at IS NOT NULL")

    def sent(self) -> int:
        return self.count("SELECT count(*) FROM outbox WHERE status = 'sent'")

    def evaluate(self) -> list[str]:
        return ["evaluate", "--through", THROUGH, *([] if self.evaluated() else ["--from", "2024-05-01"])]

    def verify(self) -> dict[str, Any]:
        result = json.loads(self.run("audit", "verify", "--json"))
        assert result["ok"], result["problem"]
        return result

    # What an open transaction has put on disk so far: how far an import has got before it commits.

    def size(self) -> int:
        """Bytes of the database's tables and indexes (SQLite: pages, committed or in the WAL)."""
        if self.path:
            with self.engine.connect() as conn:
                return int(
                    conn.exec_driver_sql("PRAGMA page_count").scalar()
                    * conn.exec_driver_sql("PRAGMA page_size").scalar()
                )
        return self.written()

    def written(self) -> int:
        """Bytes written to disk, committed or not (the import's kill_import says why that is its progress)."""
        if self.path:
            wal = self.path.with_name(self.path.name + "-wal")
            return wal.stat().st_size if wal.exists() else 0
        return int(
            self.scalar(
                "SELECT coalesce(sum(pg_relation_size(c.oid)), 0) FROM pg_class c "
                f"JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = '{self.schema}'"
            )
        )

    def settle(self) -> None:
        """SQLite: fold the WAL into the database and empty it (nothing else has the file open between runs)."""
        if self.path:
            conn = sqlite3.connect(self.path)
            try:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                conn.close()

    # A phase redone from its start: the database and the working folder as they were.

    def snapshot(self) -> None:
        keep = self.folder.with_name(self.folder.name + "-snapshot")
        shutil.rmtree(keep, ignore_errors=True)
        shutil.copytree(self.folder, keep / "folder")
        if self.path:
            self.settle()
            shutil.copyfile(self.path, keep / "db")
            return
        assert self.admin is not None
        with self.admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{self.schema}_snapshot" CASCADE'))
            conn.execute(sa.text(f'CREATE SCHEMA "{self.schema}_snapshot"'))
            for table in self._tables(conn):
                conn.execute(
                    sa.text(f'CREATE TABLE "{self.schema}_snapshot"."{table}" AS TABLE "{self.schema}"."{table}"')
                )

    def restore(self) -> None:
        keep = self.folder.with_name(self.folder.name + "-snapshot")
        shutil.rmtree(self.folder)
        shutil.copytree(keep / "folder", self.folder)
        if self.path:
            for leftover in (self.path.with_name(self.path.name + s) for s in ("-wal", "-shm")):
                leftover.unlink(missing_ok=True)
            shutil.copyfile(keep / "db", self.path)
            return
        assert self.admin is not None
        with self.admin.begin() as conn:
            tables = self._tables(conn)
            conn.execute(sa.text("TRUNCATE " + ", ".join(f'"{self.schema}"."{t}"' for t in tables)))
            for table in tables:  # parents before children; sequences only move on, as after a crash
                conn.execute(
                    sa.text(f'INSERT INTO "{self.schema}"."{table}" SELECT * FROM "{self.schema}_snapshot"."{table}"')
                )

    def _tables(self, conn: sa.Connection) -> list[str]:
        order = {t.name: i for i, t in enumerate(SQLModel.metadata.sorted_tables)}
        names = (
            conn.execute(sa.text("SELECT tablename FROM pg_tables WHERE schemaname = :s"), {"s": self.schema})
            .scalars()
            .all()
        )
        return sorted(names, key=lambda name: (order.get(name, len(order)), name))


def _sites(backend: str, tmp_path: Path) -> Iterator[tuple[Site, Site]]:
    if backend == "sqlite":
        sites = (
            Site(f"sqlite:///{tmp_path / 'ref.db'}", tmp_path / "ref"),
            Site(f"sqlite:///{tmp_path / 'crash.db'}", tmp_path / "crash"),
        )
        try:
            yield sites
        finally:
            for site in sites:
                site.engine.dispose()
        return
    base = _postgres_url()
    if not base:
        pytest.skip("PostgreSQL tests need DUBAN_TEST_POSTGRES_URL")
    schemas = [f"crash_{uuid.uuid4().hex[:10]}" for _ in range(2)]
    admin = sa.create_engine(base)
    with admin.begin() as conn:
        for schema in schemas:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    pg_sites = tuple(Site(f"{base}?options=-csearch_path%3D{s}", tmp_path / s, s, admin) for s in schemas)
    try:
        yield pg_sites  # type: ignore[misc]
    finally:
        for site in pg_sites:
            site.engine.dispose()
        with admin.begin() as conn:
            for schema in schemas:
                conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}_snapshot" CASCADE'))
                conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _kill_when(site: Site, args: Iterable[str], reached: Callable[[], bool]) -> bool:
    """Run ``duban args`` and SIGKILL it once ``reached()`` is seen true while it runs; return whether it was killed.

    ``reached`` looks at the database or its files, never at a clock. False means the process
    finished first (it was done before the point was seen, or between the look and the signal).
    """
    child = site.start(*args)
    deadline = time.monotonic() + LIMIT
    try:
        while child.running():
            if reached():
                child.kill()
                break
            assert time.monotonic() < deadline, (
                f"duban {' '.join(child.args)} did not reach its kill point in {LIMIT:.0f} s: stuck"
            )
            time.sleep(POLL)
    finally:
        if child.running():  # only when the loop failed
            child.kill()
        code, _out, err = child.finish()
    assert code in (0, -signal.SIGKILL), f"duban {' '.join(child.args)} failed on its own (exit {code}): {err}"
    return code == -signal.SIGKILL


def _every_point(site: Site, phase: str, kill: Callable[[int, float], bool]) -> int:
    """Kill the phase's process at each point of KILL_AT in turn; return how many kills interrupted its work.

    ``kill(point, fraction)`` starts one process, kills it when that fraction of the phase's units
    is seen done, checks what it left, and says whether the kill interrupted work. A process that
    finished first leaves nothing to interrupt: the phase is put back as it was and redone with the
    points halved (still mid-work on any machine), so the count is always every point.
    """
    site.snapshot()
    scale = 1.0
    for round_ in range(1, ROUNDS + 1):
        # all() stops at the first kill that found its process finished.
        if all(kill(point, fraction * scale) for point, fraction in enumerate(KILL_AT)):
            print(f"{phase}: every kill landed in round {round_}")  # shown by pytest -rP
            return len(KILL_AT)
        print(f"{phase}: a process finished before its kill; phase redone with the points halved")
        site.restore()
        scale /= 2
    pytest.fail(f"{phase}: in {ROUNDS} rounds a process always finished before its kill point was seen")


def _counted(
    site: Site,
    args: list[str],
    done: Callable[[], int],
    total: int,
    fraction: float,
    under_way: Callable[[], Callable[[], bool]] | None = None,
) -> bool:
    """Kill a run once ``done()`` — units committed, seen in the database — reaches the fraction of ``total``.

    The point is at least one unit past where this run starts, so the kill falls in this run's own
    work. With ``under_way`` (made before the run starts, so it can tell leftovers of an earlier
    kill from this run's) the kill waits further, until the next unit is seen half done. The kill
    interrupted the work if the process was killed with units still to do.
    """
    goal = max(round(total * fraction), done() + 1)
    if goal >= total:
        return False  # nothing left to interrupt before the last unit
    midway = under_way() if under_way else None
    killed = _kill_when(site, args, lambda: done() >= goal and (midway is None or midway()))
    left = done()
    where = "midway through the next unit" if midway else "after it"
    print(
        f"{args[0]}: kill at unit {goal} of {total} ({where}) {'landed' if killed else 'found it finished'}, "
        f"{left} done"
    )
    return killed and left < total


def _rendering(site: Site) -> Callable[[], bool]:
    """A notice's files are on disk, its rendering not yet committed: a kill now falls between the two."""
    folder = site.folder / "out" / "notices"

    def on_disk() -> set[int]:
        return {int(p.name[:5]) for p in folder.iterdir() if p.name[:5].isdigit()} if folder.exists() else set()

    def committed() -> set[int]:
        with site.engine.connect() as conn:
            return set(conn.execute(sa.text("SELECT id FROM notice WHERE rendered_at IS NOT NULL")).scalars())

    earlier = on_disk() - committed()  # left by an earlier kill: this run renders them again

    def seen() -> bool:
        files = on_disk()  # the files first: a notice committed after this look is not taken for one in progress
        return bool(files - committed() - earlier)

    return seen


def _sending(site: Site, delivered: bool) -> Callable[[], bool]:
    """A message is claimed (``sending``) and not yet recorded; with ``delivered``, its file is already in the drop.

    The second is the window of at-least-once delivery: sent, not recorded, so sent again after the lease.
    """
    drop = site.folder / "out" / "outbox"

    def files() -> set[str]:
        return {p.name for p in drop.iterdir()} if drop.exists() else set()

    def claimed() -> dict[int, str]:
        with site.engine.connect() as conn:
            return dict(conn.execute(sa.text("SELECT id, key FROM outbox WHERE status = 'sending'")).all())

    earlier = set(claimed())  # left by an earlier kill: this run takes them over first

    def seen() -> bool:
        there = files()  # the files first: a message recorded after this look is not taken for one in flight
        return any(
            row not in earlier and (not delivered or key.replace(":", "_") + ".txt" in there)
            for row, key in claimed().items()
        )

    return seen


def _rendered_whole(site: Site) -> None:
    """Every notice marked rendered has all its files and its outbox row; no half-written file has a real name."""
    notices = site.folder / "out" / "notices"
    files = {p.name for p in notices.iterdir()} if notices.exists() else set()
    assert all(".tmp" in f for f in files if f.startswith(".")), "only temporary files may be partial"
    with site.engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT n.id, n.kind, p.person_id, n.payload, (SELECT count(*) FROM outbox o WHERE o.notice_id = n.id) "
                "FROM notice n LEFT JOIN person p ON p.id = n.person_pk WHERE n.rendered_at IS NOT NULL"
            )
        ).all()
    for notice_id, kind, person_id, payload, queued in rows:
        body = json.loads(payload) if isinstance(payload, str) else (payload or {})
        # A decision awaiting the meeting is a draft: its files say so, and it is not sent to the person.
        draft = REGISTRY[Kind(kind)].drafted and not body.get("final")
        stem = f"{notice_id:05d}-{kind}-{person_id or 'none'}{'-草稿' if draft else ''}"
        assert {f"{stem}.md", f"{stem}.docx"} <= files, f"notice {notice_id} marked rendered without its files"
        assert queued == (0 if draft else 1), f"notice {notice_id} rendered but queued {queued} times"


def _delivered_whole(site: Site) -> None:
    """Every message recorded as sent was delivered; one whose sender died mid-send is taken over after its lease."""
    drop = site.folder / "out" / "outbox"
    delivered = {p.name for p in drop.iterdir()} if drop.exists() else set()
    with site.engine.connect() as conn:
        sent = conn.execute(sa.text("SELECT key FROM outbox WHERE status = 'sent'")).scalars().all()
    for key in sent:
        assert key.replace(":", "_") + ".txt" in delivered, f"{key} recorded as sent but not delivered"
    # The lease of a message whose sender died mid-send passes (here: made to pass) and the next run takes it over.
    past = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S")
    past += "+00:00" if site.url.startswith("postgresql") else ""
    site.execute(f"UPDATE outbox SET next_attempt_at = '{past}' WHERE status = 'sending'")


# Only the moment of recording differs between two runs (and may cross a minute).
_ID = re.compile(r"记录：[0-9-]{10} [0-9:]{5}")


def _without_times(names: Iterable[str]) -> list[str]:
    return sorted(_ID.sub("记录：#", name) for name in names)


def _documents(site: Site) -> list[str]:
    folder = site.folder / "out" / "notices"
    names = _without_times(p.name for p in folder.iterdir())
    texts = _without_times(p.read_text(encoding="utf-8") for p in folder.glob("*.md"))
    return names + texts


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_killed_runs_leave_whole_units_and_resume_exactly(backend: str, tmp_path: Path, ledger: Path) -> None:
    gen = _sites(backend, tmp_path)
    reference, crash = next(gen)
    try:
        _scenario(reference, crash, ledger)
    finally:
        gen.close()


def _scenario(reference: Site, crash: Site, ledger: Path) -> None:
    landed = 0
    for site in (reference, crash):
        site.run("init")

    # 1. The import: one transaction, so after a kill there are no nodes or all of them.
    importing = ("import", "ledger", str(ledger), "--as-of", "2024-04-30")
    before = reference.size()
    reference.run(*importing)
    added = reference.size() - before  # what the import's transaction writes, at the least
    nodes = reference.count("SELECT count(*) FROM node")
    assert nodes == PROJECTS * 12

    def kill_import(_point: int, fraction: float) -> bool:
        # The import is invisible until it commits, so its progress is read from what it has put on disk:
        # on SQLite the WAL (taken empty) holds the open transaction's pages — spilt from the page cache
        # while it works, then the rest at commit — and nothing else writes; on PostgreSQL the tables'
        # and indexes' files grow as its rows go in, committed or not. Both are the transaction's own
        # work, not time: on any machine the kill falls after that share of the pages is written.
        crash.settle()
        start = crash.written()
        killed = _kill_when(crash, importing, lambda: crash.written() - start >= added * fraction)
        there = crash.count("SELECT count(*) FROM node")
        assert there in (0, nodes), f"a killed import left {there} of {nodes} nodes"
        print(
            f"import: kill at {added * fraction:,.0f} of {added:,} bytes {'landed' if killed else 'found it finished'}"
            f", {there} nodes"
        )
        return killed and there == 0

    landed += _every_point(crash, "import", kill_import)
    crash.run(*importing)
    assert crash.count("SELECT count(*) FROM node") == nodes
    crash.verify()

    # 2. The evaluation: each day whole; the days evaluated so far hold exactly the reference's strikes.
    reference.run(*reference.evaluate())
    expected = reference.strikes()
    assert expected, "the scenario must produce strikes"
    days = reference.evaluated()

    def kill_evaluation(_point: int, fraction: float) -> bool:
        # A day leaves no trace outside its transaction until it commits, and the next day's begins
        # at once: killed after the k-th day is seen committed, the process is inside day k + 1.
        killed = _counted(crash, crash.evaluate(), crash.evaluated, days, fraction)
        crash.verify()  # a kill never leaves a transaction half-sealed
        last = crash.scalar("SELECT max(day) FROM evaluation_day")
        if last is not None:
            last_day = str(last)[:10]
            assert crash.strikes() == [s for s in expected if s["detected_on"] <= last_day]
        return killed

    landed += _every_point(crash, "evaluate", kill_evaluation)
    crash.run(*crash.evaluate())
    assert crash.strikes() == expected

    # 3. Rendering: each notice rendered with all its files and its outbox row, or not at all.
    render = ["notices", "render", "--out", "out", "--format", "md", "--format", "docx"]
    reference.run(*render)
    notices = reference.rendered()

    def kill_render(point: int, fraction: float) -> bool:
        # The first kill follows a notice's commit; the others fall between a notice's files and its commit.
        killed = _counted(
            crash, render, crash.rendered, notices, fraction, None if point == 0 else lambda: _rendering(crash)
        )
        _rendered_whole(crash)
        return killed

    landed += _every_point(crash, "render", kill_render)
    crash.run(*render)
    _rendered_whole(crash)
    # Same documents, numbers included: ids are handed out gapless, so a killed run burns none.
    assert _documents(crash) == _documents(reference)

    # 4. Delivery: each message sent and recorded, or still due; after the lease, the next run sends the rest.
    reference.run("deliver")
    messages = reference.sent()
    sent_ref = _without_times(p.name for p in (reference.folder / "out" / "outbox").iterdir())

    def kill_delivery(point: int, fraction: float) -> bool:
        # After a message is recorded sent; after one is claimed, before it is sent; after it is sent,
        # before that is recorded.
        killed = _counted(
            crash,
            ["deliver"],
            crash.sent,
            messages,
            fraction,
            None if point == 0 else lambda: _sending(crash, delivered=point == 2),
        )
        _delivered_whole(crash)
        return killed

    landed += _every_point(crash, "deliver", kill_delivery)
    crash.run("deliver")
    assert crash.scalar("SELECT count(*) FROM outbox WHERE status <> 'sent'") == 0
    # A sender killed mid-write leaves only its hidden temporary file (.name.xxxx.partial), never a half
    # message under a real name; the message itself was sent again whole.
    dropped = [p.name for p in (crash.folder / "out" / "outbox").iterdir()]
    assert all(name.endswith(".partial") for name in dropped if name.startswith(".")), dropped
    assert _without_times(name for name in dropped if not name.startswith(".")) == sent_ref

    assert crash.strikes() == expected
    crash.verify()
    # Each kill is sent only while the process runs, after its progress was seen, and a kill that
    # found it finished is retried: every one interrupted real work.
    assert landed == len(KILL_AT) * 4, f"only {landed} kills interrupted a process at work"
