"""Benchmark duban on a synthetic ledger, beside the same work done in bare SQL and the minimal floor.

    python scripts/bench.py --size national        # 220,000 projects, 2.64 M nodes, 100,000 persons
    python scripts/bench.py --size province        # 20,000 projects
    python scripts/bench.py --size city            # 300 projects
    python scripts/bench.py --projects 50000       # any size
    python scripts/bench.py --size province --db postgresql+psycopg://postgres@127.0.0.1:5432/test

Three sides, on the same CSV ledger and the same backend (SQLite files, or fresh schemas of the
PostgreSQL database given with --db):

* duban, every phase the real command line (`duban ...`) in a child process; wall time and peak
  memory (maxrss of that child) measured from outside:
  1. import      `duban import ledger DIR`;
  2. replay      `duban evaluate --from 2024-05-01 --through 2024-10-31` (one transaction per day;
                 per-day times from the run's own evaluation_day rows);
  3. one day     `duban evaluate --through 2024-11-01`;
  4. notices     `duban notices render` of the week's notices (older ones marked rendered first);
  5. agenda      `duban agenda` of the next meeting in Word, whole-country and one district's edition
                 (strikes before the previous meeting marked confirmed first);
  6. web         `duban serve`: the board and the persons pages over HTTP (see WEB_PAGES);
* the same work in bare SQL (scripts/same_work.py): the rows duban writes and their audit seal,
  the ladder in plain Python, one transaction per day, on a schema made by `duban init`;
* the minimal floor: load the three tables, then one grouping INSERT … SELECT per day.

Writes bench-data/results-<projects>[-postgresql].json and prints the table with the ratios.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SIZES = {"city": 300, "province": 20_000, "national": 220_000}
FIRST_DAY = dt.date(2024, 5, 1)
LAST_DAY = dt.date(2024, 10, 31)
ONE_MORE = dt.date(2024, 11, 1)
WEEK_FROM = ONE_MORE - dt.timedelta(days=6)


def days(first: dt.date, last: dt.date) -> list[dt.date]:
    """Every day from first to last, inclusive."""
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


def run_child(label: str, argv: list[str], env: dict[str, str]) -> dict[str, float]:
    """Run one phase in a child process; return its wall seconds and peak memory (MB)."""
    with tempfile.TemporaryFile() as stdout, tempfile.TemporaryFile() as stderr:
        # Output goes to files, not pipes: a child with much to say must never block while we wait.
        started = time.perf_counter()
        child = subprocess.Popen(argv, env=env, stdout=stdout, stderr=stderr)
        _pid, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        stdout.seek(0)
        stderr.seek(0)
        said, complained = stdout.read().decode(), stderr.read().decode()
    if child.returncode != 0:
        sys.exit(f"{label} failed (exit {child.returncode}):\n{said}\n{complained}")
    last = said.strip().splitlines()[-1][:100] if said.strip() else ""
    print(f"  {label:<10} {wall:8.2f} s  {usage.ru_maxrss / 1024:7.0f} MB   {last}", flush=True)
    return {"seconds": round(wall, 3), "peak_mb": round(usage.ru_maxrss / 1024, 1)}


# ---------------------------------------------------------------------------------------- databases


def fresh_database(base: str | None, work: Path, name: str) -> str:
    """An empty database for one side: a SQLite file in the work folder, or a new schema of --db."""
    if base is None:
        for stale in work.glob(f"{name}.db*"):
            stale.unlink()
        return f"sqlite:///{work / name}.db"
    import psycopg

    schema = f"bench_{name}"
    with psycopg.connect(base.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{schema}"


def init_schema(url: str) -> None:
    """Create duban's schema with `duban init` (the same-work reference runs on it too)."""
    subprocess.run(
        [sys.executable, "-c", "from engine.app.launch import main; main()", "init"],
        check=True,
        capture_output=True,
        env={**os.environ, "DUBAN_DATABASE_URL": url},
    )


def database(url: str) -> Any:
    """A plain DB-API connection for the bench's own reads and set-up writes (same_work.Db)."""
    from same_work import Db

    return Db(url)


# ------------------------------------------------------------------------------------------ duban


