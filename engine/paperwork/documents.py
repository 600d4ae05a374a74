"""Writing the paperwork to files: notices once each, agendas and reports on request."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import select, update
from sqlmodel import col

from config.calendar import WorkCalendar
from engine.context import App
from engine.delivery.outbox import enqueue_notice
from engine.errors import Refused
from engine.paperwork.contexts import agenda_context, daily_context, notice_context, progress_context, weekly_context
from engine.store.db import reading, rowcount, transaction
from engine.store.models import Notice, Person, id_of, table_of
from notifications.files import replacing
from notifications.kinds import REGISTRY, Format, Kind
from notifications.render import Renderer

_RENDERERS: dict[Path | None, Renderer] = {}


def renderer(app: App) -> Renderer:
    """Return the renderer (one per template folder: Jinja caches compiled templates in it)."""
    folder = app.settings.templates_dir
    if folder not in _RENDERERS:
        _RENDERERS[folder] = Renderer(folder)
    return _RENDERERS[folder]


def _atomic_write(render: Renderer, kind: Kind, fmt: Format, context: dict[str, object], path: Path) -> Path:
    # A crash never leaves half a document under the real name.
    with replacing(path) as temp:
        render.write(kind, fmt, context, temp)
    return path


def render_notices(app: App, out: Path, formats: Sequence[Format] = (Format.MD, Format.HTML, Format.DOCX),
                   calendar: WorkCalendar | None = None) -> list[Path]:
    """Write every notice not yet rendered, then record that it was; return the files written."""
    calendar = calendar or WorkCalendar()
    render = renderer(app)
    with transaction(app.engine) as session:
        pending = [n.id for n in session.scalars(select(Notice).where(col(Notice.rendered_at).is_(None)).order_by(col(Notice.id)))]
    written: list[Path] = []
    for notice_id in pending:
        with transaction(app.engine) as session:
            # Claim the notice first: of two processes rendering at once, the second waits on this
            # row and then finds it taken (PostgreSQL's READ COMMITTED would let both render it).
            claimed = rowcount(session.execute(update(table_of(Notice)).where(
                table_of(Notice).c.id == notice_id, table_of(Notice).c.rendered_at.is_(None))
                .values(rendered_at=app.now())))
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
            docx = folder / f"{stem}.docx"
            enqueue_notice(app, session, id_of(notice), person, str(context["meta"]["title"]),
                           render.render(kind, Format.MD, {**context, "for_docx": False}),
                           docx if docx.exists() else None)
    return written


def notice_stem(notice: Notice, person: Person | None) -> str:
    """Return the file name of a notice without its suffix (its number, kind and person)."""
    return f"{notice.id:05d}-{notice.kind}-{person.person_id if person else 'none'}"


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


def write_agenda(app: App, meeting: dt.date, fmt: Format, path: Path | None,
                 calendar: WorkCalendar | None = None, district: str | None = None) -> tuple[str | None, Path | None]:
    """Render a meeting's agenda (of one district, if given); return the text to print or the file written."""
    with reading(app.engine) as session:
        context = agenda_context(app, session, meeting, calendar or WorkCalendar(), district)
    suffix = "" if district is None else f"-{district}"
    return _emit(app, Kind.MEETING_AGENDA, fmt, context, path, f"agenda-{meeting.isoformat()}{suffix}")


def write_all_formats(app: App, kind: Kind, context: dict[str, object], folder: Path, stem: str) -> list[Path]:
    """Write one context in every format of its kind (the demo's and the scheduler's output)."""
    return [_emit(app, kind, fmt, context, folder / f"{stem}.{fmt.value}", stem)[1] or folder
            for fmt in REGISTRY[kind].formats]


def write_daily(app: App, day: dt.date, fmt: Format, path: Path | None,
                district: str | None = None) -> tuple[str | None, Path | None]:
    """Render the daily check report of a day (of one district, if given)."""
    with reading(app.engine) as session:
        context = daily_context(app, session, day, district)
    suffix = "" if district is None else f"-{district}"
    return _emit(app, Kind.DAILY_REPORT, fmt, context, path, f"daily-{day.isoformat()}{suffix}")


def write_weekly(app: App, week_of: dt.date, fmt: Format, path: Path | None,
                 district: str | None = None) -> tuple[str | None, Path | None]:
    """Render the weekly bulletin of the week holding a day (of one district, if given); its chart goes beside it."""
    monday = week_of - dt.timedelta(days=week_of.weekday())
    chart_dir = path.parent if path else app.settings.out_dir / "bulletins"
    with reading(app.engine) as session:
        context = weekly_context(app, session, week_of, chart_dir, district)
    if path is None and fmt is not Format.DOCX and context["chart"]:
        context["chart"] = str(chart_dir / str(context["chart"]))  # printed text: name the chart in full
    suffix = "" if district is None else f"-{district}"
    return _emit(app, Kind.WEEKLY_BULLETIN, fmt, context, path, f"bulletins/bulletin-{monday.isoformat()}{suffix}")


def write_progress_tables(app: App, on: dt.date, path: Path | None, district: str | None = None) -> Path:
    """Write the progress tables reported upward (.xlsx) as of a day (of one district, if given)."""
    from notifications.xlsx import write_progress

    with reading(app.engine) as session:
        context = progress_context(app, session, on, district)
    suffix = "" if district is None else f"-{district}"
    return write_progress(context, path or app.settings.out_dir / f"progress-{on.isoformat()}{suffix}.xlsx")


def _emit(app: App, kind: Kind, fmt: Format, context: dict[str, object], path: Path | None,
          stem: str) -> tuple[str | None, Path | None]:
    if fmt not in REGISTRY[kind].formats:
        raise Refused(f"{REGISTRY[kind].title}不提供 {fmt.value} 格式（可用：{'、'.join(f.value for f in REGISTRY[kind].formats)}）")
    render = renderer(app)
    if path is None and fmt is not Format.DOCX:
        return render.render(kind, fmt, {**context, "for_docx": False}), None
    target = path or app.settings.out_dir / f"{stem}.{fmt.value}"
    target.parent.mkdir(parents=True, exist_ok=True)
    return None, _atomic_write(render, kind, fmt, context, target)
