"""The escalation ruleset, built from the policy, and the two questions it answers.

Rules (``duban_escalation``), one session per subject (a person, or a project that had
nobody responsible):

* ``join_same_due_date`` / ``join_same_node`` — a miss whose group (planned date, or node
  and date under per_node grouping) already has a counted strike of the subject joins it;
* ``open_strike`` — any other miss of a person opens a strike, which is then counted;
* ``open_unassigned`` — a miss with nobody responsible opens a strike with no level and
  puts the project on the agenda as needing a responsible person;
* ``rank`` — a counted strike's level is 1 + the subject's counted strikes before it
  (within the window when the policy has one);
* ``ladder_level_N`` — one rule per rung: the level's action, notice, agenda items, status.

Consequences only write decisions into the session state; they do no I/O.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable
from typing import Any

import durable.lang as dl
from durable.lang import c, m, none, ruleset, when_all

from config.policy import Action, LadderRung, Policy
from rules.decisions import CountedStrike, Join, MissFact, Opened, Outcome, Ranked
from rules.host import RuleHost, RulesError

RULESET = "duban_escalation"
NEEDS_RESPONSIBLE_PERSON = "needs_responsible_person"
_REMOVES_POST = {Action.SUSPENSION, Action.DISMISSAL}


def _same_subject(c: Any, message: Any) -> None:
    # Guard against the engine's 32-bit session hashes: never decide for another subject.
    if message.subject != c.s.subject:
        raise RulesError(f"event of {message.subject} reached session of {c.s.subject}")


def _decide(c: Any, kind: str, decision: dict[str, Any]) -> None:
    c.s.decisions = [*list(c.s.decisions or []), {"kind": kind, **decision}]


def _open(c: Any, rule: str, agenda: list[str]) -> str:
    # A new strike is a fact, so that later misses of the same group join it.
    _same_subject(c, c.e)
    ref = f"new:{c.e.ref}"
    c.assert_fact({"t": "strike", "ref": ref, "planned_date": c.e.planned_date, "node_key": c.e.node_key,
                   "subject": c.s.subject})
    _decide(c, "open", {"miss_ref": c.e.ref, "strike_ref": ref, "rule": rule, "agenda": agenda})
    return ref


def _rung_consequence(rung: LadderRung, agenda: list[str]) -> Callable[[Any], None]:
    def consequence(c: Any) -> None:
        _same_subject(c, c.m)
        _decide(c, "ranked", {
            "strike_ref": c.m.ref, "level": c.m.level, "counted_before": c.m.before,
            "action": str(rung.action), "status": str(rung.status), "notice": rung.notice,
            "agenda": agenda, "title": rung.title, "rule": f"ladder_level_{rung.level}",
        })

    consequence.__name__ = f"ladder_level_{rung.level}"
    return consequence


def _definitions(policy: Policy, name: str) -> dict[str, dict[str, Any]]:
    per_node = policy.strike_grouping == "per_node"
    window = policy.strike_window_days
    rs = ruleset(name)
    with rs:
        if per_node:

            @when_all(
                c.g << (m.t == "strike"),
                c.e << ((m.t == "miss") & (m.planned_date == c.g.planned_date) & (m.node_key == c.g.node_key)),
            )
            def join_same_node(c: Any) -> None:
                _same_subject(c, c.e)
                _decide(c, "join", {"miss_ref": c.e.ref, "strike_ref": c.g.ref, "rule": "join_same_node"})

            group_match = (m.t == "strike") & (m.planned_date == c.e.planned_date) & (m.node_key == c.e.node_key)
        else:

            @when_all(
                c.g << (m.t == "strike"),
                c.e << ((m.t == "miss") & (m.planned_date == c.g.planned_date)),
            )
            def join_same_due_date(c: Any) -> None:
                _same_subject(c, c.e)
                _decide(c, "join", {"miss_ref": c.e.ref, "strike_ref": c.g.ref, "rule": "join_same_due_date"})

            group_match = (m.t == "strike") & (m.planned_date == c.e.planned_date)

        @when_all(c.e << ((m.t == "miss") & (m.has_person == True)), none(group_match))  # noqa: E712
        def open_strike(c: Any) -> None:
            ref = _open(c, "open_strike", [])
            c.post({"t": "counted", "ref": ref, "detected_on": c.s.day, "subject": c.s.subject})

        @when_all(c.e << ((m.t == "miss") & (m.has_person == False)), none(group_match))  # noqa: E712
        def open_unassigned(c: Any) -> None:
            _open(c, "open_unassigned", [NEEDS_RESPONSIBLE_PERSON])

        @when_all(m.t == "counted")
        def rank(c: Any) -> None:
            _same_subject(c, c.m)
            day = c.m.detected_on
            earlier = list(c.s.counted_days or [])
            if window is not None:
                earlier = [d for d in earlier if d >= day - window]
            c.s.counted_days = [*list(c.s.counted_days or []), day]
            c.post({"t": "ranked", "ref": c.m.ref, "level": len(earlier) + 1, "before": len(earlier),
                    "subject": c.s.subject})

        for rung in policy.ladder:
            last = rung.level == len(policy.ladder)
            condition = (m.t == "ranked") & ((m.level >= rung.level) if last else (m.level == rung.level))
            agenda = [rung.agenda, *([NEEDS_RESPONSIBLE_PERSON] if rung.action in _REMOVES_POST else [])]

            when_all(condition)(_rung_consequence(rung, agenda))

    dl._rulesets.pop(name, None)  # keep durable's process-wide registry empty
    full_name, definition = rs.define()
    return {full_name: definition}


def _outcome(state: dict[str, Any]) -> Outcome:
    outcome = Outcome()
    for item in state.get("decisions") or []:
        kind = item.pop("kind")
        if kind == "join":
            outcome.joins.append(Join(**item))
        elif kind == "open":
            outcome.opened.append(Opened(**item))
        else:
            outcome.ranked.append(Ranked(**item))
    return outcome


_COMPILED: dict[str, EscalationRules] = {}
_SERIAL = itertools.count(1)


class EscalationRules:
    """The policy compiled into durable-rules; answers for one subject at a time."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        # Every compiled policy lives on the one process-wide host, so each needs its own name.
        self._ruleset = f"{RULESET}_{next(_SERIAL)}"
        self._host = RuleHost(_definitions(policy, self._ruleset))

    @classmethod
    def for_policy(cls, policy: Policy) -> EscalationRules:
        """Return the compiled rules of a policy, compiling once per process.

        durable-rules never frees a ruleset's C handle, so compiling anew for every command run
        in one process (the scheduler, the test suite) would only pile them up.
        """
        key = policy.model_dump_json()
        if key not in _COMPILED:
            _COMPILED[key] = cls(policy)
        return _COMPILED[key]

    def decide_misses(
        self,
        subject: str,
        day: dt.date,
        counted: list[CountedStrike],
        misses: list[MissFact],
    ) -> Outcome:
        """Decide what the subject's new misses of ``day`` mean, given its counted strikes.

        ``counted`` must be in ladder order; ``misses`` in (planned date, project, node) order.
        """
        state = {"day": day.toordinal(), "counted_days": [s.detected_on.toordinal() for s in counted],
                 "decisions": []}
        with self._host.session(self._ruleset, subject, state) as session:
            wanted = {miss.planned_date for miss in misses}
            for strike in counted:
                if strike.planned_date in wanted:
                    session.assert_fact({"t": "strike", "ref": strike.ref,
                                         "planned_date": strike.planned_date.isoformat(),
                                         "node_key": f"{strike.project_code}|{strike.node_code}"})
            for miss in misses:
                session.post({"t": "miss", "ref": miss.ref, "planned_date": miss.planned_date.isoformat(),
                              "node_key": f"{miss.project_code}|{miss.node_code}",
                              "has_person": miss.person_id is not None})
            outcome = _outcome(session.finish())
        decided = {j.miss_ref for j in outcome.joins} | {o.miss_ref for o in outcome.opened}
        if decided != {miss.ref for miss in misses} or len(outcome.joins) + len(outcome.opened) != len(misses):
            raise RulesError(f"rules decided {len(decided)} of {len(misses)} misses for {subject}")
        return outcome

    def derive_levels(self, subject: str, counted: list[CountedStrike]) -> list[Ranked]:
        """Rank a subject's counted strikes (given in ladder order) from scratch."""
        with self._host.session(self._ruleset, subject, {"day": 0, "counted_days": [], "decisions": []}) as session:
            for strike in counted:
                session.post({"t": "counted", "ref": strike.ref, "detected_on": strike.detected_on.toordinal()})
            ranked = _outcome(session.finish()).ranked
        if [r.strike_ref for r in ranked] != [s.ref for s in counted]:
            raise RulesError(f"rules ranked {len(ranked)} of {len(counted)} strikes for {subject}")
        return ranked


def ladder_order(strikes: list[CountedStrike]) -> list[CountedStrike]:
    """Sort strikes the way levels are ranked: detected, planned date, project, node."""
    return sorted(strikes, key=lambda s: (s.detected_on, s.planned_date, s.project_code, s.node_code))
