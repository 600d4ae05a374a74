"""Official-document (公文) Word writer following GB/T 9704-2012 《党政机关公文格式》.

The body comes from Jinja templates as a small Markdown subset; see ``write_docx`` for what is recognised.
Fonts are only named (仿宋_GB2312, 方正小标宋简体, 黑体, 楷体_GB2312, 宋体): they are installed on the bureau's Windows
machines, not on servers, and Word substitutes whatever is missing. Every name is written to ``w:eastAsia`` as well as
``w:ascii``/``w:hAnsi``, because Word picks the typeface of Chinese characters from ``w:eastAsia`` alone.
"""

from __future__ import annotations

import datetime
import io
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from docx import Document as new_document
from docx.document import Document
from docx.enum.section import WD_ORIENT
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.table import WD_CELL_VERTICAL_ALIGNMENT, WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.opc.oxml import serialize_part_xml
from docx.oxml import OxmlElement, parse_xml
from docx.oxml.ns import qn
from docx.oxml.xmlchemy import BaseOxmlElement
from docx.section import Section
from docx.shared import Length, Mm, Pt, RGBColor
from docx.styles.style import ParagraphStyle
from docx.table import Table
from docx.text.paragraph import Paragraph
from docx.text.run import Run

from notifications.files import write_atomic
from notifications.wording import cn_date

__all__ = [
    "BODY_FONT",
    "DRAFT_MARK",
    "HEADING_FONT",
    "PAGE_NUMBER_FONT",
    "SUBHEADING_FONT",
    "TITLE_FONT",
    "DocMeta",
    "build_document",
    "cn_date",
    "write_docx",
]

#: Printed at the top of page 1 and in every page header of a draft.
DRAFT_MARK = "草稿（待党组会确认）"

BODY_FONT = "仿宋_GB2312"
TITLE_FONT = "方正小标宋简体"
HEADING_FONT = "黑体"
SUBHEADING_FONT = "楷体_GB2312"
PAGE_NUMBER_FONT = "宋体"

#: Word falls back to these when a font above is missing (w:altName in the font table); charset 86 is GB2312.
_FONT_FALLBACKS = {
    BODY_FONT: "仿宋",
    SUBHEADING_FONT: "楷体",
    TITLE_FONT: "华文中宋",
    HEADING_FONT: "SimHei",
    PAGE_NUMBER_FONT: "SimSun",
}

# GB/T 9704-2012 §5.2: A4, 版心 156 mm × 225 mm, top margin 37 mm, left 28 mm (so right 26 mm, bottom 35 mm).
PAGE_WIDTH = Mm(210)
PAGE_HEIGHT = Mm(297)
MARGIN_TOP = Mm(37)
MARGIN_BOTTOM = Mm(35)
MARGIN_LEFT = Mm(28)
MARGIN_RIGHT = Mm(26)
TEXT_WIDTH = Mm(156)

SIZE_BODY = Pt(16)  # 3号
SIZE_TITLE = Pt(22)  # 2号
SIZE_ISSUER = Pt(26)
SIZE_PAGE_NUMBER = Pt(14)  # 4号
SIZE_TABLE = Pt(12)  # 小四
SIZE_TABLE_SMALL = Pt(10.5)  # 五号, for tables too wide at 小四
SIZE_CAPTION = Pt(14)
#: GB/T 9704 lays out 22 lines on the 225 mm 版心: a fixed 28 pt line pitch.
LINE = Pt(28)
TWO_LINES = Pt(56)
#: Two characters of 3号 text.
INDENT_2_CHARS = Pt(32)
IMAGE_WIDTH = Mm(150)
#: Left and right cell margins of Table Grid (2 × 108 twips) plus a little slack.
_CELL_PADDING = Pt(18)

RED = RGBColor(0xFF, 0x00, 0x00)
BLACK = RGBColor(0x00, 0x00, 0x00)

# Characters XML 1.0 cannot carry at all (C0 controls other than tab/newline, lone surrogates, U+FFFE/U+FFFF).
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_BLANK = " \t"

_HEADING_RE = re.compile(r"^(#{2,3})[ \t]+(.*)$")
_IMAGE_RE = re.compile(r"^!\[([^\]]*)\]\([ \t]*(.+?)[ \t]*\)$")
_BULLET_RE = re.compile(r"^-[ \t]+(.*)$")
_ORDERED_RE = re.compile(r"^(\d{1,9})\.[ \t]+(.*)$")
_NOTE_RE = re.compile(r"^>[ \t]?(.*)$")
_SEPARATOR_CELL_RE = re.compile(r"^:?-+:?$")
_BOLD_RE = re.compile(r"\*\*(.+?)\*\*")
# The renderer escapes ledger text with backslashes (notifications/render.py, md_escape): Word shows it as typed.
_ESCAPE_RE = re.compile(r"\\([!-/:-@\[-`{-~])")


