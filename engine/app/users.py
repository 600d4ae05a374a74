"""Web accounts: who may sign in, with which role, and their browser sessions.

Passwords are kept only as argon2id hashes (argon2-cffi) and must pass the password rules
(``engine.app.passwords``). A session cookie carries a random token; the database keeps its SHA-256,
so a copy of the database signs nobody in. A session ends after ``session_hours`` without a request
and ``session_lifetime_days`` after its sign-in, whichever comes first.

Sign-in is throttled per (account, address) pair, never per account, so nobody can lock anybody
else out (docs/WEB.md argues it against the attacks): after ``PAIR_FAILURES`` failures in a row of one
name from one address, that pair is refused unchecked for 1, 2, 4 … minutes (capped at ``MAX_DELAY``),
one step longer for every further failure; the same name from another address is not slowed at all.
Names that are no account count per address as well: after ``UNKNOWN_FAILURES`` of them in a row from
one address, further made-up names from it are answered without the password hash's work, and no
real account is affected. The throttles live in the database (``login_throttle``): a restart lifts
nothing. ``duban user unlock`` lifts every throttle of an account; each lock and unlock is in the
change log.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, or_, select, update
from sqlmodel import Session, col

from config.vocabulary import LogAction, LogEntity, Role, ThrottleKind
from engine.app.passwords import password_problem
from engine.context import App
from engine.errors import Refused
from engine.record.write import log
from engine.store.db import transaction
from engine.store.models import LoginAttempt, LoginThrottle, Meta, Project, User, WebSession, id_of, table_of

#: Failures in a row of one name from one address before that pair is slowed down.
PAIR_FAILURES = 5
#: Failures in a row on made-up names from one address before they are answered without the hash's work.
UNKNOWN_FAILURES = 20
#: The first delay; each further failure doubles it, up to ``MAX_DELAY``.
FIRST_DELAY = dt.timedelta(minutes=1)
MAX_DELAY = dt.timedelta(minutes=60)
#: A throttle with no failure for this long is forgotten (the count starts again).
FORGET_AFTER = dt.timedelta(hours=24)
#: Who the change log names for a lock the sign-in throttle set.
THROTTLE_ACTOR = "duban:sign-in"
#: The demo database's mark (engine/app/campaign.py sets it): the only database the demo password opens.
DEMO_KEY = "demo_database"
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


def is_demo_database(session: Session) -> bool:
    """Whether this is the database `duban demo` made (the only one where the demo password opens anything)."""
    return session.get(Meta, DEMO_KEY) is not None


def check_password_rules(session: Session, password: str, name: str | None, display_name: str | None) -> None:
    """Refuse a password that is short, common, or derived from the account or from duban (in Chinese)."""
    problem = password_problem(password, name=name, display_name=display_name, demo_database=is_demo_database(session))
    if problem is not None:
        raise Refused(problem)


def add_user(
    app: App, session: Session, name: str, display_name: str | None, role: Role, district: str | None, password: str
) -> User:
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
    check_password_rules(session, password, name, display_name)
    now = app.now()
    user = User(
        name=name,
        display_name=display_name or name,
        role=role,
        district=district,
        password_hash=_HASHER.hash(password),
        active=True,
        created_at=now,
        created_by=app.actor,
        password_changed_at=now,
        password_weak=False,
    )
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
    """Change an account's password, end its sessions and lift its sign-in throttles (old guesses are moot)."""
    user = find_user(session, name)
    check_password_rules(session, password, user.name, user.display_name)
    user.password_hash = _HASHER.hash(password)
    user.password_changed_at = app.now()
    user.password_weak = False
    session.add(user)
    _end_sessions(app, session, user.id)
    log(app, session, LogEntity.USER, name, LogAction.PASSWORD, {})
    _lift(app, session, name, always=False)


def set_active(app: App, session: Session, name: str, active: bool) -> None:
    """Disable (ending its sessions) or re-enable an account (lifting its sign-in throttles)."""
    user = find_user(session, name)
    user.active = active
    session.add(user)
    if not active:
        _end_sessions(app, session, user.id)
    log(app, session, LogEntity.USER, name, LogAction.ENABLE if active else LogAction.DISABLE, {})
    if active:
        _lift(app, session, name, always=False)


