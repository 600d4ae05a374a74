"""What each template receives: one frozen dataclass per document kind, and the records they hold.

Offices override the templates (README, ``templates_dir``), so what a template may use is a promise:
every field carries a one-line description in ``field(metadata={"doc": ...})``, from which
``engine/paperwork/reference.py`` writes docs/TEMPLATES.md (and a test fails when one is missing).
A template sees the fields of its kind's context as top-level names (``template_fields``); records
are read by attribute (``strike.level``) or by key (``strike["level"]``): Jinja reads both.

Values are plain (never ORM objects), and no phone number or e-mail address is ever one of them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, fields
from typing import Any

from config.vocabulary import Action, AgendaItem, Kind

# ------------------------------------------------------------------------------------ shared records


@dataclass(frozen=True, slots=True)
class Meta:
    """The header every document carries (built once, by ``contexts.meta``); Word lays out its 版头 from it."""

    title: str = field(metadata={"doc": "the document's title (its heading, and the Word file's title)"})
    issuer: str = field(metadata={"doc": "the issuing bureau (settings `issuer`), printed above a numbered document"})
    doc_number: str | None = field(metadata={"doc": "the document number (文号), None when it carries none"})
    recipient: str | None = field(metadata={"doc": "to whom it is addressed (主送), None when addressed to nobody"})
    signature: str = field(metadata={"doc": "who signs it (settings `office`)"})
    date: dt.date = field(metadata={"doc": "the document's date"})
    draft: bool = field(metadata={"doc": "whether it is a draft awaiting the party-group meeting"})
    evaluated_through: dt.date | None = field(
        metadata={"doc": "the last evaluated day the document reads (None when it does not say)"}
    )


@dataclass(frozen=True, slots=True)
class PersonRef:
    """A responsible person as documents name them (never how to reach them)."""

    person_id: str = field(metadata={"doc": "the person's id in the ledger"})
    name: str = field(metadata={"doc": "the person's name"})
    unit: str = field(metadata={"doc": "the person's unit ('' when not filled in)"})


@dataclass(frozen=True, slots=True)
class StrikeView:
    """A strike as documents print it: its decision, its sanction and the words for its values."""

    id: int | None = field(metadata={"doc": "the strike's number (问责记录 #id)"})
    level: int | None = field(metadata={"doc": "its count on the ladder (第几次), None when it does not count"})
    action: Action | None = field(metadata={"doc": "the ladder's action at that level, None when it does not count"})
    action_cn: str = field(metadata={"doc": "the action in words ('' when none)"})
    status: str = field(metadata={"doc": "counted, exempted or revoked, as the document states it"})
    status_cn: str = field(metadata={"doc": "the status in words"})
    decision: str | None = field(metadata={"doc": "proposed or confirmed, as the document states it"})
    decision_cn: str = field(metadata={"doc": "the decision in words ('' when none)"})
    planned_date: dt.date = field(metadata={"doc": "the missed node's planned date"})
    detected_on: dt.date = field(metadata={"doc": "the day the miss was found"})
    meeting_date: dt.date | None = field(metadata={"doc": "the meeting that confirmed it, None when not confirmed"})
    title: str = field(metadata={"doc": "the ladder's title of its level ('' when it does not count)"})
    counted_before: int | None = field(metadata={"doc": "how many counted strikes its level rests on"})
    agenda: list[AgendaItem] = field(metadata={"doc": "what it puts on the party-group meeting's agenda"})
    decided: bool = field(metadata={"doc": "whether the meeting decided its sanction"})
    awaiting: dt.date | None = field(metadata={"doc": "the meeting its proposed sanction awaits (None: decided)"})
    sanction: str = field(metadata={"doc": "the sanction in words, decided or proposed ('' when none)"})
    sanction_short: str = field(metadata={"doc": "the sanction in a few words ('' when none)"})


@dataclass(frozen=True, slots=True)
class StrikeNode:
    """A node a strike is about: the missed node of a project."""

    project_code: str = field(metadata={"doc": "the project's code"})
    node_code: str = field(metadata={"doc": "the node's code"})
    name: str = field(metadata={"doc": "the node's name (also `node_name`)"})
    planned_date: dt.date = field(metadata={"doc": "the planned date that was missed"})
    revoked: bool = field(metadata={"doc": "whether this miss was revoked (it was not a miss)"})
    project_name: str = field(metadata={"doc": "the project's name"})
    node_name: str = field(metadata={"doc": "the node's name"})
    completed_on: dt.date | None = field(metadata={"doc": "the day the node was completed, None when not yet"})


@dataclass(frozen=True, slots=True)
class WorkOrder:
    """A 12345 work order (mayor's hotline) as documents print it (no caller's name or phone)."""

    order_no: str = field(metadata={"doc": "the work order's number"})
    received_on: dt.date = field(metadata={"doc": "the day it was received"})
    due_on: dt.date = field(metadata={"doc": "its deadline (办理时限)"})
    closed_on: dt.date | None = field(metadata={"doc": "the day it was closed, None when open"})
    content: str = field(metadata={"doc": "what the caller asked (诉求内容)"})
    place: str = field(metadata={"doc": "the place it names ('' when none)"})
    satisfaction: str = field(metadata={"doc": "the caller's satisfaction ('' when not known)"})
    overdue_days: int = field(metadata={"doc": "how many days past its deadline on the document's day (0: not)"})
    closed_late: bool = field(metadata={"doc": "whether it was closed after its deadline"})


@dataclass(frozen=True, slots=True)
class ProjectWorkOrder(WorkOrder):
    """A 12345 work order with the project it was linked to."""

    project_code: str = field(metadata={"doc": "the linked project's code ('' when not linked)"})
    project_name: str = field(metadata={"doc": "the linked project's name ('' when not linked)"})


@dataclass(frozen=True, slots=True)
class ComplaintCounts:
    """How many 12345 work orders, over the document's days."""

    received: int = field(metadata={"doc": "received in the days"})
    closed: int = field(metadata={"doc": "closed in the days"})
    closed_late: int = field(metadata={"doc": "of those closed, closed after their deadline"})
    overdue: int = field(metadata={"doc": "overdue and open on the last day"})
    unmatched: int = field(metadata={"doc": "of those received, not linked to a project"})


