"""The decision trace: every decision about a strike stored once, typed and versioned, and read back.

The rules return a ``Verdict`` per miss (rules/decisions.py); the evaluation stores it here as a
``decision_trace`` row: ``opened`` for the miss that opened a strike (its grouping rule, and for a
counted strike the ranking — the strikes it was ranked against, by id, the rung, the action, the
notice and the agenda items), ``joined`` for each later miss of the same group, and ``reranked``
whenever an exemption, a revocation or a policy change moved its level or the strikes it rests on.
The policy's fingerprint and the facts the explanation prints (grace days, grouping) are part of
each trace: explanations never consult the live policy.

Rows are append-only and sealed into the audit chain. ``Trace.version`` is the body's schema:
a reader refuses a version it does not know rather than misread it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import func, select
from sqlmodel import Session, col

from config.vocabulary import AgendaItem, StatusCause, TraceKind
from engine.store.db import DatabaseError, chunks
from engine.store.models import DecisionTrace, Notice
from rules.decisions import GroupingRule, LadderPlace, Ranking

#: The schema of ``Trace``; bump it (and teach ``read`` the old one) when the body changes.
TRACE_VERSION = 1


class TracedNode(BaseModel):
    """The missed node a verdict is about."""

    model_config = ConfigDict(frozen=True)

    project_code: str
    node_code: str
    planned_date: dt.date


class TracedRanking(LadderPlace[int]):
    """A counted strike's ranking as the trace keeps it: the strikes it rests on by id."""


class Trace(BaseModel):
    """One decision about a strike (the body of a decision_trace row)."""

    model_config = ConfigDict(frozen=True)

    version: int = TRACE_VERSION
    kind: TraceKind
    grouping: GroupingRule | None = None  # opened and joined: the rule that put the miss in the strike
    node: TracedNode | None = None  # opened and joined: the miss
    ranking: TracedRanking | None = None  # the strike's place on the ladder (None: not counted, or a join)
    agenda: tuple[AgendaItem, ...] = ()  # everything the strike puts on the agenda as of this decision
    cause: StatusCause | None = None  # reranked: why
    responsible: str | None = None  # the person (id) accountable, as the verdict found them
    policy: str  # the fingerprint of the policy that decided
    grace_days: int  # the policy's facts the explanation prints
    grouping_policy: str
    rebuilt: bool = False  # reconstructed by the 0008 upgrade from older records
    note: str | None = None  # what a rebuild could not establish exactly


def traced_ranking(ranking: Ranking, ids: Mapping[str, int]) -> TracedRanking:
    """Resolve a ranking's strike refs (``s<id>`` or a new strike's ref) to strike ids."""
    return TracedRanking.model_validate(
        {
            **ranking.model_dump(exclude={"strike_ref"}),
            "counted_before": tuple(ids[ref] for ref in ranking.counted_before),
        }
    )


def body(trace: Trace) -> dict[str, Any]:
    """The JSON stored for a trace."""
    return trace.model_dump(mode="json", exclude_none=True)


def read(row: DecisionTrace) -> Trace:
    """Parse a stored trace; a version this code does not know is refused, never guessed."""
    if row.version != TRACE_VERSION:
        raise DatabaseError(
            f"决策记录 #{row.id} 的格式版本为 {row.version}，此版本的 duban 只能读取第 {TRACE_VERSION} 版："
            "请使用写入它的 duban 版本或更新的版本"
        )
    return Trace.model_validate(row.body)


def of_strike(session: Session, strike_id: int) -> list[tuple[DecisionTrace, Trace]]:
    """Every trace of a strike, oldest first."""
    rows = session.scalars(
        select(DecisionTrace).where(col(DecisionTrace.strike_id) == strike_id).order_by(col(DecisionTrace.id))
    )
    return [(row, read(row)) for row in rows]


def current(session: Session, strike_ids: Iterable[int], as_of: dt.date | None = None) -> dict[int, Trace]:
    """Each strike's current decision: its latest opened or reranked trace (decided by ``as_of``, if given)."""
    return {sid: trace for sid, (_row, trace) in current_rows(session, strike_ids, as_of).items()}


def current_rows(
    session: Session, strike_ids: Iterable[int], as_of: dt.date | None = None
) -> dict[int, tuple[DecisionTrace, Trace]]:
    """Each strike's current decision with its row (a notice names the trace it was issued on)."""
    found: dict[int, tuple[DecisionTrace, Trace]] = {}
    when = [] if as_of is None else [col(DecisionTrace.decided_on) <= as_of]
    for chunk in chunks(sorted(set(strike_ids))):
        latest = (
            select(func.max(col(DecisionTrace.id)))
            .where(col(DecisionTrace.strike_id).in_(chunk), col(DecisionTrace.kind) != TraceKind.JOINED, *when)
            .group_by(col(DecisionTrace.strike_id))
        )
        for row in session.scalars(select(DecisionTrace).where(col(DecisionTrace.id).in_(latest))):
            found[row.strike_id] = (row, read(row))
    return found


def for_notice(session: Session, notice: Notice) -> Trace | None:
    """The decision a notice was issued on: the trace it names, else its strike's latest decision before it."""
    if notice.strike_id is None:
        return None
    named = (notice.payload or {}).get("trace")
    if named is not None:
        row = session.get(DecisionTrace, int(named))
        if row is not None:
            return read(row)
    row = session.scalars(
        select(DecisionTrace)
        .where(
            col(DecisionTrace.strike_id) == notice.strike_id,
            col(DecisionTrace.kind) != TraceKind.JOINED,
            col(DecisionTrace.decided_at) <= notice.created_at,
        )
        .order_by(col(DecisionTrace.decided_at).desc(), col(DecisionTrace.id).desc())
        .limit(1)
    ).first()
    if row is None:  # a notice recorded in the same instant as its decision's rebuilt trace
        row = session.scalars(
            select(DecisionTrace)
            .where(col(DecisionTrace.strike_id) == notice.strike_id, col(DecisionTrace.kind) != TraceKind.JOINED)
            .order_by(col(DecisionTrace.id))
            .limit(1)
        ).first()
    return read(row) if row is not None else None
