"""Hostile workbooks, written byte by byte: a far cell (A1 and XFD1048576) and a zip bomb, each a few KB to 1 MB.

The zip is written here, not by ``zipfile``: the bomb's sheet is deflated once per 16 MiB block
(a full flush makes every block's bytes the same), so a 1 GiB sheet takes a quarter of a second.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

_NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
_R = 'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'
_PACKAGE = "http://schemas.openxmlformats.org/package/2006"
_OFFICE = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
BLOCK = 16 << 20


@dataclass(frozen=True)
class Packed:
    """A member already deflated (raw deflate), with the CRC and size of what it unpacks to."""

    data: bytes
    crc: int
    size: int


def _packed(raw: bytes) -> Packed:
    packer = zlib.compressobj(6, zlib.DEFLATED, -15)
    return Packed(packer.compress(raw) + packer.flush(), zlib.crc32(raw), len(raw))


def write_zip(path: Path, members: dict[str, bytes | Packed], declared: dict[str, int] | None = None) -> Path:
    """Write a zip archive (deflated members); ``declared`` overrides a member's stated unpacked size (a lie)."""
    out = bytearray()
    directory = bytearray()
    for name, content in members.items():
        member = content if isinstance(content, Packed) else _packed(content)
        size = (declared or {}).get(name, member.size)
        encoded = name.encode()
        offset = len(out)
        out += (
            struct.pack(
                "<4s5H3L2H", b"PK\x03\x04", 20, 0x800, 8, 0, 0x21, member.crc, len(member.data), size, len(encoded), 0
            )
            + encoded
            + member.data
        )
        directory += (
            struct.pack(
                "<4s6H3L5H2L",
                b"PK\x01\x02",
                20,
                20,
                0x800,
                8,
                0,
                0x21,
                member.crc,
                len(member.data),
                size,
                len(encoded),
                0,
                0,
                0,
                0,
                0,
                offset,
            )
            + encoded
        )
    out += directory + struct.pack(
        "<4s4H2LH", b"PK\x05\x06", 0, 0, len(members), len(members), len(directory), len(out), 0
    )
    path.write_bytes(bytes(out))
    return path


def workbook(path: Path, sheets: dict[str, bytes | Packed], declared: dict[str, int] | None = None) -> Path:
    """Write a workbook of the given sheets' XML (in order), with what Excel needs around them."""
    names = list(sheets)
    parts: dict[str, bytes | Packed] = {
        "[Content_Types].xml": (
            f'<?xml version="1.0" encoding="UTF-8"?><Types xmlns="{_PACKAGE}/content-types">'
            f'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            + "".join(
                f'<Override PartName="/xl/worksheets/sheet{i}.xml" '
                'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
                for i in range(1, len(names) + 1)
            )
            + "</Types>"
        ).encode(),
        "_rels/.rels": (
            f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{_PACKAGE}/relationships">'
            f'<Relationship Id="rId1" Type="{_OFFICE}/officeDocument" Target="xl/workbook.xml"/>'
            "</Relationships>"
        ).encode(),
        "xl/workbook.xml": (
            f'<?xml version="1.0" encoding="UTF-8"?><workbook {_NS} {_R}><sheets>'
            + "".join(f'<sheet name="{n}" sheetId="{i}" r:id="rId{i}"/>' for i, n in enumerate(names, start=1))
            + "</sheets></workbook>"
        ).encode(),
        "xl/_rels/workbook.xml.rels": (
            f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{_PACKAGE}/relationships">'
            + "".join(
                f'<Relationship Id="rId{i}" Type="{_OFFICE}/worksheet" Target="worksheets/sheet{i}.xml"/>'
                for i in range(1, len(names) + 1)
            )
            + "</Relationships>"
        ).encode(),
    }
    for i, name in enumerate(names, start=1):
        parts[f"xl/worksheets/sheet{i}.xml"] = sheets[name]
    return write_zip(
        path, parts, {f"xl/worksheets/sheet{names.index(k) + 1}.xml": v for k, v in (declared or {}).items()}
    )


def _cell(ref: str, text: str) -> str:
    return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'


def sheet_xml(rows: list[list[str]], dimension: str | None = None) -> bytes:
    """A sheet of text cells from A1, with a ``<dimension>`` if given."""
    from engine.ledger.header import letter

    body = "".join(
        f'<row r="{r}">' + "".join(_cell(f"{letter(c)}{r}", v) for c, v in enumerate(row) if v) + "</row>"
        for r, row in enumerate(rows, start=1)
    )
    head = f'<dimension ref="{dimension}"/>' if dimension else ""
    return f'<?xml version="1.0" encoding="UTF-8"?><worksheet {_NS}>{head}<sheetData>{body}</sheetData></worksheet>'.encode()


def far_cell(path: Path, sheet: str = "台账", dimension: str | None = "A1:XFD1048576") -> Path:
    """The attacker's 1.6 KB workbook: values only in A1 and XFD1048576 (calamine would allocate 512 GiB).

    ``dimension`` is what the sheet declares: the truth by default, a lie (``"A1:B2"``) or nothing (None).
    """
    head = f'<dimension ref="{dimension}"/>' if dimension else ""
    xml = (
        f'<?xml version="1.0" encoding="UTF-8"?><worksheet {_NS}>{head}<sheetData>'
        f'<row r="1">{_cell("A1", "项目编号")}</row><row r="1048576">{_cell("XFD1048576", "x")}</row>'
        "</sheetData></worksheet>"
    )
    return workbook(path, {sheet: xml.encode()})


def zip_bomb(path: Path, sheet: str = "台账", blocks: int = 64) -> Path:
    """A 1 MB workbook whose one sheet unpacks to ``blocks`` × 16 MiB (1 GiB by default) of blank space."""
    head = f'<?xml version="1.0" encoding="UTF-8"?><worksheet {_NS}><dimension ref="A1"/><sheetData>'.encode()
    tail = b"</sheetData></worksheet>"
    blank = b" " * BLOCK
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    start = packer.compress(head) + packer.flush(zlib.Z_FULL_FLUSH)
    block = packer.compress(blank) + packer.flush(zlib.Z_FULL_FLUSH)  # after a full flush, every block packs alike
    end = packer.compress(tail) + packer.flush()
    crc = zlib.crc32(head)
    for _ in range(blocks):
        crc = zlib.crc32(blank, crc)
    crc = zlib.crc32(tail, crc)
    member = Packed(start + block * blocks + end, crc, len(head) + BLOCK * blocks + len(tail))
    return workbook(path, {sheet: member})
