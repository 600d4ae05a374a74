"""The escalation ruleset, built from the policy, and the two questions it answers.

Rules, one session per subject (a person, or a project that had nobody responsible):

* ``join_same_due_date`` / ``join_same_node`` — a miss whose group (planned date, or node
  and date under per_node grouping) already has a counted strike of the subject joins it;
* ``open_strike`` — any other miss of a person opens a strike, which is then counted;
* ``open_unassigned`` — a miss with nobody responsible opens a strike with no level and
  puts the project on the agenda as needing a responsible person;
* ``rank`` — a counted strike's level is 1 + the subject's counted strikes before it
  (within the window when the policy has one); the refs of those strikes are kept;
* ``ladder_rung_N`` — one rule per rung: the level's action, notice, agenda items, status.

Consequences only write decisions into the session state; they do no I/O. ``decide_misses``
turns them into one ``Verdict`` per miss, ``derive_levels`` into one ``Ranking`` per strike.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Hashable
from typing import Any

import durable.lang as dl
from durable.lang import c, m, none, ruleset, when_all

from config.policy import LadderRung, Policy
from config.vocabulary import Action, AgendaItem
from rules.decisions import CountedStrike, GroupingRule, MissFact, Ranking, Verdict, ladder_rule, rank_rule
from rules.host import RuleHost, RulesError

RULESET = "duban_escalation"
_REMOVES_POST = {Action.SUSPENSION, Action.DISMISSAL}


def _same_subject(c: Any, message: Any) -> None:
    # Guard against the engine's 32-bit session hashes: never decide for another subject.
    if message.subject != c.s.subject:
        raise RulesError(f"event of {message.subject} reached session of {c.s.subject}")


def _decide(c: Any, kind: str, decision: dict[str, Any]) -> None:
    c.s.decisions = [*list(c.s.decisions or []), {"kind": kind, **decision}]


def _open(c: Any, rule: GroupingRule, agenda: list[str]) -> str:
    # A new strike is a fact, so that later misses of the same group join it.
    _same_subject(c, c.e)
    ref = f"new:{c.e.ref}"
    c.assert_fact(
        {"t": "strike", "ref": ref, "planned_date": c.e.planned_date, "node_key": c.e.node_key, "subject": c.s.subject}
    )
    _decide(c, "open", {"miss_ref": c.e.ref, "strike_ref": ref, "grouping": str(rule), "agenda": agenda})
    return ref


def _rung_consequence(rung: LadderRung, agenda: list[str]) -> Callable[[Any], None]:
    def consequence(c: Any) -> None:
        _same_subject(c, c.m)
        _decide(
            c,
            "rung",
            {
                "strike_ref": c.m.ref,
                "ladder_rule": str(ladder_rule(c.m.level, rung.level)),
                "rung": rung.level,
                "action": str(rung.action),
                "status": str(rung.status),
                "notice": str(rung.notice),
                "agenda": agenda,
                "title": rung.title,
            },
        )

    consequence.__name__ = f"ladder_rung_{rung.level}"
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
                _decide(
                    c,
                    "join",
                    {"miss_ref": c.e.ref, "strike_ref": c.g.ref, "grouping": str(GroupingRule.JOIN_SAME_NODE)},
                )

            group_match = (m.t == "strike") & (m.planned_date == c.e.planned_date) & (m.node_key == c.e.node_key)
        else:

            @when_all(
                c.g << (m.t == "strike"),
                c.e << ((m.t == "miss") & (m.planned_date == c.g.planned_date)),
            )
            def join_same_due_date(c: Any) -> None:
                _same_subject(c, c.e)
                _decide(
                    c,
                    "join",
                    {"miss_ref": c.e.ref, "strike_ref": c.g.ref, "grouping": str(GroupingRule.JOIN_SAME_DUE_DATE)},
                )

            group_match = (m.t == "strike") & (m.planned_date == c.e.planned_date)

        @when_all(c.e << ((m.t == "miss") & (m.has_person == True)), none(group_match))  # noqa: E712
        def open_strike(c: Any) -> None:
            ref = _open(c, GroupingRule.OPEN_STRIKE, [])
            c.post({"t": "counted", "ref": ref, "detected_on": c.s.day, "subject": c.s.subject})

        @when_all(c.e << ((m.t == "miss") & (m.has_person == False)), none(group_match))  # noqa: E712
        def open_unassigned(c: Any) -> None:
            _open(c, GroupingRule.OPEN_UNASSIGNED, [str(AgendaItem.NEEDS_RESPONSIBLE_PERSON)])

        @when_all(m.t == "counted")
        def rank(c: Any) -> None:
            _same_subject(c, c.m)
            day = c.m.detected_on
            refs, days = list(c.s.counted_refs or []), list(c.s.counted_days or [])
            earlier = [ref for ref, d in zip(refs, days, strict=True) if window is None or d >= day - window]
            c.s.counted_refs, c.s.counted_days = [*refs, c.m.ref], [*days, day]
            _decide(c, "rank", {"strike_ref": c.m.ref, "level": len(earlier) + 1, "counted_before": earlier})
            c.post({"t": "ranked", "ref": c.m.ref, "level": len(earlier) + 1, "subject": c.s.subject})

        for rung in policy.ladder:
            last = rung.level == len(policy.ladder)
            condition = (m.t == "ranked") & ((m.level >= rung.level) if last else (m.level == rung.level))
            agenda = [
                str(rung.agenda),
                *([str(AgendaItem.NEEDS_RESPONSIBLE_PERSON)] if rung.action in _REMOVES_POST else []),
            ]
            when_all(condition)(_rung_consequence(rung, agenda))

    dl._rulesets.pop(name, None)  # keep durable's process-wide registry empty
    full_name, definition = rs.define()
    return {full_name: definition}


def _rankings(policy: Policy, decisions: list[dict[str, Any]]) -> dict[str, Ranking]:
    """Join each strike's rank and rung decisions into its Ranking."""
    ranks = {d["strike_ref"]: d for d in decisions if d["kind"] == "rank"}
    rungs = {d["strike_ref"]: d for d in decisions if d["kind"] == "rung"}
    if ranks.keys() != rungs.keys():
        raise RulesError(f"ranked {sorted(ranks)} but applied rungs to {sorted(rungs)}")
    window = policy.strike_window_days
    out = {}
    for ref, rank in ranks.items():
        rung = rungs[ref]
        out[ref] = Ranking.model_validate({**rank, **rung, "rule": rank_rule(window), "window_days": window})
    return out


