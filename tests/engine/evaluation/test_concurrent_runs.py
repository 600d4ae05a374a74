"""Real processes: two evaluations at once never double anything; a killed run resumes exactly."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import sqlalchemy as sa

from tests.conftest import TODAY, Duban, node, person, project, write_ledger


def big_ledger(folder: Path, projects: int = 150, seed: int = 7) -> Path:
    rng = random.Random(seed)
    persons = [person(f"P{i:03}") for i in range(60)]
    rows = [project(f"X-{i:04}", f"P{i % 60:03}") for i in range(projects)]
    nodes = []
    for i in range(projects):
        for n in range(10):
            planned = 1 + rng.randrange(0, 60)
            day = f"2024-{7 + (planned - 1) // 31:02}-{(planned - 1) % 31 + 1:02}"
            late = rng.random() < 0.08
            nodes.append(node(f"X-{i:04}", f"N{n:02}", day, None if late else day))
    return write_ledger(folder, persons, rows, nodes)


def cli(url: str, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "DUBAN_DATABASE_URL": url, "DUBAN_TODAY": TODAY, "DUBAN_ACTOR": "proc"}
    return subprocess.Popen(
        [sys.executable, "-c", "from engine.app.launch import main; main()", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def summary(url: str) -> tuple[object, ...]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        days = conn.execute(sa.text("select count(*), count(distinct day) from evaluation_day")).one()
        strikes = conn.execute(
            sa.text(
                "select p.person_id, s.planned_date, s.detected_on, s.level, s.action from strike s "
                "left join person p on p.id = s.person_pk order by s.id"
            )
        ).all()
        misses = conn.execute(sa.text("select count(*), count(distinct deadline_id) from miss")).one()
    engine.dispose()
    return tuple(days), [tuple(map(str, s)) for s in strikes], tuple(misses)


def test_two_evaluations_at_once_record_everything_once(duban: Duban, tmp_path: Path) -> None:
    duban("import", "ledger", big_ledger(tmp_path / "l"))
    runs = [cli(duban.url, "evaluate", "--through", "2024-09-30", "--json") for _ in range(2)]
    outputs = [run.communicate(timeout=300) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    (rows, distinct), strikes, (misses, distinct_misses) = summary(duban.url)
    assert rows == distinct and misses == distinct_misses
    reference = Duban(f"sqlite:///{tmp_path / 'reference.db'}", duban._capsys, duban._monkeypatch)
    reference("init")
    reference("import", "ledger", tmp_path / "l")
    reference("evaluate", "--through", "2024-09-30")
    assert sorted(strikes) == sorted(summary(reference.url)[1])
    assert len(strikes) > 20


def test_a_killed_run_keeps_whole_days_and_the_next_run_finishes_exactly(duban: Duban, tmp_path: Path) -> None:
    duban("import", "ledger", big_ledger(tmp_path / "l"))
    run = cli(duban.url, "evaluate", "--through", "2024-09-30")
    engine = sa.create_engine(duban.url)
    # Killed once 10 of the 91 days are seen committed while it runs: progress, not time, picks the
    # moment, so on any machine it falls with most of the run still to do. The bound only ends a stuck run.
    deadline = time.monotonic() + 120
    try:
        while run.poll() is None:
            with engine.connect() as conn:
                if (conn.execute(sa.text("select count(*) from evaluation_day")).scalar() or 0) >= 10:
                    run.send_signal(signal.SIGKILL)
                    break
            assert time.monotonic() < deadline, "the run evaluated fewer than 10 days in 120 s"
            time.sleep(0.02)
        run.communicate(timeout=120)
    finally:
        if run.poll() is None:
            run.kill()
            run.communicate()
        engine.dispose()
    (days_before, _), _, _ = summary(duban.url)
    assert run.returncode == -signal.SIGKILL, f"the run finished its 91 days before 10 were seen ({days_before})"
    assert 10 <= days_before < 91
    duban("evaluate", "--through", "2024-09-30")
    reference = Duban(f"sqlite:///{tmp_path / 'reference.db'}", duban._capsys, duban._monkeypatch)
    reference("init")
    reference("import", "ledger", tmp_path / "l")
    reference("evaluate", "--through", "2024-09-30")
    assert summary(duban.url)[1:] == summary(reference.url)[1:]
    assert summary(duban.url)[0] == summary(reference.url)[0]
