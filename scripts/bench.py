"""Benchmark duban on a synthetic ledger, side by side with the same work done as bare SQL.

    python scripts/bench.py --size national        # 220,000 projects, 2.64 M nodes, 100,000 persons
    python scripts/bench.py --size province        # 20,000 projects
    python scripts/bench.py --size city            # 300 projects
    python scripts/bench.py --projects 50000       # any size

Every duban phase runs the real command line (`duban ...`) in a child process; wall time and peak
memory (maxrss of that child) are measured from outside. Phases, in one run:

1. import      `duban import ledger DIR` into a fresh SQLite database;
2. replay      `duban evaluate --from 2024-05-01 --through 2024-10-31` (day by day, one transaction each);
               per-day times come from the evaluation_day rows the run itself wrote;
3. one day     `duban evaluate --through 2024-11-01`;
4. paperwork   `duban notices render` for the week's notices (strikes detected 2024-10-26..11-01; older
               notices are marked rendered first, as the daily job would have done) and `duban agenda`
               for the next party-group meeting, in Word (strikes detected before the previous meeting are
               marked confirmed first, as that meeting would have done; the rest are on the agenda);
5. web         `duban serve` on the evaluated database: an office account signs in over HTTP and each
               page (the board and the persons list, first, middle and filtered pages) is fetched 20
               times, the first right after a change of the record (it reads the whole ledger; the
               rest reuse that read): that first time, then median and 95th percentile of the rest;
               target under 300 ms;
and the same work as bare SQL on the same CSV files: load with csv + executemany, then one indexed
query per day inserting the grouped (person, planned date) misses.

Writes bench-data/results-<projects>.json and prints a table with the ratios.
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


# ------------------------------------------------------------------------------------------ duban


def duban_phases(ledger: Path, work: Path, profile: bool) -> dict[str, object]:
    """Run the four duban phases through the command line; return their measurements."""
    db = work / "duban.db"
    for stale in work.glob("duban.db*"):
        stale.unlink()
    out = work / "out"
    url = f"sqlite:///{db}"
    env = {**os.environ, "DUBAN_DATABASE_URL": url, "DUBAN_TODAY": ONE_MORE.isoformat(), "DUBAN_OUT_DIR": str(out)}
    duban = [sys.executable, "-c", "from engine.app.cli import main; main()"]
    if profile:
        duban = [sys.executable, "-m", "cProfile", "-o", str(work / "{phase}.prof"), "-m", "engine.app.cli"]

    def command(phase: str, *args: str) -> list[str]:
        return [part.replace("{phase}", phase) for part in duban] + list(args)

    subprocess.run([*command("init", "init")], env=env, check=True, capture_output=True)
    results: dict[str, object] = {}
    results["import"] = run_child("import", command("import", "import", "ledger", str(ledger), "--as-of",
                                                    "2024-04-30"), env)
    results["replay"] = run_child("replay", command("replay", "evaluate", "--from", FIRST_DAY.isoformat(),
                                                    "--through", LAST_DAY.isoformat()), env)
    per_day = replay_days(db)
    results["replay_per_day"] = per_day
    results["one_day"] = run_child("one day", command("one_day", "evaluate", "--through", ONE_MORE.isoformat()), env)
    results["one_day_in_transaction_s"] = day_seconds(db, ONE_MORE)
    week = mark_older_notices_rendered(db)
    results["week_notices"] = week
    results["notices"] = run_child("notices", command("notices", "notices", "render", "--out", str(out),
                                                      "--format", "md", "--format", "docx"), env)
    meeting, previous = next_meeting()
    results["agenda_items"] = confirm_decided(db, previous)
    results["agenda"] = run_child("agenda", command("agenda", "agenda", "--meeting", meeting.isoformat(),
                                                    "--format", "docx", "--out", str(out / "agenda.docx")), env)
    with sqlite3.connect(db) as conn:
        results["strikes"] = conn.execute("SELECT count(*) FROM strike WHERE status = 'counted'").fetchone()[0]
        results["deadlines_missed"] = conn.execute("SELECT count(*) FROM deadline WHERE status = 'missed'").fetchone()[0]
    results["web"] = web_pages(command, env)
    return results


WEB_PAGES = {"board, page 1": "/board", "board, page 200": "/board?page=200", "board, red only": "/board?colour=red",
             "board, one district": "/board?district=河东片区", "persons, page 1": "/persons",
             "persons, page 100": "/persons?page=100", "persons, suspended": "/persons?status=suspended"}


def web_pages(command: object, env: dict[str, str], repeats: int = 20) -> dict[str, dict[str, float]]:
    """Serve the database with `duban serve` and time each page over HTTP, signed in as the office."""
    import http.cookiejar
    import re
    import socket
    import statistics
    import urllib.parse
    import urllib.request

    password = "bench-pass-1"
    subprocess.run([*command("user", "user", "add", "bench", "--role", "office", "--password-stdin")],  # type: ignore[operator]
                   env=env, input=password + "\n", text=True, check=True, capture_output=True)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([*command("serve", "serve", "--port", str(port))], env=env,  # type: ignore[operator]
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
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
            subprocess.run([*command("user", "user", "add", f"bench{number}", "--role", "leader",  # type: ignore[operator]
                                     "--password-stdin")], env=env, input=password + "\n", text=True, check=True,
                           capture_output=True)
            times = []
            for _ in range(repeats):
                began = time.perf_counter()
                with opener.open(url) as response:
                    body = response.read()
                    assert response.status == 200 and b"<html" in body, (label, response.status)
                times.append(1000 * (time.perf_counter() - began))
            warm = sorted(times[1:])
            results[label] = {"after_change_ms": round(times[0], 1), "median_ms": round(statistics.median(warm), 1),
                              "p95_ms": round(warm[int(0.95 * (len(warm) - 1))], 1),
                              "max_ms": round(warm[-1], 1), "bytes": len(body)}
            row = results[label]
            print(f"  web {label:<20} after a change {row['after_change_ms']:7.1f} ms; then median "
                  f"{row['median_ms']:6.1f} ms, p95 {row['p95_ms']:6.1f} ms", flush=True)
        return results
    finally:
        server.terminate()
        server.wait(10)


def replay_days(db: Path) -> dict[str, object]:
    """Per-day seconds of the replay from its own evaluation_day rows (each day's transaction), by month."""
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT day, started_at, finished_at, misses FROM evaluation_day ORDER BY day").fetchall()
    months: dict[str, list[tuple[float, int]]] = {}
    for day, started, finished, misses in rows:
        seconds = (dt.datetime.fromisoformat(finished) - dt.datetime.fromisoformat(started)).total_seconds()
        months.setdefault(day[:7], []).append((seconds, misses))
    summary = {}
    for month, values in months.items():
        seconds = [s for s, _ in values]
        summary[month] = {"days": len(values), "mean_ms": round(1000 * sum(seconds) / len(seconds), 1),
                          "max_ms": round(1000 * max(seconds), 1),
                          "misses_per_day": round(sum(m for _, m in values) / len(values), 1)}
    return summary


def day_seconds(db: Path, day: dt.date) -> float:
    """Seconds one evaluated day took inside its transaction."""
    with sqlite3.connect(db) as conn:
        started, finished = conn.execute("SELECT started_at, finished_at FROM evaluation_day WHERE day = ?",
                                         (day.isoformat(),)).fetchone()
    return round((dt.datetime.fromisoformat(finished) - dt.datetime.fromisoformat(started)).total_seconds(), 3)


def mark_older_notices_rendered(db: Path) -> int:
    """Mark notices of strikes detected before the week as rendered; return how many remain (the week's)."""
    with sqlite3.connect(db) as conn:
        conn.execute("""UPDATE notice SET rendered_at = created_at WHERE rendered_at IS NULL AND id IN (
                          SELECT n.id FROM notice n LEFT JOIN strike s ON s.id = n.strike_id
                          LEFT JOIN status_change c ON c.id = n.status_change_id
                          WHERE coalesce(s.detected_on, c.day) < ?)""", (WEEK_FROM.isoformat(),))
        return int(conn.execute("SELECT count(*) FROM notice WHERE rendered_at IS NULL").fetchone()[0])


def next_meeting() -> tuple[dt.date, dt.date]:
    """The first party-group meeting on or after the day after the campaign, and the one before it."""
    sys.path.insert(0, str(ROOT))
    from config.calendar import WorkCalendar, meeting_dates, previous_meeting
    from config.policy import load_policy

    policy = load_policy(None)
    calendar = WorkCalendar()
    meeting = meeting_dates(policy.meetings, ONE_MORE, ONE_MORE + dt.timedelta(days=40), calendar)[0]
    previous = previous_meeting(policy.meetings, meeting, calendar)
    assert previous is not None
    return meeting, previous


def confirm_decided(db: Path, previous: dt.date) -> int:
    """Confirm strikes the earlier meetings would have decided; return how many the agenda still carries."""
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE strike SET decision = 'confirmed', meeting_date = ? "
                     "WHERE decision = 'proposed' AND detected_on < ?", (previous.isoformat(), previous.isoformat()))
        return int(conn.execute("SELECT count(*) FROM strike WHERE decision = 'proposed'").fetchone()[0])


