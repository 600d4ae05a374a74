"""The tamper-evident record: `duban audit verify` finds every kind of hand edit, on both backends."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import Duban, node, person, project, write_ledger


def campaign(duban: Duban, tmp_path: Path) -> None:
    """Strikes, a decision, an exemption, a revocation, a reassignment, an extension, notices."""
    folder = write_ledger(
        tmp_path / "ledger",
        [person("P1"), person("P2"), person("P3")],
        [project("A", "P1"), project("B", "P1"), project("C", "P2")],
        [
            node("A", "N1", "2024-07-01"),
            node("A", "N2", "2024-07-10"),
            node("B", "N1", "2024-07-20"),
            node("C", "N1", "2024-07-05"),
            node("C", "N2", "2024-08-20"),
        ],
    )
    duban("import", "ledger", folder, "--as-of", "2024-06-01")
    duban("evaluate", "--from", "2024-06-30", "--through", "2024-07-15")
    first = duban.json("strikes")[0]["id"]
    duban("strike", "confirm", first, "--meeting", "2024-07-15")
    duban("node", "complete", "C", "N1", "--on", "2024-07-05")  # on time after all: the strike is revoked
    duban("node", "extend", "C", "N2", "--to", "2024-09-01", "--reason", "设计变更")
    duban("project", "assign", "B", "P3", "--from", "2024-07-16")
    duban("evaluate", "--through", "2024-07-25")
    duban("notices", "render", "--out", tmp_path / "out", "--format", "md")


def execute(duban: Duban, statement: str) -> None:
    engine = sa.create_engine(duban.url)
    try:
        with engine.begin() as conn:
            for part in statement.split("; "):
                conn.execute(sa.text(part))
    finally:
        engine.dispose()


def verify(duban: Duban) -> tuple[int, str]:
    result = duban("audit", "verify", ok=False)
    return result.code, result.err + result.out


def test_an_untouched_record_verifies_with_a_count(duban: Duban, tmp_path: Path) -> None:
    campaign(duban, tmp_path)
    result = duban.json("audit", "verify")
    assert result["ok"] is True
    assert result["entries"] > 10
    assert result["rows"] > 30
    code, text = verify(duban)
    assert code == 0
    assert f"{result['entries']} 条审计记录" in text


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            "UPDATE strike_event SET text = '改过' WHERE id = (SELECT min(id) FROM strike_event WHERE kind = 'confirmed')",
            "内容被修改",
        ),
        ("UPDATE strike SET planned_date = '2024-07-02' WHERE id = (SELECT min(id) FROM strike)", "内容被修改"),
        ("UPDATE node_history SET completed_on = '2024-07-01' WHERE kind = 'completion'", "内容被修改"),
        ("DELETE FROM assignment WHERE id = (SELECT max(id) FROM assignment)", "行被删除"),
        (
            "DELETE FROM outbox; DELETE FROM doc_number; DELETE FROM notice WHERE id = (SELECT min(id) FROM notice)",
            "行被删除",
        ),
        ("DELETE FROM audit_entry WHERE id = 3", "链接断开"),
        ("UPDATE audit_entry SET digest = 'x' WHERE id = 2", "审计记录本身被修改"),
    ],
)
def test_a_hand_edit_is_named(duban: Duban, tmp_path: Path, edit: str, expected: str) -> None:
    campaign(duban, tmp_path)
    assert verify(duban)[0] == 0
    execute(duban, edit)
    code, text = verify(duban)
    assert code == 1
    assert expected in text
    assert "Traceback" not in text


def test_a_row_inserted_by_hand_is_outside_every_entry(duban: Duban, tmp_path: Path) -> None:
    campaign(duban, tmp_path)
    execute(
        duban,
        "INSERT INTO change_log (at, actor, entity, key, action, detail) "
        "VALUES ('2024-07-20 00:00:00', 'mallory', 'person', 'P1', 'update', '{}')",
    )
    duban("evaluate", "--through", "2024-07-28")  # later work seals its own rows, not the stray one
    code, text = verify(duban)
    assert code == 1
    assert "change_log" in text and "不在任何审计记录中" in text


def test_a_rewritten_chain_does_not_match_the_archive(duban: Duban, tmp_path: Path) -> None:
    campaign(duban, tmp_path)
    archive = tmp_path / "chain.jsonl"
    duban("audit", "export", archive)
    lines = [json.loads(line) for line in archive.read_text(encoding="utf-8").splitlines()]
    assert lines[0]["prev_hash"] == "0" * 64
    assert all(b["prev_hash"] == a["hash"] for a, b in itertools.pairwise(lines))
    duban("evaluate", "--through", "2024-07-28")
    assert duban("audit", "verify", "--against", archive).code == 0  # the archive is a prefix
    # Someone with database access edits a strike and rebuilds the whole chain consistently, as duban
    # itself would: the database alone then verifies, and only the archive can show the rewrite.
    execute(duban, "UPDATE strike_event SET text = '改过' WHERE id = (SELECT min(id) FROM strike_event)")
    execute(duban, "DELETE FROM audit_entry")
    duban("init")  # reseals every row from scratch (the path for databases older than the chain)
    assert duban("audit", "verify").code == 0
    result = duban("audit", "verify", "--against", archive, ok=False)
    assert result.code == 1
    assert "与归档不一致" in result.err


def test_upgrading_an_existing_database_adopts_its_rows(duban: Duban, tmp_path: Path) -> None:
    campaign(duban, tmp_path)
    execute(duban, "DELETE FROM audit_entry")
    assert verify(duban)[0] == 1  # rows without entries
    duban("init")  # the upgrade path seals what was recorded before the chain existed
    assert verify(duban)[0] == 0