def unlock(app: App, session: Session, name: str) -> list[str]:
    """Lift every sign-in throttle of an account (`duban user unlock`); return the addresses it was throttled from."""
    find_user(session, name)
    return _lift(app, session, name, always=True)


def _lift(app: App, session: Session, name: str, always: bool) -> list[str]:
    rows = list(
        session.scalars(
            select(LoginThrottle).where(
                col(LoginThrottle.kind) == ThrottleKind.ACCOUNT, col(LoginThrottle.name) == name
            )
        )
    )
    now = app.now()
    blocked = sorted(r.client or "（未知地址）" for r in rows if r.blocked_until is not None and r.blocked_until > now)
    for row in rows:
        session.delete(row)
    if rows or always:
        log(
            app,
            session,
            LogEntity.USER,
            name,
            LogAction.UNLOCK,
            {"blocked": blocked, "failing": sorted(r.client or "（未知地址）" for r in rows)},
        )
    return blocked


def _end_sessions(app: App, session: Session, user_id: int | None) -> None:
    session.execute(
        update(table_of(WebSession))
        .where(table_of(WebSession).c.user_id == user_id, table_of(WebSession).c.ended_at.is_(None))
        .values(ended_at=app.now())
    )


def users(session: Session) -> list[User]:
    """Return every account, by name."""
    return list(session.scalars(select(User).order_by(col(User.name))))


# ------------------------------------------------------------------------------------ sign in


class LockedOut(Refused):
    """Too many failed sign-ins of this name from this address: try again later (or from elsewhere)."""


def delay_after(failures: int, threshold: int) -> dt.timedelta | None:
    """How long a pair (or an address's made-up names) is refused after this many failures in a row.

    None below the threshold; then 1, 2, 4 … minutes, doubling with each further failure, at most ``MAX_DELAY``.
    """
    if failures < threshold:
        return None
    return min(FIRST_DELAY * 2 ** min(failures - threshold, 16), MAX_DELAY)


def _throttle(session: Session, kind: ThrottleKind, name: str, client: str, now: dt.datetime) -> LoginThrottle | None:
    row = session.scalars(
        select(LoginThrottle).where(
            col(LoginThrottle.kind) == kind, col(LoginThrottle.name) == name, col(LoginThrottle.client) == client
        )
    ).first()
    if row is not None and row.last_failed_at < now - FORGET_AFTER and not _blocking(row, now):
        session.delete(row)  # a day without a failure: the count starts again
        session.flush()
        return None
    return row


def _blocking(row: LoginThrottle | None, now: dt.datetime) -> bool:
    return row is not None and row.blocked_until is not None and row.blocked_until > now


