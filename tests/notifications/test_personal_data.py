"""Personal data: phone numbers and e-mail addresses never reach bulletins, agendas or reports; logs carry ids."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.conftest import Duban, node, project, write_ledger

SQLITE = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
PHONES = ("13912345678", "13887654321")
EMAILS = ("zhang.wei@example.cn", "li.na@example.cn")
NAMES = ("张伟", "李娜")


def _load(duban: Duban, tmp_path: Path) -> None:
    persons = [["P1", NAMES[0], "市住建局", PHONES[0], EMAILS[0]], ["P2", NAMES[1], "区住建局", PHONES[1], EMAILS[1]]]
    folder = write_ledger(
        tmp_path / "ledger",
        persons,
        [project("A", "P1"), project("B", "P2")],
        [
            node("A", "N1", "2024-07-01"),
            node("A", "N2", "2024-07-08"),
            node("A", "N3", "2024-07-15"),
            node("B", "N1", "2024-07-03"),
            node("B", "N2", "2024-07-30"),
        ],
    )
    duban("import", "ledger", folder, "--as-of", "2024-06-01")
    duban("evaluate", "--from", "2024-06-30", "--through", "2024-07-20")


@SQLITE
def test_no_phone_or_email_in_office_documents(duban: Duban, tmp_path: Path) -> None:
    _load(duban, tmp_path)
    texts = []
    for fmt in ("md", "html"):
        texts.append(duban("agenda", "--meeting", "2024-07-22", "--format", fmt).out)
        texts.append(duban("report", "daily", "--date", "2024-07-20", "--format", fmt).out)
        texts.append(duban("report", "weekly", "--week-of", "2024-07-15", "--format", fmt).out)
    duban("notices", "render", "--out", tmp_path / "out", "--format", "md", "--format", "html")
    texts += [p.read_text(encoding="utf-8") for p in (tmp_path / "out" / "notices").iterdir()]
    assert any(NAMES[0] in text for text in texts)  # the documents do name the person...
    for text in texts:
        for secret in (*PHONES, *EMAILS):
            assert secret not in text  # ...but never how to reach them


@SQLITE
def test_scheduler_logs_carry_ids_not_names(duban: Duban, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    _load(duban, tmp_path)
    duban.today("2024-07-22")
    with caplog.at_level(logging.INFO, logger="duban"):
        duban("schedule", "--once")
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert '"event": "job"' in logged
    for secret in (*NAMES, *PHONES, *EMAILS):
        assert secret not in logged
