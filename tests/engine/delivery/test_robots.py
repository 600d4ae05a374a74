"""Group robots as they behave: DingTalk's 加签, errcode answers, 20 a minute, a 10-minute block.

The fake robots run on loopback and keep time by the app's clock (``DUBAN_NOW``), so a test moves
both by setting it; they count what they accept by the Idempotency-Key header.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import quote_plus, urlsplit
from zoneinfo import ZoneInfo

import pytest

from engine import clock
from tests.conftest import Duban, node, person, project, write_ledger
from tests.engine.delivery.test_outbox import _campaign, _config

SHANGHAI = ZoneInfo("Asia/Shanghai")
START = dt.datetime(2024, 7, 10, 9, 0, tzinfo=SHANGHAI)
LIMITS = {"dingtalk": (130101, "send too fast, exceed 20 times per minute"), "wecom": (45009, "api freq out of limit")}


class _Robot(BaseHTTPRequestHandler):
    """A WeCom or DingTalk group robot: HTTP 200 with an errcode, 20 messages a minute, then 10 minutes' block."""

    kind: ClassVar[str] = "dingtalk"
    secret: ClassVar[str | None] = None
    per_minute: ClassVar[int] = 20
    block_minutes: ClassVar[int] = 10
    http_429: ClassVar[bool] = False  # answer the limit with HTTP 429 instead of an errcode
    refuse_all: ClassVar[tuple[int, str] | None] = None  # answer every message with this errcode
    accepted: ClassVar[list[dict[str, Any]]]
    refused: ClassVar[list[dict[str, Any]]]
    blocked_until: ClassVar[dt.datetime | None] = None
    lock: ClassVar[threading.Lock]

    def do_POST(self) -> None:
        now = clock.now(SHANGHAI)  # the app's clock, moved by the test
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        key = self.headers.get("Idempotency-Key")
        cls = type(self)
        with cls.lock:
            errcode, errmsg = self._verdict(now, body)
            if errcode == 0:
                cls.accepted.append({"key": key, "body": body, "at": now, "query": urlsplit(self.path).query})
            else:
                cls.refused.append({"key": key, "errcode": errcode, "at": now})
        if errcode == 429:
            self.send_response(429)
            self.end_headers()
            return
        self.send_response(200)  # the robots answer 200 whatever happened
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(json.dumps({"errcode": errcode, "errmsg": errmsg}).encode())

    def _verdict(self, now: dt.datetime, body: dict[str, Any]) -> tuple[int, str]:
        cls = type(self)
        if cls.refuse_all is not None:
            return cls.refuse_all
        if cls.secret is not None and not self._signed():
            return 310000, "sign not match"
        markdown = body.get("markdown", {})
        if body.get("msgtype") != "markdown" or (
            {"title", "text"} - set(markdown) if cls.kind == "dingtalk" else "content" not in markdown
        ):
            return 40035, "invalid parameter"
        if cls.kind == "wecom" and len(markdown["content"].encode()) > 4096:
            return 40058, "markdown.content exceed max length 4096"
        limited = (429, "") if cls.http_429 else LIMITS[cls.kind]
        if cls.blocked_until is not None and now < cls.blocked_until:
            return limited
        recent = [a for a in cls.accepted if a["at"] > now - dt.timedelta(seconds=60)]
        if len(recent) >= cls.per_minute:
            cls.blocked_until = now + dt.timedelta(minutes=cls.block_minutes)
            return limited
        return 0, "ok"

    def _signed(self) -> bool:
        # As DingTalk checks 加签: its own copy of the secret, the timestamp given, at most an hour off,
        # the signature url-encoded base64.
        assert self.secret is not None
        raw = dict(part.partition("=")[::2] for part in urlsplit(self.path).query.split("&"))
        timestamp, sign = raw.get("timestamp", ""), raw.get("sign", "")
        if not timestamp.isdigit() or abs(int(timestamp) - time.time() * 1000) > 3600 * 1000:
            return False
        expected = hmac.new(self.secret.encode(), f"{timestamp}\n{self.secret}".encode(), hashlib.sha256).digest()
        return hmac.compare_digest(sign, quote_plus(base64.b64encode(expected).decode()))

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def serving_robot(**attributes: object) -> Iterator[tuple[type[_Robot], str]]:
    """Run a fake robot on loopback; yield its class (what it accepted and refused) and its URL."""
    handler = type("Robot", (_Robot,), {"accepted": [], "refused": [], "lock": threading.Lock(), **attributes})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield handler, f"http://127.0.0.1:{server.server_address[1]}/robot/send?access_token=abc"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def robot() -> Iterator[tuple[type[_Robot], str]]:
    with serving_robot() as served:
        yield served


