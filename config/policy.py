"""The escalation policy: validated data that the rules are built from."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from config.vocabulary import LADDER_KINDS, Action, AgendaItem, Kind, PersonStatus

DEFAULT_POLICY_FILE = Path(__file__).with_name("policy.toml")


class ConfigError(Exception):
    """A configuration file that cannot be used; the message names file, key and value."""


_STATUS_RANK = {
    PersonStatus.ACTIVE: 0,
    PersonStatus.REVIEWED: 1,
    PersonStatus.SUSPENDED: 2,
    PersonStatus.DISMISSED: 3,
}


class LadderRung(BaseModel):
    """One rung of the ladder: a level and what it calls for."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    level: int = Field(ge=1)
    action: Action
    status: PersonStatus
    notice: Kind
    agenda: AgendaItem
    title: str = Field(min_length=1)

    @field_validator("notice", mode="before")
    @classmethod
    def _notice_is_registered(cls, value: object) -> object:
        # Checked against the registry when the policy loads: a typo must not reach the record.
        if value not in {k.value for k in LADDER_KINDS}:
            raise ValueError(f"应为已登记的通知种类之一：{'、'.join(k.value for k in LADDER_KINDS)}")
        return value

    @field_validator("agenda", mode="before")
    @classmethod
    def _agenda_is_registered(cls, value: object) -> object:
        if value not in {item.value for item in AgendaItem}:
            raise ValueError(f"应为已登记的议程事项之一：{'、'.join(item.value for item in AgendaItem)}")
        return value


#: At most this many warnings per planned date, none earlier than this many days before it.
MAX_REMINDERS = 6
MAX_REMIND_DAYS = 60

Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
WEEKDAYS: tuple[str, ...] = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


class MeetingPolicy(BaseModel):
    """When the party-group meeting sits."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    weekday: Weekday | None = "monday"
    extra_dates: tuple[dt.date, ...] = ()
    skip_holidays: bool = True


class Policy(BaseModel):
    """The whole escalation policy (defaults are those of spec/escalation-rules.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    grace_days: int = Field(default=0, ge=0, le=365)
    strike_grouping: Literal["per_due_date", "per_node"] = "per_due_date"
    strike_window_days: int | None = Field(default=None, ge=1)
    warning_days: int = Field(default=3, ge=0, le=365)
    shift_deadlines_to_workday: bool = False
    #: Warnings (预警) to the responsible person this many days before a node's planned date (0: on the day);
    #: one that falls on a day off goes out on the working day before (engine/paperwork/reminders.py).
    remind_days_before: tuple[int, ...] = (3, 1, 0)
    ladder: tuple[LadderRung, ...]
    meetings: MeetingPolicy = MeetingPolicy()

    @field_validator("ladder")
    @classmethod
    def _ladder_is_a_ladder(cls, ladder: tuple[LadderRung, ...]) -> tuple[LadderRung, ...]:
        levels = [rung.level for rung in ladder]
        if not ladder or levels != list(range(1, len(ladder) + 1)):
            raise ValueError(f"levels must be 1, 2, … without gaps, in order; got {levels}")
        ranks = [_STATUS_RANK[rung.status] for rung in ladder]
        if ranks != sorted(ranks) or ranks[0] == 0:
            raise ValueError("statuses must rise with the level and none may be 'active'")
        return ladder

    @field_validator("remind_days_before")
    @classmethod
    def _reminders_are_a_few_distinct_days(cls, days: tuple[int, ...]) -> tuple[int, ...]:
        # Said in the words users read: the loader names the file, the key and the value before it.
        if len(days) > MAX_REMINDERS:
            raise ValueError(f"remind_days_before 至多 {MAX_REMINDERS} 个提前天数，现有 {len(days)} 个")
        wrong = [d for d in days if not 0 <= d <= MAX_REMIND_DAYS]
        if wrong:
            raise ValueError(
                f"remind_days_before 的提前天数应在 0 至 {MAX_REMIND_DAYS} 之间：{'、'.join(map(str, wrong))}"
            )
        if len(set(days)) != len(days):
            raise ValueError("remind_days_before 的提前天数不能重复")
        return tuple(sorted(days, reverse=True))

    @model_validator(mode="after")
    def _dismissal_is_last(self) -> Policy:
        if self.ladder[-1].action is not Action.DISMISSAL:
            raise ValueError("the last rung must be the dismissal")
        return self

    def rung_for(self, level: int) -> LadderRung:
        """Return the rung that applies to a level (the last rung covers every higher level)."""
        return self.ladder[min(level, len(self.ladder)) - 1]

    def status_for(self, level: int | None) -> PersonStatus:
        """Return the person status for a highest counted level (None: no counted strike)."""
        return PersonStatus.ACTIVE if not level else self.rung_for(level).status

    def fingerprint(self) -> str:
        """Return a stable hash of what changes levels (grouping and window)."""
        payload = {
            "grouping": self.strike_grouping,
            "window": self.strike_window_days,
            "ladder": [r.model_dump(mode="json") for r in self.ladder],
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def _format_errors(path: Path, error: ValidationError, data: object) -> str:
    lines = []
    for item in error.errors():
        loc = ".".join(str(part) for part in item["loc"])
        value: object = data
        for part in item["loc"]:
            try:
                value = value[part]  # type: ignore[index]
            except (KeyError, IndexError, TypeError):
                value = item.get("input")
                break
        lines.append(f"{path}: 键 {loc or '(整体)'} 的值 {value!r} 无效：{item['msg'].removeprefix('Value error, ')}")
    return "\n".join(lines)


def load_policy(path: Path | None = None) -> Policy:
    """Load and validate a policy file; raise ConfigError naming file, key and value."""
    path = path or DEFAULT_POLICY_FILE
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: 策略文件不存在") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: 不是有效的 TOML：{exc}") from None
    from config.keys import unknown_keys

    unknown = unknown_keys(data, Policy)  # named with a close match, as duban.toml's are
    if unknown:
        raise ConfigError("\n".join(f"{path}：{line}" for line in unknown))
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_errors(path, exc, data)) from None
