"""How a sanction is stated: decided (by which meeting) or proposed (awaiting which meeting).

The engine proposes; the party-group meeting decides. A counted strike is a sanction only once
the meeting has confirmed it; until then every document and page says it is proposed
(「拟免职留用（待 2024年11月4日党组会研究）」). A person's status counts proposed strikes too (a
late meeting must not let a level escape, spec §4), so a person whose highest level awaits the
meeting reads 「已检查；拟免职留用（待 …）」 — what was decided, then what is proposed. This
module is the one place that words it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from config.calendar import HolidayTableMissing, meeting_dates
from config.vocabulary import Decision, PersonStatus, StrikeStatus
from engine.context import App
from notifications.wording import cn_date


def awaited_meeting(app: App, detected_on: dt.date, as_of: dt.date) -> dt.date | None:
    """Return the meeting a proposed strike awaits: the first one on or after it was found and the day read.

    None when it cannot be known (next year's holiday table is not published yet).
    """
    start = max(detected_on, as_of)
    return _next_meeting(app, start)


_MEETINGS: dict[tuple[object, dt.date], dt.date | None] = {}


def _next_meeting(app: App, start: dt.date) -> dt.date | None:
    # Documents state it for every strike they list: compute each (meeting policy, day) once per process.
    key = (app.policy.meetings, start)
    if key not in _MEETINGS:
        try:
            found = meeting_dates(app.policy.meetings, start, start + dt.timedelta(days=60), app.calendar)
        except HolidayTableMissing:
            found = []
        _MEETINGS[key] = found[0] if found else None
    return _MEETINGS[key]


@dataclass(frozen=True)
class Sanction:
    """A counted strike's sanction as it stands: its level and action, and whether the meeting decided it."""

    level: int
    action: str
    action_cn: str
    decided: bool
    meeting: dt.date | None  # the meeting that decided it, or the one it awaits (None: not known yet)

    @property
    def text(self) -> str:
        """Return the sanction in words: 「免职留用（2024年11月4日党组会决定）」 or 「拟免职留用（待 … 党组会研究）」."""
        if self.decided:
            return (
                f"{self.action_cn}（{cn_date(self.meeting)}党组会决定）"
                if self.meeting
                else f"{self.action_cn}（党组会已决定）"
            )
        return (
            f"拟{self.action_cn}（待 {cn_date(self.meeting)} 党组会研究）"
            if self.meeting
            else f"拟{self.action_cn}（待党组会研究）"
        )

    @property
    def short(self) -> str:
        """Return the sanction without its meeting: 「免职留用」 or 「拟免职留用」."""
        return self.action_cn if self.decided else f"拟{self.action_cn}"


def sanction(
    app: App,
    *,
    status: str,
    level: int | None,
    action: str | None,
    decision: str | None,
    meeting_date: dt.date | None,
    detected_on: dt.date,
    as_of: dt.date,
) -> Sanction | None:
    """Return a strike's sanction as of a day (None when it does not count, or has no level: nobody responsible)."""
    if status != StrikeStatus.COUNTED or level is None or action is None:
        return None
    decided = decision == Decision.CONFIRMED
    meeting = meeting_date if decided else awaited_meeting(app, detected_on, as_of)
    return Sanction(level, action, app.wording.word("action", action), decided, meeting)


@dataclass(frozen=True)
class Standing:
    """A person's status (spec §3: from every counted strike) and the part of it the meeting has decided."""

    status: PersonStatus
    decided_status: PersonStatus
    words: str  # 「免职留用」, or 「已检查；拟免职留用（待 2024年11月4日党组会研究）」

    @property
    def pending(self) -> bool:
        """Whether the status rests on a strike the meeting has not decided yet."""
        return self.status != self.decided_status


def standing(app: App, highest: int | None, highest_decided: int | None, as_of: dt.date) -> Standing:
    """Return a person's standing from their highest counted level and highest confirmed counted level."""
    return standing_of(app, app.policy.status_for(highest), app.policy.status_for(highest_decided), as_of)


def standing_of(
    app: App, status: PersonStatus, decided: PersonStatus, as_of: dt.date, meeting: dt.date | None = None
) -> Standing:
    """Return a person's standing from their status and its decided part; ``meeting``: the one it awaits."""
    words = app.wording
    if status == decided:
        return Standing(status, decided, words.word("person_status", status))
    rung = next((r for r in app.policy.ladder if r.status == status), None)
    action = words.word("action", rung.action) if rung is not None else words.word("person_status", status)
    meeting = meeting or _next_meeting(app, as_of)
    proposed = f"拟{action}（待 {cn_date(meeting)} 党组会研究）" if meeting else f"拟{action}（待党组会研究）"
    text = proposed if decided == PersonStatus.ACTIVE else f"{words.word('person_status', decided)}；{proposed}"
    return Standing(status, decided, text)
