"""`duban schedule`: the daily jobs, run once per business date across every process.

APScheduler only wakes the process up (at the daily time, and every minute to send what the
outbox held back for a robot's pace or block); which process does a job, and that it is done once,
is decided by the database: a `job_run` row per (job, business date) claimed with
INSERT … ON CONFLICT DO NOTHING RETURNING, and taken over by compare-and-swap when its holder
stopped sending heartbeats (a lease). Started late, the scheduler first catches up every
business date whose time has passed, in order.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlmodel import col

from config.calendar import HolidayTableMissing, agenda_day, meeting_dates
from config.vocabulary import JobStatus
from engine.context import App
from engine.store.db import insert_new, reading, rowcount, transaction
from engine.store.models import EvaluationDay, JobRun, table_of

log = logging.getLogger("duban.scheduler")
JOBS = ("evaluate", "reminders", "daily_report", "weekly_bulletin", "agenda", "notices")
#: Between the daily runs, the outbox is looked at this often (what a robot's pace or block held back).
DELIVER_EVERY_MINUTES = 1


class Stopped(Exception):
    """The scheduler was asked to stop; the job in progress ends between two units of work."""


def holder_id() -> str:
    """Name this process in the run history: host, pid and a random tag."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def claim(app: App, job: str, day: dt.date, holder: str) -> int | None:
    """Claim a job for a business date; return the run id, or None when it is done or held."""
    now = app.now()
    with transaction(app.engine) as session:
        new_id = insert_new(
            session,
            table_of(JobRun),
            ["job", "business_date"],
            {
                "job": job,
                "business_date": day,
                "status": JobStatus.RUNNING,
                "holder": holder,
                "attempts": 1,
                "started_at": now,
                "heartbeat_at": now,
                "detail": {},
            },
        )
        if new_id is not None:
            return new_id
        row = session.scalars(select(JobRun).where(col(JobRun.job) == job, col(JobRun.business_date) == day)).one()
        lease = dt.timedelta(minutes=app.settings.lease_minutes)
        if row.status == JobStatus.DONE or (row.status == JobStatus.RUNNING and row.heartbeat_at > now - lease):
            return None
        # Failed, or its holder died: take it over, unless another process just did.
        taken = rowcount(
            session.execute(
                update(table_of(JobRun))
                .where(
                    table_of(JobRun).c.id == row.id,
                    table_of(JobRun).c.status == row.status,
                    table_of(JobRun).c.heartbeat_at == row.heartbeat_at,
                )
                .values(
                    status=JobStatus.RUNNING, holder=holder, heartbeat_at=now, attempts=row.attempts + 1, error=None
                )
            )
        )
        return row.id if taken == 1 else None


def heartbeat(app: App, run_id: int) -> None:
    """Tell the other schedulers this job's holder is alive."""
    with transaction(app.engine) as session:
        session.execute(update(table_of(JobRun)).where(table_of(JobRun).c.id == run_id).values(heartbeat_at=app.now()))


def finish(app: App, run_id: int, status: str, detail: dict[str, Any], error: str | None = None) -> None:
    """Record how a job ended."""
    with transaction(app.engine) as session:
        session.execute(
            update(table_of(JobRun))
            .where(table_of(JobRun).c.id == run_id)
            .values(status=status, finished_at=app.now(), heartbeat_at=app.now(), detail=detail, error=error)
        )


def _jobs_for(app: App, day: dt.date) -> list[str]:
    # The warnings go out after the evaluation and before the daily check, which lists them.
    jobs = ["evaluate", "reminders", "daily_report"]
    if day.weekday() == 0:
        jobs.append("weekly_bulletin")
    if _meeting_prepared_on(app, day) is not None:
        jobs.append("agenda")
    jobs.append("notices")
    return jobs


def _meeting_prepared_on(app: App, day: dt.date) -> dt.date | None:
    # The agenda of a meeting is prepared on the working day before it.
    try:
        upcoming = meeting_dates(
            app.policy.meetings, day + dt.timedelta(days=1), day + dt.timedelta(days=14), app.calendar
        )
        return next((m for m in upcoming if agenda_day(m, app.calendar) == day), None)
    except HolidayTableMissing as exc:
        log.warning(json.dumps({"event": "calendar", "error": str(exc)}, ensure_ascii=False))
        return None