def duban_phases(ledger: Path, work: Path, url: str, profile: bool, web: bool) -> dict[str, object]:
    """Run the duban phases through the command line; return their measurements."""
    out = work / "out"
    env = {**os.environ, "DUBAN_DATABASE_URL": url, "DUBAN_TODAY": ONE_MORE.isoformat(), "DUBAN_OUT_DIR": str(out)}
    duban = [sys.executable, "-c", "from engine.app.launch import main; main()"]
    if profile:
        duban = [sys.executable, "-m", "cProfile", "-o", str(work / "{phase}.prof"), "-m", "engine.app.launch"]

    def command(phase: str, *args: str) -> list[str]:
        return [part.replace("{phase}", phase) for part in duban] + list(args)

    init_schema(url)
    db = database(url)
    results: dict[str, object] = {}
    results["import"] = run_child(
        "import", command("import", "import", "ledger", str(ledger), "--as-of", "2024-04-30"), env
    )
    results["replay"] = run_child(
        "replay", command("replay", "evaluate", "--from", FIRST_DAY.isoformat(), "--through", LAST_DAY.isoformat()), env
    )
    results["replay_per_day"] = replay_days(db)
    results["one_day"] = run_child("one day", command("one_day", "evaluate", "--through", ONE_MORE.isoformat()), env)
    results["one_day_in_transaction_s"] = day_seconds(db, ONE_MORE)
    results["week_notices"] = mark_older_notices_rendered(db)
    results["notices"] = run_child(
        "notices", command("notices", "notices", "render", "--out", str(out), "--format", "md", "--format", "docx"), env
    )
    meeting, previous = next_meeting()
    results["agenda_items"] = confirm_decided(db, previous)
    results["agenda"] = run_child(
        "agenda",
        command(
            "agenda", "agenda", "--meeting", meeting.isoformat(), "--format", "docx", "--out", str(out / "agenda.docx")
        ),
        env,
    )
    results["agenda_district"] = run_child(
        "agenda 1/8",
        command(
            "agenda_district",
            "agenda",
            "--meeting",
            meeting.isoformat(),
            "--district",
            DISTRICT,
            "--format",
            "docx",
            "--out",
            str(out / "agenda-district.docx"),
        ),
        env,
    )
    results["strikes"] = db.run("SELECT count(*) FROM strike WHERE status = 'counted'").fetchone()[0]
    results["deadlines_missed"] = db.run("SELECT count(*) FROM deadline WHERE status = 'missed'").fetchone()[0]
    if web:
        results["web"] = web_pages(command, env)
    return results


#: The district whose agenda edition is timed (the synthetic ledger spreads projects over eight).
DISTRICT = "河东片区"


WEB_PAGES = {
    "board, page 1": "/board",
    "board, page 200": "/board?page=200",
    "board, red only": "/board?colour=red",
    "board, one district": "/board?district=河东片区",
    "persons, page 1": "/persons",
    "persons, page 100": "/persons?page=100",
    "persons, suspended": "/persons?status=suspended",
}


def web_pages(command: object, env: dict[str, str], repeats: int = 20) -> dict[str, dict[str, float]]:
    """Serve the database with `duban serve` and time each page over HTTP, signed in as the office."""
    import http.cookiejar
    import re
    import socket
    import statistics
    import urllib.parse
    import urllib.request

    password = "bench-pass-1"
    subprocess.run(
        [*command("user", "user", "add", "bench", "--role", "office", "--password-stdin")],  # type: ignore[operator]
        env=env,
        input=password + "\n",
        text=True,
        check=True,
        capture_output=True,
    )
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [*command("serve", "serve", "--port", str(port))],
        env=env,  # type: ignore[operator]
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        deadline = time.monotonic() + 60
        while True:
            try:
                login = opener.open(base + "/login").read().decode()
                break
            except OSError:
                if time.monotonic() > deadline:
                    sys.exit("duban serve did not start")
                time.sleep(0.2)
        token = re.search(r'name="csrf" value="([^"]+)"', login)
        assert token is not None
        form = urllib.parse.urlencode({"name": "bench", "password": password, "csrf": token.group(1)}).encode()
        opener.open(base + "/login", form).read()
        results = {}
        for number, (label, path) in enumerate(WEB_PAGES.items()):
            url = base + urllib.parse.quote(path, safe="/?=&")
            # The first request follows a change of the record (a new account is sealed into the audit
            # chain), so it pays for the whole-ledger reads; the others find them cached at that version.
            subprocess.run(
                [
                    *command(
                        "user",
                        "user",
                        "add",
                        f"bench{number}",
                        "--role",
                        "leader",  # type: ignore[operator]
                        "--password-stdin",
                    )
                ],
                env=env,
                input=password + "\n",
                text=True,
                check=True,
                capture_output=True,
            )
            times = []
            for _ in range(repeats):
                began = time.perf_counter()
                with opener.open(url) as response:
                    body = response.read()
                    assert response.status == 200 and b"<html" in body, (label, response.status)
                times.append(1000 * (time.perf_counter() - began))
            warm = sorted(times[1:])
            results[label] = {
                "after_change_ms": round(times[0], 1),
                "median_ms": round(statistics.median(warm), 1),
                "p95_ms": round(warm[int(0.95 * (len(warm) - 1))], 1),
                "max_ms": round(warm[-1], 1),
                "bytes": len(body),
            }
            row = results[label]
            print(
                f"  web {label:<20} after a change {row['after_change_ms']:7.1f} ms; then median "
                f"{row['median_ms']:6.1f} ms, p95 {row['p95_ms']:6.1f} ms",
                flush=True,
            )
        return results
    finally:
        server.terminate()
        server.wait(10)