@dataclass(frozen=True)
class DocMeta:
    """What goes around the body: 版头 (issuer, number), title, 主送, 落款 and date.

    A document without ``doc_number`` is not a 红头文件: it gets no red issuer header and no red rule, and starts
    with its title (agendas, reports).
    """

    title: str
    issuer: str
    doc_number: str | None
    recipient: str | None
    signature: str | None
    date: datetime.date
    draft: bool = False


# --- parsing ---------------------------------------------------------------------------------------------------


@dataclass
class _TextBlock:
    kind: Literal["paragraph", "note", "bullet", "ordered"]
    lines: list[str]
    marker: str = ""


@dataclass(frozen=True)
class _Heading:
    level: int
    text: str


@dataclass(frozen=True)
class _Image:
    alt: str
    src: str


@dataclass
class _Table:
    header: list[str]
    aligns: list[str | None]
    rows: list[list[str]] = field(default_factory=list)


_Block = _TextBlock | _Heading | _Image | _Table


def _sanitize(text: str) -> str:
    return _XML_ILLEGAL.sub("", text)


def _is_wide(char: str) -> bool:
    return unicodedata.east_asian_width(char) in ("W", "F")


def _join_lines(lines: Sequence[str]) -> str:
    # Markdown joins wrapped lines with a space; between Chinese characters that space would be a visible gap.
    text = ""
    for line in lines:
        if text and line and not (_is_wide(text[-1]) or _is_wide(line[0])):
            text += " "
        text += line
    return text


def _decode(text: str) -> tuple[str, str]:
    """Return the text with its escapes undone, and a mask as long where each escaped character is NUL.

    Bold is looked for in the mask, so an escaped ``*`` is never markup; the spans found there are
    the same in the text. (No stand-in character is borrowed: any character a ledger holds survives.)
    """
    shown: list[str] = []
    mask: list[str] = []
    position = 0
    for match in _ESCAPE_RE.finditer(text):
        plain = text[position : match.start()]
        shown += [plain, match.group(1)]
        mask += [plain, "\0"]
        position = match.end()
    shown.append(text[position:])
    mask.append(text[position:])
    return "".join(shown), "".join(mask)


def unescape(text: str) -> str:
    """Return Markdown text with its backslash escapes undone (``\\[x\\]`` → ``[x]``)."""
    return _decode(text)[0]


def _split_row(line: str) -> list[str]:
    # The renderer escapes a "|" inside a cell with a backslash: it does not end the cell. Escapes are kept
    # here and undone when the cell's text is written (``_bold_segments``), like any paragraph's.
    row = line.strip(_BLANK)
    if row.startswith("|"):
        row = row[1:]
    cells: list[str] = []
    current: list[str] = []
    closed = False
    index = 0
    while index < len(row):
        char = row[index]
        closed = False
        if char == "\\" and _ESCAPE_RE.match(row, index):
            current.append(row[index : index + 2])
            index += 2
            continue
        if char == "|":
            cells.append("".join(current).strip(_BLANK))
            current = []
            closed = True
        else:
            current.append(char)
        index += 1
    if not closed:
        # Only a row without a closing pipe has text after its last delimiter.
        cells.append("".join(current).strip(_BLANK))
    return cells


def _separator_aligns(line: str) -> list[str | None] | None:
    stripped = line.strip(_BLANK)
    if not stripped.startswith("|"):
        return None
    cells = _split_row(stripped)
    if not cells or not all(_SEPARATOR_CELL_RE.match(cell) for cell in cells):
        return None
    aligns: list[str | None] = []
    for cell in cells:
        if cell.startswith(":") and cell.endswith(":"):
            aligns.append("center")
        elif cell.endswith(":"):
            aligns.append("right")
        elif cell.startswith(":"):
            aligns.append("left")
        else:
            aligns.append(None)
    return aligns


