"""`duban schedule`: catch-up in order, exactly once across processes, leases, a clean stop."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.conftest import Duban, node, person, project, write_ledger
from tests.engine.evaluation.test_concurrent_runs import big_ledger, summary


def _rows(url: str, sql: str) -> list[tuple[object, ...]]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            # Dates come back as text from SQLite and as dates from PostgreSQL: compare as text.
            return [
                tuple(str(v) if hasattr(v, "isoformat") else v for v in r) for r in conn.execute(sa.text(sql)).all()
            ]
    finally:
        engine.dispose()


def _small(duban: Duban, tmp_path: Path) -> None:
    duban(
        "import",
        "ledger",
        write_ledger(
            tmp_path / "l",
            [person("P1"), person("P2")],
            [project("A", "P1"), project("B", "P2")],
            [node("A", "N1", "2024-07-08"), node("A", "N2", "2024-07-12"), node("B", "N1", "2024-07-13", "2024-07-13")],
        ),
    )


def test_schedule_catches_up_every_missed_business_date_in_order(duban: Duban, tmp_path: Path) -> None:
    _small(duban, tmp_path)
    duban._monkeypatch.setenv("DUBAN_OUT_DIR", str(tmp_path / "out"))
    duban.today("2024-07-10")
    duban("schedule", "--once")
    assert _rows(duban.url, "select job, business_date from job_run order by id") == [
        ("evaluate", _d("2024-07-10")),
        ("reminders", _d("2024-07-10")),
        ("daily_report", _d("2024-07-10")),
        ("notices", _d("2024-07-10")),
    ]
    duban.today("2024-07-16")  # the machine was off for six days
    duban("schedule", "--once")
    done = _rows(duban.url, "select job, business_date, status from job_run where id > 4 order by id")
    assert [d for _job, d, _s in done if _job == "evaluate"] == [_d(f"2024-07-{n}") for n in range(11, 17)]
    assert ("agenda", _d("2024-07-12"), "done") in done  # Friday before the Monday 07-15 meeting
    assert ("weekly_bulletin", _d("2024-07-15"), "done") in done
    assert {status for _j, _d2, status in done} == {"done"}
    assert (tmp_path / "out" / "agendas" / "agenda-2024-07-15.docx").exists()
    assert (tmp_path / "out" / "bulletins" / "bulletin-2024-07-08.docx").exists()
    assert len(list((tmp_path / "out" / "daily").glob("*.md"))) == 7
    assert [s["planned_date"] for s in duban.json("strikes")] == ["2024-07-08", "2024-07-12"]
    # The day's warnings went out on their day, after its evaluation and before its daily check, which
    # lists them; the days caught up after the downtime are past, and a late warning is never sent.
    assert _rows(duban.url, "select remind_on, threshold, planned_date from reminder order by id") == [
        ("2024-07-10", 3, "2024-07-13"),  # Saturday's node, three days before
    ]
    assert "七、今日发出的预警（1 个节点）" in (tmp_path / "out" / "daily" / "daily-2024-07-10.md").read_text("utf-8")
    assert "预警" not in (tmp_path / "out" / "daily" / "daily-2024-07-12.md").read_text("utf-8")
    caught_up = _rows(duban.url, "select status from job_run where job = 'reminders' and business_date = '2024-07-12'")
    assert caught_up == [("done",)]
    assert (tmp_path / "out" / "outbox" / "reminder-digest_2024-07-10_file.txt").exists()
    again = duban("schedule", "--once")
    assert again.code == 0 and len(_rows(duban.url, "select id from job_run")) == len(done) + 4
    runs = duban.json("runs")
    assert runs[0]["business_date"] == "2024-07-16" and runs[0]["status"] == "done"


def _d(text: str) -> str:
    return text


def test_a_job_whose_holder_died_is_taken_over(duban: Duban, tmp_path: Path) -> None:
    _small(duban, tmp_path)
    duban._monkeypatch.setenv("DUBAN_OUT_DIR", str(tmp_path / "out"))
    duban.today("2024-07-10")
    import datetime as dt
    from zoneinfo import ZoneInfo

    from engine.store.db import make_engine
    from engine.store.models import JobRun

    engine = make_engine(duban.url)  # written the way duban writes times, as a crashed holder left it
    long_ago = dt.datetime(2024, 7, 10, 7, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    with engine.begin() as conn:
        conn.execute(
            sa.insert(JobRun.__table__).values(
                job="evaluate",
                business_date=dt.date(2024, 7, 10),
                status="running",
                holder="dead:1",
                attempts=1,
                started_at=long_ago,
                heartbeat_at=long_ago,
                detail={},
            )
        )
    engine.dispose()
    duban("schedule", "--once")
    assert _rows(duban.url, "select status, attempts from job_run where job = 'evaluate'") == [("done", 2)]


def test_a_job_held_by_a_live_scheduler_is_left_alone(duban: Duban, tmp_path: Path) -> None:
    _small(duban, tmp_path)
    duban.today("2024-07-10")
    import datetime as dt

    from config import load_settings
    from engine.app.scheduler import claim
    from engine.context import App

    app = App(load_settings(duban.url))
    assert claim(app, "evaluate", dt.date(2024, 7, 10), "first") is not None
    assert claim(app, "evaluate", dt.date(2024, 7, 10), "second") is None
    app.engine.dispose()


def _scheduler(url: str, today: str, out: Path, *args: str, stderr: Any = subprocess.PIPE) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "DUBAN_DATABASE_URL": url,
        "DUBAN_TODAY": today,
        "DUBAN_OUT_DIR": str(out),
        "DUBAN_ACTOR": "scheduler",
    }
    return subprocess.Popen(
        [sys.executable, "-c", "from engine.app.launch import main; main()", "schedule", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
    )


def test_two_schedulers_at_once_run_every_job_exactly_once(duban: Duban, tmp_path: Path) -> None:
    duban("import", "ledger", big_ledger(tmp_path / "l", projects=120))
    duban.today("2024-07-20")
    duban("evaluate", "--through", "2024-07-05")  # history before the schedulers start
    procs = [_scheduler(duban.url, "2024-08-20", tmp_path / f"out{i}", "--once") for i in range(3)]
    logs = [p.communicate(timeout=300)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], logs
    done = Counter()
    for text in logs:
        for line in text.splitlines():
            if '"status": "done"' in line:
                job = line.split('"job": "')[1].split('"')[0]
                day = line.split('"business_date": "')[1].split('"')[0]
                done[(job, day)] += 1
    assert done and max(done.values()) == 1, [k for k, v in done.items() if v > 1]
    rows = _rows(duban.url, "select job, business_date, status from job_run")
    failures = [line for text in logs for line in text.splitlines() if '"status": "failed"' in line]
    assert not failures, failures
    assert len(rows) == len(set((j, d) for j, d, _s in rows)) == len(done)
    assert {s for _j, _d2, s in rows} == {"done"}
    # The warnings of the schedulers' today went out once (the days caught up are past: none for them),
    # one message per node warned and one digest, however the three raced.
    assert done[("reminders", "2024-08-20")] == 1
    ((reminders, days, nodes),) = _rows(
        duban.url, "select count(*), count(distinct remind_on), count(distinct node_id) from reminder"
    )
    assert reminders > 0 and days == 1
    assert _rows(duban.url, "select count(*) from outbox where key like 'reminder:%'") == [(nodes,)]
    assert _rows(duban.url, "select key from outbox where key like 'reminder-digest:%'") == [
        ("reminder-digest:2024-08-20:file",)
    ]
    reference = Duban(f"sqlite:///{tmp_path / 'reference.db'}", duban._capsys, duban._monkeypatch)
    reference("init")
    reference("import", "ledger", tmp_path / "l")
    reference("evaluate", "--through", "2024-08-20")
    assert sorted(summary(duban.url)[1]) == sorted(summary(reference.url)[1])


def test_sigterm_stops_the_waiting_scheduler_cleanly(duban: Duban, tmp_path: Path) -> None:
    _small(duban, tmp_path)
    log = tmp_path / "scheduler.log"  # a file, read while the scheduler runs (a pipe would need a reader thread)
    with log.open("w") as sink:
        proc = _scheduler(duban.url, "2024-07-10", tmp_path / "out", stderr=sink)
    try:
        # APScheduler's "Scheduler started" comes once the catch-up is done and it waits for 07:00: watched
        # for, not slept for. The bound only ends a scheduler that is stuck.
        deadline = time.monotonic() + 120
        while "Scheduler started" not in log.read_text() and proc.poll() is None:
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        assert proc.poll() is None, log.read_text()  # it waits for the next run; it did not stop by itself
        assert _rows(duban.url, "select count(*) from job_run where status = 'done'")[0][0] == 4
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=120)  # at once in practice: a scheduler that ignored the signal would wait hours
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    err = log.read_text()
    assert proc.returncode == 0, err
    assert '"event": "stopping", "signal": "SIGTERM"' in err and '"event": "stopped"' in err
    # Stopped by the signal itself: no job had to run (the minute's delivery, 07:00's run) before it went.
    stopping = err.split('"event": "stopping"')[1]
    assert "Running job" not in stopping, stopping
    assert "Traceback" not in err


def test_the_scheduler_sends_every_minute_what_a_robot_held_back(
    duban: Duban, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import datetime as dt

    from apscheduler.schedulers.blocking import BlockingScheduler

    from config import load_settings
    from engine.app import scheduler
    from engine.context import App
    from tests.engine.delivery.test_outbox import _campaign, _config
    from tests.engine.delivery.test_robots import START, serving_robot

    jobs: dict[str, Any] = {}
    # Instead of blocking until SIGTERM: keep the jobs it would run, and return.
    monkeypatch.setattr(BlockingScheduler, "start", lambda self: jobs.update({j.id: j for j in self.get_jobs()}))
    monkeypatch.setattr(scheduler.signal, "signal", lambda *_args: None)
    with serving_robot(kind="wecom") as (robot, url):
        _config(
            duban,
            tmp_path,
            f'[duban.delivery]\nperson = ["webhook"]\n[duban.delivery.webhook]\nurl = "{url}"\nper_minute = 1\n',
        )
        duban._monkeypatch.setenv("DUBAN_OUT_DIR", str(tmp_path / "out"))
        duban._monkeypatch.setenv("DUBAN_NOW", START.isoformat())
        _campaign(duban, tmp_path)  # two notices due on 2024-07-10
        app = App(load_settings())
        scheduler.serve(app)  # catches up, renders both notices, sends one: a message a minute
        assert [a["key"] for a in robot.accepted] == ["notice:1:webhook"]
        deliver = jobs["deliver"]
        assert (deliver.trigger.interval, deliver.coalesce, deliver.max_instances) == (dt.timedelta(minutes=1), True, 1)
        duban._monkeypatch.setenv("DUBAN_NOW", (START + dt.timedelta(seconds=59)).isoformat())
        deliver.func(*deliver.args, **deliver.kwargs)
        assert len(robot.accepted) == 1  # not before the minute is over
        duban._monkeypatch.setenv("DUBAN_NOW", (START + dt.timedelta(seconds=60)).isoformat())
        deliver.func(*deliver.args, **deliver.kwargs)
        assert [a["key"] for a in robot.accepted] == ["notice:1:webhook", "notice:2:webhook"]
        assert robot.refused == []
        app.engine.dispose()
