"""Personal links to the phone page: a random token per link, the database keeping only its SHA-256.

The link is ``/m/{token}``. The token (``secrets.token_urlsafe(32)``, 256 random bits) is printed
once, when the office issues it, and never stored: a copy of the database, a backup or the audit
export cannot be turned back into a working link. A link stops working when it expires or when the
office revokes the person's links (``duban person unlink``); each issue and revocation is in the
change log, the link itself sealed as issued.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlmodel import Session, col

from config.vocabulary import LogAction, LogEntity
from engine.context import App
from engine.record.write import log
from engine.store.models import Person, PersonLink, id_of


def token_hash(token: str) -> str:
    """The SHA-256 a token is kept as."""
    return hashlib.sha256(token.encode()).hexdigest()


def address(app: App, token: str) -> str:
    """The full address of a link: the phone page at the address phones reach duban at."""
    return f"{app.settings.web.base_url()}/m/{token}"


def issue(app: App, session: Session, person: Person, days: int, by: str | None = None) -> tuple[str, dt.datetime]:
    """Issue a new personal link for a person; return its token (shown once) and when it expires.

    ``by`` names what issued it when it is not the acting user (the warnings' run: ``预警``).
    """
    token = secrets.token_urlsafe(32)
    now = app.now()
    expires = now + dt.timedelta(days=days)
    session.add(
        PersonLink(
            person_pk=id_of(person),
            token_hash=token_hash(token),
            created_at=now,
            created_by=by or app.actor,
            expires_at=expires,
        )
    )
    log(
        app,
        session,
        LogEntity.PERSON,
        person.person_id,
        LogAction.ISSUE_LINK,
        {"expires": expires.astimezone(app.settings.tz).isoformat(timespec="minutes")} | ({"by": by} if by else {}),
    )
    return token, expires


def revoke_all(app: App, session: Session, person: Person) -> int:
    """Revoke every live link of a person; return how many."""
    now = app.now()
    links = session.scalars(
        select(PersonLink).where(col(PersonLink.person_pk) == id_of(person), col(PersonLink.revoked_at).is_(None))
    ).all()
    for link in links:
        link.revoked_at, link.revoked_by = now, app.actor
        session.add(link)
    if links:
        log(app, session, LogEntity.PERSON, person.person_id, LogAction.REVOKE_LINK, {"links": len(links)})
    return len(links)


def withdrawn(session: Session, person: Person) -> bool:
    """Whether the office has withdrawn the person's links: their newest link is revoked.

    The warnings then carry no link until the office issues one again (``duban person link``), so
    a revocation (a lost phone) holds beyond the next day's warnings.
    """
    newest = session.scalar(
        select(col(PersonLink.revoked_at))
        .where(col(PersonLink.person_pk) == id_of(person))
        .order_by(col(PersonLink.id).desc())
        .limit(1)
    )
    return newest is not None


@dataclass(frozen=True)
class Resolved:
    """What a token opens: the person, or why it opens nothing (in Chinese)."""

    person: Person | None
    refusal: str | None = None
    expires_at: dt.datetime | None = None


def resolve(session: Session, token: str, now: dt.datetime) -> Resolved:
    """Return the person a link's token belongs to, unless it is unknown, expired or revoked."""
    if not token or len(token) > 100:
        return Resolved(None, "链接无效")
    link = session.scalars(select(PersonLink).where(col(PersonLink.token_hash) == token_hash(token))).first()
    if link is None:
        return Resolved(None, "链接无效：请向工作专班索取新的个人链接")
    if link.revoked_at is not None:
        return Resolved(None, "此链接已被工作专班收回：请向工作专班索取新的个人链接")
    if link.expires_at <= now:
        return Resolved(None, "此链接已过期：请向工作专班索取新的个人链接")
    return Resolved(session.get(Person, link.person_pk), None, link.expires_at)
