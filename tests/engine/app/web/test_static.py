"""The vendored files are what their README says, and the pages use nothing Chromium 90 lacks."""

from __future__ import annotations

import hashlib
import re

import pytest

from engine.app.web.pages import STATIC, TEMPLATES
from tests.conftest import ROOT

HTMX = STATIC / "htmx-2.0.11.min.js"
HTMX_SHA256 = "d6fdc75f204e6bdefa99b69bf1e6d4ac69b8a364f77929f45c13476b4000f717"


def test_the_vendored_htmx_is_the_recorded_release() -> None:
    digest = hashlib.sha256(HTMX.read_bytes()).hexdigest()
    assert digest == HTMX_SHA256, "htmx changed: update static/README.md and this test together"
    assert HTMX_SHA256 in (STATIC / "README.md").read_text(encoding="utf-8")
    assert f'src="/static/{HTMX.name}"' in (TEMPLATES / "_base.html").read_text(encoding="utf-8")


# CSS features newer than Chromium 90 (the 360 and Qi An Xin browsers' engines on government PCs).
TOO_NEW_CSS = {
    ":has(": "Chromium 105",
    "@container": "Chromium 105",
    "@layer": "Chromium 99",
    "dvh": "Chromium 108",
    "svh": "Chromium 108",
    "color-mix(": "Chromium 111",
    "text-wrap": "Chromium 114",
    ":is(": "Chromium 88 unprefixed, but :where/:is inside lists break older parsers: avoid",
}


@pytest.mark.parametrize("sheet", ["duban.css", "phone.css"])
def test_the_stylesheet_uses_nothing_chromium_90_lacks(sheet: str) -> None:
    css = re.sub(r"/\*.*?\*/", "", (STATIC / sheet).read_text(encoding="utf-8"), flags=re.S)
    for feature, since in TOO_NEW_CSS.items():
        assert feature not in css, f"{feature} needs {since}"
    assert not re.search(r"\{[^}]*&[^}]*\{", css), "CSS nesting needs Chromium 112"


def test_templates_have_no_inline_script_or_style_that_the_policy_would_block() -> None:
    for template in TEMPLATES.rglob("*.html"):  # the phone and review pages' folders too
        text = template.read_text(encoding="utf-8")
        assert "<script>" not in text and " style=" not in text and "<style" not in text, template.name
        assert not re.search(r'\son[a-z]+="', text), f"{template.name}: inline event handler"


def test_every_page_declares_the_webkit_renderer() -> None:
    base = (TEMPLATES / "_base.html").read_text(encoding="utf-8")
    assert '<meta name="renderer" content="webkit">' in base
    for template in TEMPLATES.glob("*.html"):
        if not template.name.startswith("_"):
            assert template.read_text(encoding="utf-8").startswith('{% extends "_base.html" %}'), template.name


def test_static_readme_lists_every_file() -> None:
    readme = (STATIC / "README.md").read_text(encoding="utf-8")
    for path in STATIC.iterdir():
        if path.name != "README.md":
            assert f"`{path.name}`" in readme, path.name


def test_docs_list_every_route_with_its_permission() -> None:
    import engine.app.web  # noqa: F401  (declares the routes)
    from engine.app.web.security import ROUTES

    docs = (ROOT / "docs" / "WEB.md").read_text(encoding="utf-8")
    for route in ROUTES:
        assert f"| {route.method} | `{route.path}` | {route.summary} | `{route.permission}` |" in docs, (
            f"docs/WEB.md lacks {route.method} {route.path}: add its row to the route table"
        )
