"""Progress reported from the site, and the office's verification (审核) of it.

A report — a node done on a day, or a new planned date asked — is written as it came (``report``,
with its photos) and changes nothing else: no completion, no extension, no strike revoked, no level
moved. The office approves or rejects it once (``report_decision``). Approval records the completion
or the extension through the same functions as ``duban node complete`` / ``duban node extend``
(``record_completion``, ``change_planned_date``), acting as the approver, the reporter named in the
history's reason; the ladder is then re-derived as those functions always do. A rejection keeps its
reason; the application sends it back to the person (engine/app/review.py).

The same queue holds a district account's completion that would revoke or change a strike
(``defer_district_completion``): a completion dated within the deadline of a miss already detected.
The office's own completions stay immediate.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlmodel import Session, col

from config.vocabulary import HistoryKind, LogAction, LogEntity, ReportKind, ReportSource
from engine.context import App
from engine.errors import Refused
from engine.record.holders import holders
from engine.record.photos import Processed, store
from engine.record.write import change_planned_date, log, misses_met_by, record_completion
from engine.store.models import Node, NodeHistory, Person, Project, Report, ReportDecision, ReportPhoto, id_of

MAX_NOTE = 2000
MAX_PHOTOS = 9
#: The history's source of a completion or extension recorded by approving a report.
SOURCE = "report"


@dataclass(frozen=True)
class Reporter:
    """Who reports: a person through their link (``person``), or a district account (``account``)."""

    source: ReportSource
    name: str  # the person's id, or the account as the record names it (web:NAME)
    person_pk: int | None = None


def _check_note(note: str) -> str:
    text = note.strip()
    if len(text) > MAX_NOTE:
        raise Refused(f"说明不能超过 {MAX_NOTE} 字（现有 {len(text)} 字）")
    return text


def pending_of(session: Session, node_id: int) -> Report | None:
    """Return the node's report still waiting for the office, if any."""
    decided = select(col(ReportDecision.report_id))
    return session.scalars(
        select(Report).where(col(Report.node_id) == node_id, col(Report.id).not_in(decided)).order_by(col(Report.id))
    ).first()


def _add(
    app: App,
    session: Session,
    project: Project,
    node: Node,
    kind: ReportKind,
    day: dt.date,
    note: str,
    reporter: Reporter,
    photos: Sequence[Processed] = (),
) -> Report:
    waiting = pending_of(session, id_of(node))
    if waiting is not None:
        raise Refused(f"{project.code} {node.code} 已有待审核的报告（#{waiting.id}），请等待工作专班审核")
    report = Report(
        node_id=id_of(node),
        project_id=id_of(project),
        kind=kind,
        completed_on=day if kind == ReportKind.COMPLETION else None,
        requested_date=day if kind == ReportKind.EXTENSION else None,
        note=note,
        planned_date=node.planned_date,
        source=reporter.source,
        reported_by=reporter.name,
        person_pk=reporter.person_pk,
        created_at=app.now(),
    )
    session.add(report)
    session.flush()
    for position, photo in enumerate(photos, start=1):
        session.add(ReportPhoto(report_id=id_of(report), photo_id=store(session, photo, app.now()), position=position))
    log(
        app,
        session,
        LogEntity.REPORT,
        str(report.id),
        LogAction.REPORT,
        {
            "project": project.code,
            "kind": kind.value,
            ("on" if kind == ReportKind.COMPLETION else "to"): day.isoformat(),
            "source": reporter.source.value,
        },
        note or None,
    )
    return report


def report_from_site(
    app: App,
    session: Session,
    person: Person,
    node: Node,
    kind: ReportKind,
    day: dt.date,
    note: str,
    photos: Sequence[Processed],
) -> Report:
    """Record a report from a person's phone page (a completion needs 1–9 photos; an extension a reason)."""
    project = session.get(Project, node.project_id)
    assert project is not None
    if holders(session, app.today(), [node.project_id]).get(node.project_id) != id_of(person):
        raise Refused(f"{person.name} 不是项目 {project.code} 的负责人，不能报告它的节点")
    text = _check_note(note)
    if len(photos) > MAX_PHOTOS:
        raise Refused(f"照片最多 {MAX_PHOTOS} 张（收到 {len(photos)} 张）")
    if kind == ReportKind.COMPLETION:
        if not photos:
            raise Refused("报完成须附 1–9 张现场照片")
        if day > app.today():
            raise Refused(f"完成日期 {day.isoformat()} 晚于今天 {app.today().isoformat()}")
        if node.completed_on == day:
            raise Refused(f"{project.code} {node.code} 已记录于 {day.isoformat()} 完成")
    else:
        if not text:
            raise Refused("申请延期须写明理由")
        if day <= app.today():
            raise Refused(f"新的计划日期 {day.isoformat()} 应晚于今天 {app.today().isoformat()}")
        if day == node.planned_date:
            raise Refused(f"{project.code} {node.code} 的计划日期已是 {day.isoformat()}")
    return _add(
        app,
        session,
        project,
        node,
        kind,
        day,
        text,
        Reporter(ReportSource.PHONE, person.person_id, id_of(person)),
        photos,
    )