def _abstract(verdicts: list[Verdict], counted: list[CountedStrike], misses: list[MissFact]) -> list[dict[str, Any]]:
    """Verdicts with strikes named by position (``c3``: the fourth counted, ``m1``: opened by the second miss)."""
    names = {s.ref: f"c{i}" for i, s in enumerate(counted)}
    names.update({f"new:{m.ref}": f"m{j}" for j, m in enumerate(misses)})
    out = []
    for verdict in verdicts:
        item = verdict.model_dump()
        item["strike_ref"] = names[verdict.strike_ref]
        item.pop("miss_ref")
        if verdict.ranking is not None:
            item["ranking"]["strike_ref"] = names[verdict.ranking.strike_ref]
            item["ranking"]["counted_before"] = tuple(names[r] for r in verdict.ranking.counted_before)
        out.append(item)
    return out


def _concrete(
    answer: list[dict[str, Any]], counted: list[CountedStrike], misses: list[MissFact], fingerprint: str
) -> list[Verdict]:
    """An abstract answer for this subject's strikes and misses."""

    def ref(name: str) -> str:
        index = int(name[1:])
        return counted[index].ref if name[0] == "c" else f"new:{misses[index].ref}"

    out = []
    for miss, item in zip(misses, answer, strict=True):
        ranking = item["ranking"]
        out.append(
            Verdict(
                miss_ref=miss.ref,
                strike_ref=ref(item["strike_ref"]),
                grouping=item["grouping"],
                opens=item["opens"],
                agenda=item["agenda"],
                policy=fingerprint,
                ranking=None
                if ranking is None
                else Ranking(
                    **{
                        **ranking,
                        "strike_ref": ref(ranking["strike_ref"]),
                        "counted_before": tuple(ref(r) for r in ranking["counted_before"]),
                    }
                ),
            )
        )
    return out


#: Distinct shapes kept per compiled policy (a national day has a few dozen).
_MEMO_SIZE = 4096
_COMPILED: dict[str, EscalationRules] = {}
_SERIAL = itertools.count(1)


