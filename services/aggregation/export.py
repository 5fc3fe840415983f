"""The circular as files the office edits: Markdown, and Word laid out as an official document.

The Word layout follows GB/T 9704 (党政机关公文格式) where python-docx can express it: A4, margins
37/35/28/26 mm, the issuer's mark in red 方正小标宋简体 over a red rule, the 文号, the title in
方正小标宋简体 二号, body in 仿宋_GB2312 三号 at a fixed 28 pt line, 一、 headings in 黑体 and （一）
headings in 楷体_GB2312, the page number "— 1 —" centred in the footer. The Chinese font names are set as east-asian fonts (Word and WPS read
w:eastAsia, not the font name alone) and the font table names a fallback for each (w:altName:
宋体, 仿宋, SimHei, 楷体), so a machine without the GB fonts still shows the right family.
"""
from __future__ import annotations

import io
from xml.sax.saxutils import escape

from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt, RGBColor

TITLE_FONT, BODY_FONT, HEADING_FONT, SUBHEADING_FONT = "方正小标宋简体", "仿宋_GB2312", "黑体", "楷体_GB2312"
FALLBACKS = {TITLE_FONT: "宋体", BODY_FONT: "仿宋", HEADING_FONT: "SimHei", SUBHEADING_FONT: "楷体"}
RED = RGBColor(0xE6, 0x00, 0x12)
SIZE_2, SIZE_3 = Pt(22), Pt(16)  # 二号, 三号
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def to_markdown(circular: dict) -> str:
    lines = [f"**{circular['issuer']}**", "", circular["doc_number"], "", f"# {circular['title']}", "",
             circular["addressees"], "", circular["opening"], ""]
    for section in circular["sections"]:
        if section["heading"]:
            lines += ["#" * (section["level"] + 1) + " " + section["heading"], ""]
        for paragraph in section["paragraphs"]:
            lines += [paragraph, ""]
    return "\n".join(lines)


def _set_font(run, name: str, size, bold: bool = False, color: RGBColor | None = None) -> None:
    run.font.name = name
    run.font.size = size
    run.font.bold = bold
    if color is not None:
        run.font.color.rgb = color
    fonts = run._element.get_or_add_rPr().get_or_add_rFonts()
    for attribute in ("w:eastAsia", "w:ascii", "w:hAnsi", "w:cs"):
        fonts.set(qn(attribute), name)


def _paragraph(doc, text: str, font: str, size, *, center=False, indent=True, bold=False, color=None):
    paragraph = doc.add_paragraph()
    form = paragraph.paragraph_format
    form.line_spacing_rule = WD_LINE_SPACING.EXACTLY
    form.line_spacing = Pt(28)
    form.space_before = form.space_after = Pt(0)
    if center:
        paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    elif indent:
        form.first_line_indent = Pt(size.pt * 2)  # two characters
    _set_font(paragraph.add_run(text), font, size, bold, color)
    return paragraph


def _red_rule(paragraph) -> None:
    border = OxmlElement("w:pBdr")
    bottom = OxmlElement("w:bottom")
    for key, value in (("w:val", "single"), ("w:sz", "18"), ("w:space", "4"), ("w:color", "E60012")):
        bottom.set(qn(key), value)
    border.append(bottom)
    paragraph._p.get_or_add_pPr().append(border)


def _page_numbers(section) -> None:
    """The page number in the footer, centred, as "— 1 —" (GB/T 9704: 4号 半角 digits, dashes each side)."""
    paragraph = section.footer.paragraphs[0]
    paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _set_font(paragraph.add_run("— "), "宋体", Pt(14))
    field = OxmlElement("w:fldSimple")
    field.set(qn("w:instr"), "PAGE")
    number = paragraph.add_run("1")
    _set_font(number, "宋体", Pt(14))
    field.append(number._r)
    paragraph._p.append(field)
    _set_font(paragraph.add_run(" —"), "宋体", Pt(14))


def _declare_fallbacks(doc) -> None:
    """Name each GB font in the font table with a common fallback (w:altName)."""
    table = next(r.target_part for r in doc.part.rels.values() if r.reltype.endswith("/fontTable"))
    entries = "".join(
        f'<w:font w:name="{escape(name)}"><w:altName w:val="{escape(alt)}"/><w:charset w:val="86"/>'
        f'<w:family w:val="auto"/><w:pitch w:val="variable"/></w:font>'
        for name, alt in FALLBACKS.items()
    )
    table._blob = table.blob.replace(b"</w:fonts>", entries.encode() + b"</w:fonts>")


def to_docx(circular: dict) -> bytes:
    doc = Document()
    section = doc.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin, section.bottom_margin = Mm(37), Mm(35)
    section.left_margin, section.right_margin = Mm(28), Mm(26)
    normal = doc.styles["Normal"]
    normal.font.name, normal.font.size = BODY_FONT, SIZE_3
    normal.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), BODY_FONT)
    _declare_fallbacks(doc)
    _page_numbers(section)

    _paragraph(doc, circular["issuer"], TITLE_FONT, Pt(36), center=True, color=RED)
    _paragraph(doc, "", BODY_FONT, SIZE_3, indent=False)
    _red_rule(_paragraph(doc, circular["doc_number"], BODY_FONT, SIZE_3, center=True))
    _paragraph(doc, "", BODY_FONT, SIZE_3, indent=False)
    _paragraph(doc, circular["title"], TITLE_FONT, SIZE_2, center=True)
    _paragraph(doc, "", BODY_FONT, SIZE_3, indent=False)
    _paragraph(doc, circular["addressees"], BODY_FONT, SIZE_3, indent=False)
    _paragraph(doc, circular["opening"], BODY_FONT, SIZE_3)
    for part in circular["sections"]:
        if part["heading"]:
            font = HEADING_FONT if part["level"] == 1 else SUBHEADING_FONT
            _paragraph(doc, part["heading"], font, SIZE_3)
        for text in part["paragraphs"]:
            _paragraph(doc, text, BODY_FONT, SIZE_3)
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()