@dataclass(frozen=True, slots=True)
class Complaints:
    """The 12345 work orders of some days: received, closed, and overdue on the last day."""

    received: list[ProjectWorkOrder] = field(metadata={"doc": "the work orders received in the days"})
    overdue: list[ProjectWorkOrder] = field(metadata={"doc": "overdue on the last day, most overdue first"})
    counts: ComplaintCounts = field(metadata={"doc": "the counts"})


@dataclass(frozen=True, slots=True)
class RedNode:
    """An overdue, uncompleted node of a red project."""

    node_code: str = field(metadata={"doc": "the node's code"})
    node_name: str = field(metadata={"doc": "the node's name"})
    planned_date: dt.date = field(metadata={"doc": "its planned date"})
    days_overdue: int = field(metadata={"doc": "days past the end of its deadline"})


@dataclass(frozen=True, slots=True)
class RedProject:
    """A red project and why: its overdue nodes and its overdue 12345 work orders."""

    project_code: str = field(metadata={"doc": "the project's code"})
    project_name: str = field(metadata={"doc": "the project's name"})
    district: str = field(metadata={"doc": "its district ('' when not filled in)"})
    nodes: list[RedNode] = field(metadata={"doc": "its overdue, uncompleted nodes"})
    complaints: list[WorkOrder] = field(metadata={"doc": "its overdue, open 12345 work orders"})


