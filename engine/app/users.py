"""Web accounts: who may sign in, with which role, and their browser sessions.

Passwords are kept only as argon2id hashes (argon2-cffi). A session cookie carries a random
token; the database keeps its SHA-256, so a copy of the database signs nobody in. Sign-in
attempts are recorded: after ``MAX_FAILURES`` failures of one account (or ``MAX_CLIENT_FAILURES``
from one address) within ``LOCKOUT``, further attempts are refused without checking the password.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select, update
from sqlmodel import Session, col

from engine.context import App
from engine.errors import Refused
from engine.record.write import log
from engine.store.db import transaction
from engine.store.models import LogAction, LogEntity, LoginAttempt, Project, Role, User, WebSession, id_of, table_of

MAX_FAILURES = 5
MAX_CLIENT_FAILURES = 20
LOCKOUT = dt.timedelta(minutes=15)
MIN_PASSWORD = 8
#: A session's last-seen time is written at most this often (reads must not all become writes).
TOUCH_EVERY = dt.timedelta(minutes=5)
_NAME = re.compile(r"^[A-Za-z0-9_.\-]{2,64}$")
_HASHER = PasswordHasher()



@dataclass(frozen=True)
class Viewer:
    """The signed-in user of one request, as the pages and permission checks need it."""

    user_id: int
    name: str
    display_name: str
    role: Role
    district: str | None
    csrf: str
    session_id: int

    @property
    def actor(self) -> str:
        """Return how this user's actions are recorded (``web:NAME``)."""
        return f"web:{self.name}"


def check_password_rules(password: str) -> None:
    """Refuse a password too short or too plain to protect decisions that end careers."""
    if len(password) < MIN_PASSWORD:
        raise Refused(f"密码至少 {MIN_PASSWORD} 位")
    if password.isdigit() or password.isalpha():
        raise Refused("密码不能全是数字或全是字母")


def add_user(app: App, session: Session, name: str, display_name: str | None, role: Role, district: str | None,
             password: str) -> User:
    """Create an account; district staff must name a district that the ledger knows."""
    if not _NAME.match(name):
        raise Refused(f"用户名 {name!r} 无效：2–64 位字母、数字、点、下划线或连字符")
    if session.scalars(select(User).where(col(User.name) == name)).first() is not None:
        raise Refused(f"用户名 {name} 已存在")
    if role is Role.DISTRICT:
        if not district:
            raise Refused("片区工作人员必须用 --district 指定片区")
        known = sorted({d for d in session.scalars(select(col(Project.district)).distinct()) if d})
        if known and district not in known:
            raise Refused(f"片区 {district} 不在台账中（已有：{'、'.join(known)}）")
    elif district:
        raise Refused("只有片区工作人员（--role district）才指定片区")
    check_password_rules(password)
    now = app.now()
    user = User(name=name, display_name=display_name or name, role=role, district=district,
                password_hash=_HASHER.hash(password), active=True, created_at=now, created_by=app.actor,
                password_changed_at=now)
    session.add(user)
    session.flush()
    log(app, session, LogEntity.USER, name, LogAction.CREATE, {"role": str(role), "district": district})
    return user


def find_user(session: Session, name: str) -> User:
    """Return an account by name or refuse."""
    user = session.scalars(select(User).where(col(User.name) == name)).first()
    if user is None:
        raise Refused(f"用户 {name} 不存在")
    return user


def set_password(app: App, session: Session, name: str, password: str) -> None:
    """Change an account's password and end its sessions."""
    user = find_user(session, name)
    check_password_rules(password)
    user.password_hash = _HASHER.hash(password)
    user.password_changed_at = app.now()
    session.add(user)
    _end_sessions(app, session, user.id)
    log(app, session, LogEntity.USER, name, LogAction.PASSWORD, {})


def set_active(app: App, session: Session, name: str, active: bool) -> None:
    """Disable (ending its sessions) or re-enable an account."""
    user = find_user(session, name)
    user.active = active
    session.add(user)
    if not active:
        _end_sessions(app, session, user.id)
    log(app, session, LogEntity.USER, name, LogAction.ENABLE if active else LogAction.DISABLE, {})


def _end_sessions(app: App, session: Session, user_id: int | None) -> None:
    session.execute(update(table_of(WebSession)).where(
        table_of(WebSession).c.user_id == user_id, table_of(WebSession).c.ended_at.is_(None))
        .values(ended_at=app.now()))