def _fail(
    app: App,
    session: Session,
    row: LoginThrottle | None,
    kind: ThrottleKind,
    name: str,
    client: str,
    now: dt.datetime,
    account: bool = True,
) -> None:
    """Count one failure; from the threshold on, block the pair (or the address's made-up names) and log it.

    A made-up name's pair is blocked like an account's (so the answer never tells which names exist) but
    not logged: the record names accounts and addresses, not every name an attacker typed.
    """
    if row is None:
        row = LoginThrottle(
            kind=kind, name=name, client=client, failures=0, refused=0, first_failed_at=now, last_failed_at=now
        )
    row.failures += 1
    row.last_failed_at = now
    threshold = PAIR_FAILURES if kind is ThrottleKind.ACCOUNT else UNKNOWN_FAILURES
    delay = delay_after(row.failures, threshold)
    if delay is not None:
        row.blocked_until = now + delay
        minutes = int(delay.total_seconds() // 60)
        detail = {"client": client or None, "failures": row.failures, "minutes": minutes}
        if kind is ThrottleKind.ACCOUNT:
            if account:
                log(app.as_actor(THROTTLE_ACTOR), session, LogEntity.USER, name, LogAction.LOCK, detail)
        else:
            log(
                app.as_actor(THROTTLE_ACTOR),
                session,
                LogEntity.ADDRESS,
                client or "（未知地址）",
                LogAction.LOCK,
                detail,
            )
    session.add(row)
    # Forget what nobody has failed at for a day (bounded table, however many names were made up).
    session.execute(
        delete(table_of(LoginThrottle)).where(
            table_of(LoginThrottle).c.last_failed_at < now - FORGET_AFTER,
            or_(table_of(LoginThrottle).c.blocked_until.is_(None), table_of(LoginThrottle).c.blocked_until < now),
        )
    )


def _minutes(left: dt.timedelta) -> int:
    return max(1, -(-int(left.total_seconds()) // 60))


def sign_in(app: App, name: str, password: str, client: str | None, hours: int) -> str:
    """Check a sign-in and open a session; return its token, or refuse with a clear reason.

    The attempt and the throttle are committed before any refusal, so failures count even though the
    request fails; the reason never says whether the name or the password was wrong. A pair that is
    blocked is refused without looking at the password (``LockedOut``).
    """
    now = app.now()
    name = name.strip()[:64]
    address = (client or "")[:64]
    refusal: Refused | None = None
    token = None
    with transaction(app.engine) as session:
        user = session.scalars(select(User).where(col(User.name) == name)).first()
        pair = _throttle(session, ThrottleKind.ACCOUNT, name, address, now)
        if _blocking(pair, now):
            assert pair is not None and pair.blocked_until is not None
            pair.refused += 1
            session.add(pair)
            refusal = LockedOut(
                f"此用户名从您所在的地址登录失败次数过多，请 {_minutes(pair.blocked_until - now)} 分钟后再试；"
                "如非本人所为，请联系工作专班"
            )
        elif user is None:
            made_up = _throttle(session, ThrottleKind.UNKNOWN, "", address, now)
            if _blocking(made_up, now):
                # This address has been trying names that are no account: no hashing for it, and no new rows.
                assert made_up is not None
                made_up.refused += 1
                session.add(made_up)
            else:
                _HASHER.hash(password)  # the same work as a real name: timing does not tell which names exist
                session.add(LoginAttempt(name=name, client=client, at=now, ok=False))
                _fail(app, session, pair, ThrottleKind.ACCOUNT, name, address, now, account=False)
                _fail(app, session, made_up, ThrottleKind.UNKNOWN, "", address, now)
            refusal = Refused("用户名或密码错误")
        else:
            try:
                ok: bool = _HASHER.verify(user.password_hash, password)
            except (VerificationError, InvalidHashError):
                ok = False
            if not ok:
                session.add(LoginAttempt(name=name, client=client, at=now, ok=False))
                _fail(app, session, pair, ThrottleKind.ACCOUNT, name, address, now)
                refusal = Refused("用户名或密码错误")
            else:
                problem = password_problem(
                    password, name=user.name, display_name=user.display_name, demo_database=is_demo_database(session)
                )
                if pair is not None:
                    session.delete(pair)  # the right password from this address: its count starts again
                if problem is not None:
                    # Whoever guessed a weak password must not be the one to choose the next: the office resets it.
                    if user.password_weak is not True:
                        log(
                            app.as_actor(THROTTLE_ACTOR),
                            session,
                            LogEntity.USER,
                            name,
                            LogAction.UPDATE,
                            {"password_weak": True},
                        )
                    user.password_weak = True
                    session.add(user)
                    session.add(LoginAttempt(name=name, client=client, at=now, ok=False))
                    refusal = Refused(
                        f"此账号的密码不符合现行密码规则（{problem}），已不能用于登录；"
                        f"请联系工作专班重设密码（duban user passwd {name}）"
                    )
                elif not user.active:
                    session.add(LoginAttempt(name=name, client=client, at=now, ok=True))
                    refusal = Refused("此账号已停用，请联系工作专班")
                else:
                    user.password_weak = False
                    if _HASHER.check_needs_rehash(user.password_hash):
                        user.password_hash = _HASHER.hash(password)
                    session.add(user)
                    session.add(LoginAttempt(name=name, client=client, at=now, ok=True))
                    token = start_session(app, session, user, hours, client)
    if refusal is not None:
        raise refusal
    assert token is not None
    return token


@dataclass(frozen=True)
class Throttled:
    """One throttle as the office reads it: whose, from where, how many failures, refused until when."""

    kind: ThrottleKind
    name: str
    client: str
    failures: int
    refused: int
    first_failed_at: dt.datetime
    last_failed_at: dt.datetime
    blocked_until: dt.datetime | None
    blocking: bool
    account: bool  # the name is an account


def throttles(session: Session, now: dt.datetime) -> list[Throttled]:
    """Every throttle still counting (failures within a day, or a block not over), blocked first."""
    known = set(session.scalars(select(col(User.name))))
    rows = session.scalars(
        select(LoginThrottle).where(
            or_(col(LoginThrottle.last_failed_at) >= now - FORGET_AFTER, col(LoginThrottle.blocked_until) > now)
        )
    )
    found = [
        Throttled(
            ThrottleKind(r.kind),
            r.name,
            r.client,
            r.failures,
            r.refused,
            r.first_failed_at,
            r.last_failed_at,
            r.blocked_until,
            _blocking(r, now),
            r.name in known,
        )
        for r in rows
    ]
    return sorted(found, key=lambda t: (not t.blocking, t.kind, t.name, t.client))


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(app: App, session: Session, user: User, hours: int, client: str | None) -> str:
    """Open a browser session; return the token for its cookie (shown once, stored hashed)."""
    token = secrets.token_urlsafe(32)
    now = app.now()
    ends = min(now + dt.timedelta(hours=hours), now + dt.timedelta(days=app.settings.web.session_lifetime_days))
    session.add(
        WebSession(
            token_hash=_digest(token),
            user_id=id_of(user),
            csrf=secrets.token_urlsafe(24),
            created_at=now,
            last_seen_at=now,
            expires_at=ends,
            client=(client or None) and client[:64],
        )
    )
    return token


def viewer_for(session: Session, token: str, now: dt.datetime, lifetime: dt.timedelta) -> tuple[Viewer, bool] | None:
    """Return the signed-in user of a token, and whether its last-seen time is due a write.

    None when the session ended, was idle too long (``expires_at``) or is older than ``lifetime``
    (the absolute limit, however busy the session was).
    """
    row = session.execute(
        select(
            col(WebSession.id),
            col(WebSession.csrf),
            col(WebSession.last_seen_at),
            col(WebSession.expires_at),
            col(WebSession.created_at),
            User,
        )
        .join(User, col(User.id) == col(WebSession.user_id))
        .where(col(WebSession.token_hash) == _digest(token), col(WebSession.ended_at).is_(None))
    ).first()
    if row is None:
        return None
    session_id, csrf, last_seen, expires, created, user = row
    if expires <= now or created + lifetime <= now or not user.active or user.password_weak is True:
        return None
    viewer = Viewer(user.id, user.name, user.display_name, Role(user.role), user.district, csrf, session_id)
    return viewer, now - last_seen >= TOUCH_EVERY


def touch_session(session: Session, session_id: int, now: dt.datetime, hours: int) -> None:
    """Slide a session's expiry forward (idle timeout) from now; the absolute lifetime is not moved."""
    session.execute(
        update(table_of(WebSession))
        .where(table_of(WebSession).c.id == session_id)
        .values(last_seen_at=now, expires_at=now + dt.timedelta(hours=hours))
    )


def end_session(app: App, session: Session, session_id: int) -> None:
    """Sign a browser out."""
    session.execute(
        update(table_of(WebSession)).where(table_of(WebSession).c.id == session_id).values(ended_at=app.now())
    )


def count_users(session: Session) -> int:
    """Return how many accounts exist (``duban serve`` says how to create the first)."""
    return session.scalar(select(func.count()).select_from(User)) or 0


def password_state(user: User) -> str:
    """Return what the office needs to know of an account's password: ok, weak, or not yet checked."""
    return "weak" if user.password_weak is True else "ok" if user.password_weak is False else "unchecked"
