"""The registry of paperwork kinds: stable keys (stored in the database), titles, formats."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


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

    PRESENT_REVIEW = "present_review"                      # the person presents a self-review
    CONFIRM_SUSPENSION = "confirm_suspension"              # the meeting confirms a removal from the post
    CONFIRM_DISMISSAL = "confirm_dismissal"                # the meeting confirms a removal for good
    NEEDS_RESPONSIBLE_PERSON = "needs_responsible_person"  # the project needs (another) responsible person


#: The agenda's sections, in order, and the items each holds.
AGENDA_SECTIONS: dict[str, tuple[AgendaItem, ...]] = {
    "reviews": (AgendaItem.PRESENT_REVIEW,),
    "decisions": (AgendaItem.CONFIRM_SUSPENSION, AgendaItem.CONFIRM_DISMISSAL),
    "unassigned": (AgendaItem.NEEDS_RESPONSIBLE_PERSON,),
}


class Format(StrEnum):
    """Output formats."""

    MD = "md"
    HTML = "html"
    DOCX = "docx"


@dataclass(frozen=True)
class KindInfo:
    """What a kind is and how it can be written."""

    kind: Kind
    title: str
    category: str  # notice | decision | agenda | report | bulletin | record
    formats: tuple[Format, ...]
    per_person: bool
    #: A ladder decision: written as a draft until the party-group meeting confirms it.
    drafted: bool = False


ALL_FORMATS = (Format.MD, Format.HTML, Format.DOCX)

REGISTRY: dict[Kind, KindInfo] = {
    info.kind: info for info in (
        KindInfo(Kind.REVIEW_NOTICE, "检查通知", "notice", ALL_FORMATS, True),
        KindInfo(Kind.SUSPENSION_DECISION, "免职决定", "decision", ALL_FORMATS, True, drafted=True),
        KindInfo(Kind.DISMISSAL_DECISION, "永不使用决定", "decision", ALL_FORMATS, True, drafted=True),
        KindInfo(Kind.CORRECTION_NOTICE, "更正通知", "notice", ALL_FORMATS, True),
        KindInfo(Kind.MEETING_AGENDA, "党组会议程", "agenda", ALL_FORMATS, False),
        KindInfo(Kind.DAILY_REPORT, "每日检点", "report", (Format.MD, Format.HTML), False),
        KindInfo(Kind.WEEKLY_BULLETIN, "每周通报", "bulletin", ALL_FORMATS, False),
        KindInfo(Kind.MEETING_DECISIONS, "党组会决定事项", "record", ALL_FORMATS, False),
    )
}


def template_name(kind: Kind, fmt: Format) -> str:
    """Return the template file of a kind and format (docx is written from the Markdown text)."""
    return f"{kind.value}.{'md' if fmt is Format.DOCX else fmt.value}.j2"