def _parse_blocks(markdown: str) -> list[_Block]:
    lines = _sanitize(markdown).replace("\r\n", "\n").replace("\r", "\n").split("\n")
    blocks: list[_Block] = []
    open_text: _TextBlock | None = None
    index = 0
    while index < len(lines):
        line = lines[index].strip(_BLANK)
        index += 1
        if not line:
            open_text = None
            continue
        if (heading := _HEADING_RE.match(line)) and heading.group(2).strip(_BLANK):
            blocks.append(_Heading(len(heading.group(1)), heading.group(2).strip(_BLANK)))
            open_text = None
            continue
        if image := _IMAGE_RE.match(line):
            src = image.group(2)
            if src.startswith("<") and src.endswith(">"):
                src = src[1:-1]
            blocks.append(_Image(image.group(1).strip(_BLANK), src))
            open_text = None
            continue
        if line.startswith("|") and index < len(lines) and (aligns := _separator_aligns(lines[index])) is not None:
            table = _Table(_split_row(line), aligns)
            index += 1
            while index < len(lines) and lines[index].strip(_BLANK).startswith("|"):
                table.rows.append(_split_row(lines[index]))
                index += 1
            blocks.append(table)
            open_text = None
            continue
        if bullet := _BULLET_RE.match(line):
            open_text = _TextBlock("bullet", [bullet.group(1)])
            blocks.append(open_text)
            continue
        if ordered := _ORDERED_RE.match(line):
            open_text = _TextBlock("ordered", [ordered.group(2)], marker=f"{ordered.group(1)}.")
            blocks.append(open_text)
            continue
        if note := _NOTE_RE.match(line):
            content = note.group(1).strip(_BLANK)
            if not content:
                # An empty "> " line separates two notes, as a blank line separates paragraphs.
                open_text = None
            elif open_text is not None and open_text.kind == "note":
                open_text.lines.append(content)
            else:
                open_text = _TextBlock("note", [content])
                blocks.append(open_text)
            continue
        # A plain line continues whatever paragraph, item or note is open (Markdown's lazy continuation).
        if open_text is not None:
            open_text.lines.append(line)
        else:
            open_text = _TextBlock("paragraph", [line])
            blocks.append(open_text)
    return blocks


def _bold_segments(text: str) -> list[tuple[str, bool]]:
    # An escaped "**" is text, not bold: bold is looked for where escaped characters are masked.
    text, mask = _decode(text)
    segments: list[tuple[str, bool]] = []
    position = 0
    for match in _BOLD_RE.finditer(mask):
        if match.start() > position:
            segments.append((text[position : match.start()], False))
        segments.append((text[match.start(1) : match.end(1)], True))
        position = match.end()
    if position < len(text) or not segments:
        segments.append((text[position:], False))
    return segments


# --- low-level formatting ----------------------------------------------------------------------------------------


def _set_rfonts(rfonts: BaseOxmlElement, font: str) -> None:
    # Theme attributes (asciiTheme, eastAsiaTheme, ...) override explicit names, so they must go.
    for attribute in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        rfonts.attrib.pop(qn(attribute), None)
    for attribute in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
        rfonts.set(qn(attribute), font)
    # Quotes, dashes and ellipses are "ambiguous" characters: the hint makes Word set them full-width in the CJK font.
    rfonts.set(qn("w:hint"), "eastAsia")


def _style_run(run: Run, font: str, size: Length, *, bold: bool | None = None, color: RGBColor | None = None) -> Run:
    run.font.name = font
    run.font.size = size
    run.font.bold = bold
    if color is not None:
        run.font.color.rgb = color
    _set_rfonts(run._r.get_or_add_rPr().get_or_add_rFonts(), font)
    return run


def _add_text(
    paragraph: Paragraph,
    text: str,
    font: str,
    size: Length,
    *,
    bold: bool | None = None,
    color: RGBColor | None = None,
    inline_bold: bool = True,
) -> None:
    segments = _bold_segments(text) if inline_bold else [(text, False)]
    for segment, is_bold in segments:
        _style_run(paragraph.add_run(segment), font, size, bold=True if is_bold else bold, color=color)


def _border(tag: str, color: str, size_eighths: int, space_pt: int) -> BaseOxmlElement:
    element = OxmlElement(tag)
    element.set(qn("w:val"), "single")
    element.set(qn("w:sz"), str(size_eighths))
    element.set(qn("w:space"), str(space_pt))
    element.set(qn("w:color"), color)
    return element


