"""The outbox: every message is written before it is sent, claimed before each attempt,
retried with backoff, and never lost when a channel is down.

Exactly once per (source, channel): the outbox key is unique, so a message is enqueued once;
a row is claimed (queued/failed → sending) by compare-and-swap before it is sent, so two
processes never send it both. A process killed between sending and recording "sent" leaves the
row in "sending"; after the lease it is sent again — the idempotency key travels with it (the
e-mail's Message-ID, the webhook's Idempotency-Key header) so the receiver can recognise it.

Paced channels (the group robots take about 20 messages a minute): before a claim, inside the
writer lock, the channel's attempts of the last 60 seconds are counted from the rows themselves
(``last_attempt_at``, stamped by the claim), so every process sharing the database keeps to one
window. A message that does not fit is not attempted and not counted: it waits, queued, until
the window frees up. A receiver that answers "too fast" blocks its channel (``channel_block``)
for every process until the block ends; the message goes back to wait, its attempt not counted,
and the channel sends nothing more in this run. A block never makes a message fail.
"""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlmodel import Session, col

from config.delivery import DeliverySettings
from config.vocabulary import OutboxStatus
from engine.context import App
from engine.store.db import insert_new, reading, rowcount, transaction
from engine.store.models import ChannelBlock, Outbox, Person, table_of
from notifications.delivery import ChannelBlocked, DeliveryError, Message, channel

BACKOFF_MINUTES = (1, 5, 30, 120, 480)
#: A paced channel takes at most its ``per_minute`` messages in any window this long.
WINDOW = dt.timedelta(seconds=60)


def enqueue(
    app: App,
    session: Session,
    key: str,
    channel_name: str,
    recipient: str,
    subject: str,
    body: str,
    attachment: Path | None,
    notice_id: int | None = None,
) -> bool:
    """Queue one message unless the same key was queued before; return whether it was queued now."""
    now = app.now()
    return (
        insert_new(
            session,
            table_of(Outbox),
            ["key"],
            {
                "key": key,
                "channel": channel_name,
                "recipient": recipient,
                "subject": subject,
                "body": body,
                "attachment": str(attachment) if attachment else None,
                "notice_id": notice_id,
                "status": OutboxStatus.QUEUED,
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            },
        )
        is not None
    )


def enqueue_notice(
    app: App, session: Session, notice_id: int, person: Person | None, subject: str, body: str, attachment: Path | None
) -> None:
    """Queue a notice to its person on every channel configured for persons."""
    for name in app.settings.delivery.person:
        recipient = recipient_of(person, name)
        enqueue(app, session, f"notice:{notice_id}:{name}", name, recipient, subject, body, attachment, notice_id)


#: The person's field that addresses each channel that reaches one person; other channels get the name.
PERSON_ADDRESS = {"smtp": "email", "wecom_app": "wecom_id", "dingtalk_app": "dingtalk_id"}


def recipient_of(person: Person | None, channel: str) -> str:
    """Whom a message to ``person`` is addressed to on ``channel``.

    A channel that reaches one person (e-mail, WeCom or DingTalk messages) gets the person's address
    there, "" when the ledger gives none (the channel then refuses it, on record in the outbox); a
    file drop or a group robot gets the person's name. Nobody responsible: the office.
    """
    if person is None:
        return "工作专班"
    field = PERSON_ADDRESS.get(channel)
    return (getattr(person, field) or "") if field else person.name


def enqueue_office(app: App, key: str, subject: str, body: str, attachment: Path | None) -> None:
    """Queue a document for the task-force office (agenda, bulletin) on the office channels."""
    with transaction(app.engine) as session:
        for name in app.settings.delivery.office:
            recipient = app.settings.delivery.office_recipient
            enqueue(app, session, f"{key}:{name}", name, recipient, subject, body, attachment)


def _per_minute(name: str, settings: DeliverySettings) -> int | None:
    try:
        return channel(name, settings).per_minute
    except DeliveryError:
        return None  # an unknown channel: its send fails and is recorded as such


def _automatic(max_attempts: int) -> ColumnElement[bool]:
    # Queued messages go whatever their attempts (a block leaves them untouched); failed ones until the limit.
    return or_(
        col(Outbox.status) == OutboxStatus.QUEUED,
        and_(col(Outbox.status) == OutboxStatus.FAILED, col(Outbox.attempts) < max_attempts),
    )


