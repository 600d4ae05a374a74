"""Rendering: Jinja templates in a sandbox, user overrides first, data never treated as code or markup.

Every value a template prints is escaped for the format it lands in, by the renderer itself (the
``finalize`` hook), so no template has to remember it:

* HTML (``*.html.j2``): Jinja's autoescape.
* Markdown (``*.md.j2``): ``md_escape`` — the characters that make links, images, emphasis, code, HTML
  and tables (``\\ ` * _ [ ] < > | ~ &``) get a backslash, a line break becomes a space, a marker
  that would start a heading, quote or list at the start of a value gets a backslash, and bare links
  (``http://``, ``www.``) are broken. A project named ``[点此](http://evil)`` prints as text.
  What filters (``cell``, ``link``) and macros return is escaped already (``MdSafe``) and is left alone.

The Markdown is then read by the Word writer (notifications/docx.py, which undoes the escapes) and sent
to the group robots (notifications/delivery.py, which turns every escaped character into its
full-width twin, since a robot's renderer may not honour backslashes).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jinja2 import (
    ChoiceLoader,
    FileSystemLoader,
    PackageLoader,
    StrictUndefined,
    Undefined,
    pass_eval_context,
    select_autoescape,
)
from jinja2.nodes import EvalContext
from jinja2.runtime import Context, Macro
from jinja2.sandbox import ImmutableSandboxedEnvironment

from config.vocabulary import Format, Kind
from notifications.kinds import REGISTRY, template_name
from notifications.wording import cn_date

_UPPER = "〇一二三四五六七八九十"


def cn_number(value: int) -> str:
    """Write 1–99 in Chinese numerals for headings: 一、二 … 十一."""
    if value <= 10:
        return "十" if value == 10 else _UPPER[value]
    tens, ones = divmod(value, 10)
    return f"{_UPPER[tens] if tens > 1 else ''}十{_UPPER[ones] if ones else ''}"


def percent(value: float) -> str:
    """Write a ratio as a percentage with one decimal."""
    return f"{value * 100:.1f}%"


class MdSafe(str):
    """Markdown text that is escaped already (a filter's or a macro's output): printed as it is."""

    __slots__ = ()


#: Characters that start inline markup anywhere in a line (CommonMark and GFM), escaped with a backslash.
MD_SPECIAL = frozenset("\\`*_[]<>|~&")
_LINE_START = (
    re.compile(r"^(\s*)([#>=])"),
    re.compile(r"^(\s*)([-+])(?=\s|$)"),
    re.compile(r"^(\s*\d{1,9})([.)])(?=\s|$)"),
)
_BARE_LINK = (re.compile(r"(?<=[A-Za-z0-9])(:)(?=//)"), re.compile(r"(?i)(?<![A-Za-z0-9])(www)(\.)"))


def md_escape(value: object) -> MdSafe:
    """Escape ledger text for Markdown: it can neither make markup nor start a block."""
    text = "" if value is None else str(value)
    text = text.replace("\r\n", " ").replace("\r", " ").replace("\n", " ")
    text = "".join(f"\\{char}" if char in MD_SPECIAL else char for char in text)
    text = _BARE_LINK[0].sub(r"\\\1", text)
    text = _BARE_LINK[1].sub(r"\1\\\2", text)
    for pattern in _LINE_START:
        text = pattern.sub(r"\1\\\2", text, count=1)
    return MdSafe(text)


#: One backslash escape of CommonMark: a backslash before an ASCII punctuation character.
MD_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")


def md_unescape(text: str) -> str:
    """Undo the backslash escapes (for plain text, where no markup is read: an e-mail's text)."""
    return MD_ESCAPE.sub(r"\1", text)


def md_to_robot(text: str) -> str:
    """Markdown for a group robot: each escaped character becomes its full-width twin (［ ］ ＜ ＞ ＊ ＿ ：…).

    DingTalk's and WeCom's renderers are not CommonMark and may ignore backslashes; a full-width
    character is markup to neither, and reads the same to a person.
    """
    return MD_ESCAPE.sub(lambda match: chr(ord(match.group(1)) + 0xFEE0), text)


def robot_text(value: object) -> str:
    """Plain text (a subject) made safe for a robot's markdown."""
    return md_to_robot(md_escape(value))


def cell(value: object) -> MdSafe:
    """Make a value safe inside a Markdown table cell (its pipes and line breaks included)."""
    return md_escape(value)


def link(value: object) -> MdSafe:
    """Write a link's or an image's target (a file name, a path): as it is, or in <…> when it has spaces or brackets."""
    text = "" if value is None else str(value).replace("\r", "").replace("\n", "")
    if any(char in text for char in " ()<>\\"):
        return MdSafe("<" + text.replace("<", "%3C").replace(">", "%3E") + ">")
    return MdSafe(text)


#: The filters every template may use besides Jinja's own (docs/TEMPLATES.md lists them with their docstrings).
FILTERS: dict[str, Callable[[Any], str]] = {
    "cn_date": cn_date,
    "cn_number": cn_number,
    "percent": percent,
    "cell": cell,
    "link": link,
}


@pass_eval_context
def _finalize(eval_ctx: EvalContext, value: Any) -> Any:
    # HTML is escaped by autoescape after this; Markdown here. Numbers, dates and missing values carry no text.
    if eval_ctx.autoescape or isinstance(value, MdSafe | Undefined | int | float | dt.date) or value is None:
        return value
    return md_escape(value)


class _Environment(ImmutableSandboxedEnvironment):
    """The sandbox, where a macro's output counts as escaped Markdown (each value in it was, as it was built)."""

    def call(self, context: Context, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        result = super().call(context, obj, *args, **kwargs)
        if isinstance(obj, Macro) and type(result) is str:
            return MdSafe(result)
        return result


class Renderer:
    """Renders every kind; templates in ``override_dir`` are searched first."""

    def __init__(self, override_dir: Path | None = None) -> None:
        loaders = [FileSystemLoader(str(override_dir))] if override_dir else []
        self.env = _Environment(
            loader=ChoiceLoader([*loaders, PackageLoader("notifications", "templates")]),
            undefined=StrictUndefined,
            # HTML is autoescaped; Markdown is escaped by ``_finalize`` (Word is laid out from the Markdown).
            autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
            finalize=_finalize,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )
        self.env.filters.update(FILTERS)

    def render(self, kind: Kind, fmt: Format, context: dict[str, Any]) -> str:
        """Render a kind in Markdown or HTML."""
        if fmt not in REGISTRY[kind].formats:
            raise ValueError(f"{REGISTRY[kind].title}不提供 {fmt} 格式")
        return self.env.get_template(template_name(kind, fmt)).render(**context)

    def render_message(self, name: str, context: dict[str, Any]) -> tuple[str, str]:
        """Render a message (a warning, a digest) from ``<name>.md.j2``; return its subject and its Markdown body.

        The subject is the first line without its heading marks, unescaped (each channel makes it safe its way).
        """
        body = self.env.get_template(f"{name}.md.j2").render(**context)
        return md_unescape(body.split("\n", 1)[0].lstrip("#").strip()), body

    def write(self, kind: Kind, fmt: Format, context: dict[str, Any], path: Path) -> Path:
        """Write a kind to a file; Word documents are laid out after GB/T 9704 from the Markdown text."""
        if fmt not in REGISTRY[kind].formats:
            raise ValueError(f"{REGISTRY[kind].title}不提供 {fmt} 格式")
        path.parent.mkdir(parents=True, exist_ok=True)
        if fmt is Format.DOCX:
            from notifications.docx import DocMeta, write_docx

            body = self.render(kind, Format.MD, {**context, "for_docx": True})
            meta = context["meta"]  # the header (engine/paperwork/template_data.py's Meta)
            write_docx(
                body,
                DocMeta(
                    title=meta.title,
                    issuer=meta.issuer,
                    doc_number=meta.doc_number,
                    recipient=meta.recipient,
                    signature=meta.signature,
                    date=meta.date,
                    draft=meta.draft,
                ),
                path,
            )
        else:
            path.write_text(self.render(kind, fmt, {**context, "for_docx": False}), encoding="utf-8")
        return path
