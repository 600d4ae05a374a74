"""Mayor's-hotline work orders (12345 工单), through the real command line: import, link, red lights, paperwork."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import openpyxl
import pytest

from tests.conftest import Duban, node, person, project, write_ledger

HEADER = ["工单编号", "受理时间", "诉求内容", "地址/小区", "办理时限", "办结时间", "满意度", "来电号码"]


def ledger(duban: Duban, tmp_path: Path) -> None:
    """Four projects: 滨河小区, 滨河小区二期 (a name inside another), 龙凤苑 with an address, 河东花园."""
    projects = [project("A", "P1"), project("B", "P1"), project("C", "P2"), project("D", "P2")]
    for row, name in zip(projects, ("滨河小区", "滨河小区二期", "龙凤苑", "河东花园"), strict=True):
        row[1] = name
    folder = write_ledger(
        tmp_path / "ledger",
        [person("P1", "张三"), person("P2", "李四")],
        projects,
        [node(code, "N1", "2024-09-30") for code in "ABCD"],
    )
    with (folder / "projects.csv").open(encoding="utf-8") as handle:  # an address column, kept as an extra
        lines = handle.read().splitlines()
    address = {"A": "", "B": "", "C": "建设北路12号", "D": ""}
    lines = [lines[0] + ",地址"] + [f"{line},{address[line.split(',')[0]]}" for line in lines[1:]]
    (folder / "projects.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    duban("import", "ledger", folder, "--as-of", "2024-07-01")


def export_xlsx(path: Path, rows: list[list[Any]], title: bool = True) -> Path:
    """A hotline export as the system writes it: a title row, then the header."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "工单明细"
    if title:
        sheet.append(["12345 市民服务热线工单明细（住建领域）"])
        sheet.merge_cells("A1:H1")
    sheet.append(HEADER)
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


def export_csv(path: Path, rows: list[list[Any]], encoding: str = "utf-8") -> Path:
    text = "\n".join(",".join("" if v is None else str(v) for v in row) for row in [HEADER, *rows]) + "\n"
    path.write_bytes(text.encode(encoding))
    return path


ROWS = [
    [
        "GD001",
        "2024-08-01 09:30",
        "施工噪音扰民",
        "龙凤街道滨河小区二期3号楼",
        "2024-08-05 17:30",
        None,
        None,
        "13900000000",
    ],
    ["GD002", "2024/8/2 10:00", "道路开挖未回填", "滨河小区5号楼", "2024-08-09", "2024-08-08 10:00", "满意", None],
    ["GD003", "2024-08-03 08:00", "雨水井堵塞", "建设北路12号院内", "2024-08-06", None, None, None],
    ["GD004", "2024-08-03 11:00", "围挡倒塌", "幸福里", "2024-08-06", None, None, None],
]


def test_work_orders_link_by_name_and_address_and_the_rest_are_listed(duban: Duban, tmp_path: Path) -> None:
    duban.today("2024-08-10")
    ledger(duban, tmp_path)
    result = duban("import", "complaints", export_xlsx(tmp_path / "12345.xlsx", ROWS))
    assert "新增工单 4 条" in result.out and "关联到项目 3 条" in result.out and "未能关联项目的工单 1 条" in result.out
    listed = {c["order_no"]: c for c in duban.json("complaints")}
    assert {n: (c["project_code"], c["link"]) for n, c in listed.items()} == {
        "GD001": ("B", "name"),  # 滨河小区二期 wins over the 滨河小区 inside it
        "GD002": ("A", "name"),
        "GD003": ("C", "address"),
        "GD004": (None, None),
    }
    assert listed["GD004"]["link_note"] == "没有名称或地址相符的项目"
    assert listed["GD001"]["due_at"] == "2024-08-05T17:30+08:00"
    assert listed["GD002"]["due_at"] == "2024-08-09T23:59+08:00"  # a bare date: the end of that day
    assert [c["order_no"] for c in duban.json("complaints", "--unmatched")] == ["GD004"]
    assert "13900000000" not in duban("complaints", "--json").out  # the caller's phone is never read


def test_a_project_code_in_the_export_links_first(duban: Duban, tmp_path: Path) -> None:
    duban.today("2024-08-10")
    ledger(duban, tmp_path)
    path = tmp_path / "12345.csv"
    path.write_text(
        "工单编号,受理时间,诉求内容,小区,办理时限,项目编号\n"
        "GD010,2024-08-01 09:00,漏水,滨河小区,2024-08-03,D\n"
        "GD011,2024-08-01 09:00,漏水,滨河小区,2024-08-03,ZZ-9\n",
        encoding="utf-8",
    )
    duban("import", "complaints", path)
    listed = {c["order_no"]: c for c in duban.json("complaints")}
    assert (listed["GD010"]["project_code"], listed["GD010"]["link"]) == ("D", "code")
    assert (listed["GD011"]["project_code"], listed["GD011"]["link"]) == ("A", "name")  # unknown code: by name


