"""Delivery settings: which channels each kind of recipient gets, and how to reach them."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict


class FileDropSettings(BaseModel):
    """Where the file drop writes."""

    model_config = ConfigDict(extra="forbid")
    dir: Path = Path("out/outbox")


class SmtpSettings(BaseModel):
    """How to reach the mail server."""

    model_config = ConfigDict(extra="forbid")
    host: str = "127.0.0.1"
    port: int = 25
    starttls: bool = False
    ssl: bool = False
    username: str | None = None
    password: str | None = None
    sender: str = "duban@localhost"
    timeout_s: float = 30


class WebhookSettings(BaseModel):
    """The robot URL the webhook posts to."""

    model_config = ConfigDict(extra="forbid")
    url: str = ""
    timeout_s: float = 10


class DeliverySettings(BaseModel):
    """Which channels each kind of recipient gets, and each channel's settings."""

    model_config = ConfigDict(extra="forbid")
    person: tuple[str, ...] = ("file",)  # notices to the responsible persons
    office: tuple[str, ...] = ("file",)  # agendas and bulletins to the task-force office
    office_recipient: str = "工作专班"
    max_attempts: int = 6
    file: FileDropSettings = FileDropSettings()
    smtp: SmtpSettings = SmtpSettings()
    webhook: WebhookSettings = WebhookSettings()
