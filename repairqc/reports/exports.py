"""The report as CSV, XLSX and PDF, in the reader's language, with the same rows the page shows
(anonymised rows stay anonymised). Numbers stay numbers in XLSX; the PDF carries the charts.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any
from xml.sax.saxutils import escape

from flask_babel import format_datetime
from flask_babel import gettext as _
from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from repairqc.reports import charts
from repairqc.reports.services import (
    Report,
    ReportColumn,
    Row,
    TrendPoint,
    format_change,
    format_value,
    trend_keys,
    trend_title,
)
from repairqc.spreadsheets import CSV_BOM, inert

FLAG_FILL = "F8D7DA"  # Bootstrap's "danger" background: the page's colour for a flagged cell


def _header(report: Report) -> list[str]:
    names = [_("Rank"), _("Store code"), _("Store")]
    for rc in report.columns:
        names += [str(rc.column.label), _("%(column)s: change", column=rc.column.label)]
    return names


def _row_values(report: Report, row: Row, number: Callable[[ReportColumn, float | None], Any]) -> list[Any]:
    values: list[Any] = [row.rank, inert(row.code), inert(row.name)]
    for rc in report.columns:
        cell = row.cells[rc.key]
        values += [number(rc, cell.value), number(rc, cell.change)]
    return values


def _plain(rc: ReportColumn, value: float | None) -> Any:
    return "" if value is None else round(value, 2)


def _title(report: Report) -> str:
    return _("Cross-store report")


def _subtitle(report: Report) -> list[str]:
    return [
        _("Period: %(period)s (compared with %(previous)s)", period=report.period.label(),
          previous=report.previous.label()),
        _("Scope: %(scope)s", scope=report.scope_label),
        _("Generated: %(at)s", at=format_datetime(report.generated_at)),
    ]  # fmt: skip


def to_csv(report: Report) -> bytes:
    """UTF-8 with a byte-order mark, so spreadsheet programs read Chinese correctly."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(_header(report))
    for row in [*report.rows, report.average]:
        writer.writerow(_row_values(report, row, _plain))
    return (CSV_BOM + out.getvalue()).encode("utf-8")


