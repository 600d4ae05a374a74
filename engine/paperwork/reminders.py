"""Warnings before the deadline (预警): the responsible person is told a node falls due, before it does.

For every node of an active project that is not completed, the policy's ``remind_days_before``
(3, 1, 0 by default) name the days its person is warned: that many days before the planned date.
A threshold that falls on a day off (a weekend, a public holiday, per config/calendar.py) goes out
on the last working day before it, so a run for working day D sends every threshold whose
``remind_on`` is D: planned − threshold on D itself, or on the days off that follow D.

Only what is due on D is sent, and only on D: nothing is backfilled. A node imported or extended
after one of its thresholds passed is warned from the next one on; a run for a past day (a
scheduler catching up after downtime, a typed date) sends nothing, since a warning that comes late
would misstate the days left (the replays of the demo and the tests set "today" to each day); a
future day is refused. A day that is not a working day sends nothing (its warnings went out on the
working day before). "Not completed" is as of D: a node
completed on or before D is not warned of; a completion recorded later dated after D (a replay) was
not known on D and does not stop D's warning.

Each warning is a ``reminder`` row, unique per node, threshold and planned date and sealed in the
audit chain: a second run, or a second scheduler, inserts nothing (INSERT … ON CONFLICT DO NOTHING,
inside the writer lock) and so sends nothing. An extension gives the node a new planned date and
so new warnings; a completion stops them. In the same transaction the outbox gets one message per
node on each of the person's channels (``reminder:{id}:{channel}``, two thresholds on the same day
make one message), and the office one digest of the day on the office channels
(``reminder-digest:{D}:{channel}``; a later run of the same day that finds new ones adds a
supplement keyed by its first reminder). A node with nobody responsible is recorded without a
person and listed in the digest only.

Each warning carries the person's personal link to their phone page (``/m/{token}``, where they
report the node done or ask for an extension). Only its SHA-256 is stored, so the run issues a new
one per person warned, in the same transaction (``link_days`` long, issued by ``预警``); the office's
digest carries none. ``duban person unlink`` revokes these as it does any other.

The read is bounded by what falls due: the nodes planned between D + the smallest threshold and
the day before the next working day + the largest one (the planned-date index), never the ledger.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlmodel import Session, col

from config.vocabulary import ProjectStatus
from engine.context import App
from engine.delivery.outbox import PERSON_ADDRESS, enqueue, recipient_of
from engine.errors import Refused
from engine.paperwork.documents import renderer
from engine.paperwork.template_data import (
    DueItem,
    PersonRef,
    ReminderContext,
    ReminderDigestContext,
    template_fields,
)
from engine.record import links
from engine.record.holders import holders
from engine.store.db import chunks, insert_new, transaction
from engine.store.models import Node, Person, Project, Reminder, table_of

_ONE_DAY = dt.timedelta(days=1)
#: Who issued the personal links a warning carries (``person_link.created_by``).
LINK_ISSUER = "预警"


@dataclass(frozen=True)
class Reminded:
    """What one run for a day did."""

    day: dt.date
    #: False: the day is not a working day, and nothing was sent (its warnings went out before it);
    #: None: not looked up (a past day: the calendar of a year gone by is not needed to send nothing).
    workday: bool | None
    #: True: the day is past, and nothing was sent (a warning is sent on its day or not at all).
    late: bool = False
    #: Reminder rows written now (one per node and threshold).
    reminders: int = 0
    #: Nodes warned of now (two thresholds on one day are one node).
    nodes: int = 0
    #: Persons warned now.
    persons: int = 0
    #: Of the nodes, those with nobody responsible (in the digest only).
    unassigned: int = 0
    #: Messages queued to persons (a node on each of the person's channels).
    messages: int = 0
    #: Whether the office's digest was queued now.
    digest: bool = False
    #: Reminder rows of this day recorded by an earlier run (a rerun finds them and sends nothing again).
    earlier: int = 0

    def as_dict(self) -> dict[str, object]:
        """The run as JSON (``duban remind --json``, the scheduler's log)."""
        return {
            "day": self.day.isoformat(),
            "workday": self.workday,
            "late": self.late,
            "reminders": self.reminders,
            "nodes": self.nodes,
            "persons": self.persons,
            "unassigned": self.unassigned,
            "messages": self.messages,
            "digest": self.digest,
            "earlier": self.earlier,
        }


def thresholds_on(app: App, day: dt.date, planned: dt.date, next_workday: dt.date) -> list[int]:
    """The policy's thresholds of a node planned for ``planned`` whose warning goes out on working day ``day``.

    A threshold's warning goes out on the last working day on or before planned − threshold: on
    ``day`` exactly when planned − threshold is ``day`` or one of the days off before the next
    working day.
    """
    return [t for t in app.policy.remind_days_before if day <= planned - dt.timedelta(days=t) < next_workday]


def _window(app: App, day: dt.date) -> tuple[dt.date, dt.date, dt.date] | None:
    """The planned dates a run for ``day`` reads, and the next working day; None when nothing can be due."""
    days = app.policy.remind_days_before
    if not days:
        return None
    following = app.calendar.next_workday(day + _ONE_DAY)
    return day + dt.timedelta(days=min(days)), following - _ONE_DAY + dt.timedelta(days=max(days)), following


def remind(app: App, day: dt.date) -> Reminded:
    """Record and queue the warnings whose day is ``day`` (today); a rerun records and sends nothing new."""
    today = app.today()
    if day > today:
        raise Refused(f"不能为未来的日期发预警：{day.isoformat()} 晚于今天 {today.isoformat()}")
    if day < today:
        return Reminded(day, workday=None, late=True)
    if not app.calendar.is_workday(day):
        return Reminded(day, workday=False)
    window = _window(app, day)
    if window is None:
        return Reminded(day, workday=True)
    first, last, following = window
    render = renderer(app)
    with transaction(app.engine) as session:
        due = _due(session, day, first, last)
        # What earlier runs of the day recorded (the day's index): a rerun tries no insert for it.
        recorded = {
            (node_id, threshold, planned)
            for node_id, threshold, planned in session.execute(
                select(col(Reminder.node_id), col(Reminder.threshold), col(Reminder.planned_date)).where(
                    col(Reminder.remind_on) == day
                )
            )
        }
        earlier = len(recorded)
        held = holders(session, day, {row.project_id for row in due})
        persons = _persons(session, set(held.values()))
        now = app.now()
        items: list[DueItem] = []
        warned: set[str] = set()
        # One personal link per person and run, whatever the number of their nodes and channels.
        issued: dict[str, tuple[str | None, dt.date | None]] = {}
        written = messages = unassigned = 0
        first_new: int | None = None
        for row in due:
            person_pk = held.get(row.project_id)
            new_ids: list[tuple[int, int]] = []  # (threshold, reminder id)
            for threshold in thresholds_on(app, day, row.planned_date, following):
                if (row.node_id, threshold, row.planned_date) in recorded:
                    continue
                # Inside the writer lock, and a no-op on the unique key all the same: never two rows for one warning.
                new_id = insert_new(
                    session,
                    table_of(Reminder),
                    ["node_id", "threshold", "planned_date"],
                    {
                        "node_id": row.node_id,
                        "project_id": row.project_id,
                        "planned_date": row.planned_date,
                        "threshold": threshold,
                        "remind_on": day,
                        "person_pk": person_pk,
                        "created_at": now,
                    },
                )
                if new_id is not None:
                    new_ids.append((threshold, new_id))
            if not new_ids:
                continue  # recorded before (a rerun, another scheduler) or no threshold today
            written += len(new_ids)
            if first_new is None:
                first_new = new_ids[0][1]
            person = persons.get(person_pk) if person_pk is not None else None
            ref = _ref(person)
            item = row.item(day, ref)
            items.append(item)
            if person is None or ref is None:
                unassigned += 1
                continue
            warned.add(person.person_id)
            if not app.settings.delivery.person:
                continue  # recorded, and in the digest; no channel to tell the person on (and no link issued)
            reminder_id = min(new_ids)[1]  # the most urgent threshold carries the message
            # The link only where the message reaches the person alone (e-mail, WeCom, DingTalk): a file
            # drop or a group robot would hand it to others, who could then report as the person.
            personal = [name for name in app.settings.delivery.person if name in PERSON_ADDRESS]
            if personal and person.person_id not in issued:
                issued[person.person_id] = (
                    (None, None) if links.withdrawn(session, person) else _link(app, session, person)
                )
            link, link_expires = issued.get(person.person_id, (None, None))
            bodies = {
                with_link: render.render_message(
                    "reminder",
                    template_fields(
                        ReminderContext(
                            kind="reminder",
                            day=day,
                            office=app.settings.office,
                            person=ref,
                            item=item,
                            link=link if with_link else None,
                            link_expires=link_expires if with_link else None,
                        )
                    ),
                )
                for with_link in {name in personal for name in app.settings.delivery.person}
            }
            for name in app.settings.delivery.person:
                key = f"reminder:{reminder_id}:{name}"
                subject, body = bodies[name in personal]
                messages += enqueue(app, session, key, name, recipient_of(person, name), subject, body, None)
        digest = False
        if items:
            digest = _digest(app, session, day, items, len(warned), unassigned, earlier, first_new)
    return Reminded(
        day,
        workday=True,
        reminders=written,
        nodes=len(items),
        persons=len(warned),
        unassigned=unassigned,
        messages=messages,
        digest=digest,
        earlier=earlier,
    )


def _link(app: App, session: Session, person: Person) -> tuple[str, dt.date]:
    """Issue the person's link of this run (in its transaction); return its address and its last day."""
    token, expires = links.issue(app, session, person, app.settings.web.link_days, by=LINK_ISSUER)
    return links.address(app, token), expires.astimezone(app.settings.tz).date()


def _digest(
    app: App,
    session: Session,
    day: dt.date,
    items: list[DueItem],
    persons: int,
    unassigned: int,
    earlier: int,
    first_new: int | None,
) -> bool:
    """Queue the office's digest of the nodes warned of now; a later run of the day queues a supplement."""
    context = ReminderDigestContext(
        kind="reminder_digest",
        day=day,
        office=app.settings.office,
        items=items,
        persons=persons,
        unassigned=unassigned,
        supplement=earlier > 0,
    )
    subject, body = renderer(app).render_message("reminder_digest", template_fields(context))
    stem = f"reminder-digest:{day.isoformat()}" if not earlier else f"reminder-digest:{day.isoformat()}:{first_new}"
    queued = False
    for name in app.settings.delivery.office:
        recipient = app.settings.delivery.office_recipient
        queued |= enqueue(app, session, f"{stem}:{name}", name, recipient, subject, body, None)
    return queued


@dataclass(frozen=True)
class _Due:
    node_id: int
    project_id: int
    node_code: str
    node_name: str
    planned_date: dt.date
    project_code: str
    project_name: str
    district: str | None

    def item(self, day: dt.date, person: PersonRef | None) -> DueItem:
        return DueItem(
            project_code=self.project_code,
            project_name=self.project_name,
            district=self.district or "",
            node_code=self.node_code,
            node_name=self.node_name,
            planned_date=self.planned_date,
            days_left=(self.planned_date - day).days,
            person=person,
        )


def _due(session: Session, day: dt.date, first: dt.date, last: dt.date) -> list[_Due]:
    """The nodes of active projects planned in [first, last] and not completed by ``day``, soonest first."""
    rows = session.execute(
        select(
            col(Node.id),
            col(Node.project_id),
            col(Node.code),
            col(Node.name),
            col(Node.planned_date),
            col(Project.code),
            col(Project.name),
            col(Project.district),
        )
        .join(Project, col(Project.id) == col(Node.project_id))
        .where(
            col(Node.planned_date) >= first,
            col(Node.planned_date) <= last,
            or_(col(Node.completed_on).is_(None), col(Node.completed_on) > day),
            col(Project.status) == ProjectStatus.ACTIVE,
        )
        .order_by(col(Node.planned_date), col(Project.code), col(Node.code))
    ).all()
    return [_Due(*row) for row in rows]


def _persons(session: Session, pks: set[int]) -> dict[int, Person]:
    found: dict[int, Person] = {}
    for chunk in chunks(sorted(pks)):
        found.update((p.id, p) for p in session.scalars(select(Person).where(col(Person.id).in_(chunk))) if p.id)
    return found


def _ref(person: Person | None) -> PersonRef | None:
    return None if person is None else PersonRef(person_id=person.person_id, name=person.name, unit=person.unit or "")


def summary(result: Reminded) -> list[str]:
    """A run as users read it, one line each."""
    day = result.day.isoformat()
    if result.late:
        return [f"{day} 已过去：预警只在当天发出，过期不补发（本次未发送任何预警）"]
    if not result.workday:
        return [f"{day} 不是工作日，不发预警（落在非工作日的预警已提前到此前最后一个工作日发出）"]
    if not result.reminders:
        if result.earlier:
            return [f"{day} 的预警此前已发出（{result.earlier} 条），本次没有新的预警，未重复发送"]
        return [f"{day} 没有需要预警的节点"]
    lines = [
        f"{day} 预警 {result.nodes} 个节点（{result.reminders} 条预警记录）："
        f"发给 {result.persons} 名负责人，共 {result.messages} 条消息；无负责人的节点 {result.unassigned} 个（只列入汇总）"
    ]
    lines.append("已向工作专班发送当日预警汇总" if result.digest else "当日预警汇总此前已发送")
    if result.earlier:
        lines.append(f"此前已发出 {result.earlier} 条，未重复发送")
    return lines
