"""The shipped holiday tables agree with chinesecalendar day by day; meetings follow the working days."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import chinese_calendar
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from config.calendar import (
    DEFAULT_HOLIDAY_FOLDER,
    HolidayTableMissing,
    WorkCalendar,
    agenda_day,
    meeting_dates,
    previous_meeting,
    shift_deadline,
)
from config.policy import ConfigError, MeetingPolicy

SHIPPED_YEARS = [2024, 2025, 2026]
D = dt.date
CALENDAR = WorkCalendar()
MONDAYS = MeetingPolicy(weekday="monday", skip_holidays=True)
# Strategy bounds stay clear of 2023 and 2027, which have no table (2024-01-01 is a holiday, so a
# range starting on the 2nd may have to look at 2023-12-31).
covered = st.dates(min_value=D(2024, 1, 3), max_value=D(2026, 12, 20))


def _days(year: int) -> list[dt.date]:
    first = D(year, 1, 1)
    return [first + dt.timedelta(days=n) for n in range((D(year + 1, 1, 1) - first).days)]


def test_shipped_years() -> None:
    assert CALENDAR.years() == SHIPPED_YEARS


@pytest.mark.parametrize("year", SHIPPED_YEARS)
def test_every_day_agrees_with_chinesecalendar(year: int) -> None:
    table = CALENDAR.table(year)
    for day in _days(year):
        assert CALENDAR.is_workday(day) == chinese_calendar.is_workday(day), day
        # chinesecalendar names a day only when the notice lists it; the listed days off are our holidays.
        off, name = chinese_calendar.get_holiday_detail(day)
        assert CALENDAR.is_holiday(day) == (off and name is not None), day
        assert (day in table.workdays) == (not off and name is not None), day


@pytest.mark.parametrize(
    ("year", "number", "published"),
    [
        (2024, "国办发明电〔2023〕7号", D(2023, 10, 25)),
        (2025, "国办发明电〔2024〕12号", D(2024, 11, 12)),
        (2026, "国办发明电〔2025〕7号", D(2025, 11, 4)),
    ],
)
def test_each_table_names_its_notice(year: int, number: str, published: dt.date) -> None:
    source = CALENDAR.source(year)
    assert (source.number, source.published) == (number, published)
    assert source.title == f"国务院办公厅关于{year}年部分节假日安排的通知"
    assert source.url.startswith("https://www.gov.cn/")


def test_make_up_workdays_and_holidays() -> None:
    assert CALENDAR.is_workday(D(2024, 2, 4))  # a Sunday worked for the Spring Festival
    assert CALENDAR.is_workday(D(2024, 9, 29))  # a Sunday worked for National Day
    assert not CALENDAR.is_holiday(D(2024, 9, 29))
    for n in range(1, 8):
        assert CALENDAR.is_holiday(D(2024, 10, n)) and not CALENDAR.is_workday(D(2024, 10, n))
    assert not CALENDAR.is_workday(D(2024, 10, 13))  # a plain Sunday is a day off ...
    assert not CALENDAR.is_holiday(D(2024, 10, 13))  # ... but not a listed holiday
    assert CALENDAR.is_workday(D(2024, 10, 14))


def test_next_workday_and_deadline_shift() -> None:
    assert CALENDAR.next_workday(D(2024, 7, 8)) == D(2024, 7, 8)
    assert CALENDAR.next_workday(D(2024, 10, 1)) == D(2024, 10, 8)
    assert CALENDAR.next_workday(D(2024, 9, 28)) == D(2024, 9, 29)  # Saturday → make-up Sunday
    assert shift_deadline(D(2025, 1, 28), CALENDAR) == D(2025, 2, 5)
    assert shift_deadline(D(2026, 2, 14), CALENDAR) == D(2026, 2, 14)  # make-up Saturday stays


def test_year_without_table_is_refused_not_guessed() -> None:
    with pytest.raises(HolidayTableMissing) as error:
        CALENDAR.is_workday(D(2027, 3, 1))
    message = str(error.value)
    assert "2027" in message and "config/holidays/2027.toml" in message
    assert error.value.year == 2027
    assert isinstance(error.value, ConfigError)
    with pytest.raises(HolidayTableMissing, match="2027"):
        CALENDAR.source(2027)
    with pytest.raises(HolidayTableMissing, match="2027"):
        shift_deadline(D(2026, 12, 31) + dt.timedelta(days=3), CALENDAR)


def test_meetings_in_a_year_without_table() -> None:
    with pytest.raises(HolidayTableMissing, match="2027"):
        meeting_dates(MONDAYS, D(2027, 3, 1), D(2027, 3, 31), CALENDAR)
    plain = MeetingPolicy(weekday="monday", skip_holidays=False)
    assert meeting_dates(plain, D(2027, 3, 1), D(2027, 3, 15), CALENDAR) == [
        D(2027, 3, 1),
        D(2027, 3, 8),
        D(2027, 3, 15),
    ]
    assert previous_meeting(plain, D(2027, 3, 10), CALENDAR) == D(2027, 3, 8)


def test_a_meeting_moved_across_new_year_needs_last_years_table() -> None:
    # Monday 2024-01-01 is scheduled and a holiday: it sits on the 2nd, whatever 2023 says.
    assert meeting_dates(MONDAYS, D(2024, 1, 2), D(2024, 1, 9), CALENDAR) == [D(2024, 1, 2), D(2024, 1, 8)]
    # Whether a Saturday 2023-12-30 meeting sits on 2024-01-02 depends on 2023-12-31: refused, not guessed.
    saturdays = MeetingPolicy(weekday="saturday")
    with pytest.raises(HolidayTableMissing, match="2023"):
        meeting_dates(saturdays, D(2024, 1, 2), D(2024, 1, 9), CALENDAR)
    with pytest.raises(HolidayTableMissing, match="2023"):
        agenda_day(D(2024, 1, 2), CALENDAR)


def test_an_empty_folder_has_no_years(tmp_path: Path) -> None:
    calendar = WorkCalendar(tmp_path / "absent")
    assert calendar.years() == []
    with pytest.raises(HolidayTableMissing, match="2024"):
        calendar.is_workday(D(2024, 5, 6))


def _bad_table(tmp_path: Path, old: str, new: str, year: int = 2024) -> Path:
    folder = tmp_path / "holidays"
    folder.mkdir()
    text = (DEFAULT_HOLIDAY_FOLDER / f"{year}.toml").read_text(encoding="utf-8")
    assert old in text
    (folder / f"{year}.toml").write_text(text.replace(old, new, 1), encoding="utf-8")
    return folder


@pytest.mark.parametrize(
    ("old", "new", "key", "value"),
    [
        ("2024-06-10,", "2025-06-10,", "holidays.17", "2025-06-10"),  # outside its year
        ("2024-06-10,", '"2024-06-10",', "holidays.17", "2024-06-10"),  # a string, not a date
        ("2024-06-10,", "20240610,", "holidays.17", "20240610"),  # an integer, not a date
        ("2024-06-10,", "2024-06-10T09:00:00,", "holidays.17", "2024, 6, 10, 9"),  # a date-time
        ("2024-10-12,", "2024-10-07,", "workdays.7", "2024-10-07"),  # both holiday and workday
        ("2024-10-12,", "2024-10-11,", "workdays.7", "2024-10-11"),  # a Friday is no make-up day
        ("2024-10-12,", "2024-09-29,", "workdays.7", "2024-09-29"),  # duplicate
        ("published = 2023-10-25", 'published = "last autumn"', "source.published", "last autumn"),
        ("关于2024年", "关于2023年", "source.title", "2023"),
    ],
)
def test_bad_table_names_file_key_and_value(tmp_path: Path, old: str, new: str, key: str, value: str) -> None:
    folder = _bad_table(tmp_path, old, new)
    with pytest.raises(ConfigError) as error:
        WorkCalendar(folder).is_workday(D(2024, 3, 1))
    message = str(error.value)
    assert not isinstance(error.value, HolidayTableMissing)
    assert str(folder / "2024.toml") in message and key in message and value in message, message


def test_table_that_is_not_toml_is_refused(tmp_path: Path) -> None:
    folder = _bad_table(tmp_path, "holidays = [", "holidays = [[")
    with pytest.raises(ConfigError, match="TOML"):
        WorkCalendar(folder).is_workday(D(2024, 3, 1))


def test_only_the_years_touched_are_read(tmp_path: Path) -> None:
    folder = tmp_path / "holidays"
    shutil.copytree(DEFAULT_HOLIDAY_FOLDER, folder)
    (folder / "2025.toml").write_text("holidays = oops", encoding="utf-8")
    calendar = WorkCalendar(folder)
    assert calendar.is_workday(D(2024, 9, 29))
    with pytest.raises(ConfigError, match=r"2025\.toml"):
        calendar.is_workday(D(2025, 1, 2))


def test_meeting_on_a_holiday_monday_moves_to_the_next_workday() -> None:
    assert meeting_dates(MONDAYS, D(2024, 9, 1), D(2024, 10, 31), CALENDAR) == [
        D(2024, 9, 2),
        D(2024, 9, 9),
        D(2024, 9, 18),  # Mid-autumn Monday 16th, and the 17th off too
        D(2024, 9, 23),
        D(2024, 9, 30),
        D(2024, 10, 8),  # National Day Monday the 7th
        D(2024, 10, 14),
        D(2024, 10, 21),
        D(2024, 10, 28),
    ]


def test_meetings_without_skipping_stay_on_holidays() -> None:
    plain = MeetingPolicy(weekday="monday", skip_holidays=False)
    assert D(2024, 10, 7) in meeting_dates(plain, D(2024, 10, 1), D(2024, 10, 31), CALENDAR)


def test_extra_dates_are_included_and_moved() -> None:
    policy = MeetingPolicy(weekday="monday", extra_dates=(D(2024, 9, 26), D(2024, 10, 3), D(2024, 12, 1)))
    assert meeting_dates(policy, D(2024, 9, 23), D(2024, 10, 10), CALENDAR) == [
        D(2024, 9, 23),
        D(2024, 9, 26),
        D(2024, 9, 30),
        D(2024, 10, 8),
    ]  # the 3rd and the 7th both → the 8th
    only_extra = MeetingPolicy(weekday=None, extra_dates=(D(2024, 9, 26),))
    assert meeting_dates(only_extra, D(2024, 9, 1), D(2024, 10, 31), CALENDAR) == [D(2024, 9, 26)]
    assert meeting_dates(only_extra, D(2024, 9, 27), D(2024, 10, 31), CALENDAR) == []


def test_meeting_dates_are_the_days_the_meeting_sits() -> None:
    # The holiday Monday before the range sits inside it; the one at its end sits after it.
    assert meeting_dates(MONDAYS, D(2024, 10, 8), D(2024, 10, 8), CALENDAR) == [D(2024, 10, 8)]
    assert meeting_dates(MONDAYS, D(2024, 10, 7), D(2024, 10, 7), CALENDAR) == []
    assert meeting_dates(MONDAYS, D(2024, 10, 9), D(2024, 10, 1), CALENDAR) == []


def test_previous_meeting() -> None:
    assert previous_meeting(MONDAYS, D(2024, 7, 8), CALENDAR) == D(2024, 7, 1)
    assert previous_meeting(MONDAYS, D(2024, 7, 9), CALENDAR) == D(2024, 7, 8)
    assert previous_meeting(MONDAYS, D(2024, 10, 8), CALENDAR) == D(2024, 9, 30)
    assert previous_meeting(MONDAYS, D(2024, 10, 9), CALENDAR) == D(2024, 10, 8)
    one_off = MeetingPolicy(weekday=None, extra_dates=(D(2024, 3, 1),))
    assert previous_meeting(one_off, D(2024, 3, 2), CALENDAR) == D(2024, 3, 1)
    assert previous_meeting(one_off, D(2024, 3, 1), CALENDAR) is None
    assert previous_meeting(one_off, D(2025, 4, 10), CALENDAR) is None  # more than 400 days back


def test_agenda_day_is_the_working_day_before() -> None:
    assert agenda_day(D(2024, 7, 8), CALENDAR) == D(2024, 7, 5)
    assert agenda_day(D(2024, 10, 8), CALENDAR) == D(2024, 9, 30)  # past the holiday and the 29th's Sunday
    assert agenda_day(D(2024, 9, 30), CALENDAR) == D(2024, 9, 29)  # the make-up Sunday
    assert agenda_day(D(2025, 2, 5), CALENDAR) == D(2025, 1, 27)


@given(covered)
def test_next_workday_is_the_first_workday(day: dt.date) -> None:
    found = CALENDAR.next_workday(day)
    assert found >= day and CALENDAR.is_workday(found)
    gap = (found - day).days
    assert not any(CALENDAR.is_workday(day + dt.timedelta(days=n)) for n in range(gap))


@given(covered, st.integers(0, 60), st.integers(0, 60), st.sampled_from(["monday", "wednesday", "saturday"]))
def test_meeting_dates_split_anywhere(start: dt.date, first: int, second: int, weekday: str) -> None:
    policy = MeetingPolicy.model_validate({"weekday": weekday})
    middle = start + dt.timedelta(days=first)
    end = middle + dt.timedelta(days=second)
    assume(end.year <= 2026)
    whole = meeting_dates(policy, start, end, CALENDAR)
    assert whole == (
        meeting_dates(policy, start, middle, CALENDAR)
        + meeting_dates(policy, middle + dt.timedelta(days=1), end, CALENDAR)
    )
    assert all(CALENDAR.is_workday(day) and start <= day <= end for day in whole)
    earlier = [day for day in whole if day < end]
    if earlier:
        assert previous_meeting(policy, end, CALENDAR) == earlier[-1]