class EscalationRules:
    """The policy compiled into durable-rules; answers for one subject at a time."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.fingerprint = policy.fingerprint()
        self._memo: dict[Hashable, list[dict[str, Any]]] = {}
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
    ) -> list[Verdict]:
        """Decide what the subject's new misses of ``day`` mean, given its counted strikes: one verdict per miss.

        ``counted`` must be in ladder order; ``misses`` in (planned date, project, node) order.
        The rules decide each distinct shape of input once (``shape_of``); equal shapes reuse the
        answer, translated to this subject's strikes and misses.
        """
        key = self.shape_of(day, counted, misses)
        answer = self._memo.get(key)
        if answer is None:
            verdicts = self.decide_fresh(subject, day, counted, misses)
            answer = _abstract(verdicts, counted, misses)
            if len(self._memo) >= _MEMO_SIZE:
                self._memo.pop(next(iter(self._memo)))
            self._memo[key] = answer
        return _concrete(answer, counted, misses, self.fingerprint)

    def shape_of(self, day: dt.date, counted: list[CountedStrike], misses: list[MissFact]) -> Hashable:
        """What the rules' answer depends on, and nothing else.

        The grouping rules compare planned dates (and node keys under per_node) of the misses with
        each other and with the counted strikes', so each is replaced by which miss's it equals;
        the rank rule counts the counted strikes detected within the window, so only their
        detection days' distance from today matters, and only when there is a window. Strikes are
        named by position, misses by index.
        """
        per_node = self.policy.strike_grouping == "per_node"
        dates: dict[dt.date, int] = {}
        nodes: dict[str, int] = {}
        for miss in misses:
            dates.setdefault(miss.planned_date, len(dates))
            nodes.setdefault(f"{miss.project_code}|{miss.node_code}", len(nodes))
        window = self.policy.strike_window_days
        held = tuple(
            (
                dates.get(s.planned_date, -1),
                nodes.get(f"{s.project_code}|{s.node_code}", -1) if per_node else 0,
                (day - s.detected_on).days if window is not None else 0,
            )
            for s in counted
        )
        new = tuple(
            (
                dates[m.planned_date],
                nodes[f"{m.project_code}|{m.node_code}"] if per_node else 0,
                m.person_id is not None,
            )
            for m in misses
        )
        return held, new

    def decide_fresh(
        self,
        subject: str,
        day: dt.date,
        counted: list[CountedStrike],
        misses: list[MissFact],
    ) -> list[Verdict]:
        """Decide through a fresh durable-rules session, without the memo (what the memo is tested against)."""
        state = {
            "day": day.toordinal(),
            "counted_refs": [s.ref for s in counted],
            "counted_days": [s.detected_on.toordinal() for s in counted],
            "decisions": [],
        }
        with self._host.session(self._ruleset, subject, state) as session:
            wanted = {miss.planned_date for miss in misses}
            for strike in counted:
                if strike.planned_date in wanted:
                    session.assert_fact(
                        {
                            "t": "strike",
                            "ref": strike.ref,
                            "planned_date": strike.planned_date.isoformat(),
                            "node_key": f"{strike.project_code}|{strike.node_code}",
                        }
                    )
            for miss in misses:
                session.post(
                    {
                        "t": "miss",
                        "ref": miss.ref,
                        "planned_date": miss.planned_date.isoformat(),
                        "node_key": f"{miss.project_code}|{miss.node_code}",
                        "has_person": miss.person_id is not None,
                    }
                )
            decisions = list(session.finish().get("decisions") or [])
        rankings = _rankings(self.policy, decisions)
        by_miss: dict[str, Verdict] = {}
        for d in decisions:
            if d["kind"] not in ("open", "join"):
                continue
            if d["miss_ref"] in by_miss:
                raise RulesError(f"miss {d['miss_ref']} of {subject} decided twice")
            opens = d["kind"] == "open"
            by_miss[d["miss_ref"]] = Verdict(
                miss_ref=d["miss_ref"],
                strike_ref=d["strike_ref"],
                grouping=d["grouping"],
                opens=opens,
                agenda=tuple(d.get("agenda") or ()),
                ranking=rankings.get(d["strike_ref"]) if opens else None,
                policy=self.fingerprint,
            )
        if set(by_miss) != {miss.ref for miss in misses}:
            raise RulesError(f"rules decided {len(by_miss)} of {len(misses)} misses for {subject}")
        return [by_miss[miss.ref] for miss in misses]

    def derive_levels(self, subject: str, counted: list[CountedStrike]) -> list[Ranking]:
        """Rank a subject's counted strikes (given in ladder order) from scratch."""
        state = {"day": 0, "counted_refs": [], "counted_days": [], "decisions": []}
        with self._host.session(self._ruleset, subject, state) as session:
            for strike in counted:
                session.post({"t": "counted", "ref": strike.ref, "detected_on": strike.detected_on.toordinal()})
            rankings = _rankings(self.policy, list(session.finish().get("decisions") or []))
        if list(rankings) != [s.ref for s in counted]:
            raise RulesError(f"rules ranked {len(rankings)} of {len(counted)} strikes for {subject}")
        return list(rankings.values())


def ladder_order(strikes: list[CountedStrike]) -> list[CountedStrike]:
    """Sort strikes the way levels are ranked: detected, planned date, project, node."""
    return sorted(strikes, key=lambda s: (s.detected_on, s.planned_date, s.project_code, s.node_code))