def test_two_candidate_projects_are_not_guessed(duban: Duban, tmp_path: Path) -> None:
    duban.today("2024-08-10")
    ledger(duban, tmp_path)
    duban(
        "import",
        "complaints",
        export_csv(
            tmp_path / "c.csv",
            [["GD020", "2024-08-01 09:00", "路灯不亮", "龙凤苑与河东花园之间", "2024-08-05", None, None, None]],
        ),
    )
    [listed] = duban.json("complaints")
    assert listed["project_code"] is None and listed["link_note"] == "多个项目可能对应：C、D"


def test_reimporting_the_same_export_adds_nothing(duban: Duban, tmp_path: Path) -> None:
    duban.today("2024-08-10")
    ledger(duban, tmp_path)
    export = export_xlsx(tmp_path / "12345.xlsx", ROWS)
    duban("import", "complaints", export)
    before = duban.dump()
    again = duban("import", "complaints", export)
    assert "没有变化" in again.out
    assert duban.dump() == before


def test_a_reimport_updates_a_closed_work_order_with_its_history(duban: Duban, tmp_path: Path) -> None:
    duban.today("2024-08-10")
    ledger(duban, tmp_path)
    duban("import", "complaints", export_xlsx(tmp_path / "a.xlsx", ROWS))
    closed = [row[:] for row in ROWS]
    closed[0][5], closed[0][6] = "2024-08-09 16:00", "基本满意"
    result = duban("import", "complaints", export_xlsx(tmp_path / "b.xlsx", closed))
    assert "更新工单 1 条" in result.out and "新增" not in result.out
    listed = {c["order_no"]: c for c in duban.json("complaints")}
    assert listed["GD001"]["closed_at"] == "2024-08-09T16:00+08:00" and listed["GD001"]["satisfaction"] == "基本满意"
    log = [row for row in duban.dump()["change_log"] if row[3] == "complaint"]
    assert len(log) == 1 and log[0][4] == "GD001" and log[0][5] == "update"
    assert log[0][6]["closed_at"] == {"old": None, "new": "2024-08-09T16:00:00+08:00"}


def test_a_clerk_links_a_work_order_and_a_reimport_keeps_the_link(duban: Duban, tmp_path: Path) -> None:
    duban.today("2024-08-10")
    ledger(duban, tmp_path)
    export = export_xlsx(tmp_path / "12345.xlsx", ROWS)
    duban("import", "complaints", export)
    assert "已关联到项目 D" in duban("complaint", "link", "GD004", "D", "--reason", "经电话核实在河东花园").out
    duban("complaint", "link", "GD001", "A", "--reason", "来电人住一期")  # a correction of a name match
    duban("import", "complaints", export)
    listed = {c["order_no"]: c for c in duban.json("complaints")}
    assert (listed["GD004"]["project_code"], listed["GD004"]["link"]) == ("D", "hand")
    assert (listed["GD001"]["project_code"], listed["GD001"]["link"]) == ("A", "hand")
    links = [row for row in duban.dump()["change_log"] if row[5] == "link"]
    assert [(r[4], r[6]["project"], r[7]) for r in links] == [
        ("GD001", {"old": "B", "new": "A"}, "来电人住一期"),
        ("GD004", {"old": None, "new": "D"}, "经电话核实在河东花园"),
    ]
    assert duban("audit", "verify").code == 0


def test_linking_an_unknown_work_order_or_project_is_refused(duban: Duban, tmp_path: Path) -> None:
    duban.today("2024-08-10")
    ledger(duban, tmp_path)
    duban("import", "complaints", export_xlsx(tmp_path / "12345.xlsx", ROWS))
    before = duban.dump()
    missing = duban("complaint", "link", "GD999", "A", ok=False)
    assert missing.code == 1 and "工单 GD999 不存在" in missing.err and "Traceback" not in missing.err
    unknown = duban("complaint", "link", "GD004", "ZZ", ok=False)
    assert unknown.code == 1 and "项目 ZZ 不存在" in unknown.err
    assert duban.dump() == before