def _resume_at(session: Session, name: str, per_minute: int | None, now: dt.datetime) -> dt.datetime | None:
    """Return when the channel may send again, or None when it may send now."""
    block = session.get(ChannelBlock, name)
    if block is not None and block.blocked_until > now:
        return block.blocked_until
    if per_minute is None:
        return None
    recent = session.scalars(
        select(col(Outbox.last_attempt_at))
        .where(col(Outbox.channel) == name, col(Outbox.last_attempt_at) > now - WINDOW)
        .order_by(col(Outbox.last_attempt_at))
    ).all()
    if len(recent) < per_minute:
        return None
    # An attempt exactly 60 s old has left the window: the slot frees when the oldest one that still fills it does.
    oldest = recent[len(recent) - per_minute]
    assert oldest is not None
    return oldest + WINDOW


def _defer(session: Session, name: str, until: dt.datetime, max_attempts: int) -> None:
    # Everything the channel would send before ``until`` waits for it: not attempted, not counted.
    session.execute(
        update(table_of(Outbox))
        .where(table_of(Outbox).c.channel == name, _automatic(max_attempts), table_of(Outbox).c.next_attempt_at < until)
        .values(next_attempt_at=until)
    )


def _claim(app: App, row_id: int, status: str, holder: str, name: str, per_minute: int | None) -> bool | dt.datetime:
    """Claim a row for one attempt; False when another process has it, a time when its channel must wait until then."""
    with transaction(app.engine) as session:
        # Read the clock inside the writer lock: one writer at a time counts the window and stamps its attempt.
        now = app.now()
        resume = _resume_at(session, name, per_minute, now)
        if resume is not None:
            _defer(session, name, resume, app.settings.delivery.max_attempts)
            return resume
        taken = rowcount(
            session.execute(
                update(table_of(Outbox))
                .where(table_of(Outbox).c.id == row_id, table_of(Outbox).c.status == status)
                .values(status=OutboxStatus.SENDING, holder=holder, next_attempt_at=now, last_attempt_at=now)
            )
        )
    return taken == 1


def deliver(
    app: App, holder: str = "deliver", only_failed: bool = False, stop: threading.Event | None = None
) -> dict[str, int]:
    """Send every message that is due at each channel's pace; return counts of sent, failed and deferred."""
    settings = app.settings.delivery
    now = app.now()
    lease = dt.timedelta(minutes=app.settings.lease_minutes)
    with transaction(app.engine) as session:
        # A human's retry ignores the attempt limit; the automatic one stops after max_attempts.
        waiting = (col(Outbox.status) == OutboxStatus.FAILED) if only_failed else _automatic(settings.max_attempts)
        due = session.execute(
            select(col(Outbox.id), col(Outbox.status), col(Outbox.channel))
            .where(
                or_(
                    waiting & (col(Outbox.next_attempt_at) <= now),
                    (col(Outbox.status) == OutboxStatus.SENDING) & (col(Outbox.next_attempt_at) <= now - lease),
                )
            )
            .order_by(col(Outbox.id))
        ).all()
    counts = {"sent": 0, "failed": 0, "deferred": 0}
    paused: set[str] = set()  # channels that send nothing more in this run (window full or blocked)
    pace: dict[str, int | None] = {}  # each channel's messages a minute, looked up once per run
    for row_id, status, name in due:
        if stop is not None and stop.is_set():
            break  # between two messages: nothing is left claimed
        if name in paused:
            counts["deferred"] += 1  # already moved to when its channel may send again
            continue
        if name not in pace:
            pace[name] = _per_minute(name, settings)
        claimed = _claim(app, row_id, status, holder, name, pace[name])
        if isinstance(claimed, dt.datetime):
            paused.add(name)
            counts["deferred"] += 1
            continue
        if not claimed:
            continue  # another process took it
        with transaction(app.engine) as session:
            row = session.get(Outbox, row_id)
            assert row is not None
            message = Message(
                row.key, row.recipient, row.subject, row.body, Path(row.attachment) if row.attachment else None
            )
        try:
            channel(name, settings).send(message)
        except ChannelBlocked as exc:
            _block(app, row_id, status, name, exc)
            paused.add(name)
            counts["deferred"] += 1
            continue
        except (DeliveryError, OSError) as exc:
            _record(app, row_id, OutboxStatus.FAILED, str(exc))
            counts["failed"] += 1
            continue
        _record(app, row_id, OutboxStatus.SENT, None)
        counts["sent"] += 1
    return counts


