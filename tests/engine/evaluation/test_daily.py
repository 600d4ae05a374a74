"""The escalation rules of spec/escalation-rules.md §1–5, through the real command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import ROOT, Duban, node, person, project, write_ledger


def load(
    duban: Duban,
    tmp_path: Path,
    nodes: list[list[object]],
    projects: list[list[object]] | None = None,
    persons: list[list[object]] | None = None,
    as_of: str | None = None,
) -> None:
    folder = write_ledger(
        tmp_path / "ledger",
        persons or [person("P1"), person("P2"), person("P3")],
        projects or [project("A", "P1"), project("B", "P1"), project("C", "P2")],
        nodes,
    )
    duban("import", "ledger", folder, *(["--as-of", as_of] if as_of else []))


def strikes(duban: Duban) -> list[dict[str, object]]:
    return duban.json("strikes")


def levels(duban: Duban) -> list[tuple[object, ...]]:
    return [(s["person_id"], s["planned_date"], s["level"], s["action"], s["status"]) for s in strikes(duban)]


def status(duban: Duban, pid: str) -> str:
    return next(p["status"] for p in duban.json("persons") if p["person_id"] == pid)


# ---------------------------------------------------------------------------- §1 misses: boundaries


def test_node_open_on_its_due_day_does_not_strike(duban: Duban, tmp_path: Path) -> None:
    load(duban, tmp_path, [node("A", "N1", "2024-07-31"), node("A", "N0", "2024-07-30", "2024-07-30")])
    result = duban.json("evaluate", "--through", "2024-07-31")
    assert result["evaluated_days"] == ["2024-07-31"]
    assert result["new_strikes"] == []
    assert strikes(duban) == []


def test_node_open_the_day_after_its_due_day_strikes(duban: Duban, tmp_path: Path) -> None:
    load(duban, tmp_path, [node("A", "N1", "2024-07-31"), node("A", "N0", "2024-07-30", "2024-07-30")])
    duban("evaluate", "--through", "2024-07-31")
    result = duban.json("evaluate", "--through", "2024-08-01")
    assert result["evaluated_days"] == ["2024-08-01"]
    assert len(result["new_strikes"]) == 1
    [strike] = strikes(duban)
    assert strike == {
        "id": result["new_strikes"][0],
        "person_id": "P1",
        "project_codes": ["A"],
        "nodes": [{"project_code": "A", "node_code": "N1", "planned_date": "2024-07-31"}],
        "planned_date": "2024-07-31",
        "detected_on": "2024-08-01",
        "level": 1,
        "action": "review",
        "status": "counted",
        "decision": "proposed",
    }


def test_completed_on_the_due_day_does_not_strike(duban: Duban, tmp_path: Path) -> None:
    load(duban, tmp_path, [node("A", "N1", "2024-07-31", "2024-07-31")])
    duban("evaluate", "--through", "2024-08-10")
    assert strikes(duban) == []


def test_completed_the_day_after_the_due_day_strikes(duban: Duban, tmp_path: Path) -> None:
    load(duban, tmp_path, [node("A", "N1", "2024-07-31", "2024-08-01")])
    duban("evaluate", "--through", "2024-08-10")
    assert levels(duban) == [("P1", "2024-07-31", 1, "review", "counted")]


def _with_grace(duban: Duban, tmp_path: Path, grace: int) -> None:
    policy = (ROOT / "config" / "policy.toml").read_text(encoding="utf-8")
    custom = tmp_path / "policy.toml"
    custom.write_text(policy.replace("grace_days = 0", f"grace_days = {grace}"), encoding="utf-8")
    duban._monkeypatch.setenv("DUBAN_POLICY_FILE", str(custom))


def test_grace_days_do_not_strike_within_grace(duban: Duban, tmp_path: Path) -> None:
    _with_grace(duban, tmp_path, 2)
    load(duban, tmp_path, [node("A", "N1", "2024-07-31", "2024-08-02"), node("A", "N2", "2024-07-31")])
    result = duban.json("evaluate", "--through", "2024-08-02", "--from", "2024-08-01")
    assert result["new_strikes"] == []


def test_grace_days_strike_the_day_after_grace(duban: Duban, tmp_path: Path) -> None:
    _with_grace(duban, tmp_path, 2)
    load(duban, tmp_path, [node("A", "N1", "2024-07-31", "2024-08-02"), node("A", "N2", "2024-07-31")])
    duban("evaluate", "--through", "2024-08-02", "--from", "2024-08-01")
    result = duban.json("evaluate", "--through", "2024-08-03")
    assert len(result["new_strikes"]) == 1
    [strike] = strikes(duban)
    assert (strike["detected_on"], strike["nodes"]) == (
        "2024-08-03",
        [{"project_code": "A", "node_code": "N2", "planned_date": "2024-07-31"}],
    )


def test_reserve_and_cancelled_projects_are_not_evaluated(duban: Duban, tmp_path: Path) -> None:
    load(
        duban,
        tmp_path,
        [node("A", "N1", "2024-07-31"), node("B", "N1", "2024-07-31"), node("C", "N1", "2024-07-31")],
        projects=[project("A", "P1", "储备"), project("B", "P1", "取消"), project("C", "P2", "在建")],
    )
    duban("evaluate", "--through", "2024-08-05")
    assert levels(duban) == [("P2", "2024-07-31", 1, "review", "counted")]


def test_node_imported_late_with_a_past_date_is_detected_by_the_next_run(duban: Duban, tmp_path: Path) -> None:
    load(duban, tmp_path, [node("A", "N1", "2024-07-10", "2024-07-10")])
    duban("evaluate", "--through", "2024-08-05")
    load(duban, tmp_path, [node("A", "N1", "2024-07-10", "2024-07-10"), node("A", "N2", "2024-07-20")])
    result = duban.json("evaluate", "--through", "2024-08-06")
    assert result["evaluated_days"] == ["2024-08-06"]
    [strike] = strikes(duban)
    assert (strike["planned_date"], strike["detected_on"], strike["level"]) == ("2024-07-20", "2024-08-06", 1)


# ---------------------------------------------------------------------------- §1 extensions


def test_extension_before_detection_does_not_strike(duban: Duban, tmp_path: Path) -> None:
    load(duban, tmp_path, [node("A", "N1", "2024-07-31")])
    duban("evaluate", "--through", "2024-07-31", "--from", "2024-07-31")
    duban("node", "extend", "A", "N1", "--to", "2024-08-15", "--reason", "连续降雨停工")
    duban("evaluate", "--through", "2024-08-15")
    assert strikes(duban) == []


def test_extension_after_detection_keeps_the_strike_and_the_new_date_can_be_missed(
    duban: Duban, tmp_path: Path
) -> None:
    load(duban, tmp_path, [node("A", "N1", "2024-07-31")])
    duban("evaluate", "--through", "2024-08-01", "--from", "2024-08-01")
    duban("node", "extend", "A", "N1", "--to", "2024-08-15", "--reason", "管线产权单位协调")
    duban("evaluate", "--through", "2024-08-15")
    assert levels(duban) == [("P1", "2024-07-31", 1, "review", "counted")]
    duban("evaluate", "--through", "2024-08-16")
    assert levels(duban) == [
        ("P1", "2024-07-31", 1, "review", "counted"),
        ("P1", "2024-08-15", 2, "suspension", "counted"),
    ]


def test_reimport_with_a_new_planned_date_is_an_extension(duban: Duban, tmp_path: Path) -> None:
    load(duban, tmp_path, [node("A", "N1", "2024-07-31")])
    duban("evaluate", "--through", "2024-07-30", "--from", "2024-07-30")
    load(duban, tmp_path, [node("A", "N1", "2024-08-10")])
    duban("evaluate", "--through", "2024-08-10")
    assert strikes(duban) == []
    duban("evaluate", "--through", "2024-08-11")
    assert levels(duban) == [("P1", "2024-08-10", 1, "review", "counted")]


# ---------------------------------------------------------------------------- §2 who is accountable


def test_the_person_responsible_on_the_planned_date_is_struck(duban: Duban, tmp_path: Path) -> None:
    load(duban, tmp_path, [node("A", "N1", "2024-07-31"), node("A", "N2", "2024-08-10")])
    duban("project", "assign", "A", "P2", "--from", "2024-08-01")
    duban("evaluate", "--through", "2024-08-11", "--from", "2024-08-01")
    assert [(s["person_id"], s["planned_date"]) for s in strikes(duban)] == [("P1", "2024-07-31"), ("P2", "2024-08-10")]


def test_reassignment_effective_on_the_planned_date_strikes_the_new_person(duban: Duban, tmp_path: Path) -> None:
    load(duban, tmp_path, [node("A", "N1", "2024-07-31")])
    duban("project", "assign", "A", "P2", "--from", "2024-07-31")
    duban("evaluate", "--through", "2024-08-01", "--from", "2024-08-01")
    assert [s["person_id"] for s in strikes(duban)] == ["P2"]


def test_project_without_responsible_person_records_the_miss_with_no_person(duban: Duban, tmp_path: Path) -> None:
    load(duban, tmp_path, [node("A", "N1", "2024-07-31"), node("A", "N2", "2024-07-31")], projects=[project("A", None)])
    duban("evaluate", "--through", "2024-08-01", "--from", "2024-08-01")
    [strike] = strikes(duban)
    assert strike["person_id"] is None
    assert strike["level"] is None and strike["action"] is None and strike["status"] == "counted"
    assert [n["node_code"] for n in strike["nodes"]] == ["N1", "N2"]
    assert all(p["status"] == "active" for p in duban.json("persons"))


# ---------------------------------------------------------------------------- §3 strikes and levels


def test_misses_of_one_person_with_the_same_planned_date_are_one_strike(duban: Duban, tmp_path: Path) -> None:
    load(duban, tmp_path, [node("A", "N1", "2024-07-31"), node("B", "N1", "2024-07-31"), node("C", "N1", "2024-07-31")])
    duban("evaluate", "--through", "2024-08-01", "--from", "2024-08-01")
    data = strikes(duban)
    assert [(s["person_id"], s["project_codes"], s["level"]) for s in data] == [("P1", ["A", "B"], 1), ("P2", ["C"], 1)]


def test_misses_with_different_planned_dates_are_separate_strikes(duban: Duban, tmp_path: Path) -> None:
    load(duban, tmp_path, [node("A", "N1", "2024-07-30"), node("B", "N1", "2024-07-31")])
    duban("evaluate", "--through", "2024-08-01", "--from", "2024-07-31")
    assert levels(duban) == [
        ("P1", "2024-07-30", 1, "review", "counted"),
        ("P1", "2024-07-31", 2, "suspension", "counted"),
    ]


def test_a_later_miss_with_the_same_planned_date_joins_the_existing_strike(duban: Duban, tmp_path: Path) -> None:
    load(duban, tmp_path, [node("A", "N1", "2024-07-31")])
    duban("evaluate", "--through", "2024-08-02", "--from", "2024-08-01")
    load(duban, tmp_path, [node("A", "N1", "2024-07-31"), node("B", "N9", "2024-07-31")])
    result = duban.json("evaluate", "--through", "2024-08-03")
    assert result["new_strikes"] == []
    [strike] = strikes(duban)
    assert [n["project_code"] for n in strike["nodes"]] == ["A", "B"]
    assert strike["detected_on"] == "2024-08-01" and strike["level"] == 1


def test_ladder_review_suspension_dismissal_and_statuses(duban: Duban, tmp_path: Path) -> None:
    load(duban, tmp_path, [node("A", f"N{i}", f"2024-07-{10 + i}") for i in range(1, 5)])
    duban("evaluate", "--through", "2024-07-12", "--from", "2024-07-12")
    assert status(duban, "P1") == "reviewed"
    duban("evaluate", "--through", "2024-07-13")
    assert status(duban, "P1") == "suspended"
    duban("evaluate", "--through", "2024-07-15")
    assert [s["action"] for s in strikes(duban)] == ["review", "suspension", "dismissal", "dismissal"]
    assert [s["level"] for s in strikes(duban)] == [1, 2, 3, 4]
    assert status(duban, "P1") == "dismissed"
    assert next(p for p in duban.json("persons") if p["person_id"] == "P1")["counted_strikes"] == 4


def test_counting_spans_all_the_persons_projects(duban: Duban, tmp_path: Path) -> None:
    load(duban, tmp_path, [node("A", "N1", "2024-07-10"), node("B", "N1", "2024-07-11")])
    duban("evaluate", "--through", "2024-07-12", "--from", "2024-07-11")
    assert [(s["project_codes"], s["level"]) for s in strikes(duban)] == [(["A"], 1), (["B"], 2)]


def test_same_day_strikes_rank_by_planned_date_then_project_then_node(duban: Duban, tmp_path: Path) -> None:
    load(duban, tmp_path, [node("B", "N1", "2024-07-10"), node("A", "N2", "2024-07-11"), node("A", "N1", "2024-07-10")])
    duban("evaluate", "--through", "2024-07-20", "--from", "2024-07-20")
    assert [(s["planned_date"], s["nodes"][0]["project_code"], s["level"]) for s in strikes(duban)] == [
        ("2024-07-10", "A", 1),
        ("2024-07-11", "A", 2),
    ]


def test_window_counts_only_recent_strikes(duban: Duban, tmp_path: Path) -> None:
    policy = (ROOT / "config" / "policy.toml").read_text(encoding="utf-8")
    custom = tmp_path / "policy.toml"
    custom.write_text(policy.replace("# strike_window_days = 365", "strike_window_days = 10"), encoding="utf-8")
    duban._monkeypatch.setenv("DUBAN_POLICY_FILE", str(custom))
    load(duban, tmp_path, [node("A", "N1", "2024-07-01"), node("A", "N2", "2024-07-05"), node("A", "N3", "2024-07-20")])
    duban("evaluate", "--through", "2024-07-25", "--from", "2024-07-02")
    assert [s["level"] for s in strikes(duban)] == [1, 2, 1]


def test_per_node_grouping_makes_each_node_its_own_strike(duban: Duban, tmp_path: Path) -> None:
    policy = (ROOT / "config" / "policy.toml").read_text(encoding="utf-8")
    custom = tmp_path / "policy.toml"
    custom.write_text(
        policy.replace('strike_grouping = "per_due_date"', 'strike_grouping = "per_node"'), encoding="utf-8"
    )
    duban._monkeypatch.setenv("DUBAN_POLICY_FILE", str(custom))
    load(duban, tmp_path, [node("A", "N1", "2024-07-31"), node("B", "N1", "2024-07-31")])
    duban("evaluate", "--through", "2024-08-01", "--from", "2024-08-01")
    assert [s["level"] for s in strikes(duban)] == [1, 2]


# ---------------------------------------------------------------------------- §3 dismissed persons


def _dismiss_p1(duban: Duban, tmp_path: Path) -> None:
    load(
        duban,
        tmp_path,
        [*(node("A", f"N{i}", f"2024-07-{10 + i}") for i in range(1, 4)), node("A", "N9", "2024-08-20")],
    )
    duban("evaluate", "--through", "2024-07-14", "--from", "2024-07-12")
    assert status(duban, "P1") == "dismissed"


def test_assigning_a_dismissed_person_is_refused_naming_the_strike(duban: Duban, tmp_path: Path) -> None:
    _dismiss_p1(duban, tmp_path)
    before = duban.dump()
    result = duban("project", "assign", "C", "P1", "--from", "2024-08-01", ok=False)
    assert result.code == 1
    dismissal = next(s["id"] for s in strikes(duban) if s["level"] == 3)
    assert f"#{dismissal}" in result.err and "P1" in result.err and "Traceback" not in result.err
    assert duban.dump() == before


def test_assigning_a_suspended_person_is_not_refused(duban: Duban, tmp_path: Path) -> None:
    load(duban, tmp_path, [node("A", "N1", "2024-07-11"), node("A", "N2", "2024-07-12")])
    duban("evaluate", "--through", "2024-07-13", "--from", "2024-07-12")
    assert status(duban, "P1") == "suspended"
    assert duban("project", "assign", "C", "P1", "--from", "2024-08-01").code == 0


def test_misses_still_strike_a_dismissed_person_until_reassigned(duban: Duban, tmp_path: Path) -> None:
    _dismiss_p1(duban, tmp_path)
    duban("evaluate", "--through", "2024-08-21")
    assert levels(duban)[-1] == ("P1", "2024-08-20", 4, "dismissal", "counted")


def test_reimport_assigning_a_dismissed_person_is_refused(duban: Duban, tmp_path: Path) -> None:
    _dismiss_p1(duban, tmp_path)
    before = duban.dump()
    folder = write_ledger(tmp_path / "again", [person("P1")], [project("C", "P1")])
    result = duban("import", "ledger", folder, ok=False)
    assert result.code == 1 and "永不使用" in result.err and "projects.csv" in result.err
    assert duban.dump() == before


# ---------------------------------------------------------------------------- §4 decisions, corrections


def test_confirm_records_the_meeting_decision(duban: Duban, tmp_path: Path) -> None:
    load(duban, tmp_path, [node("A", "N1", "2024-07-31")])
    duban("evaluate", "--through", "2024-08-01", "--from", "2024-08-01")
    [strike] = strikes(duban)
    duban("strike", "confirm", strike["id"], "--meeting", "2024-08-05")
    assert strikes(duban)[0]["decision"] == "confirmed"
    again = duban("strike", "confirm", strike["id"], "--meeting", "2024-08-12", ok=False)
    assert again.code == 1 and "已" in again.err


def test_exemption_stops_counting_and_later_strikes_move_down(duban: Duban, tmp_path: Path) -> None:
    load(duban, tmp_path, [node("A", f"N{i}", f"2024-07-{10 + i}") for i in range(1, 4)])
    duban("evaluate", "--through", "2024-07-14", "--from", "2024-07-12")
    first = strikes(duban)[0]["id"]
    duban("strike", "exempt", first, "--reason", "特大暴雨，不可抗力")
    assert levels(duban) == [
        ("P1", "2024-07-11", None, None, "exempted"),
        ("P1", "2024-07-12", 1, "review", "counted"),
        ("P1", "2024-07-13", 2, "suspension", "counted"),
    ]
    assert status(duban, "P1") == "suspended"
    assert duban.json("persons")[0]["counted_strikes"] == 2


def test_exempted_strike_can_not_be_exempted_or_confirmed_again(duban: Duban, tmp_path: Path) -> None:
    load(duban, tmp_path, [node("A", "N1", "2024-07-31")])
    duban("evaluate", "--through", "2024-08-01", "--from", "2024-08-01")
    duban("strike", "exempt", "1", "--reason", "不可抗力")
    assert duban("strike", "exempt", "1", "--reason", "again", ok=False).code == 1
    assert duban("strike", "confirm", "1", "--meeting", "2024-08-05", ok=False).code == 1


def test_backdated_completion_revokes_the_strike(duban: Duban, tmp_path: Path) -> None:
    load(duban, tmp_path, [node("A", "N1", "2024-07-30"), node("A", "N2", "2024-07-31")])
    duban("evaluate", "--through", "2024-08-01", "--from", "2024-07-31")
    assert status(duban, "P1") == "suspended"
    duban("node", "complete", "A", "N1", "--on", "2024-07-30")
    assert levels(duban) == [("P1", "2024-07-30", None, None, "revoked"), ("P1", "2024-07-31", 1, "review", "counted")]
    assert status(duban, "P1") == "reviewed"


def test_late_completion_does_not_revoke(duban: Duban, tmp_path: Path) -> None:
    load(duban, tmp_path, [node("A", "N1", "2024-07-30")])
    duban("evaluate", "--through", "2024-08-01", "--from", "2024-07-31")
    duban("node", "complete", "A", "N1", "--on", "2024-07-31")
    assert levels(duban) == [("P1", "2024-07-30", 1, "review", "counted")]


def test_revocation_of_one_node_keeps_a_strike_with_other_missed_nodes(duban: Duban, tmp_path: Path) -> None:
    load(duban, tmp_path, [node("A", "N1", "2024-07-31"), node("B", "N1", "2024-07-31")])
    duban("evaluate", "--through", "2024-08-01", "--from", "2024-08-01")
    duban("node", "complete", "A", "N1", "--on", "2024-07-31")
    [strike] = strikes(duban)
    assert strike["status"] == "counted" and strike["level"] == 1
    assert strike["nodes"] == [{"project_code": "B", "node_code": "N1", "planned_date": "2024-07-31"}]


def test_corrected_ledger_with_an_on_time_completion_revokes(duban: Duban, tmp_path: Path) -> None:
    load(duban, tmp_path, [node("A", "N1", "2024-07-31")])
    duban("evaluate", "--through", "2024-08-01", "--from", "2024-08-01")
    load(duban, tmp_path, [node("A", "N1", "2024-07-31", "2024-07-31")])
    assert levels(duban) == [("P1", "2024-07-31", None, None, "revoked")]


def test_completion_in_the_future_is_refused(duban: Duban, tmp_path: Path) -> None:
    load(duban, tmp_path, [node("A", "N1", "2024-07-31")])
    before = duban.dump()
    result = duban("node", "complete", "A", "N1", "--on", "2025-01-01", ok=False)
    assert result.code == 1 and "晚于今天" in result.err
    assert duban.dump() == before


# ---------------------------------------------------------------------------- §5 runs


def test_first_run_starts_the_day_after_the_earliest_planned_date(duban: Duban, tmp_path: Path) -> None:
    load(duban, tmp_path, [node("A", "N1", "2024-07-29"), node("A", "N2", "2024-08-02")])
    result = duban.json("evaluate", "--through", "2024-08-01")
    assert result["evaluated_days"] == ["2024-07-30", "2024-07-31", "2024-08-01"]


def test_rerun_for_the_same_day_adds_nothing(duban: Duban, tmp_path: Path) -> None:
    load(duban, tmp_path, [node("A", "N1", "2024-07-31")])
    first = duban.json("evaluate", "--through", "2024-08-05")
    again = duban.json("evaluate", "--through", "2024-08-05")
    assert len(first["new_strikes"]) == 1
    assert again == {"evaluated_days": [], "new_strikes": [], "warnings": 0}
    assert len(strikes(duban)) == 1


def test_catch_up_evaluates_each_missing_day_in_order(duban: Duban, tmp_path: Path) -> None:
    load(duban, tmp_path, [node("A", "N1", "2024-07-31"), node("A", "N2", "2024-08-03")])
    duban("evaluate", "--through", "2024-08-01")
    result = duban.json("evaluate", "--through", "2024-08-05")
    assert result["evaluated_days"] == ["2024-08-02", "2024-08-03", "2024-08-04", "2024-08-05"]
    assert [s["detected_on"] for s in strikes(duban)] == ["2024-08-01", "2024-08-04"]


def test_from_that_disagrees_with_the_last_evaluated_day_is_refused(duban: Duban, tmp_path: Path) -> None:
    load(duban, tmp_path, [node("A", "N1", "2024-07-31")])
    duban("evaluate", "--through", "2024-08-01")
    result = duban("evaluate", "--through", "2024-08-05", "--from", "2024-07-01", ok=False)
    assert result.code == 1 and "2024-08-02" in result.err
    assert duban("evaluate", "--through", "2024-08-05", "--from", "2024-08-02").code == 0


def test_evaluating_a_future_day_is_refused(duban: Duban, tmp_path: Path) -> None:
    load(duban, tmp_path, [node("A", "N1", "2024-07-31")])
    result = duban("evaluate", "--through", "2025-01-02", ok=False)
    assert result.code == 1 and "未来" in result.err


def test_a_day_that_fails_halfway_leaves_nothing_and_the_next_run_goes_on(
    duban: Duban, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    load(duban, tmp_path, [node("A", "N1", "2024-07-31"), node("A", "N2", "2024-08-02"), node("C", "N1", "2024-08-02")])
    import engine.evaluation.daily as evaluation

    real = evaluation._record_misses
    calls = {"n": 0}

    def crash_on_second_day(app, session, day, missed):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if day.isoformat() == "2024-08-03":
            real(app, session, day, missed)  # write everything, then die before the commit
            raise RuntimeError("power cut")
        return real(app, session, day, missed)

    monkeypatch.setattr(evaluation, "_record_misses", crash_on_second_day)
    crashed = duban("evaluate", "--through", "2024-08-05", ok=False)
    assert crashed.code == 1 and "Traceback" not in crashed.err
    assert [s["detected_on"] for s in strikes(duban)] == ["2024-08-01"]
    monkeypatch.setattr(evaluation, "_record_misses", real)
    result = duban.json("evaluate", "--through", "2024-08-05")
    assert result["evaluated_days"][0] == "2024-08-03"
    assert levels(duban) == [
        ("P1", "2024-07-31", 1, "review", "counted"),
        ("P1", "2024-08-02", 2, "suspension", "counted"),
        ("P2", "2024-08-02", 1, "review", "counted"),
    ]


def test_warnings_count_nodes_due_soon(duban: Duban, tmp_path: Path) -> None:
    load(
        duban,
        tmp_path,
        [
            node("A", "N0", "2024-07-20", "2024-07-20"),
            node("A", "N1", "2024-08-03"),
            node("A", "N2", "2024-08-04", "2024-07-30"),
            node("A", "N3", "2024-08-10"),
        ],
    )
    result = duban.json("evaluate", "--through", "2024-08-01")
    assert result["warnings"] == 1


# ---------------------------------------------------------------------------- derived levels, records


def _rows(duban: Duban, sql: str) -> list[tuple[object, ...]]:
    import sqlalchemy as sa

    engine = sa.create_engine(duban.url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text(sql)).all()]
    finally:
        engine.dispose()


def test_exemption_records_status_change_and_correction_notice(duban: Duban, tmp_path: Path) -> None:
    load(duban, tmp_path, [node("A", "N1", "2024-07-11"), node("A", "N2", "2024-07-12")])
    duban("evaluate", "--through", "2024-07-13", "--from", "2024-07-12")
    duban("strike", "exempt", "1", "--reason", "不可抗力", "--meeting", "2024-07-15")
    changes = _rows(
        duban, "select old_level, new_level, old_status, new_status, cause, actor from status_change order by id"
    )
    assert changes == [
        (None, 1, "active", "reviewed", "strike", "tester"),
        (1, 2, "reviewed", "suspended", "strike", "tester"),
        (2, 1, "suspended", "reviewed", "exemption", "tester"),
    ]
    notices = _rows(duban, "select kind, strike_id from notice order by id")
    # One exemption, one correction notice: to the person, about the exempted strike, naming the level moved.
    assert notices == [("review_notice", 1), ("suspension_decision", 2), ("correction_notice", 1)]
    events = _rows(duban, "select strike_id, kind, old_level, new_level from strike_event order by id")
    assert (2, "level_changed", 2, 1) in events and (1, "exempted", 1, None) in events


def test_changing_the_window_rederives_levels_at_the_next_evaluation(duban: Duban, tmp_path: Path) -> None:
    load(duban, tmp_path, [node("A", "N1", "2024-07-01"), node("A", "N2", "2024-07-20"), node("A", "N3", "2024-08-20")])
    duban("evaluate", "--through", "2024-07-25", "--from", "2024-07-02")
    assert [s["level"] for s in strikes(duban)] == [1, 2]
    policy = (ROOT / "config" / "policy.toml").read_text(encoding="utf-8")
    custom = tmp_path / "policy.toml"
    custom.write_text(policy.replace("# strike_window_days = 365", "strike_window_days = 10"), encoding="utf-8")
    duban._monkeypatch.setenv("DUBAN_POLICY_FILE", str(custom))
    duban("evaluate", "--through", "2024-07-26")
    assert [s["level"] for s in strikes(duban)] == [1, 1]
    assert status(duban, "P1") == "reviewed"
    assert ("policy",) in _rows(duban, "select cause from status_change")


def test_explain_prints_the_facts_and_the_rules_in_chinese(duban: Duban, tmp_path: Path) -> None:
    load(duban, tmp_path, [node("A", "N1", "2024-07-30"), node("A", "N2", "2024-07-31"), node("B", "N1", "2024-07-31")])
    duban("evaluate", "--through", "2024-08-01", "--from", "2024-07-31")
    text = duban("strike", "explain", "2").out
    for fragment in (
        "问责记录 #2",
        "P1",
        "A N2",
        "B N1",
        "2024年7月31日",
        "2024年8月1日",
        "同一负责人同一计划日期",
        "第 2 次",
        "拟免职留用（待 ",
    ):
        assert fragment in text, fragment
    assert duban("strike", "explain", "99", ok=False).code == 1


def test_holiday_deadline_moves_to_the_next_working_day_when_the_policy_says_so(duban: Duban, tmp_path: Path) -> None:
    policy = (ROOT / "config" / "policy.toml").read_text(encoding="utf-8")
    custom = tmp_path / "policy.toml"
    custom.write_text(
        policy.replace("shift_deadlines_to_workday = false", "shift_deadlines_to_workday = true"), encoding="utf-8"
    )
    duban._monkeypatch.setenv("DUBAN_POLICY_FILE", str(custom))
    load(duban, tmp_path, [node("A", "N1", "2024-10-01"), node("B", "N1", "2024-10-01", "2024-10-08")])
    duban("evaluate", "--through", "2024-10-08", "--from", "2024-10-02")
    assert strikes(duban) == []  # National Day holiday: the deadline is the next working day, 10-08
    result = duban.json("evaluate", "--through", "2024-10-09")
    assert [(s["project_codes"], s["detected_on"]) for s in strikes(duban)] == [(["A"], "2024-10-09")]
    assert len(result["new_strikes"]) == 1


def test_holiday_deadline_does_not_move_by_default(duban: Duban, tmp_path: Path) -> None:
    load(duban, tmp_path, [node("A", "N1", "2024-10-01")])
    duban("evaluate", "--through", "2024-10-02", "--from", "2024-10-02")
    assert [s["detected_on"] for s in strikes(duban)] == ["2024-10-02"]


@pytest.mark.parametrize("typed", ["2024-7-5", "2024/07/05", "5 July"])
def test_a_date_typed_on_the_command_line_is_read_in_one_form(duban: Duban, typed: str) -> None:
    duban("init")
    result = duban("evaluate", "--through", typed, ok=False)
    assert result.code == 2 and f"日期应为 YYYY-MM-DD 格式：'{typed}'" in result.err
    assert duban("evaluate", "--through", " 2024-07-05 ").code == 0  # spaces around it are not part of it
