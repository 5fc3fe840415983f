"""The circular's files: the .docx opens with python-docx in the GB/T 9704 layout with the GB font
names (and their fallbacks); the Markdown reads in the same order."""
from __future__ import annotations

import io
import zipfile

import docx
from docx.oxml.ns import qn
from docx.shared import Mm

from services.aggregation.circular import draft
from services.aggregation.export import to_docx, to_markdown
from tests import circular_2022


def east_asian(paragraph) -> str:
    return paragraph.runs[0]._element.rPr.rFonts.get(qn("w:eastAsia"))


def test_docx_layout_and_fonts():
    circular = draft(2022, circular_2022.entries())
    content = to_docx(circular)
    document = docx.Document(io.BytesIO(content))
    section = document.sections[0]
    measured = (section.page_width, section.page_height, section.top_margin, section.bottom_margin,
                section.left_margin, section.right_margin)
    for length, mm in zip(measured, (210, 297, 37, 35, 28, 26)):
        assert abs(length - Mm(mm)) < Mm(0.1)  # stored in twips
    paragraphs = {p.text: p for p in document.paragraphs if p.text}
    assert east_asian(paragraphs[circular["issuer"]]) == "方正小标宋简体"
    assert east_asian(paragraphs[circular["title"]]) == "方正小标宋简体"
    assert east_asian(paragraphs["一、基本情况"]) == "黑体" and east_asian(paragraphs["（一）质量宣传"]) == "楷体_GB2312"
    body = next(p for text, p in paragraphs.items() if circular["headline"] in text)
    assert east_asian(body) == "仿宋_GB2312"
    assert list(paragraphs).index(circular["doc_number"]) < list(paragraphs).index(circular["title"])
    fonts = zipfile.ZipFile(io.BytesIO(content)).read("word/fontTable.xml").decode()
    for name, fallback in (("仿宋_GB2312", "仿宋"), ("方正小标宋简体", "宋体"), ("楷体_GB2312", "楷体")):
        assert f'<w:font w:name="{name}"><w:altName w:val="{fallback}"/>' in fonts
    assert 'w:instr="PAGE"' in section.footer.paragraphs[0]._p.xml


def test_markdown_reads_in_the_circulars_order():
    circular = draft(2022, circular_2022.entries())
    text = to_markdown(circular)
    order = [circular["issuer"], circular["doc_number"], f"# {circular['title']}", "## 一、基本情况", circular["headline"],
             "## 二、主要活动与成效", "### （一）质量宣传", "下一步，"]
    positions = [text.index(part) for part in order]
    assert positions == sorted(positions)
