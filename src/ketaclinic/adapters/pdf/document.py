"""A small document model rendered to PDF with ReportLab (pure Python, no system libraries):
a title, header lines, and sections of paragraphs, tables and images, on A4 pages with a
running footer.

The caller decides what the document says (web/pages/chair_record.py writes the session
record); this module only lays it out. Text is plain text, never markup: it is escaped here.
Helvetica (one of the PDF standard fonts) sets whatever Windows-1252 covers; any other
character (an arrow, "≥", a name in another script) is set in DejaVu Sans, which matplotlib
ships, so nothing prints as a blank box.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from xml.sax.saxutils import escape

from PIL import Image as PilImage
from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    Flowable,
    Image,
    KeepTogether,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
)
from reportlab.platypus import (
    Table as RlTable,
)
from reportlab.platypus import (
    TableStyle as RlTableStyle,
)

FALLBACK_FONT = "DejaVuSans"
MARGIN = 15 * mm


@dataclass(frozen=True, slots=True)
class Text:
    """A paragraph. ``tone``: "body", "small" (muted, smaller) or "strong"."""

    text: str
    tone: str = "body"


@dataclass(frozen=True, slots=True)
class Table:
    """Rows of plain-text cells under ``headers``; ``widths`` are fractions of the text width
    (equal columns when empty); ``empty`` is printed when there are no rows;
    ``highlight`` marks rows (by index) to shade."""

    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    widths: tuple[float, ...] = ()
    empty: str = "None."
    highlight: frozenset[int] = frozenset()


@dataclass(frozen=True, slots=True)
class Picture:
    """A PNG image, scaled to ``width_mm`` keeping its aspect ratio."""

    png: bytes
    width_mm: float
    description: str


Block = Text | Table | Picture


@dataclass(frozen=True, slots=True)
class Section:
    title: str
    blocks: tuple[Block, ...]
    new_page: bool = False


@dataclass(frozen=True, slots=True)
class Document:
    """``footer`` runs at the foot of every page beside the page number; ``subject`` and
    ``title`` go into the PDF's metadata as well."""

    title: str
    header: tuple[str, ...]
    sections: tuple[Section, ...]
    footer: str = ""
    subject: str = ""
    author: str = "ketaclinic"
    extra_styles: dict[str, ParagraphStyle] = field(default_factory=dict)


@cache
def _fallback_font() -> str | None:
    """Register DejaVu Sans once; None when matplotlib's copy cannot be found."""
    try:
        import matplotlib

        path = os.path.join(matplotlib.get_data_path(), "fonts", "ttf", "DejaVuSans.ttf")
        pdfmetrics.registerFont(TTFont(FALLBACK_FONT, path))
    except (ImportError, OSError):
        return None
    return FALLBACK_FONT


def markup(text: str) -> str:
    """``text`` escaped for a ReportLab paragraph, with characters Helvetica cannot set
    wrapped in the fallback font."""
    fallback = _fallback_font()
    parts: list[str] = []
    run: list[str] = []
    in_fallback = False

    def flush() -> None:
        if not run:
            return
        chunk = escape("".join(run))
        if in_fallback and fallback:
            parts.append(f'<font name="{fallback}">{chunk}</font>')
        else:
            parts.append(chunk)
        run.clear()

    for char in text:
        try:
            char.encode("cp1252")
            needs = False
        except UnicodeEncodeError:
            needs = True
        if needs != in_fallback:
            flush()
            in_fallback = needs
        run.append(char)
    flush()
    return "".join(parts).replace("\n", "<br/>")


def _styles() -> dict[str, ParagraphStyle]:
    body = ParagraphStyle("body", fontName="Helvetica", fontSize=9.5, leading=12.5)
    return {
        "body": body,
        "small": ParagraphStyle("small", parent=body, fontSize=8, leading=10, textColor="#555555"),
        "strong": ParagraphStyle("strong", parent=body, fontName="Helvetica-Bold"),
        "cell": ParagraphStyle("cell", parent=body, fontSize=8, leading=10, alignment=TA_LEFT),
        "head": ParagraphStyle("head", parent=body, fontName="Helvetica-Bold", fontSize=8),
        "title": ParagraphStyle("title", parent=body, fontName="Helvetica-Bold", fontSize=16,
                                leading=20, spaceAfter=4),
        "h2": ParagraphStyle("h2", parent=body, fontName="Helvetica-Bold", fontSize=12,
                             leading=15, spaceBefore=10, spaceAfter=4),
    }  # fmt: skip