def _paragraph_bottom_border(paragraph: Paragraph, color: str, size_eighths: int, space_pt: int) -> None:
    border = OxmlElement("w:pBdr")
    border.append(_border("w:bottom", color, size_eighths, space_pt))
    paragraph._p.get_or_add_pPr().insert_element_before(
        border,
        *("w:shd", "w:tabs", "w:suppressAutoHyphens", "w:kinsoku", "w:wordWrap", "w:overflowPunct"),
        *("w:topLinePunct", "w:autoSpaceDE", "w:autoSpaceDN", "w:bidi", "w:adjustRightInd", "w:snapToGrid"),
        *("w:spacing", "w:ind", "w:contextualSpacing", "w:mirrorIndents", "w:suppressOverlap", "w:jc"),
        *("w:textDirection", "w:textAlignment", "w:textboxTightWrap", "w:outlineLvl", "w:divId", "w:cnfStyle"),
        *("w:rPr", "w:sectPr", "w:pPrChange"),
    )


def _box_run(run: Run, color: str) -> None:
    """Frame a run with a character border, which Word and LibreOffice both draw."""
    run._r.get_or_add_rPr().insert_element_before(
        _border("w:bdr", color, 12, 0),
        *("w:shd", "w:fitText", "w:vertAlign", "w:rtl", "w:cs", "w:em", "w:lang", "w:eastAsianLayout"),
        *("w:specVanish", "w:oMath"),
    )


def _format(
    paragraph: Paragraph,
    *,
    align: WD_ALIGN_PARAGRAPH | None = None,
    first_line: Length | None = None,
    line: Length | float | None = None,
    before: Length | None = None,
    after: Length | None = None,
    right: Length | None = None,
    left: Length | None = None,
    keep_with_next: bool | None = None,
) -> Paragraph:
    fmt = paragraph.paragraph_format
    if align is not None:
        fmt.alignment = align
    if first_line is not None:
        fmt.first_line_indent = first_line
    if line is not None:
        # A Length means "exactly"; a float is a multiple of single spacing (needed for pictures and tables).
        fmt.line_spacing = line
    if before is not None:
        fmt.space_before = before
    if after is not None:
        fmt.space_after = after
    if right is not None:
        fmt.right_indent = right
    if left is not None:
        fmt.left_indent = left
    if keep_with_next is not None:
        fmt.keep_with_next = keep_with_next
    return paragraph


def _add_field(paragraph: Paragraph, instruction: str, placeholder: str, font: str, size: Length) -> None:
    """Append a complex field (e.g. PAGE) whose cached result is ``placeholder`` until Word updates it."""

    def field_char(kind: str) -> None:
        element = OxmlElement("w:fldChar")
        element.set(qn("w:fldCharType"), kind)
        _style_run(paragraph.add_run(), font, size)._r.append(element)

    field_char("begin")
    instr = OxmlElement("w:instrText")
    instr.set(qn("xml:space"), "preserve")
    instr.text = f" {instruction} "
    _style_run(paragraph.add_run(), font, size)._r.append(instr)
    field_char("separate")
    _style_run(paragraph.add_run(placeholder), font, size)
    field_char("end")


# --- document set-up ---------------------------------------------------------------------------------------------


def _paragraph_style(document: Document, name: str) -> ParagraphStyle:
    style = document.styles[name]
    if not isinstance(style, ParagraphStyle):
        raise TypeError(f"style {name!r} is not a paragraph style")
    return style


def _restyle(style: ParagraphStyle, font: str, *, first_line: Length | None) -> None:
    style.font.name = font
    style.font.size = SIZE_BODY
    style.font.bold = False
    style.font.cs_bold = False
    style.font.italic = False
    style.font.color.rgb = BLACK
    element = style.element.get_or_add_rPr()
    _set_rfonts(element.get_or_add_rFonts(), font)
    fmt = style.paragraph_format
    fmt.line_spacing = LINE
    fmt.space_before = Pt(0)
    fmt.space_after = Pt(0)
    fmt.first_line_indent = first_line


def _set_up_styles(document: Document) -> None:
    styles_element = document.styles.element
    defaults = styles_element.find(qn("w:docDefaults"))
    if defaults is not None:
        # Styles that are not based on Normal (table styles, footnotes) fall back to the document defaults.
        rpr = defaults.find(qn("w:rPrDefault") + "/" + qn("w:rPr"))
        if rpr is not None:
            rfonts = rpr.find(qn("w:rFonts"))
            if rfonts is not None:
                _set_rfonts(rfonts, BODY_FONT)
            lang = rpr.find(qn("w:lang"))
            if lang is not None:
                # zh-CN makes renderers choose Simplified Chinese glyph forms (not Japanese) for shared Han characters.
                lang.set(qn("w:eastAsia"), "zh-CN")
    normal = _paragraph_style(document, "Normal")
    _restyle(normal, BODY_FONT, first_line=None)
    normal.paragraph_format.widow_control = False
    _restyle(_paragraph_style(document, "Heading 2"), HEADING_FONT, first_line=INDENT_2_CHARS)
    _restyle(_paragraph_style(document, "Heading 3"), SUBHEADING_FONT, first_line=INDENT_2_CHARS)
    for name in ("Heading 2", "Heading 3"):
        fmt = _paragraph_style(document, name).paragraph_format
        fmt.keep_with_next = True
        fmt.keep_together = True
    for style in document.styles:
        # Heading character styles linked to the paragraph styles still carry the blue theme colour and fonts.
        if style.type == WD_STYLE_TYPE.CHARACTER and style.name in ("Heading 2 Char", "Heading 3 Char"):
            style.element.remove_all("w:rPr")