@dataclass(frozen=True, slots=True)
class WeekFigures:
    """Progress as of a day, and over the week ending that day."""

    as_of: dt.date = field(metadata={"doc": "the day the figures read"})
    projects: int = field(metadata={"doc": "projects on the ledger (not cancelled)"})
    started: int = field(metadata={"doc": "projects with a completed node (开工)"})
    completed: int = field(metadata={"doc": "projects with every node completed (完工)"})
    start_rate: float = field(metadata={"doc": "started over projects (开工率)"})
    completion_rate: float = field(metadata={"doc": "completed over projects (完工率)"})
    due_in_week: int = field(metadata={"doc": "nodes planned in the week"})
    done_in_week: int = field(metadata={"doc": "of those, completed"})
    overdue_open: int = field(metadata={"doc": "overdue nodes not completed"})


@dataclass(frozen=True, slots=True)
class DocumentContext:
    """What every document's template receives."""

    kind: str = field(metadata={"doc": "the document kind (the template's name without its suffix)"})
    meta: Meta = field(metadata={"doc": "the header: title, issuer, number, recipient, signature, date"})


# ------------------------------------------------------------------------------------ notices


@dataclass(frozen=True, slots=True)
class BasisNode(StrikeNode):
    """A node of an earlier strike a decision cites."""

    label: str = field(metadata={"doc": "the node in one phrase: project code, project name and “node name”"})


@dataclass(frozen=True, slots=True)
class BasisStrike:
    """An earlier counted strike a level rests on (a suspension or dismissal cites it by number and date)."""

    id: int = field(metadata={"doc": "its number"})
    detected_on: dt.date = field(metadata={"doc": "the day it was found"})
    planned_date: dt.date = field(metadata={"doc": "its missed planned date"})
    nodes: list[BasisNode] = field(metadata={"doc": "its nodes (not revoked)"})


@dataclass(frozen=True, slots=True)
class LevelMove:
    """A later strike whose level a correction moved."""

    id: int = field(metadata={"doc": "the strike's number"})
    old_level: int = field(metadata={"doc": "its level before"})
    new_level: int = field(metadata={"doc": "its level after"})


@dataclass(frozen=True, slots=True)
class Correction:
    """What a correction notice states: the event and how the person's level moved."""

    cause: str | None = field(metadata={"doc": "exempted, revoked or policy"})
    cause_cn: str = field(metadata={"doc": "the cause in words"})
    reason: str | None = field(metadata={"doc": "the reason recorded with it"})
    meeting: dt.date | None = field(metadata={"doc": "the meeting that decided it, None when none did"})
    old_level: int | None = field(metadata={"doc": "the person's level before"})
    new_level: int | None = field(metadata={"doc": "the person's level after"})
    status_moved: bool = field(metadata={"doc": "whether the person's level or status moved"})
    old_status_cn: str = field(metadata={"doc": "the person's status before, in words ('' when it did not move)"})
    new_status_cn: str = field(metadata={"doc": "the person's status after, in words ('' when it did not move)"})
    moved: list[LevelMove] = field(metadata={"doc": "the person's later strikes whose level moved"})


@dataclass(frozen=True, slots=True)
class NoticePolicy:
    """The facts of the policy a notice prints."""

    grace_days: int = field(metadata={"doc": "the days of grace after a planned date"})


@dataclass(frozen=True, slots=True)
class NoticeContext(DocumentContext):
    """A notice or decision to a person: review, suspension, dismissal or correction."""

    person: PersonRef | None = field(metadata={"doc": "to whom (None: a project with nobody responsible)"})
    strike: StrikeView | None = field(
        metadata={"doc": "the strike as decided when the notice was issued (a draft: as proposed)"}
    )
    nodes: list[StrikeNode] = field(metadata={"doc": "the strike's nodes"})
    explanation: list[str] = field(metadata={"doc": "the facts and rules behind the decision, one line each"})
    basis: list[BasisStrike] = field(metadata={"doc": "the earlier strikes the level rests on"})
    meeting: dt.date | None = field(
        metadata={"doc": "the next party-group meeting on or after the notice's date (None: not known)"}
    )
    payload: dict[str, Any] = field(metadata={"doc": "the notice's stored payload, as recorded"})
    policy: NoticePolicy = field(metadata={"doc": "the facts of the policy it prints"})
    correction: Correction | None = field(
        default=None, metadata={"doc": "a correction notice's correction (else None)"}
    )