def _at(duban: Duban, when: dt.datetime) -> None:
    duban._monkeypatch.setenv("DUBAN_NOW", when.isoformat())


def _webhook(
    duban: Duban,
    tmp_path: Path,
    url: str,
    channels: tuple[str, ...] = ("webhook",),
    max_attempts: int = 6,
    **settings: object,
) -> None:
    lines = "".join(f"{k} = {json.dumps(v)}\n" for k, v in settings.items())
    _config(
        duban,
        tmp_path,
        f"[duban.delivery]\nperson = {json.dumps(list(channels))}\nmax_attempts = {max_attempts}\n"
        f'[duban.delivery.file]\ndir = "{tmp_path / "drop"}"\n'
        f'[duban.delivery.webhook]\nurl = "{url}"\n{lines}',
    )


def _notices(duban: Duban, tmp_path: Path, count: int) -> None:
    """Render one review notice for each of ``count`` persons at START, queued on each person channel."""
    _at(duban, START)
    duban.today("2024-07-10")
    ids = [f"P{i:02}" for i in range(1, count + 1)]
    # PZ's node is missed later: their review notice is queued while the robot is blocked. (A second
    # miss of P01 would make a suspension decision, a draft until the meeting, and drafts are not sent.)
    duban(
        "import",
        "ledger",
        write_ledger(
            tmp_path / "l",
            [person(p) for p in [*ids, "PZ"]],
            [project(f"A{p}", p) for p in [*ids, "PZ"]],
            [node(f"A{p}", "N1", "2024-07-01") for p in ids] + [node("APZ", "N1", "2024-07-06")],
        ),
    )
    duban("evaluate", "--through", "2024-07-05")
    duban("notices", "render", "--out", tmp_path / "out")
    assert len({r["key"].split(":")[1] for r in duban.json("outbox")}) == count


def _statuses(duban: Duban) -> list[str]:
    return [r["status"] for r in duban.json("outbox")]


# Signing and answers


def test_dingtalk_robot_sends_a_correctly_signed_markdown_message(
    duban: Duban, tmp_path: Path, robot: tuple[type[_Robot], str]
) -> None:
    handler, url = robot
    handler.secret = "SECright"
    _webhook(duban, tmp_path, url, kind="dingtalk", secret="SECright")
    _at(duban, START)
    _campaign(duban, tmp_path)
    duban("notices", "render", "--out", tmp_path / "out")
    assert "成功 2 条，失败 0 条" in duban("deliver").out
    assert handler.refused == [] and len(handler.accepted) == 2
    first = handler.accepted[0]
    assert first["query"].startswith("access_token=abc&timestamp=")
    assert first["body"]["msgtype"] == "markdown"
    assert first["body"]["markdown"]["title"] == "关于张三同志未按期完成计划节点作出检查的通知"
    assert "张三" in first["body"]["markdown"]["text"]
    assert _statuses(duban) == ["sent", "sent"]


def test_dingtalk_robot_does_not_send_with_a_wrong_secret_and_retries_later(
    duban: Duban, tmp_path: Path, robot: tuple[type[_Robot], str]
) -> None:
    handler, url = robot
    handler.secret = "SECright"
    _webhook(duban, tmp_path, url, kind="dingtalk", secret="SECwrong")
    _at(duban, START)
    _campaign(duban, tmp_path)
    duban("notices", "render", "--out", tmp_path / "out")
    assert "成功 0 条，失败 2 条" in duban("deliver").out
    assert handler.accepted == [] and [r["errcode"] for r in handler.refused] == [310000, 310000]
    rows = duban.json("outbox")
    assert [(r["status"], r["attempts"]) for r in rows] == [("failed", 1), ("failed", 1)]
    assert (
        rows[0]["last_error"]
        == "钉钉机器人拒收：签名、关键词或 IP 不符，请核对 secret 与机器人的安全设置（errcode 310000：sign not match）"
    )
    _webhook(duban, tmp_path, url, kind="dingtalk", secret="SECright")  # the office fixes the secret
    _at(duban, START + dt.timedelta(seconds=59))
    assert "成功 0 条，失败 0 条" in duban("deliver").out  # the first backoff is a minute
    _at(duban, START + dt.timedelta(seconds=60))
    assert "成功 2 条，失败 0 条" in duban("deliver").out
    assert sorted(a["key"] for a in handler.accepted) == ["notice:1:webhook", "notice:2:webhook"]
    assert [(r["status"], r["attempts"], r["last_error"]) for r in duban.json("outbox")] == [("sent", 2, None)] * 2


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        (
            (93000, "invalid webhook url, hint: [1718000000_1_abcdef]"),
            "企业微信机器人拒收：机器人地址无效，请核对 url 中的 key（errcode 93000：",
        ),
        ((40035, "invalid parameter"), "机器人拒收（errcode 40035：invalid parameter）"),
    ],
)
def test_a_robot_answer_of_200_with_an_errcode_does_not_send(
    duban: Duban, tmp_path: Path, robot: tuple[type[_Robot], str], answer: tuple[int, str], said: str
) -> None:
    handler, url = robot
    handler.kind, handler.refuse_all = "wecom", answer
    _webhook(duban, tmp_path, url)  # a loopback URL: guessed to be WeCom
    _at(duban, START)
    _campaign(duban, tmp_path)
    duban("notices", "render", "--out", tmp_path / "out")
    assert "成功 0 条，失败 2 条" in duban("deliver").out
    rows = duban.json("outbox")
    assert [(r["status"], r["attempts"]) for r in rows] == [("failed", 1), ("failed", 1)]
    assert all(r["last_error"].startswith(said) for r in rows), rows
    assert len(handler.refused) == 2