def _set_up_page(section: Section) -> None:
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width = PAGE_WIDTH
    section.page_height = PAGE_HEIGHT
    section.top_margin = MARGIN_TOP
    section.bottom_margin = MARGIN_BOTTOM
    section.left_margin = MARGIN_LEFT
    section.right_margin = MARGIN_RIGHT
    section.gutter = Mm(0)
    section.header_distance = Mm(15)
    # GB/T 9704 §7.5: the page number sits about 7 mm below the 版心, i.e. its top ~28 mm above the page edge.
    section.footer_distance = Mm(21)


def _set_up_page_numbers(document: Document, section: Section) -> None:
    # GB/T 9704 §7.5: "— 1 —" in 4号 宋体, odd pages right-aligned and even pages left-aligned, one character in.
    document.settings.odd_and_even_pages_header_footer = True
    for footer, align in (
        (section.footer, WD_ALIGN_PARAGRAPH.RIGHT),
        (section.even_page_footer, WD_ALIGN_PARAGRAPH.LEFT),
    ):
        footer.is_linked_to_previous = False
        paragraph = footer.paragraphs[0]
        inset = SIZE_PAGE_NUMBER
        _format(
            paragraph,
            align=align,
            first_line=Pt(0),
            line=1.0,
            right=inset if align == WD_ALIGN_PARAGRAPH.RIGHT else Pt(0),
            left=inset if align == WD_ALIGN_PARAGRAPH.LEFT else Pt(0),
        )
        _add_text(paragraph, "— ", PAGE_NUMBER_FONT, SIZE_PAGE_NUMBER, inline_bold=False)
        _add_field(paragraph, "PAGE", "1", PAGE_NUMBER_FONT, SIZE_PAGE_NUMBER)
        _add_text(paragraph, " —", PAGE_NUMBER_FONT, SIZE_PAGE_NUMBER, inline_bold=False)


def _add_draft_mark(paragraph: Paragraph, size: Length) -> None:
    run = _style_run(paragraph.add_run(DRAFT_MARK), HEADING_FONT, size, bold=True, color=RED)
    _box_run(run, "FF0000")


def _set_up_draft_headers(document: Document, section: Section) -> None:
    for header in (section.header, section.even_page_header):
        header.is_linked_to_previous = False
        paragraph = _format(header.paragraphs[0], align=WD_ALIGN_PARAGRAPH.CENTER, first_line=Pt(0), line=1.0)
        _add_draft_mark(paragraph, Pt(12))


def _declare_fallback_fonts(document: Document) -> None:
    """Add the Chinese fonts to the font table with Word's substitutes (w:altName) and the GB2312 charset."""
    rel = next((rel for rel in document.part.rels.values() if rel.reltype == RT.FONT_TABLE), None)
    if rel is None:
        return
    part = rel.target_part
    fonts = parse_xml(part.blob)
    known = {element.get(qn("w:name")) for element in fonts.findall(qn("w:font"))}
    for name, alt_name in _FONT_FALLBACKS.items():
        if name in known:
            continue
        font = OxmlElement("w:font", {qn("w:name"): name})
        font.append(OxmlElement("w:altName", {qn("w:val"): alt_name}))
        font.append(OxmlElement("w:charset", {qn("w:val"): "86"}))
        font.append(OxmlElement("w:family", {qn("w:val"): "modern" if name == HEADING_FONT else "roman"}))
        font.append(OxmlElement("w:pitch", {qn("w:val"): "variable"}))
        fonts.append(font)
    # The font table has no python-docx part class, so the blob is replaced wholesale.
    part._blob = serialize_part_xml(fonts)


