"""The Chinese words for what duban stores and decides, and the one way dates are written.

``wording.toml`` beside this module names, for every stored value (rule ids, actions,
statuses, event kinds, causes …), the text users read. A ``wording.toml`` in the templates
folder overrides any of its entries, as template files there override the shipped templates.
The engine and the templates read words only from here; a test checks that every stored value
has one.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path
from typing import Any

SHIPPED = Path(__file__).with_name("wording.toml")
FILE_NAME = "wording.toml"


class WordingError(Exception):
    """A wording override that cannot be used; the message names the file, key and value."""


class Wording:
    """The words of every section (``wording.action["review"]``); a value without a word prints as itself."""

    def __init__(self, sections: dict[str, dict[str, str]]) -> None:
        self._sections = sections

    @classmethod
    def load(cls, override_dir: Path | None = None) -> Wording:
        """Read the shipped words, then an override file in ``override_dir`` (its entries win)."""
        sections = _read(SHIPPED)
        override = override_dir / FILE_NAME if override_dir else None
        if override is not None and override.is_file():
            for section, words in _read(override).items():
                if section not in sections:
                    raise WordingError(f"{override}: 没有 [{section}] 这一节（可用：{'、'.join(sections)}）")
                for key in words:
                    if key not in sections[section]:
                        raise WordingError(
                            f"{override}: [{section}] 中没有 {key}（可用：{'、'.join(sections[section])}）"
                        )
                sections[section].update(words)
        return cls(sections)

    def sections(self) -> list[str]:
        """Return the names of the sections."""
        return list(self._sections)

    def section(self, name: str) -> dict[str, str]:
        """Return one section's words (value → text)."""
        return dict(self._sections[name])

    def word(self, section: str, value: object, **fill: object) -> str:
        """Return the text of one stored value ('' for None), its placeholders filled."""
        if value is None:
            return ""
        text = self._sections[section].get(str(value), str(value))
        return text.format(**fill) if fill else text

    def __getattr__(self, section: str) -> dict[str, str]:
        try:
            return self._sections[section]
        except KeyError:
            raise AttributeError(section) from None


def _read(path: Path) -> dict[str, dict[str, str]]:
    try:
        data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise WordingError(f"{path}: 不是有效的 TOML：{exc}") from None
    sections: dict[str, dict[str, str]] = {}
    for section, words in data.items():
        if not isinstance(words, dict):
            raise WordingError(f"{path}: {section} 应为一节 [{section}]，不是单个值")
        for key, text in words.items():
            if not isinstance(text, str):
                raise WordingError(f"{path}: [{section}] {key} 的值 {text!r} 应为文字")
        sections[section] = dict(words)
    return sections


def cn_date(value: dt.date | None) -> str:
    """Write a date the way official documents (公文) do: 2024年7月31日, no leading zeros; '' for none."""
    if value is None:
        return ""
    return f"{value.year}年{value.month}月{value.day}日"
