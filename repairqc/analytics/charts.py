"""The analytics charts, drawn with matplotlib's object API (`Figure` + the Agg or SVG canvas).

matplotlib rather than reportlab.graphics (the report's charts): a PNG needs a rasteriser, and
reportlab's renderPM needs pycairo, which has no wheel here; matplotlib's Agg is built in and
draws scatter plots and twin axes that reportlab lacks. pyplot is never used: its global figure
manager is not thread-safe, `Figure` objects are.

Chinese labels need a CJK font: the first of `CJK_FONTS` that font_manager finds (Debian's
fonts-wqy-microhei, or Noto Sans CJK) is put after DejaVu Sans in the font list, so Latin text
keeps matplotlib's font and Chinese falls back to the CJK one. Without one the charts still
render (missing glyphs as boxes) and a warning is logged once. SVG keeps text as text
(`svg.fonttype: none`), so browsers pick their own CJK font and the file stays small.

Speed (the page draws six charts inline): the chart functions return a `Chart` (the drawing
function and its inputs), not a figure; `render` draws it only when the same inputs were not
rendered before in this process: the bytes are kept in a small LRU keyed by a digest of the
inputs and the format (same data, same bytes). A figure has fixed margins instead of
matplotlib's constrained layout, which measures every text twice per render and cost about
two thirds of a render. The scatter's points are one rasterised image inside the SVG (axes,
labels and text stay vectors).

matplotlib is imported inside the functions that draw: with scipy and statsmodels (imported the
same way in `services` and `forecasting`) it costs about 1.3 s at start-up, which every worker,
CLI command and test subprocess would pay without ever drawing a chart.
"""

from __future__ import annotations

import functools
import hashlib
import io
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from repairqc.analytics.forecasting import Forecast
from repairqc.analytics.services import ParetoRow, PartsBucket

if TYPE_CHECKING:
    from matplotlib.figure import Figure

logger = logging.getLogger(__name__)

CJK_FONTS = ("WenQuanYi Micro Hei", "Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC")
#: How those fonts' files are named (Debian, Noto, Adobe).
CJK_FONT_FILES = ("wqy-microhei", "notosanscjk", "notosanssc", "sourcehansans")
FORMATS = {"png": "image/png", "svg": "image/svg+xml"}
SIZE = (8.0, 3.6)  # inches
DPI = 110
BLUE, ORANGE, GREY = "#2f6fb0", "#d9822b", "#6c757d"

#: Rendered charts kept per process (an SVG is 10-60 kB; the page shows six).
CACHE_SIZE = 64
#: Room for the rotated category labels of the Pareto charts and the axis labels.
MARGINS = {"left": 0.1, "right": 0.97, "bottom": 0.24, "top": 0.88}
#: The Pareto charts' right margin: room for the cumulative-share axis.
TWIN_AXIS_RIGHT = 0.9

_configured = False
_lock = threading.Lock()
_rendered: OrderedDict[str, bytes] = OrderedDict()
_rendered_lock = threading.Lock()


def cjk_font() -> str | None:
    """The family name of an installed CJK font, or None.

    matplotlib lists the system's fonts once and keeps the list in its cache directory: a font
    installed after that (`apt-get install fonts-wqy-microhei` on a running server) is not in
    it. So when none of `CJK_FONTS` is listed, the system's font files matplotlib does not know
    yet are added to its list for this process, and the search is repeated."""
    from matplotlib import font_manager

    def listed() -> str | None:
        for family in CJK_FONTS:
            try:
                font_manager.findfont(font_manager.FontProperties(family=family), fallback_to_default=False)
            except ValueError:
                continue
            return family
        return None

    family = listed()
    if family is None:
        known = {entry.fname for entry in font_manager.fontManager.ttflist}
        for path in font_manager.findSystemFonts():
            if path not in known and Path(path).name.lower().startswith(CJK_FONT_FILES):
                try:
                    font_manager.fontManager.addfont(path)
                except (OSError, RuntimeError, ValueError):  # unreadable or not a font
                    continue
        family = listed()
    return family


def _configure() -> None:
    """Set matplotlib's process-wide settings once: this module is the only user of matplotlib,
    and the values never change afterwards, so concurrent renders read a stable configuration."""
    global _configured
    if _configured:
        return
    import matplotlib

    with _lock:
        if _configured:
            return
        family = cjk_font()
        if family is None:
            logger.warning(
                "No CJK font found (tried %s): Chinese chart labels will not render in PNG. "
                "Install Debian's fonts-wqy-microhei.",
                ", ".join(CJK_FONTS),
            )
        # Named families, not "sans-serif": matplotlib falls back glyph by glyph only along
        # the families listed here.
        matplotlib.rcParams["font.family"] = ["DejaVu Sans", *([family] if family else [])]
        matplotlib.rcParams["svg.fonttype"] = "none"
        # Stable element ids: the same chart gives the same SVG bytes.
        matplotlib.rcParams["svg.hashsalt"] = "repairqc"
        matplotlib.rcParams["axes.spines.top"] = False
        matplotlib.rcParams["axes.spines.right"] = False
        _configured = True


def _figure(title: str, **margins: float) -> tuple[Figure, object]:
    from matplotlib.figure import Figure

    _configure()
    figure = Figure(figsize=SIZE, dpi=DPI)
    figure.subplots_adjust(**{**MARGINS, **margins})
    axes = figure.add_subplot()
    axes.set_title(title, fontsize=11, loc="left")
    return figure, axes


@dataclass(frozen=True)
class Chart:
    """A chart to draw: the drawing function and its inputs (plain data and translated text)."""

    draw: Callable[..., Figure]
    args: tuple[Any, ...]
    kwargs: tuple[tuple[str, Any], ...]

    def figure(self) -> Figure:
        return self.draw(*self.args, **dict(self.kwargs))

    def digest(self, fmt: str) -> str:
        # repr of the inputs (numbers, strings, dates, dataclasses of them) is exact and stable.
        text = repr((self.draw.__qualname__, self.args, self.kwargs, fmt))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