def _seconds(started: Any, finished: Any) -> float:
    def moment(value: Any) -> dt.datetime:
        return value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(value)

    return (moment(finished) - moment(started)).total_seconds()


def replay_days(db: Any) -> dict[str, object]:
    """Per-day seconds of the replay from its own evaluation_day rows (each day's transaction), by month."""
    rows = db.run("SELECT day, started_at, finished_at, misses FROM evaluation_day ORDER BY day").fetchall()
    months: dict[str, list[tuple[float, int]]] = {}
    for day, started, finished, misses in rows:
        months.setdefault(str(day)[:7], []).append((_seconds(started, finished), misses))
    summary = {}
    for month, values in months.items():
        seconds = [s for s, _ in values]
        summary[month] = {
            "days": len(values),
            "mean_ms": round(1000 * sum(seconds) / len(seconds), 1),
            "max_ms": round(1000 * max(seconds), 1),
            "misses_per_day": round(sum(m for _, m in values) / len(values), 1),
        }
    return summary


def day_seconds(db: Any, day: dt.date) -> float:
    """Seconds one evaluated day took inside its transaction."""
    started, finished = db.run(
        "SELECT started_at, finished_at FROM evaluation_day WHERE day = ?", (day.isoformat(),)
    ).fetchone()
    return round(_seconds(started, finished), 3)


def mark_older_notices_rendered(db: Any) -> int:
    """Mark notices of strikes detected before the week as rendered; return how many remain (the week's)."""
    db.run(
        """UPDATE notice SET rendered_at = created_at WHERE rendered_at IS NULL AND id IN (
                SELECT n.id FROM notice n LEFT JOIN strike s ON s.id = n.strike_id
                LEFT JOIN status_change c ON c.id = n.status_change_id
                WHERE coalesce(s.detected_on, c.day) < ?)""",
        (WEEK_FROM.isoformat(),),
    )
    return int(db.run("SELECT count(*) FROM notice WHERE rendered_at IS NULL").fetchone()[0])


def next_meeting() -> tuple[dt.date, dt.date]:
    """The first party-group meeting on or after the day after the campaign, and the one before it."""
    from config.calendar import WorkCalendar, meeting_dates, previous_meeting
    from config.policy import load_policy

    policy = load_policy(None)
    calendar = WorkCalendar()
    meeting = meeting_dates(policy.meetings, ONE_MORE, ONE_MORE + dt.timedelta(days=40), calendar)[0]
    previous = previous_meeting(policy.meetings, meeting, calendar)
    assert previous is not None
    return meeting, previous


def confirm_decided(db: Any, previous: dt.date) -> int:
    """Confirm strikes the earlier meetings would have decided; return how many the agenda still carries."""
    db.run(
        "UPDATE strike SET decision = 'confirmed', meeting_date = ? WHERE decision = 'proposed' AND detected_on < ?",
        (previous.isoformat(), previous.isoformat()),
    )
    return int(db.run("SELECT count(*) FROM strike WHERE decision = 'proposed'").fetchone()[0])


# ---------------------------------------------------------------------------------------- same work


def same_work_phase(ledger: Path, url: str) -> dict[str, object]:
    """The same rows, seals and decisions as duban, in bare SQL and plain Python (scripts/same_work.py)."""
    import same_work

    init_schema(url)
    db = database(url)
    load = same_work.import_ledger(db, ledger)
    print(f"  {'same import':<12} {load:8.2f} s", flush=True)
    replay_s, strikes = same_work.replay(db, FIRST_DAY, LAST_DAY)
    print(f"  {'same replay':<12} {replay_s:8.2f} s", flush=True)
    one_day, more = same_work.replay(db, ONE_MORE, ONE_MORE)
    return {
        "load_s": round(load, 3),
        "replay_s": round(replay_s, 3),
        "one_day_s": round(one_day, 4),
        "strikes": strikes + more,
    }


