"""`duban demo`: the 2024 campaign on the bundled ledger, replayed day by day.

Every morning the engine evaluates the day; during the day the office records what the
campaign file says (completions, extensions, exemption requests, reassignments); every Monday
the party-group meeting confirms the proposed strikes, exempts those with an approved request
and hands the projects of dismissed persons to someone from the reserve pool.
"""

from __future__ import annotations

import csv
import datetime as dt
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlmodel import Session, col

from config.vocabulary import Decision, EventKind, PersonStatus, ProjectStatus, ReportKind, StrikeStatus
from engine.app.passwords import DEMO_PASSWORD
from engine.app.upgrade import upgrade
from engine.app.users import DEMO_KEY
from engine.complaints import import_complaints
from engine.context import App
from engine.errors import Refused
from engine.evaluation.daily import evaluate
from engine.evaluation.levels import status_of
from engine.ledger import import_ledger
from engine.record.holders import holders
from engine.record.write import (
    assign,
    change_planned_date,
    confirm,
    exempt,
    find_node,
    record_completion,
    request_exemption,
)
from engine.store.db import transaction
from engine.store.models import Assignment, Meta, Miss, Node, Person, Project, Strike, StrikeEvent, id_of
from engine.views.figures import figures

DEMO_DIR = Path(__file__).with_name("demo")
LEDGER = DEMO_DIR / "ledger.xlsx"
#: The hotline's work orders of the campaign (12345 工单), as its system exports them.
HOTLINE = DEMO_DIR / "hotline.csv"
CAMPAIGN = DEMO_DIR / "campaign.csv"
START, END = dt.date(2024, 7, 1), dt.date(2024, 10, 31)
#: The morning after the campaign: its daily check finds October's last misses, left for the 4 November
#: meeting to decide, so that `duban serve` opens on a meeting with work to do.
LAST_CHECK = END + dt.timedelta(days=1)
#: The office switched the warnings before the deadline (预警) on for the campaign's last week.
WARNINGS_FROM = dt.date(2024, 10, 28)
#: Accounts of the demo database's web view (never created anywhere else): name → (role, district, name shown).
__all__ = ["DEMO_ACCOUNTS", "DEMO_KEY", "DEMO_PASSWORD", "run_demo"]
DEMO_ACCOUNTS = {
    "bangong": ("office", None, "工作专班"),
    "lingdao": ("leader", None, "局领导"),
    "binhe": ("district", "滨河片区", "滨河片区工作人员"),
}


@dataclass(frozen=True)
class Event:
    """One thing the office records on a day of the campaign."""

    recorded_on: dt.date
    kind: str
    project_code: str
    node_code: str
    date: dt.date | None
    person_id: str
    reason: str


def load_events(path: Path = CAMPAIGN) -> dict[dt.date, list[Event]]:
    """Read the campaign file, grouped by the day the office records each event."""
    events: dict[dt.date, list[Event]] = defaultdict(list)
    with path.open(encoding="utf-8-sig", newline="") as handle:
        for row in csv.DictReader(handle):
            event = Event(
                dt.date.fromisoformat(row["recorded_on"]),
                row["kind"],
                row["project_code"],
                row["node_code"],
                dt.date.fromisoformat(row["date"]) if row["date"] else None,
                row["person_id"],
                row["reason"],
            )
            events[event.recorded_on].append(event)
    return events


def prepare_database(app: App) -> None:
    """Start from an empty demo database; never touch a database holding other data."""
    url = make_url(app.settings.database_url)
    if url.get_backend_name() == "sqlite" and url.database and Path(url.database).exists():
        with transaction(app.engine) as session:
            try:
                is_demo = session.get(Meta, DEMO_KEY) is not None
            except Exception:
                is_demo = False
        if not is_demo:
            raise Refused(f"{url.database} 已存在且不是演示数据库；请用 --db 指定另一个数据库运行演示")
        app.engine.dispose()
        for suffix in ("", "-wal", "-shm"):
            Path(url.database + suffix).unlink(missing_ok=True)
    upgrade(app)
    with transaction(app.engine) as session:
        if session.scalar(select(col(Person.id)).limit(1)) is not None:
            raise Refused("数据库中已有数据；演示需要一个空数据库")
        session.add(Meta(key=DEMO_KEY, value="1"))