def chart(draw: Callable[..., Figure]) -> Callable[..., Chart]:
    """Make a drawing function return a `Chart`, drawn (or found already drawn) by `render`."""

    @functools.wraps(draw)
    def describe(*args: Any, **kwargs: Any) -> Chart:
        return Chart(draw, args, tuple(sorted(kwargs.items())))

    return describe


def render(figure: Chart | Figure, fmt: str) -> bytes:
    """The chart as PNG or SVG bytes; a `Chart` whose inputs were rendered before is not drawn."""
    if not isinstance(figure, Chart):  # a matplotlib Figure, drawn already
        return _render_figure(figure, fmt)
    key = figure.digest(fmt)
    with _rendered_lock:
        body = _rendered.get(key)
        if body is not None:
            _rendered.move_to_end(key)
            return body
    body = _render_figure(figure.figure(), fmt)
    with _rendered_lock:
        _rendered[key] = body
        while len(_rendered) > CACHE_SIZE:
            _rendered.popitem(last=False)
    return body


def _render_figure(figure: Figure, fmt: str) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.backends.backend_svg import FigureCanvasSVG

    out = io.BytesIO()
    canvas = FigureCanvasAgg(figure) if fmt == "png" else FigureCanvasSVG(figure)
    canvas.print_figure(out, format=fmt, dpi=DPI, metadata={"Date": None} if fmt == "svg" else None)
    return out.getvalue()


def _percent_formatter():
    from matplotlib.ticker import PercentFormatter

    return PercentFormatter()


def _empty(axes, message: str) -> None:
    axes.set_axis_off()
    axes.text(0.5, 0.5, message, ha="center", va="center", transform=axes.transAxes, color=GREY)


@chart
def scatter_chart(
    points: Sequence[tuple[float, float]], *, title: str, x_label: str, y_label: str, note: str, empty: str
) -> Figure:
    figure, axes = _figure(title)
    if not points:
        _empty(axes, empty)
        return figure
    xs, ys = zip(*points, strict=True)
    # Up to SAMPLE_CAP points: one embedded image instead of an SVG path per point.
    axes.scatter(xs, ys, s=8, alpha=0.5, color=BLUE, linewidths=0, rasterized=True)
    axes.set_xlabel(x_label)
    axes.set_ylabel(y_label)
    figure.text(0.99, 0.01, note, ha="right", va="bottom", fontsize=7, color=GREY)
    return figure


@chart
def parts_rework_chart(
    buckets: Sequence[PartsBucket], *, title: str, x_label: str, y_label: str, more: str, empty: str
) -> Figure:
    """The rework rate by number of parts used (each bar labelled with its number of orders)."""
    figure, axes = _figure(title)
    if not any(b.orders for b in buckets):
        _empty(axes, empty)
        return figure
    labels = [more if b.parts == len(buckets) - 1 else str(b.parts) for b in buckets]
    rates = [b.rate or 0.0 for b in buckets]
    bars = axes.bar(labels, rates, color=BLUE)
    axes.bar_label(bars, labels=[f"n={b.orders}" for b in buckets], fontsize=7, color=GREY)
    axes.yaxis.set_major_formatter(_percent_formatter())
    axes.set_xlabel(x_label)
    axes.set_ylabel(y_label)
    return figure


@chart
def pareto_chart(
    rows: Sequence[ParetoRow], *, title: str, y_label: str, empty: str, limit: int = 15
) -> Figure:
    """Bars (counts, largest first) and the cumulative share as a line on a 0-100 % axis."""
    figure, axes = _figure(title, right=TWIN_AXIS_RIGHT)
    if not rows:
        _empty(axes, empty)
        return figure
    shown = list(rows[:limit])
    labels = [row.label for row in shown]
    axes.bar(labels, [row.count for row in shown], color=BLUE)
    axes.set_ylabel(y_label)
    axes.tick_params(axis="x", labelrotation=30, labelsize=7)
    for label in axes.get_xticklabels():
        label.set_horizontalalignment("right")
    share = axes.twinx()
    share.plot(labels, [row.cumulative_percent for row in shown], color=ORANGE, marker="o", markersize=3)
    share.axhline(80, color=GREY, linestyle=":", linewidth=1)
    share.set_ylim(0, 105)
    share.yaxis.set_major_formatter(_percent_formatter())
    share.spines["right"].set_visible(True)
    return figure


@chart
def forecast_chart(
    result: Forecast, *, title: str, y_label: str, history_label: str, forecast_label: str,
    backtest_label: str, empty: str,
) -> Figure:  # fmt: skip
    figure, axes = _figure(title)
    if result.too_short:
        _empty(axes, empty)
        return figure
    history_weeks = result.history_weeks()
    axes.plot(history_weeks, result.history, color=BLUE, linewidth=1.2, label=history_label)
    if result.backtest is not None:
        axes.plot(history_weeks[-len(result.backtest.predicted):], result.backtest.predicted, color=GREY,
                  linestyle="--", linewidth=1, label=backtest_label)  # fmt: skip
    future = result.forecast_weeks()
    axes.plot([history_weeks[-1], *future], [result.history[-1], *result.predicted], color=ORANGE,
              linewidth=1.6, marker="o", markersize=3, label=forecast_label)  # fmt: skip
    axes.set_ylabel(y_label)
    axes.set_ylim(bottom=0)
    axes.legend(fontsize=7, loc="upper left", frameon=False)
    axes.tick_params(axis="x", labelrotation=30, labelsize=7)
    return figure
