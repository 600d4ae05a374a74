"""Writing the paperwork to files: notices once each, agendas and reports on request."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from sqlalchemy import select, update
from sqlmodel import col

from config.calendar import WorkCalendar
from config.vocabulary import Format, Kind
from engine.context import App
from engine.delivery.outbox import enqueue_notice
from engine.errors import Refused
from engine.paperwork.contexts import (
    agenda_context,
    bulletin_as_of,
    bulletin_key,
    daily_context,
    decisions_context,
    notice_context,
    progress_context,
    weekly_context,
)
from engine.paperwork.template_data import DocumentContext, WeeklyContext, template_fields
from engine.record import numbers
from engine.record.notices import is_draft
from engine.store.db import reading, rowcount, transaction
from engine.store.models import Notice, Person, id_of, table_of
from notifications.files import replacing
from notifications.kinds import REGISTRY
from notifications.render import Renderer

_RENDERERS: dict[Path | None, Renderer] = {}


def renderer(app: App) -> Renderer:
    """Return the renderer (one per template folder: Jinja caches compiled templates in it)."""
    folder = app.settings.templates_dir
    if folder not in _RENDERERS:
        _RENDERERS[folder] = Renderer(folder)
    return _RENDERERS[folder]


def _atomic_write(render: Renderer, kind: Kind, fmt: Format, context: DocumentContext, path: Path) -> Path:
    # A crash never leaves half a document under the real name.
    with replacing(path) as temp:
        render.write(kind, fmt, template_fields(context), temp)
    return path


def render_notices(
    app: App,
    out: Path,
    formats: Sequence[Format] = (Format.MD, Format.HTML, Format.DOCX),
    calendar: WorkCalendar | None = None,
    strike_id: int | None = None,
) -> list[Path]:
    """Write every notice not yet rendered (of one strike, if given), then record that it was; return the files.

    A final notice is queued to its person; a draft (a decision the meeting has not confirmed) is
    written for the meeting's papers only: the person receives the final decision.
    """
    calendar = calendar or WorkCalendar()
    render = renderer(app)
    of_strike = [] if strike_id is None else [col(Notice.strike_id) == strike_id]
    with transaction(app.engine) as session:
        pending = [
            n.id
            for n in session.scalars(
                select(Notice).where(col(Notice.rendered_at).is_(None), *of_strike).order_by(col(Notice.id))
            )
        ]
    written: list[Path] = []
    for notice_id in pending:
        with transaction(app.engine) as session:
            # Claim the notice first: of two processes rendering at once, the second waits on this
            # row and then finds it taken (PostgreSQL's READ COMMITTED would let both render it).
            claimed = rowcount(
                session.execute(
                    update(table_of(Notice))
                    .where(table_of(Notice).c.id == notice_id, table_of(Notice).c.rendered_at.is_(None))
                    .values(rendered_at=app.now())
                )
            )
            if claimed != 1:
                continue
            notice = session.get(Notice, notice_id)
            assert notice is not None
            kind = Kind(notice.kind)
            context = notice_context(app, session, notice, calendar)
            person = session.get(Person, notice.person_pk) if notice.person_pk else None
            stem = notice_stem(notice, person)
            folder = out / "notices"
            folder.mkdir(parents=True, exist_ok=True)
            for fmt in formats:
                if fmt in REGISTRY[kind].formats:
                    written.append(_atomic_write(render, kind, fmt, context, folder / f"{stem}.{fmt.value}"))
            if is_draft(notice):
                continue
            docx = folder / f"{stem}.docx"
            enqueue_notice(
                app,
                session,
                id_of(notice),
                person,
                context.meta.title,
                render.render(kind, Format.MD, {**template_fields(context), "for_docx": False}),
                docx if docx.exists() else None,
            )
    return written


def issue_confirmed(app: App, strike_id: int) -> list[Path]:
    """Render the final decision a confirmation issued into the out folder and queue it to the person."""
    return render_notices(app, app.settings.out_dir, strike_id=strike_id, calendar=app.calendar)


def notice_stem(notice: Notice, person: Person | None) -> str:
    """Return the file name of a notice without its suffix (its id, kind and person; a draft says so)."""
    draft = "-草稿" if is_draft(notice) else ""
    return f"{notice.id:05d}-{notice.kind}-{person.person_id if person else 'none'}{draft}"


def notice_file(app: App, notice_id: int, fmt: Format, folder: Path, calendar: WorkCalendar | None = None) -> Path:
    """Write one notice into a folder (a download): the same text, without marking it rendered or sending it."""
    with reading(app.engine) as session:
        notice = session.get(Notice, notice_id)
        if notice is None:
            raise Refused(f"通知 #{notice_id} 不存在")
        kind = Kind(notice.kind)
        if fmt not in REGISTRY[kind].formats:
            raise Refused(f"{REGISTRY[kind].title}不提供 {fmt.value} 格式")
        context = notice_context(app, session, notice, calendar or app.calendar)
        person = session.get(Person, notice.person_pk) if notice.person_pk else None
        stem = notice_stem(notice, person)
    folder.mkdir(parents=True, exist_ok=True)
    return _atomic_write(renderer(app), kind, fmt, context, folder / f"{stem}.{fmt.value}")


def write_agenda(
    app: App,
    meeting: dt.date,
    fmt: Format,
    path: Path | None,
    calendar: WorkCalendar | None = None,
    district: str | None = None,
) -> tuple[str | None, Path | None]:
    """Render a meeting's agenda (of one district, if given); return the text to print or the file written."""
    with reading(app.engine) as session:
        context = agenda_context(app, session, meeting, calendar or WorkCalendar(), district)
    suffix = "" if district is None else f"-{district}"
    return _emit(app, Kind.MEETING_AGENDA, fmt, context, path, f"agenda-{meeting.isoformat()}{suffix}")