def _set_properties(document: Document, meta: DocMeta) -> None:
    package_rels = document.part.package.rels
    # The template's thumbnail shows python-docx's sample page in Finder/Quick Look: drop it.
    for rid in [rid for rid, rel in package_rels.items() if rel.reltype == RT.THUMBNAIL]:
        del package_rels[rid]
    properties = document.core_properties
    now = datetime.datetime.now(datetime.UTC)
    properties.title = _sanitize(meta.title)
    properties.subject = _sanitize(meta.doc_number or "")
    properties.author = _sanitize(meta.issuer)
    properties.last_modified_by = _sanitize(meta.issuer)
    properties.comments = ""
    properties.keywords = "草稿" if meta.draft else ""
    properties.created = now
    properties.modified = now
    properties.revision = 1


# --- blocks ------------------------------------------------------------------------------------------------------


def _append_paragraph(document: Document, style: str | None = None) -> Paragraph:
    """Add a paragraph at the end of the body in constant time.

    python-docx's ``add_paragraph`` looks for the closing ``w:sectPr`` by scanning the body from
    its start, so a document of n paragraphs costs n²: an agenda of 12,000 items took 20 s. The
    section properties are always the body's last child, so insert right before it.
    """
    body = document.element.body
    element = OxmlElement("w:p")
    try:
        last = body[-1]  # lxml finds the last child from the end: constant time (len() would walk them all)
    except IndexError:
        last = None
    if last is not None and last.tag == qn("w:sectPr"):
        last.addprevious(element)
    else:
        body.append(element)
    paragraph = Paragraph(element, document._body)
    if style is not None:
        paragraph.style = style
    return paragraph


def _add_body_paragraph(document: Document) -> Paragraph:
    return _format(_append_paragraph(document), first_line=INDENT_2_CHARS)


def _add_text_block(document: Document, block: _TextBlock) -> None:
    text = _join_lines(block.lines)
    if block.kind == "note":
        _add_text(_add_body_paragraph(document), text, SUBHEADING_FONT, SIZE_BODY)
        return
    # GB/T 9704 numbers its fourth level "1." directly followed by the text; bullets are not a 公文 form, so they
    # keep a plain marker in the running text rather than a Word list whose numbering would continue across lists.
    prefix = {"paragraph": "", "bullet": "• ", "ordered": block.marker}[block.kind]
    _add_text(_add_body_paragraph(document), prefix + text, BODY_FONT, SIZE_BODY)


def _add_heading(document: Document, block: _Heading) -> None:
    style = "Heading 2" if block.level == 2 else "Heading 3"
    font = HEADING_FONT if block.level == 2 else SUBHEADING_FONT
    paragraph = _append_paragraph(document, style)
    _add_text(paragraph, block.text, font, SIZE_BODY, bold=False)


def _add_image(document: Document, block: _Image, base_dir: Path) -> None:
    source = Path(block.src).expanduser()
    if not source.is_absolute():
        source = base_dir / source
    if not source.is_file():
        # A notice silently missing its chart is worse than no notice: fail so the job is retried or reported.
        raise FileNotFoundError(f"image for the document not found: {source}")
    paragraph = _format(
        _append_paragraph(document),
        align=WD_ALIGN_PARAGRAPH.CENTER,
        first_line=Pt(0),
        line=1.0,  # an exact 28 pt line would crop the picture to one line's height
        before=Pt(6),
        keep_with_next=bool(block.alt),
    )
    paragraph.add_run().add_picture(str(source), width=IMAGE_WIDTH)
    doc_pr = paragraph._p.find(".//" + qn("wp:docPr"))
    if doc_pr is not None and block.alt:
        doc_pr.set("descr", block.alt)
    if block.alt:
        caption = _format(_append_paragraph(document), align=WD_ALIGN_PARAGRAPH.CENTER, first_line=Pt(0), after=Pt(6))
        _add_text(caption, block.alt, SUBHEADING_FONT, SIZE_CAPTION)


def _typeset_width(text: str) -> float:
    """Estimate the width of ``text`` in ems, generously (Latin letters and digits 0.6 em) so dates do not wrap."""
    width = 0.0
    previous: bool | None = None
    for char in text:
        wide = unicodedata.east_asian_width(char) in ("W", "F", "A")
        width += 1.0 if wide else 0.6
        if previous is not None and wide != previous:
            # Word and LibreOffice insert a little space between Chinese and Latin text or digits.
            width += 0.3
        previous = wide
    return width


def _natural_widths(table: _Table, columns: int, size: Length) -> list[float]:
    natural: list[float] = []
    for column in range(columns):
        texts = [unescape(row[column].replace("**", "")) for row in [table.header, *table.rows] if column < len(row)]
        ems = max([2.0, *(_typeset_width(text) for text in texts)])
        natural.append(float(Pt(ems * size.pt)) + float(_CELL_PADDING))
    return natural


