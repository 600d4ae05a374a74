"""The ledger as offices really keep it: titles, two header rows, merged cells, 序号/备注, one combined sheet.

Workbooks are made with openpyxl the way a clerk lays them out, and imported through the real
command line; every refusal names the sheet, the row as Excel shows it, the column letter and header.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl.worksheet.worksheet import Worksheet

from tests.conftest import Duban, write_ledger

TITLE = "吕梁市2024年城镇老旧小区改造项目工作台账"
UNIT = "填报单位：吕梁市住房和城乡建设局"
REPORTED = "填报日期：2024年8月5日"

#: A node row: name, planned date, completion date, 备注.
NodeRow = tuple[str | None, Any, Any, str | None]
#: A project and its nodes: code, 小区名称, 片区, 负责人, the nodes.
ProjectRows = tuple[str | None, str | None, str | None, str | None, list[NodeRow]]

# Rows 5–7 are LL-1 (its cells in A–E merged down over them), rows 8–9 LL-2.
LEDGER: list[ProjectRows] = [
    (
        "LL-1",
        "滨河花园",
        "滨河片区",
        "张  三",
        [
            ("进场施工", "7月1日", "6月30日", None),
            ("管网改造完成", "７月３１日", None, "燃气公司配合"),
            ("竣工验收", "２０２４年９月３０日", None, None),
        ],
    ),
    (
        "LL-2",
        "城东小区",
        "城东片区",
        "李四",
        [("进场施工", dt.date(2024, 7, 15), None, None), ("竣工验收", "2024/10/31", None, None)],
    ),
]


def combined_sheet(
    sheet: Worksheet,
    projects: list[ProjectRows],
    title: str | None = TITLE,
    reported: str | None = REPORTED,
    footer: bool = False,
) -> None:
    """Lay out one combined sheet: title, 填报 line, two header rows (3–4), projects merged over their nodes."""
    if title:
        sheet["A1"] = title
        sheet.merge_cells("A1:I1")
    if reported:
        sheet["A2"] = UNIT
        sheet.merge_cells("A2:E2")
        sheet["F2"] = reported
        sheet.merge_cells("F2:I2")
    for column, text in zip("ABCDEI", ["序号", "项目编号", "小区名称", "片区", "负责人", "备注"], strict=True):
        sheet[f"{column}3"] = text
        sheet.merge_cells(f"{column}3:{column}4")
    sheet["F3"] = "节点"
    sheet.merge_cells("F3:H3")
    sheet["F4"], sheet["G4"], sheet["H4"] = "名称", "计划完成日期", "实际完成日期"
    row = 5
    for number, (code, name, district, person, nodes) in enumerate(projects, start=1):
        last = row + len(nodes) - 1
        for column, value in zip("ABCDE", [number, code, name, district, person], strict=True):
            sheet[f"{column}{row}"] = value
            if last > row:
                sheet.merge_cells(f"{column}{row}:{column}{last}")
        for offset, (node, planned, completed, note) in enumerate(nodes):
            for column, value in zip("FGHI", [node, planned, completed, note], strict=True):
                sheet[f"{column}{row + offset}"] = value
        row = last + 1
    sheet[f"A{row}"] = len(projects) + 1  # a numbered row left for the next project
    sheet[f"B{row + 2}"] = "  "  # and blank rows with a stray space, at the end
    if footer:  # a 合计 line, then who filled it in and a note, as the forms end
        sheet[f"A{row + 3}"] = "合计"
        sheet.merge_cells(f"A{row + 3}:E{row + 3}")
        sheet[f"F{row + 3}"] = sum(len(nodes) for *_rest, nodes in projects)
        sheet[f"A{row + 4}"] = "填报人：王五　　审核人：赵六　　联系电话：0358-1234567"
        sheet.merge_cells(f"A{row + 4}:I{row + 4}")
        sheet[f"A{row + 5}"] = "注：计划完成日期按倒排工期填写。"


def workbook(
    path: Path,
    projects: list[ProjectRows],
    *,
    sheet_name: str = "工作台账",
    persons: list[list[Any]] | None = None,
    **layout: Any,
) -> Path:
    """Write a workbook holding the combined sheet (and a 人员 sheet with a title when persons are given)."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = sheet_name
    combined_sheet(sheet, projects, **layout)
    if persons is not None:
        people = book.create_sheet("人员")
        people["A1"] = "督办人员名单"
        people.merge_cells("A1:D1")
        people.append(["序号", "人员编号", "姓名", "单位"])
        for number, row in enumerate(persons, start=1):
            people.append([number, *row])
    book.save(path)
    return path


