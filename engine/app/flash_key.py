"""The key that signs the web's flash cookie: a random secret kept in the database, one for every worker.

``duban init`` makes it (``upgrade``), so a database serves signed messages from its first request;
a database not initialised since gets it the first time the web needs it. Kept apart from
``engine.app.web`` so that ``duban init`` need not load the web application.
"""

from __future__ import annotations

import secrets

from sqlalchemy import Engine

from engine.store.db import reading, transaction
from engine.store.models import Meta

#: The flash key's row in the meta table.
KEY = "web_flash_key"


def stored_key(engine: Engine) -> bytes | None:
    """Return the key the database keeps (None: not made yet)."""
    with reading(engine) as session:
        row = session.get(Meta, KEY)
    return bytes.fromhex(row.value) if row is not None else None


def make_key(engine: Engine) -> bytes:
    """Return the key, making and storing it if the database has none (under the writer lock: made once)."""
    with transaction(engine) as session:  # a second worker waits here, then reads the first one's key
        row = session.get(Meta, KEY)
        if row is None:
            row = Meta(key=KEY, value=secrets.token_hex(32))
            session.add(row)
        value = row.value
    return bytes.fromhex(value)
