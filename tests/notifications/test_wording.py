"""Every value duban stores or decides has its words, and no word is left for a value that is gone."""

from __future__ import annotations

from enum import StrEnum

import pytest

from config.vocabulary import (
    Action,
    AgendaItem,
    ComplaintLink,
    Decision,
    EventKind,
    HistoryKind,
    JobStatus,
    LogAction,
    LogEntity,
    OutboxStatus,
    PersonStatus,
    ProjectStatus,
    ReportKind,
    ReportSource,
    Role,
    StatusCause,
    StrikeStatus,
    TraceKind,
)
from engine.record.notices import NoticeState
from engine.views.board import COLOURS, NODE_STATES, PENDING, WAS_RED
from engine.views.history import DETAIL_KEYS, SOURCES
from notifications.wording import SHIPPED, Wording, cn_date
from rules.decisions import GroupingRule, LadderRule, RankRule

Values = type[StrEnum] | tuple[str, ...]
SECTIONS: dict[str, Values] = {
    "action": Action,
    "person_status": PersonStatus,
    "strike_status": StrikeStatus,
    "decision": Decision,
    "grouping_rule": GroupingRule,
    "rank_rule": RankRule,
    "ladder_rule": LadderRule,
    "trace_kind": TraceKind,
    "event_kind": EventKind,
    "cause": StatusCause,
    "recalculated": StatusCause,
    "correction": (*(c.value for c in StatusCause), "exempted", "revoked"),
    "agenda_item": AgendaItem,
    "history_kind": HistoryKind,
    "project_status": ProjectStatus,
    "log_entity": LogEntity,
    "log_action": LogAction,
    "job_status": JobStatus,
    "complaint_link": ComplaintLink,
    "outbox_status": OutboxStatus,
    "role": Role,
    "light": (*COLOURS, PENDING, WAS_RED, "none"),
    "node_state": NODE_STATES,
    "notice_state": NoticeState,
    "detail": DETAIL_KEYS,
    "source": SOURCES,
    "report_kind": ReportKind,
    "report_source": ReportSource,
}


def _values(values: Values) -> set[str]:
    return {str(v.value) for v in values} if isinstance(values, type) else set(values)


@pytest.mark.parametrize("section", sorted(SECTIONS))
def test_every_stored_value_has_its_words(section: str) -> None:
    words = Wording.load().section(section)
    missing = _values(SECTIONS[section]) - set(words)
    assert not missing, f'notifications/wording.toml [{section}] lacks {sorted(missing)}: add a line `value = "中文"`'
    stale = set(words) - _values(SECTIONS[section])
    assert not stale, (
        f"notifications/wording.toml [{section}] has words for values that no longer exist: {sorted(stale)}"
    )
    assert all(text.strip() for text in words.values())


def test_every_section_of_the_wording_is_checked() -> None:
    assert set(Wording.load().sections()) == set(SECTIONS), "a new [section] in wording.toml needs its row in SECTIONS"


def test_placeholders_are_filled() -> None:
    words = Wording.load()
    assert words.word("rank_rule", "rank_within_window", window=30).startswith("发现日前 30 天内")
    assert words.word("ladder_rule", "ladder_top_rung", rung=3) == "超过问责阶梯最高一级，按第 3 级"
    assert words.word("action", None) == ""
    assert SHIPPED.name == "wording.toml"


def test_one_date_formatter() -> None:
    import datetime as dt

    assert cn_date(dt.date(2024, 7, 1)) == "2024年7月1日" and cn_date(None) == ""
