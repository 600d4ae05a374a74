"""The tests' clock: a deliberately non-UTC zone that really applies, and DUBAN_NOW that stops it."""

from __future__ import annotations

import datetime as dt
import time
from zoneinfo import ZoneInfo

import pytest

from engine import clock


def test_the_tests_run_in_shanghai_time() -> None:
    assert time.strftime("%z", time.localtime(0)) == "+0800"  # tzset() made TZ take effect
    assert dt.datetime.fromtimestamp(0).hour == 8  # noqa: DTZ006  (naive on purpose: it is the local zone under test)


def test_duban_now_stops_the_clock_there(monkeypatch: pytest.MonkeyPatch) -> None:
    shanghai = ZoneInfo("Asia/Shanghai")
    monkeypatch.setenv("DUBAN_NOW", "2024-07-10T09:00:00+08:00")
    monkeypatch.delenv("DUBAN_TODAY", raising=False)
    assert clock.now(shanghai) == dt.datetime(2024, 7, 10, 9, 0, tzinfo=shanghai)
    assert clock.now(ZoneInfo("UTC")).isoformat() == "2024-07-10T01:00:00+00:00"
    assert clock.today(shanghai) == dt.date(2024, 7, 10)


def test_duban_now_without_an_offset_is_read_in_the_configured_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DUBAN_NOW", "2024-07-10T00:30:00")
    assert clock.now(ZoneInfo("Asia/Shanghai")).isoformat() == "2024-07-10T00:30:00+08:00"


def test_without_duban_now_the_clock_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DUBAN_NOW", raising=False)
    assert abs(clock.now(ZoneInfo("UTC")).timestamp() - time.time()) < 5
