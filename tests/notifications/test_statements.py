"""Say only what has been decided (issue 17): decided vs proposed, one notice per event, document
numbers per series and year, and documents dated by what was evaluated — all through the command line."""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import ROOT, Duban, node, person, project, write_ledger
from tests.notifications.test_paperwork import scenario

SANCTIONS = ("做检查", "免职留用", "永不使用")


def _serial(number: str) -> tuple[str, int, int]:
    match = re.fullmatch(r"(.+)〔(\d{4})〕(\d+)号", number)
    assert match, number
    return match.group(1), int(match.group(2)), int(match.group(3))


def test_one_exemption_is_one_correction_dated_by_the_replays_day(duban: Duban, tmp_path: Path) -> None:
    duban.today("2024-07-08")
    scenario(duban, tmp_path)  # #3 exempted at the 8 July meeting, under DUBAN_TODAY=2024-07-08
    corrections = [n for n in duban.json("notices") if n["kind"] == "correction_notice"]
    assert [(n["strike_id"], n["date"], n["status"]) for n in corrections] == [(3, "2024-07-08", "final")]
    assert _serial(corrections[0]["doc_number"])[1] == 2024  # the document's year, never the machine's
    duban("notices", "render", "--out", tmp_path / "out")
    [text] = (tmp_path / "out" / "notices").glob(f"{corrections[0]['id']:05d}-correction_notice-*.md")
    body = text.read_text(encoding="utf-8")
    assert "问责记录 #3 经 2024年7月8日 党组会研究予以豁免（特大暴雨，不可抗力）" in body
    assert "此前的问责记录被豁免" not in body and corrections[0]["doc_number"] in body


def test_notices_list_states_and_numbers_gapless_per_series_and_year(duban: Duban, tmp_path: Path) -> None:
    duban.today("2024-07-08")
    scenario(duban, tmp_path)
    notices = duban.json("notices")
    assert {n["status"] for n in notices} == {"draft", "final", "superseded"}
    for n in notices:
        assert set(n) >= {"id", "kind", "person_id", "strike_id", "doc_number", "date", "status", "supersedes"}
        assert (n["doc_number"] is None) == (
            n["status"] == "draft"
            or (n["status"] == "superseded" and n["kind"] in ("suspension_decision", "dismissal_decision"))
        )
    # #2 was confirmed at the meeting: its draft is superseded by a final, numbered decision dated that day.
    of_two = {n["status"]: n for n in notices if n["strike_id"] == 2 and n["kind"] == "suspension_decision"}
    assert set(of_two) == {"superseded", "final"}
    assert of_two["final"]["supersedes"] == [of_two["superseded"]["id"]] and of_two["final"]["date"] == "2024-07-08"
    # #4 (dismissal) awaits the meeting: a draft, no number.
    assert [n["status"] for n in notices if n["strike_id"] == 4] == ["draft"]
    serials = sorted(_serial(n["doc_number"])[2] for n in notices if n["doc_number"])
    assert serials == list(range(1, len(serials) + 1))
    # Rendering again changes no number; the files carry the numbers the list shows.
    before = [(n["id"], n["doc_number"], n["date"], n["status"]) for n in notices]
    duban("notices", "render", "--out", tmp_path / "out")
    duban("notices", "render", "--out", tmp_path / "out")
    assert [(n["id"], n["doc_number"], n["date"], n["status"]) for n in duban.json("notices")] == before
    final = of_two["final"]
    files = list((tmp_path / "out" / "notices").glob(f"{final['id']:05d}-suspension_decision-P1.md"))
    assert files and final["doc_number"] in files[0].read_text(encoding="utf-8")
    assert "草稿" not in files[0].read_text(encoding="utf-8")
    assert list((tmp_path / "out" / "notices").glob("00004-dismissal_decision-P1-草稿.md"))


def test_each_year_numbers_from_one_by_the_documents_own_date(duban: Duban, tmp_path: Path) -> None:
    duban.today("2025-01-06")
    duban(
        "import",
        "ledger",
        write_ledger(
            tmp_path / "l",
            [person("P1"), person("P2"), person("P3")],
            [project("A", "P1"), project("B", "P2"), project("C", "P3")],
            [node("A", "N1", "2024-12-26"), node("B", "N1", "2024-12-27"), node("C", "N1", "2025-01-02")],
        ),
        "--as-of",
        "2024-12-01",
    )
    duban("evaluate", "--from", "2024-12-26", "--through", "2025-01-05")
    numbers = {n["person_id"]: n["doc_number"] for n in duban.json("notices")}
    assert numbers == {"P1": "吕建督〔2024〕1号", "P2": "吕建督〔2024〕2号", "P3": "吕建督〔2025〕1号"}


