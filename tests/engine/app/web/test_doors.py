"""Issue 18's doors, tried as the attacker tried them: over HTTP against a real `duban serve` on loopback,
and through the command line.

Each server is a `duban serve` process of its own, its clock stopped by ``DUBAN_NOW``: a test moves time
by starting the next server later (the throttles and sessions live in the database, so they must carry
over a restart). Different attackers and victims are different loopback addresses (127.0.0.N), as
different machines would be. Every loop is bounded; nothing sleeps to let time pass.
"""

from __future__ import annotations

import http.client
import io
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from engine.app.users import PAIR_FAILURES, UNKNOWN_FAILURES, delay_after
from tests.conftest import Duban, node, person, write_ledger
from tests.engine.app.web.conftest import PASSWORD, Site, add_account
from tests.engine.app.web.test_pages import rows

SQLITE = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)

T0 = "2024-07-08T09:00:00+08:00"
#: The leader, the office and an attacker are three machines.
LEADER, OFFICE, ATTACKER, OTHER = "127.0.0.3", "127.0.0.4", "127.0.0.66", "127.0.0.77"


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    text: str
    set_cookies: list[str]


@dataclass
class Browser:
    """A browser at one loopback address, with its cookies, talking to one server."""

    port: int
    source: str = "127.0.0.1"
    cookies: dict[str, str] = field(default_factory=dict)

    def request(
        self, method: str, path: str, form: dict[str, str] | None = None, headers: dict[str, str] | None = None
    ) -> Answer:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30, source_address=(self.source, 0))
        sent = dict(headers or {})
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urlencode(form)
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            connection.request(method, path, body=body, headers=sent)
            response = connection.getresponse()
            set_cookies = response.headers.get_all("Set-Cookie") or []
            for header in set_cookies:
                for name, morsel in SimpleCookie(header).items():
                    if morsel["max-age"] == "0" or not morsel.value:
                        self.cookies.pop(name, None)
                    else:
                        self.cookies[name] = morsel.value
            return Answer(
                response.status, {k.lower(): v for k, v in response.getheaders()}, response.read().decode(), set_cookies
            )
        finally:
            connection.close()

    def sign_in(self, name: str, password: str, headers: dict[str, str] | None = None) -> Answer:
        page = self.request("GET", "/login")
        token = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert token, page.text
        return self.request(
            "POST", "/login", {"name": name, "password": password, "csrf": token.group(1), "next": "/board"}, headers
        )

    def csrf(self) -> str:
        token = re.search(r'name="csrf" value="([^"]+)"', self.request("GET", "/board").text)
        assert token
        return token.group(1)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def serving(site: Site, now: str = T0, config: Path | None = None) -> Iterator[int]:
    """Run `duban serve` on the site's database with its clock stopped at ``now``; yield its port."""
    port = _free_port()
    env = {**os.environ, "DUBAN_NOW": now}
    env.pop("DUBAN_CONFIG", None)
    if config is not None:
        env["DUBAN_CONFIG"] = str(config)
    process = subprocess.Popen(
        [sys.executable, "-c", "from engine.app.launch import main; main()", "serve", "--port", str(port)],
        env=env,
        cwd=site.tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if Browser(port).request("GET", "/login").status == 200:
                    break
            except OSError:
                pass
            if process.poll() is not None:
                pytest.fail(
                    f"duban serve exited {process.returncode}: {process.stderr.read() if process.stderr else ''}"
                )
            assert time.monotonic() < deadline, "duban serve did not answer"
            time.sleep(0.05)  # waiting for the process to listen, not for the clock
        yield port
        assert process.poll() is None, "the server died"
        assert Browser(port).request("GET", "/login").status == 200  # it still answers afterwards
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(autouse=True)
def _clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """The command line's clock is the first server's: both read the throttles as of the same moment."""
    monkeypatch.setenv("DUBAN_NOW", T0)


def _log(site: Site, action: str) -> list[tuple[Any, ...]]:
    return rows(site, "SELECT actor, entity, key, detail FROM change_log WHERE action = :a ORDER BY id", a=action)


# ----------------------------------------------------------------------------- item 3: lock-outs


def test_the_delays_grow_from_the_fifth_failure_and_are_capped() -> None:
    assert [delay_after(n, PAIR_FAILURES) for n in range(1, PAIR_FAILURES)] == [None] * (PAIR_FAILURES - 1)
    minutes = [
        int(delay.total_seconds() // 60)
        for n in range(PAIR_FAILURES, PAIR_FAILURES + 9)
        if (delay := delay_after(n, PAIR_FAILURES)) is not None
    ]
    assert minutes == [1, 2, 4, 8, 16, 32, 60, 60, 60]
    assert delay_after(10_000, PAIR_FAILURES) is not None


@SQLITE
def test_an_attacker_hammering_the_leader_does_not_keep_the_leader_out(site: Site) -> None:
    with serving(site) as port:
        attacker = Browser(port, ATTACKER)
        answers = [attacker.sign_in("lingdao", f"guess-number-{i}").status for i in range(12)]
        assert answers == [401] * PAIR_FAILURES + [429] * (12 - PAIR_FAILURES)
        assert "1 分钟后再试" in attacker.sign_in("lingdao", PASSWORD).text  # even the right password, from there
        leader = Browser(port, LEADER)
        assert leader.sign_in("lingdao", PASSWORD).status == 303  # from the leader's own machine: in at once
        assert leader.request("GET", "/board").status == 200
    # A restart lifts nothing: the throttle is in the database.
    with serving(site) as port:
        assert Browser(port, ATTACKER).sign_in("lingdao", PASSWORD).status == 429
    # A minute later the attacker may guess again, once; the next wait is twice as long.
    with serving(site, "2024-07-08T09:01:05+08:00") as port:
        attacker = Browser(port, ATTACKER)
        assert attacker.sign_in("lingdao", "guess-number-13").status == 401
        refused = attacker.sign_in("lingdao", PASSWORD)
        assert refused.status == 429 and "2 分钟后再试" in refused.text
        assert Browser(port, LEADER).sign_in("lingdao", PASSWORD).status == 303
    locks = _log(site, "lock")
    assert [(actor, entity, key) for actor, entity, key, _ in locks] == [("duban:sign-in", "user", "lingdao")] * 2
    assert ATTACKER in locks[0][3] and '"minutes": 2' in locks[1][3]
    [listed] = [u for u in site.duban.json("user", "list") if u["name"] == "lingdao"]
    assert [(t["client"], t["failures"]) for t in listed["throttles"]] == [(ATTACKER, PAIR_FAILURES + 1)]


@SQLITE
def test_made_up_names_from_one_address_lock_no_real_account(site: Site) -> None:
    with serving(site) as port:
        office = Browser(port, OFFICE)  # the NAT'd office: everyone shares this address
        answers = [office.sign_in(f"nobody{i:02d}", "some-password-1").text for i in range(UNKNOWN_FAILURES + 5)]
        assert all("用户名或密码错误" in text for text in answers)  # never a hint that a name exists or not
        assert office.sign_in("binhe", "wrong-password-1").status == 401  # a real account: counted, not locked
        clerk = Browser(port, OFFICE)
        assert clerk.sign_in("bangong", PASSWORD).status == 303
        page = clerk.request("GET", "/accounts").text
        assert OFFICE in page.split("尝试不存在的用户名的地址")[1]
        assert "限制到" in page.split("尝试不存在的用户名的地址")[1]
    [(actor, entity, key, detail)] = _log(site, "lock")
    assert (actor, entity, key) == ("duban:sign-in", "address", OFFICE) and f'"failures": {UNKNOWN_FAILURES}' in detail
    # Made-up names beyond the limit were refused without a row each: the table stays small.
    assert rows(site, "SELECT count(*) FROM login_attempt WHERE name LIKE 'nobody%'") == [(UNKNOWN_FAILURES,)]


@SQLITE
def test_unlock_lifts_every_throttle_and_is_recorded(site: Site) -> None:
    with serving(site) as port:
        for source in (ATTACKER, OTHER):
            attacker = Browser(port, source)
            for i in range(PAIR_FAILURES):
                attacker.sign_in("binhe", f"guess-number-{i}")
            assert attacker.sign_in("binhe", PASSWORD).status == 429
    listed = {u["name"]: u for u in site.duban.json("user", "list")}
    assert sorted(t["client"] for t in listed["binhe"]["throttles"]) == [ATTACKER, OTHER]
    assert all(t["blocked_until"] for t in listed["binhe"]["throttles"])
    assert "限制到" in site.duban("user", "list").out
    result = site.duban("user", "unlock", "binhe")
    assert ATTACKER in result.out and OTHER in result.out
    assert site.duban.json("user", "list")[0]["throttles"] == []
    [(actor, entity, key, detail)] = _log(site, "unlock")
    assert (actor, entity, key) == ("tester", "user", "binhe") and ATTACKER in detail
    assert "不存在" in site.duban("user", "unlock", "nobody", ok=False).err
    with serving(site) as port:
        assert Browser(port, ATTACKER).sign_in("binhe", PASSWORD).status == 303
        # The office lifts a throttle from the web, the same function, recorded as its member.
        attacker = Browser(port, OTHER)
        for i in range(PAIR_FAILURES):
            attacker.sign_in("lingdao", f"guess-number-{i}")
        office = Browser(port, OFFICE)
        assert office.sign_in("bangong", PASSWORD).status == 303
        assert OTHER in office.request("GET", "/accounts").text
        done = office.request("POST", "/accounts/lingdao/unlock", {"csrf": office.csrf()})
        assert done.status == 303
        assert "已解除账号 lingdao" in office.request("GET", "/accounts").text
        assert Browser(port, OTHER).sign_in("lingdao", PASSWORD).status == 303
        leader = Browser(port, LEADER)
        leader.sign_in("lingdao", PASSWORD)
        assert leader.request("GET", "/accounts").status == 403  # the leaders read, the office manages
    assert [(a, k) for a, _e, k, _d in _log(site, "unlock")] == [("tester", "binhe"), ("web:bangong", "lingdao")]


@SQLITE
def test_a_new_password_and_enabling_lift_the_throttles(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    with serving(site) as port:
        for i in range(PAIR_FAILURES):
            Browser(port, ATTACKER).sign_in("binhe", f"guess-number-{i}")
    monkeypatch.setattr("sys.stdin", io.StringIO("fresh-lantern-88\n"))
    site.duban("user", "passwd", "binhe", "--password-stdin")
    assert [t["client"] for t in site.duban.json("user", "list")[0]["throttles"]] == []
    with serving(site) as port:
        assert Browser(port, ATTACKER).sign_in("binhe", "fresh-lantern-88").status == 303


# ----------------------------------------------------------------------------- item 4: weak passwords


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("        ", "空白"),
        ("password1", "至少 12 个字符"),
        ("12345678a", "至少 12 个字符"),
        ("duban-demo", "演示密码"),
        ("password1234", "最常见"),
        ("Password2024!", "常见密码加上"),
        ("123456789012", "全是数字"),
        ("aaaaaaaaaaaa", "重复"),
        ("qwertyuiopas", "连续"),
        ("zhangsan-river-1", "用户名"),
        ("duban-office-2024", "duban"),
    ],
)
@SQLITE
def test_weak_passwords_are_refused(site: Site, monkeypatch: pytest.MonkeyPatch, password: str, reason: str) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(password + "\n"))
    result = site.duban("user", "add", "zhangsan", "--role", "office", "--password-stdin", ok=False)
    assert result.code == 1 and reason in result.err
    if reason != "用户名":  # the name rule is the account's own: tried with its name above
        monkeypatch.setattr("sys.stdin", io.StringIO(password + "\n"))
        result = site.duban("user", "passwd", "bangong", "--password-stdin", ok=False)
        assert result.code == 1 and reason in result.err
    assert "zhangsan" not in [u["name"] for u in site.duban.json("user", "list")]


