"""The command line, `duban` (督办): the contract of spec/cli.md and the office's daily tools."""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from config import ConfigError, load_settings
from engine.context import App
from engine.errors import Refused
from engine.store.db import DatabaseError, reading, require_schema, transaction
from notifications.wording import WordingError
from rules.host import RulesError

cli = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="督办：老旧小区改造计划节点问责与督办规则引擎。",
)
import_app = typer.Typer(no_args_is_help=True, help="导入数据。")
node_app = typer.Typer(no_args_is_help=True, help="节点：完成、延期。")
project_app = typer.Typer(no_args_is_help=True, help="项目：指定负责人。")
strike_app = typer.Typer(no_args_is_help=True, help="问责记录：确认、豁免、说明。")
notices_app = typer.Typer(help="通知、决定：列出（不带子命令时）、生成文书。", invoke_without_command=True)
report_app = typer.Typer(no_args_is_help=True, help="每日检点、每周通报。")
db_app = typer.Typer(no_args_is_help=True, help="数据库：复制到另一个数据库。")
export_app = typer.Typer(no_args_is_help=True, help="导出数据。")
audit_app = typer.Typer(no_args_is_help=True, help="记录在案：校验、导出防篡改审计链。")
outbox_app = typer.Typer(help="发件箱：待发送、已发送、发送失败的消息。", invoke_without_command=True)
user_app = typer.Typer(no_args_is_help=True, help="网页账号：新增、列出、改密码、停用。")
complaint_app = typer.Typer(no_args_is_help=True, help="12345 工单：关联到项目。")
review_app = typer.Typer(no_args_is_help=True, help="审核：现场报告的完成、延期申请，片区账号将撤销问责的完成。")
person_app = typer.Typer(no_args_is_help=True, help="人员：个人链接（手机报告进展）。")
cli.add_typer(import_app, name="import")
cli.add_typer(node_app, name="node")
cli.add_typer(project_app, name="project")
cli.add_typer(strike_app, name="strike")
cli.add_typer(notices_app, name="notices")
cli.add_typer(report_app, name="report")
cli.add_typer(outbox_app, name="outbox")
cli.add_typer(db_app, name="db")
cli.add_typer(audit_app, name="audit")
cli.add_typer(export_app, name="export")
cli.add_typer(user_app, name="user")
cli.add_typer(complaint_app, name="complaint")
cli.add_typer(review_app, name="review")
cli.add_typer(person_app, name="person")

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def _iso(value: str | None) -> dt.date | None:
    if value is None:
        return None
    from engine.ledger.dates import parse_typed  # not at import: engine.ledger is a quarter second

    try:
        return parse_typed(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


DateArg = Annotated[str, typer.Option(help="日期 YYYY-MM-DD")]


class _State:
    db: str | None = None
    config: Path | None = None
    app: App | None = None


_state = _State()


@cli.callback()
def _main(
    db: Annotated[
        str | None, typer.Option("--db", help="数据库地址（默认 DUBAN_DATABASE_URL、配置文件或 ./duban.db）")
    ] = None,
    config: Annotated[Path | None, typer.Option("--config", help="配置文件 duban.toml")] = None,
) -> None:
    _state.db, _state.config = db, config


def get_app(check_schema: bool = True) -> App:
    """Build the app from the options, environment and config file."""
    if _state.app is None:
        _state.app = App(load_settings(_state.db, _state.config))
    if check_schema:
        require_schema(_state.app.engine)
    return _state.app


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=None) + "\n")


@cli.command()
def init() -> None:
    """创建或升级数据库结构（可重复运行）。"""
    from engine.app.upgrade import upgrade

    app = get_app(check_schema=False)
    done = upgrade(app)
    out.print(f"数据库已就绪（结构版本 {done.revision}）：{_safe_url(app.settings.database_url)}")
    if done.numbered:
        out.print(f"已按文书日期为此前签发的 {done.numbered} 份通知、决定编号（每个文号系列每年从 1 起）")


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@import_app.command("ledger")
def import_ledger_cmd(
    path: Annotated[Path, typer.Argument(help=".xlsx 工作簿或 CSV 文件夹")],
    as_of: Annotated[str | None, typer.Option("--as-of", help="负责人变更的生效日期（默认今天）")] = None,
    new_persons: Annotated[
        bool, typer.Option("--new-persons", help="工作台账中按姓名写的负责人若查无此人，按姓名新建人员（默认拒绝）")
    ] = False,
) -> None:
    """导入工作台账（全部成功或全部不变）。"""
    from engine.ledger import import_ledger

    as_of_day = _iso(as_of)
    app = get_app()
    with _progress() as progress:
        result = import_ledger(app, path, as_of_day, progress, new_persons=new_persons)
    parts = [
        f"{label} {value}"
        for label, value in (
            ("新增人员", result.persons_added),
            ("更新人员", result.persons_updated),
            ("新增项目", result.projects_added),
            ("更新项目", result.projects_updated),
            ("新增节点", result.nodes_added),
            ("更新节点", result.nodes_updated),
            ("延期", result.extensions),
            ("完成", result.completions),
            ("负责人变更", result.reassignments),
        )
        if value
    ]
    for note in result.notes:
        err.print(f"注意：{note}", markup=False)
    out.print(f"已导入 {path}：" + ("，".join(parts) if parts else "没有变化"))


