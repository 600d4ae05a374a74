"""Delivery settings: which channels each kind of recipient gets, and how to reach them."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

#: The host of DingTalk's robot API (a webhook there is a DingTalk robot unless ``kind`` says otherwise).
DINGTALK_HOST = "oapi.dingtalk.com"
#: Every channel a message may be sent on (notifications/delivery.py registers one class for each).
CHANNEL_NAMES = ("file", "smtp", "webhook", "wecom_app", "dingtalk_app")


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


def _base_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("应为以 https:// 或 http:// 开头的地址")
    return value.rstrip("/")


class WecomAppSettings(BaseModel):
    """WeCom application messages (企业微信应用消息): the corp, the application and its secret."""

    model_config = ConfigDict(extra="forbid")
    #: 企业 ID (我的企业 → 企业信息), the application's AgentId and Secret (应用管理 → the application).
    corp_id: str = ""
    agent_id: int | None = None
    secret: str = ""
    base_url: str = "https://qyapi.weixin.qq.com"
    timeout_s: float = 10
    #: At most this many messages in any 60 seconds (unset: no pacing; WeCom takes 30 a minute per member).
    per_minute: int | None = Field(default=None, ge=1)
    #: How long the channel is left alone after WeCom answers "too often" (errcode 45009/45033).
    block_minutes: int = Field(default=10, ge=1)

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _base_url(value)

    def missing(self) -> list[str]:
        """Return the settings a send needs that are not set."""
        return [
            n for n, v in (("corp_id", self.corp_id), ("agent_id", self.agent_id), ("secret", self.secret)) if not v
        ]


class DingtalkAppSettings(BaseModel):
    """DingTalk work notifications (钉钉工作通知): the corp's application key, secret and AgentId."""

    model_config = ConfigDict(extra="forbid")
    #: The internal application's AppKey, AppSecret and AgentId (开发者后台 → 应用开发 → the application).
    app_key: str = ""
    app_secret: str = ""
    agent_id: int | None = None
    base_url: str = "https://oapi.dingtalk.com"
    timeout_s: float = 10
    #: At most this many messages in any 60 seconds (unset: no pacing).
    per_minute: int | None = Field(default=None, ge=1)
    #: How long the channel is left alone after DingTalk answers "over the limit" (errcode 90018, 90006 …).
    block_minutes: int = Field(default=10, ge=1)

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _base_url(value)

    def missing(self) -> list[str]:
        """Return the settings a send needs that are not set."""
        return [
            n
            for n, v in (("app_key", self.app_key), ("app_secret", self.app_secret), ("agent_id", self.agent_id))
            if not v
        ]


#: What each application channel's settings are, as users read it.
_APP_NAMES = {"wecom_app": "企业微信应用消息", "dingtalk_app": "钉钉工作通知"}


class DeliverySettings(BaseModel):
    """Which channels each kind of recipient gets, and each channel's settings."""

    model_config = ConfigDict(extra="forbid")
    # The application channels come first: the check of ``person`` and ``office`` below reads them (a
    # validator sees only the fields declared before its own), and so names a missing setting without
    # ever showing the secrets beside it.
    wecom_app: WecomAppSettings = WecomAppSettings()
    dingtalk_app: DingtalkAppSettings = DingtalkAppSettings()
    person: tuple[str, ...] = ("file",)  # notices to the responsible persons
    office: tuple[str, ...] = ("file",)  # agendas and bulletins to the task-force office
    office_recipient: str = "工作专班"
    max_attempts: int = 6
    file: FileDropSettings = FileDropSettings()
    smtp: SmtpSettings = SmtpSettings()
    webhook: WebhookSettings = WebhookSettings()

    @field_validator("person", "office")
    @classmethod
    def _known_and_configured(cls, value: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        unknown = [name for name in value if name not in CHANNEL_NAMES]
        if unknown:
            raise ValueError(f"未知的发送渠道 {'、'.join(unknown)}（可用：{'、'.join(CHANNEL_NAMES)}）")
        for name in dict.fromkeys(value):
            settings = info.data.get(name) if name in _APP_NAMES else None
            if settings is None:
                continue  # not an application channel, or its own table was refused (and said so)
            missing = settings.missing()
            if missing:
                keys = "、".join(f"{name}.{key}" for key in missing)
                raise ValueError(
                    f"渠道 {name}（{_APP_NAMES[name]}）已列入 {info.field_name}，"
                    f"但 [duban.delivery.{name}] 缺少设置：{keys}"
                )
        return value
