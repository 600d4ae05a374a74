"""Warnings before the deadline (预警): at the policy's thresholds, moved off days off, sent once, through `duban remind`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.conftest import Duban, node, person, project, write_ledger


def _rows(url: str, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            # Dates come back as text from SQLite and as dates from PostgreSQL: compare as text.
            return [
                tuple(str(v) if hasattr(v, "isoformat") else v for v in row)
                for row in conn.execute(sa.text(sql), params).all()
            ]
    finally:
        engine.dispose()


def _reminders(url: str) -> list[tuple[Any, ...]]:
    """(project, node, planned date, threshold, remind_on, person id or None), in the order written."""
    return _rows(
        url,
        "select p.code, n.code, r.planned_date, r.threshold, r.remind_on, pe.person_id from reminder r "
        "join node n on n.id = r.node_id join project p on p.id = r.project_id "
        "left join person pe on pe.id = r.person_pk order by r.id",
    )


def _outbox(url: str, like: str = "%") -> list[tuple[Any, ...]]:
    return _rows(url, "select key, channel, recipient, subject, body from outbox where key like :k order by id", k=like)


def _ledger(duban: Duban, tmp_path: Path, nodes: list[list[Any]], projects: list[list[Any]] | None = None) -> None:
    duban(
        "import",
        "ledger",
        write_ledger(
            tmp_path / "l",
            [person("P1", "张三"), person("P2", "李四")],
            projects or [project("A", "P1"), project("B", "P2")],
            nodes,
        ),
        "--as-of",
        "2024-06-01",
    )


def _remind(duban: Duban, day: str) -> dict[str, Any]:
    """`duban remind --date DAY --json` on that day (a warning is sent on its day, as the scheduler does)."""
    duban.today(day)
    result: dict[str, Any] = duban.json("remind", "--date", day)
    return result


def _remind_text(duban: Duban, day: str) -> str:
    duban.today(day)
    return duban("remind", "--date", day).out


def test_a_node_is_warned_three_days_before_the_day_before_and_on_the_day(duban: Duban, tmp_path: Path) -> None:
    duban.today("2024-07-01")
    _ledger(duban, tmp_path, [node("A", "N1", "2024-07-12")])  # a Friday: 9, 11 and 12 July are working days
    sent = {day: _remind(duban, f"2024-07-{day:02d}") for day in range(8, 13)}
    assert _reminders(duban.url) == [
        ("A", "N1", "2024-07-12", 3, "2024-07-09", "P1"),
        ("A", "N1", "2024-07-12", 1, "2024-07-11", "P1"),
        ("A", "N1", "2024-07-12", 0, "2024-07-12", "P1"),
    ]
    assert [sent[d]["reminders"] for d in range(8, 13)] == [0, 1, 0, 1, 1]
    ids = [row[0] for row in _rows(duban.url, "select id from reminder order by id")]
    messages = _outbox(duban.url, "reminder:%")
    assert [(key, channel, recipient) for key, channel, recipient, _s, _b in messages] == [
        (f"reminder:{i}:file", "file", "张三") for i in ids
    ]
    subjects = [subject for _k, _c, _r, subject, _b in messages]
    assert subjects == [
        "【预警】A小区“节点N1”还有 3 天到期",
        "【预警】A小区“节点N1”还有 1 天到期",
        "【预警】A小区“节点N1”今日到期",
    ]
    body = messages[0][4]
    assert "张三同志" in body and "A A小区（滨河片区）“节点N1”（节点 N1）计划于 2024年7月12日完成" in body
    assert "距计划完成日期还有 3 天" in body and body.splitlines()[0] == "# " + subjects[0]


def test_a_threshold_on_a_day_off_goes_out_on_the_working_day_before(duban: Duban, tmp_path: Path) -> None:
    duban.today("2024-09-20")
    # National Day: 1–7 October off, 29 September (a Sunday) and 12 October worked; 30 September is a Monday.
    _ledger(duban, tmp_path, [node("A", "N1", "2024-10-09"), node("B", "N1", "2024-10-08")])
    assert _remind(duban, "2024-09-29")["reminders"] == 0  # a make-up working day, but nothing falls on it
    first = _remind(duban, "2024-09-30")
    assert "2024-10-03 不是工作日，不发预警" in _remind_text(duban, "2024-10-03")
    assert _remind(duban, "2024-10-03")["workday"] is False
    _remind(duban, "2024-10-08")
    assert _reminders(duban.url) == [
        ("B", "N1", "2024-10-08", 3, "2024-09-30", "P2"),  # 5 October → 30 September
        ("B", "N1", "2024-10-08", 1, "2024-09-30", "P2"),  # 7 October → 30 September: the same day
        ("A", "N1", "2024-10-09", 3, "2024-09-30", "P1"),  # 6 October → 30 September
        ("B", "N1", "2024-10-08", 0, "2024-10-08", "P2"),
        ("A", "N1", "2024-10-09", 1, "2024-10-08", "P1"),
    ]
    # Two thresholds of one node on one day are one message, carried by the most urgent one.
    assert (first["reminders"], first["nodes"], first["persons"], first["messages"]) == (3, 2, 2, 2)
    keys = [key for key, *_rest in _outbox(duban.url, "reminder:%")]
    b_urgent = _rows(duban.url, "select r.id from reminder r where r.threshold = 1 and r.remind_on = '2024-09-30'")
    assert keys[0] == f"reminder:{b_urgent[0][0]}:file"
    subjects = [subject for _k, _c, _r, subject, _b in _outbox(duban.url, "reminder:%")]
    assert subjects[:2] == ["【预警】B小区“节点N1”还有 8 天到期", "【预警】A小区“节点N1”还有 9 天到期"]


def test_a_rerun_sends_nothing_new(duban: Duban, tmp_path: Path) -> None:
    duban.today("2024-07-01")
    _ledger(duban, tmp_path, [node("A", "N1", "2024-07-12"), node("B", "N1", "2024-07-12")])
    first = _remind_text(duban, "2024-07-09")
    assert "2024-07-09 预警 2 个节点（2 条预警记录）：发给 2 名负责人，共 2 条消息" in first
    assert "已向工作专班发送当日预警汇总" in first
    reminders, outbox = _reminders(duban.url), _outbox(duban.url)
    assert len(reminders) == 2 and len(outbox) == 3  # two persons' messages and the office's digest
    again = duban("remind", "--date", "2024-07-09")
    assert again.code == 0 and "2024-07-09 的预警此前已发出（2 条），本次没有新的预警，未重复发送" in again.out
    assert _reminders(duban.url) == reminders and _outbox(duban.url) == outbox
    assert _remind(duban, "2024-07-09") == {
        "day": "2024-07-09",
        "workday": True,
        "late": False,
        "reminders": 0,
        "nodes": 0,
        "persons": 0,
        "unassigned": 0,
        "messages": 0,
        "digest": False,
        "earlier": 2,
    }


def test_an_extension_starts_new_warnings_and_a_completion_stops_them(duban: Duban, tmp_path: Path) -> None:
    duban.today("2024-07-09")
    _ledger(duban, tmp_path, [node("A", "N1", "2024-07-12"), node("B", "N1", "2024-07-12")])
    _remind(duban, "2024-07-09")
    duban.today("2024-07-10")
    duban("node", "extend", "A", "N1", "--to", "2024-07-19", "--reason", "管线迁改")
    duban("node", "complete", "B", "N1", "--on", "2024-07-10")
    assert _remind(duban, "2024-07-11")["reminders"] == 0  # A's old date is gone, B is done
    assert _remind(duban, "2024-07-16")["reminders"] == 1
    assert _reminders(duban.url) == [
        ("A", "N1", "2024-07-12", 3, "2024-07-09", "P1"),
        ("B", "N1", "2024-07-12", 3, "2024-07-09", "P2"),
        ("A", "N1", "2024-07-19", 3, "2024-07-16", "P1"),  # the new planned date's own warnings
    ]
    assert "还有 3 天到期" in _outbox(duban.url, "reminder:3:%")[0][3]


def test_a_node_completed_after_the_day_was_not_done_on_it(duban: Duban, tmp_path: Path) -> None:
    # A replay: the ledger already holds a completion dated after the warning's day, which was not known then.
    duban.today("2024-07-20")
    _ledger(duban, tmp_path, [node("A", "N1", "2024-07-12", "2024-07-10"), node("B", "N1", "2024-07-12", "2024-07-09")])
    assert _remind(duban, "2024-07-09")["reminders"] == 1
    assert [row[0] for row in _reminders(duban.url)] == ["A"]


def test_a_node_with_nobody_responsible_goes_to_the_digest_only(duban: Duban, tmp_path: Path) -> None:
    duban.today("2024-07-01")
    projects = [project("A", "P1"), project("C", None), project("R", "P2", "储备")]
    _ledger(
        duban,
        tmp_path,
        [node("A", "N1", "2024-07-12"), node("C", "N1", "2024-07-12"), node("R", "N1", "2024-07-12")],
        projects,
    )
    assert "无负责人的节点 1 个（只列入汇总）" in _remind_text(duban, "2024-07-09")
    assert _reminders(duban.url) == [
        ("A", "N1", "2024-07-12", 3, "2024-07-09", "P1"),
        ("C", "N1", "2024-07-12", 3, "2024-07-09", None),  # recorded, with nobody; the reserve project is not warned
    ]
    assert [recipient for _k, _c, recipient, _s, _b in _outbox(duban.url, "reminder:%")] == ["张三"]
    ((key, channel, recipient, subject, body),) = _outbox(duban.url, "reminder-digest:%")
    assert (key, channel, recipient) == ("reminder-digest:2024-07-09:file", "file", "工作专班")
    assert subject == "2024年7月9日预警汇总：2 个节点即将到期"
    assert "已向 1 名负责人发出预警；其中 1 个节点无负责人，未发个人预警，请尽快明确负责人" in body
    assert "| A | A小区 | 滨河片区 | N1 节点N1 | 2024年7月12日 | 3 天 | 张三 |" in body
    assert "| C | C小区 | 滨河片区 | N1 节点N1 | 2024年7月12日 | 3 天 | 无负责人 |" in body


def test_the_person_warned_is_the_one_holding_the_project_that_day(duban: Duban, tmp_path: Path) -> None:
    duban.today("2024-07-01")
    _ledger(duban, tmp_path, [node("A", "N1", "2024-07-12")])
    duban("project", "assign", "A", "P2", "--from", "2024-07-10")
    _remind(duban, "2024-07-09")
    _remind(duban, "2024-07-11")
    assert [(row[3], row[5]) for row in _reminders(duban.url)] == [(3, "P1"), (1, "P2")]
    assert [recipient for _k, _c, recipient, _s, _b in _outbox(duban.url, "reminder:%")] == ["张三", "李四"]


def test_a_later_run_of_the_day_sends_a_supplement_for_what_is_new(duban: Duban, tmp_path: Path) -> None:
    duban.today("2024-07-09")
    _ledger(duban, tmp_path, [node("A", "N1", "2024-07-12")])
    _remind(duban, "2024-07-09")
    _ledger(duban, tmp_path, [node("A", "N1", "2024-07-12"), node("B", "N1", "2024-07-12")])  # B added at noon
    later = _remind(duban, "2024-07-09")
    assert (later["reminders"], later["digest"], later["earlier"]) == (1, True, 1)
    digests = _outbox(duban.url, "reminder-digest:%")
    b_id = _rows(duban.url, "select max(id) from reminder")[0][0]
    assert [key for key, *_r in digests] == [
        "reminder-digest:2024-07-09:file",
        f"reminder-digest:2024-07-09:{b_id}:file",
    ]
    assert digests[1][3] == "2024年7月9日预警汇总（补充）：1 个节点即将到期" and "| B |" in digests[1][4]
    assert "| A |" not in digests[1][4]


def test_the_policy_names_the_thresholds(duban: Duban, tmp_path: Path) -> None:
    from config.policy import DEFAULT_POLICY_FILE

    policy = tmp_path / "policy.toml"
    text = DEFAULT_POLICY_FILE.read_text(encoding="utf-8")
    policy.write_text(text.replace("remind_days_before = [3, 1, 0]", "remind_days_before = [7]"), encoding="utf-8")
    duban._monkeypatch.setenv("DUBAN_POLICY_FILE", str(policy))
    duban.today("2024-07-01")
    _ledger(duban, tmp_path, [node("A", "N1", "2024-07-12")])
    for day in range(3, 13):
        _remind(duban, f"2024-07-{day:02d}")
    assert _reminders(duban.url) == [("A", "N1", "2024-07-12", 7, "2024-07-05", "P1")]
    policy.write_text(text.replace("remind_days_before = [3, 1, 0]", "remind_days_before = []"), encoding="utf-8")
    assert "2024-07-11 没有需要预警的节点" in _remind_text(duban, "2024-07-11")


def test_a_bad_date_is_refused_in_chinese_and_changes_nothing(duban: Duban, tmp_path: Path) -> None:
    duban.today("2024-07-01")
    _ledger(duban, tmp_path, [node("A", "N1", "2024-07-04")])
    before = duban.dump()
    for typed in ("2024-07-1x", "2024-02-30", "7月1日"):
        refused = duban("remind", "--date", typed, ok=False)
        # A usage error, as for every command's dates (cli.md: 2 for usage errors).
        assert refused.code == 2 and refused.out == ""
        assert f"日期应为 YYYY-MM-DD 格式：{typed!r}" in refused.err
        assert "Traceback" not in refused.err
    assert duban.dump() == before


def test_a_past_day_sends_nothing_and_a_future_day_is_refused(duban: Duban, tmp_path: Path) -> None:
    duban.today("2024-07-10")
    _ledger(duban, tmp_path, [node("A", "N1", "2024-07-12")])
    late = duban("remind", "--date", "2024-07-09")  # the day of the threshold of 3 days is gone
    assert late.code == 0 and "2024-07-09 已过去：预警只在当天发出，过期不补发（本次未发送任何预警）" in late.out
    assert duban.json("remind", "--date", "2024-07-09")["late"] is True
    # A year without a holiday table is past too: nothing to send, so no calendar is needed to say so.
    assert duban.json("remind", "--date", "2019-07-09")["late"] is True
    before = duban.dump()
    future = duban("remind", "--date", "2024-07-11", ok=False)
    assert future.code == 1 and future.err.strip() == "不能为未来的日期发预警：2024-07-11 晚于今天 2024-07-10"
    assert duban.dump() == before and _reminders(duban.url) == [] and _outbox(duban.url) == []


def test_without_a_date_it_warns_of_today(duban: Duban, tmp_path: Path) -> None:
    duban.today("2024-07-01")
    _ledger(duban, tmp_path, [node("A", "N1", "2024-07-04")])
    assert duban.json("remind")["day"] == "2024-07-01"
    assert _reminders(duban.url) == [("A", "N1", "2024-07-04", 3, "2024-07-01", "P1")]


def test_the_audit_chain_holds_after_the_warnings(duban: Duban, tmp_path: Path) -> None:
    duban.today("2024-07-01")
    _ledger(duban, tmp_path, [node("A", "N1", "2024-07-12"), node("B", "N1", "2024-07-11")])
    for day in ("2024-07-08", "2024-07-09", "2024-07-10", "2024-07-11", "2024-07-12", "2024-07-09"):
        _remind(duban, day)
    verified = duban("audit", "verify")
    assert "审计链完整" in verified.out
    sealed = _rows(duban.url, "select sum(rows) from audit_entry where table_name = 'reminder'")
    assert sealed == [(len(_reminders(duban.url)),)] and sealed[0][0] == 6
    duban("import", "ledger", tmp_path / "l", "--as-of", "2024-06-01")  # nothing changes, the chain still holds
    engine = sa.create_engine(duban.url)
    with engine.begin() as conn:  # a hand edit of who was warned
        conn.execute(sa.text("update reminder set remind_on = planned_date where id = 1"))
    engine.dispose()
    tampered = duban("audit", "verify", ok=False)
    assert tampered.code == 1 and "表 reminder" in tampered.err and "内容被修改" in tampered.err


def test_the_daily_check_lists_the_days_warnings(duban: Duban, tmp_path: Path) -> None:
    duban.today("2024-07-10")
    _ledger(
        duban,
        tmp_path,
        [node("A", "N1", "2024-07-12"), node("B", "N1", "2024-07-09")],
        [project("A", "P1"), project("B", None)],
    )
    duban("evaluate", "--from", "2024-07-08", "--through", "2024-07-10")
    quiet = duban("report", "daily", "--date", "2024-07-08").out
    assert "预警" not in quiet  # a day without warnings: the report as it always was
    _remind(duban, "2024-07-09")
    text = duban("report", "daily", "--date", "2024-07-09").out
    assert "## 七、今日发出的预警（2 个节点）" in text
    assert "- B B小区“节点N1”，计划 2024年7月9日（今日到期），负责人：无负责人" in text
    assert "- A A小区“节点N1”，计划 2024年7月12日（还有 3 天），负责人：张三" in text
    html = duban("report", "daily", "--date", "2024-07-09", "--format", "html").out
    assert "<h2>七、今日发出的预警（2 个节点）</h2>" in html and "负责人：张三</li>" in html
    assert "预警" not in duban("report", "daily", "--date", "2024-07-09", "--district", "别的片区").out


def _remind_process(url: str, day: str) -> subprocess.Popen[str]:
    env = {**os.environ, "DUBAN_DATABASE_URL": url, "DUBAN_TODAY": day, "DUBAN_ACTOR": "scheduler"}
    return subprocess.Popen(
        [sys.executable, "-c", "from engine.app.launch import main; main()", "remind", "--date", day, "--json"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_two_processes_at_once_warn_exactly_once(duban: Duban, tmp_path: Path) -> None:
    import json

    duban.today("2024-07-01")
    _ledger(duban, tmp_path, [node("A", f"N{i}", "2024-07-12") for i in range(40)] + [node("B", "N1", "2024-07-12")])
    procs = [_remind_process(duban.url, "2024-07-09") for _ in range(3)]
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], results
    runs = [json.loads(out) for out, _err in results]
    # Exactly one of them wrote the day's warnings; the others found them and sent nothing.
    assert sorted(r["reminders"] for r in runs) == [0, 0, 41]
    assert sorted(r["earlier"] for r in runs) == [0, 41, 41]
    assert len(_reminders(duban.url)) == 41
    keys = [key for key, *_rest in _outbox(duban.url)]
    assert len(keys) == len(set(keys)) == 42  # 41 messages and one digest
    assert "审计链完整" in duban("audit", "verify").out


def test_two_schedulers_in_one_process_warn_exactly_once(duban: Duban, tmp_path: Path) -> None:
    """Two applications with their own engines (as two schedulers have), started together on one barrier."""
    import datetime as dt
    import threading

    from config import load_settings
    from engine.context import App
    from engine.paperwork.reminders import Reminded, remind

    duban.today("2024-07-01")
    _ledger(duban, tmp_path, [node("A", "N1", "2024-07-12"), node("B", "N1", "2024-07-12")])
    duban.today("2024-07-09")
    apps = [App(load_settings(duban.url)) for _ in range(2)]
    barrier = threading.Barrier(2)
    results: list[Reminded] = []
    errors: list[BaseException] = []

    def run(app: App) -> None:
        try:
            barrier.wait(timeout=60)
            results.append(remind(app, dt.date(2024, 7, 9)))
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(app,)) for app in apps]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    for app in apps:
        app.engine.dispose()
    assert not errors and len(results) == 2
    assert sorted((r.reminders, r.earlier) for r in results) == [(0, 2), (2, 0)]
    assert len(_reminders(duban.url)) == 2
    assert [key.split(":")[0] for key, *_rest in _outbox(duban.url)] == ["reminder", "reminder", "reminder-digest"]


@pytest.mark.parametrize(
    ("value", "said"),
    [
        ("[3, 3]", "不能重复"),
        ("[61]", "应在 0 至 60 之间：61"),
        ("[-1, 2]", "应在 0 至 60 之间：-1"),
        ("[1, 2, 3, 4, 5, 6, 7]", "至多 6 个提前天数"),
        ('"3"', "remind_days_before"),
    ],
)
def test_a_bad_threshold_list_is_refused_naming_the_setting(tmp_path: Path, value: str, said: str) -> None:
    from config import ConfigError, load_policy
    from config.policy import DEFAULT_POLICY_FILE

    bad = tmp_path / "policy.toml"
    text = DEFAULT_POLICY_FILE.read_text(encoding="utf-8")
    bad.write_text(text.replace("remind_days_before = [3, 1, 0]", f"remind_days_before = {value}"), encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        load_policy(bad)
    message = str(error.value)
    assert str(bad) in message and "remind_days_before" in message and said in message


def test_the_days_read_follows_what_falls_due_not_the_ledger(duban: Duban, tmp_path: Path) -> None:
    """The nodes are found through an index on the planned date (SQLite's plan says so), never by a scan."""
    import datetime as dt

    from sqlalchemy import event
    from sqlmodel import Session

    from engine.paperwork import reminders

    if not duban.url.startswith("sqlite"):
        pytest.skip("the query plan is read from SQLite's EXPLAIN QUERY PLAN")
    duban.today("2024-07-01")
    _ledger(duban, tmp_path, [node("A", f"N{i}", f"2024-{m:02d}-15") for i, m in enumerate(range(7, 13))])
    engine = sa.create_engine(duban.url)
    statements: list[tuple[str, Any]] = []
    event.listen(engine, "before_cursor_execute", lambda _c, _cur, sql, params, *_a: statements.append((sql, params)))
    with Session(engine) as session:
        due = reminders._due(session, dt.date(2024, 7, 12), dt.date(2024, 7, 12), dt.date(2024, 7, 17))
        sql, params = statements[-1]
        plan = [row[-1] for row in session.connection().exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params)]
    engine.dispose()
    assert [row.node_code for row in due] == ["N0"]
    assert any(step.startswith("SEARCH node USING") and "planned_date" in step for step in plan), plan
    assert not any(step.startswith("SCAN node") for step in plan), plan


