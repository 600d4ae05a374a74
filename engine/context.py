"""What every command needs: settings, policy, database, rules and the clock, made once."""

from __future__ import annotations

import copy
import datetime as dt
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from config import Policy, Settings
from engine import clock
from engine.store.db import make_engine

if TYPE_CHECKING:
    from config.calendar import WorkCalendar
    from notifications.wording import Wording
    from rules.escalation import EscalationRules


@dataclass
class App:
    """The running application: one per process (the CLI, the scheduler, a test)."""

    settings: Settings
    policy: Policy = field(init=False)
    #: When set, "today" is this date (the demo replays a past campaign day by day).
    fixed_today: dt.date | None = None
    #: Who acts, when not the configured actor (a signed-in web user: ``web:NAME``).
    acting_as: str | None = None

    def __post_init__(self) -> None:
        self.policy = self.settings.policy()

    @cached_property
    def engine(self) -> Engine:
        """Return the database engine (created on first use)."""
        return make_engine(self.settings.database_url)

    @cached_property
    def rules(self) -> EscalationRules:
        """Return the compiled escalation rules (built on first use)."""
        from rules.escalation import EscalationRules

        return EscalationRules.for_policy(self.policy)

    @cached_property
    def wording(self) -> Wording:
        """Return the words users read for stored values (shipped, with the templates folder's overrides)."""
        from notifications.wording import Wording

        return Wording.load(self.settings.templates_dir)

    @cached_property
    def calendar(self) -> WorkCalendar:
        """Return the public-holiday calendar (tables loaded per year on first use)."""
        from config.calendar import WorkCalendar

        return WorkCalendar()

    def deadline_end(self, planned: dt.date) -> dt.date:
        """Return the last day a node planned for ``planned`` may be completed on time."""
        if self.policy.shift_deadlines_to_workday:
            from config.calendar import shift_deadline

            planned = shift_deadline(planned, self.calendar)
        return planned + dt.timedelta(days=self.policy.grace_days)

    @property
    def actor(self) -> str:
        """Return who is acting, for the record."""
        return self.acting_as or self.settings.actor

    def as_actor(self, actor: str) -> App:
        """Return this application acting for someone else; engine, rules and calendar are shared."""
        other = copy.copy(self)  # cached properties live in __dict__: the copy shares them
        other.acting_as = actor
        return other

    def now(self) -> dt.datetime:
        """Return the current aware time."""
        return clock.now(self.settings.tz)

    def today(self) -> dt.date:
        """Return today's date in the configured zone."""
        return self.fixed_today or clock.today(self.settings.tz)
