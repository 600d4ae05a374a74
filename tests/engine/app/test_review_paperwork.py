"""Reports from the site where the office reads them (issue 20, part 5), through the real command line.

The daily check lists the reports waiting for review at the end of its day; the weekly bulletin counts,
per district, the reports approved and rejected in its week (by the decision's day in the configured
zone). Both sections are left out when there is nothing to show (the golden files stay as they are).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from docx import Document

from config import load_settings
from config.vocabulary import ReportKind
from engine.app import review
from engine.context import App
from engine.record import actions
from tests.conftest import Duban, node, person, project, write_ledger
from tests.engine.app.test_review import jpeg, token_of

TODAY = "2024-08-09"


def _at(duban: Duban, when: str) -> None:
    """Stop the clock at a time of day (Asia/Shanghai): reports and decisions are stamped with it."""
    duban._monkeypatch.setenv("DUBAN_NOW", when)


def _submit(duban: Duban, token: str, code: str, node_code: str, kind: ReportKind, day: str, photos: int = 0) -> int:
    uploads = [review.Upload(f"现场{i}.jpg", jpeg((i * 20, 100, 50))) for i in range(photos)]
    app = App(load_settings())
    try:
        return review.submit(app, token, code, node_code, kind, dt.date.fromisoformat(day), "现场已完成", uploads)
    finally:
        if "engine" in vars(app):
            app.engine.dispose()


@pytest.fixture
def reported(duban: Duban, tmp_path: Path) -> dict[str, int]:
    """Three reports made on Tuesday 6 August: by Thursday one approved and one rejected, one still waiting.

    P1 holds A (滨河片区; N1 due 30 July and missed: a strike), P2 holds C (龙凤片区).
    """
    duban.today(TODAY)
    c = project("C", "P2")
    c[2] = "龙凤片区"
    folder = write_ledger(
        tmp_path / "ledger",
        [person("P1", "张三"), person("P2", "李四")],
        [project("A", "P1"), c],
        [node("A", "N1", "2024-07-30"), node("A", "N2", "2024-09-30"), node("C", "N1", "2024-09-30")],
    )
    duban("import", "ledger", folder, "--as-of", "2024-07-01")
    duban("evaluate", "--from", "2024-07-31", "--through", TODAY)
    p1, p2 = token_of(duban, "P1"), token_of(duban, "P2")
    _at(duban, "2024-08-06T10:00")
    ids = {
        "waiting": _submit(duban, p1, "A", "N1", ReportKind.COMPLETION, "2024-07-30", photos=2),
        "approved": _submit(duban, p2, "C", "N1", ReportKind.EXTENSION, "2024-10-31"),
        "rejected": _submit(duban, p1, "A", "N2", ReportKind.COMPLETION, "2024-08-05", photos=1),
    }
    _at(duban, "2024-08-08T16:30")
    duban("review", "approve", str(ids["approved"]), "--by", "王主任")
    duban("review", "reject", str(ids["rejected"]), "--reason", "照片看不出已完成")
    return ids


def _section(text: str, title: str) -> list[str]:
    lines = text.splitlines()
    [start] = [i for i, line in enumerate(lines) if title in line]
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    return [line for line in lines[start:end] if line.startswith("- ") or line.startswith("|") or "份" in line]


def test_the_daily_check_lists_the_reports_waiting_at_the_end_of_its_day(
    duban: Duban, reported: dict[str, int]
) -> None:
    strike = duban.json("strikes")[0]["id"]
    before = duban("report", "daily", "--date", "2024-08-05").out
    assert "待审核的报告" not in before  # nothing reported yet: the section is left out
    tuesday = duban("report", "daily", "--date", "2024-08-06").out
    assert "## 七、待审核的报告（3 份）" in tuesday  # no warnings that day: it is the seventh section
    rows = _section(tuesday, "待审核的报告")
    assert rows[1] == (
        f"- 报告 #{reported['waiting']}：A A小区（滨河片区）“节点N1”（节点 N1，计划 2024年7月30日），"
        f"报完成（完成日期 2024年7月30日）；2024年8月6日由张三（P1）报告，照片 2 张；审核通过将撤销问责 #{strike}"
    )
    assert rows[2] == (
        f"- 报告 #{reported['approved']}：C C小区（龙凤片区）“节点N1”（节点 N1，计划 2024年9月30日），"
        "申请延期（申请延期至 2024年10月31日）；2024年8月6日由李四（P2）报告，照片 0 张"
    )
    assert rows[3].startswith(f"- 报告 #{reported['rejected']}：A A小区") and "照片 1 张" in rows[3]
    assert "撤销问责" not in rows[3]  # a completion after the deadline revokes nothing
    thursday = duban("report", "daily", "--date", "2024-08-08").out
    assert "七、待审核的报告（1 份）" in thursday and f"报告 #{reported['approved']}" not in thursday
    district = duban("report", "daily", "--date", "2024-08-06", "--district", "龙凤片区").out
    assert "七、待审核的报告（1 份）" in district and f"报告 #{reported['approved']}" in district
    html = duban("report", "daily", "--date", "2024-08-08", "--format", "html").out
    assert "<h2>七、待审核的报告（1 份）</h2>" in html and f"审核通过将撤销问责 #{strike}" in html


def test_the_section_follows_the_days_warnings_and_names_a_district_account(duban: Duban, tmp_path: Path) -> None:
    duban.today("2024-07-09")
    folder = write_ledger(
        tmp_path / "ledger",
        [person("P1", "张三")],
        [project("A", "P1")],
        [node("A", "N1", "2024-07-05"), node("A", "N2", "2024-07-12")],
    )
    duban("import", "ledger", folder, "--as-of", "2024-07-01")
    duban("evaluate", "--from", "2024-07-06", "--through", "2024-07-09")
    duban("remind", "--date", "2024-07-09")  # A N2: three days before
    _at(duban, "2024-07-09T11:00")
    app = App(load_settings()).as_actor("web:binhe")
    try:
        done = actions.complete_node(app, "A", "N1", dt.date(2024, 7, 5), None, "web", actions.Scope("滨河片区"))
    finally:
        app.engine.dispose()
    assert done is actions.Completion.PENDING
    text = duban("report", "daily", "--date", "2024-07-09").out
    assert "## 七、今日发出的预警（1 个节点）" in text and "## 八、待审核的报告（1 份）" in text
    assert "2024年7月9日由片区账号 binhe报告，照片 0 张；审核通过将撤销问责 #" in text


def test_the_bulletin_counts_the_weeks_decisions_per_district(
    duban: Duban, reported: dict[str, int], tmp_path: Path
) -> None:
    week = duban("report", "weekly", "--week-of", "2024-08-06").out
    rows = _section(week, "八、现场报告审核情况")
    assert rows == [
        "本周审核负责人现场报告 2 份：审核通过 1 份，未通过 1 份。",
        "| 片区 | 审核通过 | 未通过 |",
        "|---|---|---|",
        "| 滨河片区 | 0 | 1 |",
        "| 龙凤片区 | 1 | 0 |",
    ]
    district = duban("report", "weekly", "--week-of", "2024-08-06", "--district", "龙凤片区").out
    assert _section(district, "八、现场报告审核情况")[0] == "本周审核负责人现场报告 1 份：审核通过 1 份，未通过 0 份。"
    html = duban("report", "weekly", "--week-of", "2024-08-06", "--format", "html").out
    assert "<h2>八、现场报告审核情况</h2>" in html and "<tr><td>龙凤片区</td><td>1</td><td>0</td></tr>" in html
    out = tmp_path / "通报.docx"
    duban("report", "weekly", "--week-of", "2024-08-06", "--format", "docx", "--out", str(out))
    document = Document(str(out))
    assert "八、现场报告审核情况" in [p.text for p in document.paragraphs]
    assert any([c.text for c in t.rows[-1].cells] == ["龙凤片区", "1", "0"] for t in document.tables)
    last_week = duban("report", "weekly", "--week-of", "2024-07-31").out
    assert "现场报告审核情况" not in last_week  # no decision that week: the section is left out


def test_a_decision_counts_in_the_week_of_its_day_in_the_configured_zone(duban: Duban, tmp_path: Path) -> None:
    duban.today("2024-08-13")
    folder = write_ledger(
        tmp_path / "ledger", [person("P1", "张三")], [project("A", "P1")], [node("A", "N1", "2024-09-30")]
    )
    duban("import", "ledger", folder, "--as-of", "2024-07-01")
    duban("evaluate", "--from", "2024-08-01", "--through", "2024-08-13")
    token = token_of(duban, "P1")
    _at(duban, "2024-08-10T10:00")
    report_id = _submit(duban, token, "A", "N1", ReportKind.EXTENSION, "2024-10-31")
    # Monday 12 August 00:30 in Shanghai is still Sunday 11 August in UTC: it counts in the week of the 12th.
    _at(duban, "2024-08-12T00:30+08:00")
    duban("review", "approve", str(report_id))
    assert "现场报告审核情况" not in duban("report", "weekly", "--week-of", "2024-08-05").out
    assert "审核通过 1 份" in duban("report", "weekly", "--week-of", "2024-08-12").out
    assert "审计链完整" in duban("audit", "verify").out
