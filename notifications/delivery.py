"""Delivery channels: a file drop, e-mail over SMTP, a WeCom/DingTalk group robot (webhook), and messages to one
person in WeCom or DingTalk (notifications/apps.py, registered here).

Channels are small registered classes keyed by a stable name (stored in the outbox). They send
one message and raise on failure (``ChannelBlocked`` when the receiver refuses everything for a
while); a channel with a ``per_minute`` takes only so many messages in any 60 seconds. The outbox
(engine/delivery/outbox.py) owns retries, pacing, blocks and exactly-once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import shutil
import smtplib
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any, ClassVar

from config.delivery import DeliverySettings, FileDropSettings, SmtpSettings, WebhookSettings
from notifications.files import write_atomic
from notifications.render import md_to_robot, md_unescape, robot_text


class DeliveryError(Exception):
    """A message could not be delivered this time (the outbox retries it later)."""


@dataclass(frozen=True)
class Message:
    """One message to one recipient on one channel."""

    key: str  # idempotency key: the outbox row's unique key
    recipient: str
    subject: str
    body: str
    attachment: Path | None = None


class FileDrop:
    """Writes each message (and its attachment) into a folder: the default, needs nothing."""

    key: ClassVar[str] = "file"
    per_minute: ClassVar[int | None] = None  # as many messages a minute as it likes

    def __init__(self, settings: FileDropSettings) -> None:
        self.settings = settings

    def send(self, message: Message) -> None:
        """Write the message atomically under its key."""
        folder = self.settings.dir
        folder.mkdir(parents=True, exist_ok=True)
        safe = message.key.replace(":", "_").replace("/", "_")
        write_atomic(folder / f"{safe}.txt", f"收件人：{message.recipient}\n主题：{message.subject}\n\n{message.body}")
        if message.attachment is not None:
            shutil.copyfile(message.attachment, folder / f"{safe}{message.attachment.suffix}")


class Smtp:
    """Sends e-mail, with STARTTLS or SSL and login when configured."""

    key: ClassVar[str] = "smtp"
    per_minute: ClassVar[int | None] = None

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings

    def send(self, message: Message) -> None:
        """Send one e-mail; its Message-ID comes from the idempotency key, so a resend is recognisable."""
        if "@" not in message.recipient:
            raise DeliveryError(f"收件人没有有效的电子邮箱：{message.recipient!r}")
        mail = EmailMessage()
        mail["From"], mail["To"], mail["Subject"] = self.settings.sender, message.recipient, message.subject
        mail["Message-ID"] = make_msgid(idstring=message.key.replace(":", "."), domain="duban")
        mail.set_content(md_unescape(message.body))  # text/plain reads no markup: the ledger's text as typed
        if message.attachment is not None:
            mail.add_attachment(
                message.attachment.read_bytes(),
                maintype="application",
                subtype="vnd.openxmlformats-officedocument.wordprocessingml.document",
                filename=message.attachment.name,
            )
        s = self.settings
        try:
            if s.ssl:
                client: smtplib.SMTP = smtplib.SMTP_SSL(
                    s.host, s.port, timeout=s.timeout_s, context=ssl.create_default_context()
                )
            else:
                client = smtplib.SMTP(s.host, s.port, timeout=s.timeout_s)
            with client:
                if s.starttls:
                    client.starttls(context=ssl.create_default_context())
                if s.username:
                    client.login(s.username, s.password or "")
                client.send_message(mail)
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(f"SMTP {s.host}:{s.port}：{exc}") from exc


#: Answers that mean "too fast": the robot refuses everything for a while (about 10 minutes).
RATE_LIMIT_ERRCODES = frozenset({130101, 45009})  # DingTalk's "send too fast", WeCom's "api freq out of limit"
#: What the robots' other common refusals mean, for the person reading the outbox.
ERRCODE_HINTS = {
    310000: "钉钉机器人拒收：签名、关键词或 IP 不符，请核对 secret 与机器人的安全设置",
    93000: "企业微信机器人拒收：机器人地址无效，请核对 url 中的 key",
}
#: WeCom refuses a markdown message whose content is longer than this (bytes of UTF-8).
WECOM_MARKDOWN_BYTES = 4096
TRUNCATED = "\n\n……（全文见附件/系统）"


class ChannelBlocked(DeliveryError):
    """The receiver refuses everything for a while (a robot's rate limit): wait, do not count the attempt."""

    def __init__(self, reason: str, minutes: int) -> None:
        super().__init__(reason)
        self.minutes = minutes


class Webhook:
    """Posts a markdown message to a WeCom or DingTalk group robot (signed for DingTalk's 加签)."""

    key: ClassVar[str] = "webhook"

    def __init__(self, settings: WebhookSettings, clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        # The signature's timestamp must be the real time (DingTalk refuses one an hour off), never
        # DUBAN_NOW; tests pass their own clock.
        self.clock = clock

    @property
    def per_minute(self) -> int:
        """Return how many messages the robot takes in any 60 seconds."""
        return self.settings.per_minute

    def signed_url(self) -> str:
        """Return the URL to post to: with DingTalk's timestamp and HMAC-SHA256 signature when a secret is set."""
        s = self.settings
        if s.robot != "dingtalk" or not s.secret:
            return s.url
        timestamp = str(round(self.clock() * 1000))
        digest = hmac.new(s.secret.encode(), f"{timestamp}\n{s.secret}".encode(), hashlib.sha256).digest()
        sign = urllib.parse.quote_plus(base64.b64encode(digest).decode())
        return f"{s.url}{'&' if '?' in s.url else '?'}timestamp={timestamp}&sign={sign}"

    def payload(self, message: Message) -> dict[str, Any]:
        """Return the robot's markdown message: DingTalk's title and text, or WeCom's content (cut to 4096 bytes).

        The body is the document's Markdown, its ledger text escaped by the renderer; here every escaped
        character becomes its full-width twin, and the subject is escaped the same way, so a name cannot
        become a link, an image or markup in the group.
        """
        subject, body = robot_text(message.subject), md_to_robot(message.body)
        if self.settings.robot == "dingtalk":
            return {"msgtype": "markdown", "markdown": {"title": subject, "text": f"#### {subject}\n\n{body}"}}
        content = f"**{subject}**\n\n{body}"
        return {"msgtype": "markdown", "markdown": {"content": truncate_utf8(content, WECOM_MARKDOWN_BYTES, TRUNCATED)}}

    def send(self, message: Message) -> None:
        """POST one markdown message; only an answer with errcode 0 is a success."""
        s = self.settings
        if not s.url:
            raise DeliveryError("未配置 webhook 地址（[duban.delivery.webhook] url）")
        request = urllib.request.Request(
            self.signed_url(),
            data=json.dumps(self.payload(message), ensure_ascii=False).encode(),
            method="POST",
            headers={"Content-Type": "application/json; charset=utf-8", "Idempotency-Key": message.key},
        )
        try:
            with urllib.request.urlopen(request, timeout=s.timeout_s) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            if exc.code == 429:
                raise ChannelBlocked(f"机器人限流（HTTP 429），{s.block_minutes} 分钟后重试", s.block_minutes) from exc
            raise DeliveryError(f"webhook 返回 HTTP {exc.code}") from exc
        except (OSError, urllib.error.URLError) as exc:
            raise DeliveryError(f"webhook 无法连接：{exc}") from exc
        self._check(raw)

    def _check(self, raw: bytes) -> None:
        # Both robots answer HTTP 200 whatever happened; the verdict is the body's errcode.
        try:
            answer = json.loads(raw)
            code = int(answer["errcode"])
        except (ValueError, TypeError, KeyError):
            raise DeliveryError(
                f"webhook 的应答不是机器人的应答（没有 errcode）：{raw[:200].decode(errors='replace')!r}"
            ) from None
        if code == 0:
            return
        said = str(answer.get("errmsg") or "").strip()
        if code in RATE_LIMIT_ERRCODES:
            minutes = self.settings.block_minutes
            raise ChannelBlocked(f"机器人限流（errcode {code}），{minutes} 分钟后重试", minutes)
        hint = ERRCODE_HINTS.get(code, "机器人拒收")
        raise DeliveryError(f"{hint}（errcode {code}{'：' + said if said else ''}）")


def truncate_utf8(text: str, limit: int, note: str) -> str:
    """Return the text cut to at most ``limit`` UTF-8 bytes, ending with the note when it was cut."""
    if len(text.encode()) <= limit:
        return text
    room = limit - len(note.encode())
    # Cut on a character boundary: dropping a partial character's bytes cannot leave invalid UTF-8.
    return text.encode()[:room].decode(errors="ignore") + note


# The application channels (notifications/apps.py) build on the classes above: imported once they exist.
from notifications.apps import DingtalkApp, WecomApp  # noqa: E402

CHANNELS: dict[str, Any] = {
    FileDrop.key: FileDrop,
    Smtp.key: Smtp,
    Webhook.key: Webhook,
    WecomApp.key: WecomApp,
    DingtalkApp.key: DingtalkApp,
}


def channel(name: str, settings: DeliverySettings) -> FileDrop | Smtp | Webhook | WecomApp | DingtalkApp:
    """Return the channel registered under a name, configured."""
    if name not in CHANNELS:
        raise DeliveryError(f"未知的发送渠道 {name!r}（可用：{'、'.join(CHANNELS)}）")
    built: FileDrop | Smtp | Webhook | WecomApp | DingtalkApp = CHANNELS[name](getattr(settings, name))
    return built
