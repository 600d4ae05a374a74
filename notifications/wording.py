"""Everything a user reads about the engine's words: dates, and (see ``Wording``) rule ids, actions, statuses."""

from __future__ import annotations

import datetime as dt


def cn_date(value: dt.date | None) -> str:
    """Write a date the way official documents (公文) do: 2024年7月31日, no leading zeros; '' for none."""
    if value is None:
        return ""
    return f"{value.year}年{value.month}月{value.day}日"
