"""Errors users see: each carries one line per problem, in Chinese."""

from __future__ import annotations


class Refused(Exception):
    """The request was refused; nothing was changed. ``problems`` holds one line each."""

    def __init__(self, *problems: str) -> None:
        super().__init__("\n".join(problems))
        self.problems = list(problems)
