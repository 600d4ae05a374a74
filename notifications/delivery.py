"""Delivery channels: a file drop, e-mail over SMTP, and a WeCom/DingTalk-style robot webhook.

Channels are small registered classes keyed by a stable name (stored in the outbox). They send
one message and raise on failure; the outbox (engine/outbox.py) owns retries and exactly-once.
"""

from __future__ import annotations

import json
import shutil
import smtplib
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any, ClassVar

from config.delivery import DeliverySettings, FileDropSettings, SmtpSettings, WebhookSettings
from notifications.files import write_atomic


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

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings

    def send(self, message: Message) -> None:
        """Send one e-mail; its Message-ID comes from the idempotency key, so a resend is recognisable."""
        if "@" not in message.recipient:
            raise DeliveryError(f"收件人没有有效的电子邮箱：{message.recipient!r}")
        mail = EmailMessage()
        mail["From"], mail["To"], mail["Subject"] = self.settings.sender, message.recipient, message.subject
        mail["Message-ID"] = make_msgid(idstring=message.key.replace(":", "."), domain="duban")
        mail.set_content(message.body)
        if message.attachment is not None:
            mail.add_attachment(message.attachment.read_bytes(), maintype="application",
                                subtype="vnd.openxmlformats-officedocument.wordprocessingml.document",
                                filename=message.attachment.name)
        s = self.settings
        try:
            if s.ssl:
                client: smtplib.SMTP = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout_s,
                                                        context=ssl.create_default_context())
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


class Webhook:
    """Posts the text to a robot URL (WeCom/DingTalk markdown message)."""

    key: ClassVar[str] = "webhook"

    def __init__(self, settings: WebhookSettings) -> None:
        self.settings = settings

    def send(self, message: Message) -> None:
        """POST one markdown message; any answer but 2xx is a failure."""
        if not self.settings.url:
            raise DeliveryError("未配置 webhook 地址（[delivery.webhook] url）")
        payload = {"msgtype": "markdown", "markdown": {"title": message.subject,
                                                        "content": f"**{message.subject}**\n\n{message.body}"}}
        request = urllib.request.Request(self.settings.url, data=json.dumps(payload, ensure_ascii=False).encode(),
                                         method="POST", headers={"Content-Type": "application/json; charset=utf-8",
                                                                 "Idempotency-Key": message.key})
        try:
            with urllib.request.urlopen(request, timeout=self.settings.timeout_s) as response:
                if not 200 <= response.status < 300:
                    raise DeliveryError(f"webhook 返回 {response.status}")
        except urllib.error.HTTPError as exc:
            raise DeliveryError(f"webhook 返回 {exc.code}") from exc
        except (OSError, urllib.error.URLError) as exc:
            raise DeliveryError(f"webhook 无法连接：{exc}") from exc


CHANNELS: dict[str, Any] = {FileDrop.key: FileDrop, Smtp.key: Smtp, Webhook.key: Webhook}


def channel(name: str, settings: DeliverySettings) -> FileDrop | Smtp | Webhook:
    """Return the channel registered under a name, configured."""
    if name not in CHANNELS:
        raise DeliveryError(f"未知的发送渠道 {name!r}（可用：{'、'.join(CHANNELS)}）")
    built: FileDrop | Smtp | Webhook = CHANNELS[name](getattr(settings, name))
    return built
