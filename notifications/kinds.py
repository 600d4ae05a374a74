"""The registry of paperwork kinds: stable keys (stored in the database), titles, formats."""

from __future__ import annotations

from dataclasses import dataclass

from config.vocabulary import AgendaItem, Format, Kind

#: The agenda's sections, in order, and the items each holds.
AGENDA_SECTIONS: dict[str, tuple[AgendaItem, ...]] = {
    "reviews": (AgendaItem.PRESENT_REVIEW,),
    "decisions": (AgendaItem.CONFIRM_SUSPENSION, AgendaItem.CONFIRM_DISMISSAL),
    "unassigned": (AgendaItem.NEEDS_RESPONSIBLE_PERSON,),
}


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
    info.kind: info
    for info in (
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
