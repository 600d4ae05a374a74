"""Reports from the site and their review, each one whole transaction: what `duban review …`,
`duban person link|unlink`, the phone page and the 审核 page all call.

The writes are engine/record/reports.py and links.py; here they meet the outbox, so that a
rejection's reason is queued to the person in the same transaction that records it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlmodel import Session

from config.vocabulary import ReportKind, ReportSource
from engine.context import App
from engine.delivery.outbox import enqueue, recipient_of
from engine.errors import Refused
from engine.record import links, reports
from engine.record.photos import Processed, process
from engine.record.write import find_node, find_person
from engine.store.db import transaction
from engine.store.models import Node, Person, Project, Report


@dataclass(frozen=True)
class Upload:
    """One photo as it arrived: the name the phone gave it (only to name it in a refusal) and its bytes."""

    name: str
    data: bytes


def issue_link(app: App, person_id: str, days: int | None = None) -> tuple[str, dt.datetime]:
    """Issue a personal link; return its full address and when it expires."""
    with transaction(app.engine) as session:
        person = find_person(session, person_id)
        token, expires = links.issue(app, session, person, days or app.settings.web.link_days)
    return links.address(app, token), expires


def revoke_links(app: App, person_id: str) -> int:
    """Revoke every live link of a person; return how many."""
    with transaction(app.engine) as session:
        return links.revoke_all(app, session, find_person(session, person_id))


def photos_of(app: App, uploads: Sequence[Upload]) -> list[Processed]:
    """Check and re-encode each upload (before any transaction: the work is the CPU's, not the database's)."""
    web = app.settings.web
    if len(uploads) > reports.MAX_PHOTOS:
        raise Refused(f"照片最多 {reports.MAX_PHOTOS} 张（收到 {len(uploads)} 张）")
    problems: list[str] = []
    done: list[Processed] = []
    for upload in uploads:
        try:
            done.append(
                process(
                    upload.data, upload.name, web.max_photo_mb * 1024 * 1024, web.keep_photo_location, app.settings.tz
                )
            )
        except Refused as exc:
            problems.extend(exc.problems)
    if problems:
        raise Refused(*problems)
    return done


def submit(
    app: App,
    token: str,
    project_code: str,
    node_code: str,
    kind: ReportKind,
    day: dt.date,
    note: str,
    uploads: Sequence[Upload] = (),
) -> int:
    """Record a report from a personal link (refused if the link does not open); return the report's id."""
    processed = photos_of(app, uploads)
    with transaction(app.engine) as session:
        person = _person_of(app, session, token)
        _project, node = find_node(session, project_code, node_code)
        report = reports.report_from_site(
            app.as_actor(f"person:{person.person_id}"), session, person, node, kind, day, note, processed
        )
        assert report.id is not None
        return report.id


def _person_of(app: App, session: Session, token: str) -> Person:
    found = links.resolve(session, token, app.now())
    if found.person is None:
        raise Refused(found.refusal or "链接无效")
    return found.person


def approve(app: App, report_id: int, note: str | None = None) -> Report:
    """Approve a report as ``app.actor``: its completion or extension is recorded, the ladder re-derived."""
    with transaction(app.engine) as session:
        return reports.approve(app, session, report_id, note)


def reject(app: App, report_id: int, reason: str) -> tuple[Report, int]:
    """Reject a report with a reason, queued to the person who reported it; return it and the messages queued."""
    with transaction(app.engine) as session:
        report = reports.reject(app, session, report_id, reason)
        queued = 0
        if report.source == ReportSource.PHONE and report.person_pk is not None:
            person = session.get(Person, report.person_pk)
            project, node = session.get(Project, report.project_id), session.get(Node, report.node_id)
            assert person is not None and project is not None and node is not None
            what = (
                f"报完成（完成日期 {report.completed_on}）"
                if report.kind == ReportKind.COMPLETION
                else f"申请延期（新的计划日期 {report.requested_date}）"
            )
            subject = f"现场报告未通过审核：{project.code} {node.code} {node.name}"
            body = (
                f"{person.name}：您于 {report.created_at.astimezone(app.settings.tz):%Y-%m-%d %H:%M} 对项目 "
                f"{project.code}（{project.name}）节点 {node.code}（{node.name}）的{what}，经工作专班审核未予通过。\n"
                f"理由：{reason.strip()}\n请按要求补充后通过个人链接重新报告。"
            )
            for name in app.settings.delivery.person:
                key = f"report:{report.id}:rejected:{name}"
                queued += enqueue(app, session, key, name, recipient_of(person, name), subject, body, None)
        return report, queued