def test_the_bulletin_publishes_only_decided_sanctions(duban: Duban, tmp_path: Path) -> None:
    duban.today("2024-07-15")
    scenario(duban, tmp_path)  # strikes found 2–7 July; #2 confirmed and #3 exempted on 8 July
    first = duban("report", "weekly", "--week-of", "2024-07-03").out  # 1–7 July: nothing decided that week
    section = first.split("## 七、本周问责情况")[1].split("\n## ")[0]
    assert "已提请党组会研究" in section and "张三" in section
    assert not any(word in section for word in SANCTIONS), section  # no proposal printed as a sanction
    assert "第 2 次" not in section and "第 3 次" not in section
    duban("evaluate", "--through", "2024-07-14")
    second = duban("report", "weekly", "--week-of", "2024-07-10").out  # 8–14 July: the 8 July meeting decided
    section = second.split("## 七、本周问责情况")[1].split("\n## ")[0]
    assert "张三（市住建局）：LL-001小区“节点N2”未按期完成，第 2 次，免职留用（2024年7月8日党组会决定）" in section
    assert "经 2024年7月8日 党组会研究予以豁免" in section
    assert "永不使用" not in section  # #4 still awaits the meeting


def test_a_bulletin_is_dated_by_what_was_evaluated(duban: Duban, tmp_path: Path) -> None:
    duban.today("2024-07-20")
    scenario(duban, tmp_path)  # evaluated through 7 July
    refused = duban("report", "weekly", "--week-of", "2024-07-10", ok=False)
    assert refused.code == 1 and "尚未评估" in refused.err and "duban evaluate --through" in refused.err
    assert "Traceback" not in refused.err
    duban("evaluate", "--through", "2024-07-10")
    partial = duban("report", "weekly", "--week-of", "2024-07-10").out
    assert "截至 2024年7月10日" in partial and "2024年7月14日" not in partial
    refused = duban("report", "daily", "--date", "2024-07-12", ok=False)
    assert refused.code == 1 and "duban evaluate --through 2024-07-12" in refused.err


def test_agendas_state_what_was_so_at_their_meeting(duban: Duban, tmp_path: Path) -> None:
    duban.today("2024-07-20")
    scenario(duban, tmp_path)
    duban("strike", "confirm", "4", "--meeting", "2024-07-15")
    duban("evaluate", "--through", "2024-07-19")
    then = duban("agenda", "--meeting", "2024-07-08").out
    # On 8 July, 张三's dismissal (#4) was a proposal: the agenda of that meeting says so, whenever produced.
    needs = then.split("## 四、")[1].split("## 五、")[0]
    assert "张三（P1）拟永不使用（待 2024年7月8日 党组会研究）" in needs
    assert "红灯项目与本周数据截至 2024年7月8日" in then  # the meeting's day, evaluated since
    later = duban("agenda", "--meeting", "2024-07-22").out
    assert "原负责人 张三（P1）永不使用。" in later.split("## 四、")[1].split("## 五、")[0]
    odd = duban("agenda", "--meeting", "2024-07-10")
    assert odd.code == 0 and "不是" in odd.err and "党组会" in odd.err  # a date that is not a meeting says so


def test_the_agenda_counts_overdue_days_from_the_same_deadline_as_the_evaluation(duban: Duban, tmp_path: Path) -> None:
    policy = (ROOT / "config" / "policy.toml").read_text(encoding="utf-8")
    custom = tmp_path / "policy.toml"
    custom.write_text(
        policy.replace("shift_deadlines_to_workday = false", "shift_deadlines_to_workday = true"), encoding="utf-8"
    )
    duban._monkeypatch.setenv("DUBAN_POLICY_FILE", str(custom))
    duban.today("2024-10-09")
    # Sunday 6 October 2024 is in the National Day holiday: the deadline moves to Tuesday 8 October.
    duban(
        "import",
        "ledger",
        write_ledger(tmp_path / "l", [person("P1")], [project("A", "P1")], [node("A", "N1", "2024-10-06")]),
        "--as-of",
        "2024-09-30",
    )
    duban("evaluate", "--from", "2024-10-01", "--through", "2024-10-08")
    daily = duban("report", "daily", "--date", "2024-10-08").out
    assert "红灯：A" not in daily  # due by the end of the 8th: not overdue yet
    agenda = duban("agenda", "--meeting", "2024-10-08").out
    assert "“节点N1”逾期" not in agenda.split("## 五、")[1].split("## 六、")[0]
    duban("evaluate", "--through", "2024-10-09")
    agenda = duban("agenda", "--meeting", "2024-10-14").out
    red = agenda.split("## 五、")[1].split("## 六、")[0]
    assert "“节点N1”逾期 1 天" in red  # found on the 9th: one day past the shifted deadline


def test_document_series_are_configured_per_kind(duban: Duban, tmp_path: Path) -> None:
    config = tmp_path / "duban.toml"
    config.write_text(
        '[duban]\ndoc_series = { review_notice = "吕建查", correction_notice = "吕建正" }\n', encoding="utf-8"
    )
    duban._monkeypatch.setenv("DUBAN_CONFIG", str(config))
    duban.today("2024-07-08")
    scenario(duban, tmp_path)
    numbers = {(n["kind"], n["status"]): n["doc_number"] for n in duban.json("notices")}
    assert numbers[("review_notice", "final")].startswith("吕建查〔2024〕")
    assert numbers[("correction_notice", "final")] == "吕建正〔2024〕1号"
    assert numbers[("suspension_decision", "final")] is None  # a kind left out of doc_series carries no number
    config.write_text('[duban]\ndoc_series = { review_notcie = "吕建查" }\n', encoding="utf-8")
    refused = duban("notices", ok=False)
    assert refused.code == 1 and "review_notcie" in refused.err and "Traceback" not in refused.err