def run_demo(app: App, console: Console, out_dir: Path | None = None) -> None:
    """Replay the campaign, write its paperwork under ``out_dir`` and print a summary."""
    from config.calendar import WorkCalendar, meeting_dates
    from config.vocabulary import Kind
    from engine.paperwork.contexts import agenda_context, daily_context, decisions_context
    from engine.paperwork.documents import render_notices, weekly_document, write_all_formats
    from engine.paperwork.reminders import remind

    started = time.monotonic()
    out = out_dir or app.settings.out_dir
    calendar = WorkCalendar()
    meetings = set(meeting_dates(app.policy.meetings, START, END, calendar))
    prepare_database(app)
    app.fixed_today = START
    result = import_ledger(app, LEDGER, START)
    console.print(
        f"已导入演示台账 {LEDGER.name}：人员 {result.persons_added}，项目 {result.projects_added}，"
        f"节点 {result.nodes_added}"
    )
    events = load_events()
    reserve = _reserve_pool(app)  # rotated as the meetings use it
    day = START
    warned = 0
    while day <= LAST_CHECK:
        app.fixed_today = day
        if day == LAST_CHECK:  # the office began taking the hotline's export in November
            hotline = import_complaints(app, HOTLINE)
            console.print(
                f"已导入 12345 工单 {HOTLINE.name}：{hotline.added} 条，关联到项目 {hotline.linked} 条，"
                f"未能关联 {len(hotline.unmatched)} 条"
            )
        evaluate(app, day, START if day == START else None)
        if day >= WARNINGS_FROM:
            warned += remind(app, day).messages
        if day == LAST_CHECK:  # and the first reports from the site came in
            _site(app, console, day)
        with transaction(app.engine) as session:
            daily = daily_context(app, session, day)
            agenda = agenda_context(app, session, day, calendar) if day in meetings else None
        write_all_formats(app, Kind.DAILY_REPORT, daily, out / "daily", f"daily-{day.isoformat()}")
        if agenda is not None:
            write_all_formats(app, Kind.MEETING_AGENDA, agenda, out / "agendas", f"agenda-{day.isoformat()}")
            _meeting(app, day, reserve)
            with transaction(app.engine) as session:
                decided = decisions_context(app, session, day)
            write_all_formats(app, Kind.MEETING_DECISIONS, decided, out / "agendas", f"decisions-{day.isoformat()}")
        for event in events.get(day, []):
            _record(app, event)
        if day.weekday() == 6 or day == LAST_CHECK:
            bulletin = weekly_document(app, day, out / "bulletins")
            write_all_formats(app, Kind.WEEKLY_BULLETIN, bulletin, out / "bulletins", f"bulletin-{day.isoformat()}")
        render_notices(app, out, calendar=calendar)
        day += dt.timedelta(days=1)
    console.print(
        f"自 {WARNINGS_FROM.isoformat()} 起每天发出到期前预警：共 {warned} 条消息给负责人（duban outbox 查看）"
    )
    _demo_accounts(app)
    _summary(app, console, time.monotonic() - started)
    console.print(
        f"文书已写入 {out.resolve()}：notices/（通知、决定）、agendas/（党组会议程）、"
        "daily/（每日检点）、bulletins/（每周通报及进度图）"
    )


def _site(app: App, console: Console, day: dt.date) -> None:
    """The first reports from the site: two persons report an overdue node done, one report is approved."""
    from engine.app import review

    with transaction(app.engine) as session:
        overdue = session.execute(
            select(col(Project.id), col(Project.code), col(Node.code))
            .join(Node, col(Node.project_id) == col(Project.id))
            .where(
                col(Project.status) == ProjectStatus.ACTIVE,
                col(Node.completed_on).is_(None),
                col(Node.planned_date) < day,
            )
            .order_by(col(Project.code), col(Node.code))
        ).all()
        holder = holders(session, day, [project_id for project_id, _code, _node in overdue])
        person_ids: dict[int, str] = {
            pk: pid for pk, pid in session.execute(select(col(Person.id), col(Person.person_id)))
        }
    reported: list[tuple[str, str, str]] = []  # two nodes of two persons
    for project_id, project, node in overdue:
        person = person_ids.get(holder.get(project_id, -1))
        if person and person not in {r[2] for r in reported}:
            reported.append((project, node, person))
    ids = []
    for number, (project, node, person) in enumerate(reported[:2], start=1):
        link, _expires = review.issue_link(app, person)
        photo = review.Upload(f"现场{number}.jpg", _site_photo(number))
        token = link.rsplit("/", 1)[1]
        ids.append(review.submit(app, token, project, node, ReportKind.COMPLETION, day, "已完成，附现场照片", [photo]))
    if ids:
        review.approve(app.as_actor("bangong"), ids[0], "照片属实")
    waiting = f"，#{ids[1]} 待审核（duban review list）" if len(ids) > 1 else ""
    console.print(f"已收到现场报告 {len(ids)} 份" + (f"：#{ids[0]} 已审核通过{waiting}" if ids else ""))


