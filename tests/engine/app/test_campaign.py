"""`duban demo` replays the bundled campaign: the same every run, all three levels reached."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import Duban


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_demo_replays_the_campaign_deterministically(
    duban: Duban, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DUBAN_DATABASE_URL")
    (tmp_path / "demo").mkdir()
    monkeypatch.chdir(tmp_path / "demo")
    first = duban("demo")
    assert "已导入演示台账" in first.out and "开工率" in first.out and "永不使用" in first.out
    data = duban("--db", "sqlite:///duban.db", "strikes", "--json").json()
    counted = Counter(s["action"] for s in data if s["status"] == "counted")
    assert counted == {"review": 36, "suspension": 16, "dismissal": 3}
    assert Counter(s["status"] for s in data) == {"counted": 55, "exempted": 4, "revoked": 8}
    # Every Monday decided what was before it; the check of 1 November leaves three for the 4 November meeting.
    decisions = Counter(s["decision"] for s in data if s["status"] == "counted")
    assert decisions == {"confirmed": 52, "proposed": 3}
    assert {s["detected_on"] for s in data if s["decision"] == "proposed"} == {"2024-11-01"}
    assert "待 2024-11-04 党组会决定" in first.out and "duban serve" in first.out
    # The hotline's work orders arrive on 1 November: two still open past their deadline turn their projects red.
    assert "已导入 12345 工单 hotline.csv：9 条，关联到项目 8 条，未能关联 1 条" in first.out
    orders = duban("--db", "sqlite:///duban.db", "complaints", "--json").json()
    assert sorted(o["project_code"] for o in orders if o["closed_at"] is None and o["project_code"]) == [
        "LL-2024-004",
        "LL-2024-010",
    ]
    last_daily = (tmp_path / "demo" / "out" / "daily" / "daily-2024-11-01.md").read_text(encoding="utf-8")
    assert "逾期未办结：GD2024090309 LL-2024-010 市文化局家属院" in last_daily
    assert "- 红灯：LL-2024-010 市文化局家属院" in last_daily
    # The campaign's last week is warned of before each deadline (预警), and two reports come from the site.
    assert "自 2024-10-28 起每天发出到期前预警" in first.out
    assert "已收到现场报告 2 份：#1 已审核通过，#2 待审核" in first.out
    queued = duban("--db", "sqlite:///duban.db", "outbox", "--json").json()
    warnings = [m for m in queued if m["key"].startswith("reminder:")]
    digests = [m for m in queued if m["key"].startswith("reminder-digest:")]
    assert warnings and all(m["subject"].startswith("【预警】") for m in warnings)
    digest_days = {m["key"].split(":")[1] for m in digests}  # the office's digest: days with something due
    assert min(digest_days) == "2024-10-28" and digest_days <= {"2024-10-28", "2024-10-29", "2024-10-30", "2024-10-31"}
    reports = duban("--db", "sqlite:///duban.db", "review", "list", "--json").json()
    assert [(r["id"], len(r["photos"]), r["source"]) for r in reports] == [(2, 1, "phone")]
    assert "预警" in (tmp_path / "demo" / "out" / "daily" / "daily-2024-10-28.md").read_text(encoding="utf-8")
    assert "预警" not in (tmp_path / "demo" / "out" / "daily" / "daily-2024-10-25.md").read_text(encoding="utf-8")
    out = tmp_path / "demo" / "out"
    assert len(list((out / "notices").glob("*.docx"))) == len(list((out / "notices").glob("*.md"))) > 60
    assert len(list((out / "agendas").glob("agenda-*.docx"))) == 18  # every Monday meeting, 7-01 … 10-28
    assert len(list((out / "daily").glob("daily-*.md"))) == 124
    assert len(list((out / "bulletins").glob("progress-*.png"))) == 18
    _the_demo_is_ready_for_the_web_view(tmp_path / "demo" / "duban.db")
    again = duban("demo")
    assert duban("--db", "sqlite:///duban.db", "strikes", "--json").json() == data

    def timeless(text: str) -> list[str]:
        return [line for line in text.splitlines() if not line.startswith("用时")]

    assert timeless(again.out) == timeless(first.out)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_demo_refuses_a_database_that_is_not_a_demo(duban: Duban, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DUBAN_DATABASE_URL")  # ./duban.db is the fixture's database: not a demo
    result = duban("demo", ok=False)
    assert result.code == 1 and "不是演示数据库" in result.err


def _the_demo_is_ready_for_the_web_view(database: Path) -> None:
    """`make demo` then `duban serve`: the demo accounts sign in and the next meeting has decisions waiting."""
    import re

    from starlette.testclient import TestClient

    from config import load_settings
    from engine.app.campaign import DEMO_ACCOUNTS, DEMO_PASSWORD
    from engine.app.web import create_app
    from engine.context import App

    app = App(load_settings(f"sqlite:///{database}"))
    try:
        for name in DEMO_ACCOUNTS:
            client = TestClient(create_app(app), follow_redirects=False)
            token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text)
            assert token is not None
            signed = client.post("/login", data={"name": name, "password": DEMO_PASSWORD, "csrf": token.group(1)})
            assert signed.status_code == 303, name
            assert client.get("/board").status_code == 200
        meeting = client.get("/meeting").text  # the district account: its district's items only
        office = TestClient(create_app(app), follow_redirects=False)
        token = re.search(r'name="csrf" value="([^"]+)"', office.get("/login").text)
        assert token is not None
        office.post("/login", data={"name": "bangong", "password": DEMO_PASSWORD, "csrf": token.group(1)})
        agenda = office.get("/meeting").text
        assert "党组会议议程（2024年11月4日）" in agenda
        assert agenda.count('class="confirm"') == 3
        assert "滨河片区" in meeting
    finally:
        app.engine.dispose()