# ------------------------------------------------------------------------------------- agenda


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a meeting decided about a strike on its agenda."""

    kind: str = field(metadata={"doc": "confirmed, exempted or exemption_rejected"})
    text: str = field(metadata={"doc": "the decision's text ('' when none)"})
    actor: str = field(metadata={"doc": "who recorded it"})
    recorded_at: dt.datetime = field(metadata={"doc": "when it was recorded"})


@dataclass(frozen=True, slots=True)
class AgendaEntry:
    """A strike awaiting the meeting's decision."""

    strike: StrikeView = field(metadata={"doc": "the strike as proposed at the meeting"})
    person: PersonRef | None = field(metadata={"doc": "its person (None: nobody responsible)"})
    nodes: list[StrikeNode] = field(metadata={"doc": "its nodes"})
    new: bool = field(metadata={"doc": "whether it was found since the previous meeting"})
    outcome: Outcome | None = field(metadata={"doc": "what this meeting decided about it (None: nothing yet)"})


@dataclass(frozen=True, slots=True)
class ExemptionRequest:
    """An exemption request put to the meeting."""

    strike: StrikeView = field(metadata={"doc": "the strike as proposed at the meeting"})
    person: PersonRef | None = field(metadata={"doc": "its person (None: nobody responsible)"})
    reason: str = field(metadata={"doc": "the reason given with the request"})
    nodes: list[StrikeNode] = field(metadata={"doc": "its nodes"})
    outcome: Outcome | None = field(metadata={"doc": "what this meeting decided about it (None: nothing yet)"})


@dataclass(frozen=True, slots=True)
class NeedsPerson:
    """An active project that needs a responsible person named."""

    project_code: str = field(metadata={"doc": "the project's code"})
    project_name: str = field(metadata={"doc": "the project's name"})
    reason: str = field(metadata={"doc": "why: nobody responsible, or the holder was removed from the post"})


@dataclass(frozen=True, slots=True)
class DistrictCount:
    """One district's line of the whole-country agenda's summary."""

    district: str = field(metadata={"doc": "the district ('（未填）' when not filled in)"})
    red: int = field(metadata={"doc": "its red projects"})
    needs_person: int = field(metadata={"doc": "its projects needing a responsible person"})


@dataclass(frozen=True, slots=True)
class AgendaContext(DocumentContext):
    """The party-group meeting's agenda, as it stood at its meeting."""

    meeting: dt.date = field(metadata={"doc": "the meeting's date"})
    previous: dt.date | None = field(metadata={"doc": "the previous scheduled meeting (None: this is the first)"})
    scheduled: bool = field(metadata={"doc": "whether the date is on the meeting schedule"})
    as_of: dt.date = field(metadata={"doc": "the day the red list and the figures read"})
    reviews: list[AgendaEntry] = field(metadata={"doc": "first strikes: the person presents a self-review"})
    decisions: list[AgendaEntry] = field(metadata={"doc": "suspensions and dismissals to confirm"})
    unassigned: list[AgendaEntry] = field(metadata={"doc": "strikes of projects with nobody responsible"})
    exemption_requests: list[ExemptionRequest] = field(metadata={"doc": "the exemption requests put to it"})
    needs_person: list[NeedsPerson] = field(
        metadata={"doc": "projects needing a person (the first ones on a whole-country agenda: `agenda_list_limit`)"}
    )
    needs_person_total: int = field(metadata={"doc": "how many projects need a person in all"})
    red_projects: list[RedProject] = field(
        metadata={"doc": "the red projects (the first ones on a whole-country agenda)"}
    )
    red_projects_total: int = field(metadata={"doc": "how many red projects in all"})
    by_district: list[DistrictCount] = field(metadata={"doc": "red projects and projects needing a person by district"})
    figures: WeekFigures = field(metadata={"doc": "the week's figures"})
    district: str | None = field(metadata={"doc": "the district of a district edition (None: the whole country)"})


# ------------------------------------------------------------------------------------ decisions


