"""The decision trace: one typed verdict per miss, stored once; everything that explains a strike reads it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from engine.evaluation import traces as traces_module
from engine.evaluation.traces import Trace
from tests.conftest import ROOT, Duban, node, person, project, write_ledger


def _traces(duban: Duban) -> list[tuple[int, str, dict[str, Any]]]:
    engine = sa.create_engine(duban.url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(sa.text("SELECT strike_id, kind, body FROM decision_trace ORDER BY id")).all()
    finally:
        engine.dispose()
    return [(sid, kind, json.loads(body) if isinstance(body, str) else body) for sid, kind, body in rows]


def _campaign(duban: Duban, tmp_path: Path) -> None:
    """P1 misses three dates (one of them on two nodes); LL-3 has nobody responsible."""
    nodes = [
        node("LL-1", "N1", "2024-07-01"),
        node("LL-1", "N2", "2024-07-02"),
        node("LL-2", "N1", "2024-07-02"),
        node("LL-1", "N3", "2024-07-03"),
        node("LL-3", "N1", "2024-07-03"),
    ]
    duban(
        "import",
        "ledger",
        write_ledger(
            tmp_path / "ledger",
            [person("P1", "张三"), person("P2")],
            [project("LL-1", "P1"), project("LL-2", "P1"), project("LL-3", None)],
            nodes,
        ),
        "--as-of",
        "2024-06-30",
    )
    duban("evaluate", "--from", "2024-07-02", "--through", "2024-07-05")


def test_every_miss_has_its_verdict_and_every_level_names_what_it_rests_on(duban: Duban, tmp_path: Path) -> None:
    _campaign(duban, tmp_path)
    strikes = {(s["person_id"], s["planned_date"]): s["id"] for s in duban.json("strikes")}
    traces = _traces(duban)
    for _sid, _kind, body in traces:  # every stored body is a trace of the current version, in its one form
        assert traces_module.body(Trace.model_validate(body)) == body
    opened = {sid: body for sid, kind, body in traces if kind == "opened"}
    joined = [(sid, body) for sid, kind, body in traces if kind == "joined"]
    assert len(opened) == len(strikes) and len(joined) == 1  # five misses: four strikes, one joined
    first, second, third = (strikes[("P1", d)] for d in ("2024-07-01", "2024-07-02", "2024-07-03"))
    assert joined[0][0] == second and joined[0][1]["grouping"] == "join_same_due_date"
    assert joined[0][1]["node"] == {"project_code": "LL-2", "node_code": "N1", "planned_date": "2024-07-02"}
    assert [opened[s]["ranking"]["counted_before"] for s in (first, second, third)] == [[], [first], [first, second]]
    assert [opened[s]["ranking"]["notice"] for s in (first, second, third)] == [
        "review_notice",
        "suspension_decision",
        "dismissal_decision",
    ]
    assert opened[third]["agenda"] == ["confirm_dismissal", "needs_responsible_person"]
    unassigned = opened[strikes[(None, "2024-07-03")]]
    assert unassigned["grouping"] == "open_unassigned" and "ranking" not in unassigned
    assert unassigned["agenda"] == ["needs_responsible_person"]
    assert len({body["policy"] for _s, _k, body in traces}) == 1


def test_the_explanation_and_the_dismissal_cite_the_earlier_strikes(duban: Duban, tmp_path: Path) -> None:
    _campaign(duban, tmp_path)
    ids = {s["planned_date"]: s["id"] for s in duban.json("strikes") if s["person_id"] == "P1"}
    lines = duban("strike", "explain", ids["2024-07-03"]).out.splitlines()
    assert (
        f"依据：此前计入的问责记录 #{ids['2024-07-01']}（2024年7月2日发现，计划完成日期 2024年7月1日）、"
        f"#{ids['2024-07-02']}（2024年7月3日发现，计划完成日期 2024年7月2日）"
    ) in lines
    joined = duban("strike", "explain", ids["2024-07-02"]).out
    assert "规则：同一负责人同一计划日期的逾期节点合并为一条问责记录" in joined  # the rule that joined LL-2 N1
    duban("notices", "render", "--out", tmp_path / "out", "--format", "md")
    [dismissal] = (tmp_path / "out" / "notices").glob("*dismissal_decision*.md")
    text = dismissal.read_text(encoding="utf-8")
    assert "## 此前计入的问责记录" in text
    assert f"问责记录 #{ids['2024-07-01']}：2024年7月2日发现，计划完成日期 2024年7月1日" in text


def test_an_exemption_records_the_new_ranking_and_the_explanation_follows_it(duban: Duban, tmp_path: Path) -> None:
    _campaign(duban, tmp_path)
    ids = {s["planned_date"]: s["id"] for s in duban.json("strikes") if s["person_id"] == "P1"}
    duban("strike", "exempt", ids["2024-07-01"], "--reason", "特大暴雨，不可抗力")
    reranked = [(sid, body) for sid, kind, body in _traces(duban) if kind == "reranked"]
    assert sorted(sid for sid, _ in reranked) == [ids["2024-07-02"], ids["2024-07-03"]]
    last = dict(reranked)[ids["2024-07-03"]]
    assert last["cause"] == "exemption" and last["ranking"]["level"] == 2
    assert last["ranking"]["counted_before"] == [ids["2024-07-02"]]
    explained = duban("strike", "explain", ids["2024-07-03"]).out
    assert (
        "等级：第 2 次" in explained and f"#{ids['2024-07-01']}（" not in explained.split("依据：")[1].splitlines()[0]
    )


def _policy(tmp_path: Path, old: str, new: str) -> Path:
    text = (ROOT / "config" / "policy.toml").read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "policy.toml"
    path.write_text(text.replace(old, new), encoding="utf-8")
    return path


def test_a_typo_in_the_policys_notice_kind_is_refused_before_anything_is_recorded(duban: Duban, tmp_path: Path) -> None:
    _policy_file = _policy(tmp_path, 'notice = "review_notice"', 'notice = "review_notcie"')
    duban._monkeypatch.setenv("DUBAN_POLICY_FILE", str(_policy_file))
    before = duban.dump()
    result = duban("evaluate", "--through", "2024-07-05", ok=False)
    assert result.code == 1
    assert f"{_policy_file}: 键 ladder.0.notice 的值 'review_notcie' 无效：应为已登记的通知种类之一" in result.err
    assert "Traceback" not in result.err
    assert duban.dump() == before


def test_a_typo_in_the_policys_agenda_item_is_refused(duban: Duban, tmp_path: Path) -> None:
    policy = _policy(tmp_path, 'agenda = "confirm_suspension"', 'agenda = "confirm_suspention"')
    duban._monkeypatch.setenv("DUBAN_POLICY_FILE", str(policy))
    result = duban("strikes", ok=False)
    assert result.code == 1 and "ladder.1.agenda" in result.err and "confirm_suspention" in result.err


def test_the_policys_agenda_column_places_the_strike_on_the_agenda(duban: Duban, tmp_path: Path) -> None:
    # A city that has the second strike presented as a review, not confirmed as a suspension.
    policy = _policy(tmp_path, 'agenda = "confirm_suspension"', 'agenda = "present_review"')
    duban._monkeypatch.setenv("DUBAN_POLICY_FILE", str(policy))
    _campaign(duban, tmp_path)
    ids = {s["planned_date"]: s["id"] for s in duban.json("strikes") if s["person_id"] == "P1"}
    agenda = duban("agenda", "--meeting", "2024-07-08").out
    reviews = agenda.split("## 二、")[0]
    assert f"#{ids['2024-07-02']}" in reviews  # the level-2 strike is under the reviews now
    assert f"#{ids['2024-07-03']}" not in reviews


def test_wording_is_overridable_like_the_templates(duban: Duban, tmp_path: Path) -> None:
    _campaign(duban, tmp_path)
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "wording.toml").write_text('[action]\nreview = "书面检查"\n', encoding="utf-8")
    duban._monkeypatch.setenv("DUBAN_TEMPLATES_DIR", str(folder))
    first = next(s["id"] for s in duban.json("strikes") if s["level"] == 1)
    assert "→ 书面检查：" in duban("strike", "explain", first).out
    (folder / "wording.toml").write_text('[action]\nreveiw = "书面检查"\n', encoding="utf-8")
    refused = duban("strikes", ok=False)
    assert refused.code == 1 and "wording.toml: [action] 中没有 reveiw" in refused.err


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_trace_of_a_version_this_duban_does_not_know_is_refused(duban: Duban, tmp_path: Path) -> None:
    _campaign(duban, tmp_path)
    engine = sa.create_engine(duban.url)
    with engine.begin() as connection:
        connection.execute(sa.text("UPDATE decision_trace SET version = 99 WHERE id = 1"))
    engine.dispose()
    result = duban("strike", "explain", "1", ok=False)
    assert result.code == 1 and "格式版本为 99" in result.err and "内部错误" not in result.err
