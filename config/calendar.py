"""The official working-day calendar (holidays and make-up workdays) and the meeting schedule."""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, Strict, ValidationError

from config.policy import WEEKDAYS, ConfigError, MeetingPolicy, _format_errors

DEFAULT_HOLIDAY_FOLDER = Path(__file__).with_name("holidays")
_PROJECT_ROOT = Path(__file__).resolve().parent.parent
_TABLE_NAME = re.compile(r"^(\d{4})\.toml$")
_ONE_DAY = dt.timedelta(days=1)
# No valid table has a year without a working day; the bound only stops a broken table from looping.
_MAX_DAYS_OFF = 366
PREVIOUS_MEETING_LOOKBACK_DAYS = 400

# Strict: TOML has real date literals, and lax parsing would turn the string "2024-10-01" or the
# integer 20241001 (read as a Unix timestamp) into a date without complaint.
_StrictDate = Annotated[dt.date, Strict()]


def _display(path: Path) -> str:
    """Return the path relative to the project when it lies inside it, else as given."""
    try:
        return path.resolve().relative_to(_PROJECT_ROOT).as_posix()
    except ValueError:
        return str(path)


class HolidayTableMissing(ConfigError):
    """No holiday table for a year: working days of that year cannot be known, so none are guessed."""

    def __init__(self, year: int, path: Path) -> None:
        self.year = year
        self.path = path
        super().__init__(
            f"缺少 {year} 年节假日安排表（{_display(path)}）：请按国务院办公厅关于 {year} 年"
            f"部分节假日安排的通知补充后再排会议日期、顺延期限"
        )


@dataclass(frozen=True)
class HolidayNotice:
    """The State Council General Office notice a year's table was copied from."""

    title: str
    number: str
    published: dt.date
    url: str


@dataclass(frozen=True)
class YearTable:
    """One year's official days off and make-up working days."""

    year: int
    holidays: frozenset[dt.date]
    workdays: frozenset[dt.date]
    source: HolidayNotice

    @classmethod
    def load(cls, path: Path) -> YearTable:
        """Load and validate a table file named YYYY.toml; raise ConfigError naming file, key and value."""
        shown = _display(path)
        match = _TABLE_NAME.match(path.name)
        if match is None:
            raise ConfigError(f"{shown}: 节假日安排表的文件名应为“年份.toml”，如 2025.toml")
        year = int(match.group(1))
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise HolidayTableMissing(year, path) from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{shown}: 不是有效的 TOML：{exc}") from None
        try:
            raw = _TableFile.model_validate(data)
        except ValidationError as exc:
            raise ConfigError(_format_errors(Path(shown), exc, data)) from None
        _check_dates(shown, year, raw)
        source = HolidayNotice(raw.source.title, raw.source.number, raw.source.published, raw.source.url)
        return cls(year, frozenset(raw.holidays), frozenset(raw.workdays), source)


class _SourceFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str = Field(min_length=1)
    number: str = Field(min_length=1)
    published: _StrictDate
    url: str = Field(pattern=r"^https?://(www\.)?gov\.cn/")


class _TableFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    holidays: list[_StrictDate]
    workdays: list[_StrictDate]
    source: _SourceFile


def _check_dates(shown: str, year: int, raw: _TableFile) -> None:
    """Raise ConfigError for what the schema cannot see: wrong year, duplicates, contradictions."""
    if f"{year}年" not in raw.source.title.replace(" ", ""):
        raise ConfigError(f"{shown}: 键 source.title 的值 {raw.source.title!r} 无效：标题应为 {year} 年的通知")
    seen: dict[dt.date, str] = {}
    for key, days in (("holidays", raw.holidays), ("workdays", raw.workdays)):
        for index, day in enumerate(days):
            where = f"{shown}: 键 {key}.{index} 的值 {day.isoformat()}"
            if day.year != year:
                raise ConfigError(f"{where} 无效：不在 {year} 年内")
            if day in seen:
                what = "重复" if seen[day] == key else "同时出现在 holidays 与 workdays 中"
                raise ConfigError(f"{where} 无效：{what}")
            # A make-up workday only means something on a weekend; on a weekday it is a typo.
            if key == "workdays" and day.weekday() < 5:
                raise ConfigError(f"{where} 无效：调休上班日应为周六或周日")
            seen[day] = key


