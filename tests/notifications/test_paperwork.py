"""The paperwork: golden files for every kind × format, the registry, safety, and the CLI."""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine

from config.vocabulary import Format, Kind
from notifications.kinds import REGISTRY, template_name
from notifications.render import Renderer, md_escape
from tests.conftest import ROOT, Duban, node, person, project, write_ledger

GOLDEN = Path(__file__).with_name("golden")
UPDATE = os.environ.get("DUBAN_UPDATE_GOLDEN") == "1"
HOSTILE = "{{ 7*7 }}<script>alert(1)</script>&"


def scenario(duban: Duban, tmp_path: Path) -> None:
    """A fixed campaign: reviews, a suspension, a dismissal, an exemption, a request, a red project."""
    persons = [person("P1", "张三"), person("P2", HOSTILE), person("P3", "王五")]
    projects = [project("LL-001", "P1"), project("LL-002", "P2"), project("LL-003", "P3"), project("LL-004", None)]
    nodes = [
        node("LL-001", "N1", "2024-07-01"),
        node("LL-001", "N2", "2024-07-02"),
        node("LL-001", "N3", "2024-07-03"),
        node("LL-002", "N1", "2024-07-02"),
        node("LL-002", "N2", "2024-07-04", "2024-07-04"),
        node("LL-003", "N1", "2024-07-03"),
        node("LL-003", "N2", "2024-07-09"),
        node("LL-004", "N1", "2024-07-05"),
    ]
    duban("import", "ledger", write_ledger(tmp_path / "ledger", persons, projects, nodes), "--as-of", "2024-06-30")
    hotline = tmp_path / "12345.csv"
    hotline.write_text(
        "工单编号,受理时间,诉求内容,地址/小区,办理时限,办结时间,满意度\n"
        "GD-01,2024-07-01 10:00,施工围挡占道,LL-001小区3号楼,2024-07-03 17:30,,\n"
        "GD-02,2024-07-02 09:00,夜间施工噪音,LL-003小区,2024-07-05,2024-07-06 10:00,不满意\n"
        "GD-03,2024-07-04 08:00,小区门口积水,建设路88号,2024-07-09,,\n",
        encoding="utf-8",
    )
    duban("import", "complaints", hotline)
    duban("evaluate", "--through", "2024-07-07", "--from", "2024-07-02")
    duban("strike", "request-exemption", "5", "--reason", "燃气公司停气审批延误，非施工单位原因")
    duban("strike", "exempt", "3", "--reason", "特大暴雨，不可抗力", "--meeting", "2024-07-08")
    duban("strike", "confirm", "2", "--meeting", "2024-07-08")


def _normalise(text: str) -> str:
    return re.sub(r"/tmp/\S+/", "<tmp>/", text)


def _check(name: str, text: str) -> None:
    path = GOLDEN / name
    if UPDATE or not path.exists():
        path.write_text(text, encoding="utf-8")
        if not UPDATE:
            pytest.fail(f"golden file {name} was missing and has been written: review it, then commit it")
    assert text == path.read_text(encoding="utf-8"), (
        f"{name} differs from its golden file; if the change is intended, run "
        "DUBAN_UPDATE_GOLDEN=1 pytest tests/notifications and review the diff like code"
    )


def test_every_kind_and_format_matches_its_golden_file(duban: Duban, tmp_path: Path) -> None:
    with time_machine.travel(dt.datetime(2024, 7, 8, 9, 30, tzinfo=ZoneInfo("Asia/Shanghai")), tick=False):
        duban.today("2024-07-08")
        scenario(duban, tmp_path)
        duban("notices", "render", "--out", tmp_path / "out")
        written = sorted((tmp_path / "out" / "notices").iterdir())
        kinds_seen = set()
        for path in written:
            if path.suffix in (".md", ".html"):
                kind = path.stem.split("-")[1]
                kinds_seen.add(kind)
                _check(f"notice-{path.stem}{path.suffix}", path.read_text(encoding="utf-8"))
        assert kinds_seen == {"review_notice", "suspension_decision", "dismissal_decision", "correction_notice"}
        assert {p.suffix for p in written} == {".md", ".html", ".docx"}
        for fmt in ("md", "html"):
            _check(f"agenda.{fmt}", duban("agenda", "--meeting", "2024-07-08", "--format", fmt).out)
            _check(f"daily.{fmt}", duban("report", "daily", "--date", "2024-07-04", "--format", fmt).out)
            _check(f"meeting_decisions.{fmt}", duban("decisions", "--meeting", "2024-07-08", "--format", fmt).out)
            target = tmp_path / "weekly" / f"bulletin.{fmt}"
            duban("report", "weekly", "--week-of", "2024-07-03", "--format", fmt, "--out", target)
            _check(f"bulletin.{fmt}", _normalise(target.read_text(encoding="utf-8")))
        assert (tmp_path / "weekly" / "progress-2024-07-01.png").stat().st_size > 10_000


def test_notices_are_rendered_once(duban: Duban, tmp_path: Path) -> None:
    duban.today("2024-07-08")
    scenario(duban, tmp_path)
    first = duban("notices", "render", "--out", tmp_path / "out", "--format", "md")
    assert "已生成" in first.out
    count = len(list((tmp_path / "out" / "notices").iterdir()))
    assert count >= 6
    again = duban("notices", "render", "--out", tmp_path / "out", "--format", "md")
    assert "没有尚未生成的通知" in again.out
    assert len(list((tmp_path / "out" / "notices").iterdir())) == count