# --------------------------------------------------------------------------------------- bare SQL


def bare_sql(ledger: Path, work: Path) -> dict[str, object]:
    """The same load and replay as plain sqlite3: the floor duban is compared with."""
    db = work / "bare.db"
    for stale in work.glob("bare.db*"):
        stale.unlink()
    started = time.perf_counter()
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.executescript("""
        CREATE TABLE person (id INTEGER PRIMARY KEY, person_id TEXT UNIQUE NOT NULL, name TEXT NOT NULL,
                             unit TEXT, phone TEXT, email TEXT);
        CREATE TABLE project (id INTEGER PRIMARY KEY, code TEXT UNIQUE NOT NULL, name TEXT NOT NULL, district TEXT,
                              phase TEXT, batch TEXT, status TEXT, responsible TEXT REFERENCES person(person_id),
                              contractor TEXT, households INTEGER);
        CREATE TABLE node (id INTEGER PRIMARY KEY, project_code TEXT NOT NULL REFERENCES project(code),
                           code TEXT NOT NULL, name TEXT NOT NULL, planned_date TEXT NOT NULL, completed_on TEXT,
                           UNIQUE (project_code, code));
        CREATE INDEX ix_node_planned ON node (planned_date);
        CREATE TABLE miss_group (id INTEGER PRIMARY KEY, person_id TEXT, planned_date TEXT, nodes INTEGER,
                                 detected_on TEXT);
    """)
    conn.execute("BEGIN")
    for table, columns in (("person", 5), ("project", 9), ("node", 5)):
        source = {"person": "persons", "project": "projects", "node": "nodes"}[table]
        with (ledger / f"{source}.csv").open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle)
            names = next(reader)
            marks = ", ".join("?" * columns)
            conn.executemany(f"INSERT INTO {table} ({', '.join(_bare_columns(table, names))}) VALUES ({marks})",
                             ([v or None for v in row] for row in reader))
    conn.execute("COMMIT")
    load = time.perf_counter() - started
    print(f"  {'bare load':<10} {load:8.2f} s", flush=True)

    def replay(day_list: list[dt.date]) -> float:
        began = time.perf_counter()
        for day in day_list:
            planned = (day - dt.timedelta(days=1)).isoformat()
            conn.execute("BEGIN")
            conn.execute("""
                INSERT INTO miss_group (person_id, planned_date, nodes, detected_on)
                SELECT p.responsible, n.planned_date, count(*), ? FROM node n JOIN project p ON p.code = n.project_code
                WHERE n.planned_date = ? AND (n.completed_on IS NULL OR n.completed_on > n.planned_date)
                  AND p.status = 'active'
                GROUP BY p.responsible, n.planned_date""", (day.isoformat(), planned))
            conn.execute("COMMIT")
        return time.perf_counter() - began

    replay_s = replay(days(FIRST_DAY, LAST_DAY))
    print(f"  {'bare replay':<10} {replay_s:8.2f} s", flush=True)
    one_day = replay([ONE_MORE])
    strikes = conn.execute("SELECT count(*) FROM miss_group").fetchone()[0]
    conn.close()
    return {"load_s": round(load, 3), "replay_s": round(replay_s, 3), "one_day_s": round(one_day, 4),
            "strikes": strikes}