def _block(app: App, row_id: int, status: str, name: str, exc: ChannelBlocked) -> None:
    """Block the channel for every process, and put the message back to wait for the block's end uncounted."""
    with transaction(app.engine) as session:
        now = app.now()
        until = now + dt.timedelta(minutes=exc.minutes)
        block = session.get(ChannelBlock, name)
        if block is None:
            block = ChannelBlock(channel=name, blocked_at=now, blocked_until=until, reason=str(exc))
        block.blocked_at, block.blocked_until, block.reason = now, until, str(exc)
        session.add(block)
        row = session.get(Outbox, row_id)
        assert row is not None
        # The receiver refused everything, not this message: the attempt is not counted, and the
        # message keeps its state (a failed one stays failed, a taken-over one is queued again).
        row.status = OutboxStatus.FAILED if status == OutboxStatus.FAILED else OutboxStatus.QUEUED
        row.holder, row.last_error, row.next_attempt_at = None, str(exc), until
        session.add(row)
        session.flush()
        _defer(session, name, until, app.settings.delivery.max_attempts)


def _record(app: App, row_id: int, status: str, error: str | None) -> None:
    with transaction(app.engine) as session:
        row = session.get(Outbox, row_id)
        assert row is not None
        row.attempts += 1
        row.status, row.last_error = status, error
        if status == OutboxStatus.SENT:
            row.sent_at = app.now()
        else:
            wait = BACKOFF_MINUTES[min(row.attempts, len(BACKOFF_MINUTES)) - 1]
            row.next_attempt_at = app.now() + dt.timedelta(minutes=wait)
        session.add(row)


def retry(app: App) -> dict[str, int]:
    """Send the failed messages again now, whatever their backoff (attempts are still counted)."""
    with transaction(app.engine) as session:
        session.execute(
            update(table_of(Outbox))
            .where(table_of(Outbox).c.status == OutboxStatus.FAILED)
            .values(next_attempt_at=app.now())
        )
    return deliver(app, only_failed=True)


def listing(app: App) -> list[dict[str, Any]]:
    """Return the outbox, oldest first, with when each message is tried next and why its channel waits."""
    tz, now = app.settings.tz, app.now()

    def local(at: dt.datetime | None) -> str | None:
        return at.astimezone(tz).isoformat(timespec="seconds") if at else None

    with reading(app.engine) as session:
        rows = list(session.scalars(select(Outbox).order_by(col(Outbox.id))))
        blocks = {b.channel: b for b in session.scalars(select(ChannelBlock)) if b.blocked_until > now}
    return [
        {
            "id": r.id,
            "key": r.key,
            "channel": r.channel,
            "recipient": r.recipient,
            "subject": r.subject,
            "status": r.status,
            "attempts": r.attempts,
            "last_error": r.last_error,
            "sent_at": local(r.sent_at),
            "next_attempt_at": None if r.status == OutboxStatus.SENT else local(r.next_attempt_at),
            "blocked": blocks[r.channel].reason if r.channel in blocks and r.status != OutboxStatus.SENT else None,
        }
        for r in rows
    ]


def summary(counts: dict[str, int]) -> str:
    """Return a run's counts as users read them."""
    said = f"成功 {counts['sent']} 条，失败 {counts['failed']} 条"
    if counts.get("deferred"):
        said += f"，暂缓 {counts['deferred']} 条（渠道限速或机器人限流，到时再发）"
    return said


def next_attempt_note(row: dict[str, Any]) -> str:
    """Return when a listed message is tried next (and whether its channel is blocked), as users read it."""
    if not row["next_attempt_at"]:
        return ""
    at = row["next_attempt_at"][:19].replace("T", " ")
    return f"{at}（渠道限流中）" if row["blocked"] else at