def test_ledger_text_is_data_never_template_code(duban: Duban, tmp_path: Path) -> None:
    duban.today("2024-07-08")
    scenario(duban, tmp_path)
    duban("notices", "render", "--out", tmp_path / "out")
    notices = tmp_path / "out" / "notices"
    md = next(notices.glob("*-review_notice-P2.md")).read_text(encoding="utf-8")
    html = next(notices.glob("*-review_notice-P2.html")).read_text(encoding="utf-8")
    # Markdown: escaped, so the name can make no markup (a robot, a Markdown viewer); Word shows it as typed.
    assert HOSTILE not in md and md_escape(HOSTILE) in md and "49" not in md.split("2024")[0]
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;&amp;" in html and "{{ 7*7 }}" in html
    from docx import Document

    doc = Document(str(next(notices.glob("*-review_notice-P2.docx"))))
    text = "\n".join(p.text for p in doc.paragraphs)
    assert HOSTILE in text


def test_registry_every_kind_has_a_template_for_every_format_and_an_example() -> None:
    renderer = Renderer()
    templates = ROOT / "notifications" / "templates"
    for kind, info in REGISTRY.items():
        assert info.title and info.category in {"notice", "decision", "agenda", "report", "bulletin", "record"}, kind
        for fmt in info.formats:
            name = template_name(kind, fmt)
            assert (templates / name).exists(), f"{kind} has no {fmt} template: add notifications/templates/{name}"
        golden = [
            p
            for p in GOLDEN.iterdir()
            if kind.value in p.name
            or {Kind.MEETING_AGENDA: "agenda", Kind.DAILY_REPORT: "daily", Kind.WEEKLY_BULLETIN: "bulletin"}.get(
                kind, "?"
            )
            in p.name
        ]
        assert golden, f"{kind} has no example in tests/notifications/golden: extend scenario() to produce one"
    assert renderer.env.undefined.__name__ == "StrictUndefined"


def test_user_templates_override_and_run_sandboxed(tmp_path: Path) -> None:
    (tmp_path / "daily_report.md.j2").write_text("{{ meta.title }} {{ ''.__class__ }}", encoding="utf-8")
    renderer = Renderer(tmp_path)
    from jinja2.exceptions import SecurityError, UndefinedError

    with pytest.raises((SecurityError, UndefinedError)):
        renderer.render(Kind.DAILY_REPORT, Format.MD, {"meta": {"title": "x"}})
    (tmp_path / "daily_report.md.j2").write_text("覆盖：{{ meta.title }}", encoding="utf-8")
    assert Renderer(tmp_path).render(Kind.DAILY_REPORT, Format.MD, {"meta": {"title": "检点"}}) == "覆盖：检点"
    with pytest.raises(UndefinedError):
        Renderer(tmp_path).render(Kind.DAILY_REPORT, Format.MD, {})


def test_agenda_docx_and_bulletin_docx_are_written(duban: Duban, tmp_path: Path) -> None:
    duban.today("2024-07-08")
    scenario(duban, tmp_path)
    duban("agenda", "--meeting", "2024-07-08", "--format", "docx", "--out", tmp_path / "agenda.docx")
    duban("report", "weekly", "--week-of", "2024-07-03", "--format", "docx", "--out", tmp_path / "b" / "bulletin.docx")
    from docx import Document

    agenda = "\n".join(p.text for p in Document(str(tmp_path / "agenda.docx")).paragraphs)
    assert "党组会议议程" in agenda and "张三" in agenda and "2024年7月8日" in agenda
    bulletin = Document(str(tmp_path / "b" / "bulletin.docx"))
    assert "关于老旧小区改造进展情况的通报（第1期）" in "\n".join(p.text for p in bulletin.paragraphs)
    assert len(bulletin.inline_shapes) == 1  # the chart
    assert duban("report", "daily", "--date", "2024-07-04", "--format", "docx", ok=False).code == 1


def test_agenda_in_a_year_without_holiday_table_is_flagged(duban: Duban, tmp_path: Path) -> None:
    duban.today("2027-03-01")
    result = duban("agenda", "--meeting", "2027-03-01", ok=False)
    assert result.code == 1 and "2027" in result.err and "Traceback" not in result.err


def test_agenda_lists_what_the_meeting_must_decide(duban: Duban, tmp_path: Path) -> None:
    duban.today("2024-07-08")
    scenario(duban, tmp_path)
    text = duban("agenda", "--meeting", "2024-07-08").out
    reviews, rest = text.split("## 二、")[0], text.split("## 二、")[1]
    decisions, rest = rest.split("## 三、")
    requests, rest = rest.split("## 四、")
    needs, rest = rest.split("## 五、")
    red, figures = rest.split("## 六、")
    assert "王五" in reviews and "张三" in reviews
    # The agenda states what awaited the meeting as it stood before it: #2, confirmed at this very
    # meeting, is on it; what the meeting decided is its 决定事项 (below).
    assert "张三（P1）第 3 次" in decisions and "张三（P1）第 2 次" in decisions
    assert "燃气公司停气审批延误" in requests
    assert "LL-004" in needs and "无负责人" in needs and "LL-001" in needs
    assert "LL-003" in red and "开工率" in figures
    decided = duban("decisions", "--meeting", "2024-07-08").out
    confirmed, rest = decided.split("## 一、确认问责处理")[1].split("## 二、予以豁免")
    exempted, rejected = rest.split("## 三、驳回免责申请")
    assert "问责记录 #2：张三（P1" in confirmed and "第 2 次，免除负责人职务，留用整改" in confirmed
    assert "问责记录 #3" in exempted and "理由：特大暴雨，不可抗力" in exempted and "无。" in rejected
    assert "共 2 项" in decided and "root" not in decided and "tester" not in decided  # no machine lines