def test_a_day_of_a_year_without_a_holiday_table_is_refused_not_guessed(duban: Duban, tmp_path: Path) -> None:
    duban.today("2027-03-01")
    refused = duban("remind", "--date", "2027-03-01", ok=False)
    assert refused.code == 1 and "缺少 2027 年节假日安排表" in refused.err and "Traceback" not in refused.err
    assert _reminders(duban.url) == []


def test_a_warning_recorded_on_another_day_is_not_sent_again(duban: Duban, tmp_path: Path) -> None:
    """The unique key, not the day, decides: a warning already on record (say, before a holiday table was
    corrected, so on another day) is not inserted or sent again — the insert itself is the no-op."""
    import datetime as dt

    from sqlmodel import col

    from config import load_settings
    from engine.context import App
    from engine.store.db import transaction
    from engine.store.models import Node, Project, Reminder

    duban.today("2024-07-01")
    _ledger(duban, tmp_path, [node("A", "N1", "2024-07-12"), node("B", "N1", "2024-07-12")])
    app = App(load_settings(duban.url))
    with transaction(app.engine) as session:
        a = session.scalars(
            sa.select(Node).join(Project, col(Project.id) == col(Node.project_id)).where(col(Project.code) == "A")
        ).one()
        session.add(
            Reminder(
                node_id=a.id or 0,
                project_id=a.project_id,
                planned_date=a.planned_date,
                threshold=3,
                remind_on=dt.date(2024, 7, 8),
                person_pk=None,
                created_at=app.now(),
            )
        )
    app.engine.dispose()
    result = _remind(duban, "2024-07-09")
    assert (result["reminders"], result["earlier"], result["messages"]) == (1, 0, 1)
    assert [(row[0], row[4]) for row in _reminders(duban.url)] == [("A", "2024-07-08"), ("B", "2024-07-09")]
    assert [recipient for _k, _c, recipient, _s, _b in _outbox(duban.url, "reminder:%")] == ["李四"]
    assert "审计链完整" in duban("audit", "verify").out