def node_extras(duban: Duban) -> dict[tuple[str, str], dict[str, Any]]:
    engine = sa.create_engine(duban.url)
    try:
        with engine.connect() as conn:
            found = conn.execute(
                sa.text("select p.code, n.code, n.extra from node n join project p on p.id = n.project_id")
            ).all()
    finally:
        engine.dispose()
    return {(p, n): json.loads(e) if isinstance(e, str) else e for p, n, e in found}


def test_office_workbook_imports_projects_nodes_and_persons(duban: Duban, tmp_path: Path) -> None:
    result = duban("import", "ledger", "--new-persons", workbook(tmp_path / "台账.xlsx", LEDGER))
    assert "新增人员 2，新增项目 2，新增节点 5，完成 1" in result.out
    projects = [
        (p["project_code"], p["name"], p["district"], p["responsible_person_id"], p["status"])
        for p in duban.json("projects")
    ]
    assert projects == [
        ("LL-1", "滨河花园", "滨河片区", "张三", "active"),
        ("LL-2", "城东小区", "城东片区", "李四", "active"),
    ]
    nodes = {
        (n["project_code"], n["node_code"]): (n["name"], n["planned_date"], n["completed_on"])
        for n in duban.json("nodes")
    }
    assert nodes == {
        ("LL-1", "进场施工"): ("进场施工", "2024-07-01", "2024-06-30"),
        ("LL-1", "管网改造完成"): ("管网改造完成", "2024-07-31", None),
        ("LL-1", "竣工验收"): ("竣工验收", "2024-09-30", None),
        ("LL-2", "进场施工"): ("进场施工", "2024-07-15", None),
        ("LL-2", "竣工验收"): ("竣工验收", "2024-10-31", None),
    }
    # Nobody of these names was known: each is a new person whose 人员编号 is the name (spaces of 「张  三」 dropped).
    assert sorted((p["person_id"], p["name"]) for p in duban.json("persons")) == [("张三", "张三"), ("李四", "李四")]
    extras = node_extras(duban)
    assert extras[("LL-1", "管网改造完成")] == {"备注": "燃气公司配合"}  # 备注 kept; 序号 dropped
    assert all(extra == {} for key, extra in extras.items() if key != ("LL-1", "管网改造完成"))


def test_footer_lines_under_the_table_are_not_read_as_projects(duban: Duban, tmp_path: Path) -> None:
    with_footer = workbook(tmp_path / "台账.xlsx", LEDGER, footer=True)
    duban("import", "ledger", "--new-persons", with_footer)
    assert [p["project_code"] for p in duban.json("projects")] == ["LL-1", "LL-2"]
    assert len(duban.json("nodes")) == 5 and {p["person_id"] for p in duban.json("persons")} == {"张三", "李四"}


def test_a_project_row_is_read_even_where_a_footer_word_could_start_it(duban: Duban, tmp_path: Path) -> None:
    named = [("LL-3", "合计小区", "滨河片区", "李四", [("注浆加固", "2024-07-31", None, None)])]
    duban("import", "ledger", "--new-persons", workbook(tmp_path / "台账.xlsx", named, footer=True))
    assert [(p["project_code"], p["name"]) for p in duban.json("projects")] == [("LL-3", "合计小区")]
    assert [n["name"] for n in duban.json("nodes")] == ["注浆加固"]


