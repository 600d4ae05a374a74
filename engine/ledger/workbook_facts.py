"""What a workbook's XML says that its cell values do not: hidden sheets, and formulas without a saved result.

python-calamine reads the values Excel saved. A formula whose result was never saved (a file
written by a program, not opened in Excel or WPS since) reads as an empty cell — a completion
date lost, or 「必填项为空」 — so such cells are found here, in the sheet's XML, and refused by
name. Hidden sheets are found in ``xl/workbook.xml``. The XML is streamed (``iterparse``) and only
for a sheet that contains a formula at all; entities are never expanded (ElementTree does not
fetch external ones, and the archive's sizes are bounded before this is read).
"""

from __future__ import annotations

import posixpath
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree

_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_PACKAGE_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_CELL = re.compile(r"([A-Z]+)(\d+)")
_CHUNK = 1 << 20


class NotAWorkbook(Exception):
    """The file is not a zip archive of a workbook (broken, encrypted, or an old .xls)."""


@dataclass
class WorkbookFacts:
    """Hidden sheets by name, and the cells (A1 references) of formulas with no saved value, by sheet name."""

    hidden: list[str] = field(default_factory=list)
    uncached: dict[str, list[str]] = field(default_factory=dict)


def not_a_zip(path: Path) -> str | None:
    """Why an .xlsx/.xlsm file is not a zip archive at all (broken, an old .xls, encrypted), or None."""
    return None if zipfile.is_zipfile(path) else _what_it_is(path)


def workbook_facts(path: Path) -> WorkbookFacts:
    """Read the facts of an .xlsx/.xlsm file; raise NotAWorkbook when it is not one."""
    if not zipfile.is_zipfile(path):
        raise NotAWorkbook(_what_it_is(path))
    facts = WorkbookFacts()
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            if "xl/workbook.xml" not in names:
                raise NotAWorkbook("不是有效的 .xlsx 文件（压缩包中没有工作簿）")
            targets = _targets(archive) if "xl/_rels/workbook.xml.rels" in names else {}
            for sheet in ElementTree.fromstring(archive.read("xl/workbook.xml")).iter(f"{_MAIN}sheet"):
                name = sheet.get("name") or ""
                if sheet.get("state") in ("hidden", "veryHidden"):
                    facts.hidden.append(name)
                target = targets.get(sheet.get(f"{_REL}id") or "")
                if target in names and _has_formula(archive, target):
                    cells = _uncached(archive, target)
                    if cells:
                        facts.uncached[name] = cells
    except (zipfile.BadZipFile, ElementTree.ParseError, KeyError) as exc:
        raise NotAWorkbook(f"不是有效的 .xlsx 文件（{type(exc).__name__}）") from None
    return facts


def _what_it_is(path: Path) -> str:
    with path.open("rb") as handle:
        head = handle.read(8)
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):  # OLE2: an .xls, or an encrypted .xlsx
        return "是旧版 .xls 工作簿或设有打开密码的工作簿：请在 Excel/WPS 中取消密码并另存为 .xlsx 后再导入"
    return "不是有效的 .xlsx 文件（文件已损坏，或并非 Excel 工作簿）"


def _targets(archive: zipfile.ZipFile) -> dict[str, str]:
    """The relationship id of each sheet → its part's path in the archive."""
    found = {}
    for rel in ElementTree.fromstring(archive.read("xl/_rels/workbook.xml.rels")).iter(f"{_PACKAGE_REL}Relationship"):
        target = rel.get("Target") or ""
        path = target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join("xl", target))
        found[rel.get("Id") or ""] = path
    return found


def _has_formula(archive: zipfile.ZipFile, member: str) -> bool:
    """Whether a sheet's XML holds a formula at all (a byte search, chunk by chunk)."""
    tail = b""
    with archive.open(member) as stream:
        while chunk := stream.read(_CHUNK):
            window = tail + chunk
            if b"<f>" in window or b"<f " in window or b":f>" in window or b":f " in window:
                return True
            tail = window[-3:]
    return False


def _uncached(archive: zipfile.ZipFile, member: str) -> list[str]:
    """The cells of a sheet whose formula has no saved value (no <v>, or an empty one that is not text)."""
    cells: list[str] = []
    with archive.open(member) as stream:
        for _event, element in ElementTree.iterparse(stream, events=("end",)):
            if element.tag != f"{_MAIN}c":
                if element.tag == f"{_MAIN}row":
                    element.clear()
                continue
            formula = element.find(f"{_MAIN}f")
            if formula is not None:
                value = element.find(f"{_MAIN}v")
                inline = element.find(f"{_MAIN}is")
                # Excel saves a formula's empty text result as t="str" with an empty <v>: that is a value.
                empty = value is None or (not (value.text or "") and element.get("t") != "str")
                if empty and inline is None:
                    cells.append(element.get("r") or "?")
    return cells


def row_and_column(reference: str) -> tuple[int | None, str | None]:
    """Return a cell reference's row number and column letter (B12 → 12, "B")."""
    match = _CELL.fullmatch(reference)
    return (int(match.group(2)), match.group(1)) if match else (None, None)