def test_each_person_channel_gets_the_warning_addressed_its_way(duban: Duban, tmp_path: Path) -> None:
    config = tmp_path / "duban.toml"
    config.write_text(
        '[duban.delivery]\nperson = ["file", "smtp"]\noffice = ["file", "webhook"]\noffice_recipient = "专班"\n',
        encoding="utf-8",
    )
    duban._monkeypatch.setenv("DUBAN_CONFIG", str(config))
    duban.today("2024-07-01")
    _ledger(duban, tmp_path, [node("A", "N1", "2024-07-12")])
    assert _remind(duban, "2024-07-09")["messages"] == 2
    ((reminder_id,),) = _rows(duban.url, "select id from reminder")
    assert [(key, channel, recipient) for key, channel, recipient, _s, _b in _outbox(duban.url)] == [
        (f"reminder:{reminder_id}:file", "file", "张三"),
        (f"reminder:{reminder_id}:smtp", "smtp", "p1@example.cn"),  # the person's e-mail, from the ledger
        ("reminder-digest:2024-07-09:file", "file", "专班"),
        ("reminder-digest:2024-07-09:webhook", "webhook", "专班"),
    ]


def _personal_channel(duban: Duban, tmp_path: Path) -> None:
    """Persons get the file drop and e-mail (a channel that reaches the person alone: it carries the link)."""
    config = tmp_path / "duban.toml"
    config.write_text('[duban.delivery]\nperson = ["file", "smtp"]\noffice = ["file"]\n', encoding="utf-8")
    duban._monkeypatch.setenv("DUBAN_CONFIG", str(config))