@dataclass(frozen=True, slots=True)
class DecisionItem:
    """One of the meeting's decisions, read from the record."""

    strike_id: int = field(metadata={"doc": "the strike's number"})
    person: PersonRef | None = field(metadata={"doc": "its person (None: nobody responsible)"})
    nodes: list[StrikeNode] = field(metadata={"doc": "its nodes"})
    level: int | None = field(metadata={"doc": "its level as recorded when decided"})
    action_cn: str = field(metadata={"doc": "the action at that level, in words ('' when none)"})
    title: str = field(metadata={"doc": "the ladder's title of that level ('' when none)"})
    text: str = field(metadata={"doc": "the decision's text ('' when none)"})
    actor: str = field(metadata={"doc": "who recorded it"})
    recorded_at: str = field(metadata={"doc": "when it was recorded (YYYY-MM-DD HH:MM, local time)"})
    planned_date: dt.date = field(metadata={"doc": "the strike's missed planned date"})
    detected_on: dt.date = field(metadata={"doc": "the day the strike was found"})


@dataclass(frozen=True, slots=True)
class DecisionsContext(DocumentContext):
    """The meeting's 决定事项: every confirmation, exemption and request turned down."""

    meeting: dt.date = field(metadata={"doc": "the meeting's date"})
    confirmed: list[DecisionItem] = field(metadata={"doc": "the strikes it confirmed"})
    exempted: list[DecisionItem] = field(metadata={"doc": "the strikes it exempted"})
    rejected: list[DecisionItem] = field(metadata={"doc": "the exemption requests it turned down"})
    total: int = field(metadata={"doc": "how many decisions in all"})
    district: str | None = field(metadata={"doc": "the district of a district edition (None: the whole country)"})


# ------------------------------------------------------------------------------------ daily report


@dataclass(frozen=True, slots=True)
class DueNode:
    """A node planned for the day."""

    project_code: str = field(metadata={"doc": "the project's code"})
    project_name: str = field(metadata={"doc": "the project's name"})
    node_code: str = field(metadata={"doc": "the node's code"})
    node_name: str = field(metadata={"doc": "the node's name"})
    done: bool = field(metadata={"doc": "whether it was completed by the day"})


@dataclass(frozen=True, slots=True)
class MissedNode:
    """A node found overdue on the day."""

    project_code: str = field(metadata={"doc": "the project's code"})
    project_name: str = field(metadata={"doc": "the project's name"})
    node_code: str = field(metadata={"doc": "the node's code"})
    node_name: str = field(metadata={"doc": "the node's name"})
    planned_date: dt.date = field(metadata={"doc": "its planned date"})


@dataclass(frozen=True, slots=True)
class DoneNode(MissedNode):
    """A node completed on the day."""

    late: bool = field(metadata={"doc": "whether it was completed after its planned date"})


@dataclass(frozen=True, slots=True)
class DailyStrike:
    """A strike found on the day."""

    strike: StrikeView = field(metadata={"doc": "the strike"})
    person: PersonRef | None = field(metadata={"doc": "its person (None: nobody responsible)"})
    nodes: list[StrikeNode] = field(metadata={"doc": "its nodes"})


@dataclass(frozen=True, slots=True)
class LightProject:
    """A project under a traffic light."""

    project_code: str = field(metadata={"doc": "the project's code"})
    project_name: str = field(metadata={"doc": "the project's name"})
    district: str = field(metadata={"doc": "its district ('' when not filled in)"})


@dataclass(frozen=True, slots=True)
class DueItem:
    """A node that falls due soon, as a warning (预警) names it."""

    project_code: str = field(metadata={"doc": "the project's code"})
    project_name: str = field(metadata={"doc": "the project's name"})
    district: str = field(metadata={"doc": "its district ('' when not filled in)"})
    node_code: str = field(metadata={"doc": "the node's code"})
    node_name: str = field(metadata={"doc": "the node's name"})
    planned_date: dt.date = field(metadata={"doc": "its planned date"})
    days_left: int = field(metadata={"doc": "days from the warning's day to the planned date (0: due that day)"})
    person: PersonRef | None = field(metadata={"doc": "who is responsible on the warning's day (None: nobody)"})


