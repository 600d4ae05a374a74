"""The Word writer lays documents out after GB/T 9704 and keeps every character of the text."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest
from docx import Document
from docx.document import Document as DocumentObject
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
from docx.oxml.ns import qn
from docx.oxml.text.run import CT_R
from docx.shared import Mm, Pt
from docx.text.paragraph import Paragraph
from hypothesis import given, settings
from hypothesis import strategies as st

from notifications.charts import progress_chart
from notifications.docx import (
    BODY_FONT,
    DRAFT_MARK,
    HEADING_FONT,
    PAGE_NUMBER_FONT,
    SUBHEADING_FONT,
    TITLE_FONT,
    DocMeta,
    build_document,
    cn_date,
    write_docx,
)
from notifications.render import md_escape

META = DocMeta(
    title="关于张三同志未按期完成计划节点作出检查的通知",
    issuer="吕梁市住房和城乡建设局",
    doc_number="吕建督〔2024〕12号",
    recipient="张三同志：",
    signature="吕梁市住房和城乡建设局",
    date=dt.date(2024, 7, 31),
)
HOSTILE = "A&B <script>alert(1)</script> {{ 7*7 }}"
BODY = f"""\
正文 {HOSTILE} “引号”‘单引号’"双引号"'单'

## 一、认定依据

