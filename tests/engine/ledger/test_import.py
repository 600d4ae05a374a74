"""The ledger import of spec/ledger-format.md, through the real command line."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import openpyxl
import pytest
import sqlalchemy as sa

from tests.conftest import Duban, node, person, project, write_ledger

CHINESE = {
    "persons": ["人员编号", "姓名", "单位", "电话", "邮箱"],
    "projects": ["项目编号", "项目名称", "片区", "期次", "批次", "状态", "负责人编号", "施工单位", "户数"],
    "nodes": ["项目编号", "节点编号", "节点名称", "计划完成日期", "实际完成日期"],
}
PERSONS = [person("P1", "张三"), person("P2", "李四")]
PROJECTS = [project("LL-1", "P1"), project("LL-2", "P2", "储备")]
NODES = [
    node("LL-1", "N1", "2024-07-31", "2024-07-30"),
    node("LL-1", "N2", "2024/8/15"),
    node("LL-2", "N1", "2024年9月1日"),
    node("LL-2", "N2", "2024.9.30"),
]


def snapshot(duban: Duban) -> tuple[object, ...]:
    return (duban.json("persons"), duban.json("projects"), duban.json("nodes"))


def write_workbook(path: Path, tables: dict[str, list[list[object]]], headers: dict[str, list[str]]) -> Path:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, sheet_name in (("persons", "人员"), ("projects", "项目"), ("nodes", "节点")):
        sheet = book.create_sheet(sheet_name)
        sheet.append(headers[name])
        for row in tables[name]:
            sheet.append(row)
    book.save(path)
    return path


def test_xlsx_and_csv_with_chinese_headers_load_the_same(duban: Duban, tmp_path: Path, database_url: str) -> None:
    folder = write_ledger(tmp_path / "csv", PERSONS, PROJECTS, NODES, headers=CHINESE)
    duban("import", "ledger", folder)
    from_csv = snapshot(duban)

    other = Duban(f"sqlite:///{tmp_path / 'other.db'}", duban._capsys, duban._monkeypatch)
    other("init")
    excel_nodes = [
        [
            p,
            n,
            name,
            dt.date(2024, 7, 31) if n == "N1" and p == "LL-1" else planned,
            dt.date(2024, 7, 30) if done else None,
        ]
        for p, n, name, planned, done in NODES
    ]
    workbook = write_workbook(
        tmp_path / "台账.xlsx", {"persons": PERSONS, "projects": PROJECTS, "nodes": excel_nodes}, CHINESE
    )
    other("import", "ledger", workbook)
    assert snapshot(other) == from_csv
    assert from_csv[2][1] == {
        "project_code": "LL-1",
        "node_code": "N2",
        "name": "节点N2",
        "planned_date": "2024-08-15",
        "completed_on": None,
    }
    assert [p["status"] for p in from_csv[1]] == ["active", "reserve"]


def test_english_headers_in_any_order_with_spaces_and_case(duban: Duban, tmp_path: Path) -> None:
    headers = {"nodes": [" Completed_On ", "PLANNED_DATE", "name", "node_code", "project_code"]}
    folder = write_ledger(tmp_path / "l", PERSONS, PROJECTS, [list(reversed(n)) for n in NODES], headers=headers)
    duban("import", "ledger", folder)
    assert [n["planned_date"] for n in duban.json("nodes")] == ["2024-07-31", "2024-08-15", "2024-09-01", "2024-09-30"]


def test_unknown_columns_are_kept_as_extra_attributes(duban: Duban, tmp_path: Path) -> None:
    headers = {"projects": [*CHINESE["projects"], "备注"]}
    folder = write_ledger(tmp_path / "l", PERSONS, [[*PROJECTS[0], "加装电梯 2 部"]], headers=headers)
    duban("import", "ledger", folder)
    engine = sa.create_engine(duban.url)
    with engine.connect() as conn:
        extra = conn.execute(sa.text("select extra from project")).scalar_one()
    engine.dispose()
    assert "加装电梯 2 部" in str(extra)


def test_csv_with_bom_is_read(duban: Duban, tmp_path: Path) -> None:
    folder = write_ledger(tmp_path / "l", PERSONS, PROJECTS, NODES, headers=CHINESE)
    for file in folder.iterdir():
        file.write_bytes(b"\xef\xbb\xbf" + file.read_bytes())
    duban("import", "ledger", folder)
    assert len(duban.json("nodes")) == 4


def test_reimport_applies_changes_and_keeps_history(duban: Duban, tmp_path: Path) -> None:
    duban("import", "ledger", write_ledger(tmp_path / "v1", PERSONS, PROJECTS, NODES))
    changed_nodes = [node("LL-1", "N1", "2024-07-31", "2024-07-30"), node("LL-1", "N2", "2024-08-20", "2024-08-18")]
    changed_projects = [project("LL-1", "P2")]
    duban(
        "import",
        "ledger",
        write_ledger(tmp_path / "v2", None, changed_projects, changed_nodes),
        "--as-of",
        "2024-08-01",
    )
    nodes = {(n["project_code"], n["node_code"]): n for n in duban.json("nodes")}
    assert nodes[("LL-1", "N2")]["planned_date"] == "2024-08-20"
    assert nodes[("LL-1", "N2")]["completed_on"] == "2024-08-18"
    assert nodes[("LL-2", "N1")]["planned_date"] == "2024-09-01"  # rows missing from a later file stay
    assert {p["project_code"]: p["responsible_person_id"] for p in duban.json("projects")}["LL-1"] == "P2"
    engine = sa.create_engine(duban.url)
    with engine.connect() as conn:
        history = conn.execute(
            sa.text(
                "select h.kind, h.planned_date, h.previous_planned_date, h.completed_on, h.reason from node_history h "
                "join node n on n.id = h.node_id where n.code = 'N2' and n.project_id = "
                "(select id from project where code = 'LL-1') order by h.id"
            )
        ).all()
        assignments = conn.execute(
            sa.text(
                "select p.person_id, a.effective_from, a.reason from assignment a join person p on p.id = a.person_pk "
                "where a.project_id = (select id from project where code = 'LL-1') order by a.id"
            )
        ).all()
        log = conn.execute(
            sa.text("select actor, entity, action from change_log where action in ('extend', 'assign')")
        ).all()
    engine.dispose()
    assert [(h[0], str(h[1]), str(h[2]), str(h[3])) for h in history] == [
        ("planned", "2024-08-15", "None", "None"),
        ("extension", "2024-08-20", "2024-08-15", "None"),
        ("completion", "None", "None", "2024-08-18"),
    ]
    assert history[1][4] == "台账更新"
    assert [(a[0], str(a[1])) for a in assignments] == [("P1", "1900-01-01"), ("P2", "2024-08-01")]
    assert ("tester", "node", "extend") in log and ("tester", "project", "assign") in log


def test_reimport_of_the_same_file_changes_nothing(duban: Duban, tmp_path: Path) -> None:
    folder = write_ledger(tmp_path / "v1", PERSONS, PROJECTS, NODES)
    duban("import", "ledger", folder)
    before = duban.dump()
    result = duban("import", "ledger", folder)
    assert "没有变化" in result.out
    after = duban.dump()
    # Only the import itself is on record (its change-log line, sealed into the audit chain).
    log = ("change_log", "audit_entry")
    assert {k: v for k, v in after.items() if k not in log} == {k: v for k, v in before.items() if k not in log}
    assert len(after["change_log"]) == len(before["change_log"]) + 1


BAD_CASES = [
    (
        "missing required column",
        {"nodes": ["项目编号", "节点编号", "节点名称", "实际完成日期"]},
        [["LL-1", "N1", "x", None]],
        ["缺少必填列", "计划完成日期"],
    ),
    (
        "missing value",
        None,
        [["LL-1", "N1", "", "2024-07-31", None]],
        ["nodes.csv，第 2 行，列「节点名称」", "必填项为空"],
    ),
    ("unparsable date", None, [["LL-1", "N1", "x", "31/07/2024", None]], ["第 2 行", "计划完成日期", "31/07/2024"]),
    ("impossible date", None, [["LL-1", "N1", "x", "2024-02-30", None]], ["2024-02-30", "日期不存在"]),
    (
        "duplicate code",
        None,
        [["LL-1", "N1", "x", "2024-07-31", None], ["LL-1", "N1", "y", "2024-08-31", None]],
        ["第 3 行", "编号重复"],
    ),
    ("unknown project", None, [["LL-9", "N1", "x", "2024-07-31", None]], ["LL-9", "项目表中没有此项目"]),
    ("future completion", None, [["LL-1", "N1", "x", "2024-07-31", "2025-01-05"]], ["2025-01-05", "晚于今天"]),
]


@pytest.mark.parametrize(("case", "headers", "nodes", "expected"), BAD_CASES, ids=[c[0] for c in BAD_CASES])
def test_bad_ledger_is_refused_whole_and_changes_nothing(
    duban: Duban,
    tmp_path: Path,
    case: str,
    headers: dict[str, list[str]] | None,
    nodes: list[list[object]],
    expected: list[str],
) -> None:
    duban("import", "ledger", write_ledger(tmp_path / "good", PERSONS, PROJECTS, NODES))
    before = duban.dump()
    folder = write_ledger(
        tmp_path / "bad", PERSONS, PROJECTS, nodes, headers={"nodes": CHINESE["nodes"], **(headers or {})}
    )
    result = duban("import", "ledger", folder, ok=False)
    assert result.code == 1
    assert "Traceback" not in result.err and result.out == ""
    for fragment in expected:
        assert fragment in result.err, (fragment, result.err)
    assert duban.dump() == before


def test_every_error_is_reported_not_only_the_first(duban: Duban, tmp_path: Path) -> None:
    persons = [person("P1"), ["P1", "重复", None, None, None], ["P3", "", None, None, "not-an-email"]]
    projects = [
        project("LL-1", "P9"),
        ["LL-2", "x", None, None, None, "在建", None, None, "很多"],
        ["LL-3", "y", None, None, None, "施工中", None, None, -1],
    ]
    nodes = [["LL-1", "N1", "a", "明天", None], ["LL-7", "N1", "b", "2024-07-31", None]]
    result = duban("import", "ledger", write_ledger(tmp_path / "bad", persons, projects, nodes), ok=False)
    lines = result.err.strip().splitlines()
    assert result.code == 1
    expected = ["编号重复", "姓名", "电子邮箱", "户数", "施工中", "-1", "明天"]
    for fragment in expected:
        assert any(fragment in line for line in lines), (fragment, lines)
    assert len(lines) >= len(expected)
    assert duban.json("persons") == []


def test_unknown_person_is_refused_after_values_are_clean(duban: Duban, tmp_path: Path) -> None:
    result = duban("import", "ledger", write_ledger(tmp_path / "bad", PERSONS, [project("LL-1", "P9")], []), ok=False)
    assert result.code == 1 and "P9" in result.err and "人员表中没有此人" in result.err
    assert duban.json("projects") == []


def test_gbk_file_is_refused_with_a_clear_message(duban: Duban, tmp_path: Path) -> None:
    folder = tmp_path / "gbk"
    folder.mkdir()
    (folder / "persons.csv").write_bytes("人员编号,姓名\nP1,张三\n".encode("gbk"))
    result = duban("import", "ledger", folder, ok=False)
    assert result.code == 1 and "GBK" in result.err and "persons.csv" in result.err


def test_missing_path_and_wrong_file_type_are_refused(duban: Duban, tmp_path: Path) -> None:
    assert "不存在" in duban("import", "ledger", tmp_path / "nope.xlsx", ok=False).err
    text = tmp_path / "ledger.txt"
    text.write_text("hello", encoding="utf-8")
    assert duban("import", "ledger", text, ok=False).code == 1


def test_node_commands_refuse_unknown_project_and_node(duban: Duban, tmp_path: Path) -> None:
    duban("import", "ledger", write_ledger(tmp_path / "l", PERSONS, PROJECTS, NODES))
    assert "LL-9" in duban("node", "complete", "LL-9", "N1", "--on", "2024-07-01", ok=False).err
    assert "N9" in duban("node", "extend", "LL-1", "N9", "--to", "2024-09-01", "--reason", "x", ok=False).err
    assert "P9" in duban("project", "assign", "LL-1", "P9", "--from", "2024-09-01", ok=False).err
    assert duban("node", "complete", "LL-1", "N2", "--on", "2024-8-1", ok=False).code == 2


def test_extension_needs_a_reason(duban: Duban, tmp_path: Path) -> None:
    duban("import", "ledger", write_ledger(tmp_path / "l", PERSONS, PROJECTS, NODES))
    assert duban("node", "extend", "LL-1", "N2", "--to", "2024-09-01", "--reason", " ", ok=False).code == 1


def test_a_code_longer_than_the_database_holds_is_refused_with_its_place(duban: Duban, tmp_path: Path) -> None:
    long_code = "LL-" + "9" * 62  # 65 characters: PostgreSQL's varchar(64) would refuse it with an internal error
    before = duban.dump()
    folder = write_ledger(
        tmp_path / "l",
        [person("P1", "张三")],
        [project(long_code, "P1")],
        [node(long_code, "N1", "2024-07-31"), node("LL-1", "N" * 65, "2024-07-31")],
    )
    result = duban("import", "ledger", folder, ok=False)
    assert result.code == 1 and "Traceback" not in result.err and "内部错误" not in result.err
    assert "projects.csv，第 2 行，列「项目编号」" in result.err and "内容过长（65 字符，最多 64）" in result.err
    assert "nodes.csv，第 3 行，列「节点编号」" in result.err
    assert duban.dump() == before


@pytest.mark.parametrize("backend", ["postgres"])
def test_a_first_import_of_more_projects_than_a_statement_takes_parameters_loads(duban: Duban, tmp_path: Path) -> None:
    # PostgreSQL refuses a statement with more than 65,535 parameters: a country's first import has 220,000 projects.
    projects = [project(f"P-{i:06d}", "P1") for i in range(66_000)]
    result = duban("import", "ledger", write_ledger(tmp_path / "l", [person("P1", "张三")], projects, []))
    assert "新增项目 66000" in result.out
    assert duban.json("projects")[-1]["responsible_person_id"] == "P1"