def _site_photo(number: int) -> bytes:
    """A drawn photo of a site (the demo ships no pictures): the same bytes every run."""
    import io

    from PIL import Image, ImageDraw

    image = Image.new("RGB", (640, 480), (186, 206, 224))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 360, 640, 480), fill=(120, 110, 96))
    for x in range(60, 600, 140):
        draw.rectangle((x, 140 + 10 * number, x + 100, 360), fill=(214, 196, 170), outline=(90, 80, 70), width=3)
        for y in range(170 + 10 * number, 340, 40):
            draw.rectangle((x + 15, y, x + 40, y + 22), fill=(90, 120, 150))
            draw.rectangle((x + 60, y, x + 85, y + 22), fill=(90, 120, 150))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def _demo_accounts(app: App) -> None:
    from config.vocabulary import Role
    from engine.app.users import add_user

    with transaction(app.engine) as session:
        for name, (role, district, shown) in DEMO_ACCOUNTS.items():
            add_user(app, session, name, shown, Role(role), district, DEMO_PASSWORD)


def _reserve_pool(app: App) -> list[str]:
    with transaction(app.engine) as session:
        assigned = set(session.scalars(select(col(Assignment.person_pk))))
        return [
            p.person_id for p in session.scalars(select(Person).order_by(col(Person.person_id))) if p.id not in assigned
        ]


def _record(app: App, event: Event) -> None:
    with transaction(app.engine) as session:
        if event.kind == "exempt_request":
            strike = session.scalars(
                select(Strike)
                .join(Miss, col(Miss.strike_id) == col(Strike.id))
                .join(Node, col(Node.id) == col(Miss.node_id))
                .join(Project, col(Project.id) == col(Node.project_id))
                .where(
                    col(Project.code) == event.project_code,
                    col(Node.code) == event.node_code,
                    col(Miss.planned_date) == event.date,
                    col(Strike.status) == StrikeStatus.COUNTED,
                )
            ).first()
            if strike is not None:  # the request names a miss the engine recorded
                request_exemption(app, session, strike, event.reason)
            return
        if event.kind == "assign":
            assert event.date is not None
            project = session.scalars(select(Project).where(col(Project.code) == event.project_code)).one()
            person = session.scalars(select(Person).where(col(Person.person_id) == event.person_id)).one()
            assign(app, session, project, person, event.date, "demo", event.reason or "工作调整")
            return
        project, node = find_node(session, event.project_code, event.node_code)
        assert event.date is not None
        if event.kind == "complete":
            record_completion(app, session, project, node, event.date, "demo")
        elif event.kind == "extend":
            change_planned_date(app, session, project, node, event.date, event.reason, "demo")


