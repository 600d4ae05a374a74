"""Hostile workbooks and files are refused within bounds: before anything is allocated, or by the reading child's death.

Through the real command line (a `duban` process: were a guard to fail, calamine's abort would
end that process, not the test run): exit 1, one line in Chinese naming the sheet and the limit,
no traceback, the database as it was. The refusals are decided by what the files declare and
by the limits, never by the clock, except the one test of the time limit, whose watchdog is set
to fire at once.
"""

from __future__ import annotations

import os
import pickle
import random
import signal
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest

from config.limits import LimitsSettings
from engine.ledger import guard
from engine.ledger.read import Problems
from engine.ledger.sheets_child import EXIT_MEMORY
from tests.conftest import Duban, node, person, project, write_ledger
from tests.engine.ledger.hostile import far_cell, sheet_xml, workbook, zip_bomb

SQLITE = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


def cli(*args: object) -> subprocess.CompletedProcess[str]:
    """Run `duban` as its own process (the fixture's database and clock, from the environment)."""
    return subprocess.run(
        [sys.executable, "-c", "from engine.app.launch import main; main()", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        env=os.environ.copy(),
    )


def refused(duban: Duban, *args: object) -> str:
    """Run a command that must be refused: exit 1, one line, no traceback, nothing changed; return the line."""
    before = duban.dump()
    result = cli(*args)
    assert result.returncode == 1, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr and "内部错误" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert duban.dump() == before
    return lines[0]


# ---------------------------------------------------------------------------------------- the far cell


def test_a_far_cell_workbook_is_refused_by_the_range_it_declares(duban: Duban, tmp_path: Path) -> None:
    line = refused(duban, "import", "ledger", far_cell(tmp_path / "台账.xlsx"))
    assert line == (
        "台账.xlsx：工作表「台账」声明的范围 A1:XFD1048576（1048576 行、16384 列）超出上限"
        "（最多 1048576 行、200 列、20000000 个单元格），未读取"
    )


@SQLITE
@pytest.mark.parametrize("dimension", [None, "A1:B2"], ids=["undeclared", "a-lie"])
def test_a_far_cell_workbook_that_hides_its_range_is_refused_when_the_reader_dies(
    duban: Duban, tmp_path: Path, dimension: str | None
) -> None:
    # calamine asks for 512 GiB and aborts: in the reading child, under its address-space limit.
    line = refused(duban, "import", "ledger", far_cell(tmp_path / "台账.xlsx", dimension=dimension))
    assert line == "台账.xlsx：读取工作表「台账」时超出内存上限（4096 MB），文件可能已损坏或过大"


@SQLITE
def test_a_sheet_read_beyond_the_limits_is_refused_before_its_rows_are_made(duban: Duban, tmp_path: Path) -> None:
    wide = workbook(tmp_path / "宽表.xlsx", {"工作台账": sheet_xml([["x"] * 300])})  # no dimension: found when read
    assert duban("import", "ledger", wide, ok=False).err.strip() == (
        "宽表.xlsx：工作表「工作台账」的范围 A1:KN1（1 行、300 列）超出上限（最多 1048576 行、200 列、"
        "20000000 个单元格），未读取"
    )


# ---------------------------------------------------------------------------------------- the zip bomb


def test_a_zip_bomb_is_refused_before_it_is_unpacked(duban: Duban, tmp_path: Path) -> None:
    bomb = zip_bomb(tmp_path / "台账.xlsx")
    assert bomb.stat().st_size < 1_100_000
    line = refused(duban, "import", "ledger", bomb)
    assert line == (
        "台账.xlsx：工作表「台账」（xl/worksheets/sheet1.xml）解压后 1024 MB，是压缩后的 1028 倍，"
        "超出上限（最多 100 倍），文件可能是压缩炸弹"
    )


@SQLITE
def test_an_archive_beyond_the_unpacked_size_or_member_count_is_refused(duban: Duban, tmp_path: Path) -> None:
    rows = [[f"LL-{i:06d}", f"节点{i}", f"2024-07-{i % 28 + 1:02d}"] for i in range(40_000)]
    book = workbook(tmp_path / "台账.xlsx", {"节点": sheet_xml(rows)})  # some MB unpacked, well under 100 times packed
    Path("duban.toml").write_text("[duban.limits]\nmax_unzipped_mb = 1\n", encoding="utf-8")
    assert "MB，超出上限（最多 1 MB）" in duban("import", "ledger", book, ok=False).err.split("解压后共 ")[1]
    Path("duban.toml").write_text("[duban.limits]\nmax_zip_members = 4\n", encoding="utf-8")
    assert "压缩包有 5 个成员，超出上限（最多 4 个）" in duban("import", "ledger", book, ok=False).err


# ---------------------------------------------------------------------------------------- the hotline export


@pytest.mark.parametrize("make", [far_cell, zip_bomb], ids=["far-cell", "zip-bomb"])
def test_a_hostile_hotline_export_is_refused(duban: Duban, tmp_path: Path, make: object) -> None:
    line = refused(duban, "import", "complaints", make(tmp_path / "12345.xlsx", sheet="工单明细"))  # type: ignore[operator]
    assert line.startswith("12345.xlsx：工作表「工单明细」") and "超出上限" in line


@SQLITE
def test_a_hotline_export_that_kills_the_reader_is_refused(duban: Duban, tmp_path: Path) -> None:
    line = refused(duban, "import", "complaints", far_cell(tmp_path / "12345.xlsx", sheet="工单明细", dimension=None))
    assert line == "12345.xlsx：读取工作表「工单明细」时超出内存上限（4096 MB），文件可能已损坏或过大"


# ---------------------------------------------------------------------------------------- the reading child


def test_the_child_reads_a_workbook_as_calamine_does(tmp_path: Path) -> None:
    from python_calamine import CalamineWorkbook

    book = openpyxl.Workbook()
    gaps = book.active
    assert gaps is not None
    gaps.title = "节点"
    gaps["C3"], gaps["E5"], gaps["F2"], gaps["C6"] = "a", 1.5, "2024-07-01", "x"
    gaps.merge_cells("C3:D3")
    typed = book.create_sheet("类型")
    import datetime as dt

    typed.append([1, 2.5, True, "文字", dt.datetime(2024, 7, 1, 8, 30), dt.date(2024, 7, 31), dt.time(8), None, ""])  # noqa: DTZ001 (a cell has no zone)
    book.create_sheet("空表")
    book.create_sheet("远处")["D7"] = "z"
    path = tmp_path / "台账.xlsx"
    book.save(path)
    direct = CalamineWorkbook.from_path(str(path))
    problems = Problems()
    child = guard.open_workbook(path, problems, path.name)
    assert child is not None and not problems.lines
    assert child.sheet_names == direct.sheet_names
    for name in direct.sheet_names:
        sheet = direct.get_sheet_by_name(name)
        assert child.get_sheet_by_name(name).to_python(skip_empty_area=False) == sheet.to_python(skip_empty_area=False)
        assert child.get_sheet_by_name(name).merged_cell_ranges == list(sheet.merged_cell_ranges or ())


def test_a_sheet_calamine_cannot_read_is_named_and_the_others_are_read(tmp_path: Path) -> None:
    broken = workbook(tmp_path / "台账.xlsx", {"好": sheet_xml([["a"]]), "坏": b"<worksheet><sheetData><row"})
    found = guard.open_workbook(broken, Problems(), broken.name)
    assert found is not None and found.get_sheet_by_name("好").to_python(skip_empty_area=False) == [["a"]]
    with pytest.raises(guard.SheetUnreadable):
        found.get_sheet_by_name("坏")


def test_a_reader_past_its_time_is_stopped_and_the_file_refused(tmp_path: Path) -> None:
    # The one clock in these tests: a watchdog due at once (0 s), long before any reader could finish.
    limits = LimitsSettings().model_copy(update={"read_seconds": 0})
    problems = Problems()
    book = workbook(tmp_path / "台账.xlsx", {"节点": sheet_xml([["a"]])})
    assert guard.open_workbook(book, problems, book.name, limits) is None
    assert problems.lines == ["台账.xlsx：读取工作簿时超出时间上限（0 秒），文件可能已损坏或过大"]


@pytest.mark.parametrize(
    ("code", "timed_out", "said"),
    [
        (-signal.SIGXCPU, False, "读取工作表「节点」时超出时间上限（600 秒）"),
        (-signal.SIGKILL, True, "读取工作表「节点」时超出时间上限（600 秒）"),
        (-signal.SIGABRT, False, "读取工作表「节点」时超出内存上限（4096 MB）"),
        (-signal.SIGKILL, False, "读取工作表「节点」时超出内存上限（4096 MB）"),  # the kernel's OOM killer
        (EXIT_MEMORY, False, "读取工作表「节点」时超出内存上限（4096 MB）"),
        (-signal.SIGSEGV, False, "读取工作表「节点」时读取进程异常终止（SIGSEGV）"),
    ],
)
def test_each_death_of_the_reader_is_said_in_words(code: int, timed_out: bool, said: str) -> None:
    reason = guard._death_reason("节点", guard._Death(code, timed_out, ""), LimitsSettings())
    assert reason is not None and reason.startswith(said)


def test_a_reader_that_fails_otherwise_is_an_internal_error() -> None:
    assert guard._death_reason(None, guard._Death(1, False, "Traceback …"), LimitsSettings()) is None


def test_what_comes_back_from_the_reader_is_cell_values_only() -> None:
    import io

    assert guard._Cells(io.BytesIO(pickle.dumps(["rows", [["a", 1.5]]]))).load() == ["rows", [["a", 1.5]]]
    with pytest.raises(pickle.UnpicklingError, match="not a cell value"):
        guard._Cells(io.BytesIO(pickle.dumps(os.getcwd))).load()


def test_the_member_count_is_read_from_the_end_record(tmp_path: Path) -> None:
    book = workbook(tmp_path / "台账.xlsx", {"a": sheet_xml([["x"]]), "b": sheet_xml([["y"]])})
    with book.open("rb") as handle:
        assert guard._members_declared(handle) == 6
    (tmp_path / "no.xlsx").write_bytes(b"not a zip")
    with (tmp_path / "no.xlsx").open("rb") as handle:
        assert guard._members_declared(handle) is None


# ---------------------------------------------------------------------------------------- CSV


def test_csv_lines_are_measured_across_the_pieces_they_are_read_in(tmp_path: Path) -> None:
    limits = LimitsSettings(max_csv_line_kb=4, max_csv_rows=10_000)
    longest = 4 * 1024
    chance = random.Random(18)
    for _ in range(60):
        lengths = [
            chance.choice([0, 1, longest - 1, longest, longest + 1, chance.randrange(2 * longest)])
            for _ in range(chance.randrange(1, 8))
        ]
        ending = chance.choice(["\n", ""])
        file = tmp_path / "nodes.csv"
        file.write_bytes(("\n".join("x" * n for n in lengths) + ending).encode())
        problems = Problems()
        over = next((i for i, n in enumerate(lengths, start=1) if n > longest), None)
        assert guard.csv_fits(file, problems, file.name, limits) is (over is None), lengths
        if over is not None:
            assert problems.lines == [
                f"nodes.csv，第 {over} 行：此行超过 4 KB，超出上限（每行最多 4 KB），文件可能已损坏"
            ]


@SQLITE
def test_a_csv_ledger_beyond_its_limits_is_refused_before_it_is_read(duban: Duban, tmp_path: Path) -> None:
    folder = write_ledger(
        tmp_path / "ledger",
        [person("P1")],
        [project("LL-1", "P1")],
        [node("LL-1", f"N{i}", "2024-07-31") for i in range(5)],
    )
    Path("duban.toml").write_text("[duban.limits]\nmax_csv_rows = 4\n", encoding="utf-8")
    assert "nodes.csv：超过 4 行，超出上限" in duban("import", "ledger", folder, ok=False).err
    Path("duban.toml").write_text("[duban.limits]\nmax_csv_line_kb = 4\n", encoding="utf-8")
    write_ledger(folder, [person("P1", "张" * 3000)], [project("LL-1", "P1")], [node("LL-1", "N1", "2024-07-31")])
    assert "persons.csv，第 2 行：此行超过 4 KB" in duban("import", "ledger", folder, ok=False).err
    assert duban.json("nodes") == []


@SQLITE
def test_a_csv_hotline_export_beyond_its_limits_is_refused(duban: Duban, tmp_path: Path) -> None:
    export = tmp_path / "12345.csv"
    export.write_text(
        "工单编号,受理时间,诉求内容,地址,办理时限\n" + "GD1,2024-08-01,噪音,滨河小区,3天\n" * 5, encoding="utf-8"
    )
    Path("duban.toml").write_text("[duban.limits]\nmax_csv_rows = 3\n", encoding="utf-8")
    assert duban("import", "complaints", export, ok=False).err.strip() == "12345.csv：超过 3 行，超出上限"


# ---------------------------------------------------------------------------------------- the problem cap


@SQLITE
def test_a_refusal_lists_the_first_problems_and_counts_the_rest(duban: Duban, tmp_path: Path) -> None:
    folder = write_ledger(
        tmp_path / "ledger",
        [person("P1")],
        [project("LL-1", "P1")],
        [node("LL-1", f"N{i}", "2024-02-30") for i in range(250)],
    )
    lines = duban("import", "ledger", folder, ok=False).err.strip().splitlines()
    assert len(lines) == 201 and all("日期不存在" in line for line in lines[:200])
    assert lines[:2] == [
        "nodes.csv，第 2 行，列「计划完成日期」，值「2024-02-30」：日期不存在",
        "nodes.csv，第 3 行，列「计划完成日期」，值「2024-02-30」：日期不存在",
    ]
    assert lines[-1] == "另有 50 个问题未列出"
    Path("duban.toml").write_text("[duban.limits]\nmax_problems = 3\n", encoding="utf-8")
    lines = duban("import", "ledger", folder, ok=False).err.strip().splitlines()
    assert len(lines) == 4 and lines[-1] == "另有 247 个问题未列出"


@SQLITE
def test_a_refusal_within_the_cap_lists_every_problem(duban: Duban, tmp_path: Path) -> None:
    folder = write_ledger(
        tmp_path / "ledger",
        [person("P1")],
        [project("LL-1", "P1")],
        [node("LL-1", f"N{i}", "2024-02-30") for i in range(200)],
    )
    lines = duban("import", "ledger", folder, ok=False).err.strip().splitlines()
    assert len(lines) == 200 and "未列出" not in lines[-1]
