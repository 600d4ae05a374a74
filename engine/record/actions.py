"""The office's actions, each one whole transaction: what `duban node/project/strike …` and the web both call.

One function per action, so the command line and the web view take exactly the same path:
the same checks, the same history rows, the same audit seal. Each returns what it changed
(or raises Refused with the reason, in Chinese, having changed nothing).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum

from sqlalchemy import select
from sqlmodel import col

from engine.context import App
from engine.errors import Refused
from engine.record.reports import defer_district_completion
from engine.record.write import (
    assign,
    change_planned_date,
    confirm,
    exempt,
    find_node,
    find_person,
    record_completion,
    request_exemption,
)
from engine.record.write import (
    reject_exemption as reject,
)
from engine.store.db import transaction
from engine.store.models import Project, Strike


@dataclass(frozen=True)
class Scope:
    """A limit on what an action may touch: the projects of one district (district staff)."""

    district: str | None = None

    def check(self, project: Project) -> None:
        """Refuse a project outside the scope."""
        if self.district is not None and project.district != self.district:
            raise Refused(f"项目 {project.code} 不属于{self.district}，无权操作")


EVERYTHING = Scope()


class Completion(IntEnum):
    """What a completion did: false when nothing changed, so it reads as the bool it used to be."""

    UNCHANGED = 0  # the same date was already on record
    RECORDED = 1
    PENDING = 2  # a district's completion that would revoke or change a strike: waiting for the office (审核)


def complete_node(
    app: App,
    project_code: str,
    node_code: str,
    on: dt.date,
    reason: str | None = None,
    source: str = "cli",
    scope: Scope = EVERYTHING,
) -> Completion:
    """Record a node's completion; a district's that would revoke or change a strike waits for review instead."""
    with transaction(app.engine) as session:
        project, node = find_node(session, project_code, node_code)
        scope.check(project)
        if scope.district is not None and defer_district_completion(app, session, project, node, on, reason):
            return Completion.PENDING
        changed = record_completion(app, session, project, node, on, source, reason)
        return Completion.RECORDED if changed else Completion.UNCHANGED


def extend_node(
    app: App,
    project_code: str,
    node_code: str,
    to: dt.date,
    reason: str,
    source: str = "cli",
    scope: Scope = EVERYTHING,
) -> tuple[dt.date, bool]:
    """Record an approved extension; return the previous planned date and whether it changed."""
    if not reason.strip():
        raise Refused("延期必须写明理由（--reason）")
    with transaction(app.engine) as session:
        project, node = find_node(session, project_code, node_code)
        scope.check(project)
        old = node.planned_date
        return old, change_planned_date(app, session, project, node, to, reason, source)


def assign_project(
    app: App, project_code: str, person_id: str, effective_from: dt.date, reason: str | None = None, source: str = "cli"
) -> None:
    """Make a person responsible for a project from a date (a dismissed person is refused)."""
    with transaction(app.engine) as session:
        project = session.scalars(select(Project).where(col(Project.code) == project_code)).first()
        if project is None:
            raise Refused(f"项目 {project_code} 不存在")
        assign(app, session, project, find_person(session, person_id), effective_from, source, reason)


def _on_strike(app: App, strike_id: int, scope: Scope, act: Callable[..., None], *args: object) -> None:
    with transaction(app.engine) as session:
        strike = session.get(Strike, strike_id)
        if strike is None:
            raise Refused(f"问责记录 #{strike_id} 不存在")
        project = session.get(Project, strike.project_id)
        assert project is not None
        scope.check(project)
        act(app, session, strike, *args)


def confirm_strike(
    app: App, strike_id: int, meeting: dt.date, text: str | None = None, scope: Scope = EVERYTHING
) -> None:
    """Record the party-group meeting's confirmation of a strike, with its decision text."""
    _on_strike(app, strike_id, scope, confirm, meeting, text or None)


def exempt_strike(
    app: App, strike_id: int, reason: str, meeting: dt.date | None = None, scope: Scope = EVERYTHING
) -> None:
    """Exempt a strike (it stops counting; the person's later strikes move down)."""
    _on_strike(app, strike_id, scope, exempt, reason, meeting)


def ask_exemption(app: App, strike_id: int, reason: str, scope: Scope = EVERYTHING) -> None:
    """Record a request that the meeting exempt a strike (it goes on the next agenda)."""
    _on_strike(app, strike_id, scope, request_exemption, reason)


def reject_exemption(
    app: App, strike_id: int, reason: str, meeting: dt.date | None = None, scope: Scope = EVERYTHING
) -> None:
    """Record that the meeting turned down a strike's exemption request (the strike stands)."""
    _on_strike(app, strike_id, scope, reject, reason, meeting)