# --------------------------------------------------------------------------------------- bare SQL


def bare_sql(ledger: Path, url: str) -> dict[str, object]:
    """The minimal floor: load the three tables, then one grouping INSERT … SELECT per day."""
    db = database(url)
    key = "SERIAL PRIMARY KEY" if db.postgres else "INTEGER PRIMARY KEY"
    started = time.perf_counter()
    for ddl in (
        f"CREATE TABLE person (id {key}, person_id TEXT UNIQUE NOT NULL, name TEXT NOT NULL, unit TEXT, "
        "phone TEXT, email TEXT)",
        f"CREATE TABLE project (id {key}, code TEXT UNIQUE NOT NULL, name TEXT NOT NULL, district TEXT, "
        "phase TEXT, batch TEXT, status TEXT, responsible TEXT REFERENCES person(person_id), "
        "contractor TEXT, households INTEGER)",
        f"CREATE TABLE node (id {key}, project_code TEXT NOT NULL REFERENCES project(code), code TEXT NOT NULL, "
        "name TEXT NOT NULL, planned_date TEXT NOT NULL, completed_on TEXT, UNIQUE (project_code, code))",
        "CREATE INDEX ix_node_planned ON node (planned_date)",
        f"CREATE TABLE miss_group (id {key}, person_id TEXT, planned_date TEXT, nodes INTEGER, detected_on TEXT)",
    ):
        db.run(ddl)
    db.begin()
    for table in ("person", "project", "node"):
        source = {"person": "persons", "project": "projects", "node": "nodes"}[table]
        with (ledger / f"{source}.csv").open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle)
            names = _bare_columns(table, next(reader))
            db.many(table, names, [tuple(v or None for v in row) for row in reader])
    db.commit()
    load = time.perf_counter() - started
    print(f"  {'bare load':<12} {load:8.2f} s", flush=True)

    def replay(day_list: list[dt.date]) -> float:
        began = time.perf_counter()
        for day in day_list:
            planned = (day - dt.timedelta(days=1)).isoformat()
            db.begin()
            db.run(
                """
                INSERT INTO miss_group (person_id, planned_date, nodes, detected_on)
                SELECT p.responsible, n.planned_date, count(*), ? FROM node n JOIN project p ON p.code = n.project_code
                WHERE n.planned_date = ? AND (n.completed_on IS NULL OR n.completed_on > n.planned_date)
                  AND p.status = 'active'
                GROUP BY p.responsible, n.planned_date""",
                (day.isoformat(), planned),
            )
            db.commit()
        return time.perf_counter() - began

    replay_s = replay(days(FIRST_DAY, LAST_DAY))
    print(f"  {'bare replay':<12} {replay_s:8.2f} s", flush=True)
    one_day = replay([ONE_MORE])
    strikes = db.run("SELECT count(*) FROM miss_group").fetchone()[0]
    return {
        "load_s": round(load, 3),
        "replay_s": round(replay_s, 3),
        "one_day_s": round(one_day, 4),
        "strikes": strikes,
    }


def _bare_columns(table: str, header: list[str]) -> list[str]:
    rename = {"responsible_person_id": "responsible", "node_code": "code", "project_code": "code"}
    if table == "node":
        return ["project_code" if h == "project_code" else rename.get(h, h) for h in header]
    return [rename.get(h, h) for h in header]


# ------------------------------------------------------------------------------------------- main


