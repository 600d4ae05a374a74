"""Runtime settings: database, time zone, policy file, who is acting."""

from __future__ import annotations

import getpass
import ipaddress
import os
import tomllib
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from config.delivery import DeliverySettings
from config.keys import unknown_tables
from config.limits import LimitsSettings
from config.policy import ConfigError, Policy, _format_errors, load_policy

DEFAULT_DATABASE_URL = "sqlite:///duban.db"
CONFIG_FILE_ENV = "DUBAN_CONFIG"
DEFAULT_CONFIG_FILE = Path("duban.toml")


class WebSettings(BaseModel):
    """The web view (`duban serve`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    #: A session ends after this many hours without a request (sign in again).
    session_hours: int = Field(default=8, ge=1, le=24 * 30)
    #: A session ends this many days after its sign-in, however busy it is (sign in again).
    session_lifetime_days: int = Field(default=7, ge=1, le=90)
    #: Send cookies only over HTTPS (turn on behind an HTTPS proxy).
    cookie_secure: bool = False
    #: The largest ledger upload accepted.
    max_upload_mb: int = Field(default=50, ge=1, le=1024)
    #: Reverse proxies (addresses or CIDR ranges) whose X-Forwarded-For is believed; none by default,
    #: so the address recorded and rate-limited is the peer's own.
    trusted_proxies: tuple[str, ...] = ()
    #: The address persons' phones reach duban at (e.g. https://duban.example.gov.cn): personal links
    #: (`duban person link`) start with it; empty: http://host:port.
    public_url: str = ""
    #: How many days a personal link stays valid unless `--days` says otherwise.
    link_days: int = Field(default=30, ge=1, le=366)
    #: The largest photo accepted with a report from the site (each; 1–9 per report).
    max_photo_mb: int = Field(default=10, ge=1, le=100)
    #: Keep a photo's GPS position (EXIF) when it is re-encoded; off by default: location removed.
    keep_photo_location: bool = False

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for entry in value:
            try:
                ipaddress.ip_network(entry.strip(), strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} 不是 IP 地址或网段（如 10.0.0.5、10.0.0.0/24、::1）") from None
        return tuple(entry.strip() for entry in value)

    def base_url(self) -> str:
        """Return the address personal links start with (no trailing slash)."""
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    def proxies(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        """Return the trusted proxies as networks (a single address is a /32 or /128)."""
        return tuple(ipaddress.ip_network(entry, strict=False) for entry in self.trusted_proxies)


class Settings(BaseModel):
    """Where the data lives and how the engine runs; read from duban.toml and DUBAN_* variables."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    database_url: str = DEFAULT_DATABASE_URL
    timezone: str = "Asia/Shanghai"
    policy_file: Path | None = None
    templates_dir: Path | None = None
    out_dir: Path = Path("out")
    actor: str = Field(default_factory=lambda: os.environ.get("DUBAN_ACTOR") or _os_user())
    #: 发文机关 and the office that signs the paperwork, and the prefix of document numbers.
    issuer: str = "吕梁市住房和城乡建设局"
    office: str = "吕梁市住房和城乡建设局老旧小区改造工作专班"
    doc_prefix: str = "吕建督"
    #: Document numbers (文号): the series each kind is numbered in, from 1 each year by the
    #: document's own date (吕建督〔2024〕12号). A kind not named has no number. Unset: every notice
    #: and decision in ``doc_prefix``, the weekly bulletin in ``doc_prefix`` + 通.
    doc_series: dict[str, str] | None = None
    #: When `duban schedule` runs the daily evaluation (local time in `timezone`); reports follow it.
    daily_time: str = Field(default="07:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    #: The whole-country agenda lists at most this many red projects and projects needing a person;
    #: the rest are counted by district (each district's agenda lists all of its own).
    agenda_list_limit: int = Field(default=200, ge=1)
    #: A job whose holder has not been heard of for this long is taken over by another scheduler.
    lease_minutes: int = Field(default=10, ge=1, le=24 * 60)
    delivery: DeliverySettings = DeliverySettings()
    web: WebSettings = WebSettings()
    limits: LimitsSettings = LimitsSettings()
    config_file: Path | None = None

    @field_validator("doc_series")
    @classmethod
    def _known_kinds(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        from config.vocabulary import Kind

        unknown = sorted(set(value or {}) - {k.value for k in Kind})
        if unknown:
            raise ValueError(f"未知的文书种类 {'、'.join(unknown)}（可用：{'、'.join(k.value for k in Kind)}）")
        empty = sorted(k for k, v in (value or {}).items() if not v.strip())
        if empty:
            raise ValueError(f"文号系列不能为空：{'、'.join(empty)}")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"未知的时区 {value!r}") from None
        return value

    def series(self) -> dict[str, str]:
        """Return the document series of every numbered kind (kind → series)."""
        if self.doc_series is not None:
            return dict(self.doc_series)
        notices = ("review_notice", "suspension_decision", "dismissal_decision", "correction_notice")
        return {**dict.fromkeys(notices, self.doc_prefix), "weekly_bulletin": f"{self.doc_prefix}通"}

    @property
    def tz(self) -> ZoneInfo:
        """Return the configured time zone."""
        return ZoneInfo(self.timezone)

    def policy(self) -> Policy:
        """Load the escalation policy this installation uses."""
        path = self.policy_file
        if path is not None and not path.is_absolute() and self.config_file is not None:
            path = self.config_file.parent / path
        return load_policy(path)


def _os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user database in some containers
        return "unknown"


_ENV_KEYS = {
    "DUBAN_DATABASE_URL": "database_url",
    "DUBAN_TIMEZONE": "timezone",
    "DUBAN_POLICY_FILE": "policy_file",
    "DUBAN_TEMPLATES_DIR": "templates_dir",
    "DUBAN_OUT_DIR": "out_dir",
    "DUBAN_ACTOR": "actor",
    "DUBAN_DAILY_TIME": "daily_time",
}


def load_settings(database_url: str | None = None, config_file: Path | None = None) -> Settings:
    """Merge, lowest first: defaults, the config file, DUBAN_* variables, then --db."""
    path = config_file or (Path(os.environ[CONFIG_FILE_ENV]) if os.environ.get(CONFIG_FILE_ENV) else None)
    if path is None and DEFAULT_CONFIG_FILE.exists():
        path = DEFAULT_CONFIG_FILE
    data: dict[str, object] = {}
    if path is not None:
        try:
            document = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{path}: 配置文件不存在") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: 不是有效的 TOML：{exc}") from None
        data = document.get("duban", {})
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: [duban] 必须是一个表")
        # A table or key that is not read is refused: [web] for [duban.web] would drop cookie_secure silently.
        unknown = unknown_tables(path, document, "duban", Settings)
        if unknown:
            raise ConfigError("\n".join(unknown))
        data["config_file"] = path
    for env, key in _ENV_KEYS.items():
        if os.environ.get(env):
            data[key] = os.environ[env]
    if database_url:
        data["database_url"] = database_url
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_errors(path or Path("(环境变量)"), exc, data)) from None
