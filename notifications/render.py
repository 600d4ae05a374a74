"""Rendering: Jinja templates in a sandbox, user overrides first, data never treated as code."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, FileSystemLoader, PackageLoader, StrictUndefined, select_autoescape
from jinja2.sandbox import ImmutableSandboxedEnvironment

from notifications.kinds import REGISTRY, Format, Kind, template_name
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


def cell(value: object) -> str:
    """Make a value safe inside a Markdown table cell."""
    text = "" if value is None else str(value)
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", " ")


class Renderer:
    """Renders every kind; templates in ``override_dir`` are searched first."""

    def __init__(self, override_dir: Path | None = None) -> None:
        loaders = [FileSystemLoader(str(override_dir))] if override_dir else []
        self.env = ImmutableSandboxedEnvironment(
            loader=ChoiceLoader([*loaders, PackageLoader("notifications", "templates")]),
            undefined=StrictUndefined,
            # Only HTML is escaped: Markdown and Word text are written as the data says.
            autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )
        self.env.filters.update(cn_date=cn_date, cn_number=cn_number, percent=percent, cell=cell)

    def render(self, kind: Kind, fmt: Format, context: dict[str, Any]) -> str:
        """Render a kind in Markdown or HTML."""
        if fmt not in REGISTRY[kind].formats:
            raise ValueError(f"{REGISTRY[kind].title}不提供 {fmt} 格式")
        return self.env.get_template(template_name(kind, fmt)).render(**context)

    def write(self, kind: Kind, fmt: Format, context: dict[str, Any], path: Path) -> Path:
        """Write a kind to a file; Word documents are laid out after GB/T 9704 from the Markdown text."""
        if fmt not in REGISTRY[kind].formats:
            raise ValueError(f"{REGISTRY[kind].title}不提供 {fmt} 格式")
        path.parent.mkdir(parents=True, exist_ok=True)
        if fmt is Format.DOCX:
            from notifications.docx import DocMeta, write_docx

            body = self.render(kind, Format.MD, {**context, "for_docx": True})
            meta = context["meta"]
            write_docx(body, DocMeta(title=meta["title"], issuer=meta["issuer"], doc_number=meta.get("doc_number"),
                                     recipient=meta.get("recipient"), signature=meta.get("signature"),
                                     date=meta["date"], draft=bool(meta.get("draft"))), path)
        else:
            path.write_text(self.render(kind, fmt, {**context, "for_docx": False}), encoding="utf-8")
        return path