def test_a_bad_export_is_refused_whole_naming_every_problem(duban: Duban, tmp_path: Path) -> None:
    duban.today("2024-08-10")
    ledger(duban, tmp_path)
    before = duban.dump()
    bad = export_xlsx(
        tmp_path / "bad.xlsx",
        [
            ["GD001", "2024-08-01 09:30", "噪音", "滨河小区", "2024-08-05", None, None, None],
            ["GD001", "2024-08-01 09:30", "噪音", "滨河小区", "2024-08-05", None, None, None],
            [None, "2024-08-01", "无编号", "滨河小区", "2024-08-05", None, None, None],
            ["GD005", "8月1日上午", "时间写错", "滨河小区", "2024-08-05", None, None, None],
            ["GD006", "2024-08-03 10:00", "办结早于受理", "滨河小区", "2024-08-05", "2024-08-02 10:00", None, None],
            ["GD007", "2024-08-03 10:00", "时限写错", "滨河小区", "明天", None, None, None],
        ],
    )
    result = duban("import", "complaints", bad, ok=False)
    assert result.code == 1 and "Traceback" not in result.err
    lines = result.err.strip().splitlines()
    assert len(lines) == 5, lines
    assert "bad.xlsx[工单明细]，第 4 行" in lines[0] and "工单编号重复（第 3 行已有）" in lines[0]
    assert "第 5 行" in lines[1] and "工单编号" in lines[1] and "必填项为空" in lines[1]
    assert "bad.xlsx[工单明细]，第 6 行，B 列「受理时间」，值「8月1日上午」" in lines[2]
    assert "第 7 行" in lines[3] and "办结时间早于受理时间" in lines[3]
    assert "第 8 行，E 列「办理时限」，值「明天」" in lines[4]
    assert duban.dump() == before


def test_an_export_without_its_columns_is_refused(duban: Duban, tmp_path: Path) -> None:
    path = tmp_path / "wrong.csv"
    path.write_text("编号,内容\n1,噪音\n", encoding="utf-8")
    result = duban("import", "complaints", path, ok=False)
    assert result.code == 1 and "没有找到工单表头" in result.err


def test_a_gbk_export_and_working_day_deadlines_are_read(duban: Duban, tmp_path: Path) -> None:
    duban.today("2024-10-31")
    ledger(duban, tmp_path)
    duban(
        "import",
        "complaints",
        export_csv(
            tmp_path / "gbk.csv",
            [
                ["GD030", "2024-09-27 15:00", "国庆前报修", "滨河小区", "5个工作日", None, None, None],
                ["GD031", "2024-09-27 15:00", "国庆前报修", "滨河小区", "3天", None, None, None],
            ],
            encoding="gb18030",
        ),
    )
    listed = {c["order_no"]: c for c in duban.json("complaints")}
    # 9月29日 (Sunday) is a make-up workday, 10月1日–7日 the National Day holiday (config/holidays/2024.toml).
    assert listed["GD030"]["due_at"] == "2024-10-10T23:59+08:00"
    assert listed["GD031"]["due_at"] == "2024-09-30T23:59+08:00"
    assert listed["GD030"]["content"] == "国庆前报修"


def _red(daily: str) -> set[str]:
    return {line.split("：")[1].split()[0] for line in daily.splitlines() if line.startswith("- 红灯：")}


def test_an_overdue_work_order_turns_its_project_red(duban: Duban, tmp_path: Path) -> None:
    duban.today("2024-08-10")
    ledger(duban, tmp_path)
    duban("import", "complaints", export_xlsx(tmp_path / "12345.xlsx", ROWS))
    duban("evaluate", "--through", "2024-08-07", "--from", "2024-08-01")
    # GD001 (B) is due 5 August: red from the 6th; GD003 (C) due the 6th: red from the 7th; GD002 closed in time.
    assert _red(duban("report", "daily", "--date", "2024-08-06").out) == {"B"}
    daily = duban("report", "daily", "--date", "2024-08-07").out
    assert _red(daily) == {"B", "C"}
    assert "逾期未办结：GD001 B 滨河小区二期：施工噪音扰民（办理时限 2024年8月5日，逾期 2 天）" in daily


def test_a_work_order_not_yet_due_does_not_turn_its_project_red(duban: Duban, tmp_path: Path) -> None:
    duban.today("2024-08-10")
    ledger(duban, tmp_path)
    duban("import", "complaints", export_xlsx(tmp_path / "12345.xlsx", ROWS))
    duban("evaluate", "--through", "2024-08-08", "--from", "2024-08-01")
    assert _red(duban("report", "daily", "--date", "2024-08-05").out) == set()  # due that day: not overdue yet
    assert _red(duban("report", "daily", "--date", "2024-08-08").out) == {"B", "C"}  # GD002 closed on the 8th


