"""`duban backup` / `duban restore`: a round trip gives back exactly the state at backup time."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Duban, node, person, project, write_ledger

SQLITE = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


def _load(duban: Duban, tmp_path: Path) -> None:
    folder = write_ledger(
        tmp_path / "ledger",
        [person("P1"), person("P2")],
        [project("A", "P1"), project("B", "P2")],
        [
            node("A", "N1", "2024-07-01"),
            node("A", "N2", "2024-07-10"),
            node("B", "N1", "2024-07-05"),
            node("B", "N2", "2024-08-01"),
        ],
    )
    duban("import", "ledger", folder, "--as-of", "2024-06-01")
    duban("evaluate", "--from", "2024-06-30", "--through", "2024-07-08")


def _state(duban: Duban) -> tuple[object, ...]:
    return duban.json("strikes"), duban.json("persons"), duban.json("nodes")


@SQLITE
def test_backup_and_restore_round_trip(duban: Duban, tmp_path: Path) -> None:
    _load(duban, tmp_path)
    at_backup = _state(duban)
    result = duban("backup", tmp_path / "b.db")
    assert "完整性检查通过" in result.out
    duban("evaluate", "--through", "2024-07-20")
    duban("strike", "exempt", "1", "--reason", "不可抗力")
    assert _state(duban) != at_backup

    refused = duban("restore", tmp_path / "b.db", ok=False)
    assert refused.code == 1 and "--replace" in refused.err
    restored = duban("restore", tmp_path / "b.db", "--replace")
    assert "审计链完整" in restored.out
    assert _state(duban) == at_backup
    kept = next(tmp_path.glob("duban.before-restore-*.db"))  # what was replaced is kept, not lost
    assert duban.json("--db", f"sqlite:///{kept}", "strikes") != at_backup[0]
    duban("evaluate", "--through", "2024-07-20")  # and work goes on from the restored state
    assert duban.json("audit", "verify")["ok"] is True


@SQLITE
def test_backup_never_overwrites_a_file(duban: Duban, tmp_path: Path) -> None:
    target = tmp_path / "exists.db"
    target.write_bytes(b"keep me")
    result = duban("backup", target, ok=False)
    assert result.code == 1 and "不会覆盖" in result.err
    assert target.read_bytes() == b"keep me"


@SQLITE
@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"not a database at all" * 10, "不是 SQLite 数据库文件"),
        (b"SQLite format 3\x00" + b"\x00" * 200, "SQLite"),
    ],
)
def test_restore_refuses_a_bad_file_and_changes_nothing(
    duban: Duban, tmp_path: Path, content: bytes, reason: str
) -> None:
    _load(duban, tmp_path)
    before = duban.dump()
    bad = tmp_path / "bad.db"
    bad.write_bytes(content)
    result = duban("restore", bad, "--replace", ok=False)
    assert result.code == 1 and reason in result.err
    assert "Traceback" not in result.err
    assert duban.dump() == before


@SQLITE
def test_restore_refuses_a_sqlite_file_that_is_not_duban(duban: Duban, tmp_path: Path) -> None:
    import sqlite3

    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE t (x)")
    result = duban("restore", other, "--replace", ok=False)
    assert result.code == 1 and "不是 duban 的数据库" in result.err


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_postgresql_points_to_pg_dump(duban: Duban, tmp_path: Path) -> None:
    result = duban("backup", tmp_path / "b.dump", ok=False)
    assert result.code == 1 and "pg_dump" in result.err
    assert not (tmp_path / "b.dump").exists()
    assert "pg_restore" in duban("restore", tmp_path / "b.dump", ok=False).err
