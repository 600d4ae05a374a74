"""Charts for the weekly bulletin (周报), drawn with matplotlib's object-oriented API on the Agg canvas.

No pyplot: pyplot keeps global figure state and picks a GUI backend, neither of which belongs in a scheduler job.
The Chinese font is Noto Sans CJK SC, shipped inside the ``mplfonts`` wheel, loaded by file path so that the chart
looks the same on every machine and never depends on system fonts or on matplotlib's user config directory.
"""

from __future__ import annotations

import datetime
import importlib.util
import math
import pathlib
import threading
from collections.abc import Sequence
from functools import cache

from matplotlib import font_manager
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import date2num, num2date
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.ticker import FixedLocator, FuncFormatter, MaxNLocator

from notifications.files import replacing

__all__ = ["CJK_FONT_NAME", "cjk_font_path", "progress_chart"]

#: Family name of the bundled CJK font, usable wherever matplotlib takes a font family (after ``cjk_font_path()``).
CJK_FONT_NAME = "Noto Sans CJK SC"
#: The font file inside the mplfonts package (SIL Open Font License; mplfonts also ships SimHei, whose licence is unclear).
_FONT_FILE = ("fonts", "NotoSansCJKsc-Regular.otf")

_MM_PER_INCH = 25.4
_WIDTH_MM = 160.0
_HEIGHT_MM = 90.0
_DPI = 150
#: At most this many date labels on the x axis: "10月31日" is wide, more would overlap at 160 mm.
_MAX_DATE_TICKS = 8

_PLANNED_COLOUR = "#1f5fa8"
_ACTUAL_COLOUR = "#2e8b57"
_BEHIND_COLOUR = "#d62728"
_AHEAD_COLOUR = "#2ca02c"

# FreeType font objects are cached and shared by matplotlib and are not safe for concurrent use, so one chart at a time.
_render_lock = threading.Lock()
_register_lock = threading.Lock()


@cache
def _font_file() -> pathlib.Path:
    # find_spec locates the package without importing it: importing mplfonts pulls in its CLI helpers for nothing.
    spec = importlib.util.find_spec("mplfonts")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        candidate = pathlib.Path(location).joinpath(*_FONT_FILE)
        if candidate.is_file():
            return candidate
    raise RuntimeError(
        "CJK font not found: install the project's dependencies (the mplfonts package ships Noto Sans CJK SC)"
    )


def cjk_font_path() -> pathlib.Path:
    """Return the path of the bundled CJK font file, registering it with matplotlib's font manager once."""
    path = _font_file()
    with _register_lock:
        # addfont appends on every call, so register once; it only adds an entry, no rcParams are touched.
        if not any(entry.fname == str(path) for entry in font_manager.fontManager.ttflist):
            font_manager.fontManager.addfont(str(path))
    return path


def _date_label(value: float, _pos: int | None = None) -> str:
    day = num2date(value)
    return f"{day.month}月{day.day}日"


def progress_chart(points: Sequence[tuple[datetime.date, int, int]], path: pathlib.Path, title: str) -> pathlib.Path:
    """Draw cumulative planned vs completed nodes per day as a PNG at ``path`` and return ``path``."""
    if not points:
        raise ValueError("progress_chart needs at least one point")
    ordered = sorted(points, key=lambda point: point[0])
    days = [day for day, _, _ in ordered]
    xs = [float(date2num(day)) for day in days]
    planned = [planned for _, planned, _ in ordered]
    actual = [actual for _, _, actual in ordered]

    font_path = cjk_font_path()
    title_font = FontProperties(fname=font_path, size=12)
    label_font = FontProperties(fname=font_path, size=9)
    legend_font = FontProperties(fname=font_path, size=8)

    with _render_lock:
        figure = Figure(figsize=(_WIDTH_MM / _MM_PER_INCH, _HEIGHT_MM / _MM_PER_INCH), dpi=_DPI)
        FigureCanvasAgg(figure)
        axes = figure.add_subplot()

        axes.plot(xs, planned, color=_PLANNED_COLOUR, linewidth=1.8, marker="o", markersize=2.5, label="计划累计")
        axes.plot(xs, actual, color=_ACTUAL_COLOUR, linewidth=1.8, marker="o", markersize=2.5, label="实际完成累计")
        behind = [p > a for p, a in zip(planned, actual, strict=True)]
        ahead = [a > p for p, a in zip(planned, actual, strict=True)]
        # interpolate=True closes the shading exactly where the lines cross instead of at the neighbouring point.
        if any(behind):
            axes.fill_between(
                xs, planned, actual, where=behind, interpolate=True, color=_BEHIND_COLOUR, alpha=0.18, label="滞后差距"
            )
        if any(ahead):
            axes.fill_between(
                xs, planned, actual, where=ahead, interpolate=True, color=_AHEAD_COLOUR, alpha=0.18, label="超前部分"
            )

        axes.set_title(title, fontproperties=title_font)
        axes.set_xlabel("日期", fontproperties=label_font)
        axes.set_ylabel("累计节点数（个）", fontproperties=label_font)
        axes.legend(prop=legend_font, loc="upper left", frameon=False)

        span_days = (days[-1] - days[0]).days
        # Ticks every n whole days counted from the first day, so the axis starts at the bulletin's first date
        # (DayLocator counts from the 1st of the month, AutoDateLocator picks hours for a one-day span).
        step = max(1, math.ceil((span_days + 1) / _MAX_DATE_TICKS))
        axes.xaxis.set_major_locator(FixedLocator([xs[0] + offset for offset in range(0, span_days + 1, step)]))
        axes.xaxis.set_major_formatter(FuncFormatter(_date_label))
        axes.yaxis.set_major_locator(MaxNLocator(integer=True))
        # Tick labels are created at draw time, so they get the font by family name (registered by cjk_font_path).
        axes.tick_params(labelfontfamily=CJK_FONT_NAME, labelsize=8)
        if span_days == 0:
            axes.set_xlim(xs[0] - 1, xs[0] + 1)
        else:
            axes.set_xlim(xs[0], xs[-1])
        axes.set_ylim(bottom=0, top=max(1, *planned, *actual) * 1.1)
        axes.grid(True, color="#dddddd", linewidth=0.6)
        axes.spines[["top", "right"]].set_visible(False)

        figure.tight_layout()
        with replacing(path) as temp:
            figure.savefig(temp, format="png", dpi=_DPI)
    return path
