"""Document numbers (文号): given once when a document is issued, one series per kind, from 1 each year.

A real office numbers each series from 1 every year, by the document's own date: 吕建督〔2024〕12号 is
the twelfth document of series 吕建督 dated in 2024, whenever it was produced. The number is
assigned in the transaction that issues the document (a final notice, a bulletin) and stored in
``doc_number`` under the document's key, so re-rendering prints the same number. Writers take
turns (engine/store/db.transaction), so the next serial is the series' largest plus one: gapless.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlmodel import Session, col

from engine.context import App
from engine.store.db import bulk_insert, chunks
from engine.store.models import DocNumber, Notice, id_of, table_of


def formatted(series: str, year: int, serial: int) -> str:
    """Write a document number the way official documents print it: 吕建督〔2024〕12号."""
    return f"{series}〔{year}〕{serial}号"


def notice_key(notice_id: int) -> str:
    """Return the document key of a notice."""
    return f"notice:{notice_id}"


def series_of(app: App, kind: str) -> str | None:
    """Return the series a kind is numbered in (None: the kind carries no number)."""
    return app.settings.series().get(kind)  # doc_series names known kinds only (checked when settings load)


@dataclass(frozen=True)
class Wanted:
    """A document to number: its kind, key, own date and (for a notice) its id."""

    kind: str
    doc_key: str
    issued_on: dt.date
    notice_id: int | None = None


def assign(app: App, session: Session, wanted: Sequence[Wanted]) -> dict[str, str]:
    """Give each document its number unless it has one; return key → number (unnumbered kinds left out)."""
    found = numbers_of(session, [w.doc_key for w in wanted])
    rows: list[tuple[object, ...]] = []
    last: dict[tuple[str, int], int] = {}
    for item in wanted:
        series = series_of(app, item.kind)
        if series is None or item.doc_key in found:
            continue
        year = item.issued_on.year
        if (series, year) not in last:
            last[(series, year)] = (
                session.scalar(
                    select(func.max(col(DocNumber.serial))).where(
                        col(DocNumber.series) == series, col(DocNumber.year) == year
                    )
                )
                or 0
            )
        serial = last[(series, year)] = last[(series, year)] + 1
        rows.append((series, year, serial, item.doc_key, item.kind, item.notice_id, item.issued_on))
        found[item.doc_key] = formatted(series, year, serial)
    bulk_insert(
        session,
        table_of(DocNumber),
        ("series", "year", "serial", "doc_key", "kind", "notice_id", "issued_on"),
        rows,
        {"assigned_at": app.now()},
    )
    return found


def assign_one(
    app: App, session: Session, kind: str, doc_key: str, issued_on: dt.date, notice_id: int | None = None
) -> str | None:
    """Give one document its number unless it has one; return it (None: the kind is not numbered)."""
    return assign(app, session, [Wanted(kind, doc_key, issued_on, notice_id)]).get(doc_key)


def numbers_of(session: Session, doc_keys: Iterable[str]) -> dict[str, str]:
    """Return the numbers already given to some documents (key → number)."""
    found: dict[str, str] = {}
    for chunk in chunks(sorted(set(doc_keys))):
        for key, series, year, serial in session.execute(
            select(col(DocNumber.doc_key), col(DocNumber.series), col(DocNumber.year), col(DocNumber.serial)).where(
                col(DocNumber.doc_key).in_(chunk)
            )
        ):
            found[key] = formatted(series, year, serial)
    return found


def number_earlier_notices(app: App, session: Session) -> int:
    """Number the final notices issued before revision 0012 (by id, each by its own date); return how many.

    Runs once, after an upgrade, while no notice has a number yet. Drafts get none: a decision is
    numbered when the meeting's confirmation issues it.
    """
    from engine.record.notices import document_date, is_draft

    if session.scalar(select(func.count()).select_from(DocNumber)):
        return 0
    wanted = [
        Wanted(n.kind, notice_key(id_of(n)), document_date(app, session, n), id_of(n))
        for n in session.scalars(select(Notice).order_by(col(Notice.id)))
        if not is_draft(n)
    ]
    return len(assign(app, session, wanted))
