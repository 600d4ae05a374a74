"""Shared fixtures: a real database per test, the real command line, a controlled clock."""

from __future__ import annotations

import csv
import json
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, settings

from engine.app.cli import run

#: The project's root (config/, docs/, engine/ … beside tests/).
ROOT = Path(__file__).resolve().parents[1]

# Tests run in a deliberately non-UTC zone, with "today" fixed unless a test moves it.
os.environ["TZ"] = "Asia/Shanghai"
time.tzset()  # without it the process keeps the zone it started in, and the setting above is only decoration
TODAY = "2024-12-31"
POSTGRES_URL_ENV = "DUBAN_TEST_POSTGRES_URL"

# Hypothesis times every example (200 ms by default) and its data generation: on a loaded machine a
# correct example would fail on the clock. No deadline, no "too slow" check; a test may still set more.
settings.register_profile("duban", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("duban")


@dataclass
class Result:
    """One command's outcome."""

    code: int
    out: str
    err: str

    def json(self) -> Any:
        """Parse stdout as the single JSON document it must be."""
        return json.loads(self.out)


class Duban:
    """Runs `duban` commands in-process against one test database, as the CLI entry point does."""

    def __init__(self, url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
        self.url = url
        self._capsys = capsys
        self._monkeypatch = monkeypatch
        monkeypatch.setenv("DUBAN_DATABASE_URL", url)
        monkeypatch.setenv("DUBAN_TODAY", TODAY)
        monkeypatch.setenv("DUBAN_ACTOR", "tester")
        monkeypatch.setenv("COLUMNS", "200")

    def today(self, day: str) -> None:
        """Move the clock's "today"."""
        self._monkeypatch.setenv("DUBAN_TODAY", day)

    def __call__(self, *args: str, ok: bool = True) -> Result:
        """Run one command; by default it must succeed."""
        self._capsys.readouterr()
        code = run([str(a) for a in args])
        captured = self._capsys.readouterr()
        result = Result(code, captured.out, captured.err)
        if ok and code != 0:
            raise AssertionError(f"duban {' '.join(map(str, args))} exited {code}:\n{captured.err}\n{captured.out}")
        return result

    def json(self, *args: str) -> Any:
        """Run a --json command and parse its output."""
        return self(*args, "--json").json()

    def dump(self) -> dict[str, list[tuple[Any, ...]]]:
        """Return every row of every table: to prove a refused command changed nothing."""
        engine = sa.create_engine(self.url)
        try:
            meta = sa.MetaData()
            meta.reflect(engine)
            with engine.connect() as conn:
                return {
                    name: sorted(map(tuple, conn.execute(sa.select(table)).all()), key=repr)
                    for name, table in sorted(meta.tables.items())
                }
        finally:
            engine.dispose()


def _postgres_url() -> str | None:
    url = os.environ.get(POSTGRES_URL_ENV)
    if not url and os.environ.get("CI"):
        pytest.fail(f"{POSTGRES_URL_ENV} must be set under CI: the PostgreSQL tests may not skip there")
    return url


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    """The database backend of a test (parametrised wider by tests that run on both)."""
    return str(request.param)


@pytest.fixture
def database_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database of the test's backend."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'duban.db'}"
        return
    base = _postgres_url()
    if not base:
        pytest.skip(
            f"PostgreSQL tests need {POSTGRES_URL_ENV} (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)"
        )
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base)
    try:
        with admin.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    except sa.exc.OperationalError as exc:
        pytest.fail(f"PostgreSQL at {base} does not answer: {exc}")
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def duban(
    database_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Duban:
    """The command line on an initialised empty database, run from a scratch directory."""
    monkeypatch.chdir(tmp_path)
    runner = Duban(database_url, capsys, monkeypatch)
    runner("init")
    return runner


PERSON_HEADER = ["person_id", "name", "unit", "phone", "email"]
PROJECT_HEADER = [
    "project_code",
    "name",
    "district",
    "phase",
    "batch",
    "status",
    "responsible_person_id",
    "contractor",
    "households",
]
NODE_HEADER = ["project_code", "node_code", "name", "planned_date", "completed_on"]


def write_ledger(
    folder: Path,
    persons: list[list[Any]] | None = None,
    projects: list[list[Any]] | None = None,
    nodes: list[list[Any]] | None = None,
    headers: dict[str, list[str]] | None = None,
) -> Path:
    """Write a CSV ledger folder (only the tables given); rows are lists in header order."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    headers = headers or {}
    for name, header, rows in (
        ("persons", PERSON_HEADER, persons),
        ("projects", PROJECT_HEADER, projects),
        ("nodes", NODE_HEADER, nodes),
    ):
        if rows is None:
            continue
        with (folder / f"{name}.csv").open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(headers.get(name, header))
            writer.writerows(["" if v is None else v for v in row] for row in rows)
    return folder


def person(pid: str, name: str | None = None) -> list[Any]:
    """A persons row."""
    return [pid, name or f"人员{pid}", "市住建局", "13800000000", f"{pid.lower()}@example.cn"]


def project(code: str, responsible: str | None, status: str = "在建") -> list[Any]:
    """A projects row."""
    return [code, f"{code}小区", "滨河片区", "综合改造一期", "2024-07", status, responsible, "某建设集团", 100]


def node(project_code: str, code: str, planned: str, completed: str | None = None) -> list[Any]:
    """A nodes row."""
    return [project_code, code, f"节点{code}", planned, completed]
