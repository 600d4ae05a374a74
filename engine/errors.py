"""Errors users see: each carries one line per problem, in Chinese."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """Where a problem of the user's input is and what it is (a ledger cell, a file, a sheet).

    ``row`` is the row number as Excel shows it (or the CSV line); ``column`` the header as written;
    ``letter`` the column's letter in a workbook.
    """

    where: str
    row: int | None
    column: str | None
    value: str | None
    reason: str
    letter: str | None = None


class Refused(Exception):
    """The request was refused; nothing was changed. ``problems`` holds one line each.

    ``details`` holds the same problems with their places, when the input was a file (the web
    view shows them as a table). ``omitted`` counts the problems found but not listed (a file's
    problems are kept up to a limit, ``max_problems``); then the last line of ``problems`` says
    how many.
    """

    def __init__(self, *problems: str, details: Sequence[Problem] = (), omitted: int = 0) -> None:
        lines = [*problems, *([omitted_line(omitted)] if omitted else [])]
        super().__init__("\n".join(lines))
        self.problems = lines
        self.details = list(details)
        self.omitted = omitted


def omitted_line(count: int) -> str:
    """Return the line that stands for the problems not listed."""
    return f"另有 {count} 个问题未列出"