class WorkCalendar:
    """Working days per the shipped holiday tables, loaded per year on first use."""

    def __init__(self, folder: Path = DEFAULT_HOLIDAY_FOLDER) -> None:
        self.folder = folder
        self._tables: dict[int, YearTable] = {}

    def table(self, year: int) -> YearTable:
        """Return a year's table; raise HolidayTableMissing when it has none."""
        cached = self._tables.get(year)
        if cached is None:
            path = self.folder / f"{year:04d}.toml"
            if not path.is_file():
                raise HolidayTableMissing(year, path)
            cached = self._tables[year] = YearTable.load(path)
        return cached

    def years(self) -> list[int]:
        """Return the years that have a table, ascending."""
        if not self.folder.is_dir():
            return []
        return sorted(int(m.group(1)) for p in self.folder.iterdir() if (m := _TABLE_NAME.match(p.name)))

    def source(self, year: int) -> HolidayNotice:
        """Return the notice a year's table was copied from."""
        return self.table(year).source

    def is_holiday(self, day: dt.date) -> bool:
        """Return whether the day is an official day off listed in the notice (plain weekends are not)."""
        return day in self.table(day.year).holidays

    def is_workday(self, day: dt.date) -> bool:
        """Return whether the day is a working day: a weekday that is no holiday, or a make-up workday."""
        table = self.table(day.year)
        if day in table.workdays:
            return True
        return day.weekday() < 5 and day not in table.holidays

    def next_workday(self, day: dt.date) -> dt.date:
        """Return the first working day on or after the day."""
        return self._first_workday(day, _ONE_DAY)

    def previous_workday(self, day: dt.date) -> dt.date:
        """Return the last working day strictly before the day."""
        return self._first_workday(day - _ONE_DAY, -_ONE_DAY)

    def _first_workday(self, day: dt.date, step: dt.timedelta) -> dt.date:
        start = day
        for _ in range(_MAX_DAYS_OFF):
            if self.is_workday(day):
                return day
            day += step
        raise ConfigError(
            f"{_display(self.folder)}: 自 {start.isoformat()} 起连续 {_MAX_DAYS_OFF} 天没有工作日，节假日安排表有误"
        )


def shift_deadline(day: dt.date, calendar: WorkCalendar) -> dt.date:
    """Return the deadline moved to the next working day on or after it."""
    return calendar.next_workday(day)


def _scheduled(policy: MeetingPolicy, start: dt.date, end: dt.date) -> list[dt.date]:
    """Return the dates the policy names in [start, end], before any move off a day off."""
    if start > end:
        return []
    found = {day for day in policy.extra_dates if start <= day <= end}
    if policy.weekday is not None:
        day = start + dt.timedelta(days=(WEEKDAYS.index(policy.weekday) - start.weekday()) % 7)
        while day <= end:
            found.add(day)
            day += dt.timedelta(days=7)
    return sorted(found)


def _is_scheduled(policy: MeetingPolicy, day: dt.date) -> bool:
    return day in policy.extra_dates or (policy.weekday is not None and WEEKDAYS[day.weekday()] == policy.weekday)


def _workday_until(calendar: WorkCalendar, day: dt.date, last: dt.date) -> dt.date | None:
    """Return the first working day in [day, last], or None; never reads a table past last."""
    while day <= last:
        if calendar.is_workday(day):
            return day
        day += _ONE_DAY
    return None


def _carried_in(policy: MeetingPolicy, start: dt.date, calendar: WorkCalendar) -> bool:
    """Return whether a meeting scheduled before start is moved onto a day on or after it."""
    # It is, exactly when the days between it and start are all days off.
    day = start - _ONE_DAY
    for _ in range(_MAX_DAYS_OFF):
        if calendar.is_workday(day):
            return False
        if _is_scheduled(policy, day):
            return True
        day -= _ONE_DAY
    return False


def meeting_dates(policy: MeetingPolicy, start: dt.date, end: dt.date, calendar: WorkCalendar) -> list[dt.date]:
    """Return the days in [start, end] on which a meeting sits, ascending."""
    scheduled = _scheduled(policy, start, end)
    if not policy.skip_holidays:
        return scheduled
    # Dates are those the meeting actually sits on: a holiday Monday just before start can land in
    # the range, and one near end can move out of it.
    held = {moved for day in scheduled if (moved := _workday_until(calendar, day, end)) is not None}
    if start <= end and _carried_in(policy, start, calendar):
        moved = _workday_until(calendar, start, end)
        if moved is not None:
            held.add(moved)
    return sorted(held)


def previous_meeting(policy: MeetingPolicy, before: dt.date, calendar: WorkCalendar) -> dt.date | None:
    """Return the last day strictly before the given day on which a meeting sat, or None."""
    last = before - _ONE_DAY
    first = before - dt.timedelta(days=PREVIOUS_MEETING_LOOKBACK_DAYS)
    # Moving to the next working day keeps the order, so the latest scheduled date that still lands
    # before the day gives the answer; walking back lazily reads only the years needed.
    for day in reversed(_scheduled(policy, first, last)):
        if not policy.skip_holidays:
            return day
        moved = _workday_until(calendar, day, last)
        if moved is not None:
            return moved
    return None


def agenda_day(meeting: dt.date, calendar: WorkCalendar) -> dt.date:
    """Return the working day before the meeting, on which its agenda is generated."""
    return calendar.previous_workday(meeting)
