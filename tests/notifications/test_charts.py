"""The bulletin's progress chart: a PNG drawn with the bundled CJK font, every glyph present, no global state."""

from __future__ import annotations

import datetime as dt
import io
import struct
import subprocess
import sys
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import matplotlib
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import date2num
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.ft2font import FT2Font

from notifications.charts import CJK_FONT_NAME, cjk_font_path, progress_chart

START = dt.date(2024, 7, 1)
TITLE = "老旧小区改造计划节点累计完成情况（截至8月31日）"
#: Every Chinese character the chart draws besides its title: legend, axis labels, date ticks.
LABELS = "计划累计实际完成累计滞后差距超前部分日期累计节点数（个）月日"


def _points(days: int = 62) -> list[tuple[dt.date, int, int]]:
    # The lines cross: ahead of plan in the first week, behind afterwards, so both shadings are drawn.
    return [(START + dt.timedelta(days=d), 2 * d + 3, int(1.7 * d) + (8 if d < 8 else 0)) for d in range(days)]


def _png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG file"
    width, height = struct.unpack(">II", header[16:24])
    return width, height


def test_chart_is_a_160_by_90_mm_png_at_150_dpi(tmp_path: Path) -> None:
    path = tmp_path / "progress.png"
    assert progress_chart(_points(), path, TITLE) == path
    width, height = _png_size(path)
    # 160 × 90 mm at 150 dpi is 945 × 531 px; Agg truncates to whole pixels.
    assert abs(width - 945) <= 2 and abs(height - 531) <= 2
    assert 20_000 < path.stat().st_size < 1_000_000


def test_no_glyph_is_missing(tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        progress_chart(_points(), tmp_path / "progress.png", TITLE)
        progress_chart(_points(1), tmp_path / "one-day.png", "单日")


def test_missing_glyphs_would_be_caught() -> None:
    # The test above proves something only if a missing glyph does warn: draw Chinese with a Latin-only font.
    figure = Figure()
    FigureCanvasAgg(figure)
    figure.text(0.5, 0.5, "计划", fontproperties=FontProperties(family="DejaVu Sans"))
    with warnings.catch_warnings(), pytest.raises(UserWarning, match="Glyph"):
        warnings.simplefilter("error")
        figure.savefig(io.BytesIO(), format="png")


def test_the_font_ships_with_the_project_and_covers_every_label() -> None:
    path = cjk_font_path()
    assert path.is_file() and "mplfonts" in path.parts  # from the wheel, not from /usr/share/fonts
    assert FontProperties(fname=path).get_name() == CJK_FONT_NAME
    font = FT2Font(str(path))
    missing = [char for char in LABELS + TITLE + "0123456789" if font.get_char_index(ord(char)) == 0]
    assert not missing


def test_dates_are_written_the_chinese_way() -> None:
    from notifications import charts

    assert charts._date_label(float(date2num(dt.date(2024, 7, 1)))) == "7月1日"
    assert charts._date_label(float(date2num(dt.date(2024, 10, 31)))) == "10月31日"


def test_points_in_any_order_and_a_single_day_are_drawn(tmp_path: Path) -> None:
    progress_chart(list(reversed(_points(10))), tmp_path / "reversed.png", TITLE)
    progress_chart([(START, 0, 0)], tmp_path / "empty-day.png", TITLE)
    assert _png_size(tmp_path / "reversed.png") == _png_size(tmp_path / "empty-day.png")


def test_no_points_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        progress_chart([], tmp_path / "none.png", TITLE)


def test_matplotlib_global_settings_are_left_alone(tmp_path: Path) -> None:
    before = dict(matplotlib.rcParams)
    progress_chart(_points(), tmp_path / "progress.png", TITLE)
    assert dict(matplotlib.rcParams) == before


def test_pyplot_is_never_imported() -> None:
    code = (
        "import sys, datetime, pathlib, tempfile\n"
        "from notifications.charts import progress_chart\n"
        "progress_chart([(datetime.date(2024, 7, 1), 1, 1)], pathlib.Path(tempfile.mkdtemp()) / 'c.png', '图')\n"
        "assert 'matplotlib.pyplot' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_charts_can_be_drawn_from_several_threads(tmp_path: Path) -> None:
    with ThreadPoolExecutor(max_workers=4) as pool:
        paths = list(pool.map(lambda i: progress_chart(_points(), tmp_path / f"c{i}.png", TITLE), range(6)))
    contents = {path.read_bytes() for path in paths}
    assert len(contents) == 1  # the same chart, byte for byte, whichever thread drew it