| 项目 | 节点 | 备注 |
|---|:---:|---:|
| LL-1 | N\\|1 | 反斜杠\\\\保留 |
| LL-2 | **N2** |
"""
TOLERANCE = Mm(0.5)


def _write(tmp_path: Path, body: str = BODY, meta: DocMeta = META, name: str = "a.docx") -> DocumentObject:
    path = tmp_path / name
    write_docx(body, meta, path)
    return Document(str(path))


def _round_trip(body: str, meta: DocMeta = META, base: Path = Path(".")) -> DocumentObject:
    buffer = io.BytesIO()
    build_document(body, meta, base).save(buffer)
    buffer.seek(0)
    return Document(buffer)


def _paragraph(doc: DocumentObject, text: str) -> Paragraph:
    return next(p for p in doc.paragraphs if p.text == text)


def _east_asia(element: CT_R) -> str | None:
    rpr = element.rPr
    return None if rpr is None or rpr.rFonts is None else rpr.rFonts.get(qn("w:eastAsia"))


def _all_text(doc: DocumentObject) -> str:
    cells = [cell.text for table in doc.tables for row in table.rows for cell in row.cells]
    section = doc.sections[0]
    margins = [p.text for part in (section.header, section.even_page_header) for p in part.paragraphs]
    return "\n".join([p.text for p in doc.paragraphs] + cells + margins)


# --- page and styles -----------------------------------------------------------------------------------------------


def test_page_is_a4_portrait_with_gbt_9704_margins(tmp_path: Path) -> None:
    section = _write(tmp_path).sections[0]
    expected = {
        "page_width": Mm(210),
        "page_height": Mm(297),
        "top_margin": Mm(37),
        "bottom_margin": Mm(35),
        "left_margin": Mm(28),
        "right_margin": Mm(26),
    }
    for name, length in expected.items():
        assert abs(getattr(section, name) - length) <= TOLERANCE, name


def test_normal_style_sets_the_east_asian_font_size_and_fixed_line_pitch(tmp_path: Path) -> None:
    doc = _write(tmp_path)
    normal = doc.styles["Normal"]
    fonts = normal.element.rPr.rFonts
    assert fonts.get(qn("w:eastAsia")) == BODY_FONT
    assert fonts.get(qn("w:ascii")) == BODY_FONT and fonts.get(qn("w:hAnsi")) == BODY_FONT
    assert normal.font.size == Pt(16)
    fmt = normal.paragraph_format
    assert fmt.line_spacing_rule == WD_LINE_SPACING.EXACTLY and fmt.line_spacing == Pt(28)
    # The template's theme fonts would override the names: none may be left in the document defaults.
    defaults = doc.styles.element.find(qn("w:docDefaults")).find(f"{qn('w:rPrDefault')}/{qn('w:rPr')}/{qn('w:rFonts')}")
    assert defaults.get(qn("w:eastAsia")) == BODY_FONT and defaults.get(qn("w:eastAsiaTheme")) is None


def test_every_run_names_its_east_asian_font(tmp_path: Path) -> None:
    doc = _write(tmp_path)
    runs = [run for p in doc.paragraphs for run in p.runs if run.text]
    runs += [run for t in doc.tables for row in t.rows for cell in row.cells for p in cell.paragraphs for run in p.runs]
    assert runs
    for run in runs:
        assert _east_asia(run.element) == run.font.name, run.text


# --- 版头, title, 主送, 落款 ----------------------------------------------------------------------------------------


def test_title_is_22pt_xiaobiaosong_centred(tmp_path: Path) -> None:
    title = _paragraph(_write(tmp_path), META.title)
    assert title.alignment == WD_ALIGN_PARAGRAPH.CENTER
    assert len(title.runs) == 1
    run = title.runs[0]
    assert run.font.size == Pt(22) and run.font.name == TITLE_FONT
    assert _east_asia(run.element) == TITLE_FONT


def test_red_issuer_header_and_number_with_red_rule(tmp_path: Path) -> None:
    doc = _write(tmp_path)
    issuer = doc.paragraphs[0]
    assert issuer.text == META.issuer and issuer.alignment == WD_ALIGN_PARAGRAPH.CENTER
    assert issuer.runs[0].font.color.rgb is not None and str(issuer.runs[0].font.color.rgb) == "FF0000"
    assert issuer.runs[0].font.name == TITLE_FONT and issuer.runs[0].font.size == Pt(26)
    number = doc.paragraphs[1]
    assert number.text == "吕建督〔2024〕12号" and number.alignment == WD_ALIGN_PARAGRAPH.CENTER
    assert number._p.pPr is not None
    rule = number._p.pPr.find(f"{qn('w:pBdr')}/{qn('w:bottom')}")
    assert rule is not None and rule.get(qn("w:color")) == "FF0000"
    assert doc.paragraphs[2].text == META.title


def test_without_a_number_there_is_no_red_header(tmp_path: Path) -> None:
    doc = _write(tmp_path, meta=replace(META, doc_number=None, recipient=None))
    assert doc.paragraphs[0].text == META.title
    assert META.issuer not in [p.text for p in doc.paragraphs[:2]]
    assert not any(p._p.pPr is not None and p._p.pPr.find(qn("w:pBdr")) is not None for p in doc.paragraphs)


def test_recipient_flush_left_then_signature_and_date_right_aligned(tmp_path: Path) -> None:
    doc = _write(tmp_path)
    recipient = _paragraph(doc, "张三同志：")
    assert recipient.alignment in (None, WD_ALIGN_PARAGRAPH.LEFT)
    assert not recipient.paragraph_format.first_line_indent
    signature, date = doc.paragraphs[-2:]
    assert signature.text == META.signature and date.text == "2024年7月31日"
    assert signature.alignment == date.alignment == WD_ALIGN_PARAGRAPH.RIGHT
    # GB/T 9704 §7.3.5.1: the date four characters from the right edge (wider here: the signature is longer).
    assert date.paragraph_format.right_indent >= Pt(64)
    # The last body line goes with the signature onto a new page rather than leaving it alone there.
    assert doc.paragraphs[-3].paragraph_format.keep_with_next


def test_dates_have_no_leading_zeros() -> None:
    assert cn_date(dt.date(2024, 7, 1)) == "2024年7月1日"
    assert cn_date(dt.date(2024, 10, 31)) == "2024年10月31日"


def test_without_signature_the_date_still_closes_the_document(tmp_path: Path) -> None:
    doc = _write(tmp_path, meta=replace(META, signature=None))
    assert doc.paragraphs[-1].text == "2024年7月31日"
    assert doc.paragraphs[-2].text != META.signature


# --- draft mark and page numbers -------------------------------------------------------------------------------


def test_drafts_are_marked_on_page_one_and_in_every_header(tmp_path: Path) -> None:
    doc = _write(tmp_path, meta=replace(META, draft=True))
    assert doc.paragraphs[0].text == DRAFT_MARK
    assert str(doc.paragraphs[0].runs[0].font.color.rgb) == "FF0000"
    section = doc.sections[0]
    assert section.header.paragraphs[0].text == DRAFT_MARK
    assert section.even_page_header.paragraphs[0].text == DRAFT_MARK
    assert not section.different_first_page_header_footer  # so page 1 shows the header too


def test_final_documents_carry_no_draft_mark(tmp_path: Path) -> None:
    doc = _write(tmp_path)
    assert "草稿" not in _all_text(doc)
    with zipfile.ZipFile(tmp_path / "a.docx") as archive:
        assert not any("草稿" in archive.read(name).decode("utf-8", "replace") for name in archive.namelist())


def test_page_numbers_are_dashed_songti_14pt_fields(tmp_path: Path) -> None:
    doc = _write(tmp_path)
    section = doc.sections[0]
    for footer, align in (
        (section.footer, WD_ALIGN_PARAGRAPH.RIGHT),
        (section.even_page_footer, WD_ALIGN_PARAGRAPH.LEFT),
    ):
        paragraph = footer.paragraphs[0]
        assert paragraph.text == "— 1 —"
        assert paragraph.alignment == align  # GB/T 9704 §7.5: odd pages right, even pages left
        assert "PAGE" in "".join(t.text for t in paragraph._p.iter(qn("w:instrText")))
        for run in paragraph.runs:
            assert run.font.name == PAGE_NUMBER_FONT and run.font.size == Pt(14)
    assert doc.settings.odd_and_even_pages_header_footer


# --- body ------------------------------------------------------------------------------------------------------


def test_text_round_trips_exactly(tmp_path: Path) -> None:
    doc = _write(tmp_path)
    first = _paragraph(doc, f"正文 {HOSTILE} “引号”‘单引号’\"双引号\"'单'")
    assert first.paragraph_format.first_line_indent == Pt(32)
    assert HOSTILE in _all_text(doc)


def test_body_lines_join_without_spaces_between_chinese_text() -> None:
    doc = _round_trip("第一行\n第二行\nand\nmore\n\n下一段")
    texts = [p.text for p in doc.paragraphs]
    assert "第一行第二行and more" in texts and "下一段" in texts


@settings(max_examples=60, deadline=None)
@given(st.text(st.characters(blacklist_categories=("Cc", "Cs", "Cn")), min_size=1))
def test_any_control_free_unicode_survives(text: str) -> None:
    # As a template writes a value: escaped for Markdown (a backslash or a * in a name is text, not
    # syntax). A fixed start and end keep the generated text from being trimmed.
    doc = _round_trip(f"正文{md_escape(text)}。")
    assert f"正文{text}。" in [p.text for p in doc.paragraphs]


def test_characters_xml_cannot_hold_are_dropped_and_line_ends_normalised() -> None:
    doc = _round_trip("甲\x01乙\r\n丙\r丁")
    assert "甲乙丙丁" in [p.text for p in doc.paragraphs]


def test_headings_notes_and_lists() -> None:
    doc = _round_trip(
        "## 一、总体情况\n\n### （一）进度\n\n> 注：以上数据截至7月31日。\n\n- 第一项\n- 第二项\n  续行\n\n1. 甲\n12. 乙"
    )
    heading = _paragraph(doc, "一、总体情况")
    assert heading.style is not None and heading.style.name == "Heading 2"
    assert heading.runs[0].font.name == HEADING_FONT
    assert _east_asia(heading.runs[0].element) == HEADING_FONT and not heading.runs[0].font.bold
    sub = _paragraph(doc, "（一）进度")
    assert sub.style is not None and sub.style.name == "Heading 3"
    assert _east_asia(sub.runs[0].element) == SUBHEADING_FONT
    note = _paragraph(doc, "注：以上数据截至7月31日。")
    assert _east_asia(note.runs[0].element) == SUBHEADING_FONT
    texts = [p.text for p in doc.paragraphs]
    assert "• 第一项" in texts and "• 第二项续行" in texts
    assert "1.甲" in texts and "12.乙" in texts


def test_bold_spans_become_bold_runs() -> None:
    paragraph = _paragraph(_round_trip("共 **2 个** 节点"), "共 2 个 节点")
    assert [(run.text, bool(run.bold)) for run in paragraph.runs] == [("共 ", False), ("2 个", True), (" 节点", False)]


def test_unsupported_markdown_is_printed_not_dropped() -> None:
    body = "# 一级\n\n#### 四级\n\n`代码` *斜体* [链接](http://x) ---\n\n**未闭合\n\n|不是表格|\n\n-不是列表"
    texts = [p.text for p in _round_trip(body).paragraphs]
    for expected in (
        "# 一级",
        "#### 四级",
        "`代码` *斜体* [链接](http://x) ---",
        "**未闭合",
        "|不是表格|",
        "-不是列表",
    ):
        assert expected in texts


def test_tables_are_real_bordered_tables_with_bold_header(tmp_path: Path) -> None:
    doc = _write(tmp_path)
    assert len(doc.tables) == 1
    table = doc.tables[0]
    rows = [[cell.text for cell in row.cells] for row in table.rows]
    # Escaped pipes and backslashes are unescaped; the short last row is padded, never shifted.
    assert rows == [["项目", "节点", "备注"], ["LL-1", "N|1", "反斜杠\\保留"], ["LL-2", "N2", ""]]
    borders = table._tbl.tblPr.find(qn("w:tblBorders"))
    assert borders is not None
    assert {child.get(qn("w:val")) for child in borders} == {"single"} and len(borders) == 6
    for cell in table.rows[0].cells:
        assert all(run.bold for run in cell.paragraphs[0].runs)
    for row in table.rows:
        for cell in row.cells:
            for run in cell.paragraphs[0].runs:
                assert run.font.name == BODY_FONT and Pt(10.5) <= run.font.size <= Pt(12)
    assert table.rows[1].cells[1].paragraphs[0].alignment == WD_ALIGN_PARAGRAPH.CENTER  # |:---:|
    assert table.rows[1].cells[2].paragraphs[0].alignment == WD_ALIGN_PARAGRAPH.RIGHT  # |---:|


def test_wide_rows_widen_the_table_instead_of_losing_cells() -> None:
    doc = _round_trip("| 甲 | 乙 |\n|---|---|\n| 1 | 2 | 3 |")
    assert [cell.text for cell in doc.tables[0].rows[1].cells] == ["1", "2", "3"]


def test_wide_tables_fit_the_text_block() -> None:
    header = "| " + " | ".join(f"很长的列标题第{i}列" for i in range(8)) + " |"
    doc = _round_trip(f"{header}\n|{'---|' * 8}\n| " + " | ".join(["2024年7月31日"] * 8) + " |")
    total = sum(column.width for column in doc.tables[0].columns)
    assert total <= Mm(156) + TOLERANCE


@pytest.fixture
def chart(tmp_path: Path) -> Path:
    points = [(dt.date(2024, 7, 1) + dt.timedelta(days=d), 2 * d, d) for d in range(10)]
    (tmp_path / "charts").mkdir()
    return progress_chart(points, tmp_path / "charts" / "progress.png", "计划节点累计完成情况")


def test_images_are_inserted_150mm_wide_centred_with_caption(tmp_path: Path, chart: Path) -> None:
    doc = _write(tmp_path, body=f"图示如下：\n\n![计划节点累计完成情况](charts/{chart.name})\n\n![]({chart})\n")
    assert len(doc.inline_shapes) == 2  # one relative to the docx folder, one absolute
    for shape in doc.inline_shapes:
        assert abs(shape.width - Mm(150)) <= TOLERANCE
    picture = next(p for p in doc.paragraphs if p._p.find(f".//{qn('w:drawing')}") is not None)
    assert picture.alignment == WD_ALIGN_PARAGRAPH.CENTER
    # An exact 28 pt line would crop the picture to one line's height.
    assert picture.paragraph_format.line_spacing_rule != WD_LINE_SPACING.EXACTLY
    caption = _paragraph(doc, "计划节点累计完成情况")
    assert caption.alignment == WD_ALIGN_PARAGRAPH.CENTER


def test_a_missing_image_fails_loudly(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"nope\.png"):
        write_docx("![图](nope.png)", META, tmp_path / "a.docx")
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_writing_replaces_the_file_and_leaves_no_temporary_files(tmp_path: Path) -> None:
    target = tmp_path / "a.docx"
    target.write_bytes(b"old")
    write_docx(BODY, META, target)
    assert [p.name for p in tmp_path.iterdir()] == ["a.docx"]
    assert zipfile.is_zipfile(target)


def test_package_has_no_template_thumbnail_and_declares_font_fallbacks(tmp_path: Path) -> None:
    doc = _write(tmp_path)
    assert doc.core_properties.title == META.title and doc.core_properties.author == META.issuer
    with zipfile.ZipFile(tmp_path / "a.docx") as archive:
        assert not any("thumbnail" in name for name in archive.namelist())
        fonts = archive.read("word/fontTable.xml").decode("utf-8")
    assert '<w:font w:name="仿宋_GB2312"><w:altName w:val="仿宋"/>' in fonts