def _run(app: App, job: str, day: dt.date, run_id: int, stop: threading.Event) -> dict[str, Any]:
    from config.vocabulary import Format
    from engine.evaluation.daily import evaluate
    from engine.paperwork.documents import render_notices, write_agenda, write_daily, write_weekly

    out = app.settings.out_dir
    if job == "evaluate":

        def beat(*_args: object) -> None:
            if stop.is_set():
                raise Stopped
            heartbeat(app, run_id)

        result = evaluate(app, day, progress=_Progress(beat))
        return {
            "evaluated_days": len(result.evaluated_days),
            "new_strikes": len(result.new_strikes),
            "misses": result.misses,
            "warnings": result.warnings,
        }
    if job == "reminders":
        from engine.paperwork.reminders import remind

        return remind(app, day).as_dict()
    if job == "daily_report":
        written = [
            write_daily(app, day, fmt, out / "daily" / f"daily-{day.isoformat()}.{fmt.value}")[1]
            for fmt in (Format.MD, Format.HTML)
        ]
        return {"files": len(written)}
    if job == "weekly_bulletin":
        week = day - dt.timedelta(days=7)
        for fmt in Format:
            write_weekly(app, week, fmt, out / "bulletins" / f"bulletin-{week.isoformat()}.{fmt.value}")
        _send_to_office(app, f"bulletin:{week.isoformat()}", out / "bulletins" / f"bulletin-{week.isoformat()}")
        return {"week_of": week.isoformat()}
    if job == "agenda":
        meeting = _meeting_prepared_on(app, day)
        assert meeting is not None
        for fmt in Format:
            write_agenda(app, meeting, fmt, out / "agendas" / f"agenda-{meeting.isoformat()}.{fmt.value}", app.calendar)
        _send_to_office(app, f"agenda:{meeting.isoformat()}", out / "agendas" / f"agenda-{meeting.isoformat()}")
        return {"meeting": meeting.isoformat()}
    return {"files": len(render_notices(app, out, calendar=app.calendar))}


def _send_to_office(app: App, key: str, stem: Path) -> None:
    from engine.delivery.outbox import enqueue_office

    text = stem.with_suffix(".md").read_text(encoding="utf-8")
    enqueue_office(app, key, text.splitlines()[0].lstrip("# "), text, stem.with_suffix(".docx"))


class _Progress:
    """Adapts evaluate's progress calls into heartbeats and stop checks between days."""

    def __init__(self, beat: Callable[[], None]) -> None:
        self._beat = beat

    def start(self, total: int) -> None:
        """Begin a run of ``total`` days."""

    def advance(self) -> None:
        """One day committed: beat, and stop here if asked to."""
        self._beat()


def due_dates(app: App, now: dt.datetime) -> list[dt.date]:
    """Return the business dates whose scheduled time has passed and that are not done yet, in order."""
    hour, minute = (int(part) for part in app.settings.daily_time.split(":"))
    local = now.astimezone(app.settings.tz)
    latest = local.date() if local.time() >= dt.time(hour, minute) else local.date() - dt.timedelta(days=1)
    with transaction(app.engine) as session:
        last_done = session.scalar(
            select(col(JobRun.business_date))
            .where(col(JobRun.job) == "notices", col(JobRun.status) == JobStatus.DONE)
            .order_by(col(JobRun.business_date).desc())
            .limit(1)
        )
        last_evaluated = session.scalar(select(col(EvaluationDay.day)).order_by(col(EvaluationDay.day).desc()).limit(1))
    start = (
        last_done + dt.timedelta(days=1)
        if last_done
        else min(latest, (last_evaluated or latest) + dt.timedelta(days=1))
    )
    return [start + dt.timedelta(days=i) for i in range((latest - start).days + 1)]


def _now(app: App) -> dt.datetime:
    # With DUBAN_TODAY set (a replay), every job of that day is due: take the end of the day.
    if os.environ.get("DUBAN_TODAY"):
        return dt.datetime.combine(app.today(), dt.time(23, 59), tzinfo=app.settings.tz)
    return app.now()


