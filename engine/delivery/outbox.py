"""The outbox: every message is written before it is sent, claimed before each attempt,
retried with backoff, and never lost when a channel is down.

Exactly once per (source, channel): the outbox key is unique, so a message is enqueued once;
a row is claimed (queued/failed → sending) by compare-and-swap before it is sent, so two
processes never send it both. A process killed between sending and recording "sent" leaves the
row in "sending"; after the lease it is sent again — the idempotency key travels with it (the
e-mail's Message-ID, the webhook's Idempotency-Key header) so the receiver can recognise it.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select, update
from sqlmodel import Session, col

from engine.context import App
from engine.store.db import insert_new, rowcount, transaction
from engine.store.models import Outbox, OutboxStatus, Person, table_of
from notifications.delivery import DeliveryError, Message, channel

BACKOFF_MINUTES = (1, 5, 30, 120, 480)


def enqueue(app: App, session: Session, key: str, channel_name: str, recipient: str, subject: str, body: str,
            attachment: Path | None, notice_id: int | None = None) -> bool:
    """Queue one message unless the same key was queued before; return whether it was queued now."""
    now = app.now()
    return insert_new(session, table_of(Outbox), ["key"], {
        "key": key, "channel": channel_name, "recipient": recipient, "subject": subject, "body": body,
        "attachment": str(attachment) if attachment else None, "notice_id": notice_id,
        "status": OutboxStatus.QUEUED, "attempts": 0, "next_attempt_at": now, "created_at": now}) is not None


def enqueue_notice(app: App, session: Session, notice_id: int, person: Person | None, subject: str, body: str,
                   attachment: Path | None) -> None:
    """Queue a notice to its person on every channel configured for persons."""
    for name in app.settings.delivery.person:
        recipient = (person.email or "") if name == "smtp" and person else (person.name if person else "工作专班")
        enqueue(app, session, f"notice:{notice_id}:{name}", name, recipient, subject, body, attachment, notice_id)


def enqueue_office(app: App, key: str, subject: str, body: str, attachment: Path | None) -> None:
    """Queue a document for the task-force office (agenda, bulletin) on the office channels."""
    with transaction(app.engine) as session:
        for name in app.settings.delivery.office:
            recipient = app.settings.delivery.office_recipient
            enqueue(app, session, f"{key}:{name}", name, recipient, subject, body, attachment)


def _claim(app: App, row_id: int, status: str, holder: str) -> bool:
    with transaction(app.engine) as session:
        taken = rowcount(session.execute(update(table_of(Outbox)).where(
            table_of(Outbox).c.id == row_id, table_of(Outbox).c.status == status)
            .values(status=OutboxStatus.SENDING, holder=holder, next_attempt_at=app.now())))
    return taken == 1


def deliver(app: App, holder: str = "deliver", only_failed: bool = False) -> dict[str, int]:
    """Send every message that is due; return counts of sent and failed."""
    settings = app.settings.delivery
    now = app.now()
    lease = dt.timedelta(minutes=app.settings.lease_minutes)
    with transaction(app.engine) as session:
        # A human's retry ignores the attempt limit; the automatic one stops after max_attempts.
        limit = 10**9 if only_failed else settings.max_attempts
        due = session.execute(select(col(Outbox.id), col(Outbox.status)).where(or_(
            col(Outbox.status).in_((OutboxStatus.FAILED,) if only_failed else (OutboxStatus.QUEUED, OutboxStatus.FAILED)) & (col(Outbox.next_attempt_at) <= now)
            & (col(Outbox.attempts) < limit),
            (col(Outbox.status) == OutboxStatus.SENDING) & (col(Outbox.next_attempt_at) <= now - lease))).order_by(col(Outbox.id))).all()
    counts = {"sent": 0, "failed": 0}
    for row_id, status in due:
        if not _claim(app, row_id, status, holder):
            continue  # another process took it
        with transaction(app.engine) as session:
            row = session.get(Outbox, row_id)
            assert row is not None
            message = Message(row.key, row.recipient, row.subject, row.body, Path(row.attachment) if row.attachment else None)
            name = row.channel
        try:
            channel(name, settings).send(message)
        except (DeliveryError, OSError) as exc:
            _record(app, row_id, OutboxStatus.FAILED, str(exc))
            counts["failed"] += 1
            continue
        _record(app, row_id, OutboxStatus.SENT, None)
        counts["sent"] += 1
    return counts


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
        session.execute(update(table_of(Outbox)).where(table_of(Outbox).c.status == OutboxStatus.FAILED)
                        .values(next_attempt_at=app.now()))
    return deliver(app, only_failed=True)


def listing(app: App) -> list[dict[str, Any]]:
    """Return the outbox, oldest first."""
    with transaction(app.engine) as session:
        return [{"id": r.id, "key": r.key, "channel": r.channel, "recipient": r.recipient, "subject": r.subject,
                 "status": r.status, "attempts": r.attempts, "last_error": r.last_error,
                 "sent_at": r.sent_at.astimezone(app.settings.tz).isoformat(timespec="seconds") if r.sent_at else None}
                for r in session.scalars(select(Outbox).order_by(col(Outbox.id)))]
