"""Messages to one person in the apps the bureau already uses: WeCom application messages and DingTalk work notifications.

Both APIs work the same way: an access token is fetched with the corp's credentials
(``gettoken``, valid ``expires_in`` seconds, 7200) and passed with every message. The token is
cached in this process for its lifetime less a margin, per server and application; a token the
server refuses anyway (expired early, revoked, the secret changed) is dropped, a new one fetched
and the message sent again — once. Both answer HTTP 200 whatever happened: the verdict is the
body's ``errcode``. A frequency limit blocks the channel (``ChannelBlocked``: the outbox waits, the
attempt not counted); any other refusal is a ``DeliveryError`` naming the code, retried by the
outbox with backoff; a person without an account is refused here, on record, never skipped.

Only plain text is sent (``msgtype: text``), cut to what the API takes; the document itself (the
.docx) travels by e-mail or the file drop, not here.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from config.delivery import DingtalkAppSettings, WecomAppSettings
from notifications.render import md_unescape

if TYPE_CHECKING:
    from notifications.delivery import Message

#: A cached token is used until this many seconds before the server says it expires.
TOKEN_MARGIN_S = 300
#: WeCom's text messages: "消息内容，最长不超过2048个字节" (message/send).
WECOM_TEXT_BYTES = 2048
#: DingTalk names no firm size for a work notification's text; duban cuts it here (about 1,600 Chinese characters).
DINGTALK_TEXT_BYTES = 5000
#: What a cut message ends with.
CUT = "\n\n……（内容过长，已截断；全文见督办系统或书面文书）"


class _Tokens:
    """Access tokens by (server, application): shared by every channel object of this process."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.held: dict[tuple[str, str, str], tuple[str, float]] = {}

    def clear(self) -> None:
        """Forget every token (tests start clean)."""
        with self.lock:
            self.held.clear()


TOKENS = _Tokens()


