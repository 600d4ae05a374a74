"""The one-time message a form leaves for the next page (the flash cookie), signed so nobody else can write one.

The cookie holds the message (base64 of its JSON) and an HMAC-SHA256 of it. The key is a random
secret kept in the database (``meta.web_flash_key``, engine/app/flash_key.py), made by ``duban
init`` or else the first time it is needed: every worker of ``duban serve`` — and every restart —
signs and checks with the same key. A cookie that
is unsigned, signed with another key or altered is ignored: no message, no error.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

from fastapi import Request
from sqlalchemy.exc import SQLAlchemyError

from engine.app.flash_key import make_key, stored_key
from engine.app.web.security import app_of

FLASH_COOKIE = "duban_flash"
_PURPOSE = b"duban flash message\n"


def _stored(request: Request) -> bytes | None:
    """The key the database keeps (None: not made yet), remembered by this worker once read."""
    known: bytes | None = getattr(request.app.state, "flash_key", None)
    if known is None:
        known = stored_key(app_of(request).engine)
        request.app.state.flash_key = known
    return known


def key(request: Request) -> bytes:
    """Return the flash key, making and storing it if the database has none yet (one writer at a time)."""
    found = _stored(request)
    if found is None:
        found = make_key(app_of(request).engine)
        request.app.state.flash_key = found
    return found


def prepare(request: Request) -> None:
    """Make the flash key now if there is none (at sign-in, so a form's first message does not have to)."""
    try:
        key(request)
    except SQLAlchemyError:  # a busy database: the first message makes it instead
        return


def _mac(secret: bytes, payload: str) -> str:
    digest = hmac.new(secret, _PURPOSE + payload.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def sealed(request: Request, message: dict[str, Any]) -> str:
    """Return a message as the flash cookie's value: its JSON in base64, a dot, and its signature."""
    payload = base64.urlsafe_b64encode(json.dumps(message, ensure_ascii=False).encode()).decode()
    return f"{payload}.{_mac(key(request), payload)}"


def opened(request: Request) -> dict[str, Any] | None:
    """Return the message of the request's flash cookie, or None: no cookie, or one this site did not sign."""
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw or "." not in raw:
        return None
    payload, _, signature = raw.rpartition(".")
    try:
        secret = _stored(request)
    except SQLAlchemyError:  # the database unreachable (the page says so): the message is only lost
        return None
    if secret is None or not hmac.compare_digest(signature.encode(), _mac(secret, payload).encode()):
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(payload.encode()).decode())
    except (ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None