def write_all_formats(app: App, kind: Kind, context: DocumentContext, folder: Path, stem: str) -> list[Path]:
    """Write one context in every format of its kind (the demo's and the scheduler's output)."""
    return [
        _emit(app, kind, fmt, context, folder / f"{stem}.{fmt.value}", stem)[1] or folder
        for fmt in REGISTRY[kind].formats
    ]


def write_daily(
    app: App, day: dt.date, fmt: Format, path: Path | None, district: str | None = None
) -> tuple[str | None, Path | None]:
    """Render the daily check report of a day (of one district, if given)."""
    with reading(app.engine) as session:
        context = daily_context(app, session, day, district)
    suffix = "" if district is None else f"-{district}"
    return _emit(app, Kind.DAILY_REPORT, fmt, context, path, f"daily-{day.isoformat()}{suffix}")


def issue_bulletin(app: App, week_of: dt.date, district: str | None = None) -> str | None:
    """Give the bulletin of a wholly evaluated week its document number (once; the same ever after).

    A bulletin of a week not yet over (or not wholly evaluated) is a reading of the days so far:
    it carries no number until the week is done.
    """
    with reading(app.engine) as session:
        as_of, whole = bulletin_as_of(session, week_of)
        key = bulletin_key(week_of, district)
        known = numbers.numbers_of(session, [key]).get(key)
    if known is not None or not whole:
        return known
    with transaction(app.engine) as session:
        return numbers.assign_one(app, session, Kind.WEEKLY_BULLETIN, key, as_of)


def weekly_document(app: App, week_of: dt.date, chart_dir: Path | None, district: str | None = None) -> WeeklyContext:
    """Return the bulletin's context, numbered when its week is whole (what the CLI, the web and the scheduler write)."""
    number = issue_bulletin(app, week_of, district)
    with reading(app.engine) as session:
        return weekly_context(app, session, week_of, chart_dir, district, number)


def write_weekly(
    app: App, week_of: dt.date, fmt: Format, path: Path | None, district: str | None = None
) -> tuple[str | None, Path | None]:
    """Render the weekly bulletin of the week holding a day (of one district, if given); its chart goes beside it."""
    monday = week_of - dt.timedelta(days=week_of.weekday())
    chart_dir = path.parent if path else app.settings.out_dir / "bulletins"
    context = weekly_document(app, week_of, chart_dir, district)
    if path is None and fmt is not Format.DOCX and context.chart:
        context = replace(context, chart=str(chart_dir / context.chart))  # printed text: name the chart in full
    suffix = "" if district is None else f"-{district}"
    return _emit(app, Kind.WEEKLY_BULLETIN, fmt, context, path, f"bulletins/bulletin-{monday.isoformat()}{suffix}")


def write_decisions(
    app: App, meeting: dt.date, fmt: Format, path: Path | None, district: str | None = None
) -> tuple[str | None, Path | None]:
    """Render the meeting's 决定事项 from the record (of one district, if given)."""
    with reading(app.engine) as session:
        context = decisions_context(app, session, meeting, district)
    suffix = "" if district is None else f"-{district}"
    return _emit(app, Kind.MEETING_DECISIONS, fmt, context, path, f"decisions-{meeting.isoformat()}{suffix}")


def write_progress_tables(app: App, on: dt.date, path: Path | None, district: str | None = None) -> Path:
    """Write the progress tables reported upward (.xlsx) as of a day (of one district, if given)."""
    from notifications.xlsx import write_progress

    with reading(app.engine) as session:
        context = progress_context(app, session, on, district)
    suffix = "" if district is None else f"-{district}"
    return write_progress(context, path or app.settings.out_dir / f"progress-{on.isoformat()}{suffix}.xlsx")


def _emit(
    app: App, kind: Kind, fmt: Format, context: DocumentContext, path: Path | None, stem: str
) -> tuple[str | None, Path | None]:
    if fmt not in REGISTRY[kind].formats:
        raise Refused(
            f"{REGISTRY[kind].title}不提供 {fmt.value} 格式（可用：{'、'.join(f.value for f in REGISTRY[kind].formats)}）"
        )
    render = renderer(app)
    if path is None and fmt is not Format.DOCX:
        return render.render(kind, fmt, {**template_fields(context), "for_docx": False}), None
    target = path or app.settings.out_dir / f"{stem}.{fmt.value}"
    target.parent.mkdir(parents=True, exist_ok=True)
    return None, _atomic_write(render, kind, fmt, context, target)