def _table_layout(table: _Table, columns: int) -> tuple[Length, list[int]]:
    """Choose the cell font size (小四, or 五号 if that avoids wrapping) and the column widths in EMU."""
    available = float(TEXT_WIDTH)
    for size in (SIZE_TABLE, SIZE_TABLE_SMALL):
        natural = _natural_widths(table, columns, size)
        total = sum(natural)
        if total <= available:
            return size, [int(width * available / total) for width in natural]
    # Still too wide: short columns (序号, dates, figures) keep their width and only the widest columns wrap, all
    # capped at the one width that makes the table fit the 版心.
    remaining = available
    ordered = sorted(natural)
    cap = ordered[-1]
    for index, width in enumerate(ordered):
        left = len(ordered) - index
        if width * left >= remaining:
            cap = remaining / left
            break
        remaining -= width
    return SIZE_TABLE_SMALL, [int(min(width, cap)) for width in natural]


def _column_alignments(table: _Table, aligns: Sequence[str | None]) -> list[WD_ALIGN_PARAGRAPH]:
    explicit = {"left": WD_ALIGN_PARAGRAPH.LEFT, "center": WD_ALIGN_PARAGRAPH.CENTER, "right": WD_ALIGN_PARAGRAPH.RIGHT}
    result: list[WD_ALIGN_PARAGRAPH] = []
    for column, align in enumerate(aligns):
        if align is not None:
            result.append(explicit[align])
            continue
        widest = max((_typeset_width(unescape(row[column])) for row in table.rows if column < len(row)), default=0.0)
        # Chinese tables centre short entries (序号, dates, figures) and left-align running text.
        result.append(WD_ALIGN_PARAGRAPH.CENTER if widest <= 10 else WD_ALIGN_PARAGRAPH.LEFT)
    return result


def _add_table(document: Document, block: _Table) -> Table:
    # Rows longer than the header widen the table: cell text must never be dropped.
    columns = max(len(block.header), *(len(row) for row in block.rows)) if block.rows else len(block.header)
    aligns = [*block.aligns, *([None] * columns)][:columns]
    table = document.add_table(rows=1 + len(block.rows), cols=columns)
    table.style = document.styles["Table Grid"]
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    table.autofit = False
    borders = OxmlElement("w:tblBorders")
    for edge in ("w:top", "w:left", "w:bottom", "w:right", "w:insideH", "w:insideV"):
        borders.append(_border(edge, "000000", 6, 0))
    # Explicit borders as well as the Table Grid style: the style is absent if someone swaps the template.
    table._tbl.tblPr.insert_element_before(
        borders, "w:shd", "w:tblLayout", "w:tblCellMar", "w:tblLook", "w:tblCaption", "w:tblDescription"
    )
    size, widths = _table_layout(block, columns)
    for column, width in zip(table.columns, widths, strict=True):
        column.width = Length(width)
    alignments = _column_alignments(block, aligns)
    for row_index, (row, cells) in enumerate(zip(table.rows, [block.header, *block.rows], strict=True)):
        is_header = row_index == 0
        tr_pr = row._tr.get_or_add_trPr()
        tr_pr.append(OxmlElement("w:cantSplit"))
        if is_header:
            # Repeat the header row on every page a long table runs onto.
            tr_pr.append(OxmlElement("w:tblHeader"))
        for column, cell in enumerate(row.cells):
            cell.width = Length(widths[column])
            cell.vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.CENTER
            paragraph = _format(
                cell.paragraphs[0],
                align=WD_ALIGN_PARAGRAPH.CENTER if is_header else alignments[column],
                first_line=Pt(0),
                line=1.0,
                before=Pt(3),
                after=Pt(3),
            )
            text = cells[column] if column < len(cells) else ""
            _add_text(paragraph, text, BODY_FONT, size, bold=True if is_header else None)
    # Space after the table: the next body paragraph would otherwise touch the bottom border.
    _format(_append_paragraph(document), first_line=Pt(0), line=Pt(14))
    return table


# --- the document ------------------------------------------------------------------------------------------------


