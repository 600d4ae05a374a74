"""The clock: every "now" and "today" of the engine comes from here, timezone-aware."""

from __future__ import annotations

import datetime as dt
import os
from zoneinfo import ZoneInfo

#: Set to an ISO date to make "today" that date (replays of past campaigns, tests of the CLI).
TODAY_ENV = "DUBAN_TODAY"
#: Set to an ISO date and time to stop the clock there (tests of the outbox's pacing and blocks);
#: without an offset it is read in the configured zone.
NOW_ENV = "DUBAN_NOW"


def now(tz: ZoneInfo) -> dt.datetime:
    """Return the current time, aware, in the configured zone (or DUBAN_NOW when set)."""
    override = os.environ.get(NOW_ENV)
    if override:
        fixed = dt.datetime.fromisoformat(override)
        return fixed.replace(tzinfo=tz) if fixed.tzinfo is None else fixed.astimezone(tz)
    return dt.datetime.now(tz)


def today(tz: ZoneInfo) -> dt.date:
    """Return today's date in the configured zone (or DUBAN_TODAY when set)."""
    override = os.environ.get(TODAY_ENV)
    if override:
        return dt.date.fromisoformat(override)
    return now(tz).date()
