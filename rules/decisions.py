"""What goes into the rules and what comes out: plain, typed models, no engine types.

The rules return one ``Verdict`` per miss: the rule that put the miss in its strike, and for a
strike it opened, its ``Ranking`` — the counted strikes it was ranked against, the level, the
ladder rung and everything the rung calls for. Rule ids are StrEnums whose values are stored in
the decision trace (engine/evaluation/traces.py), so they are never renamed.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict

from config.vocabulary import Action, AgendaItem, Kind, PersonStatus


class GroupingRule(StrEnum):
    """The rule that put a miss in its strike; values are stored."""

    OPEN_STRIKE = "open_strike"  # no strike of the person for this group yet: a new one
    OPEN_UNASSIGNED = "open_unassigned"  # nobody responsible on the planned date: recorded, no level
    JOIN_SAME_DUE_DATE = "join_same_due_date"  # the person's strike of the same planned date takes it
    JOIN_SAME_NODE = "join_same_node"  # per_node grouping: the strike of the same node and date


class RankRule(StrEnum):
    """How a counted strike's level was counted; values are stored."""

    WHOLE_CAMPAIGN = "rank_whole_campaign"  # 1 + every earlier counted strike of the person
    WITHIN_WINDOW = "rank_within_window"  # 1 + the earlier counted strikes detected within the window


class LadderRule(StrEnum):
    """Which rung of the ladder applied; values are stored."""

    RUNG = "ladder_rung"  # the level's own rung
    TOP_RUNG = "ladder_top_rung"  # a level above the last rung: the last rung covers it


class MissFact(BaseModel):
    """A newly missed deadline, as the rules see it."""

    model_config = ConfigDict(frozen=True)

    ref: str
    project_code: str
    node_code: str
    planned_date: dt.date
    person_id: str | None


class CountedStrike(BaseModel):
    """A strike of the subject that counts, in ladder order."""

    model_config = ConfigDict(frozen=True)

    ref: str
    planned_date: dt.date
    detected_on: dt.date
    project_code: str
    node_code: str


#: What the strikes a ranking rests on are named by: a ref in the rules, a strike id in the trace.
RefT = TypeVar("RefT", str, int)


class LadderPlace(BaseModel, Generic[RefT]):
    """A counted strike's place on the ladder, and why: the one definition of a ranking.

    The rules decide it with the strikes it rests on named by ref (``Ranking``); the decision trace
    keeps it with strike ids (engine/evaluation/traces.py's ``TracedRanking``).
    """

    model_config = ConfigDict(frozen=True)

    rule: RankRule
    window_days: int | None = None
    level: int
    counted_before: tuple[RefT, ...]  # the counted strikes ranked before it, oldest first
    ladder_rule: LadderRule
    rung: int
    action: Action
    status: PersonStatus
    notice: Kind
    agenda: tuple[AgendaItem, ...]
    title: str


class Ranking(LadderPlace[str]):
    """A ranking as the rules return it: the strike and the strikes it rests on named by ref."""

    strike_ref: str


def rank_rule(window_days: int | None) -> RankRule:
    """How a policy counts levels: the whole campaign, or a window of days."""
    return RankRule.WHOLE_CAMPAIGN if window_days is None else RankRule.WITHIN_WINDOW


def ladder_rule(level: int, rung: int) -> LadderRule:
    """The rung's own level, or a level above the last rung that the last rung covers."""
    return LadderRule.TOP_RUNG if level > rung else LadderRule.RUNG


class Verdict(BaseModel):
    """What the rules decided about one miss."""

    model_config = ConfigDict(frozen=True)

    miss_ref: str
    strike_ref: str
    grouping: GroupingRule
    opens: bool
    agenda: tuple[AgendaItem, ...] = ()  # what the grouping itself puts on the agenda (nobody responsible)
    ranking: Ranking | None = None  # the level of a counted strike this miss opened
    policy: str  # the fingerprint of the policy that decided
