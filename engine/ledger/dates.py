"""Parse the dates users type: the forms of a ledger's cells, and the one form of commands and web forms.

``parse_date`` reads a cell (every form of docs/LEDGER.md, Excel serials, the ledger's year for
「7月31日」); ``parse_typed`` reads what is typed after ``--through`` or into a date field.
"""

from __future__ import annotations

import datetime as dt
import re

_FULLWIDTH = str.maketrans("０１２３４５６７８９／．－　", "0123456789/.- ")
_PATTERNS = (
    re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$"),
    re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})$"),
    re.compile(r"^(\d{4})\.(\d{1,2})\.(\d{1,2})$"),
    re.compile(r"^(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*[日号]?$"),
)
# 「7月31日」: the year is the ledger's (its title, its 填报日期, else the import's).
_WITHOUT_YEAR = re.compile(r"^(\d{1,2})\s*月\s*(\d{1,2})\s*[日号]?$")
FORMS = "2024-07-31、2024/7/31、2024.7.31、2024年7月31日、7月31日"
# Excel's day 0 is 1899-12-30 once its 1900 leap-year bug is accounted for.
_EXCEL_EPOCH = dt.date(1899, 12, 30)


def parse_iso(value: object) -> dt.date | None:
    """The common case, an ISO date string, without the general parser (None for anything else)."""
    if type(value) is str and len(value) == 10 and value[4] == "-" and value[7] == "-":
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return None
    return None


def parse_typed(value: str) -> dt.date:
    """A date typed on the command line or into a web form: YYYY-MM-DD, spaces around it ignored.

    Raises ValueError with the Chinese reason the command line prints.
    """
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(f"日期应为 YYYY-MM-DD 格式：{value!r}") from None


def parse_date(value: object, year: int | None = None) -> dt.date:
    """Return a date from a cell: a date, an Excel serial number, or a text form of the spec.

    ``year`` completes a date written without one (「7月31日」). Raises ValueError with a Chinese
    reason when the value is not one of the accepted forms.
    """
    if isinstance(value, dt.datetime):
        if value.time() != dt.time(0):
            raise ValueError("应为日期，不应包含时间")
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, bool):
        raise ValueError("不是日期")
    if isinstance(value, int | float):
        if float(value).is_integer() and 1 <= value <= 2958465:
            return _EXCEL_EPOCH + dt.timedelta(days=int(value))
        raise ValueError("不是日期")
    iso = parse_iso(value)  # the common case, without the regex tour
    if iso is not None:
        return iso
    text = str(value).strip().translate(_FULLWIDTH)
    # A datetime written as text by some exports ("2024-07-31 00:00:00").
    text = re.sub(r"[ T]00:00(:00)?$", "", text)
    for pattern in _PATTERNS:
        match = pattern.match(text)
        if match:
            return _date(*(int(part) for part in match.groups()))
    match = _WITHOUT_YEAR.match(text)
    if match:
        if year is None:
            raise ValueError("日期缺少年份（请写成 2024年7月31日）")
        return _date(year, int(match.group(1)), int(match.group(2)))
    raise ValueError(f"无法识别的日期格式（可用：{FORMS}）")


def _date(year: int, month: int, day: int) -> dt.date:
    try:
        return dt.date(year, month, day)
    except ValueError:
        raise ValueError("日期不存在") from None
