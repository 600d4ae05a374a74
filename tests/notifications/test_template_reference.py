"""What each template receives is written down (docs/TEMPLATES.md), complete, current, and all a template uses."""

from __future__ import annotations

import dataclasses

import pytest
from jinja2 import meta, nodes

from config.vocabulary import Format, Kind
from engine.paperwork.reference import (
    COMMAND,
    TEMPLATES_MD,
    contexts,
    description,
    message_template,
    messages,
    records,
    reference,
    templates,
)
from engine.paperwork.template_data import CONTEXTS, MESSAGES, RENDERER_NAMES
from notifications.kinds import REGISTRY
from notifications.render import Renderer


def test_every_field_of_every_context_and_record_is_described() -> None:
    undescribed = [
        f"{cls.__name__}.{f.name}"
        for cls in (*contexts(), *messages(), *records())
        for f in dataclasses.fields(cls)
        if not description(f).strip()
    ]
    assert not undescribed, f"describe these fields (field(metadata={{'doc': ...}})): {undescribed}"


def test_every_kind_has_a_context_and_templates() -> None:
    assert set(CONTEXTS) == set(Kind)
    assert all(templates(kind) for kind in Kind)


def test_the_reference_is_current() -> None:
    written = TEMPLATES_MD.read_text(encoding="utf-8") if TEMPLATES_MD.exists() else ""
    assert written == reference(), f"docs/TEMPLATES.md is out of date: run `.venv/bin/{COMMAND}` and commit it"


def test_the_names_outside_the_contexts_are_the_renderers() -> None:
    # RENDERER_NAMES says what besides the fields a template may use: the callers' for_docx, and Jinja's globals.
    assert set(RENDERER_NAMES) - {"for_docx"} == set(Renderer().env.globals)


def _names_used(renderer: Renderer, name: str, seen: set[str]) -> set[str]:
    """The top-level names a template uses, with those of the templates it extends, includes or imports."""
    seen.add(name)
    assert renderer.env.loader is not None
    source, _, _ = renderer.env.loader.get_source(renderer.env, name)
    parsed = renderer.env.parse(source)
    # A macro imported at the top is used inside the blocks, which Jinja's analysis reads apart from the top.
    imported = {
        target if isinstance(target, str) else target[1]
        for node in parsed.find_all(nodes.FromImport)
        for target in node.names
    }
    imported |= {node.target for node in parsed.find_all(nodes.Import)}
    used = set(meta.find_undeclared_variables(parsed)) - imported
    for referenced in meta.find_referenced_templates(parsed):
        assert referenced is not None, f"{name} names a template by a variable: the check cannot follow it"
        if referenced not in seen:
            used |= _names_used(renderer, referenced, seen)
    return used


@pytest.mark.parametrize(
    ("kind", "fmt"), [(kind, fmt) for kind in Kind for fmt in REGISTRY[kind].formats if fmt is not Format.DOCX]
)
def test_every_name_a_shipped_template_uses_is_in_its_context(kind: Kind, fmt: Format) -> None:
    renderer = Renderer()  # the shipped templates only, in the sandbox that renders them
    name = f"{kind.value}.{fmt.value}.j2"
    fields = {f.name for f in dataclasses.fields(CONTEXTS[kind])}
    unknown = _names_used(renderer, name, set()) - fields - set(RENDERER_NAMES)
    assert not unknown, f"{name} uses {sorted(unknown)}, which {CONTEXTS[kind].__name__} does not have"


def test_every_message_has_its_template_and_its_section() -> None:
    written = reference()
    for name, cls in MESSAGES.items():
        assert Renderer().env.loader is not None
        Renderer().env.loader.get_source(Renderer().env, message_template(name))  # raises when missing
        assert f"| `{name}` | [{cls.__name__}](#{cls.__name__.lower()}) | `{message_template(name)}` |" in written
        assert f"### {cls.__name__}" in written
    assert "### DueItem" in written  # the record the messages hold


@pytest.mark.parametrize("name", sorted(MESSAGES))
def test_every_name_a_message_template_uses_is_in_its_context(name: str) -> None:
    fields = {f.name for f in dataclasses.fields(MESSAGES[name])}
    unknown = _names_used(Renderer(), message_template(name), set()) - fields - set(RENDERER_NAMES)
    assert not unknown, (
        f"{message_template(name)} uses {sorted(unknown)}, which {MESSAGES[name].__name__} does not have"
    )
