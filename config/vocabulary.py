"""The stored vocabulary: every StrEnum whose values the database, the traces and the policy keep.

The bottom of the house: it imports nothing of duban, and every layer (rules/, notifications/, config/,
engine/) may import it. A value here is stored, so it is never renamed; the words users read for each
are in notifications/wording.toml.
"""

from __future__ import annotations

from enum import StrEnum


class Action(StrEnum):
    """Sanction actions; values are stored in the database, so never rename them."""

    REVIEW = "review"
    SUSPENSION = "suspension"
    DISMISSAL = "dismissal"


class PersonStatus(StrEnum):
    """A person's status derived from the highest counted level; values are stored."""

    ACTIVE = "active"
    REVIEWED = "reviewed"
    SUSPENDED = "suspended"
    DISMISSED = "dismissed"


class Kind(StrEnum):
    """Paperwork kinds; values are stored in `notice.kind`, so never rename them."""

    REVIEW_NOTICE = "review_notice"
    SUSPENSION_DECISION = "suspension_decision"
    DISMISSAL_DECISION = "dismissal_decision"
    CORRECTION_NOTICE = "correction_notice"
    MEETING_AGENDA = "meeting_agenda"
    DAILY_REPORT = "daily_report"
    WEEKLY_BULLETIN = "weekly_bulletin"
    MEETING_DECISIONS = "meeting_decisions"


#: The kinds a rung of the policy's ladder may call for (one notice to the person per counted strike).
LADDER_KINDS = (Kind.REVIEW_NOTICE, Kind.SUSPENSION_DECISION, Kind.DISMISSAL_DECISION)


class AgendaItem(StrEnum):
    """What a strike puts on the party-group meeting's agenda; values are stored in the decision trace.

    The policy's ladder names one per rung; the agenda places each strike by it.
    """

    PRESENT_REVIEW = "present_review"  # the person presents a self-review
    CONFIRM_SUSPENSION = "confirm_suspension"  # the meeting confirms a removal from the post
    CONFIRM_DISMISSAL = "confirm_dismissal"  # the meeting confirms a removal for good
    NEEDS_RESPONSIBLE_PERSON = "needs_responsible_person"  # the project needs (another) responsible person


class Format(StrEnum):
    """Output formats."""

    MD = "md"
    HTML = "html"
    DOCX = "docx"


class ProjectStatus(StrEnum):
    """Project status; values are stored."""

    RESERVE = "reserve"
    ACTIVE = "active"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class DeadlineStatus(StrEnum):
    """What became of one planned date of one node; values are stored."""

    OPEN = "open"
    MET = "met"
    MISSED = "missed"
    SUPERSEDED = "superseded"
    SKIPPED = "skipped"


class StrikeStatus(StrEnum):
    """Whether a strike counts; values are stored and printed by `strikes --json`."""

    COUNTED = "counted"
    EXEMPTED = "exempted"
    REVOKED = "revoked"


class Decision(StrEnum):
    """The meeting's decision on a counted strike; values are stored."""

    PROPOSED = "proposed"
    CONFIRMED = "confirmed"


class EventKind(StrEnum):
    """What happened to a strike (strike_event.kind); values are stored."""

    PROPOSED = "proposed"
    NODE_ADDED = "node_added"
    CONFIRMED = "confirmed"
    EXEMPTED = "exempted"
    REVOKED = "revoked"
    NODE_REVOKED = "node_revoked"
    LEVEL_CHANGED = "level_changed"
    EXEMPTION_REQUESTED = "exemption_requested"
    EXEMPTION_REJECTED = "exemption_rejected"  # the meeting turned an exemption request down


class StatusCause(StrEnum):
    """Why a person's level or status moved (status_change.cause, a reranking's cause); values are stored."""

    STRIKE = "strike"
    EXEMPTION = "exemption"
    REVOCATION = "revocation"
    POLICY = "policy"


class HistoryKind(StrEnum):
    """What a node_history row records; values are stored."""

    PLANNED = "planned"
    EXTENSION = "extension"
    COMPLETION = "completion"


class JobStatus(StrEnum):
    """A scheduled job's state (job_run.status); values are stored."""

    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class OutboxStatus(StrEnum):
    """A message's state in the outbox; values are stored."""

    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


class LogEntity(StrEnum):
    """What a change_log row is about; values are stored."""

    NODE = "node"
    PROJECT = "project"
    PERSON = "person"
    STRIKE = "strike"
    LEDGER = "ledger"
    USER = "user"
    COMPLAINT = "complaint"
    HOTLINE = "hotline"  # an import of the hotline's work-order export
    ADDRESS = "address"  # a client address (its sign-in attempts on made-up names throttled)
    REPORT = "report"  # a report from the site (report)


class LogAction(StrEnum):
    """What a change_log row records; values are stored."""

    CREATE = "create"
    UPDATE = "update"
    EXTEND = "extend"
    COMPLETE = "complete"
    ASSIGN = "assign"
    CONFIRM = "confirm"
    EXEMPT = "exempt"
    REVOKE = "revoke"
    REQUEST_EXEMPTION = "request_exemption"
    REJECT_EXEMPTION = "reject_exemption"
    IMPORT = "import"
    PASSWORD = "password"
    DISABLE = "disable"
    ENABLE = "enable"
    LINK = "link"
    LOCK = "lock"  # sign-in throttled: an account from an address, or an address's made-up names
    UNLOCK = "unlock"  # every throttle of an account lifted (duban user unlock, a new password, enable)
    REPORT = "report"  # progress reported from the site (a completion, an extension asked)
    APPROVE = "approve"  # the office approved a report: it is recorded
    REJECT = "reject"  # the office rejected a report, with a reason sent back to the person
    ISSUE_LINK = "issue_link"  # a personal link to the phone page issued (duban person link)
    REVOKE_LINK = "revoke_link"  # every personal link of a person revoked (duban person unlink)


class ComplaintLink(StrEnum):
    """How a hotline work order was tied to its project (complaint.link); values are stored."""

    CODE = "code"  # the export named the project's code
    NAME = "name"  # the community's name in its address or community column
    ADDRESS = "address"  # the project's address (a ledger column 地址) in its address
    HAND = "hand"  # a clerk linked it (duban complaint link)


class TraceKind(StrEnum):
    """Which decision a trace records (decision_trace.kind); values are stored."""

    OPENED = "opened"  # a miss opened the strike: its grouping rule and, if counted, its ranking
    JOINED = "joined"  # a later miss joined the strike: its grouping rule
    RERANKED = "reranked"  # the strike's level or the strikes it rests on changed (exemption, revocation, policy)


class Role(StrEnum):
    """What a web account may do; values are stored, so never rename them."""

    LEADER = "leader"  # reads everything, changes nothing
    OFFICE = "office"  # the task-force office: imports, decisions, corrections
    DISTRICT = "district"  # reads and corrects only the projects of one district


class ThrottleKind(StrEnum):
    """What a sign-in throttle counts; values are stored."""

    ACCOUNT = "account"  # one account's failures from one address
    UNKNOWN = "unknown"  # failures on names that are no account, from one address


class ReportKind(StrEnum):
    """What a report from the site asks (report.kind); values are stored."""

    COMPLETION = "completion"  # the node is done, on a day
    EXTENSION = "extension"  # a new planned date, with a reason


class ReportSource(StrEnum):
    """Where a report came from (report.source); values are stored."""

    PHONE = "phone"  # the responsible person's phone page (a personal link)
    DISTRICT = "district"  # a district account's completion that would revoke a strike