def _table(block: Table, width: float, styles: dict[str, ParagraphStyle]) -> Flowable:
    if not block.rows:
        return Paragraph(markup(block.empty), styles["small"])
    columns = len(block.headers)
    fractions = block.widths or tuple(1.0 / columns for _ in range(columns))
    total = sum(fractions)
    col_widths = [width * f / total for f in fractions]
    data = [[Paragraph(markup(h), styles["head"]) for h in block.headers]]
    data += [[Paragraph(markup(cell), styles["cell"]) for cell in row] for row in block.rows]
    table = RlTable(data, colWidths=col_widths, repeatRows=1)
    commands: list[tuple[object, ...]] = [
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LINEBELOW", (0, 0), (-1, 0), 0.8, colors.HexColor("#444444")),
        ("LINEBELOW", (0, 1), (-1, -1), 0.25, colors.HexColor("#cccccc")),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eef2f4")),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
        ("TOPPADDING", (0, 0), (-1, -1), 2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
    ]
    commands += [
        ("BACKGROUND", (0, i + 1), (-1, i + 1), colors.HexColor("#fdf1d8"))
        for i in sorted(block.highlight)
        if i < len(block.rows)
    ]
    table.setStyle(RlTableStyle(commands))
    return table


def _opaque(png: bytes) -> tuple[bytes, tuple[int, int]]:
    """The image on white, without an alpha channel (paper has no transparency; an alpha
    channel would add a second image, the soft mask, to the file), and its size in pixels."""
    with PilImage.open(io.BytesIO(png)) as source:
        rgba = source.convert("RGBA")
    white = PilImage.new("RGBA", rgba.size, (255, 255, 255, 255))
    flat = PilImage.alpha_composite(white, rgba).convert("RGB")
    out = io.BytesIO()
    flat.save(out, format="PNG")
    return out.getvalue(), flat.size


def _picture(block: Picture, width: float) -> Flowable:
    png, (pixels_w, pixels_h) = _opaque(block.png)
    shown_w = min(block.width_mm * mm, width)
    image = Image(io.BytesIO(png), width=shown_w, height=shown_w * pixels_h / pixels_w)
    image.hAlign = "LEFT"
    return image


def _flowables(
    blocks: Sequence[Block], width: float, styles: dict[str, ParagraphStyle]
) -> list[Flowable]:
    out: list[Flowable] = []
    for block in blocks:
        if isinstance(block, Text):
            out.append(Paragraph(markup(block.text), styles.get(block.tone, styles["body"])))
        elif isinstance(block, Table):
            out.append(_table(block, width, styles))
        else:
            out.append(_picture(block, width))
        out.append(Spacer(1, 2 * mm))
    return out


def render_pdf(document: Document, *, compress: bool = True) -> bytes:
    """The document as PDF bytes. ``compress`` off leaves the page content streams as plain
    text (for tests and debugging)."""
    styles = _styles() | document.extra_styles
    buffer = io.BytesIO()
    template = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN + 4 * mm,
        title=document.title,
        subject=document.subject,
        author=document.author,
        creator="ketaclinic",
        pageCompression=1 if compress else 0,
    )
    width = template.width
    footer = document.footer.encode("cp1252", "replace").decode("cp1252")

    def on_page(canvas: Canvas, doc: SimpleDocTemplate) -> None:
        canvas.saveState()
        canvas.setFont("Helvetica", 7.5)
        canvas.setFillColor(colors.HexColor("#555555"))
        canvas.drawString(MARGIN, MARGIN - 2 * mm, footer)
        canvas.drawRightString(A4[0] - MARGIN, MARGIN - 2 * mm, f"page {doc.page}")
        canvas.restoreState()

    story: list[Flowable] = [Paragraph(markup(document.title), styles["title"])]
    story += [Paragraph(markup(line), styles["body"]) for line in document.header]
    for section in document.sections:
        if section.new_page:
            story.append(PageBreak())
        heading = Paragraph(markup(section.title), styles["h2"])
        blocks = _flowables(section.blocks, width, styles)
        # A heading never ends a page alone.
        story.append(KeepTogether([heading, *blocks[:1]]))
        story += blocks[1:]
    template.build(story, onFirstPage=on_page, onLaterPages=on_page)
    return buffer.getvalue()