def test_reimport_of_an_office_workbook_changes_nothing(duban: Duban, tmp_path: Path) -> None:
    path = workbook(tmp_path / "台账.xlsx", LEDGER)
    duban("import", "ledger", "--new-persons", path)
    before = duban.dump()
    assert "没有变化" in duban("import", "ledger", "--new-persons", path).out
    log = ("change_log", "audit_entry")
    assert {k: v for k, v in duban.dump().items() if k not in log} == {k: v for k, v in before.items() if k not in log}


def test_office_workbook_strikes_the_person_named_on_the_persons_sheet(duban: Duban, tmp_path: Path) -> None:
    persons = [["P1", "张三", "市住建局"], ["P2", "李四", "某建设集团"]]
    duban("import", "ledger", "--new-persons", workbook(tmp_path / "台账.xlsx", LEDGER, persons=persons))
    assert {p["project_code"]: p["responsible_person_id"] for p in duban.json("projects")} == {
        "LL-1": "P1",
        "LL-2": "P2",
    }
    assert [p["person_id"] for p in duban.json("persons")] == ["P1", "P2"]  # no person made from a name
    duban("evaluate", "--through", "2024-08-01")
    strikes = [
        (s["person_id"], s["nodes"][0]["project_code"], s["nodes"][0]["node_code"], s["planned_date"], s["detected_on"])
        for s in duban.json("strikes")
    ]
    assert strikes == [
        ("P2", "LL-2", "进场施工", "2024-07-15", "2024-07-16"),
        ("P1", "LL-1", "管网改造完成", "2024-07-31", "2024-08-01"),
    ]


def test_a_name_known_in_the_database_imports_as_that_person(duban: Duban, tmp_path: Path) -> None:
    duban(
        "import", "ledger", "--new-persons", write_ledger(tmp_path / "persons", [["P7", "张三", "城关镇", None, None]])
    )
    duban("import", "ledger", "--new-persons", workbook(tmp_path / "台账.xlsx", LEDGER))
    assert {p["project_code"]: p["responsible_person_id"] for p in duban.json("projects")} == {
        "LL-1": "P7",
        "LL-2": "李四",
    }
    assert sorted(p["person_id"] for p in duban.json("persons")) == sorted(["P7", "李四"])


def test_office_workbook_does_not_strike_a_node_completed_in_time(duban: Duban, tmp_path: Path) -> None:
    # LL-1's 进场施工 (planned 7月1日) was done on 6月30日: evaluating past it strikes nobody.
    duban("import", "ledger", "--new-persons", workbook(tmp_path / "台账.xlsx", LEDGER))
    duban("evaluate", "--through", "2024-07-14")
    assert duban.json("strikes") == []


@pytest.mark.parametrize(
    ("title", "reported", "as_of", "planned"),
    [
        ("吕梁市2023年城镇老旧小区改造项目工作台账", "填报日期：2024年1月5日", None, "2023-07-31"),
        ("城镇老旧小区改造项目工作台账", "填报日期：２０２３年１２月５日", None, "2023-07-31"),
        (None, None, "2023-06-01", "2023-07-31"),
        (None, None, None, "2024-07-31"),
    ],
    ids=["title", "reported", "as-of", "today"],
)
def test_a_date_without_its_year_imports_in_the_ledgers_year(
    duban: Duban, tmp_path: Path, title: str | None, reported: str | None, as_of: str | None, planned: str
) -> None:
    project: ProjectRows = ("LL-1", "滨河花园", "滨河片区", "张三", [("管网改造完成", "7月31日", None, None)])
    path = workbook(tmp_path / "台账.xlsx", [project], title=title, reported=reported)
    duban("import", "ledger", "--new-persons", path, *(["--as-of", as_of] if as_of else []))
    assert [n["planned_date"] for n in duban.json("nodes")] == [planned]


