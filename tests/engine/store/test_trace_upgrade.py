"""A database recorded before decision traces (revision 0005) upgrades: traces rebuilt, the record intact."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import Duban

FIXTURE = Path(__file__).with_name("fixtures") / "revision-0005.db"


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_an_old_database_gets_its_traces_rebuilt_and_its_chain_stays_intact(duban: Duban, tmp_path: Path) -> None:
    old = tmp_path / "old.db"
    shutil.copyfile(FIXTURE, old)
    url = f"sqlite:///{old}"
    duban.today("2024-07-08")
    before = duban("--db", url, "strikes", "--json", ok=False)
    assert before.code == 1 and "duban init" in before.err  # an old schema is refused until upgraded
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        old_strikes = connection.execute(sa.text("SELECT id, status, level, action FROM strike ORDER BY id")).all()
        old_entries = connection.execute(sa.text("SELECT id, hash FROM audit_entry ORDER BY id")).all()
    duban("--db", url, "init")
    assert duban("--db", url, "audit", "verify").code == 0
    with engine.connect() as connection:
        assert (
            connection.execute(sa.text("SELECT id, status, level, action FROM strike ORDER BY id")).all() == old_strikes
        )
        entries = connection.execute(sa.text("SELECT id, hash FROM audit_entry ORDER BY id")).all()
        assert entries[: len(old_entries)] == old_entries  # the old chain is untouched; the traces are sealed after it
        assert (
            connection.execute(sa.text("SELECT count(*) FROM audit_entry WHERE table_name = 'decision_trace'")).scalar()
            == 1
        )
        traces = connection.execute(
            sa.text("SELECT strike_id, kind, rebuilt, body FROM decision_trace ORDER BY id")
        ).all()
    engine.dispose()
    import json

    by_strike: dict[int, list[tuple[str, dict[str, object]]]] = {}
    for strike_id, kind, rebuilt, body in traces:
        assert rebuilt
        by_strike.setdefault(strike_id, []).append((kind, json.loads(body) if isinstance(body, str) else body))
    assert sorted(by_strike) == [s[0] for s in old_strikes]
    assert all(kinds[0][0] == "opened" for kinds in by_strike.values())
    # #5 (P1, 3 July): opened as the third strike on N3, joined by N4, then second once #2 was exempted.
    five = by_strike[5]
    assert [k for k, _ in five] == ["opened", "joined", "reranked"]
    assert five[0][1]["ranking"]["level"] == 3 and five[0][1]["ranking"]["counted_before"] == [1, 2]  # type: ignore[index]
    assert five[1][1]["grouping"] == "join_same_due_date" and five[1][1]["node"]["node_code"] == "N4"  # type: ignore[index]
    assert five[2][1]["ranking"]["level"] == 2 and five[2][1]["ranking"]["counted_before"] == [1]  # type: ignore[index]
    assert five[2][1]["cause"] == "exemption"
    # #8 (P3): second after #4, first once the backdated completion revoked #4.
    assert [b["ranking"]["counted_before"] for _k, b in by_strike[8]] == [[4], []]  # type: ignore[index]
    assert by_strike[6][0][1]["grouping"] == "open_unassigned" and "ranking" not in by_strike[6][0][1]
    explained = duban("--db", url, "strike", "explain", "5").out
    assert "依据：此前计入的问责记录 #1（2024年7月2日发现" in explained and "第 2 次" in explained
    assert "同一负责人同一计划日期的逾期节点合并为一条问责记录" in explained
    agenda = duban("--db", url, "agenda", "--meeting", "2024-07-08").out
    assert "#5" in agenda and "#6" in agenda
    assert duban("--db", url, "notices", "render", "--out", tmp_path / "out").code == 0
    duban("--db", url, "init")  # safe to run again: nothing is rebuilt twice
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT count(*) FROM decision_trace")).scalar() == len(traces)
    engine.dispose()
    assert duban("--db", url, "audit", "verify").code == 0


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_an_old_database_gets_document_numbers_by_each_notices_own_date(duban: Duban, tmp_path: Path) -> None:
    old = tmp_path / "old.db"
    shutil.copyfile(FIXTURE, old)
    url = f"sqlite:///{old}"
    duban.today("2024-07-08")
    assert "已按文书日期为此前签发的" in duban("--db", url, "init").out
    notices = duban.json("--db", url, "notices")
    # Review notices and corrections were final when issued: numbered by their own dates, each year
    # from 1 and gapless, in the order of their dates. (Corrections recorded no date before 0012 and
    # fall back to the day they were written: this fixture was written in 2026.)
    final = [n for n in notices if n["status"] != "draft"]
    assert {n["kind"] for n in final} == {"review_notice", "correction_notice"}
    by_year: dict[str, list[tuple[str, int, int]]] = {}
    for n in final:
        series, rest = n["doc_number"].split("〔")
        year, serial = rest.split("〕")
        assert series == "吕建督" and n["date"].startswith(year)
        by_year.setdefault(year, []).append((n["date"], n["id"], int(serial.rstrip("号"))))
    assert "2024" in by_year
    for rows in by_year.values():
        assert [serial for _d, _i, serial in sorted(rows)] == list(range(1, len(rows) + 1))
    assert all(n["doc_number"] is None for n in notices if n["kind"] in ("suspension_decision", "dismissal_decision"))
    again = duban("--db", url, "init").out
    assert "已按文书日期" not in again and duban.json("--db", url, "notices") == notices  # assigned once, stable
    assert duban("--db", url, "audit", "verify").code == 0