def defer_district_completion(
    app: App, session: Session, project: Project, node: Node, completed_on: dt.date, reason: str | None
) -> Report | None:
    """Queue a district account's completion for review when it would revoke or change a strike; else None.

    A completion dated within the deadline of a miss already detected would revoke that miss (and
    the strike resting on it only): that is the meeting's record, so the office verifies it first.
    """
    if completed_on > app.today() or node.completed_on == completed_on:
        return None  # refused or unchanged by record_completion, as ever
    if not misses_met_by(app, session, node, completed_on):
        return None
    return _add(
        app,
        session,
        project,
        node,
        ReportKind.COMPLETION,
        completed_on,
        _check_note(reason or ""),
        Reporter(ReportSource.DISTRICT, app.actor),
    )


def _undecided(session: Session, report_id: int) -> tuple[Report, Project, Node]:
    report = session.get(Report, report_id)
    if report is None:
        raise Refused(f"报告 #{report_id} 不存在")
    decision = session.scalars(select(ReportDecision).where(col(ReportDecision.report_id) == report_id)).first()
    if decision is not None:
        verdict = "通过" if decision.approved else "退回"
        raise Refused(f"报告 #{report_id} 已由 {decision.by} 审核{verdict}，不能再次审核")
    project, node = session.get(Project, report.project_id), session.get(Node, report.node_id)
    assert project is not None and node is not None
    return report, project, node


def approve(app: App, session: Session, report_id: int, note: str | None = None) -> Report:
    """Approve a report: record its completion or extension as the approver (``app.actor``), naming the reporter."""
    report, project, node = _undecided(session, report_id)
    words = "报完成" if report.kind == ReportKind.COMPLETION else "申请延期"
    reason = f"现场报告 #{report.id}（{words}），报告人 {report.reported_by}，审核人 {app.actor}"
    extra = "；".join(part for part in (report.note, (note or "").strip()) if part)
    reason += f"：{extra}" if extra else ""
    if report.kind == ReportKind.COMPLETION:
        assert report.completed_on is not None
        later = session.scalar(
            select(col(NodeHistory.completed_on))
            .where(
                col(NodeHistory.node_id) == report.node_id,
                col(NodeHistory.kind) == HistoryKind.COMPLETION,
                col(NodeHistory.recorded_at) >= report.created_at,
            )
            .order_by(col(NodeHistory.id).desc())
            .limit(1)
        )
        if later is not None:  # the office recorded a completion since: approving would overwrite it unseen
            raise Refused(
                f"报告 #{report.id} 提出后，{project.code} {node.code} 已另行记录完成日期 {later.isoformat()}："
                "请退回；如需更正完成日期，请用 duban node complete 并写明理由"
            )
        record_completion(app, session, project, node, report.completed_on, SOURCE, reason)
    else:
        assert report.requested_date is not None
        if report.requested_date <= app.today():  # approved now, it would open a deadline already past: a miss
            raise Refused(
                f"报告 #{report.id} 申请的新计划日期 {report.requested_date.isoformat()} 已不晚于今天 "
                f"{app.today().isoformat()}：请退回，由负责人重新申请"
            )
        if node.planned_date != report.planned_date:
            raise Refused(
                f"报告 #{report.id} 提出时计划日期为 {report.planned_date.isoformat()}，现已是 "
                f"{node.planned_date.isoformat()}：请退回，由负责人重新申请"
            )
        change_planned_date(app, session, project, node, report.requested_date, reason, SOURCE)
    _decide(app, session, report, True, (note or "").strip() or None)
    return report


def reject(app: App, session: Session, report_id: int, reason: str) -> Report:
    """Reject a report with a reason (nothing else changes)."""
    text = reason.strip()
    if not text:
        raise Refused("退回必须写明理由（--reason）")
    if len(text) > MAX_NOTE:
        raise Refused(f"理由不能超过 {MAX_NOTE} 字")
    report, _project, _node = _undecided(session, report_id)
    _decide(app, session, report, False, text)
    return report


def _decide(app: App, session: Session, report: Report, approved: bool, reason: str | None) -> None:
    session.add(ReportDecision(report_id=id_of(report), approved=approved, by=app.actor, at=app.now(), reason=reason))
    log(
        app,
        session,
        LogEntity.REPORT,
        str(report.id),
        LogAction.APPROVE if approved else LogAction.REJECT,
        {"kind": report.kind},
        reason,
    )
