"""`duban demo` replays the bundled campaign: the same every run, all three levels reached."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import Duban


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_demo_replays_the_campaign_deterministically(duban: Duban, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DUBAN_DATABASE_URL")
    (tmp_path / "demo").mkdir()
    monkeypatch.chdir(tmp_path / "demo")
    first = duban("demo")
    assert "已导入演示台账" in first.out and "开工率" in first.out and "永不使用" in first.out
    data = duban("--db", "sqlite:///duban.db", "strikes", "--json").json()
    counted = Counter(s["action"] for s in data if s["status"] == "counted")
    assert counted == {"review": 36, "suspension": 13, "dismissal": 3}
    assert Counter(s["status"] for s in data) == {"counted": 52, "exempted": 4, "revoked": 8}
    assert {s["decision"] for s in data if s["status"] == "counted"} == {"confirmed"}  # every Monday decided
    out = tmp_path / "demo" / "out"
    assert len(list((out / "notices").glob("*.docx"))) == len(list((out / "notices").glob("*.md"))) > 60
    assert len(list((out / "agendas").glob("agenda-*.docx"))) == 18  # every Monday meeting, 7-01 … 10-28
    assert len(list((out / "daily").glob("daily-*.md"))) == 123
    assert len(list((out / "bulletins").glob("progress-*.png"))) == 18
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
