"""The data model: what happened, append-only where it is history.

Truth is what was recorded (plans, completions, assignments, misses, decisions); levels and
statuses are derived from the counted strikes (``Strike.level`` is a cache the engine
rewrites whenever it re-derives a person, never an input).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Index, LargeBinary, MetaData, Table, UniqueConstraint
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

from config.vocabulary import DeadlineStatus, OutboxStatus, ProjectStatus, StrikeStatus

# Stable constraint names so Alembic batch migrations work on SQLite.
SQLModel.metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

#: effective_from of an assignment that holds "from the start" (the first import).
FROM_THE_START = dt.date(1900, 1, 1)


class AwareDateTime(TypeDecorator[dt.datetime]):
    """Store UTC, return aware datetimes on every backend (SQLite returns naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: times must be timezone-aware")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _ts(nullable: bool = False) -> Any:
    return Field(sa_column=Column(AwareDateTime(), nullable=nullable))


def _json() -> Any:
    return Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class Person(SQLModel, table=True):
    """A person who can be responsible for projects."""

    id: int | None = Field(default=None, primary_key=True)
    person_id: str = Field(index=True, unique=True, max_length=64)
    name: str = Field(max_length=200)
    unit: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=64)
    email: str | None = Field(default=None, max_length=200)
    #: The person's user id in the bureau's WeCom / DingTalk (企业微信账号 / 钉钉账号; since revision 0014):
    #: application messages and work notifications go to it.
    wecom_id: str | None = Field(default=None, max_length=64)
    dingtalk_id: str | None = Field(default=None, max_length=64)
    extra: dict[str, Any] = _json()


class Project(SQLModel, table=True):
    """One community's renovation."""

    # A district's agenda, report and board read its own projects through this index.
    __table_args__ = (Index("ix_project_district", "district"),)

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(index=True, unique=True, max_length=64)
    name: str = Field(max_length=200)
    district: str | None = Field(default=None, max_length=100)
    phase: str | None = Field(default=None, max_length=100)
    batch: str | None = Field(default=None, max_length=32)
    status: str = Field(default=ProjectStatus.ACTIVE, max_length=16)
    contractor: str | None = Field(default=None, max_length=200)
    households: int | None = None
    extra: dict[str, Any] = _json()