class _App:
    """What both application channels share: the token, the HTTP exchange, the verdict on an errcode."""

    key: ClassVar[str]
    #: How users call the service and its account, in messages.
    service: ClassVar[str]
    account: ClassVar[str]
    #: errcodes meaning "this token is not (or no longer) valid": fetch a new one and send again, once.
    token_errcodes: ClassVar[frozenset[int]]
    #: errcodes meaning "too often": block the channel for a while.
    limit_errcodes: ClassVar[frozenset[int]]
    #: What some refusals mean, for the person reading the outbox.
    hints: ClassVar[dict[int, str]]

    def __init__(self, settings: Any, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        # Token lifetimes are measured on the process's own monotonic clock, never DUBAN_NOW; tests pass theirs.
        self.clock = clock

    @property
    def per_minute(self) -> int | None:
        """Return how many messages the channel takes in any 60 seconds (None: no pacing)."""
        value: int | None = self.settings.per_minute
        return value

    # What each service differs in.

    def _credentials(self) -> tuple[str, str]:
        raise NotImplementedError

    def _token_url(self) -> str:
        raise NotImplementedError

    def _send_url(self, token: str) -> str:
        raise NotImplementedError

    def payload(self, message: Message) -> dict[str, Any]:
        """Return the JSON body that sends the message."""
        raise NotImplementedError

    def _reached(self, answer: dict[str, Any], message: Message) -> None:
        """Raise, naming the account, when the answer says the person was not reached (whatever its errcode)."""

    # The exchange.

    def send(self, message: Message) -> None:
        """Send one text message to the person's account; only errcode 0 (and nothing refused) is a success."""
        if not message.recipient:
            raise base.DeliveryError(f"该人员没有{self.account}（台账人员表“{self.account}”列）")
        missing = self.settings.missing()
        if missing:
            raise base.DeliveryError(f"未配置{self.service}：[duban.delivery.{self.key}] 缺少 {'、'.join(missing)}")
        token = self._token()
        answer = self._exchange(self._send_url(token), self.payload(message))
        if _errcode(answer) in self.token_errcodes:
            self._forget(token)  # refused: expired early, revoked, or the secret changed; a new one, once
            answer = self._exchange(self._send_url(self._token()), self.payload(message))
        self._reached(answer, message)
        self._verdict(answer)

    def _cache_key(self) -> tuple[str, str, str]:
        ident, secret = self._credentials()
        # The secret is part of the key (a changed secret needs a new token), as a digest: not kept in the clear.
        return (self.settings.base_url, ident, hashlib.sha256(secret.encode()).hexdigest())

    def _token(self) -> str:
        key = self._cache_key()
        with TOKENS.lock:  # one fetch at a time: threads of one process do not each ask for a token
            held = TOKENS.held.get(key)
            if held is not None and self.clock() < held[1]:
                return held[0]
            answer = self._exchange(self._token_url(), None)
            self._verdict(answer, "获取 access_token")
            token = answer.get("access_token")
            if not isinstance(token, str) or not token:
                raise base.DeliveryError(f"{self.service}接口的 gettoken 应答中没有 access_token")
            expires = answer.get("expires_in")
            lifetime = float(expires) if isinstance(expires, int | float) and expires > 0 else 7200.0
            # Used until a margin before it expires; a very short lifetime is used for half of it.
            usable = lifetime - TOKEN_MARGIN_S if lifetime > 2 * TOKEN_MARGIN_S else lifetime / 2
            TOKENS.held[key] = (token, self.clock() + usable)
            return token

    def _forget(self, token: str) -> None:
        key = self._cache_key()
        with TOKENS.lock:
            if TOKENS.held.get(key, ("", 0.0))[0] == token:
                del TOKENS.held[key]

    def _exchange(self, url: str, body: dict[str, Any] | None) -> dict[str, Any]:
        """GET (no body) or POST JSON; return the answer. Errors never show the URL: it holds the secret or token."""
        data = None if body is None else json.dumps(body, ensure_ascii=False).encode()
        request = urllib.request.Request(
            url,
            data=data,
            method="GET" if body is None else "POST",
            headers={"Content-Type": "application/json; charset=utf-8"},
        )
        minutes = self.settings.block_minutes
        try:
            with urllib.request.urlopen(request, timeout=self.settings.timeout_s) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            if exc.code == 429:
                raise base.ChannelBlocked(f"{self.service}限流（HTTP 429），{minutes} 分钟后重试", minutes) from None
            raise base.DeliveryError(f"{self.service}接口返回 HTTP {exc.code}") from None
        except (OSError, urllib.error.URLError, http.client.HTTPException) as exc:  # a cut or malformed answer too
            reason = getattr(exc, "reason", exc)
            raise base.DeliveryError(f"{self.service}接口无法连接（{self.settings.base_url}）：{reason}") from None
        try:
            answer = json.loads(raw)
            _errcode(answer)
        except (ValueError, TypeError, KeyError):
            raise base.DeliveryError(
                f"{self.service}接口的应答没有 errcode：{raw[:200].decode(errors='replace')!r}"
            ) from None
        if not isinstance(answer, dict):
            raise base.DeliveryError(f"{self.service}接口的应答没有 errcode：{raw[:200].decode(errors='replace')!r}")
        return answer

    def _verdict(self, answer: dict[str, Any], doing: str = "") -> None:
        code = _errcode(answer)
        if code == 0:
            return
        said = str(answer.get("errmsg") or "").strip()
        detail = f"errcode {code}{'：' + said if said else ''}"
        if code in self.limit_errcodes:
            minutes = self.settings.block_minutes
            raise base.ChannelBlocked(f"{self.service}限流（{detail}），{minutes} 分钟后重试", minutes)
        hint = self.hints.get(code) or (
            f"{self.service}拒绝{doing or '发送'}"
            + ("：access_token 刷新后仍被拒绝" if code in self.token_errcodes else "")
        )
        raise base.DeliveryError(f"{hint}（{detail}）")


def _errcode(answer: Any) -> int:
    return int(answer["errcode"])


class WecomApp(_App):
    """WeCom application messages (企业微信应用消息) to one member, by their userid."""

    key: ClassVar[str] = "wecom_app"
    service: ClassVar[str] = "企业微信应用消息"
    account: ClassVar[str] = "企业微信账号"
    token_errcodes: ClassVar[frozenset[int]] = frozenset({40014, 42001, 41001})
    limit_errcodes: ClassVar[frozenset[int]] = frozenset({45009, 45033})
    hints: ClassVar[dict[int, str]] = {
        40013: "企业微信不认识此企业 ID：请核对 [duban.delivery.wecom_app] corp_id",
        40001: "企业微信拒绝此 Secret：请核对 [duban.delivery.wecom_app] secret（应用的 Secret）",
        40091: "企业微信拒绝此 Secret：请核对 [duban.delivery.wecom_app] secret（应用的 Secret）",
        40056: "企业微信不认识此应用：请核对 [duban.delivery.wecom_app] agent_id",
        60020: "企业微信拒收：本服务器的 IP 不在应用的企业可信 IP 中",
        81013: "企业微信拒收：接收人不存在或不在应用的可见范围内，请核对台账人员表“企业微信账号”列",
    }
    settings: WecomAppSettings

    def __init__(self, settings: WecomAppSettings, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(settings, clock)

    def _credentials(self) -> tuple[str, str]:
        return self.settings.corp_id, self.settings.secret

    def _token_url(self) -> str:
        query = urllib.parse.urlencode({"corpid": self.settings.corp_id, "corpsecret": self.settings.secret})
        return f"{self.settings.base_url}/cgi-bin/gettoken?{query}"

    def _send_url(self, token: str) -> str:
        return f"{self.settings.base_url}/cgi-bin/message/send?{urllib.parse.urlencode({'access_token': token})}"

    def payload(self, message: Message) -> dict[str, Any]:
        """Return the text message; WeCom drops the same message sent again within 30 minutes (a resend after a crash)."""
        return {
            "touser": message.recipient,
            "msgtype": "text",
            "agentid": self.settings.agent_id,
            "text": {"content": text_of(message, WECOM_TEXT_BYTES)},
            "safe": 0,
            "enable_duplicate_check": 1,
            "duplicate_check_interval": 1800,
        }

    def _reached(self, answer: dict[str, Any], message: Message) -> None:
        # The user listed as invalid, with errcode 0 or 81013 ("all recipients invalid", a message to one
        # person): nobody received it. WeCom lists userids in lower case; the message names the ledger's.
        for field, why in (
            ("invaliduser", "企业微信不认识此账号（或此人不在应用的可见范围内），请核对台账人员表“企业微信账号”列"),
            ("unlicenseduser", "此账号没有企业微信的接口许可，消息未送达"),
        ):
            listed = str(answer.get(field) or "").strip()
            if listed:
                raise base.DeliveryError(f"{why}：{message.recipient}（{field}：{listed}）")
        if _errcode(answer) == 81013:
            raise base.DeliveryError(f"{self.hints[81013]}：{message.recipient}（errcode 81013）")


class DingtalkApp(_App):
    """DingTalk work notifications (钉钉工作通知) to one user, by their userid."""

    key: ClassVar[str] = "dingtalk_app"
    service: ClassVar[str] = "钉钉工作通知"
    account: ClassVar[str] = "钉钉账号"
    token_errcodes: ClassVar[frozenset[int]] = frozenset({40014, 42001, 88})
    #: 90018: too many calls a second; 90006: too many a day; 90001/90002/90005: calls suspended for a while.
    limit_errcodes: ClassVar[frozenset[int]] = frozenset({90001, 90002, 90005, 90006, 90018})
    hints: ClassVar[dict[int, str]] = {
        40089: "钉钉拒绝此应用凭证：请核对 [duban.delivery.dingtalk_app] app_key 与 app_secret",
        40095: "钉钉拒绝此应用凭证：请核对 [duban.delivery.dingtalk_app] app_key 与 app_secret",
        400002: "钉钉拒收：参数无效，请核对 [duban.delivery.dingtalk_app] agent_id",
        60020: "钉钉拒收：本服务器的 IP 不在应用的服务器出口 IP 名单中",
    }
    settings: DingtalkAppSettings

    def __init__(self, settings: DingtalkAppSettings, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(settings, clock)

    def _credentials(self) -> tuple[str, str]:
        return self.settings.app_key, self.settings.app_secret

    def _token_url(self) -> str:
        query = urllib.parse.urlencode({"appkey": self.settings.app_key, "appsecret": self.settings.app_secret})
        return f"{self.settings.base_url}/gettoken?{query}"

    def _send_url(self, token: str) -> str:
        query = urllib.parse.urlencode({"access_token": token})
        return f"{self.settings.base_url}/topapi/message/corpconversation/asyncsend_v2?{query}"

    def _reached(self, answer: dict[str, Any], message: Message) -> None:
        # asyncsend_v2 accepts a task: an answer without one sent nothing (an unknown user is not told here).
        if answer.get("errcode") == 0 and not answer.get("task_id"):
            raise base.DeliveryError(f"钉钉工作通知的应答没有 task_id：未确认发给 {message.recipient}")

    def payload(self, message: Message) -> dict[str, Any]:
        """Return the work notification (DingTalk delivers the same content to a user at most once a day)."""
        return {
            "agent_id": self.settings.agent_id,
            "userid_list": message.recipient,
            "msg": {"msgtype": "text", "text": {"content": text_of(message, DINGTALK_TEXT_BYTES)}},
        }


def text_of(message: Message, limit: int) -> str:
    """Return the message as plain text (its subject, then its body), cut to ``limit`` UTF-8 bytes with a note."""
    return base.truncate_utf8(f"{message.subject}\n\n{md_unescape(message.body)}", limit, CUT)


# notifications/delivery.py registers these channels, importing this module at its end; this module
# uses its errors and helpers only when a message is sent. Imported here, after the classes, either
# module may be imported first.
import notifications.delivery as base  # noqa: E402