@SQLITE
def test_a_weak_password_set_before_the_rules_signs_nobody_in_until_it_is_reset(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlalchemy as sa
    from argon2 import PasswordHasher

    # An account of an older duban, whose clerk copied the README's demo password.
    engine = sa.create_engine(site.duban.url)
    with engine.begin() as connection:
        connection.execute(
            sa.text("UPDATE user_account SET password_hash = :h, password_weak = NULL WHERE name = 'lingdao'"),
            {"h": PasswordHasher().hash("duban-demo")},
        )
        connection.execute(sa.text("UPDATE user_account SET password_weak = NULL WHERE name = 'binhe'"))
    engine.dispose()
    assert "待核验" in site.duban("user", "list").out
    with serving(site) as port:
        refused = Browser(port, LEADER).sign_in("lingdao", "duban-demo")
        assert refused.status == 401 and "不符合现行密码规则" in refused.text and "演示密码" in refused.text
        assert Browser(port, OFFICE).sign_in("binhe", PASSWORD).status == 303  # a strong old password: checked, fine
    listed = {u["name"]: u["reset_needed"] for u in site.duban.json("user", "list")}
    assert listed == {"bangong": False, "binhe": False, "lingdao": True}
    assert "须重设" in site.duban("user", "list").out
    monkeypatch.setattr("sys.stdin", io.StringIO("spring-orchard-31\n"))
    site.duban("user", "passwd", "lingdao", "--password-stdin")
    with serving(site) as port:
        assert Browser(port, LEADER).sign_in("lingdao", "spring-orchard-31").status == 303


@SQLITE
def test_the_demo_password_opens_only_the_demo_database(duban: Duban, monkeypatch: pytest.MonkeyPatch) -> None:
    import sqlalchemy as sa

    monkeypatch.setattr("sys.stdin", io.StringIO("duban-demo\n"))
    assert "演示密码" in duban("user", "add", "zhang", "--role", "office", "--password-stdin", ok=False).err
    engine = sa.create_engine(duban.url)
    with engine.begin() as connection:
        connection.execute(sa.text("INSERT INTO meta (key, value) VALUES ('demo_database', '1')"))
    engine.dispose()
    add_account(duban, monkeypatch, "zhang", "office", None, password="duban-demo")


# ----------------------------------------------------------------------------- item 5: X-Forwarded-For


def _clients(site: Site) -> list[str | None]:
    return [c for (c,) in rows(site, "SELECT client FROM login_attempt ORDER BY id")]


@SQLITE
def test_x_forwarded_for_is_ignored_by_default(site: Site) -> None:
    with serving(site) as port:
        attacker = Browser(port, ATTACKER)
        answers = [
            attacker.sign_in("bangong", "guess-number-1", {"X-Forwarded-For": f"203.0.113.{i}"}).status
            for i in range(PAIR_FAILURES + 2)
        ]
        assert answers == [401] * PAIR_FAILURES + [429, 429]  # a new header each time changes nothing
        assert Browser(port, LEADER).sign_in("bangong", PASSWORD, {"X-Forwarded-For": ATTACKER}).status == 303
    assert _clients(site) == [ATTACKER] * PAIR_FAILURES + [LEADER]
    assert rows(site, "SELECT client FROM web_session") == [(LEADER,)]


@SQLITE
def test_x_forwarded_for_is_honoured_from_a_trusted_proxy_only(site: Site) -> None:
    config = site.tmp_path / "proxy.toml"
    config.write_text(
        '[duban.web]\ntrusted_proxies = ["127.0.0.10", "10.0.0.0/8"]\nsession_hours = 8\n', encoding="utf-8"
    )
    proxy = "127.0.0.10"
    with serving(site, config=config) as port:
        through = Browser(port, proxy)
        # The right-most address that is not a trusted proxy: what the client wrote further left proves nothing.
        through.sign_in("bangong", "guess-number-1", {"X-Forwarded-For": "198.51.100.1, 203.0.113.7"})
        through.sign_in("bangong", "guess-number-2", {"X-Forwarded-For": "203.0.113.8, 10.1.2.3"})
        through.sign_in("bangong", "guess-number-3")  # no header: the proxy itself
        Browser(port, ATTACKER).sign_in("bangong", "guess-number-4", {"X-Forwarded-For": "203.0.113.9"})  # not a proxy
        through.sign_in("bangong", "guess-number-5", {"X-Forwarded-For": "not-an-address, 10.1.2.3"})
        # Each real client behind the proxy has its own throttle.
        hammering = [through.sign_in("lingdao", f"g-{i}", {"X-Forwarded-For": "203.0.113.50"}).status for i in range(6)]
        assert hammering == [401] * PAIR_FAILURES + [429]
        assert through.sign_in("lingdao", PASSWORD, {"X-Forwarded-For": "203.0.113.51"}).status == 303
    assert _clients(site)[:5] == ["203.0.113.7", "203.0.113.8", proxy, ATTACKER, "10.1.2.3"]


def test_the_uvicorn_proxy_default_is_off_in_duban_serve() -> None:
    source = (Path(__file__).parents[4] / "engine" / "app" / "cli.py").read_text(encoding="utf-8")
    assert "proxy_headers=False" in source


# ----------------------------------------------------------------------------- item 6: absolute lifetime


@SQLITE
def test_a_busy_session_still_ends_at_its_absolute_lifetime(site: Site) -> None:
    config = site.tmp_path / "long.toml"
    config.write_text("[duban.web]\nsession_hours = 720\n", encoding="utf-8")  # idle timeout out of the way
    with serving(site, config=config) as port:
        browser = Browser(port, LEADER)
        assert browser.sign_in("lingdao", PASSWORD).status == 303
        assert browser.request("GET", "/board").status == 200
    for day, expected in (
        ("2024-07-11T09:00:00+08:00", 200),
        ("2024-07-15T08:59:00+08:00", 200),
        ("2024-07-15T09:00:30+08:00", 303),
    ):
        with serving(site, day, config) as port:
            browser.port = port
            answer = browser.request("GET", "/board")
            assert answer.status == expected, day
    assert answer.headers["location"].startswith("/login")
    with serving(site, "2024-07-15T09:01:00+08:00", config) as port:
        fresh = Browser(port, LEADER)
        assert fresh.sign_in("lingdao", PASSWORD).status == 303 and fresh.request("GET", "/board").status == 200


# ----------------------------------------------------------------------------- item 7: configuration


@SQLITE
def test_a_web_table_outside_duban_is_refused_with_the_close_match(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    config = site.tmp_path / "duban.toml"
    config.write_text("[duban]\n\n[web]\ncookie_secure = true\n", encoding="utf-8")
    monkeypatch.chdir(site.tmp_path)
    result = site.duban("--config", "duban.toml", "serve", ok=False)
    assert result.code == 1
    assert "duban.toml：未知的表 [web] — 是否应为 [duban.web]？" in result.err
    config.write_text("[duban.web]\ncookie_secur = true\n", encoding="utf-8")
    assert (
        "未知的键 duban.web.cookie_secur — 是否应为 duban.web.cookie_secure？"
        in site.duban("--config", "duban.toml", "user", "list", ok=False).err
    )
    config.write_text("[duban.web]\ncookie_secure = true\n", encoding="utf-8")
    with serving(site, config=config) as port:
        answer = Browser(port, LEADER).sign_in("lingdao", PASSWORD)
        [session_cookie] = [c for c in answer.set_cookies if c.startswith("duban_session=")]
        assert answer.status == 303 and "secure" in session_cookie.lower()  # [duban.web] cookie_secure took effect


@SQLITE
def test_an_unknown_policy_key_is_refused_with_the_close_match(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    from config.policy import DEFAULT_POLICY_FILE

    policy = site.tmp_path / "policy.toml"
    policy.write_text(
        DEFAULT_POLICY_FILE.read_text(encoding="utf-8").replace("\n[meetings]", "\n[meeting]", 1), encoding="utf-8"
    )
    monkeypatch.setenv("DUBAN_POLICY_FILE", str(policy))
    result = site.duban("strikes", ok=False)
    assert result.code == 1 and f"{policy}：未知的表 [meeting] — 是否应为 [meetings]？" in result.err


# ----------------------------------------------------------------------------- item 8: ledger text in messages


EVIL_PROJECT = "[点此领奖](http://evil.example/x) **紧急** <img src=x> `code` ![图](http://evil.example/p.png)"
EVIL_PERSON = "李四](http://evil.example)"


@SQLITE
def test_a_project_name_with_markdown_reaches_the_robot_escaped(duban: Duban, tmp_path: Path) -> None:
    from docx import Document

    from tests.engine.delivery.test_robots import START, _at, _webhook, serving_robot

    with serving_robot(kind="wecom") as (robot, url):
        _webhook(duban, tmp_path, url, kind="wecom")
        _at(duban, START)
        duban.today("2024-07-10")
        duban(
            "import",
            "ledger",
            write_ledger(
                tmp_path / "l",
                [person("P1", EVIL_PERSON)],
                [["A1", EVIL_PROJECT, "滨河片区", "综合改造一期", "2024-07", "在建", "P1", "某建设集团", 100]],
                [node("A1", "N1", "2024-07-01")],
            ),
        )
        duban("evaluate", "--through", "2024-07-05")
        duban("notices", "render", "--out", tmp_path / "out")
        assert "成功 1 条" in duban("deliver").out
    [sent] = robot.accepted
    content = sent["body"]["markdown"]["content"]
    for markup in ("[点此领奖]", "](", "http://", "**紧急**", "<img", "`code`", "![图]"):
        assert markup not in content, markup
    assert (
        "［点此领奖］(http：//evil.example/x) ＊＊紧急＊＊ ＜img src=x＞ ｀code｀ !［图］(http：//evil.example/p.png)"
        in content
    )
    assert content.startswith("**关于李四］(http：//evil.example)同志")  # the subject too; duban's own bold stays
    notices = tmp_path / "out" / "notices"
    markdown = next(notices.glob("*.md")).read_text(encoding="utf-8")
    assert "\\[点此领奖\\](http\\://evil.example/x)" in markdown and "[点此领奖](" not in markdown
    html = next(notices.glob("*.html")).read_text(encoding="utf-8")
    assert "&lt;img src=x&gt;" in html and "<img src=x>" not in html
    word = Document(str(next(notices.glob("*.docx"))))
    cells = [c.text for table in word.tables for row in table.rows for c in row.cells]
    assert EVIL_PROJECT in cells  # Word shows the ledger's text as typed


def test_mail_reads_the_text_as_typed_and_robots_get_full_width_marks() -> None:
    from config.delivery import WebhookSettings
    from notifications.delivery import Message, Webhook
    from notifications.render import md_escape, md_unescape

    escaped = md_escape(EVIL_PROJECT)
    assert md_unescape(escaped) == EVIL_PROJECT
    body = f"项目：{escaped}"
    payload = Webhook(WebhookSettings(url="https://oapi.dingtalk.com/robot/send?access_token=x")).payload(
        Message("k", "r", f"关于{EVIL_PERSON}", body)
    )
    assert payload["markdown"]["title"] == "关于李四］(http：//evil.example)"
    assert "[" not in payload["markdown"]["text"] and "http://" not in payload["markdown"]["text"]