@dataclass(frozen=True, slots=True)
class PendingReport:
    """A report from the site (or a district's completion) waiting for the office's review (审核)."""

    id: int = field(metadata={"doc": "the report's number (报告 #id)"})
    kind: str = field(metadata={"doc": "completion or extension"})
    kind_cn: str = field(metadata={"doc": "the kind in words: 报完成 or 申请延期"})
    project_code: str = field(metadata={"doc": "the project's code"})
    project_name: str = field(metadata={"doc": "the project's name"})
    district: str = field(metadata={"doc": "its district ('' when not filled in)"})
    node_code: str = field(metadata={"doc": "the node's code"})
    node_name: str = field(metadata={"doc": "the node's name"})
    planned_date: dt.date = field(metadata={"doc": "the node's planned date when it was reported"})
    completed_on: dt.date | None = field(metadata={"doc": "a completion: the day reported (None otherwise)"})
    requested_date: dt.date | None = field(
        metadata={"doc": "an extension: the planned date asked for (None otherwise)"}
    )
    reported_on: dt.date = field(metadata={"doc": "the day it was reported (in the configured time zone)"})
    reporter: str = field(metadata={"doc": "who reported it: the person's name and id, or the district account"})
    photos: int = field(metadata={"doc": "how many photos came with it"})
    revokes: list[int] = field(
        metadata={"doc": "the strikes approving it would revoke (问责 #id; empty when none or not known)"}
    )


@dataclass(frozen=True, slots=True)
class DailyContext(DocumentContext):
    """The daily check report (每日检点) of an evaluated day."""

    day: dt.date = field(metadata={"doc": "the day"})
    evaluated: bool = field(metadata={"doc": "always true: a day not evaluated is refused"})
    due: list[DueNode] = field(metadata={"doc": "the nodes planned for the day"})
    done: list[DoneNode] = field(metadata={"doc": "the nodes completed on the day"})
    newly_overdue: list[MissedNode] = field(metadata={"doc": "the nodes found overdue on the day"})
    strikes: list[DailyStrike] = field(metadata={"doc": "the strikes found on the day"})
    lights: dict[str, list[LightProject]] = field(
        metadata={"doc": "projects by light: keys red, pending (待评估), yellow, green"}
    )
    counts: dict[str, int] = field(metadata={"doc": "how many projects under each light (the keys of `lights`)"})
    district: str | None = field(metadata={"doc": "the district of a district edition (None: the whole country)"})
    complaints: Complaints = field(metadata={"doc": "the day's 12345 work orders"})
    reminders: list[DueItem] = field(
        default_factory=list,
        metadata={"doc": "the warnings (预警) sent on the day, one per node (the section is left out when none)"},
    )
    pending_reports: list[PendingReport] = field(
        default_factory=list,
        metadata={
            "doc": "the reports waiting for review (审核) at the end of the day, oldest first "
            "(the section is left out when none)"
        },
    )


# ------------------------------------------------------------------------------------ weekly bulletin


@dataclass(frozen=True, slots=True)
class Batch:
    """A batch of projects (批次) and its completion."""

    batch: str = field(metadata={"doc": "the batch ('（未填）' when not filled in)"})
    projects: int = field(metadata={"doc": "its projects"})
    completed: int = field(metadata={"doc": "of those, completed (every node done)"})
    deadline: dt.date | None = field(metadata={"doc": "its target date: the end of its month (None: not a month)"})
    rate: float = field(metadata={"doc": "completed over projects"})
    due: bool = field(metadata={"doc": "whether its target date has passed"})


