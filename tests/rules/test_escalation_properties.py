"""The rules against a plain-Python reading of the ladder (the oracle), over random histories."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from config.policy import Policy, load_policy
from rules.decisions import CountedStrike, MissFact
from rules.escalation import EscalationRules, ladder_order

BASE = load_policy()
DAY0 = dt.date(2024, 7, 1)


Row = tuple[str, int, int, str, tuple[int, ...]]  # (person, planned offset, level, action, planned offsets before)


def oracle(policy: Policy, days: list[list[tuple[str, str, int]]]) -> list[Row]:
    """Replay misses day by day the way the spec reads: each strike with the strikes its level counted."""
    counted: dict[str, list[tuple[int, int]]] = defaultdict(list)  # person -> [(detected, planned)]
    groups: dict[tuple[str, object], int] = {}
    out = []
    for detected, misses in enumerate(days, start=1):
        for person, node_key, planned in sorted(misses, key=lambda m: (m[2], m[1])):
            key: tuple[str, object] = (
                person,
                planned if policy.strike_grouping == "per_due_date" else (planned, node_key),
            )
            if key in groups:
                continue
            groups[key] = detected
            window = policy.strike_window_days
            earlier = [(d, p) for d, p in counted[person] if window is None or d >= detected - window]
            level = len(earlier) + 1
            counted[person].append((detected, planned))
            out.append((person, planned, level, str(policy.rung_for(level).action), tuple(p for _, p in earlier)))
    return out


def through_rules(policy: Policy, days: list[list[tuple[str, str, int]]]) -> list[Row]:
    """Replay the same misses through durable-rules, one session per person per day: one verdict per miss."""
    rules = EscalationRules.for_policy(policy)
    counted: dict[str, list[CountedStrike]] = defaultdict(list)
    planned_of: dict[str, int] = {}
    out = []
    for detected, misses in enumerate(days, start=1):
        day = DAY0 + dt.timedelta(days=detected)
        by_person: dict[str, list[tuple[str, str, int]]] = defaultdict(list)
        for miss in sorted(misses, key=lambda m: (m[2], m[1])):
            by_person[miss[0]].append(miss)
        for person in sorted(by_person):
            facts = [
                MissFact(
                    ref=str(i),
                    project_code=key.split("|")[0],
                    node_code=key.split("|")[1],
                    planned_date=DAY0 + dt.timedelta(days=planned),
                    person_id=person,
                )
                for i, (_p, key, planned) in enumerate(by_person[person])
            ]
            verdicts = rules.decide_misses(f"person:{person}", day, ladder_order(counted[person]), facts)
            assert [v.miss_ref for v in verdicts] == [f.ref for f in facts]  # one verdict per miss, in order
            refs = {}
            for verdict in verdicts:
                if not verdict.opens:
                    assert verdict.ranking is None and verdict.grouping.startswith("join_")
                    continue
                assert verdict.grouping == "open_strike" and verdict.ranking is not None
                fact = facts[int(verdict.miss_ref)]
                ref = f"s{person}{detected}{verdict.miss_ref}"
                refs[verdict.strike_ref] = ref
                planned_of[ref] = (fact.planned_date - DAY0).days
                counted[person].append(
                    CountedStrike(
                        ref=ref,
                        planned_date=fact.planned_date,
                        detected_on=day,
                        project_code=fact.project_code,
                        node_code=fact.node_code,
                    )
                )
                rank = verdict.ranking
                before = tuple(planned_of[refs.get(r, r)] for r in rank.counted_before)
                out.append((person, planned_of[ref], rank.level, rank.action, before))
    return out


miss = st.tuples(
    st.sampled_from(["P1", "P2", "P3"]),
    st.sampled_from(["A|N1", "A|N2", "B|N1", "C|N7"]),
    st.integers(min_value=0, max_value=6),
)
histories = st.lists(st.lists(miss, max_size=5, unique_by=lambda m: (m[1], m[2])), min_size=1, max_size=8)


@settings(max_examples=60, deadline=None)
@given(histories, st.sampled_from(["per_due_date", "per_node"]), st.sampled_from([None, 2, 5]))
def test_rules_agree_with_the_oracle(days: list[list[tuple[str, str, int]]], grouping: str, window: int | None) -> None:
    policy = BASE.model_copy(update={"strike_grouping": grouping, "strike_window_days": window})
    # Each (node, planned date) is missed at most once over the campaign, as deadlines are.
    seen: set[tuple[str, int]] = set()
    cleaned = []
    for misses in days:
        kept = [m for m in misses if (m[1], m[2]) not in seen]
        seen.update((m[1], m[2]) for m in kept)
        cleaned.append(kept)
    assert sorted(through_rules(policy, cleaned)) == sorted(oracle(policy, cleaned))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 30), st.integers(0, 30)), max_size=12), st.sampled_from([None, 3, 10]))
def test_derived_levels_follow_rank_and_window(strikes: list[tuple[int, int]], window: int | None) -> None:
    policy = BASE.model_copy(update={"strike_window_days": window})
    counted = ladder_order(
        [
            CountedStrike(
                ref=f"s{i}",
                planned_date=DAY0 + dt.timedelta(days=p),
                detected_on=DAY0 + dt.timedelta(days=d),
                project_code="A",
                node_code=f"N{i:02}",
            )
            for i, (d, p) in enumerate(strikes)
        ]
    )
    ranked = EscalationRules.for_policy(policy).derive_levels("person:P1", counted)
    expected = []
    for i, strike in enumerate(counted):
        earlier = [
            s for s in counted[:i] if window is None or s.detected_on >= strike.detected_on - dt.timedelta(days=window)
        ]
        expected.append(len(earlier) + 1)
    assert [r.level for r in ranked] == expected
    assert [r.action for r in ranked] == [str(policy.rung_for(level).action) for level in expected]
    assert [len(r.counted_before) for r in ranked] == [level - 1 for level in expected]
    for rank in ranked:  # the strikes a level rests on are earlier in ladder order, and within the window
        order = [s.ref for s in counted]
        assert all(order.index(ref) < order.index(rank.strike_ref) for ref in rank.counted_before)
    top = len(policy.ladder)
    assert [r.ladder_rule for r in ranked] == [
        "ladder_top_rung" if level > top else "ladder_rung" for level in expected
    ]


def test_subjects_do_not_leak_between_sessions() -> None:
    rules = EscalationRules.for_policy(BASE)
    day = DAY0 + dt.timedelta(days=3)
    first = [
        CountedStrike(
            ref="s1", planned_date=DAY0, detected_on=DAY0 + dt.timedelta(days=1), project_code="A", node_code="N1"
        )
    ]
    rules.decide_misses(
        "person:P1",
        day,
        first,
        [MissFact(ref="0", project_code="A", node_code="N2", planned_date=DAY0, person_id="P1")],
    )
    [verdict] = rules.decide_misses(
        "person:P2", day, [], [MissFact(ref="0", project_code="B", node_code="N1", planned_date=DAY0, person_id="P2")]
    )
    assert verdict.grouping == "open_strike" and verdict.opens
    assert verdict.ranking is not None and verdict.ranking.level == 1 and verdict.ranking.counted_before == ()


def test_a_session_for_thousands_of_subjects_in_turn_stays_within_the_engine_limits() -> None:
    rules = EscalationRules.for_policy(BASE)
    day = DAY0 + dt.timedelta(days=3)
    for i in range(1500):  # more than the 1,024 live sessions durable-rules allows per ruleset
        [verdict] = rules.decide_misses(
            f"person:{i}",
            day,
            [],
            [MissFact(ref="0", project_code="A", node_code="N1", planned_date=DAY0, person_id=str(i))],
        )
        assert verdict.ranking is not None and verdict.ranking.level == 1


def test_an_empty_first_session_of_a_fresh_ruleset_does_not_crash_the_process() -> None:
    # durable-rules 2.0.28 segfaults in delete_state on a ruleset that never saw a message;
    # run in a child process so that a regression fails this test instead of killing pytest.
    import subprocess
    import sys

    code = (
        "from config.policy import load_policy; from rules.escalation import EscalationRules; "
        "r = EscalationRules(load_policy()); assert r.derive_levels('person:P1', []) == []; "
        "assert r.derive_levels('person:P2', []) == []; print('alive')"
    )
    child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert (child.returncode, child.stdout.strip()) == (0, "alive"), child.stderr


counted_strike = st.tuples(st.integers(0, 20), st.integers(0, 6), st.sampled_from(["A|N1", "A|N2", "B|N1", "C|N7"]))
new_miss = st.tuples(st.integers(0, 6), st.sampled_from(["A|N1", "A|N2", "B|N1", "C|N7", "D|N3"]), st.booleans())


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.lists(counted_strike, max_size=5),
            st.lists(new_miss, min_size=1, max_size=4, unique_by=lambda m: (m[0], m[1])),
        ),
        min_size=2,
        max_size=12,
    ),
    st.sampled_from(["per_due_date", "per_node"]),
    st.sampled_from([None, 3, 10]),
)
def test_the_memoised_answer_is_a_fresh_sessions_answer(
    cases: list[tuple[list[Any], list[Any]]], grouping: str, window: int | None
) -> None:
    policy = BASE.model_copy(update={"strike_grouping": grouping, "strike_window_days": window})
    rules = EscalationRules(policy)  # a memo of its own: hits come only from these cases
    day = DAY0 + dt.timedelta(days=30)
    for n, (held, new) in enumerate(cases):
        counted = ladder_order(
            [
                CountedStrike(
                    ref=f"s{n}-{i}",
                    planned_date=DAY0 + dt.timedelta(days=planned),
                    detected_on=day - dt.timedelta(days=1 + ago),
                    project_code=key.split("|")[0],
                    node_code=key.split("|")[1],
                )
                for i, (ago, planned, key) in enumerate(held)
            ]
        )
        misses = sorted(
            (
                MissFact(
                    ref=f"{n}.{j}",
                    project_code=key.split("|")[0],
                    node_code=key.split("|")[1],
                    planned_date=DAY0 + dt.timedelta(days=planned),
                    person_id="P1" if person else None,
                )
                for j, (planned, key, person) in enumerate(new)
            ),
            key=lambda f: (f.planned_date, f.project_code, f.node_code),
        )
        if any(m.person_id is None for m in misses):
            counted = []  # a project with nobody responsible has no counted strikes
            misses = [m.model_copy(update={"person_id": None}) for m in misses]
        memoised = rules.decide_misses(f"person:P{n}", day, counted, misses)
        fresh = rules.decide_fresh(f"person:P{n}", day, counted, misses)
        assert memoised == fresh
    assert len(rules._memo) <= len(cases)


def test_equal_shapes_are_decided_once() -> None:
    rules = EscalationRules(BASE)
    day = DAY0 + dt.timedelta(days=10)
    for i in range(200):  # 200 persons with one earlier strike and one new miss: one shape
        counted = [
            CountedStrike(
                ref=f"s{i}",
                planned_date=DAY0,
                detected_on=DAY0 + dt.timedelta(days=1),
                project_code=f"X{i}",
                node_code="N1",
            )
        ]
        [verdict] = rules.decide_misses(
            f"person:{i}",
            day,
            counted,
            [
                MissFact(
                    ref="0",
                    project_code=f"Y{i}",
                    node_code="N2",
                    planned_date=DAY0 + dt.timedelta(days=i % 3 + 2),
                    person_id=str(i),
                )
            ],
        )
        assert verdict.ranking is not None and verdict.ranking.counted_before == (f"s{i}",)
        assert verdict.strike_ref == "new:0" and verdict.ranking.level == 2
    assert len(rules._memo) == 1