def main() -> None:
    """Parse the arguments, generate the ledger if needed, run the three sides, print and save the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="national")
    parser.add_argument("--projects", type=int, help="any number of projects (overrides --size)")
    parser.add_argument("--work", type=Path, default=ROOT / "bench-data")
    parser.add_argument("--db", help="a PostgreSQL database to run on (fresh schemas are made in it); default SQLite")
    parser.add_argument("--profile", action="store_true", help="write a cProfile file per duban phase")
    parser.add_argument("--skip-bare", action="store_true", help="skip the same-work reference and the minimal floor")
    parser.add_argument("--skip-web", action="store_true", help="skip the web pages")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "scripts"))
    projects = args.projects or SIZES[args.size]
    ledger = args.work / f"ledger-{projects}"
    if not (ledger / "expected.json").exists():
        subprocess.run(
            [
                sys.executable,
                str(ROOT / "scripts" / "make_synthetic_ledger.py"),
                "--projects",
                str(projects),
                "--out",
                str(ledger),
            ],
            check=True,
        )
    expected = json.loads((ledger / "expected.json").read_text())
    backend = "postgresql" if args.db else "sqlite"
    work = args.work / f"run-{projects}" / backend
    work.mkdir(parents=True, exist_ok=True)
    print(
        f"duban bench: {projects:,} projects, {expected['nodes']:,} nodes, {expected['persons']:,} persons on "
        f"{backend} ({platform.python_version()}, {os.cpu_count()} cores, {calibration():.2f} s for 10 M loop steps)",
        flush=True,
    )
    web = not args.skip_web and projects <= 50_000  # the web target is the province's (issue 10)
    duban = duban_phases(ledger, work, fresh_database(args.db, work, "duban"), args.profile, web)
    same = {} if args.skip_bare else same_work_phase(ledger, fresh_database(args.db, work, "same"))
    bare = {} if args.skip_bare else bare_sql(ledger, fresh_database(args.db, work, "minimal"))
    report = {
        "projects": projects,
        "backend": backend,
        "expected": expected,
        "duban": duban,
        "same_work": same,
        "bare_sql": bare,
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "sqlite": sqlite3.sqlite_version,
            "loop_10m_s": round(calibration(), 2),
        },
        "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    suffix = "" if backend == "sqlite" else "-postgresql"
    (args.work / f"results-{projects}{suffix}.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print_summary(report)


def calibration() -> float:
    """Seconds for 10 million steps of a plain Python loop: how fast this machine is, for comparing runs."""
    started = time.perf_counter()
    total = 0
    for i in range(10_000_000):
        total += i
    return time.perf_counter() - started


def print_summary(report: dict) -> None:
    """Print the comparison with the targets."""
    duban, same, bare, expected = report["duban"], report["same_work"], report["bare_sql"], report["expected"]
    phases = ("import", "replay", "one_day", "notices", "agenda", "agenda_district")
    peak = max(duban[p]["peak_mb"] for p in phases)
    print("\nper-day replay (each day's transaction), by month — cost per miss stays flat as history grows:")
    for month, row in duban["replay_per_day"].items():
        per_miss = row["mean_ms"] / row["misses_per_day"] if row["misses_per_day"] else 0.0
        print(
            f"  {month}: {row['days']:3d} days, mean {row['mean_ms']:8.1f} ms, max {row['max_ms']:8.1f} ms, "
            f"{row['misses_per_day']:7.1f} misses/day, {per_miss:5.2f} ms per miss"
        )
    print(
        f"\nweek's notices rendered: {duban['week_notices']}; agenda items: {duban['agenda_items']}; "
        f"agenda {duban['agenda']['seconds']:.1f} s / {duban['agenda']['peak_mb']:.0f} MB, one district's "
        f"{duban['agenda_district']['seconds']:.1f} s / {duban['agenda_district']['peak_mb']:.0f} MB"
    )
    print(
        f"strikes: duban {duban['strikes']:,}, expected {expected['expected_strikes_per_due_date']:,}"
        + (f", same work {same['strikes']:,}, minimal {bare['strikes']:,}" if same else "")
    )
    print(
        f"one more day: {duban['one_day']['seconds']:.2f} s as a command ({duban['one_day_in_transaction_s']:.3f} s "
        f"inside its transaction); target ≤ 0.5 s"
    )
    print(f"peak memory: {peak:.0f} MB; target ≤ 1024 MB")
    if duban.get("web"):
        worst = max(row["p95_ms"] for row in duban["web"].values())
        cold = max(row["after_change_ms"] for row in duban["web"].values())
        print(
            f"web pages: worst 95th percentile {worst:.0f} ms, worst first request after a change {cold:.0f} ms; "
            "target < 300 ms"
        )
    if same:
        print(f"\n{'':8} {'duban':>9} {'same work':>10} {'÷ same':>7} {'minimal':>9} {'÷ minimal':>9}")
        for label, ours, work_s, floor in (
            ("import", duban["import"]["seconds"], same["load_s"], bare["load_s"]),
            ("replay", duban["replay"]["seconds"], same["replay_s"], bare["replay_s"]),
        ):
            print(f"{label:8} {ours:8.1f}s {work_s:9.1f}s {ours / work_s:6.2f}× {floor:8.1f}s {ours / floor:8.2f}×")
        print("target: ≤ 3× the same work")


if __name__ == "__main__":
    main()