def to_xlsx(report: Report) -> bytes:
    """Percentages as fractions formatted "0.0%", so a spreadsheet computes with them."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = _("Report")[:31]
    for line in [_title(report), *_subtitle(report)]:
        sheet.append([line])
    sheet["A1"].font = Font(bold=True, size=14)
    sheet.append([])
    sheet.append(_header(report))
    header_row = sheet.max_row
    for cell in sheet[header_row]:
        cell.font = Font(bold=True)

    def number(rc: ReportColumn, value: float | None) -> Any:
        if value is None:
            return None
        return value / 100 if rc.column.kind == "percent" else round(value, 4)

    flagged = PatternFill("solid", fgColor=FLAG_FILL)
    for row in [*report.rows, report.average]:
        sheet.append(_row_values(report, row, number))
        excel_row = sheet.max_row
        for index, rc in enumerate(report.columns):
            value_col, change_col = 4 + 2 * index, 5 + 2 * index
            for col in (value_col, change_col):
                if rc.column.kind == "percent":
                    sheet.cell(excel_row, col).number_format = "0.0%"
                elif rc.column.kind != "count":
                    sheet.cell(excel_row, col).number_format = "0.0"
            if row.cells[rc.key].flags:
                sheet.cell(excel_row, value_col).fill = flagged
    sheet.freeze_panes = sheet.cell(header_row + 1, 4)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


# --- PDF ------------------------------------------------------------------------------------------------


def _styles(language: str) -> dict[str, ParagraphStyle]:
    font = charts.font_for(language)
    base = ParagraphStyle("base", fontName=font, fontSize=9, leading=11)
    return {
        "title": ParagraphStyle("title", parent=base, fontSize=16, leading=20, spaceAfter=4),
        "h2": ParagraphStyle("h2", parent=base, fontSize=12, leading=15, spaceBefore=8, spaceAfter=4),
        "text": base,
        "cell": ParagraphStyle("cell", parent=base, fontSize=6.5, leading=8),
        "small": ParagraphStyle("small", parent=base, fontSize=7, leading=9, textColor=colors.grey),
    }


def _text(value: str, style: ParagraphStyle) -> Paragraph:
    """A paragraph; text outside Latin-1 (a Chinese store name in an English report) gets the
    CJK font, which Helvetica lacks."""
    text = escape(value)
    if style.fontName != charts.CJK_FONT and any(ord(ch) > 255 for ch in value):
        charts.font_for("zh")
        text = f'<font name="{charts.CJK_FONT}">{text}</font>'
    return Paragraph(text, style)


def _group_table(report: Report, title: str, columns: list[ReportColumn], styles) -> Table:
    cell = styles["cell"]
    header = [_text(_("Rank"), cell), _text(_("Store"), cell)] + [
        _text(str(rc.column.label), cell) for rc in columns
    ]
    data = [header]
    flagged: list[tuple[int, int]] = []
    for row in [*report.rows, report.average]:
        line = [_text("" if row.rank is None else str(row.rank), cell), _text(row.label, cell)]
        for index, rc in enumerate(columns):
            c = row.cells[rc.key]
            change = format_change(rc.column, c.change)
            shown = format_value(rc.column, c.value, average=row is report.average)
            markup = escape(shown) + (f'<br/><font size="5.5">{escape(change)}</font>' if change else "")
            line.append(Paragraph(markup, cell))
            if c.flags:
                flagged.append((2 + index, len(data)))
        data.append(line)
    store_width = 34 * mm
    rest = (landscape(A4)[0] - 20 * mm - store_width - 9 * mm) / max(1, len(columns))
    table = Table(data, colWidths=[9 * mm, store_width, *([rest] * len(columns))], repeatRows=1)
    style = [
        ("GRID", (0, 0), (-1, -1), 0.25, colors.lightgrey),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e9ecef")),
        ("BACKGROUND", (0, len(data) - 1), (-1, len(data) - 1), colors.HexColor("#f4f6f8")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]
    style += [("BACKGROUND", pos, pos, colors.HexColor("#" + FLAG_FILL)) for pos in flagged]
    table.setStyle(TableStyle(style))
    return table


def to_pdf(report: Report, trend: list[TrendPoint], language: str) -> bytes:
    """Title, period, scope, one table per provider, the control limits and the two charts."""
    styles = _styles(language)
    out = io.BytesIO()
    document = SimpleDocTemplate(
        out,
        pagesize=landscape(A4),
        leftMargin=10 * mm,
        rightMargin=10 * mm,
        topMargin=10 * mm,
        bottomMargin=10 * mm,
        title=_title(report),
    )
    story: list[Any] = [_text(_title(report), styles["title"])]
    story += [_text(line, styles["text"]) for line in _subtitle(report)]
    story.append(
        _text(
            _("Flagged cells miss the standard's target or lie outside the control limits. "
              "Ranked by average inspection score, then QC first pass."),
            styles["small"],
        )
    )  # fmt: skip
    for title, columns in report.groups:
        story += [_text(str(title), styles["h2"]), _group_table(report, str(title), columns, styles)]
    story.append(_text(_("Control limits (p-chart)"), styles["h2"]))
    for limits in report.limits:
        if limits.p_bar is None:
            line = _("%(chart)s: no cases in the period.", chart=limits.chart.label)
        else:
            line = _("%(chart)s: centre line p̄ = %(p)s; stores outside the limits: %(n)s.",
                     chart=limits.chart.label, p=f"{100 * limits.p_bar:.2f} %", n=limits.outside)  # fmt: skip
        story.append(_text(line, styles["text"]))
    story.append(Spacer(1, 6 * mm))
    story.append(
        KeepTogether([charts.scores_chart(report, _("Average inspection score by store"), language)])
    )
    story.append(
        KeepTogether([charts.trend_chart(trend, trend_keys(), trend_title(report.period.end), language)])
    )
    document.build(story)
    return out.getvalue()