class Node(SQLModel, table=True):
    """A planned milestone; planned_date and completed_on are the current values."""

    __table_args__ = (
        UniqueConstraint("project_id", "code"),
        # The nodes not done by a day (completed_on NULL or later) as one index-only range: traffic
        # lights and progress figures read only these, whatever the size of the ledger.
        Index("ix_node_completion", "completed_on", "planned_date", "project_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    # No index of its own: the unique (project_id, code) index serves lookups by project.
    project_id: int = Field(foreign_key="project.id")
    code: str = Field(max_length=64)
    name: str = Field(max_length=200)
    planned_date: dt.date = Field(index=True)
    completed_on: dt.date | None = None
    extra: dict[str, Any] = _json()


class NodeHistory(SQLModel, table=True):
    """Append-only history of a node: its plans, extensions and completions."""

    __tablename__ = "node_history"

    id: int | None = Field(default=None, primary_key=True)
    node_id: int = Field(foreign_key="node.id", index=True)
    kind: str = Field(max_length=16)  # HistoryKind
    planned_date: dt.date | None = None
    previous_planned_date: dt.date | None = None
    completed_on: dt.date | None = None
    previous_completed_on: dt.date | None = None
    reason: str | None = None
    source: str = Field(max_length=32)
    actor: str = Field(max_length=100)
    recorded_at: dt.datetime = _ts()


class Assignment(SQLModel, table=True):
    """A person made responsible for a project from a date (append-only)."""

    __table_args__ = (Index("ix_assignment_project_from", "project_id", "effective_from"),)

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id")
    person_pk: int = Field(foreign_key="person.id", index=True)
    effective_from: dt.date
    reason: str | None = None
    source: str = Field(max_length=32)
    actor: str = Field(max_length=100)
    recorded_at: dt.datetime = _ts()


class Deadline(SQLModel, table=True):
    """One planned date of one node: each is its own deadline, met or missed once."""

    __table_args__ = (
        UniqueConstraint("node_id", "planned_date"),
        Index("ix_deadline_status_planned", "status", "planned_date"),
    )

    id: int | None = Field(default=None, primary_key=True)
    node_id: int = Field(foreign_key="node.id")
    planned_date: dt.date
    status: str = Field(default=DeadlineStatus.OPEN, max_length=16)
    closed_on: dt.date | None = None


class Strike(SQLModel, table=True):
    """One counted failure of a person (or of a project with nobody responsible)."""

    __table_args__ = (
        Index("ix_strike_person_status", "person_pk", "status"),
        Index("ix_strike_detected", "detected_on"),
        Index("ix_strike_project", "project_id"),  # a district's strikes, a project's strikes
    )

    id: int | None = Field(default=None, primary_key=True)
    person_pk: int | None = Field(default=None, foreign_key="person.id")
    project_id: int = Field(foreign_key="project.id")
    planned_date: dt.date
    detected_on: dt.date
    first_project_code: str = Field(max_length=64)
    first_node_code: str = Field(max_length=64)
    status: str = Field(default=StrikeStatus.COUNTED, max_length=16)
    level: int | None = None
    action: str | None = Field(default=None, max_length=16)
    decision: str | None = Field(default=None, max_length=16)
    meeting_date: dt.date | None = None
    decision_text: str | None = None
    rule: str = Field(max_length=64)  # the GroupingRule that opened it (also in its trace)
    #: Before revision 0008, the free-form reasons and agenda items; sealed, so kept as recorded.
    #: Since then empty: the decision trace (decision_trace) holds the typed reasons.
    explanation: dict[str, Any] = _json()
    agenda: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: dt.datetime = _ts()


class Miss(SQLModel, table=True):
    """A detected miss of one deadline; belongs to exactly one strike."""

    id: int | None = Field(default=None, primary_key=True)
    deadline_id: int = Field(foreign_key="deadline.id", unique=True)
    node_id: int = Field(foreign_key="node.id", index=True)
    strike_id: int = Field(foreign_key="strike.id", index=True)
    person_pk: int | None = Field(default=None, foreign_key="person.id")
    planned_date: dt.date
    detected_on: dt.date
    revoked_on: dt.date | None = None
    revoked_reason: str | None = None


class StrikeEvent(SQLModel, table=True):
    """Append-only record of everything that happened to a strike, with who and when."""

    __tablename__ = "strike_event"

    id: int | None = Field(default=None, primary_key=True)
    strike_id: int = Field(foreign_key="strike.id", index=True)
    kind: str = Field(max_length=24)  # EventKind
    meeting_date: dt.date | None = None
    text: str | None = None
    old_level: int | None = None
    new_level: int | None = None
    actor: str = Field(max_length=100)
    recorded_at: dt.datetime = _ts()


class StatusChange(SQLModel, table=True):
    """A change of a person's highest level or status: the ground for a correction notice."""

    __tablename__ = "status_change"

    id: int | None = Field(default=None, primary_key=True)
    person_pk: int = Field(foreign_key="person.id", index=True)
    old_level: int | None = None
    new_level: int | None = None
    old_status: str = Field(max_length=16)
    new_status: str = Field(max_length=16)
    cause: str = Field(max_length=32)  # StatusCause
    strike_id: int | None = Field(default=None, foreign_key="strike.id")
    day: dt.date | None = None
    actor: str = Field(max_length=100)
    recorded_at: dt.datetime = _ts()


class Notice(SQLModel, table=True):
    """A notice a decision called for; written before anything is rendered or sent.

    ``payload`` is fixed at creation (sealed): the level it states, the trace it rests on, its
    own ``date``, ``final`` for a decision the meeting confirmed, and ``supersedes`` (the drafts
    it replaces). A notice's state — draft, final or superseded — is derived from these
    (engine/record/notices.py), never stored as a flag that could be flipped.
    """

    __table_args__ = (UniqueConstraint("key"),)

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=128)
    kind: str = Field(max_length=32)
    person_pk: int | None = Field(default=None, foreign_key="person.id")
    strike_id: int | None = Field(default=None, foreign_key="strike.id")
    status_change_id: int | None = Field(default=None, foreign_key="status_change.id")
    payload: dict[str, Any] = _json()
    created_at: dt.datetime = _ts()
    rendered_at: dt.datetime | None = _ts(nullable=True)


class DocNumber(SQLModel, table=True):
    """A document number (文号) given once, when a document is issued: one series per kind, from 1 each year.

    ``doc_key`` names the document (``notice:12``, ``weekly_bulletin:2024-10-28``); the year is
    that of the document's own date. Numbers are gapless: writers take turns, so the next serial
    is the series' largest plus one. Append-only and sealed.
    """

    __tablename__ = "doc_number"
    __table_args__ = (UniqueConstraint("doc_key"), UniqueConstraint("series", "year", "serial"))

    id: int | None = Field(default=None, primary_key=True)
    series: str = Field(max_length=32)
    year: int
    serial: int
    doc_key: str = Field(max_length=160)
    kind: str = Field(max_length=32)
    notice_id: int | None = Field(default=None, foreign_key="notice.id")
    issued_on: dt.date
    assigned_at: dt.datetime = _ts()


class DecisionTrace(SQLModel, table=True):
    """One decision about a strike, and why: the rules' verdict, typed and versioned (append-only, sealed).

    Every strike has an ``opened`` trace; each later miss that joined it a ``joined`` trace; each
    change of its level or of the strikes it rests on a ``reranked`` trace. ``body`` is
    ``engine.evaluation.traces.Trace`` at ``version``; explanations, notices, the agenda and the
    web view read only these.
    """

    __tablename__ = "decision_trace"

    id: int | None = Field(default=None, primary_key=True)
    strike_id: int = Field(foreign_key="strike.id", index=True)
    kind: str = Field(max_length=16)  # TraceKind
    version: int
    body: dict[str, Any] = _json()
    decided_on: dt.date
    decided_at: dt.datetime = _ts()
    rebuilt: bool = False  # rebuilt by the 0008 upgrade from what older revisions recorded


class EvaluationDay(SQLModel, table=True):
    """The run ledger: one row per evaluated day, claimed in the day's own transaction."""

    __tablename__ = "evaluation_day"

    id: int | None = Field(default=None, primary_key=True)
    day: dt.date = Field(unique=True)
    run_id: str = Field(max_length=64)
    misses: int = 0
    new_strikes: int = 0
    joined: int = 0
    warnings: int = 0
    actor: str = Field(max_length=100)
    started_at: dt.datetime | None = _ts(nullable=True)  # None on days evaluated before revision 0004
    finished_at: dt.datetime = _ts()


class ChangeLog(SQLModel, table=True):
    """Append-only log of every change: who, when, what and why."""

    __tablename__ = "change_log"

    id: int | None = Field(default=None, primary_key=True)
    at: dt.datetime = _ts()
    actor: str = Field(max_length=100)
    entity: str = Field(max_length=32)
    key: str = Field(max_length=200)
    action: str = Field(max_length=32)
    detail: dict[str, Any] = _json()
    reason: str | None = None


class Meta(SQLModel, table=True):
    """Small key/value facts about the database (policy fingerprint, first evaluated day)."""

    key: str = Field(primary_key=True, max_length=64)
    value: str


class JobRun(SQLModel, table=True):
    """One scheduled job for one business date, claimed once across every process (the run history)."""

    __tablename__ = "job_run"
    __table_args__ = (UniqueConstraint("job", "business_date"),)

    id: int | None = Field(default=None, primary_key=True)
    job: str = Field(max_length=32)
    business_date: dt.date
    status: str = Field(max_length=16)  # JobStatus
    holder: str = Field(max_length=128)
    attempts: int = 1
    started_at: dt.datetime = _ts()
    heartbeat_at: dt.datetime = _ts()
    finished_at: dt.datetime | None = _ts(nullable=True)
    detail: dict[str, Any] = _json()
    error: str | None = None


class Outbox(SQLModel, table=True):
    """Every message to send: written before sending, sent once per notice and channel."""

    __table_args__ = (
        UniqueConstraint("key"),
        Index("ix_outbox_status_next", "status", "next_attempt_at"),
        Index("ix_outbox_channel_attempt", "channel", "last_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=160)  # idempotency key: source, id and channel
    channel: str = Field(max_length=16)
    recipient: str = Field(max_length=200)
    subject: str
    body: str
    attachment: str | None = None
    notice_id: int | None = Field(default=None, foreign_key="notice.id")
    status: str = Field(default=OutboxStatus.QUEUED, max_length=16)
    attempts: int = 0
    next_attempt_at: dt.datetime = _ts()
    last_error: str | None = None
    holder: str | None = Field(default=None, max_length=128)
    created_at: dt.datetime = _ts()
    sent_at: dt.datetime | None = _ts(nullable=True)
    #: When it was last claimed to be sent: a paced channel's window counts these (since revision 0010).
    last_attempt_at: dt.datetime | None = _ts(nullable=True)


class Reminder(SQLModel, table=True):
    """A warning (预警) that a node falls due: one per node, threshold and planned date (since revision 0014).

    ``threshold`` is the policy's days-before (3, 1, 0 by default); ``remind_on`` the working day it was
    due to be sent (a threshold on a holiday moves to the working day before). An extension gives the
    node a new planned date and so new reminders; the unique key makes a second run, or a second
    scheduler, a no-op. Sealed: who was warned of what, and when, is part of the record.
    """

    __table_args__ = (
        UniqueConstraint("node_id", "threshold", "planned_date"),
        Index("ix_reminder_remind_on", "remind_on"),
    )

    id: int | None = Field(default=None, primary_key=True)
    node_id: int = Field(foreign_key="node.id")
    project_id: int = Field(foreign_key="project.id")
    planned_date: dt.date
    threshold: int
    remind_on: dt.date
    person_pk: int | None = Field(default=None, foreign_key="person.id")  # None: nobody responsible
    created_at: dt.datetime = _ts()


class Report(SQLModel, table=True):
    """Progress reported from the site: a node done, or an extension asked (since revision 0015).

    Immutable and sealed: what was reported, by whom, when, and the planned date it was reported
    against. It changes nothing by itself; the office's decision (``report_decision``) does, through
    the same write path as ``duban node complete`` / ``duban node extend``.
    """

    __table_args__ = (Index("ix_report_node", "node_id"), Index("ix_report_project", "project_id"))

    id: int | None = Field(default=None, primary_key=True)
    node_id: int = Field(foreign_key="node.id")
    project_id: int = Field(foreign_key="project.id")
    kind: str = Field(max_length=16)  # ReportKind
    completed_on: dt.date | None = None  # a completion: the day reported
    requested_date: dt.date | None = None  # an extension: the new planned date asked for
    note: str = Field(default="", max_length=2000)
    planned_date: dt.date  # the node's planned date when it was reported
    source: str = Field(max_length=16)  # ReportSource: phone (a personal link) or district (an account)
    reported_by: str = Field(max_length=100)  # the person's id, or the account (web:NAME)
    person_pk: int | None = Field(default=None, foreign_key="person.id")
    created_at: dt.datetime = _ts()


class ReportDecision(SQLModel, table=True):
    """The office's answer to a report: approved (recorded) or rejected with a reason. Once; sealed."""

    __tablename__ = "report_decision"

    id: int | None = Field(default=None, primary_key=True)
    report_id: int = Field(foreign_key="report.id", unique=True)
    approved: bool
    by: str = Field(max_length=100)
    at: dt.datetime = _ts()
    reason: str | None = Field(default=None, max_length=2000)


class Photo(SQLModel, table=True):
    """A photo, re-encoded as JPEG, stored once by the SHA-256 of its bytes (since revision 0015).

    The audit chain seals its hash, size, type and time, not the bytes: the hash stands for them.
    """

    id: int | None = Field(default=None, primary_key=True)
    sha256: str = Field(max_length=64, unique=True)
    mime: str = Field(max_length=32)
    width: int
    height: int
    size: int  # bytes of the re-encoded JPEG
    taken_at: dt.datetime | None = _ts(nullable=True)  # EXIF DateTimeOriginal, in the configured zone
    content: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    thumbnail: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: dt.datetime = _ts()


class ReportPhoto(SQLModel, table=True):
    """A photo attached to a report, in the order it was sent."""

    __tablename__ = "report_photo"
    __table_args__ = (UniqueConstraint("report_id", "position"),)

    id: int | None = Field(default=None, primary_key=True)
    report_id: int = Field(foreign_key="report.id")
    photo_id: int = Field(foreign_key="photo.id", index=True)
    position: int


class PersonLink(SQLModel, table=True):
    """A responsible person's personal link to the phone page: the database keeps only the token's SHA-256."""

    __tablename__ = "person_link"

    id: int | None = Field(default=None, primary_key=True)
    person_pk: int = Field(foreign_key="person.id", index=True)
    token_hash: str = Field(max_length=64, unique=True)
    created_at: dt.datetime = _ts()
    created_by: str = Field(max_length=100)
    expires_at: dt.datetime = _ts()
    revoked_at: dt.datetime | None = _ts(nullable=True)
    revoked_by: str | None = Field(default=None, max_length=100)


class ChannelBlock(SQLModel, table=True):
    """A channel whose receiver refuses everything until a time (a robot's rate limit); shared by every process."""

    __tablename__ = "channel_block"

    channel: str = Field(primary_key=True, max_length=16)
    blocked_at: dt.datetime = _ts()
    blocked_until: dt.datetime = _ts()
    reason: str  # what the receiver answered, in the words users read


class Complaint(SQLModel, table=True):
    """One mayor's-hotline work order (12345 工单), tied to a project when it can be.

    Keyed by its work-order number: re-importing the same export changes nothing. What is fixed
    at intake (number, times, content, place) is sealed when the row is added; later changes
    (closing, satisfaction, the project it is tied to) are written to the change log.
    """

    __table_args__ = (
        UniqueConstraint("order_no"),
        Index("ix_complaint_project", "project_id"),
        Index("ix_complaint_due", "due_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    order_no: str = Field(max_length=64)  # 工单编号
    received_at: dt.datetime = _ts()  # 受理时间
    content: str  # 诉求内容
    place: str | None = None  # 地址/小区 as the hotline wrote it
    due_at: dt.datetime = _ts()  # 办理时限
    closed_at: dt.datetime | None = _ts(nullable=True)  # 办结时间
    satisfaction: str | None = Field(default=None, max_length=32)  # 满意度
    project_id: int | None = Field(default=None, foreign_key="project.id")
    link: str | None = Field(default=None, max_length=16)  # ComplaintLink; None: not tied yet
    link_note: str | None = None  # why it is not tied (no match, several candidates)
    created_at: dt.datetime = _ts()


class AuditEntry(SQLModel, table=True):
    """One link of the tamper-evident chain: the rows one transaction added to one sealed table."""

    __tablename__ = "audit_entry"
    __table_args__ = (UniqueConstraint("hash"),)

    id: int | None = Field(default=None, primary_key=True)
    table_name: str = Field(max_length=32)
    first_id: int
    last_id: int
    rows: int
    digest: str = Field(max_length=64)  # SHA-256 of the rows' sealed columns, in id order
    recorded_at: dt.datetime = _ts()
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class User(SQLModel, table=True):
    """A web account (created with `duban user add`); the password is kept only as an argon2 hash."""

    __tablename__ = "user_account"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=64)
    display_name: str = Field(max_length=100)
    role: str = Field(max_length=16)
    district: str | None = Field(default=None, max_length=100)
    password_hash: str = Field(max_length=200)
    active: bool = True
    created_at: dt.datetime = _ts()
    created_by: str = Field(max_length=100)
    password_changed_at: dt.datetime = _ts()
    #: Whether the password breaks the password rules (since revision 0013): None — set before them and not
    #: yet checked (it is, at the next sign-in); True — it does, and it signs nobody in until it is changed.
    password_weak: bool | None = None


class WebSession(SQLModel, table=True):
    """A signed-in browser: the cookie holds a random token, the database only its SHA-256."""

    __tablename__ = "web_session"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(unique=True, max_length=64)
    user_id: int = Field(foreign_key="user_account.id", index=True)
    csrf: str = Field(max_length=64)
    created_at: dt.datetime = _ts()
    last_seen_at: dt.datetime = _ts()
    expires_at: dt.datetime = _ts()
    ended_at: dt.datetime | None = _ts(nullable=True)
    client: str | None = Field(default=None, max_length=64)


class LoginAttempt(SQLModel, table=True):
    """Every sign-in attempt, kept for the rate limit and for the record."""

    __tablename__ = "login_attempt"
    __table_args__ = (
        Index("ix_login_attempt_name_at", "name", "at"),
        Index("ix_login_attempt_client_at", "client", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64)
    client: str | None = Field(default=None, max_length=64)
    at: dt.datetime = _ts()
    ok: bool


class LoginThrottle(SQLModel, table=True):
    """The sign-in throttle of one (account, address) pair, or of one address's made-up names.

    ``failures`` counts the failures in a row (a success from the pair, ``duban user unlock`` or a day
    without a failure starts it again); from the fifth on, attempts are refused until ``blocked_until``.
    Kept in the database, so a restart resets nothing; not sealed (it is state, not history: each lock
    and unlock is in the change log).
    """

    __tablename__ = "login_throttle"
    __table_args__ = (UniqueConstraint("kind", "name", "client"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16)  # ThrottleKind
    name: str = Field(max_length=64)  # the account's name; "" for made-up names
    client: str = Field(max_length=64)  # the address ("" when the server could not tell)
    failures: int = 0
    refused: int = 0  # attempts refused unchecked while blocked
    first_failed_at: dt.datetime = _ts()
    last_failed_at: dt.datetime = _ts()
    blocked_until: dt.datetime | None = _ts(nullable=True)


def table_of(model: type[SQLModel]) -> Table:
    """The Core table of a model, typed (SQLModel does not declare ``__table__``)."""
    table: Table = getattr(model, "__table__")  # noqa: B009  (the attribute is set by SQLModel's metaclass)
    return table


def id_of(row: SQLModel) -> int:
    """The primary key of a stored row (a flushed row always has one; an unflushed one is a bug)."""
    value = getattr(row, "id", None)
    if value is None:
        raise ValueError(f"{type(row).__name__} has no id yet: flush it before using its id")
    return int(value)