def _meeting(app: App, day: dt.date, reserve: list[str]) -> None:
    with transaction(app.engine) as session:
        requested = set(
            session.scalars(
                select(col(StrikeEvent.strike_id)).where(col(StrikeEvent.kind) == EventKind.EXEMPTION_REQUESTED)
            )
        )
        counted = list(
            session.scalars(
                select(Strike)
                .where(
                    col(Strike.status) == StrikeStatus.COUNTED,
                    col(Strike.person_pk).is_not(None),
                    col(Strike.detected_on) <= day,
                )
                .order_by(col(Strike.id))
            )
        )
        for strike in counted:
            if strike.id in requested:
                reason = session.scalars(
                    select(col(StrikeEvent.text)).where(
                        col(StrikeEvent.strike_id) == strike.id, col(StrikeEvent.kind) == EventKind.EXEMPTION_REQUESTED
                    )
                ).first()
                exempt(app, session, strike, f"党组会研究同意免责：{reason}", day)
            elif strike.decision == Decision.PROPOSED:
                confirm(app, session, strike, day, "党组会研究同意")
        # A dismissed person's projects are handed over after the meeting; a suspended person
        # stays on to put things right, and the agenda keeps asking for a successor.
        dismissed = {
            pk
            for pk in {s.person_pk for s in counted if s.person_pk is not None}
            if status_of(app, session, pk) == PersonStatus.DISMISSED
        }
        _reassign(app, session, day, dismissed, reserve)


def _reassign(app: App, session: Session, day: dt.date, removed: set[int], reserve: list[str]) -> None:
    from engine.views.projects import projects_view

    current = {
        p["project_code"]: p["responsible_person_id"]
        for p in projects_view(session)
        if p["status"] in (ProjectStatus.ACTIVE, ProjectStatus.COMPLETED)
    }
    ids = {p.id: p.person_id for p in session.scalars(select(Person).where(col(Person.id).in_(removed)))}
    for code, holder in sorted(current.items()):
        if holder is not None and holder not in ids.values():
            continue
        for _ in range(len(reserve)):
            candidate = reserve.pop(0)
            reserve.append(candidate)
            person = session.scalars(select(Person).where(col(Person.person_id) == candidate)).one()
            if status_of(app, session, id_of(person)) == PersonStatus.ACTIVE:
                project = session.scalars(select(Project).where(col(Project.code) == code)).one()
                assign(
                    app,
                    session,
                    project,
                    person,
                    day + dt.timedelta(days=1),
                    "demo",
                    f"原负责人 {holder or '空缺'} 免职，党组会指定接任",
                )
                break


def _summary(app: App, console: Console, seconds: float) -> None:
    from engine.views.persons import persons_json
    from engine.views.strikes import strikes_json

    words = app.wording

    with transaction(app.engine) as session:
        strikes = strikes_json(session)
        people = persons_json(app, session)
        week = figures(session, app.policy, END)
    by_level = Counter((s["level"], s["action"]) for s in strikes if s["status"] == "counted" and s["level"])
    table = Table("问责等级", "处理", "计入条数", title="2024 年 7 月至 10 月 问责记录")
    for (level, action), count in sorted(by_level.items()):
        table.add_row(f"第 {level} 次", words.word("action", action), str(count))
    table.add_row("—", "项目无负责人", str(sum(1 for s in strikes if s["person_id"] is None)))
    table.add_row("—", "已豁免", str(sum(1 for s in strikes if s["status"] == "exempted")))
    table.add_row("—", "已撤销（补录按期完成）", str(sum(1 for s in strikes if s["status"] == "revoked")))
    console.print(table)
    statuses = Counter(p["status"] for p in people)
    people_table = Table("人员状态", "人数", title="负责人状态")
    for key in PersonStatus:
        people_table.add_row(words.word("person_status", key), str(statuses.get(key, 0)))
    console.print(people_table)
    console.print(
        f"截至 {END.isoformat()}：项目 {week.projects} 个，开工率 {week.start_rate:.1%}，完工率 {week.completion_rate:.1%}；"
        f"本周应完成节点 {week.due_in_week} 个，已完成 {week.done_in_week} 个；逾期未完成节点 {week.overdue_open} 个"
    )
    pending = sum(1 for s in strikes if s["status"] == "counted" and s["decision"] == "proposed")
    console.print(f"{LAST_CHECK.isoformat()} 的每日检点发现 {pending} 条问责记录，待 2024-11-04 党组会决定。")
    console.print(f"用时 {seconds:.1f} 秒。查看：duban strikes、duban persons、duban strike explain 编号")
    console.print(
        "网页：运行 duban serve，打开 http://127.0.0.1:8000/ ，用 "
        + "、".join(f"{name}（{shown}）" for name, (_r, _d, shown) in DEMO_ACCOUNTS.items())
        + f" 登录，演示密码 {DEMO_PASSWORD}"
    )
