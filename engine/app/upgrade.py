"""`duban init` (and `restore`, `demo`): the schema upgraded, then the data steps the store cannot run.

Alembic revisions change the schema and import only the store (engine/store/migrations). A step that
rebuilds data through the rules or the record runs here, after the upgrade, each in its own sealed
transaction, and does nothing where there is nothing to do:

* revision 0008 — strikes recorded before decision traces get their traces (engine/evaluation/rebuild.py);
* revision 0012 — final notices issued before document numbers get theirs (engine/record/numbers.py);
* the web's flash key is made if the database has none (engine/app/flash_key.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.app.flash_key import make_key
from engine.context import App
from engine.evaluation.rebuild import rebuild_traces
from engine.record.numbers import number_earlier_notices
from engine.store import db


@dataclass(frozen=True)
class Upgraded:
    """What an upgrade did."""

    revision: str  # the schema revision now
    rebuilt: int  # strikes given their decision traces (0008)
    numbered: int  # final notices given a document number (0012)


def upgrade(app: App) -> Upgraded:
    """Upgrade the schema to the newest revision, then run every data step; safe to run again."""
    revision = db.upgrade(app.engine)
    with db.transaction(app.engine) as session:  # sealed: the rebuilt traces join the audit chain
        rebuilt = rebuild_traces(session, app.policy, app.settings.tz)
    with db.transaction(app.engine) as session:
        numbered = number_earlier_notices(app, session)
    make_key(app.engine)
    return Upgraded(revision, rebuilt, numbered)