def _links_in(body: str) -> list[str]:
    import re

    return re.findall(r"在手机上报告进度：(\S+)", body)


def test_every_warning_carries_the_persons_link_and_unlink_revokes_it(duban: Duban, tmp_path: Path) -> None:
    import datetime as dt
    from zoneinfo import ZoneInfo

    from sqlmodel import Session

    from engine.record import links

    _personal_channel(duban, tmp_path)
    duban._monkeypatch.setenv("DUBAN_NOW", "2024-07-09T09:00")
    duban.today("2024-07-01")
    nodes = [node("A", "N1", "2024-07-12"), node("A", "N2", "2024-07-12"), node("B", "N1", "2024-07-12")]
    _ledger(duban, tmp_path, nodes)
    assert _remind(duban, "2024-07-09")["messages"] == 6
    everything = _outbox(duban.url, "reminder:%")
    # The file drop may be read by others than the person: it gets the warning without the link.
    assert all(
        not _links_in(body) and "/m/" not in body for _k, channel, _r, _s, body in everything if channel == "file"
    )
    messages = [m for m in everything if m[1] == "smtp"]
    found = {(recipient, body.splitlines()[0]): _links_in(body) for _k, _c, recipient, _s, body in messages}
    assert all(len(urls) == 1 for urls in found.values()), found
    urls = {r: {url for (who, _), [url] in found.items() if who == r} for r in ("p1@example.cn", "p2@example.cn")}
    # One link per person and run: 张三's two warnings carry the same one, 李四's another.
    assert len(urls["p1@example.cn"]) == 1 and len(urls["p2@example.cn"]) == 1
    ((p1_url,), (p2_url,)) = urls["p1@example.cn"], urls["p2@example.cn"]
    assert p1_url != p2_url
    assert p1_url.startswith("http://127.0.0.1:8000/m/")
    assert "有效期至 2024年8月8日" in messages[0][4]  # link_days (30) from the run
    ((digest,),) = _rows(duban.url, "select body from outbox where key like 'reminder-digest:%'")
    assert "/m/" not in digest and "在手机上报告进度" not in digest
    issued = _rows(
        duban.url, "select pe.person_id, l.created_by from person_link l join person pe on pe.id = l.person_pk"
    )
    assert sorted(issued) == [("P1", "预警"), ("P2", "预警")]  # only hashes stored: no token in the table
    assert not any(
        url.rsplit("/", 1)[1] in str(_rows(duban.url, "select * from person_link")) for url in (p1_url, p2_url)
    )

    engine = sa.create_engine(duban.url)
    tz = ZoneInfo("Asia/Shanghai")

    def opens(url: str, at: dt.datetime) -> tuple[str | None, str | None]:
        with Session(engine) as session:
            resolved = links.resolve(session, url.rsplit("/m/", 1)[1], at)
            return (resolved.person.person_id if resolved.person else None), resolved.refusal

    try:
        assert opens(p1_url, dt.datetime(2024, 7, 10, 8, tzinfo=tz)) == ("P1", None)
        assert opens(p2_url, dt.datetime(2024, 7, 10, 8, tzinfo=tz)) == ("P2", None)
        assert opens(p1_url, dt.datetime(2024, 8, 9, 10, tzinfo=tz))[0] is None  # expired after link_days
        assert "已收回 P1 的 1 个个人链接" in duban("person", "unlink", "P1").out
        person, refusal = opens(p1_url, dt.datetime(2024, 7, 10, 8, tzinfo=tz))
        assert person is None and refusal is not None and "收回" in refusal
        assert opens(p2_url, dt.datetime(2024, 7, 10, 8, tzinfo=tz)) == ("P2", None)  # another person's stays
    finally:
        engine.dispose()
    # The revocation holds: the next warnings carry no new link for 张三 until the office issues one.
    duban._monkeypatch.setenv("DUBAN_NOW", "2024-07-11T09:00")
    duban.today("2024-07-11")
    _remind(duban, "2024-07-11")
    later = [m for m in _outbox(duban.url, "reminder:%") if m[1] == "smtp" and m not in messages]
    assert {recipient: bool(_links_in(body)) for _k, _c, recipient, _s, body in later} == {
        "p1@example.cn": False,
        "p2@example.cn": True,
    }
    assert "审计链完整" in duban("audit", "verify").out