@dataclass(frozen=True, slots=True)
class RankingRow:
    """A district, contractor or responsible person ranked by nodes done on time."""

    name: str = field(metadata={"doc": "the district, contractor or person (name and id)"})
    projects: int = field(metadata={"doc": "projects"})
    started: int = field(metadata={"doc": "projects started (开工)"})
    completed_projects: int = field(metadata={"doc": "projects completed (完工)"})
    nodes: int = field(metadata={"doc": "nodes"})
    due: int = field(metadata={"doc": "nodes due (their deadline passed)"})
    on_time: int = field(metadata={"doc": "of those, completed on time"})
    overdue: int = field(metadata={"doc": "of those, overdue and not completed"})
    households: int = field(metadata={"doc": "households of its projects"})
    started_households: int = field(metadata={"doc": "households of its started projects"})
    completed_households: int = field(metadata={"doc": "households of its completed projects"})
    complaints_overdue: int = field(metadata={"doc": "overdue 12345 work orders of its projects"})
    on_time_rate: float = field(metadata={"doc": "on time over due (1.0 when none due)"})
    start_rate: float = field(metadata={"doc": "started over projects"})
    completion_rate: float = field(metadata={"doc": "completed over projects"})
    rank: int = field(metadata={"doc": "its place, fastest first"})


@dataclass(frozen=True, slots=True)
class WeekDecision:
    """What a meeting of the week decided about a strike."""

    strike_id: int = field(metadata={"doc": "the strike's number"})
    kind: str = field(metadata={"doc": "confirmed or exempted"})
    meeting: dt.date | None = field(metadata={"doc": "the meeting that decided it"})
    person: PersonRef | None = field(metadata={"doc": "its person (None: nobody responsible)"})
    nodes: list[StrikeNode] = field(metadata={"doc": "its nodes"})
    level: int | None = field(metadata={"doc": "its level (confirmed: the new one; exempted: the one it had)"})
    action_cn: str = field(metadata={"doc": "the action at that level, in words ('' when none)"})
    reason: str = field(metadata={"doc": "the decision's text ('' when none)"})


@dataclass(frozen=True, slots=True)
class Referral:
    """A strike found in the week and put to the meeting (「提请党组会研究」)."""

    strike_id: int = field(metadata={"doc": "the strike's number"})
    person: PersonRef | None = field(metadata={"doc": "its person (None: nobody responsible)"})
    nodes: list[StrikeNode] = field(metadata={"doc": "its nodes"})


@dataclass(frozen=True, slots=True)
class ReviewCount:
    """One district's reports from the site decided in the week (审核)."""

    district: str = field(metadata={"doc": "the district ('（未填）' when not filled in)"})
    approved: int = field(metadata={"doc": "reports approved (recorded)"})
    rejected: int = field(metadata={"doc": "reports rejected (sent back with a reason)"})


@dataclass(frozen=True, slots=True)
class WeeklyContext(DocumentContext):
    """The weekly bulletin (每周通报), addressed to the responsible persons and the contractors."""

    issue: int = field(metadata={"doc": "its issue (第几期), counted from the first evaluated week"})
    monday: dt.date = field(metadata={"doc": "the week's Monday"})
    sunday: dt.date = field(metadata={"doc": "the week's Sunday"})
    as_of: dt.date = field(metadata={"doc": "the day it reads: the Sunday, or the last evaluated day"})
    whole_week: bool = field(metadata={"doc": "whether it reads the whole week"})
    figures: WeekFigures = field(metadata={"doc": "the week's figures"})
    batches: list[Batch] = field(metadata={"doc": "the batches, by name"})
    districts: list[RankingRow] = field(metadata={"doc": "the districts, ranked"})
    contractors: list[RankingRow] = field(metadata={"doc": "the contractors, ranked"})
    persons_ranked: list[RankingRow] = field(
        metadata={"doc": "the persons with nodes due, ranked, when few (else empty)"}
    )
    persons_fast: list[RankingRow] = field(metadata={"doc": "when many: the fastest persons (else empty)"})
    persons_slow: list[RankingRow] = field(
        metadata={"doc": "when many: the slowest persons, slowest first (else empty)"}
    )
    red_projects: list[RedProject] = field(metadata={"doc": "the red projects as of `as_of`"})
    complaints: Complaints = field(metadata={"doc": "the week's 12345 work orders"})
    district: str | None = field(metadata={"doc": "the district of a district edition (None: the whole country)"})
    decided: list[WeekDecision] = field(metadata={"doc": "what the week's meetings decided"})
    referred: list[Referral] = field(metadata={"doc": "the week's strikes put to the meeting"})
    chart: str | None = field(
        metadata={
            "doc": "the chart's file, beside the document (its full path when the "
            "bulletin is printed, not written; None: no chart drawn)"
        }
    )
    reviews: list[ReviewCount] = field(
        default_factory=list,
        metadata={
            "doc": "per district, the reports approved and rejected from Monday to `as_of` (by the decision's "
            "day in the configured time zone; the section is left out when none)"
        },
    )


