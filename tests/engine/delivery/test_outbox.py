"""Delivery through real servers on loopback: file drop, SMTP (aiosmtpd), a webhook that fails first."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from email import message_from_bytes
from email.header import decode_header, make_header
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
from aiosmtpd.controller import Controller

from tests.conftest import Duban, node, person, project, write_ledger


def _campaign(duban: Duban, tmp_path: Path) -> None:
    duban.today("2024-07-10")
    duban(
        "import",
        "ledger",
        write_ledger(
            tmp_path / "l",
            [person("P1", "张三"), person("P2", "李四")],
            [project("A", "P1"), project("B", "P2")],
            [node("A", "N1", "2024-07-01"), node("B", "N1", "2024-07-02")],
        ),
    )
    duban("evaluate", "--through", "2024-07-05")


def _config(duban: Duban, tmp_path: Path, text: str) -> None:
    config = tmp_path / "duban.toml"
    config.write_text(f"[duban]\n{text}", encoding="utf-8")
    duban._monkeypatch.setenv("DUBAN_CONFIG", str(config))


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        self.messages.append(envelope.content)  # type: ignore[attr-defined]
        return "250 OK"


@pytest.fixture
def smtp_server() -> Iterator[tuple[_Inbox, int]]:
    import socket

    with socket.socket() as probe:  # a free port on loopback
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = _Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


class _Robot(BaseHTTPRequestHandler):
    fail_first = 0
    seen: ClassVar[list[dict[str, object]]] = []
    lock = threading.Lock()

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with self.lock:
            type(self).seen.append({"key": self.headers.get("Idempotency-Key"), "body": body})
            failing = len(type(self).seen) <= type(self).fail_first
        time.sleep(0.05)
        self.send_response(500 if failing else 200)
        self.end_headers()
        self.wfile.write(b"{}" if failing else b'{"errcode": 0, "errmsg": "ok"}')

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def robot() -> Iterator[tuple[type[_Robot], str]]:
    handler = type("Robot", (_Robot,), {"seen": [], "fail_first": 0})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield handler, f"http://127.0.0.1:{server.server_address[1]}/robot"
    finally:
        server.shutdown()
        server.server_close()


def test_file_drop_is_the_default_and_sends_each_notice_once(duban: Duban, tmp_path: Path) -> None:
    _config(duban, tmp_path, f'[duban.delivery.file]\ndir = "{tmp_path / "drop"}"\n')
    _campaign(duban, tmp_path)
    duban("notices", "render", "--out", tmp_path / "out")
    queued = duban.json("outbox")
    assert len(queued) == 2 and {r["status"] for r in queued} == {"queued"}
    assert "成功 2 条" in duban("deliver").out
    assert "成功 0 条" in duban("deliver").out
    drops = sorted((tmp_path / "drop").iterdir())
    assert [p.suffix for p in drops] == [".docx", ".txt", ".docx", ".txt"]
    assert "张三" in drops[1].read_text(encoding="utf-8")
    assert {r["status"] for r in duban.json("outbox")} == {"sent"}


def test_smtp_delivers_chinese_subject_and_docx_attachment(
    duban: Duban, tmp_path: Path, smtp_server: tuple[_Inbox, int]
) -> None:
    inbox, port = smtp_server
    _config(
        duban,
        tmp_path,
        f'[duban.delivery]\nperson = ["smtp"]\n[duban.delivery.smtp]\nhost = "127.0.0.1"\n'
        f'port = {port}\nsender = "duban@lljs.example.cn"\n',
    )
    _campaign(duban, tmp_path)
    duban("notices", "render", "--out", tmp_path / "out")
    duban("deliver")
    duban("deliver")
    assert len(inbox.messages) == 2
    mail = message_from_bytes(inbox.messages[0])
    assert str(make_header(decode_header(mail["Subject"]))) == "关于张三同志未按期完成计划节点作出检查的通知"
    assert mail["To"] == "p1@example.cn" and "notice.1.smtp" in mail["Message-ID"]
    attachments = [part.get_filename() for part in mail.walk() if part.get_filename()]
    assert attachments == ["00001-review_notice-P1.docx"]


def test_webhook_that_fails_first_is_retried_and_nothing_is_lost(
    duban: Duban, tmp_path: Path, robot: tuple[type[_Robot], str]
) -> None:
    handler, url = robot
    handler.fail_first = 3
    _config(duban, tmp_path, f'[duban.delivery]\nperson = ["webhook"]\n[duban.delivery.webhook]\nurl = "{url}"\n')
    _campaign(duban, tmp_path)
    duban("notices", "render", "--out", tmp_path / "out")
    assert "失败 2 条" in duban("deliver").out
    assert "成功 0 条，失败 0 条" in duban("deliver").out  # backoff: nothing is due again yet
    assert len(handler.seen) == 2
    rows = duban.json("outbox")
    assert {r["status"] for r in rows} == {"failed"} and all("500" in r["last_error"] for r in rows)
    assert "成功 1 条，失败 1 条" in duban("outbox", "retry").out
    assert "成功 1 条" in duban("outbox", "retry").out
    assert {r["status"] for r in duban.json("outbox")} == {"sent"}
    delivered = [s for s in handler.seen[3:]]
    assert sorted(s["key"] for s in delivered) == ["notice:1:webhook", "notice:2:webhook"]
    assert "张三" in json.dumps(delivered, ensure_ascii=False)


def test_a_channel_that_is_down_keeps_the_message(duban: Duban, tmp_path: Path) -> None:
    _config(
        duban,
        tmp_path,
        '[duban.delivery]\nperson = ["webhook"]\n[duban.delivery.webhook]\n'
        'url = "http://127.0.0.1:9/robot"\ntimeout_s = 2\n',
    )
    _campaign(duban, tmp_path)
    duban("notices", "render", "--out", tmp_path / "out")
    duban("deliver")
    rows = duban.json("outbox")
    assert len(rows) == 2 and {r["status"] for r in rows} == {"failed"} and all(r["attempts"] == 1 for r in rows)


def test_two_senders_at_once_send_each_message_once(
    duban: Duban, tmp_path: Path, robot: tuple[type[_Robot], str]
) -> None:
    handler, url = robot
    _config(duban, tmp_path, f'[duban.delivery]\nperson = ["webhook"]\n[duban.delivery.webhook]\nurl = "{url}"\n')
    _campaign(duban, tmp_path)
    duban("evaluate", "--through", "2024-07-10")
    duban("notices", "render", "--out", tmp_path / "out")
    env = {**os.environ, "DUBAN_DATABASE_URL": duban.url}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", "from engine.app.launch import main; main()", "deliver"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], outputs
    keys = [s["key"] for s in handler.seen]
    assert len(keys) == len(set(keys)) == len(duban.json("outbox"))


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_db_copy_moves_everything_to_postgresql(duban: Duban, tmp_path: Path) -> None:
    from tests.conftest import _postgres_url

    base = _postgres_url()
    if not base:
        pytest.skip("db copy to PostgreSQL needs DUBAN_TEST_POSTGRES_URL")
    import uuid

    import sqlalchemy as sa

    _campaign(duban, tmp_path)
    duban("strike", "exempt", "1", "--reason", "不可抗力")
    schema = f"copy_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(base)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    target = f"{base}?options=-csearch_path%3D{schema}"
    try:
        result = duban("db", "copy", "--to", target)
        assert "已复制" in result.out
        source_view = (duban.json("strikes"), duban.json("persons"), duban.json("nodes"))
        copied = (
            duban.json("--db", target, "strikes"),
            duban.json("--db", target, "persons"),
            duban.json("--db", target, "nodes"),
        )
        assert copied == source_view
        # The audit chain sealed on SQLite verifies on PostgreSQL: digests do not depend on the backend.
        sealed = duban.json("audit", "verify")
        assert duban.json("--db", target, "audit", "verify") == sealed
        duban("--db", target, "evaluate", "--through", "2024-07-10")  # and it goes on working there
        assert duban.json("--db", target, "audit", "verify")["entries"] > sealed["entries"]
        assert duban("db", "copy", "--to", target, ok=False).code == 1  # never into a database with data
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