def tick(app: App, stop: threading.Event, now: dt.datetime | None = None, holder: str | None = None) -> int:
    """Run every job that is due and not done (catch-up first, oldest date first); return how many ran."""
    holder = holder or holder_id()
    ran = 0
    for day in due_dates(app, now or _now(app)):
        for job in _jobs_for(app, day):
            if stop.is_set():
                return ran
            run_id = claim(app, job, day, holder)
            if run_id is None:
                if job == "evaluate" and not _evaluated(app, day):
                    return ran  # another scheduler is evaluating this day: its later jobs are that one's
                continue
            started = time.monotonic()
            try:
                detail = _run(app, job, day, run_id, stop)
            except Stopped:
                finish(app, run_id, JobStatus.FAILED, {}, "stopped before finishing; resumed by the next run")
                _log(job, day, "stopped", started, {})
                return ran
            except Exception as exc:
                finish(app, run_id, JobStatus.FAILED, {}, f"{type(exc).__name__}: {exc}")
                _log(job, day, "failed", started, {"error": str(exc)})
                if job == "evaluate":
                    return ran  # later jobs of the day depend on the evaluation
                continue
            finish(app, run_id, JobStatus.DONE, detail)
            _log(job, day, "done", started, detail)
            ran += 1
    _deliver(app, holder, stop)
    return ran


def _evaluated(app: App, day: dt.date) -> bool:
    with reading(app.engine) as session:
        return session.scalar(select(col(EvaluationDay.id)).where(col(EvaluationDay.day) == day)) is not None


def _deliver(app: App, holder: str, stop: threading.Event | None = None) -> None:
    from engine.delivery.outbox import deliver

    started = time.monotonic()
    counts = deliver(app, holder, stop=stop)
    if counts["sent"] or counts["failed"]:
        log.info(json.dumps({"event": "deliver", "duration_s": round(time.monotonic() - started, 3), **counts}))


def _log(job: str, day: dt.date, status: str, started: float, detail: dict[str, Any]) -> None:
    log.info(
        json.dumps(
            {
                "event": "job",
                "job": job,
                "business_date": day.isoformat(),
                "status": status,
                "duration_s": round(time.monotonic() - started, 3),
                **detail,
            },
            ensure_ascii=False,
        )
    )


def serve(app: App, once: bool = False) -> None:
    """Catch up, then run the daily jobs at the configured time until SIGTERM or Ctrl-C."""
    from apscheduler.schedulers.blocking import BlockingScheduler
    from apscheduler.triggers.cron import CronTrigger
    from apscheduler.triggers.interval import IntervalTrigger

    stop = threading.Event()
    holder = holder_id()
    scheduler = BlockingScheduler(timezone=app.settings.tz)

    def on_signal(signum: int, _frame: object) -> None:
        log.info(json.dumps({"event": "stopping", "signal": signal.Signals(signum).name}))
        stop.set()
        if scheduler.running:
            scheduler.shutdown(wait=False)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    log.info(
        json.dumps(
            {
                "event": "started",
                "holder": holder,
                "daily_time": app.settings.daily_time,
                "timezone": app.settings.timezone,
            }
        )
    )
    tick(app, stop, holder=holder)
    if once or stop.is_set():
        log.info(json.dumps({"event": "stopped", "holder": holder}))
        return
    hour, minute = (int(part) for part in app.settings.daily_time.split(":"))
    # A run missed by minutes (a busy machine, a suspended laptop) still runs: the default
    # misfire grace of one second would silently skip it.
    scheduler.add_job(
        tick,
        CronTrigger(hour=hour, minute=minute, timezone=app.settings.tz),
        args=[app, stop],
        kwargs={"holder": holder},
        id="daily",
        coalesce=True,
        max_instances=1,
        misfire_grace_time=12 * 3600,
    )
    # Messages held back by a robot's pace or block go as soon as they may, not at tomorrow's run;
    # with nothing due this is one indexed query a minute.
    scheduler.add_job(
        _deliver,
        IntervalTrigger(minutes=DELIVER_EVERY_MINUTES, timezone=app.settings.tz),
        args=[app, holder],
        kwargs={"stop": stop},
        id="deliver",
        coalesce=True,
        max_instances=1,
    )
    scheduler.start()
    log.info(json.dumps({"event": "stopped", "holder": holder}))


def runs(app: App) -> list[dict[str, Any]]:
    """Return the run history, newest first."""
    with transaction(app.engine) as session:
        rows = session.scalars(select(JobRun).order_by(col(JobRun.business_date).desc(), col(JobRun.id).desc()))
        return [
            {
                "id": r.id,
                "job": r.job,
                "business_date": r.business_date.isoformat(),
                "status": r.status,
                "holder": r.holder,
                "attempts": r.attempts,
                "started_at": r.started_at.astimezone(app.settings.tz).isoformat(timespec="seconds"),
                "finished_at": r.finished_at.astimezone(app.settings.tz).isoformat(timespec="seconds")
                if r.finished_at
                else None,
                "detail": r.detail,
                "error": r.error,
            }
            for r in rows
        ]