# ------------------------------------------------------------------------------------ messages


@dataclass(frozen=True, slots=True)
class MessageContext:
    """What every message's template receives (a message is sent, not filed: no header, no number)."""

    kind: str = field(metadata={"doc": "the message's name (its template's name without `.md.j2`)"})
    day: dt.date = field(metadata={"doc": "the day it is sent for"})
    office: str = field(metadata={"doc": "who sends it (settings `office`)"})


@dataclass(frozen=True, slots=True)
class ReminderContext(MessageContext):
    """A warning (预警) to a responsible person: one of their nodes falls due soon."""

    person: PersonRef = field(metadata={"doc": "to whom"})
    item: DueItem = field(metadata={"doc": "the node that falls due"})
    link: str | None = field(
        metadata={
            "doc": "the person's personal link to their phone page (issued by the run, one per person); None on a "
            "channel that may reach others than the person (file drop, group robot) and while the office has "
            "withdrawn the person's links"
        }
    )
    link_expires: dt.date | None = field(metadata={"doc": "the last day the link opens the phone page (None: no link)"})


@dataclass(frozen=True, slots=True)
class ReminderDigestContext(MessageContext):
    """The office's daily digest of the warnings: every node warned of that day, with its person."""

    items: list[DueItem] = field(metadata={"doc": "the nodes warned of, soonest due first"})
    persons: int = field(metadata={"doc": "how many persons were warned"})
    unassigned: int = field(metadata={"doc": "how many of the nodes have nobody responsible (not warned personally)"})
    supplement: bool = field(
        metadata={"doc": "whether it adds to a digest already sent that day (nodes warned of by a later run)"}
    )


#: Each message's context, by the message's name (its template is ``<name>.md.j2``; the first line is its subject).
MESSAGES: dict[str, type[MessageContext]] = {
    "reminder": ReminderContext,
    "reminder_digest": ReminderDigestContext,
}


#: Each kind's context (the notices and decisions to a person share one).
CONTEXTS: dict[Kind, type[DocumentContext]] = {
    Kind.REVIEW_NOTICE: NoticeContext,
    Kind.SUSPENSION_DECISION: NoticeContext,
    Kind.DISMISSAL_DECISION: NoticeContext,
    Kind.CORRECTION_NOTICE: NoticeContext,
    Kind.MEETING_AGENDA: AgendaContext,
    Kind.MEETING_DECISIONS: DecisionsContext,
    Kind.DAILY_REPORT: DailyContext,
    Kind.WEEKLY_BULLETIN: WeeklyContext,
}


#: The names every template sees besides its context's fields: the one its callers add, and Jinja's globals.
RENDERER_NAMES: dict[str, str] = {
    "for_docx": "true while the Markdown is rendered for a Word file (Word lays out the header and the signature "
    "itself), else false",
    "namespace": "Jinja's `namespace()`, for a value changed inside a loop (the agenda numbers its sections with it)",
    "range": "Jinja's `range()`",
    "dict": "Jinja's `dict()`",
    "cycler": "Jinja's `cycler()`",
    "joiner": "Jinja's `joiner()`",
    "lipsum": "Jinja's `lipsum()`",
}


def template_fields(context: DocumentContext | MessageContext) -> dict[str, Any]:
    """Return the top-level names a template sees: the context's fields, shallow (records stay as they are)."""
    return {f.name: getattr(context, f.name) for f in fields(context)}
