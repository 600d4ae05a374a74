"""The importer refuses what it cannot be sure of (issue 17 item 8, issue 18's text hygiene).

Never invent a person, drop a date or split a project silently: each case goes through the real
`duban import`, and a refusal names the cell, says what would make it clear, exits 1 and leaves
the database as it was.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from tests.conftest import Duban, write_ledger
from tests.engine.ledger.test_office_workbooks import ProjectRows, workbook


def _state(duban: Duban) -> tuple[Any, ...]:
    return (duban.json("persons"), duban.json("projects"), duban("audit", "verify").out.splitlines()[-1:])


def _refused(duban: Duban, *args: Any) -> str:
    before = _state(duban)
    result = duban("import", "ledger", *args, ok=False)
    assert result.code == 1, result.out
    assert "Traceback" not in result.err and result.err.strip()
    assert _state(duban) == before  # the database unchanged
    return result.err


def _with_person(name: str) -> list[ProjectRows]:
    return [("LL-1", "滨河花园", "滨河片区", name, [("进场施工", "2024-07-01", None, None)])]


@pytest.mark.parametrize(
    "cell",
    ["张三、李四", "张三,李四", "张三，李四", "张三/李四", "张三；李四", "张三 李四", "张三和李四", "张三\n李四"],
)
def test_a_cell_naming_several_persons_is_refused(duban: Duban, tmp_path: Path, cell: str) -> None:
    err = _refused(duban, "--new-persons", workbook(tmp_path / "台账.xlsx", _with_person(cell)))
    assert "台账.xlsx[工作台账]，第 5 行，E 列「负责人」" in err, err
    assert "一个单元格中有多个姓名" in err or "看起来是多个姓名" in err, err
    assert len(err.strip().splitlines()) == 1, err  # the one cell, once: no second problem for the same name


@pytest.mark.parametrize("cell", ["张三（代）", "李四(暂)", "王五【兼】"])
def test_a_name_with_a_note_in_brackets_is_refused(duban: Duban, tmp_path: Path, cell: str) -> None:
    err = _refused(duban, "--new-persons", workbook(tmp_path / "台账.xlsx", _with_person(cell)))
    assert "E 列「负责人」" in err and "姓名带有括注" in err


def test_alignment_spaces_are_one_person_and_a_name_nobody_bears_needs_new_persons(
    duban: Duban, tmp_path: Path
) -> None:
    path = workbook(tmp_path / "台账.xlsx", _with_person("张　 三"))  # a full-width and a normal space: alignment
    err = _refused(duban, path)
    assert "E 列「负责人」，值「张三」" in err and "人员表和数据库中都没有此人" in err and "--new-persons" in err
    duban("import", "ledger", "--new-persons", path)
    assert [(p["person_id"], p["name"]) for p in duban.json("persons")] == [("张三", "张三")]
    # Known now: the same name imports as that person, without the flag.
    assert "没有变化" in duban("import", "ledger", workbook(tmp_path / "again.xlsx", _with_person("张 三"))).out


def test_a_formula_whose_result_was_never_saved_is_refused(duban: Duban, tmp_path: Path) -> None:
    path = workbook(
        tmp_path / "台账.xlsx",
        [("LL-1", "滨河花园", "滨河片区", "张三", [("进场施工", "2024-07-01", "=DATE(2024,6,30)", None)])],
    )
    err = _refused(duban, "--new-persons", path)
    assert "台账.xlsx[工作台账]，第 5 行" in err and "H5 单元格的公式没有保存计算结果" in err
    assert "请在 Excel/WPS 中打开并保存后再导入" in err


def _nodes_book(
    path: Path,
    header: list[str],
    rows: list[list[Any]],
    *,
    hidden: str | None = None,
    projects: list[list[Any]] | None = None,
) -> Path:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, head, body in (
        ("人员", ["人员编号", "姓名"], [["P1", "张三"]]),
        ("项目", ["项目编号", "项目名称", "负责人编号"], projects or [["LL-1", "滨河花园", "P1"]]),
        ("节点", header, rows),
    ):
        sheet = book.create_sheet(name)
        sheet.append(head)
        for row in body:
            sheet.append(row)
        if name == hidden:
            sheet.sheet_state = "hidden"
    book.save(path)
    return path


def test_two_plan_date_columns_take_the_adjusted_date_and_keep_the_original(duban: Duban, tmp_path: Path) -> None:
    duban.today("2024-08-01")
    path = _nodes_book(
        tmp_path / "台账.xlsx",
        ["项目编号", "节点编号", "节点名称", "计划完成日期", "调整后计划完成日期"],
        [["LL-1", "N1", "进场施工", "2024-07-01", "2024-08-10"], ["LL-1", "N2", "竣工验收", "2024-09-30", None]],
    )
    duban("import", "ledger", path)
    nodes = {n["node_code"]: n for n in duban.json("nodes", "LL-1")}
    assert nodes["N1"]["planned_date"] == "2024-08-10" and nodes["N2"]["planned_date"] == "2024-09-30"
    duban("evaluate", "--through", "2024-07-31", "--from", "2024-07-01")
    assert duban.json("strikes") == []  # the deadline is the adjusted one: nothing missed in July


def test_codes_fold_full_width_and_two_spellings_of_one_code_are_refused(duban: Duban, tmp_path: Path) -> None:
    path = _nodes_book(
        tmp_path / "台账.xlsx",
        ["项目编号", "节点编号", "节点名称", "计划完成日期"],
        [["ＬＬ－１", "Ｎ１", "进场施工", "2024-09-01"]],
    )
    duban("import", "ledger", path)
    assert [p["project_code"] for p in duban.json("projects")] == ["LL-1"]
    assert [n["node_code"] for n in duban.json("nodes", "LL-1")] == ["N1"]
    twice = _nodes_book(
        tmp_path / "twice.xlsx",
        ["项目编号", "节点编号", "节点名称", "计划完成日期"],
        [],
        projects=[["LL-2", "城东小区", "P1"], ["ＬＬ-2", "城东小区", "P1"]],
    )
    err = _refused(duban, twice)
    assert "twice.xlsx[项目]，第 3 行" in err and "编号重复（第 2 行已有）" in err


def test_a_hidden_sheet_is_ignored_and_said_so(duban: Duban, tmp_path: Path) -> None:
    path = _nodes_book(
        tmp_path / "台账.xlsx",
        ["项目编号", "节点编号", "节点名称", "计划完成日期"],
        [["LL-1", "N1", "进场施工", "2024-09-01"]],
        hidden="节点",
    )
    result = duban("import", "ledger", path)
    assert "已忽略隐藏的工作表「节点」" in result.err
    assert duban.json("nodes", "LL-1") == []


def test_a_per_district_sheet_takes_its_district_from_its_name(duban: Duban, tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "滨河片区"
    sheet.append(["项目编号", "项目名称", "负责人", "节点名称", "计划完成日期"])
    sheet.append(["LL-1", "滨河花园", "张三", "进场施工", "2024-09-01"])
    book.save(tmp_path / "台账.xlsx")
    result = duban("import", "ledger", "--new-persons", tmp_path / "台账.xlsx")
    assert "工作表「滨河片区」没有「片区」列" in result.err
    assert [(p["project_code"], p["district"]) for p in duban.json("projects")] == [("LL-1", "滨河片区")]


@pytest.mark.parametrize("text", ["进场\u202e施工", "进场\x00施工", "进场\u2066施工\u2069"])
def test_control_and_bidirectional_characters_are_refused_naming_the_cell(
    duban: Duban, tmp_path: Path, text: str
) -> None:
    folder = write_ledger(
        tmp_path / "l",
        [["P1", "张三", None, None, None]],
        [["LL-1", "滨河花园", None, None, None, None, "P1", None, None]],
        [["LL-1", "N1", text, "2024-09-01", None]],
    )
    err = _refused(duban, folder)
    assert "nodes.csv，第 2 行" in err and "改变文字显示方向的字符" in err


def test_files_that_are_not_what_they_say_get_chinese_reasons(duban: Duban, tmp_path: Path) -> None:
    broken = tmp_path / "坏.xlsx"
    broken.write_bytes(b"PK\x03\x04 this is not a whole zip")
    assert "不是有效的 .xlsx 文件" in _refused(duban, broken)
    old = tmp_path / "旧.xlsx"
    old.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600)
    assert "旧版 .xls 工作簿或设有打开密码的工作簿" in _refused(duban, old)


@pytest.mark.parametrize(("encoding", "said"), [("utf-16", "UTF-16"), ("gbk", "GBK/GB18030")])
def test_a_csv_in_another_encoding_is_one_problem_that_names_it(
    duban: Duban, tmp_path: Path, encoding: str, said: str
) -> None:
    folder = write_ledger(tmp_path / "l", [["P1", "张三", None, None, None]], [], [])
    persons = folder / "persons.csv"
    persons.write_bytes(persons.read_text(encoding="utf-8").encode(encoding))
    err = _refused(duban, folder)
    assert said in err and len([line for line in err.splitlines() if "persons.csv" in line]) == 1
    assert "人员表中没有此人" not in err and "表是空的" not in err


def test_hotline_exports_accept_the_usual_header_variants(duban: Duban, tmp_path: Path) -> None:
    duban.today("2024-08-10")
    duban(
        "import",
        "ledger",
        write_ledger(
            tmp_path / "l",
            [["P1", "张三", None, None, None]],
            [["LL-1", "滨河花园", None, None, None, None, "P1", None, None]],
            [],
        ),
    )
    export = tmp_path / "12345.csv"
    export.write_text(
        "工单号,来电时间,诉求描述,事发地点,处理时限,处理完成时间,评价结果\n"
        "GD1,2024-08-01 09:00,噪音扰民,滨河花园3号楼,2024-08-05,,\n",
        encoding="utf-8",
    )
    assert "新增工单 1 条，关联到项目 1 条" in duban("import", "complaints", export).out
    assert [c["order_no"] for c in duban.json("complaints")] == ["GD1"]
    missing = tmp_path / "缺列.csv"
    missing.write_text(
        "工单号,来电时间,事发地点,处理时限\nGD2,2024-08-01 09:00,滨河花园,2024-08-05\n", encoding="utf-8"
    )
    result = duban("import", "complaints", missing, ok=False)
    assert result.code == 1 and "第 1 行" in result.err and "诉求内容" in result.err and "缺少此列" in result.err


def test_dates_stay_dates(duban: Duban, tmp_path: Path) -> None:
    """A date cell typed as a date (not a formula) imports as itself: the refusal above is only for lost values."""
    path = workbook(
        tmp_path / "台账.xlsx",
        [("LL-1", "滨河花园", "滨河片区", "张三", [("进场施工", dt.date(2024, 7, 1), dt.date(2024, 6, 30), None)])],
    )
    duban.today("2024-08-01")
    duban("import", "ledger", "--new-persons", path)
    assert duban.json("nodes", "LL-1")[0]["completed_on"] == "2024-06-30"
