"""WeCom application messages and DingTalk work notifications, against fake servers that behave as documented.

The fakes run on loopback: they issue access tokens (``gettoken``, 7200 s), refuse an unknown or
expired token (WeCom 40014/42001/41001, DingTalk 40014/42001/88), answer "too often" when told to
(45009/45033, 90018/90006), and list an unknown WeCom user as ``invaliduser``. They count what
they accept and every token they issue, so a test sees one token serve several messages.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

import pytest

from config.delivery import DingtalkAppSettings, WecomAppSettings
from notifications.apps import CUT, DINGTALK_TEXT_BYTES, TOKENS, WECOM_TEXT_BYTES, DingtalkApp, WecomApp, text_of
from notifications.delivery import ChannelBlocked, DeliveryError, Message
from tests.conftest import PERSON_HEADER, Duban, node, person, project, write_ledger
from tests.engine.delivery.test_outbox import _config
from tests.engine.delivery.test_robots import START, _at

CORP, SECRET, AGENT = "ww0123456789abcdef", "wecom-secret-do-not-print", 1000002
APP_KEY, APP_SECRET, DING_AGENT = "dingabcdef0123", "dingtalk-secret-do-not-print", 2860000001


class _Service(BaseHTTPRequestHandler):
    """A WeCom or DingTalk open API: gettoken, then messages sent with the token."""

    kind: ClassVar[str] = "wecom"
    users: ClassVar[set[str]] = set()  # the corp's directory (WeCom checks it; DingTalk sends asynchronously)
    lifetime: ClassVar[int] = 7200
    expire_tokens: ClassVar[int] = 0  # the next N sends find every token issued so far expired
    refuse_every_token: ClassVar[int | None] = None  # answer every send with this token errcode
    limited: ClassVar[tuple[int, str] | None] = None  # answer every send with this limit
    partial_invalid: ClassVar[bool] = False  # an unknown WeCom user: errcode 0 with invaliduser (else 81013)
    no_task: ClassVar[bool] = False  # DingTalk answers errcode 0 without a task_id
    issued: ClassVar[list[str]]
    valid: ClassVar[set[str]]
    accepted: ClassVar[list[dict[str, Any]]]
    refused: ClassVar[list[tuple[int, str]]]
    lock: ClassVar[threading.Lock]

    def _answer(self, body: dict[str, Any]) -> None:
        self.send_response(200)  # both answer 200 whatever happened
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(json.dumps(body, ensure_ascii=False).encode())

    def do_GET(self) -> None:
        cls, url = type(self), urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if cls.kind == "wecom":
            if url.path != "/cgi-bin/gettoken":
                return self._answer({"errcode": 404, "errmsg": "no such api"})
            if query.get("corpid") != CORP:
                return self._answer({"errcode": 40013, "errmsg": "invalid corpid"})
            if query.get("corpsecret") != SECRET:
                return self._answer({"errcode": 40001, "errmsg": "invalid credential"})
        else:
            if url.path != "/gettoken":
                return self._answer({"errcode": 404, "errmsg": "no such api"})
            if query.get("appkey") != APP_KEY or query.get("appsecret") != APP_SECRET:
                return self._answer({"errcode": 40089, "errmsg": "不合法的corpid或corpsecret"})
        with cls.lock:
            token = f"{cls.kind}-token-{len(cls.issued) + 1}"
            cls.issued.append(token)
            cls.valid.add(token)
        self._answer({"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": cls.lifetime})

    def do_POST(self) -> None:
        cls, url = type(self), urlsplit(self.path)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        token = parse_qs(url.query).get("access_token", [""])[0]
        with cls.lock:
            code, answer = self._verdict(url.path, token, body)
            if code == 0:
                cls.accepted.append({"token": token, "body": body})
            else:
                cls.refused.append((code, token))
        self._answer({"errcode": code, **answer})

    def _verdict(self, path: str, token: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        cls = type(self)
        wecom = cls.kind == "wecom"
        if path != ("/cgi-bin/message/send" if wecom else "/topapi/message/corpconversation/asyncsend_v2"):
            return 404, {"errmsg": "no such api"}
        if not token:
            return (41001 if wecom else 40014), {"errmsg": "access_token missing"}
        if cls.expire_tokens:
            cls.expire_tokens -= 1
            cls.valid.clear()  # expired on the server's side, before the lifetime it gave
            return 42001, {"errmsg": "access_token expired"}
        if cls.refuse_every_token is not None:
            return cls.refuse_every_token, {"errmsg": "invalid access_token"}
        if token not in cls.valid:
            return 40014, {"errmsg": "invalid access_token"}
        if cls.limited is not None:
            return cls.limited[0], {"errmsg": cls.limited[1]}
        if wecom:
            if body.get("agentid") != AGENT or body.get("msgtype") != "text" or "content" not in body.get("text", {}):
                return 40008, {"errmsg": "invalid message type"}
            if body["touser"] not in cls.users:
                if cls.partial_invalid:
                    return 0, {"errmsg": "ok", "invaliduser": body["touser"].lower()}
                return 81013, {"errmsg": "user & party & tag all invalid", "invaliduser": body["touser"].lower()}
            return 0, {"errmsg": "ok", "invaliduser": "", "msgid": f"msg{len(cls.accepted) + 1}"}
        msg = body.get("msg", {})
        if body.get("agent_id") != DING_AGENT or msg.get("msgtype") != "text" or "content" not in msg.get("text", {}):
            return 400002, {"errmsg": "参数错误"}
        if cls.no_task:
            return 0, {"errmsg": "ok", "request_id": "4jzllmte0wau"}
        return 0, {"errmsg": "ok", "task_id": 256271667526 + len(cls.accepted), "request_id": "4jzllmte0wau"}

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def serving(kind: str, users: set[str] | None = None) -> Iterator[tuple[type[_Service], str]]:
    """Run a fake WeCom or DingTalk API on loopback; yield its class (what it did) and its base URL."""
    handler = type(
        "Service",
        (_Service,),
        {
            "kind": kind,
            "users": users or set(),
            "issued": [],
            "valid": set(),
            "accepted": [],
            "refused": [],
            "lock": threading.Lock(),
        },
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield handler, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(autouse=True)
def _no_tokens() -> Iterator[None]:
    TOKENS.clear()  # the cache is per process: each test starts without tokens
    yield
    TOKENS.clear()


@pytest.fixture
def wecom() -> Iterator[tuple[type[_Service], str]]:
    with serving("wecom", {"zhangsan", "lisi"}) as served:
        yield served


@pytest.fixture
def dingtalk() -> Iterator[tuple[type[_Service], str]]:
    with serving("dingtalk") as served:
        yield served


def _settings(duban: Duban, tmp_path: Path, channel: str, base: str, **more: object) -> None:
    if channel == "wecom_app":
        table = {"corp_id": CORP, "agent_id": AGENT, "secret": SECRET, "base_url": base}
    else:
        table = {"app_key": APP_KEY, "app_secret": APP_SECRET, "agent_id": DING_AGENT, "base_url": base}
    table.update(more)  # type: ignore[arg-type]
    lines = "".join(f"{k} = {json.dumps(v)}\n" for k, v in table.items())
    _config(duban, tmp_path, f'[duban.delivery]\nperson = ["{channel}"]\n[duban.delivery.{channel}]\n{lines}')


def _campaign(duban: Duban, tmp_path: Path, column: str, accounts: list[str | None]) -> None:
    """Import persons with an account column (as the 人员 sheet heads it), miss their nodes, render the notices."""
    _at(duban, START)
    duban.today("2024-07-10")
    ids = [f"P{i}" for i in range(1, len(accounts) + 1)]
    names = ["张三", "李四", "王五", "赵六"]
    duban(
        "import",
        "ledger",
        write_ledger(
            tmp_path / "l",
            [[*person(p, names[i]), accounts[i]] for i, p in enumerate(ids)],
            [project(f"A{p}", p) for p in ids],
            [node(f"A{p}", "N1", "2024-07-01") for p in ids],
            headers={"persons": [*PERSON_HEADER, column]},
        ),
    )
    duban("evaluate", "--through", "2024-07-05")
    duban("notices", "render", "--out", tmp_path / "out")


def _rows(duban: Duban) -> list[tuple[str, str, int, str | None]]:
    return [(r["recipient"], r["status"], r["attempts"], r["last_error"]) for r in duban.json("outbox")]


# End to end: ledger column → outbox → the fake server


def test_wecom_messages_go_to_the_persons_userid_with_one_token(
    duban: Duban, tmp_path: Path, wecom: tuple[type[_Service], str]
) -> None:
    service, base = wecom
    _settings(duban, tmp_path, "wecom_app", base)
    _campaign(duban, tmp_path, "企业微信账号", ["zhangsan", "lisi"])
    assert duban("deliver").out == "发送：成功 2 条，失败 0 条\n"
    assert service.issued == ["wecom-token-1"]  # one token for both messages
    assert [a["body"]["touser"] for a in service.accepted] == ["zhangsan", "lisi"]
    first = service.accepted[0]["body"]
    assert {k: v for k, v in first.items() if k != "text"} == {
        "touser": "zhangsan",
        "msgtype": "text",
        "agentid": AGENT,
        "safe": 0,
        "enable_duplicate_check": 1,
        "duplicate_check_interval": 1800,
    }
    content = first["text"]["content"]
    assert content.startswith("关于张三同志未按期完成计划节点作出检查的通知\n\n") and "张三" in content
    assert len(content.encode()) <= WECOM_TEXT_BYTES
    assert _rows(duban) == [("zhangsan", "sent", 1, None), ("lisi", "sent", 1, None)]
    assert "成功 0 条" in duban("deliver").out and len(service.accepted) == 2  # sent once


def test_dingtalk_work_notifications_go_to_the_persons_userid_with_one_token(
    duban: Duban, tmp_path: Path, dingtalk: tuple[type[_Service], str]
) -> None:
    service, base = dingtalk
    _settings(duban, tmp_path, "dingtalk_app", base)
    _campaign(duban, tmp_path, "钉钉UserID", ["0123456789", "manager4521"])  # an alias of 钉钉账号
    assert duban("deliver").out == "发送：成功 2 条，失败 0 条\n"
    assert service.issued == ["dingtalk-token-1"]
    bodies = [a["body"] for a in service.accepted]
    assert [b["userid_list"] for b in bodies] == ["0123456789", "manager4521"]  # the leading 0 kept: text
    assert bodies[0]["agent_id"] == DING_AGENT and bodies[0]["msg"]["msgtype"] == "text"
    assert bodies[0]["msg"]["text"]["content"].startswith("关于张三同志未按期完成计划节点作出检查的通知")
    assert [r[1] for r in _rows(duban)] == ["sent", "sent"]


def test_a_dingtalk_answer_without_a_task_is_a_failure_not_a_send(
    duban: Duban, tmp_path: Path, dingtalk: tuple[type[_Service], str]
) -> None:
    service, base = dingtalk
    service.no_task = True
    _settings(duban, tmp_path, "dingtalk_app", base)
    _campaign(duban, tmp_path, "钉钉账号", ["0123456789"])
    assert duban("deliver").out == "发送：成功 0 条，失败 1 条\n"
    [(recipient, status, attempts, error)] = _rows(duban)
    assert (recipient, status, attempts) == ("0123456789", "failed", 1)
    assert error is not None and "没有 task_id" in error


def test_the_token_is_fetched_once_across_runs_of_one_process(
    duban: Duban, tmp_path: Path, wecom: tuple[type[_Service], str]
) -> None:
    service, base = wecom
    _settings(duban, tmp_path, "wecom_app", base)
    _campaign(duban, tmp_path, "企业微信账号", ["zhangsan"])
    duban("deliver")
    _at(duban, START + dt.timedelta(minutes=5))
    duban(
        "import",
        "ledger",
        write_ledger(
            tmp_path / "l2",
            [[*person("P9", "王五"), "lisi"]],
            [project("AP9", "P9")],
            [node("AP9", "N1", "2024-07-08")],
            headers={"persons": [*PERSON_HEADER, "企业微信账号"]},
        ),
    )
    duban("evaluate", "--through", "2024-07-09")
    duban("notices", "render", "--out", tmp_path / "out")
    assert "成功 1 条" in duban("deliver").out  # a scheduler's later run: the token of the first one serves
    assert service.issued == ["wecom-token-1"] and len(service.accepted) == 2


# Tokens: refused as expired → fetched again once; refused again → a failure, not a loop


@pytest.mark.parametrize("kind", ["wecom", "dingtalk"])
def test_a_token_the_server_expired_early_is_fetched_again_and_the_message_sent(
    duban: Duban, tmp_path: Path, kind: str
) -> None:
    with serving(kind, {"zhangsan", "lisi"}) as (service, base):
        service.expire_tokens = 1
        _settings(duban, tmp_path, f"{kind}_app", base)
        _campaign(duban, tmp_path, "企业微信账号" if kind == "wecom" else "钉钉账号", ["zhangsan", "lisi"])
        assert duban("deliver").out == "发送：成功 2 条，失败 0 条\n"
    assert service.refused == [(42001, f"{kind}-token-1")]
    assert service.issued == [f"{kind}-token-1", f"{kind}-token-2"]  # one new token, then it serves both
    assert {a["token"] for a in service.accepted} == {f"{kind}-token-2"}
    assert [r[1:3] for r in _rows(duban)] == [("sent", 1), ("sent", 1)]  # one attempt each: the refresh is inside it


@pytest.mark.parametrize(("kind", "code"), [("wecom", 40014), ("wecom", 42001), ("dingtalk", 88)])
def test_a_token_refused_again_after_the_refresh_fails_the_message_without_a_loop(
    duban: Duban, tmp_path: Path, kind: str, code: int
) -> None:
    with serving(kind, {"zhangsan"}) as (service, base):
        service.refuse_every_token = code
        _settings(duban, tmp_path, f"{kind}_app", base)
        _campaign(duban, tmp_path, "企业微信账号" if kind == "wecom" else "钉钉账号", ["zhangsan"])
        assert duban("deliver").out == "发送：成功 0 条，失败 1 条\n"
    assert len(service.issued) == 2 and len(service.refused) == 2  # the first token, one refresh: no more
    ((_, status, attempts, error),) = _rows(duban)
    assert (status, attempts) == ("failed", 1)
    assert error is not None and "access_token 刷新后仍被拒绝" in error and f"errcode {code}" in error


# Limits: the channel waits, nothing lost, no attempt burnt


@pytest.mark.parametrize(
    ("kind", "limit"),
    [
        ("wecom", (45009, "api freq out of limit")),
        ("wecom", (45033, "api concurrent out of limit")),
        ("dingtalk", (90018, "当前企业调用钉钉开放平台接口次数，每秒超过限制")),
        ("dingtalk", (90006, "当前企业一天内调用钉钉开放平台接口次数超过限制")),
    ],
)
def test_a_frequency_limit_makes_the_outbox_wait_and_burns_no_attempt(
    duban: Duban, tmp_path: Path, kind: str, limit: tuple[int, str]
) -> None:
    with serving(kind, {"zhangsan", "lisi"}) as (service, base):
        service.limited = limit
        _settings(duban, tmp_path, f"{kind}_app", base, block_minutes=15)
        _campaign(duban, tmp_path, "企业微信账号" if kind == "wecom" else "钉钉账号", ["zhangsan", "lisi"])
        out = duban("deliver").out
        assert out == "发送：成功 0 条，失败 0 条，暂缓 2 条（渠道限速或机器人限流，到时再发）\n"
        assert len(service.refused) == 1  # the first refusal blocks the channel: the second is not tried
        rows = duban.json("outbox")
        assert [(r["status"], r["attempts"]) for r in rows] == [("queued", 0), ("queued", 0)]
        assert {r["next_attempt_at"] for r in rows} == {"2024-07-10T09:15:00+08:00"}
        assert rows[0]["blocked"] is not None and f"errcode {limit[0]}" in rows[0]["blocked"]
        service.limited = None
        _at(duban, START + dt.timedelta(minutes=14, seconds=59))
        assert "成功 0 条" in duban("deliver").out and len(service.accepted) == 0
        _at(duban, START + dt.timedelta(minutes=15))
        assert duban("deliver").out == "发送：成功 2 条，失败 0 条\n"
    assert [(r[1], r[2], r[3]) for r in _rows(duban)] == [("sent", 1, None)] * 2


# Refusals on record: an unknown user, no account, wrong credentials


@pytest.mark.parametrize("partial", [False, True])  # 81013 with invaliduser, or errcode 0 with invaliduser
def test_a_user_wecom_does_not_know_is_a_failure_naming_the_user(
    duban: Duban, tmp_path: Path, wecom: tuple[type[_Service], str], partial: bool
) -> None:
    service, base = wecom
    service.partial_invalid = partial
    _settings(duban, tmp_path, "wecom_app", base)
    _campaign(duban, tmp_path, "企业微信账号", ["zhangsan", "WangWu"])
    assert duban("deliver").out == "发送：成功 1 条，失败 1 条\n"
    rows = _rows(duban)
    assert rows[0] == ("zhangsan", "sent", 1, None)
    recipient, status, attempts, error = rows[1]
    assert (recipient, status, attempts) == ("WangWu", "failed", 1)
    assert error is not None and "企业微信" in error and "WangWu" in error and "invaliduser：wangwu" in error


@pytest.mark.parametrize(
    ("kind", "said"),
    [
        ("wecom", "该人员没有企业微信账号（台账人员表“企业微信账号”列）"),
        ("dingtalk", "该人员没有钉钉账号（台账人员表“钉钉账号”列）"),
    ],
)
def test_a_person_without_the_account_is_a_failure_on_record(
    duban: Duban, tmp_path: Path, kind: str, said: str
) -> None:
    with serving(kind, {"zhangsan"}) as (service, base):
        _settings(duban, tmp_path, f"{kind}_app", base)
        _campaign(duban, tmp_path, "企业微信账号" if kind == "wecom" else "钉钉账号", ["zhangsan", None])
        assert duban("deliver").out == "发送：成功 1 条，失败 1 条\n"
    rows = _rows(duban)
    assert rows[1] == ("", "failed", 1, said)
    assert len(service.accepted) == 1 and service.refused == []  # never sent anywhere


@pytest.mark.parametrize(
    ("kind", "wrong", "said"),
    [
        ("wecom", {"secret": "wrong-secret-do-not-print"}, "企业微信拒绝此 Secret"),
        ("wecom", {"corp_id": "ww-other"}, "企业微信不认识此企业 ID"),
        ("dingtalk", {"app_secret": "wrong-secret-do-not-print"}, "钉钉拒绝此应用凭证"),
    ],
)
def test_wrong_credentials_fail_with_the_reason_and_never_show_the_secret(
    duban: Duban, tmp_path: Path, kind: str, wrong: dict[str, str], said: str
) -> None:
    with serving(kind, {"zhangsan"}) as (service, base):
        _settings(duban, tmp_path, f"{kind}_app", base, **wrong)
        _campaign(duban, tmp_path, "企业微信账号" if kind == "wecom" else "钉钉账号", ["zhangsan"])
        assert duban("deliver").out == "发送：成功 0 条，失败 1 条\n"
    assert service.issued == [] and service.accepted == []
    ((_, status, _, error),) = _rows(duban)
    assert status == "failed" and error is not None and error.startswith(said)
    listing = duban("outbox").out + json.dumps(duban.json("outbox"), ensure_ascii=False)
    assert "do-not-print" not in listing


def test_an_unreachable_server_is_a_failure_retried_later(duban: Duban, tmp_path: Path) -> None:
    with serving("wecom") as (_, base):
        pass  # closed: nothing listens there any more
    _settings(duban, tmp_path, "wecom_app", base)
    _campaign(duban, tmp_path, "企业微信账号", ["zhangsan"])
    assert duban("deliver").out == "发送：成功 0 条，失败 1 条\n"
    ((_, status, attempts, error),) = _rows(duban)
    assert (
        (status, attempts) == ("failed", 1) and error is not None and error.startswith("企业微信应用消息接口无法连接")
    )
    assert duban.json("outbox")[0]["next_attempt_at"] == "2024-07-10T09:01:00+08:00"


# The channel itself: the token's lifetime, the cache's key, the text's size


def test_a_cached_token_is_used_until_300_seconds_before_it_expires() -> None:
    now = [1000.0]
    with serving("wecom", {"zhangsan"}) as (service, base):
        channel = WecomApp(WecomAppSettings(corp_id=CORP, agent_id=AGENT, secret=SECRET, base_url=base), lambda: now[0])
        message = Message("k", "zhangsan", "主题", "正文")
        channel.send(message)
        now[0] += 7200 - 300 - 1
        channel.send(message)
        assert service.issued == ["wecom-token-1"]
        now[0] += 1  # 300 s before the server's 7200 s: a new token, before the old one is refused
        channel.send(message)
        assert service.issued == ["wecom-token-1", "wecom-token-2"] and service.refused == []
        # Another object of the same process shares the cache (the outbox builds one per message).
        WecomApp(channel.settings, lambda: now[0]).send(message)
        assert len(service.issued) == 2 and len(service.accepted) == 4


def test_tokens_are_cached_per_application() -> None:
    with serving("wecom", {"zhangsan"}) as (service, base), serving("dingtalk") as (ding, ding_base):
        wecom = WecomApp(WecomAppSettings(corp_id=CORP, agent_id=AGENT, secret=SECRET, base_url=base))
        dingtalk = DingtalkApp(
            DingtalkAppSettings(app_key=APP_KEY, app_secret=APP_SECRET, agent_id=DING_AGENT, base_url=ding_base)
        )
        for _ in range(2):
            wecom.send(Message("k", "zhangsan", "主题", "正文"))
            dingtalk.send(Message("k", "0123", "主题", "正文"))
        assert service.issued == ["wecom-token-1"] and ding.issued == ["dingtalk-token-1"]
        other_secret = WecomApp(WecomAppSettings(corp_id=CORP, agent_id=AGENT, secret="changed", base_url=base))
        with pytest.raises(DeliveryError, match="企业微信拒绝此 Secret"):
            other_secret.send(Message("k", "zhangsan", "主题", "正文"))  # its own token, not the cached one


def test_a_limit_is_a_block_not_a_failure() -> None:
    with serving("dingtalk") as (service, base):
        service.limited = (90018, "每秒超过限制")
        channel = DingtalkApp(
            DingtalkAppSettings(app_key=APP_KEY, app_secret=APP_SECRET, agent_id=DING_AGENT, base_url=base)
        )
        with pytest.raises(ChannelBlocked) as caught:
            channel.send(Message("k", "0123", "主题", "正文"))
    assert caught.value.minutes == 10 and "errcode 90018" in str(caught.value)


@pytest.mark.parametrize(
    ("limit", "filler"), [(WECOM_TEXT_BYTES, "检"), (WECOM_TEXT_BYTES, "a"), (DINGTALK_TEXT_BYTES, "检")]
)
def test_a_long_text_is_cut_by_bytes_with_a_note(limit: int, filler: str) -> None:
    message = Message("k", "u", "关于张三同志作出检查的通知", filler * limit)
    text = text_of(message, limit)
    assert len(text.encode()) <= limit and text.endswith(CUT) and text.startswith("关于张三同志作出检查的通知\n\n")
    assert len(text.encode()) > limit - len(filler.encode())  # nothing more cut than needed
    short = Message("k", "u", "主题", "正文 \\*不是强调\\*")
    assert text_of(short, limit) == "主题\n\n正文 *不是强调*"  # plain text: the Markdown escapes undone


def test_the_payloads_are_as_the_apis_document() -> None:
    wecom = WecomApp(WecomAppSettings(corp_id=CORP, agent_id=AGENT, secret=SECRET))
    assert wecom.settings.base_url == "https://qyapi.weixin.qq.com"
    assert wecom.payload(Message("k", "zhangsan", "主题", "正文")) == {
        "touser": "zhangsan",
        "msgtype": "text",
        "agentid": AGENT,
        "text": {"content": "主题\n\n正文"},
        "safe": 0,
        "enable_duplicate_check": 1,
        "duplicate_check_interval": 1800,
    }
    dingtalk = DingtalkApp(DingtalkAppSettings(app_key=APP_KEY, app_secret=APP_SECRET, agent_id=DING_AGENT))
    assert dingtalk.settings.base_url == "https://oapi.dingtalk.com"
    assert dingtalk.payload(Message("k", "0123", "主题", "正文")) == {
        "agent_id": DING_AGENT,
        "userid_list": "0123",
        "msg": {"msgtype": "text", "text": {"content": "主题\n\n正文"}},
    }


# Settings: a listed channel needs its credentials


@pytest.mark.parametrize(
    ("table", "missing"),
    [
        ('[duban.delivery.wecom_app]\ncorp_id = "ww1"\n', "wecom_app.agent_id、wecom_app.secret"),
        ('[duban.delivery.wecom_app]\nagent_id = 1\nsecret = "SEC-do-not-print"\n', "wecom_app.corp_id"),
        (
            '[duban.delivery.dingtalk_app]\napp_secret = "SEC-do-not-print"\n',
            "dingtalk_app.app_key、dingtalk_app.agent_id",
        ),
    ],
)
def test_a_listed_application_channel_without_its_credentials_is_refused(
    duban: Duban, tmp_path: Path, table: str, missing: str
) -> None:
    channel = "wecom_app" if "wecom" in table else "dingtalk_app"
    _config(duban, tmp_path, f'[duban.delivery]\noffice = ["file", "{channel}"]\n{table}')
    result = duban("deliver", ok=False)
    assert result.code == 1 and f"缺少设置：{missing}" in result.err and "delivery.office" in result.err
    assert "do-not-print" not in result.err + result.out


def test_an_unlisted_application_channel_needs_nothing_and_an_unknown_one_is_refused(
    duban: Duban, tmp_path: Path
) -> None:
    _config(duban, tmp_path, '[duban.delivery.wecom_app]\ncorp_id = "ww1"\n')  # configured, not used: fine
    assert duban("deliver").out == "发送：成功 0 条，失败 0 条\n"
    _config(duban, tmp_path, '[duban.delivery]\nperson = ["wecom"]\n')
    result = duban("deliver", ok=False)
    assert (
        result.code == 1 and "未知的发送渠道 wecom（可用：file、smtp、webhook、wecom_app、dingtalk_app）" in result.err
    )


def test_a_base_url_must_be_a_web_address(duban: Duban, tmp_path: Path) -> None:
    _config(duban, tmp_path, '[duban.delivery.dingtalk_app]\nbase_url = "oapi.dingtalk.com"\n')
    result = duban("deliver", ok=False)
    assert result.code == 1 and "delivery.dingtalk_app.base_url" in result.err and "https://" in result.err
