"""Crash safety: real `duban` processes SIGKILLed at many points of real runs on a sizeable ledger.

Every unit of work — an import, one evaluated day, one rendered notice, one delivery — must be
there whole or not at all after the kill, and the next run must finish the job with exactly
the result of a run that was never interrupted. Each phase is first timed uninterrupted on a
reference database; the crashed database then has its process killed at fractions of that time.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from notifications.kinds import REGISTRY, Kind
from tests.conftest import _postgres_url

ROOT = Path(__file__).resolve().parents[3]
PROJECTS = 800  # 9,600 nodes, 364 persons
THROUGH = "2024-06-30"
KILL_AT = (0.25, 0.55, 0.85)


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("ledger")
    subprocess.run([sys.executable, str(ROOT / "scripts" / "make_synthetic_ledger.py"), "--projects", str(PROJECTS),
                    "--out", str(folder)], check=True, capture_output=True)
    return folder


class Site:
    """One database and working folder, driven through the real command in child processes."""

    def __init__(self, url: str, folder: Path) -> None:
        self.url, self.folder = url, folder
        folder.mkdir(parents=True, exist_ok=True)
        self.env = {**os.environ, "DUBAN_DATABASE_URL": url, "DUBAN_TODAY": "2024-11-01", "DUBAN_ACTOR": "tester",
                    "PYTHONPATH": str(ROOT)}

    def start(self, *args: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen([sys.executable, "-m", "engine.app.launch", *args], cwd=self.folder, env=self.env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def run(self, *args: str) -> str:
        child = self.start(*args)
        out, err = child.communicate(timeout=300)
        assert child.returncode == 0, f"duban {' '.join(args)} exited {child.returncode}: {err.decode()}"
        return out.decode()

    def killed(self, delay: float, *args: str) -> bool:
        """Run a command and SIGKILL it after ``delay`` seconds; return whether it was still running."""
        child = self.start(*args)
        time.sleep(delay)
        running = child.poll() is None
        child.send_signal(signal.SIGKILL)
        child.communicate(timeout=60)
        return running

    def scalar(self, sql: str) -> Any:
        engine = sa.create_engine(self.url)
        try:
            with engine.connect() as conn:
                return conn.execute(sa.text(sql)).scalar()
        finally:
            engine.dispose()

    def execute(self, sql: str) -> None:
        engine = sa.create_engine(self.url)
        try:
            with engine.begin() as conn:
                conn.execute(sa.text(sql))
        finally:
            engine.dispose()

    def strikes(self) -> list[dict[str, Any]]:
        return [{k: v for k, v in s.items() if k != "id"} for s in json.loads(self.run("strikes", "--json"))]

    def evaluated(self) -> int:
        return int(self.scalar("SELECT count(*) FROM evaluation_day"))

    def evaluate(self) -> list[str]:
        return ["evaluate", "--through", THROUGH, *([] if self.evaluated() else ["--from", "2024-05-01"])]

    def verify(self) -> dict[str, Any]:
        result = json.loads(self.run("audit", "verify", "--json"))
        assert result["ok"], result["problem"]
        return result


def _sites(backend: str, tmp_path: Path) -> Iterator[tuple[Site, Site]]:
    if backend == "sqlite":
        yield (Site(f"sqlite:///{tmp_path / 'ref.db'}", tmp_path / "ref"),
               Site(f"sqlite:///{tmp_path / 'crash.db'}", tmp_path / "crash"))
        return
    base = _postgres_url()
    if not base:
        pytest.skip("PostgreSQL tests need DUBAN_TEST_POSTGRES_URL")
    schemas = [f"crash_{uuid.uuid4().hex[:10]}" for _ in range(2)]
    admin = sa.create_engine(base)
    with admin.begin() as conn:
        for schema in schemas:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield tuple(Site(f"{base}?options=-csearch_path%3D{s}", tmp_path / s) for s in schemas)  # type: ignore[misc]
    finally:
        with admin.begin() as conn:
            for schema in schemas:
                conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _timed(site: Site, *args: str) -> float:
    started = time.perf_counter()
    site.run(*args)
    return time.perf_counter() - started


def _rendered_whole(site: Site) -> None:
    """Every notice marked rendered has all its files and its outbox row; no half-written file has a real name."""
    notices = site.folder / "out" / "notices"
    files = {p.name for p in notices.iterdir()} if notices.exists() else set()
    assert all(".tmp" in f for f in files if f.startswith(".")), "only temporary files may be partial"
    engine = sa.create_engine(site.url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text(
                "SELECT n.id, n.kind, p.person_id, n.payload, (SELECT count(*) FROM outbox o WHERE o.notice_id = n.id) "
                "FROM notice n LEFT JOIN person p ON p.id = n.person_pk WHERE n.rendered_at IS NOT NULL")).all()
    finally:
        engine.dispose()
    for notice_id, kind, person_id, payload, queued in rows:
        body = json.loads(payload) if isinstance(payload, str) else (payload or {})
        # A decision awaiting the meeting is a draft: its files say so, and it is not sent to the person.
        draft = REGISTRY[Kind(kind)].drafted and not body.get("final")
        stem = f"{notice_id:05d}-{kind}-{person_id or 'none'}{'-草稿' if draft else ''}"
        assert {f"{stem}.md", f"{stem}.docx"} <= files, f"notice {notice_id} marked rendered without its files"
        assert queued == (0 if draft else 1), f"notice {notice_id} rendered but queued {queued} times"


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
    took = _timed(reference, "import", "ledger", str(ledger), "--as-of", "2024-04-30")
    nodes = reference.scalar("SELECT count(*) FROM node")
    assert nodes == PROJECTS * 12
    for fraction in KILL_AT:
        landed += crash.killed(took * fraction, "import", "ledger", str(ledger), "--as-of", "2024-04-30")
        assert crash.scalar("SELECT count(*) FROM node") in (0, nodes)
        if crash.scalar("SELECT count(*) FROM node"):
            break
    if not crash.scalar("SELECT count(*) FROM node"):
        crash.run("import", "ledger", str(ledger), "--as-of", "2024-04-30")
    assert crash.scalar("SELECT count(*) FROM node") == nodes
    crash.verify()

    # 2. The evaluation: each day whole; the days evaluated so far hold exactly the reference's strikes.
    took = _timed(reference, *reference.evaluate())
    expected = reference.strikes()
    assert expected, "the scenario must produce strikes"
    for fraction in KILL_AT:
        landed += crash.killed(took * fraction, *crash.evaluate())
        crash.verify()  # a kill never leaves a transaction half-sealed
        last = crash.scalar("SELECT max(day) FROM evaluation_day")
        if last is not None:
            last_day = str(last)[:10]
            assert crash.strikes() == [s for s in expected if s["detected_on"] <= last_day]
    crash.run(*crash.evaluate())
    assert crash.strikes() == expected

    # 3. Rendering: each notice rendered with all its files and its outbox row, or not at all.
    render = ("notices", "render", "--out", "out", "--format", "md", "--format", "docx")
    took = _timed(reference, *render)
    for fraction in KILL_AT:
        landed += crash.killed(took * fraction, *render)
        _rendered_whole(crash)
    crash.run(*render)
    _rendered_whole(crash)
    # Same documents, numbers included: ids are handed out gapless, so a killed run burns none.
    assert _documents(crash) == _documents(reference)

    # 4. Delivery: each message sent and recorded, or still due; after the lease, the next run sends the rest.
    took = _timed(reference, "deliver")
    sent_ref = _without_times(p.name for p in (reference.folder / "out" / "outbox").iterdir())
    for fraction in KILL_AT:
        landed += crash.killed(took * fraction, "deliver")
        drop = crash.folder / "out" / "outbox"
        delivered = {p.name for p in drop.iterdir()} if drop.exists() else set()
        engine = sa.create_engine(crash.url)
        try:
            with engine.connect() as conn:
                sent = conn.execute(sa.text("SELECT key FROM outbox WHERE status = 'sent'")).scalars().all()
        finally:
            engine.dispose()
        for key in sent:
            assert key.replace(":", "_") + ".txt" in delivered, f"{key} recorded as sent but not delivered"
        # A message whose sender died mid-send is taken over once its lease passes (here: made to pass).
        past = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S")
        past += "+00:00" if crash.url.startswith("postgresql") else ""
        crash.execute(f"UPDATE outbox SET next_attempt_at = '{past}' WHERE status = 'sending'")
    crash.run("deliver")
    assert crash.scalar("SELECT count(*) FROM outbox WHERE status <> 'sent'") == 0
    # A sender killed mid-write leaves only its hidden temporary file (.name.xxxx.partial), never a half
    # message under a real name; the message itself was sent again whole.
    dropped = [p.name for p in (crash.folder / "out" / "outbox").iterdir()]
    assert all(name.endswith(".partial") for name in dropped if name.startswith(".")), dropped
    assert _without_times(name for name in dropped if not name.startswith(".")) == sent_ref

    assert crash.strikes() == expected
    crash.verify()
    assert landed >= len(KILL_AT) * 2, f"only {landed} kills landed while a process was still working"
