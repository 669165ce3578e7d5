"""The report's charts, drawn once with reportlab.graphics: inline SVG on the page, vector
drawings in the PDF. Server-side, so the page needs no chart library and the two always agree.

Chinese labels use reportlab's built-in CID font STSong-Light (no font file to ship); PDF
readers supply the glyphs, and browsers fall back to a system CJK font for the SVG.
"""

from __future__ import annotations

import re
from typing import Any

from reportlab.graphics import renderSVG
from reportlab.graphics.charts.barcharts import VerticalBarChart
from reportlab.graphics.charts.legends import Legend
from reportlab.graphics.charts.linecharts import HorizontalLineChart
from reportlab.graphics.shapes import Drawing, Line, String
from reportlab.graphics.widgets.markers import makeMarker
from reportlab.lib import colors
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont

from repairqc.reports.services import Report, TrendPoint

CJK_FONT = "STSong-Light"
WIDTH, HEIGHT = 720, 250
#: Beyond this many stores the bars keep no labels (they would overlap); the table names them.
LABELLED_BARS = 40
SERIES_COLOURS = (colors.HexColor("#2f6fb0"), colors.HexColor("#d9822b"), colors.HexColor("#3a9a5b"))


def font_for(language: str) -> str:
    if language.startswith("zh"):
        if CJK_FONT not in pdfmetrics.getRegisteredFontNames():
            pdfmetrics.registerFont(UnicodeCIDFont(CJK_FONT))
        return CJK_FONT
    return "Helvetica"


def _title(drawing: Drawing, text: str, font: str) -> None:
    drawing.add(String(10, HEIGHT - 16, text, fontName=font, fontSize=11))


def scores_chart(report: Report, title: str, language: str) -> Drawing:
    """The average inspection score of each store (bars, in ranking order) with the average."""
    font = font_for(language)
    drawing = Drawing(WIDTH, HEIGHT)
    _title(drawing, title, font)
    rows = report.rows
    chart = VerticalBarChart()
    chart.x, chart.y, chart.width, chart.height = 45, 45, WIDTH - 70, HEIGHT - 85
    values = [(row.cells["score_avg"].value or 0.0) for row in rows] or [0.0]
    chart.data = [values]
    chart.valueAxis.valueMin, chart.valueAxis.valueMax, chart.valueAxis.valueStep = 0, 100, 20
    chart.valueAxis.labels.fontName = font
    labelled = len(rows) <= LABELLED_BARS
    chart.categoryAxis.categoryNames = [(row.code or "·") if labelled else "" for row in rows] or [""]
    chart.categoryAxis.labels.fontName = font
    chart.categoryAxis.labels.fontSize = 7
    chart.categoryAxis.labels.angle = 45 if len(rows) > 8 else 0
    chart.categoryAxis.labels.boxAnchor = "ne" if len(rows) > 8 else "n"
    chart.bars[0].fillColor = SERIES_COLOURS[0]
    chart.bars[0].strokeColor = None
    average = report.average.cells["score_avg"].value
    drawing.add(chart)
    if average is not None:
        y = chart.y + chart.height * average / 100
        drawing.add(
            Line(chart.x, y, chart.x + chart.width, y, strokeColor=colors.red, strokeDashArray=[3, 2])
        )
        drawing.add(String(chart.x + chart.width - 2, y + 3, f"⌀ {average:.1f}", fontName=font, fontSize=8,
                           textAnchor="end", fillColor=colors.red))  # fmt: skip
    return drawing


def trend_chart(
    points: list[TrendPoint], series: list[tuple[str, Any]], title: str, language: str
) -> Drawing:
    """The trend columns (all in per cent) over the months, one line each."""
    font = font_for(language)
    drawing = Drawing(WIDTH, HEIGHT)
    _title(drawing, title, font)
    # A month with no data is a gap, not a zero (reportlab skips None); a series with no data at
    # all is left out (reportlab cannot draw an empty line).
    series = [(key, label) for key, label in series if any(p.values.get(key) is not None for p in points)]
    if not series:
        message = String(WIDTH / 2, HEIGHT / 2, _no_data(), fontName=font, fontSize=10, textAnchor="middle")
        drawing.add(message)
        return drawing
    chart = HorizontalLineChart()
    chart.x, chart.y, chart.width, chart.height = 45, 40, WIDTH - 230, HEIGHT - 80
    chart.data = [[point.values.get(key) for point in points] for key, _label in series]
    chart.valueAxis.valueMin, chart.valueAxis.valueMax, chart.valueAxis.valueStep = 0, 100, 20
    chart.valueAxis.labels.fontName = font
    chart.categoryAxis.categoryNames = [point.month.strftime("%Y-%m") for point in points]
    chart.categoryAxis.labels.fontName = font
    chart.categoryAxis.labels.fontSize = 7
    chart.categoryAxis.labels.angle = 30
    chart.categoryAxis.labels.boxAnchor = "ne"
    for index, _ in enumerate(series):
        chart.lines[index].strokeColor = SERIES_COLOURS[index % len(SERIES_COLOURS)]
        chart.lines[index].strokeWidth = 2
        # A month between empty months has no line to draw: the marker still shows it.
        chart.lines[index].symbol = makeMarker("FilledCircle", size=4)
    drawing.add(chart)
    legend = Legend()
    legend.x, legend.y = WIDTH - 170, HEIGHT - 50
    legend.fontName = font
    legend.fontSize = 8
    legend.alignment = "right"
    legend.colorNamePairs = [
        (SERIES_COLOURS[i % len(SERIES_COLOURS)], str(label)) for i, (_key, label) in enumerate(series)
    ]
    drawing.add(legend)
    return drawing


def _no_data() -> str:
    from flask_babel import gettext as _

    return _("No data in these months.")


def to_svg(drawing: Drawing, label: str) -> str:
    """Inline SVG markup (no XML prologue), scaling to the page width, with an accessible name."""
    svg = renderSVG.drawToString(drawing)
    svg = svg[svg.index("<svg") :]
    svg = re.sub(r'width="[^"]*" height="[^"]*"', f'viewBox="0 0 {WIDTH} {HEIGHT}"', svg, count=1)
    return svg.replace("<svg", f'<svg role="img" class="report-chart" aria-label="{_attr(label)}"', 1)


def _attr(text: str) -> str:
    return text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