def test_an_answer_without_errcode_does_not_send(duban: Duban, tmp_path: Path) -> None:
    class NotARobot(BaseHTTPRequestHandler):  # a proxy's page: 200, but no robot said anything
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.end_headers()
            self.wfile.write("<html>请登录</html>".encode())

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), NotARobot)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        _webhook(duban, tmp_path, f"http://127.0.0.1:{server.server_address[1]}/send")
        _campaign(duban, tmp_path)
        duban("notices", "render", "--out", tmp_path / "out")
        assert "成功 0 条，失败 2 条" in duban("deliver").out
    finally:
        server.shutdown()
        server.server_close()
    assert all(r["status"] == "failed" and "没有 errcode" in r["last_error"] for r in duban.json("outbox"))


# Pacing: 20 a minute, from the outbox rows, across processes


def test_a_paced_robot_sends_20_messages_a_minute_and_not_the_21st(
    duban: Duban, tmp_path: Path, robot: tuple[type[_Robot], str]
) -> None:
    handler, url = robot
    _webhook(duban, tmp_path, url, kind="dingtalk")
    _notices(duban, tmp_path, 45)
    assert "成功 20 条，失败 0 条，暂缓 25 条" in duban("deliver").out
    assert len(handler.accepted) == 20 and handler.refused == []
    rows = duban.json("outbox")
    assert _statuses(duban) == ["sent"] * 20 + ["queued"] * 25  # the 20th went, the 21st was not tried
    assert {r["attempts"] for r in rows[20:]} == {0} and {r["last_error"] for r in rows[20:]} == {None}
    assert {r["next_attempt_at"] for r in rows[20:]} == {"2024-07-10T09:01:00+08:00"}
    _at(duban, START + dt.timedelta(seconds=59))
    assert duban("deliver").out == "发送：成功 0 条，失败 0 条\n"  # none is due before 09:01:00
    assert len(handler.accepted) == 20 and handler.refused == []  # nothing reached the robot
    _at(duban, START + dt.timedelta(seconds=60))
    assert "成功 20 条，失败 0 条，暂缓 5 条" in duban("deliver").out
    _at(duban, START + dt.timedelta(seconds=120))
    assert "成功 5 条，失败 0 条" in duban("deliver").out
    keys = [a["key"] for a in handler.accepted]
    assert handler.refused == [] and len(keys) == len(set(keys)) == 45
    assert {(r["status"], r["attempts"]) for r in duban.json("outbox")} == {("sent", 1)}


def test_a_paced_robot_does_not_send_more_when_two_processes_deliver_at_once(
    duban: Duban, tmp_path: Path, robot: tuple[type[_Robot], str]
) -> None:
    handler, url = robot
    handler.kind = "wecom"
    _webhook(duban, tmp_path, url)  # a loopback URL: guessed to be WeCom
    _notices(duban, tmp_path, 45)
    env = {**os.environ, "DUBAN_DATABASE_URL": duban.url}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", "from engine.app.launch import main; main()", "deliver"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    assert len(handler.accepted) == 20 and handler.refused == []
    assert sorted(_statuses(duban)) == ["queued"] * 25 + ["sent"] * 20
    _at(duban, START + dt.timedelta(seconds=30))  # a third call, later in the same minute
    assert "成功 0 条" in duban("deliver").out and len(handler.accepted) == 20
    _at(duban, START + dt.timedelta(seconds=60))
    assert "成功 20 条" in duban("deliver").out
    keys = [a["key"] for a in handler.accepted]
    assert handler.refused == [] and len(keys) == len(set(keys)) == 40


# Blocks: retried after the block, never lost, attempts not burnt


