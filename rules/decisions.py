"""What goes into the rules and what comes out: plain models, no engine types."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict


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


class Join(BaseModel):
    """A miss joins an existing (or just opened) strike."""

    model_config = ConfigDict(frozen=True)

    miss_ref: str
    strike_ref: str
    rule: str


class Opened(BaseModel):
    """A miss opens a new strike."""

    model_config = ConfigDict(frozen=True)

    miss_ref: str
    strike_ref: str
    rule: str
    agenda: tuple[str, ...] = ()


class Ranked(BaseModel):
    """A counted strike's level on the ladder and everything the level calls for."""

    model_config = ConfigDict(frozen=True)

    strike_ref: str
    level: int
    counted_before: int
    action: str
    status: str
    notice: str
    agenda: tuple[str, ...]
    title: str
    rule: str


class Outcome(BaseModel):
    """Every decision of one session, in the order the rules made them."""

    joins: list[Join] = []
    opened: list[Opened] = []
    ranked: list[Ranked] = []
