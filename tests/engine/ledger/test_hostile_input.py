"""Hostile input: random and malicious ledgers never give a traceback and never import half.

Property-based (hypothesis): random CSV folders and random workbooks with wrong types, huge
cells, formulas, control characters and mixed encodings. Whatever the input, `duban import
ledger` exits 0, or 1 with at least one line saying why and the database unchanged; never a
traceback or an "internal error".
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import NODE_HEADER, PERSON_HEADER, PROJECT_HEADER, Duban

SQLITE = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
FUZZ = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)

FORMULAS = ["=cmd|' /C calc'!A0", "=1+1", "+SUM(A1:A9)", "-2+3", "@SUM(1)", '=HYPERLINK("http://x")']
DATES = [
    "2024-07-31",
    "2024/7/31",
    "2024.7.31",
    "2024年7月31日",
    "７月３１日",
    "31/07/2024",
    "2024-02-30",
    "45500",
    "2024-07-31 00:00:00",
    "0000-00-00",
    "9999-12-31",
    "2024-13-01",
]
nasty_text = st.one_of(
    st.text(max_size=12),
    st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x1F), max_size=5),  # control characters
    st.sampled_from(FORMULAS),
    st.sampled_from(DATES),
    st.just("x" * 5000),  # a huge cell
    st.integers(min_value=-(10**12), max_value=10**12).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["", " ", "P1", "P2", "A", "B", "N1", "在建", "储备", "取消", "active"]),
)


def _row(width: int) -> st.SearchStrategy[list[str]]:
    return st.lists(nasty_text, min_size=max(width - 1, 0), max_size=width + 1)


@st.composite
def csv_ledgers(draw: st.DrawFn) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for name, header in (("persons", PERSON_HEADER), ("projects", PROJECT_HEADER), ("nodes", NODE_HEADER)):
        if draw(st.booleans()) and name != "nodes":
            continue  # a table left out is allowed
        rows = draw(st.lists(_row(len(header)), max_size=6))
        buffer = io.StringIO()
        csv.writer(buffer).writerows([header, *rows])
        text = buffer.getvalue()
        encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "gbk", "utf-16", "latin-1"]))
        files[name] = (
            text.encode(encoding, errors="replace") if encoding != "latin-1" else text.encode("utf-8") + b"\xff\xfe"
        )
    return files


def _check(duban: Duban, target: Path, before: dict[str, object]) -> None:
    result = duban("import", "ledger", target, ok=False)
    assert result.code in (0, 1), result.err
    assert "Traceback" not in result.err and "内部错误" not in result.err, result.err
    if result.code == 1:
        lines = [line for line in result.err.splitlines() if line.strip()]
        assert lines, "a refusal must say why"
        assert duban.dump() == before, "a refused import changed the database"


@SQLITE
@FUZZ
@given(ledger=csv_ledgers())
def test_random_csv_ledgers(duban: Duban, tmp_path: Path, ledger: dict[str, bytes]) -> None:
    folder = tmp_path / "fuzz"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    for name, content in ledger.items():
        (folder / f"{name}.csv").write_bytes(content)
    _check(duban, folder, duban.dump())


cell_values = st.one_of(
    nasty_text,
    st.integers(min_value=-(2**40), max_value=2**40),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.booleans(),
    st.datetimes(min_value=dt.datetime(1900, 3, 1), max_value=dt.datetime(2100, 1, 1)),  # noqa: DTZ001 (Excel is naive)
    st.dates(min_value=dt.date(1900, 3, 1), max_value=dt.date(2100, 1, 1)),
    st.none(),
)


@SQLITE
@FUZZ
@given(
    sheets=st.lists(
        st.tuples(
            st.sampled_from(["人员", "项目", "节点", "persons", "nodes", "其他"]),
            st.lists(st.lists(cell_values, max_size=7), max_size=6),
        ),
        min_size=1,
        max_size=4,
    )
)
def test_random_workbooks(duban: Duban, tmp_path: Path, sheets: list[tuple[str, list[list[object]]]]) -> None:
    from openpyxl import Workbook
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    workbook = Workbook()
    workbook.remove(workbook.active)
    headers = {
        "人员": PERSON_HEADER,
        "persons": PERSON_HEADER,
        "项目": PROJECT_HEADER,
        "节点": NODE_HEADER,
        "nodes": NODE_HEADER,
        "其他": ["x"],
    }
    for index, (name, rows) in enumerate(sheets):
        sheet = workbook.create_sheet(f"{name}" if index == 0 else f"{name}{'' if index % 2 else index}")
        sheet.append(headers[name])
        for row in rows:
            # A workbook cannot hold control characters at all (the CSV cases cover them).
            sheet.append([v if not isinstance(v, str) else ILLEGAL_CHARACTERS_RE.sub("", v)[:32000] for v in row])
    path = tmp_path / "fuzz.xlsx"
    workbook.save(path)
    _check(duban, path, duban.dump())


@SQLITE
@pytest.mark.parametrize("content", [b"", b"PK\x03\x04garbage", bytes(range(256)) * 4, b"\x00" * 100])
def test_garbage_workbooks_are_refused_clearly(duban: Duban, tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "broken.xlsx"
    path.write_bytes(content)
    before = duban.dump()
    result = duban("import", "ledger", path, ok=False)
    assert result.code == 1 and "broken.xlsx" in result.err
    assert "Traceback" not in result.err and "内部错误" not in result.err
    assert duban.dump() == before


@SQLITE
def test_a_gbk_file_is_refused_with_a_hint(duban: Duban, tmp_path: Path) -> None:
    folder = tmp_path / "gbk"
    folder.mkdir()
    (folder / "persons.csv").write_bytes("人员编号,姓名\nP1,张伟\n".encode("gbk"))
    result = duban("import", "ledger", folder, ok=False)
    assert result.code == 1
    assert "persons.csv" in result.err and "GBK" in result.err


@SQLITE
def test_formulas_stay_text_in_and_out(duban: Duban, tmp_path: Path) -> None:
    folder = tmp_path / "formulas"
    folder.mkdir()
    (folder / "persons.csv").write_text("person_id,name,phone\nP1,\"=cmd|' /C calc'!A0\",+12345\n", encoding="utf-8")
    (folder / "projects.csv").write_text("project_code,name,responsible_person_id\nA,@SUM(1),P1\n", encoding="utf-8")
    (folder / "nodes.csv").write_text(
        "project_code,node_code,name,planned_date\nA,N1,=1+1,2024-07-01\n", encoding="utf-8"
    )
    duban("import", "ledger", folder, "--as-of", "2024-06-01")
    assert duban.json("persons")[0]["name"] == "=cmd|' /C calc'!A0"
    exported = tmp_path / "out.xlsx"
    duban("export", "ledger", exported)

    import zipfile

    with zipfile.ZipFile(exported) as archive:
        sheets = [archive.read(n).decode() for n in archive.namelist() if n.startswith("xl/worksheets/")]
    assert not any("<f>" in xml or "<f " in xml for xml in sheets), "a formula was written back"
    assert any("=cmd|' /C calc'!A0" in xml for xml in sheets)
    assert "没有变化" in duban("import", "ledger", exported).out  # and the round trip is exact
