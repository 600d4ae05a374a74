"""The reference of what each template receives (docs/TEMPLATES.md), written from the context types.

Run ``python -m engine.paperwork.reference`` after changing engine/paperwork/template_data.py:
tests/notifications/test_template_reference.py fails while docs/TEMPLATES.md differs from what it writes.
"""

from __future__ import annotations

import dataclasses
import re
import sys
from pathlib import Path
from typing import Any

from config.vocabulary import Format, Kind
from engine.paperwork import template_data
from engine.paperwork.template_data import CONTEXTS, MESSAGES, RENDERER_NAMES, DocumentContext, MessageContext
from notifications.kinds import REGISTRY, template_name
from notifications.render import FILTERS

#: Where the reference is kept: the repository's docs/.
TEMPLATES_MD = Path(__file__).resolve().parents[2] / "docs" / "TEMPLATES.md"
COMMAND = "python -m engine.paperwork.reference"

_NAME = re.compile(r"[A-Za-z_]\w*")


def contexts() -> list[type[DocumentContext]]:
    """Return the context types, each once, in the order of the kinds."""
    return list(dict.fromkeys(CONTEXTS[kind] for kind in Kind))


def messages() -> list[type[MessageContext]]:
    """Return the message contexts, each once, in the order of the messages."""
    return list(dict.fromkeys(MESSAGES.values()))


def message_template(name: str) -> str:
    """Return a message's template file (Markdown only: its first line is the subject)."""
    return f"{name}.md.j2"


def records() -> list[type[Any]]:
    """Return the record types the contexts hold (and the records those hold), in the order they are first met."""
    found: dict[str, type[Any]] = {}
    waiting: list[type[Any]] = [*contexts(), *messages()]
    while waiting:
        for f in dataclasses.fields(waiting.pop(0)):
            for name in _NAME.findall(str(f.type)):
                found_type = getattr(template_data, name, None)
                if (
                    isinstance(found_type, type)
                    and dataclasses.is_dataclass(found_type)
                    and name not in found
                    and not issubclass(found_type, (DocumentContext, MessageContext))
                ):
                    found[name] = found_type
                    waiting.append(found_type)
    return list(found.values())


def description(f: dataclasses.Field[Any]) -> str:
    """Return a field's one-line description ('' when it has none)."""
    return str(f.metadata.get("doc", ""))


def templates(kind: Kind) -> list[str]:
    """Return the template files of a kind (Word is laid out from the Markdown one)."""
    return list(dict.fromkeys(template_name(kind, fmt) for fmt in REGISTRY[kind].formats if fmt is not Format.DOCX))


def reference() -> str:
    """Return docs/TEMPLATES.md as it should be now."""
    documented = {cls.__name__ for cls in (*contexts(), *messages(), *records())}
    lines = [
        "# What each template receives",
        "",
        f"<!-- Written by `{COMMAND}` from engine/paperwork/template_data.py: do not edit by hand. -->",
        "",
        "Templates live in `notifications/templates/`: per document kind a Markdown one (`<kind>.md.j2`, from which",
        "the Word file is laid out) and an HTML one (`<kind>.html.j2`). An office overrides one by copying it into",
        "its `templates_dir` (README.md). Each template receives the fields of its kind's context as top-level",
        'names; a record is read by attribute (`strike.level`) or by key (`strike["level"]`). The partials',
        "(`_header.md.j2`, `_nodes.md.j2`, …) see the names of the template that includes them; the macros",
        "(`_macros.html.j2`, `_correction.md.j2`) see only their arguments.",
        "",
        "## Kinds",
        "",
        "| Kind | Name | Context | Templates |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| `{kind.value}` | {REGISTRY[kind].title} | {_type(CONTEXTS[kind].__name__, documented)} | "
        + ", ".join(f"`{name}`" for name in templates(kind))
        + " |"
        for kind in Kind
    ]
    lines += [
        "",
        "## Messages",
        "",
        "Messages are sent, not filed (engine/paperwork/reminders.py): one Markdown template each, whose first",
        "line (without its `#`) is the subject and the whole text the body; they carry no header or number.",
        "",
        "| Message | Context | Template |",
        "|---|---|---|",
    ]
    lines += [
        f"| `{name}` | {_type(cls.__name__, documented)} | `{message_template(name)}` |"
        for name, cls in MESSAGES.items()
    ]
    lines += ["", "## In every template", "", "| Name | Description |", "|---|---|"]
    lines += [f"| `{name}` | {_cell(text)} |" for name, text in RENDERER_NAMES.items()]
    lines += ["", "Filters besides Jinja's own:", "", "| Filter | Description |", "|---|---|"]
    lines += [f"| `{name}` | {_cell(_summary(function))} |" for name, function in FILTERS.items()]
    lines += ["", "## Contexts"]
    for cls in contexts():
        kinds = ", ".join(f"`{kind.value}` ({REGISTRY[kind].title})" for kind in Kind if CONTEXTS[kind] is cls)
        lines += ["", *_table(cls, documented, f"For {kinds}.")]
    for message in messages():
        names = ", ".join(f"`{name}`" for name, cls in MESSAGES.items() if cls is message)
        lines += ["", *_table(message, documented, f"For the message {names}.")]
    lines += ["", "## Records"]
    for cls in records():
        lines += ["", *_table(cls, documented)]
    return "\n".join(lines) + "\n"


def _table(cls: type[Any], documented: set[str], note: str = "") -> list[str]:
    heading = [f"### {cls.__name__}", "", _summary(cls) + (f" {note}" if note else ""), ""]
    rows = [
        f"| `{f.name}` | {_type(str(f.type), documented)} | {_cell(description(f))} |" for f in dataclasses.fields(cls)
    ]
    return [*heading, "| Field | Type | Description |", "|---|---|---|", *rows]


def _summary(thing: object) -> str:
    return (thing.__doc__ or "").strip().splitlines()[0] if thing.__doc__ else ""


def _type(annotation: str, documented: set[str]) -> str:
    """A field's type for the table, each record type a link to its section."""
    text = annotation.replace("dt.", "")
    return _cell(_NAME.sub(lambda m: f"[{m[0]}](#{m[0].lower()})" if m[0] in documented else m[0], text))


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def main(argv: list[str] | None = None) -> None:
    """Write the reference (to docs/TEMPLATES.md, or the path given)."""
    args = sys.argv[1:] if argv is None else argv
    path = Path(args[0]) if args else TEMPLATES_MD
    path.write_text(reference(), encoding="utf-8")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