class _progress:
    """A progress bar on the terminal for imports that take more than a moment."""

    def __enter__(self) -> Any:
        if not err.is_terminal:
            return None
        from rich.progress import Progress

        self._bar = Progress(console=err, transient=True)
        self._bar.start()
        self._task: Any = None

        def update(label: str, done: int, total: int | None) -> None:
            if self._task is None:
                self._task = self._bar.add_task(label, total=total)
            self._bar.update(self._task, completed=done)

        return update

    def __exit__(self, *exc: object) -> None:
        if err.is_terminal:
            self._bar.stop()


@import_app.command("complaints")
def import_complaints_cmd(path: Annotated[Path, typer.Argument(help="12345 工单导出（.xlsx 或 .csv）")]) -> None:
    """导入 12345 市长热线工单（全部成功或全部不变；重复导入同一文件不会重复记录）。"""
    from engine.complaints import import_complaints

    result = import_complaints(get_app(), path)
    parts = [
        f"{label} {value} 条"
        for label, value in (("新增工单", result.added), ("更新工单", result.updated), ("关联到项目", result.linked))
        if value
    ]
    out.print(f"已导入 {path}：" + ("，".join(parts) if parts else "没有变化"))
    if result.unmatched:
        out.print(
            f"未能关联项目的工单 {len(result.unmatched)} 条：duban complaints --unmatched 查看，"
            "duban complaint link 工单编号 项目编号 人工关联"
        )


