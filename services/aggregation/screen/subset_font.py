"""Maintainer tool (not imported by the service): rebuild the big screen's vendored CJK font subset.

The screen must render Chinese on a machine with no CJK font and no network, so it ships a subset
of Noto Sans CJK SC (SIL OFL 1.1): every GB2312 level-1 hanzi (the 3,755 most common characters),
ASCII, CJK punctuation, and every character of the reference data and of the page itself. Rarer
characters in activity titles fall back to the system fonts of the font-family stack.

    python -m venv /tmp/fv && /tmp/fv/bin/pip install fonttools brotli
    apt-get download fonts-noto-cjk && dpkg -x fonts-noto-cjk_*.deb /tmp/noto
    /tmp/fv/bin/python services/aggregation/screen/subset_font.py /tmp/noto/usr/share/fonts/opentype/noto
"""
from __future__ import annotations

import sys
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTCollection

HERE = Path(__file__).parent
ROOT = HERE.parents[2]
OUT = HERE / "static" / "vendor" / "fonts"
SOURCES = [ROOT / "shared" / "data", HERE / "static"]
PUNCTUATION = "、。，．：；？！…—～·‘’“”《》〈〉「」『』【】（）〔〕％＋－×÷＝＜＞℃°←→↑↓▲▼●○■□◆◇★☆"


def gb2312_level1() -> str:
    out = []
    for row in range(0xB0, 0xD8):
        for cell in range(0xA1, 0xFF):
            try:
                out.append(bytes([row, cell]).decode("gb2312"))
            except UnicodeDecodeError:
                pass
    return "".join(out)


def wanted_text() -> str:
    text = [gb2312_level1(), PUNCTUATION, "".join(chr(c) for c in range(0x20, 0x7F))]
    for folder in SOURCES:
        for path in folder.rglob("*"):
            if path.suffix in {".csv", ".yaml", ".html", ".js", ".css"}:
                text.append(path.read_text(encoding="utf-8"))
    return "".join(sorted(set("".join(text))))


def build(noto_dir: Path) -> None:
    text = wanted_text()
    for weight in ("Regular", "Bold"):
        collection = TTCollection(str(noto_dir / f"NotoSansCJK-{weight}.ttc"))
        font = next(f for f in collection.fonts if f["name"].getDebugName(4).startswith("Noto Sans CJK SC"))
        font.recalcTimestamp = False  # same input, same bytes: no churn in git on a rebuild
        options = subset.Options()
        options.flavor = "woff2"
        options.layout_features = ["kern", "palt", "tnum", "lnum"]
        options.name_IDs = ["*"]
        options.notdef_outline = True
        subsetter = subset.Subsetter(options)
        subsetter.populate(text=text)
        subsetter.subset(font)
        target = OUT / f"qm-sans-sc-{weight.lower()}.woff2"
        font.flavor = "woff2"
        font.save(str(target))
        print(f"{target.name}: {target.stat().st_size // 1024} KiB, {len(text)} characters")


if __name__ == "__main__":
    build(Path(sys.argv[1]))
