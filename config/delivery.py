"""Delivery settings: which channels each kind of recipient gets, and how to reach them."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

#: The host of DingTalk's robot API (a webhook there is a DingTalk robot unless ``kind`` says otherwise).
DINGTALK_HOST = "oapi.dingtalk.com"


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
    """The group robot the webhook posts to, and how fast it may be sent to."""

    model_config = ConfigDict(extra="forbid")
    url: str = ""
    #: DingTalk's 加签 secret (the SEC… string of the robot's security settings); WeCom robots have none.
    secret: str | None = None
    #: "wecom" (企业微信) or "dingtalk" (钉钉); unset: dingtalk when the host is oapi.dingtalk.com, else wecom.
    kind: Literal["wecom", "dingtalk"] | None = Field(default=None, validate_default=True)
    timeout_s: float = 10
    #: Both robots take about 20 messages a minute, then refuse everything for 10 minutes.
    per_minute: int = Field(default=20, ge=1)
    block_minutes: int = Field(default=10, ge=1)

    @field_validator("kind")
    @classmethod
    def _secret_only_for_dingtalk(cls, value: str | None, info: ValidationInfo) -> str | None:
        # Checked on ``kind``, not on ``secret``: an error names its value, and the secret must not be printed.
        if info.data.get("secret") and robot_kind(value, info.data.get("url", "")) != "dingtalk":
            raise ValueError(
                "设置了 secret（钉钉加签密钥），但机器人不是钉钉：钉钉机器人的地址以 "
                'https://oapi.dingtalk.com/ 开头，其他地址请写 kind = "dingtalk"'
            )
        return value

    @property
    def robot(self) -> Literal["wecom", "dingtalk"]:
        """Return the robot's kind: the one configured, else guessed from the URL's host."""
        return robot_kind(self.kind, self.url)


def robot_kind(kind: str | None, url: str) -> Literal["wecom", "dingtalk"]:
    """Return a robot's kind: the one given, else dingtalk for DingTalk's host and wecom for any other."""
    if kind in ("wecom", "dingtalk"):
        return "dingtalk" if kind == "dingtalk" else "wecom"
    return "dingtalk" if urlsplit(url).hostname == DINGTALK_HOST else "wecom"


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