def test_the_weekly_bulletin_counts_work_orders_and_lists_the_overdue(duban: Duban, tmp_path: Path) -> None:
    duban.today("2024-08-12")
    ledger(duban, tmp_path)
    closed_late = [
        *ROWS,
        ["GD005", "2024-08-05 08:00", "楼道灯坏", "河东花园", "2024-08-06", "2024-08-08 09:00", "不满意", None],
    ]
    duban("import", "complaints", export_xlsx(tmp_path / "12345.xlsx", closed_late))
    duban("evaluate", "--through", "2024-08-11", "--from", "2024-07-29")
    bulletin = duban("report", "weekly", "--week-of", "2024-08-07").out  # 5–11 August
    assert "本周受理 1 件，办结 2 件（超时办结 1 件）；截至 2024年8月11日 逾期未办结 2 件。" in bulletin
    assert "| GD001 | B 滨河小区二期 | 施工噪音扰民 | 2024年8月5日 | 6 |" in bulletin
    assert "| GD003 | C 龙凤苑 | 雨水井堵塞 | 2024年8月6日 | 5 |" in bulletin
    earlier = duban("report", "weekly", "--week-of", "2024-07-31").out  # 29 July – 4 August
    assert "本周受理 4 件（其中 1 件未关联项目），办结 0 件；截至 2024年8月4日 逾期未办结 0 件。" in earlier


def test_the_agenda_names_the_overdue_work_order_of_a_red_project(duban: Duban, tmp_path: Path) -> None:
    duban.today("2024-08-12")
    ledger(duban, tmp_path)
    duban("import", "complaints", export_xlsx(tmp_path / "12345.xlsx", ROWS))
    duban("evaluate", "--through", "2024-08-12", "--from", "2024-08-01")
    agenda = duban("agenda", "--meeting", "2024-08-12").out
    assert "B 滨河小区二期（滨河片区）：12345 工单 GD001 逾期 7 天未办结。" in agenda


@pytest.mark.parametrize("district", [None, "滨河片区"])
def test_the_progress_tables_go_upward_with_merged_headers_and_rankings(
    duban: Duban, tmp_path: Path, district: str | None
) -> None:
    duban.today("2024-10-31")
    projects = [project("A", "P1"), project("B", "P1"), project("C", "P2")]
    projects[2][2] = "河东片区"
    for row, homes in zip(projects, (120, 80, 300), strict=True):
        row[8] = homes
    duban(
        "import",
        "ledger",
        write_ledger(
            tmp_path / "l",
            [person("P1", "张三"), person("P2", "=cmd|' /C calc'!A0")],
            projects,
            [
                node("A", "N1", "2024-09-01", "2024-08-30"),
                node("A", "N2", "2024-10-01", "2024-09-28"),
                node("B", "N1", "2024-09-01", "2024-09-05"),
                node("B", "N2", "2024-11-30"),
                node("C", "N1", "2024-09-01"),
                node("C", "N2", "2024-11-30"),
            ],
        ),
    )
    duban("evaluate", "--through", "2024-10-31")
    out = tmp_path / "进度表.xlsx"
    extra = ["--district", district] if district else []
    assert "已写入" in duban("report", "progress", "--date", "2024-10-31", "--out", out, *extra).out
    book = openpyxl.load_workbook(out)
    assert book.sheetnames == ["进度表", "片区排名", "施工单位排名", "负责人排名"]
    sheet = book["进度表"]
    merged = {str(r) for r in sheet.merged_cells.ranges}
    assert {"A1:M1", "A3:A4", "B3:B4", "C3:C4", "D3:E3", "F3:G3", "H3:J3"} <= merged
    assert [sheet.cell(3, c).value for c in (1, 2, 3, 4, 6, 8)] == [
        "序号",
        "片区/区县",
        "计划任务数（个）",
        "开工",
        "完工",
        "涉及居民户数",
    ]
    assert [sheet.cell(4, c).value for c in range(4, 11)] == [
        "数量（个）",
        "开工率",
        "数量（个）",
        "完工率",
        "计划",
        "已开工",
        "已完工",
    ]
    rows = [[c.value for c in row] for row in sheet.iter_rows(min_row=5)]
    if district is None:
        assert rows[0][:10] == [1, "河东片区", 1, 0, 0.0, 0, 0.0, 300, 0, 0]
        assert rows[1][:10] == [2, "滨河片区", 2, 2, 1.0, 1, 0.5, 200, 200, 120]
        assert rows[2][:10] == [None, "合计", 3, 2, pytest.approx(2 / 3), 1, pytest.approx(1 / 3), 500, 200, 120]
    else:
        assert [r[1] for r in rows] == ["滨河片区", "合计"]
    assert sheet.cell(5, 5).number_format == "0.0%"
    persons = [[c.value for c in row] for row in book["负责人排名"].iter_rows(min_row=4)]
    names = [r[1] for r in persons]
    assert names[0] == "张三（P1）"
    if district is None:
        assert names == ["张三（P1）", "=cmd|' /C calc'!A0（P2）"]
        assert book["负责人排名"].cell(5, 2).data_type == "s"  # stays text: never a formula