def _add_front_matter(document: Document, meta: DocMeta) -> None:
    if meta.draft:
        _add_draft_mark(_format(_append_paragraph(document), first_line=Pt(0), after=Pt(6)), SIZE_BODY)
    title_before = Pt(0)
    # Only a numbered document (发文字号) is a 红头文件; agendas and reports start with their title.
    if meta.doc_number:
        issuer = _format(_append_paragraph(document), align=WD_ALIGN_PARAGRAPH.CENTER, first_line=Pt(0), line=Pt(40))
        _add_text(issuer, _sanitize(meta.issuer), TITLE_FONT, SIZE_ISSUER, color=RED, inline_bold=False)
        # GB/T 9704 §7.2.4: the number two lines under the issuer; the red rule 4 mm under it, full 版心 width.
        number = _format(
            _append_paragraph(document), align=WD_ALIGN_PARAGRAPH.CENTER, first_line=Pt(0), before=TWO_LINES
        )
        _add_text(number, _sanitize(meta.doc_number), BODY_FONT, SIZE_BODY, inline_bold=False)
        _paragraph_bottom_border(number, "FF0000", 12, 11)
        # §7.3.1: the title two lines under the red rule.
        title_before = TWO_LINES
    # §7.3.2: 主送 (or the body) one line under the title, flush left.
    title = _format(
        _append_paragraph(document),
        align=WD_ALIGN_PARAGRAPH.CENTER,
        first_line=Pt(0),
        line=Pt(36),
        before=title_before,
        after=LINE,
    )
    _add_text(title, _sanitize(meta.title), TITLE_FONT, SIZE_TITLE, inline_bold=False)
    if meta.recipient:
        recipient = _format(_append_paragraph(document), first_line=Pt(0))
        _add_text(recipient, _sanitize(meta.recipient), BODY_FONT, SIZE_BODY, inline_bold=False)


def _add_closing(document: Document, meta: DocMeta) -> None:
    date_text = cn_date(meta.date)
    signature = _sanitize(meta.signature) if meta.signature else ""
    # §7.3.5.1: the date four characters from the right edge, the signature centred over the date.
    date_inset = 4.0
    signature_inset = date_inset + (_typeset_width(date_text) - _typeset_width(signature)) / 2
    if signature_inset < 2.0:
        date_inset += 2.0 - signature_inset
        signature_inset = 2.0
    # Two lines of space leave room for the seal, which overlaps signature and date.
    if signature:
        paragraph = _format(
            _append_paragraph(document),
            align=WD_ALIGN_PARAGRAPH.RIGHT,
            first_line=Pt(0),
            right=Pt(16 * signature_inset),
            before=TWO_LINES,
            keep_with_next=True,
        )
        _add_text(paragraph, signature, BODY_FONT, SIZE_BODY, inline_bold=False)
    date = _format(
        _append_paragraph(document),
        align=WD_ALIGN_PARAGRAPH.RIGHT,
        first_line=Pt(0),
        right=Pt(16 * date_inset),
        before=Pt(0) if signature else TWO_LINES,
    )
    _add_text(date, date_text, BODY_FONT, SIZE_BODY, inline_bold=False)


def build_document(body_markdown: str, meta: DocMeta, base_dir: Path) -> Document:
    """Build the python-docx document for ``body_markdown``; relative image paths resolve against ``base_dir``."""
    blocks = _parse_blocks(body_markdown)
    document = new_document()
    _set_up_styles(document)
    section = document.sections[0]
    _set_up_page(section)
    _set_up_page_numbers(document, section)
    if meta.draft:
        _set_up_draft_headers(document, section)
    _declare_fallback_fonts(document)
    _set_properties(document, meta)
    _add_front_matter(document, meta)
    for block in blocks:
        if isinstance(block, _TextBlock):
            _add_text_block(document, block)
        elif isinstance(block, _Heading):
            _add_heading(document, block)
        elif isinstance(block, _Image):
            _add_image(document, block, base_dir)
        else:
            _add_table(document, block)
    if blocks and document.paragraphs:
        # GB/T 9704 §7.3.5: the signature and date never stand alone on a page; they take the last line with them.
        document.paragraphs[-1].paragraph_format.keep_with_next = True
    _add_closing(document, meta)
    return document


def write_docx(body_markdown: str, meta: DocMeta, path: Path) -> None:
    """Write ``body_markdown`` as a GB/T 9704 公文 to ``path``, replacing any existing file atomically.

    Recognised: paragraphs (blank-line separated; wrapped lines join), ``## `` and ``### `` headings, ``- `` and
    ``1. `` items, pipe tables, ``![说明](图.png)`` on a line of its own (relative to ``path``'s directory; a missing
    file raises FileNotFoundError), ``**bold**`` and ``> `` notes. Everything else is printed as plain text.
    """
    document = build_document(body_markdown, meta, path.parent)
    buffer = io.BytesIO()
    document.save(buffer)
    write_atomic(path, buffer.getvalue())  # a reader (mailer, download) never sees half a file