@pytest.mark.parametrize(
    ("kind", "http_429", "reason"),
    [
        ("dingtalk", False, "机器人限流（errcode 130101），10 分钟后重试"),
        ("wecom", False, "机器人限流（errcode 45009），10 分钟后重试"),
        ("wecom", True, "机器人限流（HTTP 429），10 分钟后重试"),
    ],
)
def test_a_blocked_robot_loses_nothing_and_burns_no_attempts(
    duban: Duban, tmp_path: Path, robot: tuple[type[_Robot], str], kind: str, http_429: bool, reason: str
) -> None:
    handler, url = robot
    handler.kind, handler.http_429 = kind, http_429
    # The robot takes 20 a minute but duban was told 30 (or another system shares the robot); with
    # one attempt allowed, a block counted as an attempt would leave the message failed for good.
    _webhook(duban, tmp_path, url, kind=kind, per_minute=30, max_attempts=1)
    _notices(duban, tmp_path, 45)
    assert "成功 20 条，失败 0 条，暂缓 25 条" in duban("deliver").out
    assert len(handler.accepted) == 20 and len(handler.refused) == 1  # the 21st, then nothing more
    rows = duban.json("outbox")
    assert _statuses(duban) == ["sent"] * 20 + ["queued"] * 25
    assert rows[20]["last_error"] == reason and {r["attempts"] for r in rows[20:]} == {0}
    assert {r["next_attempt_at"] for r in rows[20:]} == {"2024-07-10T09:10:00+08:00"}
    assert {r["blocked"] for r in rows[20:]} == {reason} and {r["blocked"] for r in rows[:20]} == {None}
    duban._monkeypatch.setenv("COLUMNS", "400")  # one line per message
    table = duban("outbox").out.splitlines()
    assert [line for line in table if reason in line and "待发送" in line and "09:10:00（渠道限流中）" in line]
    assert len([line for line in table if "09:10:00（渠道限流中）" in line]) == 25
    # A notice queued during the block is due at once, and another process holds it back too: the
    # block is in the database, not in the memory of the process that met it.
    _at(duban, START + dt.timedelta(minutes=5))
    duban("evaluate", "--through", "2024-07-08")
    duban("notices", "render", "--out", tmp_path / "out")
    assert len(duban.json("outbox")) == 46
    env = {**os.environ, "DUBAN_DATABASE_URL": duban.url}
    other = subprocess.run(
        [sys.executable, "-c", "from engine.app.launch import main; main()", "deliver"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (
        other.returncode == 0
        and other.stdout == "发送：成功 0 条，失败 0 条，暂缓 1 条（渠道限速或机器人限流，到时再发）\n"
    ), other
    assert duban.json("outbox")[45]["next_attempt_at"] == "2024-07-10T09:10:00+08:00"
    _at(duban, START + dt.timedelta(minutes=9, seconds=59))
    assert "成功 0 条，失败 0 条" in duban("deliver").out
    assert len(handler.accepted) == 20 and len(handler.refused) == 1  # nothing reached the robot while blocked
    _at(duban, START + dt.timedelta(minutes=10))
    assert "成功 20 条，失败 0 条，暂缓 6 条" in duban("deliver").out  # and the robot blocks again at its 21st
    assert len(handler.refused) == 2
    _at(duban, START + dt.timedelta(minutes=20))
    assert "成功 6 条，失败 0 条" in duban("deliver").out
    keys = [a["key"] for a in handler.accepted]
    assert len(keys) == len(set(keys)) == 46
    final = duban.json("outbox")
    assert {(r["status"], r["attempts"], r["last_error"], r["blocked"]) for r in final} == {("sent", 1, None, None)}


def test_a_blocked_robot_does_not_hold_back_the_other_channels(
    duban: Duban, tmp_path: Path, robot: tuple[type[_Robot], str]
) -> None:
    handler, url = robot
    handler.per_minute = 1
    _webhook(duban, tmp_path, url, channels=("webhook", "file"), kind="dingtalk", per_minute=5)
    _notices(duban, tmp_path, 3)  # six messages: three to the robot, three to the file drop
    assert "成功 4 条，失败 0 条，暂缓 2 条" in duban("deliver").out
    rows = {r["key"]: r for r in duban.json("outbox")}
    assert {k: r["status"] for k, r in rows.items()} == {
        "notice:1:webhook": "sent",
        "notice:2:webhook": "queued",
        "notice:3:webhook": "queued",
        "notice:1:file": "sent",
        "notice:2:file": "sent",
        "notice:3:file": "sent",
    }
    assert rows["notice:2:webhook"]["blocked"] == "机器人限流（errcode 130101），10 分钟后重试"
    assert rows["notice:2:file"]["blocked"] is None