def test_the_link_in_a_warning_opens_the_persons_phone_page(duban: Duban, tmp_path: Path) -> None:
    from starlette.testclient import TestClient

    from config import load_settings
    from engine.app.web import create_app
    from engine.context import App

    _personal_channel(duban, tmp_path)
    duban.today("2024-07-01")
    _ledger(duban, tmp_path, [node("A", "N1", "2024-07-12"), node("B", "N1", "2024-07-12")])
    _remind(duban, "2024-07-09")
    bodies = {recipient: body for _k, _c, recipient, _s, body in _outbox(duban.url, "reminder:%")}
    [url] = _links_in(bodies["p1@example.cn"])
    path = url.removeprefix("http://127.0.0.1:8000")
    app = App(load_settings())
    try:
        page = TestClient(create_app(app), follow_redirects=False).get(path)
        assert page.status_code == 200 and "张三（P1）" in page.text and "A N1" in page.text and "李四" not in page.text
        duban("person", "unlink", "P1")
        refused = TestClient(create_app(app), follow_redirects=False).get(path)
        assert refused.status_code == 403 and "已被工作专班收回" in refused.text
    finally:
        if "engine" in vars(app):
            app.engine.dispose()


def test_without_a_person_channel_no_link_is_issued(duban: Duban, tmp_path: Path) -> None:
    config = tmp_path / "duban.toml"
    config.write_text('[duban.delivery]\nperson = []\noffice = ["file"]\n', encoding="utf-8")
    duban._monkeypatch.setenv("DUBAN_CONFIG", str(config))
    duban.today("2024-07-01")
    _ledger(duban, tmp_path, [node("A", "N1", "2024-07-12")])
    result = _remind(duban, "2024-07-09")
    assert (result["reminders"], result["persons"], result["messages"], result["digest"]) == (1, 1, 0, True)
    assert _rows(duban.url, "select count(*) from person_link") == [(0,)]  # nobody would read it