@cli.command()
def complaints(
    unmatched: Annotated[bool, typer.Option("--unmatched", help="只列出未关联项目的工单")] = False,
    project: Annotated[str | None, typer.Option("--project", help="只列出此项目的工单")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON")] = False,
) -> None:
    """列出 12345 工单（关联的项目、办理时限、是否逾期）。"""
    from engine.complaints.views import listing

    app = get_app()
    with reading(app.engine) as session:
        data = listing(session, app.settings.tz, app.today(), unmatched, project)
    if as_json:
        _print_json(data)
        return
    table = Table("工单编号", "受理时间", "项目", "办理时限", "办结时间", "逾期天数", "满意度", "地址/小区", "说明")
    for c in data:
        table.add_row(
            c["order_no"],
            c["received_at"][:16],
            c["project_code"] or "（未关联）",
            c["due_at"][:16],
            (c["closed_at"] or "")[:16],
            str(c["overdue_days"] or ""),
            c["satisfaction"] or "",
            c["place"] or "",
            app.wording.word("complaint_link", c["link"]) if c["link"] else c["link_note"] or "",
        )
    out.print(table)


@complaint_app.command("link")
def complaint_link(
    order_no: Annotated[str, typer.Argument(help="工单编号")],
    project: Annotated[str, typer.Argument(help="项目编号")],
    reason: Annotated[str | None, typer.Option("--reason", help="关联的依据")] = None,
) -> None:
    """把 12345 工单人工关联到项目（记录在案）。"""
    from engine.complaints import link_complaint

    changed = link_complaint(get_app(), order_no, project, reason)
    out.print(
        f"工单 {order_no} 已关联到项目 {project}" if changed else f"工单 {order_no} 已关联到项目 {project}，没有变化"
    )


@node_app.command("complete")
def node_complete(
    project: str,
    node: str,
    on: Annotated[str, typer.Option("--on", help="完成日期")],
    reason: Annotated[str | None, typer.Option("--reason")] = None,
) -> None:
    """记录节点完成。"""
    from engine.record.actions import complete_node

    day = _iso(on)
    assert day is not None
    changed = complete_node(get_app(), project, node, day, reason)
    out.print(f"{project} {node}：完成日期 {day.isoformat()}" + ("" if changed else "（与已有记录相同，未变化）"))


@node_app.command("extend")
def node_extend(
    project: str,
    node: str,
    to: Annotated[str, typer.Option("--to", help="新的计划日期")],
    reason: Annotated[str, typer.Option("--reason", help="批准延期的理由")],
) -> None:
    """记录批准的延期（新的计划完成日期）。"""
    from engine.record.actions import extend_node

    day = _iso(to)
    assert day is not None
    old, changed = extend_node(get_app(), project, node, day, reason)
    out.print(
        f"{project} {node}：计划日期 {old.isoformat()} → {day.isoformat()}"
        if changed
        else f"{project} {node}：计划日期已是 {day.isoformat()}，未变化"
    )


@project_app.command("assign")
def project_assign(
    project: str,
    person: str,
    from_: Annotated[str, typer.Option("--from", help="生效日期")],
    reason: Annotated[str | None, typer.Option("--reason")] = None,
) -> None:
    """指定项目负责人（自某日起生效）；永不使用人员被拒绝。"""
    from engine.record.actions import assign_project

    day = _iso(from_)
    assert day is not None
    assign_project(get_app(), project, person, day, reason)
    out.print(f"项目 {project} 的负责人自 {day.isoformat()} 起为 {person}")


@cli.command()
def evaluate(
    through: Annotated[str, typer.Option("--through", help="评估到此日（含）")],
    from_: Annotated[str | None, typer.Option("--from", help="首次评估的起始日")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON")] = False,
) -> None:
    """逐日评估尚未评估的日期，直到 --through。"""
    from engine.evaluation.daily import evaluate as run

    through_day = _iso(through)
    assert through_day is not None
    app = get_app()
    result = run(app, through_day, _iso(from_))
    if as_json:
        _print_json(
            {
                "evaluated_days": [d.isoformat() for d in result.evaluated_days],
                "new_strikes": result.new_strikes,
                "warnings": result.warnings,
            }
        )
        return
    if not result.evaluated_days:
        out.print(f"没有需要评估的日期（已评估至 {through_day.isoformat()} 或之后）")
        return
    out.print(
        f"已评估 {result.evaluated_days[0].isoformat()} 至 {result.evaluated_days[-1].isoformat()}，"
        f"共 {len(result.evaluated_days)} 天：逾期节点 {result.misses} 个，新问责记录 {len(result.new_strikes)} 条，"
        f"预警节点 {result.warnings} 个"
    )


def _strike(session: Any, strike_id: int) -> Any:
    from engine.store.models import Strike

    strike = session.get(Strike, strike_id)
    if strike is None:
        raise Refused(f"问责记录 #{strike_id} 不存在")
    return strike


@strike_app.command("confirm")
def strike_confirm(
    strike_id: int,
    meeting: Annotated[str, typer.Option("--meeting", help="党组会日期")],
    text: Annotated[str | None, typer.Option("--text", help="决定内容")] = None,
) -> None:
    """记录党组会对问责记录的确认，并生成正式决定（不再是草稿），列入发件箱。"""
    from engine.paperwork.documents import issue_confirmed
    from engine.record.actions import confirm_strike

    day = _iso(meeting)
    assert day is not None
    app = get_app()
    confirm_strike(app, strike_id, day, text)
    written = issue_confirmed(app, strike_id)
    out.print(
        f"问责记录 #{strike_id} 已由 {day.isoformat()} 党组会确认"
        + (f"；正式文书已写入 {written[0].parent}" if written else "")
    )


@strike_app.command("exempt")
def strike_exempt(
    strike_id: int,
    reason: Annotated[str, typer.Option("--reason", help="豁免理由")],
    meeting: Annotated[str | None, typer.Option("--meeting", help="党组会日期")] = None,
) -> None:
    """豁免问责记录（不再计入，之后的等级随之下调）。"""
    from engine.record.actions import exempt_strike

    meeting_day = _iso(meeting)
    exempt_strike(get_app(), strike_id, reason, meeting_day)
    out.print(f"问责记录 #{strike_id} 已豁免：{reason}")


@strike_app.command("reject-exemption")
def strike_reject_exemption(
    strike_id: int,
    reason: Annotated[str, typer.Option("--reason", help="驳回的理由")],
    meeting: Annotated[str | None, typer.Option("--meeting", help="党组会日期")] = None,
) -> None:
    """记录党组会驳回免责申请（问责记录维持不变）。"""
    from engine.record.actions import reject_exemption

    reject_exemption(get_app(), strike_id, reason, _iso(meeting))
    out.print(f"问责记录 #{strike_id} 的免责申请已驳回：{reason}")


@strike_app.command("request-exemption")
def strike_request_exemption(
    strike_id: int, reason: Annotated[str, typer.Option("--reason", help="申请免责的理由")]
) -> None:
    """登记免责申请（列入下次党组会议程）。"""
    from engine.record.actions import ask_exemption

    ask_exemption(get_app(), strike_id, reason)
    out.print(f"问责记录 #{strike_id} 的免责申请已登记，将提交党组会审议")


@strike_app.command("explain")
def strike_explain(strike_id: int) -> None:
    """说明问责记录的事实与依据的规则。"""
    from engine.views.strikes import explain, strike_record

    app = get_app()
    with reading(app.engine) as session:
        strike = _strike(session, strike_id)
        lines = explain(app, session, strike)
        recorded = strike_record(app, session, strike_id)
    for line in lines:
        out.print(line, markup=False)
    out.print("记录在案：", markup=False)
    for line in recorded:
        out.print(f"  {line}", markup=False)


@cli.command()
def strikes(as_json: Annotated[bool, typer.Option("--json", help="输出 JSON")] = False) -> None:
    """列出全部问责记录。"""
    from engine.views.strikes import strikes_json

    app = get_app()
    with reading(app.engine) as session:
        data = strikes_json(session)
    if as_json:
        _print_json(data)
        return
    words = app.wording
    table = Table("编号", "责任人", "项目", "节点", "计划日期", "发现日期", "等级", "处理", "状态", "决定")
    for s in data:
        table.add_row(
            str(s["id"]),
            s["person_id"] or "（无）",
            "、".join(s["project_codes"]),
            "、".join(f"{n['project_code']}/{n['node_code']}" for n in s["nodes"]),
            s["planned_date"],
            s["detected_on"],
            str(s["level"] or ""),
            words.word("action", s["action"]),
            words.word("strike_status", s["status"]),
            words.word("decision", s["decision"]),
        )
    out.print(table)


@cli.command()
def persons(as_json: Annotated[bool, typer.Option("--json", help="输出 JSON")] = False) -> None:
    """列出全部人员及其状态。"""
    from engine.views.persons import persons_json, persons_page

    app = get_app()
    with reading(app.engine) as session:
        if as_json:
            _print_json(persons_json(app, session))
            return
        rows, _total = persons_page(app, session, per_page=10**9)
    table = Table("人员编号", "姓名", "状态（未经党组会确认的标“拟”）", "计入的问责记录")
    for p in rows:
        table.add_row(p["person_id"], p["name"], p["status_cn"], str(p["counted_strikes"]))
    out.print(table)


@cli.command()
def projects(as_json: Annotated[bool, typer.Option("--json", help="输出 JSON")] = False) -> None:
    """列出全部项目及当前负责人。"""
    from engine.views.projects import projects_view

    app = get_app()
    with reading(app.engine) as session:
        data = projects_view(session)
    if as_json:
        _print_json(data)
        return
    table = Table("项目编号", "项目名称", "片区", "批次", "状态", "负责人", "节点", "已完成")
    for p in data:
        table.add_row(
            p["project_code"],
            p["name"],
            p["district"] or "",
            p["batch"] or "",
            app.wording.word("project_status", p["status"]),
            p["responsible_person_id"] or "（无）",
            str(p["nodes"]),
            str(p["completed"]),
        )
    out.print(table)


@cli.command()
def nodes(
    project: Annotated[str | None, typer.Argument(help="只列出此项目的节点")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON")] = False,
) -> None:
    """列出节点（计划日期、完成日期）。"""
    from engine.views.nodes import nodes_view

    app = get_app()
    with reading(app.engine) as session:
        data = nodes_view(session, project)
    if as_json:
        _print_json(data)
        return
    table = Table("项目编号", "节点编号", "节点名称", "计划完成日期", "实际完成日期")
    for n in data:
        table.add_row(n["project_code"], n["node_code"], n["name"], n["planned_date"], n["completed_on"] or "")
    out.print(table)


FormatOpt = Annotated[str, typer.Option("--format", help="md、html 或 docx")]


def _format(value: str) -> Any:
    from config.vocabulary import Format

    try:
        return Format(value.lower())
    except ValueError:
        raise typer.BadParameter(f"格式应为 md、html 或 docx：{value!r}") from None


DistrictOpt = Annotated[str | None, typer.Option("--district", help="只含此片区（片区版）")]


def _document(write: Any, day_text: str, fmt: str, out_path: Path | None, district: str | None = None) -> None:
    # Options are checked before the database is touched: a bad date is a usage error (exit 2).
    day, chosen = _iso(day_text), _format(fmt)
    text, path = write(get_app(), day, chosen, out_path, district=district)
    if text is not None:
        sys.stdout.write(text)
    elif path is not None:
        out.print(f"已写入 {path}")


@cli.command()
def agenda(
    meeting: Annotated[str, typer.Option("--meeting", help="党组会日期")],
    fmt: FormatOpt = "md",
    out_path: Annotated[Path | None, typer.Option("--out", help="输出文件（默认打印；docx 默认写入 out/）")] = None,
    district: DistrictOpt = None,
) -> None:
    """生成党组会议程（--district：片区版，列出该片区的全部事项）。"""
    from engine.paperwork.contexts import is_meeting_day
    from engine.paperwork.documents import write_agenda

    day = _iso(meeting)
    assert day is not None
    _document(write_agenda, meeting, fmt, out_path, district)
    app = get_app()
    if not is_meeting_day(app, day, app.calendar):
        err.print(f"注意：{day.isoformat()} 不是会议安排中的党组会日期（议程中已注明）", markup=False)


@cli.command()
def decisions(
    meeting: Annotated[str, typer.Option("--meeting", help="党组会日期")],
    fmt: FormatOpt = "md",
    out_path: Annotated[Path | None, typer.Option("--out", help="输出文件（默认打印；docx 默认写入 out/）")] = None,
    district: DistrictOpt = None,
) -> None:
    """生成党组会决定事项（依记录：确认、豁免、驳回免责申请，及记录人、时间）。"""
    from engine.paperwork.documents import write_decisions

    _document(write_decisions, meeting, fmt, out_path, district)


@notices_app.callback()
def notices_list(
    ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json", help="输出 JSON")] = False
) -> None:
    """列出全部通知、决定（编号、种类、人员、问责记录、文号、日期、状态：草稿、正式、已被取代）。"""
    if ctx.invoked_subcommand is not None:
        return
    from engine.views.notices import notices_listing

    app = get_app()
    with reading(app.engine) as session:
        data = notices_listing(app, session)
    if as_json:
        _print_json(data)
        return
    words = app.wording
    table = Table("编号", "种类", "人员", "问责记录", "文号", "日期", "状态", "已生成")
    for n in data:
        table.add_row(
            str(n["id"]),
            n["kind_cn"],
            n["person_id"] or "（无）",
            f"#{n['strike_id']}" if n["strike_id"] else "",
            n["doc_number"] or "",
            n["date"],
            words.word("notice_state", n["status"]),
            "是" if n["rendered"] else "否",
        )
    out.print(table)


@notices_app.command("render")
def notices_render(
    out_dir: Annotated[Path, typer.Option("--out", help="输出目录")],
    fmt: Annotated[list[str] | None, typer.Option("--format", help="md、html、docx（可多次；默认全部）")] = None,
) -> None:
    """生成尚未生成的全部通知、决定（每份只生成一次）。"""
    from config.vocabulary import Format
    from engine.paperwork.documents import render_notices

    formats = [_format(f) for f in fmt] if fmt else list(Format)
    app = get_app()
    written = render_notices(app, out_dir, formats)
    out.print(f"已生成 {len(written)} 个文件，写入 {out_dir / 'notices'}" if written else "没有尚未生成的通知")


@report_app.command("daily")
def report_daily(
    date: Annotated[str, typer.Option("--date", help="检点日期")],
    fmt: FormatOpt = "md",
    out_path: Annotated[Path | None, typer.Option("--out", help="输出文件（默认打印）")] = None,
    district: DistrictOpt = None,
) -> None:
    """生成每日检点报告。"""
    from engine.paperwork.documents import write_daily

    _document(write_daily, date, fmt, out_path, district)


@report_app.command("weekly")
def report_weekly(
    week_of: Annotated[str, typer.Option("--week-of", help="该周内任一日期")],
    fmt: FormatOpt = "md",
    out_path: Annotated[Path | None, typer.Option("--out", help="输出文件（默认打印；docx 默认写入 out/）")] = None,
    district: DistrictOpt = None,
) -> None:
    """生成每周通报（附进度图）。"""
    from engine.paperwork.documents import write_weekly

    _document(write_weekly, week_of, fmt, out_path, district)


@report_app.command("progress")
def report_progress(
    date: Annotated[str, typer.Option("--date", help="截至日期")],
    out_path: Annotated[Path | None, typer.Option("--out", help="输出 .xlsx 文件（默认写入 out/）")] = None,
    district: DistrictOpt = None,
) -> None:
    """导出上报省、部的进度表（.xlsx：分片区进度与合计，片区、施工单位、负责人排名）。"""
    from engine.paperwork.documents import write_progress_tables

    day = _iso(date)
    assert day is not None
    if out_path is not None and out_path.suffix.lower() != ".xlsx":
        raise typer.BadParameter(f"进度表是 Excel 文件，--out 应以 .xlsx 结尾：{out_path}")
    out.print(f"已写入 {write_progress_tables(get_app(), day, out_path, district)}")


@cli.command()
def schedule(once: Annotated[bool, typer.Option("--once", help="补跑到期任务后即退出（不常驻）")] = False) -> None:
    """常驻运行调度：每天定时评估、生成检点、通报与议程；先补跑错过的日期。"""
    import logging

    from engine.app.scheduler import serve

    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    serve(get_app(), once=once)


@cli.command()
def runs(as_json: Annotated[bool, typer.Option("--json", help="输出 JSON")] = False) -> None:
    """列出调度任务的运行记录。"""
    from engine.app.scheduler import runs as history

    data = history(get_app())
    if as_json:
        _print_json(data)
        return
    table = Table("编号", "任务", "业务日期", "状态", "执行者", "次数", "开始", "结束", "结果")
    for r in data:
        table.add_row(
            str(r["id"]),
            r["job"],
            r["business_date"],
            r["status"],
            r["holder"],
            str(r["attempts"]),
            r["started_at"],
            r["finished_at"] or "",
            r["error"] or json.dumps(r["detail"], ensure_ascii=False),
        )
    out.print(table)


@outbox_app.callback()
def outbox_list(ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json", help="输出 JSON")] = False) -> None:
    """列出发件箱（不带子命令时）。"""
    if ctx.invoked_subcommand is not None:
        return
    from engine.delivery.outbox import listing, next_attempt_note

    app = get_app()
    data = listing(app)
    if as_json:
        _print_json(data)
        return
    table = Table("编号", "渠道", "收件人", "主题", "状态", "尝试次数", "错误", "下次尝试", "发送时间")
    for r in data:
        table.add_row(
            str(r["id"]),
            r["channel"],
            r["recipient"],
            r["subject"],
            app.wording.word("outbox_status", r["status"]),
            str(r["attempts"]),
            r["last_error"] or "",
            next_attempt_note(r),
            r["sent_at"] or "",
        )
    out.print(table)


@outbox_app.command("retry")
def outbox_retry() -> None:
    """立即重发发送失败的消息。"""
    from engine.delivery.outbox import retry, summary

    out.print(f"重发：{summary(retry(get_app()))}")


@db_app.command("copy")
def db_copy(
    to: Annotated[str, typer.Option("--to", help="目标数据库地址（须为空库），如 postgresql+psycopg://…")],
) -> None:
    """把当前数据库完整复制到另一个空数据库（例如从 SQLite 迁到 PostgreSQL）。"""
    from engine.store.copy import copy_database

    counts = copy_database(get_app().engine, to)
    out.print(
        f"已复制 {sum(counts.values())} 行到 {_safe_url(to)}："
        + "，".join(f"{name} {n}" for name, n in counts.items() if n)
    )


@audit_app.command("verify")
def audit_verify(
    against: Annotated[Path | None, typer.Option("--against", help="先前导出的审计链（须为当前链的开头）")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON")] = False,
) -> None:
    """校验审计链：完整则退出码 0 并给出条数；发现被改动、删除或插入的记录则退出码 1 并指出第一处。"""
    from engine.store import audit

    archived = None
    if against is not None:
        if not against.is_file():
            raise Refused(f"{against}：文件不存在")
        try:
            archived = audit.read_archive(against)
        except (ValueError, UnicodeDecodeError) as exc:
            raise Refused(f"{against}：不是 duban audit export 导出的审计链（{exc}）") from None
    with reading(get_app().engine) as session:
        verdict = audit.verify(session, archived)
    if as_json:
        _print_json(
            {
                "ok": verdict.problem is None,
                "entries": verdict.entries,
                "rows": verdict.rows,
                "problem": verdict.problem,
            }
        )
        if verdict.problem is not None:
            raise typer.Exit(1)
        return
    if verdict.problem is not None:
        raise Refused(f"审计链校验未通过：{verdict.problem}（此前 {verdict.entries} 条记录完好）")
    out.print(f"审计链完整：{verdict.entries} 条审计记录，覆盖 {verdict.rows} 行记录")


@audit_app.command("export")
def audit_export(path: Annotated[Path, typer.Argument(help="输出文件（JSON Lines）")]) -> None:
    """导出审计链以便归档（每行一条，最后一行为链头）。"""
    from engine.store import audit

    with reading(get_app().engine) as session:
        count = audit.export(session, path)
    out.print(f"已导出 {count} 条审计记录到 {path}")


@export_app.command("ledger")
def export_ledger_cmd(path: Annotated[Path, typer.Argument(help="输出的 .xlsx 工作簿")]) -> None:
    """导出当前台账（人员、项目、节点，可修改后再导入）及问责记录到 Excel。"""
    from engine.ledger.export import export_ledger

    counts = export_ledger(get_app(), path)
    out.print(f"已导出到 {path}：" + "，".join(f"{name} {n} 行" for name, n in counts.items()))


@cli.command()
def backup(path: Annotated[Path, typer.Argument(help="备份文件（不存在的新文件）")]) -> None:
    """备份数据库（SQLite：在线备份，一致且经完整性检查；PostgreSQL：给出 pg_dump 用法）。"""
    from engine.store.backup import backup as run_backup

    result = run_backup(get_app().settings, path)
    out.print(
        f"已备份到 {result.path}（{result.bytes / 1024 / 1024:.1f} MB，人员 {result.persons} 名，问责记录 {result.strikes} 条，"
        "完整性检查通过）"
    )


@cli.command()
def restore(
    path: Annotated[Path, typer.Argument(help="duban backup 写出的备份文件")],
    replace: Annotated[bool, typer.Option("--replace", help="替换已有数据的数据库（现有数据库先另存）")] = False,
) -> None:
    """从备份恢复数据库，随后升级结构并校验审计链。"""
    from engine.app.upgrade import upgrade
    from engine.store import audit
    from engine.store.backup import restore as run_restore

    app = get_app(check_schema=False)
    result = run_restore(app.settings, path, replace)
    app.engine.dispose()  # connections opened before the file was replaced must not be reused
    upgrade(app)
    with transaction(app.engine) as session:
        verdict = audit.verify(session)
    if result.kept is not None:
        out.print(f"原数据库已另存为 {result.kept}")
    out.print(f"已从 {path} 恢复：人员 {result.persons} 名，问责记录 {result.strikes} 条")
    if verdict.problem is not None:
        raise Refused(f"恢复的数据库审计链校验未通过：{verdict.problem}")
    out.print(f"审计链完整：{verdict.entries} 条审计记录")


@cli.command()
def deliver() -> None:
    """发送发件箱中到期的消息（失败的按退避时间重试）。"""
    from engine.delivery.outbox import deliver as send
    from engine.delivery.outbox import summary

    out.print(f"发送：{summary(send(get_app()))}")


@cli.command()
def remind(
    date: Annotated[
        str, typer.Option("--date", help="预警日期 YYYY-MM-DD（默认今天；过去的日期不补发，未来的日期拒绝）")
    ] = "",
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON")] = False,
) -> None:
    """发出当日到期前预警：按策略 remind_days_before 提醒负责人，并向工作专班发送当日汇总（重复运行不重复发送）。"""
    from engine.paperwork.reminders import remind as send
    from engine.paperwork.reminders import summary

    typed = _iso(date or None)
    app = get_app()
    result = send(app, typed or app.today())
    if as_json:
        _print_json(result.as_dict())
        return
    for line in summary(result):
        out.print(line, markup=False)


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        raise Refused("请在终端中输入密码，或用 --password-stdin 从标准输入读取")
    value: str = typer.prompt("密码", hide_input=True, confirmation_prompt="再输入一次")
    return value


@user_app.command("add")
def user_add(
    name: Annotated[str, typer.Argument(help="登录用户名（字母、数字、点、下划线、连字符）")],
    role: Annotated[str, typer.Option("--role", help="leader（领导，只读）、office（工作专班）、district（片区）")],
    district: Annotated[str | None, typer.Option("--district", help="片区工作人员所属片区")] = None,
    display_name: Annotated[str | None, typer.Option("--display-name", help="显示的姓名")] = None,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="从标准输入读取密码（脚本用）")] = False,
) -> None:
    """新增网页账号（密码以 argon2 散列保存）。"""
    from config.vocabulary import Role
    from engine.app.users import add_user

    try:
        chosen = Role(role)
    except ValueError:
        raise typer.BadParameter(f"角色应为 leader、office 或 district：{role!r}") from None
    app = get_app()
    password = _password(password_stdin)
    with transaction(app.engine) as session:
        add_user(app, session, name, display_name, chosen, district, password)
    out.print(f"已新增账号 {name}（{app.wording.word('role', chosen)}{'，' + district if district else ''}）")


@user_app.command("list")
def user_list(as_json: Annotated[bool, typer.Option("--json", help="输出 JSON")] = False) -> None:
    """列出网页账号（含须重设的密码与登录限流）。"""
    from engine.app.users import password_state, throttles, users

    app = get_app()
    tz = app.settings.tz
    now = app.now()
    with reading(app.engine) as session:
        held: dict[str, list[dict[str, Any]]] = {}
        for t in throttles(session, now):
            if t.kind == "account" and t.account:
                held.setdefault(t.name, []).append(
                    {
                        "client": t.client or None,
                        "failures": t.failures,
                        "refused": t.refused,
                        "blocked_until": t.blocked_until.astimezone(tz).isoformat(timespec="seconds")
                        if t.blocking and t.blocked_until
                        else None,
                    }
                )
        rows: list[dict[str, Any]] = [
            {
                "name": u.name,
                "display_name": u.display_name,
                "role": u.role,
                "district": u.district,
                "active": u.active,
                "created_by": u.created_by,
                "created_at": u.created_at.astimezone(tz).isoformat(timespec="seconds"),
                "reset_needed": {"weak": True, "ok": False}.get(password_state(u)),
                "throttles": held.get(u.name, []),
            }
            for u in users(session)
        ]
    if as_json:
        _print_json(rows)
        return
    words = {False: "符合规则", None: "待核验（下次登录时核验）", True: "须重设（duban user passwd）"}
    table = Table("用户名", "姓名", "角色", "片区", "状态", "密码", "登录限流", "创建人", "创建时间")
    for r in rows:
        held_text = "；".join(
            f"{t['client'] or '未知地址'} 失败 {t['failures']} 次"
            + (f"，限制到 {t['blocked_until'][:16]}" if t["blocked_until"] else "")
            for t in r["throttles"]
        )
        table.add_row(
            r["name"],
            r["display_name"],
            app.wording.word("role", r["role"]),
            r["district"] or "",
            "启用" if r["active"] else "停用",
            words[r["reset_needed"]],
            held_text or "—",
            r["created_by"],
            r["created_at"],
        )
    out.print(table)


@user_app.command("passwd")
def user_passwd(
    name: str, password_stdin: Annotated[bool, typer.Option("--password-stdin", help="从标准输入读取密码")] = False
) -> None:
    """修改账号密码（该账号已登录的会话随之失效）。"""
    from engine.app.users import set_password

    app = get_app()
    password = _password(password_stdin)
    with transaction(app.engine) as session:
        set_password(app, session, name, password)
    out.print(f"账号 {name} 的密码已修改")


def _set_active(name: str, active: bool) -> None:
    from engine.app.users import set_active

    app = get_app()
    with transaction(app.engine) as session:
        set_active(app, session, name, active)
    out.print(f"账号 {name} 已{'启用' if active else '停用'}")


@user_app.command("disable")
def user_disable(name: str) -> None:
    """停用账号（立即退出其全部会话）。"""
    _set_active(name, False)


@user_app.command("enable")
def user_enable(name: str) -> None:
    """重新启用账号（同时解除其登录限流）。"""
    _set_active(name, True)


@user_app.command("unlock")
def user_unlock(name: str) -> None:
    """解除账号的全部登录限流（任何地址），记入记录在案。"""
    from engine.app.users import unlock

    app = get_app()
    with transaction(app.engine) as session:
        blocked = unlock(app, session, name)
    out.print(
        f"已解除账号 {name} 的全部登录限流"
        + (f"（曾被限流的地址：{'、'.join(blocked)}）" if blocked else "（当前没有被限流的地址）")
    )


@cli.command()
def serve(
    host: Annotated[str | None, typer.Option("--host", help="监听地址（默认 127.0.0.1）")] = None,
    port: Annotated[int | None, typer.Option("--port", help="端口（默认 8000）")] = None,
) -> None:
    """运行网页服务（挂图作战、人员、党组会、文书、台账导入、记录在案）。"""
    import uvicorn

    from engine.app.users import count_users
    from engine.app.web import create_app

    app = get_app()
    chosen_host = host or app.settings.web.host
    chosen_port = port or app.settings.web.port
    with reading(app.engine) as session:
        accounts = count_users(session)
    err.print(f"督办网页服务：http://{chosen_host}:{chosen_port}/ （数据库 {_safe_url(app.settings.database_url)}）")
    if not accounts:
        err.print("尚无账号：请先运行 duban user add 用户名 --role office 创建账号")
    # uvicorn's own proxy handling believes X-Forwarded-For from 127.0.0.1 by default: off. The web app reads
    # the header itself, and only from [duban.web] trusted_proxies (security.client_address).
    uvicorn.run(
        create_app(app),
        host=chosen_host,
        port=chosen_port,
        log_level="warning",
        access_log=False,
        server_header=False,
        proxy_headers=False,
        forwarded_allow_ips=[],
    )


@cli.command()
def demo(
    out_dir: Annotated[Path | None, typer.Option("--out", help="文书输出目录（默认 ./out）")] = None,
) -> None:
    """在内置演示台账上运行主流程（见 README）。"""
    from engine.app.campaign import run_demo

    app = get_app(check_schema=False)
    run_demo(app, out, out_dir)


@review_app.command("list")
def review_list(as_json: Annotated[bool, typer.Option("--json", help="输出 JSON")] = False) -> None:
    """列出待审核的报告（最早的在前）。"""
    from engine.views.reports import pending

    app = get_app()
    with reading(app.engine) as session:
        waiting = pending(app, session)
    if as_json:
        _print_json([r.as_json() for r in waiting])
        return
    if not waiting:
        out.print("没有待审核的报告")
        return
    table = Table("编号", "项目", "节点", "类别", "报告内容", "计划日期", "报告人", "照片", "将撤销问责")
    for r in waiting:
        what = f"完成于 {r.completed_on}" if r.completed_on else f"延期至 {r.requested_date}"
        who = f"{r.person_name}（{r.reported_by}）" if r.person_name else r.reported_by
        revokes = "、".join(f"#{s}" for s in r.revokes) or "—"
        words = app.wording.word("report_kind", r.kind)
        table.add_row(
            str(r.id), r.project_code, r.node_code, words, what, str(r.planned_now), who, str(len(r.photos)), revokes
        )
    out.print(table)


@review_app.command("approve")
def review_approve(
    report_id: Annotated[int, typer.Argument(help="报告编号（duban review list）")],
    by: Annotated[str | None, typer.Option("--by", help="审核人（默认为当前操作人）")] = None,
    note: Annotated[str | None, typer.Option("--note", help="审核意见")] = None,
) -> None:
    """审核通过：记录报告的完成或延期（与 duban node complete / extend 相同），注明报告人与审核人。"""
    from config.vocabulary import ReportKind
    from engine.app.review import approve

    app = get_app()
    report = approve(app.as_actor(by.strip()) if by and by.strip() else app, report_id, note)
    what = (
        f"完成日期 {report.completed_on}"
        if report.kind == ReportKind.COMPLETION
        else f"计划日期 {report.planned_date} → {report.requested_date}"
    )
    out.print(f"报告 #{report_id} 审核通过：已记录 {what}")


@review_app.command("reject")
def review_reject(
    report_id: Annotated[int, typer.Argument(help="报告编号（duban review list）")],
    reason: Annotated[str, typer.Option("--reason", help="退回理由（发给报告人）")],
) -> None:
    """审核退回：写明理由，理由经发件箱发给报告人；台账与问责记录不变。"""
    from engine.app.review import reject

    _report, queued = reject(get_app(), report_id, reason)
    out.print(f"报告 #{report_id} 已退回" + (f"，理由已排入发件箱（{queued} 条）" if queued else ""))


@person_app.command("link")
def person_link(
    person_id: Annotated[str, typer.Argument(help="人员编号")],
    days: Annotated[int | None, typer.Option("--days", min=1, max=366, help="有效天数（默认 link_days）")] = None,
) -> None:
    """发放个人链接：负责人用手机打开，查看自己的节点、报告完成或申请延期。"""
    from engine.app.review import issue_link

    app = get_app()
    url, expires = issue_link(app, person_id, days)
    out.print(url, markup=False)
    out.print(f"有效期至 {expires.astimezone(app.settings.tz):%Y-%m-%d %H:%M}；此链接只显示这一次，数据库只保存其摘要")


@person_app.command("unlink")
def person_unlink(person_id: Annotated[str, typer.Argument(help="人员编号")]) -> None:
    """收回某人的全部个人链接（立即失效）。"""
    from engine.app.review import revoke_links

    count = revoke_links(get_app(), person_id)
    out.print(f"已收回 {person_id} 的 {count} 个个人链接" if count else f"{person_id} 没有有效的个人链接")


def run(argv: list[str]) -> int:
    """Run one command and return its exit code: refusals print one line per problem, never a trace."""
    _state.db = _state.config = None
    _state.app = None
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit():  # the width asked for now, not the one at import (one process may run many commands)
        out.width = err.width = int(columns)
    try:
        cli(args=argv, prog_name="duban")  # standalone: usage errors exit 2 through SystemExit
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except Refused as exc:
        for line in exc.problems:
            err.print(line, markup=False, soft_wrap=True)
        return 1
    except (ConfigError, DatabaseError, WordingError) as exc:
        err.print(str(exc), markup=False, soft_wrap=True)
        return 1
    except RulesError as exc:
        err.print(f"规则引擎未能得出确定结论，本日未记录任何结果：{exc}", markup=False, soft_wrap=True)
        return 1
    except KeyboardInterrupt:
        err.print("已中断")
        return 130
    except Exception as exc:  # the last line of defence: one line, the trace only on request
        if os.environ.get("DUBAN_DEBUG"):
            raise
        err.print(
            f"内部错误：{type(exc).__name__}: {_first_line(exc)}（设置 DUBAN_DEBUG=1 查看详细信息）",
            markup=False,
            soft_wrap=True,
        )
        return 1
    finally:
        if _state.app is not None and "engine" in vars(_state.app):
            _state.app.engine.dispose()
    return 0


def _first_line(exc: BaseException, limit: int = 300) -> str:
    """An error's first line, cut short: a database error carries its whole statement and parameters."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return text if len(text) <= limit else f"{text[:limit]}…"


def main() -> None:
    """Entry point of the `duban` command."""
    sys.exit(run(sys.argv[1:]))


if __name__ == "__main__":
    main()
