"""The clock: every "now" and "today" of the engine comes from here, timezone-aware."""

from __future__ import annotations

import datetime as dt
import os
from zoneinfo import ZoneInfo

#: Set to an ISO date to make "today" that date (replays of past campaigns, tests of the CLI).
TODAY_ENV = "DUBAN_TODAY"


def now(tz: ZoneInfo) -> dt.datetime:
    """Return the current time, aware, in the configured zone."""
    return dt.datetime.now(tz)


def today(tz: ZoneInfo) -> dt.date:
    """Return today's date in the configured zone (or DUBAN_TODAY when set)."""
    override = os.environ.get(TODAY_ENV)
    if override:
        return dt.date.fromisoformat(override)
    return now(tz).date()