def _bare_columns(table: str, header: list[str]) -> list[str]:
    rename = {"responsible_person_id": "responsible", "node_code": "code", "project_code": "code"}
    if table == "node":
        return ["project_code" if h == "project_code" else rename.get(h, h) for h in header]
    return [rename.get(h, h) for h in header]


# ------------------------------------------------------------------------------------------- main


def main() -> None:
    """Parse the arguments, generate the ledger if needed, run both sides, print and save the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="national")
    parser.add_argument("--projects", type=int, help="any number of projects (overrides --size)")
    parser.add_argument("--work", type=Path, default=ROOT / "bench-data")
    parser.add_argument("--profile", action="store_true", help="write a cProfile file per duban phase")
    parser.add_argument("--skip-bare", action="store_true")
    args = parser.parse_args()
    projects = args.projects or SIZES[args.size]
    ledger = args.work / f"ledger-{projects}"
    if not (ledger / "expected.json").exists():
        subprocess.run([sys.executable, str(ROOT / "scripts" / "make_synthetic_ledger.py"), "--projects",
                        str(projects), "--out", str(ledger)], check=True)
    expected = json.loads((ledger / "expected.json").read_text())
    work = args.work / f"run-{projects}"
    work.mkdir(parents=True, exist_ok=True)
    print(f"duban bench: {projects:,} projects, {expected['nodes']:,} nodes, {expected['persons']:,} persons "
          f"({platform.python_version()}, {os.cpu_count()} cores)", flush=True)
    duban = duban_phases(ledger, work, args.profile)
    bare = {} if args.skip_bare else bare_sql(ledger, work)
    report = {"projects": projects, "expected": expected, "duban": duban, "bare_sql": bare,
              "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                          "platform": platform.platform(), "sqlite": sqlite3.sqlite_version},
              "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
    (args.work / f"results-{projects}.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print_summary(report)


def print_summary(report: dict) -> None:
    """Print the comparison with the targets."""
    duban, bare, expected = report["duban"], report["bare_sql"], report["expected"]
    peak = max(duban[p]["peak_mb"] for p in ("import", "replay", "one_day", "notices", "agenda"))
    print("\nper-day replay (each day's transaction), by month — cost per miss stays flat as history grows:")
    for month, row in duban["replay_per_day"].items():
        per_miss = row["mean_ms"] / row["misses_per_day"] if row["misses_per_day"] else 0.0
        print(f"  {month}: {row['days']:3d} days, mean {row['mean_ms']:8.1f} ms, max {row['max_ms']:8.1f} ms, "
              f"{row['misses_per_day']:7.1f} misses/day, {per_miss:5.2f} ms per miss")
    print(f"\nweek's notices rendered: {duban['week_notices']}; agenda items: {duban['agenda_items']}")
    print(f"strikes: duban {duban['strikes']:,}, expected {expected['expected_strikes_per_due_date']:,}"
          + (f", bare SQL {bare['strikes']:,}" if bare else ""))
    print(f"one more day: {duban['one_day']['seconds']:.2f} s as a command ({duban['one_day_in_transaction_s']:.3f} s "
          f"inside its transaction); target ≤ 1 s")
    print(f"peak memory: {peak:.0f} MB; target ≤ 2048 MB")
    if duban.get("web"):
        worst = max(row["p95_ms"] for row in duban["web"].values())
        cold = max(row["after_change_ms"] for row in duban["web"].values())
        print(f"web pages: worst 95th percentile {worst:.0f} ms, worst first request after a change {cold:.0f} ms; "
              "target < 300 ms")
    if bare:
        for label, ours, floor in (("import / bare load", duban["import"]["seconds"], bare["load_s"]),
                                   ("replay / bare replay", duban["replay"]["seconds"], bare["replay_s"])):
            print(f"{label}: {ours:.1f} s / {floor:.1f} s = {ours / floor:.2f}×; target ≤ 3×")


if __name__ == "__main__":
    main()
