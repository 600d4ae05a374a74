"""The 人员 sheet's 企业微信账号 / 钉钉账号 columns: text user ids, refused when Excel may have changed them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import openpyxl
import sqlalchemy as sa

from tests.conftest import PERSON_HEADER, Duban, node, person, project, write_ledger

HEADER = ["人员编号", "姓名", "单位", "电话", "邮箱", "企业微信账号", "钉钉账号"]


def _workbook(path: Path, persons: list[list[Any]], header: list[str] = HEADER) -> Path:
    book = openpyxl.Workbook()
    book.remove(book.active)
    sheet = book.create_sheet("人员")
    sheet.append(header)
    for row in persons:
        sheet.append(row)
    projects = book.create_sheet("项目")
    projects.append(["项目编号", "项目名称", "负责人编号"])
    projects.append(["A", "A小区", persons[0][0]])
    nodes = book.create_sheet("节点")
    nodes.append(["项目编号", "节点编号", "节点名称", "计划完成日期"])
    nodes.append(["A", "N1", "竣工验收", "2024-12-31"])
    book.save(path)
    return path


def _accounts(duban: Duban) -> dict[str, tuple[str | None, str | None]]:
    engine = sa.create_engine(duban.url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT person_id, wecom_id, dingtalk_id FROM person ORDER BY person_id"))
            return {pid: (wecom, ding) for pid, wecom, ding in rows}
    finally:
        engine.dispose()


def _person_log(duban: Duban) -> list[tuple[str, str, Any, str | None]]:
    engine = sa.create_engine(duban.url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text("SELECT key, action, detail, reason FROM change_log WHERE entity = 'person' ORDER BY id")
            )
            return [(k, a, d if isinstance(d, dict) else json.loads(d), r) for k, a, d, r in rows]
    finally:
        engine.dispose()


def _row(pid: str, name: str, wecom: Any, ding: Any) -> list[Any]:
    return [*person(pid, name), wecom, ding]


def test_text_accounts_are_imported_as_written(duban: Duban, tmp_path: Path) -> None:
    book = _workbook(
        tmp_path / "台账.xlsx",
        [_row("P1", "张三", "zhangsan", "0123456789"), _row("P2", "李四", "Li.Si-2@corp_x", None)],
    )
    duban("import", "ledger", book)
    assert _accounts(duban) == {"P1": ("zhangsan", "0123456789"), "P2": ("Li.Si-2@corp_x", None)}


def test_a_number_cell_is_refused_naming_the_cell_and_what_makes_it_clear(duban: Duban, tmp_path: Path) -> None:
    before = duban.dump()
    book = _workbook(tmp_path / "台账.xlsx", [_row("P1", "张三", "zhangsan", 123456789)])
    result = duban("import", "ledger", book, ok=False)
    assert result.code == 1
    assert result.err.strip() == (
        "台账.xlsx[人员]，第 2 行，G 列「钉钉账号」，值「123456789」：账号是数字格式的单元格"
        "（Excel 可能已去掉开头的 0 或改写了长数字）：把该列设为文本格式后重新填写"
    )
    assert duban.dump() == before


def test_an_account_with_other_characters_is_refused(duban: Duban, tmp_path: Path) -> None:
    before = duban.dump()
    book = _workbook(tmp_path / "台账.xlsx", [_row("P1", "张三", "张三 zs", "a" * 65)])
    lines = duban("import", "ledger", book, ok=False).err.strip().splitlines()
    assert lines == [
        "台账.xlsx[人员]，第 2 行，F 列「企业微信账号」，值「张三 zs」：账号只能由英文字母、数字和 _ - @ . 组成"
        "（最多 64 个字符），请照通讯录中的账号填写",
        f"台账.xlsx[人员]，第 2 行，G 列「钉钉账号」，值「{'a' * 60}…」：内容过长（65 字符，最多 64）",
    ]
    assert duban.dump() == before


def test_the_usual_headers_are_read_as_the_account_columns(duban: Duban, tmp_path: Path) -> None:
    folder = write_ledger(
        tmp_path / "l",
        [[*person("P1", "张三"), "zhangsan", "ding01"]],
        [project("A", "P1")],
        [node("A", "N1", "2024-12-31")],
        headers={"persons": [*PERSON_HEADER, "企微账号", "钉钉ID"]},
    )
    duban("import", "ledger", folder)
    assert _accounts(duban) == {"P1": ("zhangsan", "ding01")}


def test_a_changed_account_is_on_record_and_a_sheet_without_the_columns_keeps_it(duban: Duban, tmp_path: Path) -> None:
    duban("import", "ledger", _workbook(tmp_path / "a.xlsx", [_row("P1", "张三", "zhangsan", "0123")]))
    out = duban("import", "ledger", _workbook(tmp_path / "b.xlsx", [_row("P1", "张三", "zhangsan2", "0123")])).out
    assert _accounts(duban) == {"P1": ("zhangsan2", "0123")}
    assert "更新人员 1" in out and "新增人员" not in out
    assert _person_log(duban)[-1] == (
        "P1",
        "update",
        {"wecom_id": {"old": "zhangsan", "new": "zhangsan2"}},
        "台账更新",
    )
    # An older ledger, without the columns: the accounts stay, nothing is logged.
    logged = len(_person_log(duban))
    old = _workbook(tmp_path / "c.xlsx", [person("P1", "张三")], HEADER[:5])
    assert "没有变化" in duban("import", "ledger", old).out
    assert _accounts(duban) == {"P1": ("zhangsan2", "0123")} and len(_person_log(duban)) == logged
    # An emptied cell of a present column clears the account, on record.
    duban("import", "ledger", _workbook(tmp_path / "d.xlsx", [_row("P1", "张三", "zhangsan2", None)]))
    assert _accounts(duban) == {"P1": ("zhangsan2", None)}
    assert _person_log(duban)[-1][2] == {"dingtalk_id": {"old": "0123", "new": None}}


def test_the_export_writes_the_accounts_as_text_and_imports_back_unchanged(duban: Duban, tmp_path: Path) -> None:
    duban("import", "ledger", _workbook(tmp_path / "a.xlsx", [_row("P1", "张三", "zhangsan", "0123")]))
    exported = tmp_path / "out.xlsx"
    duban("export", "ledger", exported)
    sheet = openpyxl.load_workbook(exported)["人员"]
    rows = list(sheet.iter_rows(values_only=True))
    assert list(rows[0]) == HEADER
    assert rows[1][5:] == ("zhangsan", "0123") and sheet["G2"].data_type == "s"
    assert "没有变化" in duban("import", "ledger", exported).out