def users(session: Session) -> list[User]:
    """Return every account, by name."""
    return list(session.scalars(select(User).order_by(col(User.name))))


# ------------------------------------------------------------------------------------ sign in


class LockedOut(Refused):
    """Too many failed sign-ins: try again later."""


def _failures_since(session: Session, column: Any, value: str, since: dt.datetime) -> list[dt.datetime]:
    return list(session.scalars(select(col(LoginAttempt.at)).where(
        column == value, col(LoginAttempt.at) >= since, col(LoginAttempt.ok).is_(False)).order_by(col(LoginAttempt.at))))


def _lockout_left(session: Session, name: str, client: str | None, now: dt.datetime) -> dt.timedelta | None:
    since = now - LOCKOUT
    for column, value, limit in ((col(LoginAttempt.name), name, MAX_FAILURES),
                                 (col(LoginAttempt.client), client, MAX_CLIENT_FAILURES)):
        if value is None:
            continue
        failures = _failures_since(session, column, value, since)
        if len(failures) >= limit:
            return failures[-limit] + LOCKOUT - now
    return None


def sign_in(app: App, name: str, password: str, client: str | None, hours: int) -> str:
    """Check a sign-in and open a session; return its token, or refuse with a clear reason.

    The attempt is committed before any refusal, so failures count even though the request fails;
    the reason never says whether the name or the password was wrong.
    """
    now = app.now()
    name = name.strip()[:64]
    with transaction(app.engine) as session:
        left = _lockout_left(session, name, client, now)
        if left is not None:
            minutes = max(1, -(-int(left.total_seconds()) // 60))
            raise LockedOut(f"登录失败次数过多，请 {minutes} 分钟后再试")
        user = session.scalars(select(User).where(col(User.name) == name)).first()
        ok = False
        if user is not None:
            try:
                ok = _HASHER.verify(user.password_hash, password)
            except (VerificationError, InvalidHashError):
                ok = False
        else:
            _HASHER.hash(password)  # the same work either way: timing does not tell which names exist
        session.add(LoginAttempt(name=name, client=client, at=now, ok=ok))
        token = None
        if ok and user is not None and user.active:
            if _HASHER.check_needs_rehash(user.password_hash):
                user.password_hash = _HASHER.hash(password)
                session.add(user)
            token = start_session(app, session, user, hours, client)
    if token is None:
        raise Refused("此账号已停用，请联系工作专班" if ok else "用户名或密码错误")
    return token


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(app: App, session: Session, user: User, hours: int, client: str | None) -> str:
    """Open a browser session; return the token for its cookie (shown once, stored hashed)."""
    token = secrets.token_urlsafe(32)
    now = app.now()
    session.add(WebSession(token_hash=_digest(token), user_id=id_of(user), csrf=secrets.token_urlsafe(24),
                           created_at=now, last_seen_at=now, expires_at=now + dt.timedelta(hours=hours),
                           client=client))
    return token


def viewer_for(session: Session, token: str, now: dt.datetime) -> tuple[Viewer, bool] | None:
    """Return the signed-in user of a token, and whether its last-seen time is due a write."""
    row = session.execute(
        select(col(WebSession.id), col(WebSession.csrf), col(WebSession.last_seen_at), col(WebSession.expires_at), User)
        .join(User, col(User.id) == col(WebSession.user_id))
        .where(col(WebSession.token_hash) == _digest(token), col(WebSession.ended_at).is_(None))).first()
    if row is None:
        return None
    session_id, csrf, last_seen, expires, user = row
    if expires <= now or not user.active:
        return None
    viewer = Viewer(user.id, user.name, user.display_name, Role(user.role), user.district, csrf, session_id)
    return viewer, now - last_seen >= TOUCH_EVERY


def touch_session(session: Session, session_id: int, now: dt.datetime, hours: int) -> None:
    """Slide a session's expiry forward (idle timeout) from now."""
    session.execute(update(table_of(WebSession)).where(table_of(WebSession).c.id == session_id)
                    .values(last_seen_at=now, expires_at=now + dt.timedelta(hours=hours)))


def end_session(app: App, session: Session, session_id: int) -> None:
    """Sign a browser out."""
    session.execute(update(table_of(WebSession)).where(table_of(WebSession).c.id == session_id)
                    .values(ended_at=app.now()))


def count_users(session: Session) -> int:
    """Return how many accounts exist (``duban serve`` says how to create the first)."""
    return session.scalar(select(func.count()).select_from(User)) or 0