def test_three_office_sheets_with_titles_and_merged_codes_import(duban: Duban, tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    book.remove(book.active)
    people = book.create_sheet("人员")
    people["A1"] = "人员名单"
    people.merge_cells("A1:E1")
    people.append([])
    people.append(["序号", "人员编号", "姓 名", "单位", "联系电话"])
    people.append([1, "P1", "张三", "市住建局", "13800000001"])
    people.append([2, "P2", "李四", "某建设集团", None])
    projects = book.create_sheet("项目")
    projects["A1"] = TITLE
    projects.merge_cells("A1:G1")
    projects.append([UNIT, None, None, None, REPORTED])
    projects.append(["序号", "项目编号", "小区名称", "所属片区", "负责人编号", "户数（户）", "备注"])
    projects.append([1, "LL-1", "滨河花园", "滨河片区", "P1", 320, "加装电梯 2 部"])
    projects.append([2, "LL-2", "城东小区", "城东片区", "P2", None, None])
    projects.append([3])
    nodes = book.create_sheet("节点")
    nodes["A1"] = TITLE
    nodes.merge_cells("A1:G1")
    nodes.append([UNIT])
    nodes.append(["序号", "项目编号", "节点编号", "节点名称", "计划完成时间", "实际完成时间", "备注"])
    nodes.append([1, "LL-1", "N1", "进场施工", "7月1日", "7月3日", None])
    nodes.append([2, None, "N2", "管网改造完成", "７月３１日", None, "雨季"])
    nodes.append([3, "LL-2", "N1", "进场施工", dt.date(2024, 7, 15), None, None])
    nodes.merge_cells("B4:B5")  # LL-1 over its two nodes
    nodes.append([])
    nodes.append([None, " "])
    path = tmp_path / "台账.xlsx"
    book.save(path)
    assert "新增人员 2，新增项目 2，新增节点 3，完成 1" in duban("import", "ledger", "--new-persons", path).out
    assert [
        (p["project_code"], p["district"], p["responsible_person_id"], p["households"]) for p in duban.json("projects")
    ] == [("LL-1", "滨河片区", "P1", 320), ("LL-2", "城东片区", "P2", None)]
    assert [(n["project_code"], n["node_code"], n["planned_date"], n["completed_on"]) for n in duban.json("nodes")] == [
        ("LL-1", "N1", "2024-07-01", "2024-07-03"),
        ("LL-1", "N2", "2024-07-31", None),
        ("LL-2", "N1", "2024-07-15", None),
    ]
    assert node_extras(duban)[("LL-1", "N2")] == {"备注": "雨季"}
    assert [(p["person_id"], p["name"]) for p in duban.json("persons")] == [("P1", "张三"), ("P2", "李四")]


def test_combined_sheet_with_codes_imports_beside_a_persons_sheet(duban: Duban, tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Sheet1"
    sheet.append(
        [
            "序号",
            "项目编号",
            "项目名称",
            "项目负责人",
            "负责人编号",
            "联系电话",
            "节点编号",
            "计划节点",
            "计划完成时间",
            "完成时间",
            "施工单位",
            "小区名称",
        ]
    )
    sheet.append(
        [
            1,
            "LL-1",
            "滨河花园综合改造",
            "张三",
            "P1",
            "13800000001",
            "N1",
            "进场施工",
            "7月1日",
            None,
            "某建设集团",
            "滨河花园",
        ]
    )
    sheet.append(
        [2, "LL-1", "滨河花园综合改造", "张三", "P1", None, "N2", "进场施工", "8月1日", None, "某建设集团", "滨河花园"]
    )
    people = book.create_sheet("人员")
    people.append(["人员编号", "姓名", "单位"])
    people.append(["P1", "张三", "市住建局"])
    path = tmp_path / "台账.xlsx"
    book.save(path)
    duban("import", "ledger", "--new-persons", path)
    # Two nodes of the same name, told apart by 节点编号; the phone fills the 人员 sheet's empty cell.
    assert [(n["node_code"], n["name"], n["planned_date"]) for n in duban.json("nodes")] == [
        ("N1", "进场施工", "2024-07-01"),
        ("N2", "进场施工", "2024-08-01"),
    ]
    # 项目名称 is the name; 小区名称 beside it (an alias of the same column) is kept as an extra.
    assert [(p["name"], p["responsible_person_id"], p["contractor"]) for p in duban.json("projects")] == [
        ("滨河花园综合改造", "P1", "某建设集团")
    ]
    assert node_extras(duban)[("LL-1", "N1")] == {"小区名称": "滨河花园"}
    engine = sa.create_engine(duban.url)
    with engine.connect() as conn:
        assert conn.execute(sa.text("select person_id, unit, phone from person")).all() == [
            ("P1", "市住建局", "13800000001")
        ]
    engine.dispose()


def _replace(index: int, node: int, new: NodeRow) -> list[ProjectRows]:
    code, name, district, person, nodes = LEDGER[index]
    changed = [*nodes[:node], new, *nodes[node + 1 :]]
    return [*LEDGER[:index], (code, name, district, person, changed), *LEDGER[index + 1 :]]


_LL1 = LEDGER[0]
REFUSALS: list[tuple[str, list[ProjectRows], str]] = [
    (
        "bad date",
        _replace(0, 1, ("管网改造完成", "7月32日", None, None)),
        "台账.xlsx[工作台账]，第 6 行，G 列「计划完成日期」，值「7月32日」：日期不存在",
    ),
    (
        "missing value",
        _replace(1, 1, ("竣工验收", None, None, None)),
        "台账.xlsx[工作台账]，第 9 行，G 列「计划完成日期」：必填项为空",
    ),
    (
        "duplicate node name",
        _replace(1, 1, ("进场施工", "2024/10/31", None, None)),
        "台账.xlsx[工作台账]，第 9 行，F 列「节点名称」，值「LL-2 / 进场施工」：同一项目的节点名称重复（第 8 行已有；同名节点请增加「节点编号」列区分）",
    ),
    # The clerk typed LL-1 again on row 7 instead of merging, and misspelt its name.
    (
        "disagreeing project cells",
        [(*_LL1[:4], _LL1[4][:2]), ("LL-1", "滨河花圆", *_LL1[2:4], _LL1[4][2:]), LEDGER[1]],
        "台账.xlsx[工作台账]，第 7 行，C 列「小区名称」，值「滨河花圆」：与第 5 行不一致（第 5 行是「滨河花园」），同一项目（LL-1）的各行应相同",
    ),
    (
        "ambiguous person",
        [LEDGER[0], ("LL-2", "城东小区", "城东片区", "王五", LEDGER[1][4])],
        "台账.xlsx[工作台账]，第 8 行，E 列「负责人」，值「王五」：有 2 位同名人员：P5（城关镇）、P6（某建设集团）；请增加「负责人编号」列写明是哪一位",
    ),
]


@pytest.mark.parametrize(("case", "projects", "expected"), REFUSALS, ids=[c[0] for c in REFUSALS])
def test_office_workbook_refuses_naming_sheet_row_column_and_header(
    duban: Duban, tmp_path: Path, case: str, projects: list[ProjectRows], expected: str
) -> None:
    duban(
        "import",
        "ledger",
        "--new-persons",
        write_ledger(
            tmp_path / "persons", [["P5", "王五", "城关镇", None, None], ["P6", "王五", "某建设集团", None, None]]
        ),
    )
    before = duban.dump()
    result = duban("import", "ledger", "--new-persons", workbook(tmp_path / "台账.xlsx", projects), ok=False)
    assert result.code == 1 and result.out == "" and "Traceback" not in result.err
    assert result.err.strip().splitlines() == [expected]
    assert duban.dump() == before


def test_office_workbook_refuses_every_problem_at_once(duban: Duban, tmp_path: Path) -> None:
    projects = [
        (*_LL1[:4], [("管网改造完成", "7月32日", None, None), (None, "8月1日", None, None)]),
        ("LL-1", "滨河花圆", *_LL1[2:4], [("管网改造完成", "9月1日", None, None)]),
    ]
    result = duban(
        "import", "ledger", "--new-persons", workbook(tmp_path / "台账.xlsx", projects, sheet_name="Sheet1"), ok=False
    )
    assert result.code == 1
    assert sorted(result.err.strip().splitlines()) == sorted(
        [
            "台账.xlsx[Sheet1]，第 7 行，C 列「小区名称」，值「滨河花圆」：与第 5 行不一致（第 5 行是「滨河花园」），同一项目（LL-1）的各行应相同",
            "台账.xlsx[Sheet1]，第 5 行，G 列「计划完成日期」，值「7月32日」：日期不存在",
            "台账.xlsx[Sheet1]，第 6 行，F 列「节点名称」：必填项为空",
            "台账.xlsx[Sheet1]，第 7 行，F 列「节点名称」，值「LL-1 / 管网改造完成」：同一项目的节点名称重复（第 5 行已有；同名节点请增加「节点编号」列区分）",
        ]
    )
    assert duban.json("projects") == [] and duban.json("persons") == []


def test_a_sheet_that_is_no_ledger_is_refused_naming_what_its_header_lacks(duban: Duban, tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "工作台账"
    sheet.append([TITLE])
    sheet.append(["项目编号", "项目名称", "负责人", "节点", "计划"])
    sheet.append(["LL-1", "滨河花园", "张三", "进场施工", "7月1日"])
    path = tmp_path / "台账.xlsx"
    book.save(path)
    result = duban("import", "ledger", "--new-persons", path, ok=False)
    assert result.code == 1 and "「台账.xlsx[工作台账]」第 2 行的表头缺少「计划完成日期」" in result.err


_cells = st.one_of(
    st.none(),
    st.sampled_from(
        [
            "",
            " ",
            "LL-1",
            "LL-2",
            "张三",
            "张 三",
            "李四",
            "进场施工",
            "竣工验收",
            "7月31日",
            "７月３１日",
            "2024年13月1日",
            "2月30日",
            "在建",
            "施工中",
            "-1",
            "序号",
            "节点",
            "=1+1",
        ]
    ),
    st.integers(min_value=-5, max_value=50000),
    st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2030, 1, 1)),
    st.text(max_size=8),
)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(
    rows=st.lists(st.lists(_cells, min_size=9, max_size=9), max_size=8),
    merges=st.lists(st.tuples(st.integers(5, 12), st.integers(0, 8), st.integers(0, 3), st.integers(0, 1)), max_size=4),
)
def test_random_office_sheets_import_or_refuse_cleanly(
    duban: Duban, tmp_path: Path, rows: list[list[Any]], merges: list[tuple[int, int, int, int]]
) -> None:
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    combined_sheet(sheet, [])
    for number, row in enumerate(rows, start=5):
        for position, value in enumerate(row):
            sheet.cell(number, position + 1, ILLEGAL_CHARACTERS_RE.sub("", value) if isinstance(value, str) else value)
    taken: set[tuple[int, int]] = {(r, c) for r in range(1, 5) for c in range(1, 10)}
    for top, left, down, across in merges:  # merged ranges that do not overlap the header or each other
        cells = {(r, c) for r in range(top, top + down + 1) for c in range(left + 1, left + across + 2)}
        if len(cells) > 1 and not cells & taken:
            taken |= cells
            sheet.merge_cells(start_row=top, start_column=left + 1, end_row=top + down, end_column=left + across + 1)
    path = tmp_path / "台账.xlsx"
    book.save(path)
    before = duban.dump()
    result = duban("import", "ledger", "--new-persons", path, ok=False)
    assert result.code in (0, 1), result.err
    assert "Traceback" not in result.err and "内部错误" not in result.err, result.err
    if result.code == 1:
        assert result.err.strip(), "a refusal must say why"
        assert duban.dump() == before, "a refused import changed the database"
