"""Tying a work order to its project: by project code, else by the community's name or the address.

The hotline writes where the caller lives (「滨河小区3号楼2单元」, 「龙凤街道滨河小区」); the ledger
names each project after its community and may carry its address (a 地址 column, kept as an
extra attribute). A work order is tied when exactly one project's name — else exactly one
project's address — appears in what the hotline wrote; a longer name wins over one it contains
(「滨河小区二期」 over 「滨河小区」). Anything else is left for a clerk (`duban complaint link`).
"""

from __future__ import annotations

import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from config.vocabulary import ComplaintLink

#: Ledger columns (extra attributes of a project) that hold its address.
ADDRESS_KEYS = ("地址", "项目地址", "小区地址", "address")
#: Names shorter than this are too common to find inside an address (「一期」, 「小区」).
_SHORTEST = 3


@dataclass(frozen=True)
class Match:
    """Where a work order goes: a project, or nowhere with the reason."""

    project_id: int | None
    link: ComplaintLink | None
    note: str | None


def normalise(text: str) -> str:
    """Full-width to half-width, no spaces, lower case: how names are compared."""
    return "".join(unicodedata.normalize("NFKC", text).split()).lower()


class Matcher:
    """Finds projects by code, name or address in what the hotline wrote."""

    def __init__(self, projects: Iterable[tuple[int, str, str, dict[str, object]]]) -> None:
        self.by_code: dict[str, int] = {}
        self.names: dict[str, set[int]] = defaultdict(set)
        self.addresses: dict[str, set[int]] = defaultdict(set)
        self.code_of: dict[int, str] = {}
        for project_id, code, name, extra in projects:
            self.by_code[code] = project_id
            self.code_of[project_id] = code
            if len(normalise(name)) >= _SHORTEST:
                self.names[normalise(name)].add(project_id)
            for key in ADDRESS_KEYS:
                value = (extra or {}).get(key)
                if isinstance(value, str) and len(normalise(value)) >= _SHORTEST:
                    self.addresses[normalise(value)].add(project_id)
        self._name_lengths = sorted({len(n) for n in self.names}, reverse=True)
        self._address_lengths = sorted({len(a) for a in self.addresses}, reverse=True)

    def match(self, project_code: str | None, place: str | None) -> Match:
        """Return the project a work order belongs to, or why it has none."""
        if project_code:
            found = self.by_code.get(project_code)
            if found is not None:
                return Match(found, ComplaintLink.CODE, None)
            note = f"项目编号 {project_code} 不在台账中"
        else:
            note = None
        if not place:
            return Match(None, None, note or "没有地址或小区")
        text = normalise(place)
        for table, lengths, link in (
            (self.names, self._name_lengths, ComplaintLink.NAME),
            (self.addresses, self._address_lengths, ComplaintLink.ADDRESS),
        ):
            found_ids = _longest(text, table, lengths)
            if len(found_ids) == 1:
                return Match(next(iter(found_ids)), link, None)
            if len(found_ids) > 1:
                codes = "、".join(sorted(self.code_of[i] for i in found_ids))
                return Match(None, None, f"多个项目可能对应：{codes}")
        return Match(None, None, note or "没有名称或地址相符的项目")


def _longest(text: str, table: dict[str, set[int]], lengths: list[int]) -> set[int]:
    """The projects whose key appears in the text; keys inside a longer found key do not count."""
    found: dict[str, set[int]] = {}
    for size in lengths:  # longest first
        for start in range(len(text) - size + 1):
            piece = text[start : start + size]
            if piece in table and not any(piece in longer for longer in found):
                found[piece] = table[piece]
    return set().union(*found.values()) if found else set()
