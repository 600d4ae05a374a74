"""Limits on what one import may make duban read, hold and list: a hostile workbook is refused, not obeyed.

The defaults fit the national ledger with room to spare (docs/BENCHMARKS.md: 220,000 projects,
2.64 M nodes, 100,000 persons). A workbook sheet holds at most Excel's 1,048,576 rows, so the
national nodes come as CSV (2.64 M lines, 144 MB); as a workbook its largest sheet is the
projects (220,000 rows × 9 columns), and a sheet filled to Excel's last row with 19 columns
still fits ``max_sheet_cells``.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

#: The most rows and columns a sheet can have in Excel (A1:XFD1048576).
EXCEL_ROWS = 1_048_576
EXCEL_COLUMNS = 16_384


class LimitsSettings(BaseModel):
    """What a ledger or hotline export may declare, unpack to and take to read; and how many problems are listed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Rows of one sheet, as declared (its ``<dimension>``) or as read: Excel's own maximum.
    max_sheet_rows: int = Field(default=EXCEL_ROWS, ge=1, le=EXCEL_ROWS)
    #: Columns of one sheet (a ledger form has about 20).
    max_sheet_columns: int = Field(default=200, ge=1, le=EXCEL_COLUMNS)
    #: Cells of one sheet (rows × columns from A1): what reading it allocates.
    max_sheet_cells: int = Field(default=20_000_000, ge=1)
    #: The workbook's members together, unpacked.
    max_unzipped_mb: int = Field(default=2048, ge=1)
    #: Members of the workbook's zip archive (a workbook has tens).
    max_zip_members: int = Field(default=10_000, ge=1)
    #: Unpacked ÷ packed size, of the whole archive and of any member over 1 MB unpacked (a zip bomb's is in the thousands).
    max_zip_ratio: int = Field(default=100, ge=1)
    #: The address space of the process that reads a workbook (RLIMIT_AS).
    read_memory_mb: int = Field(default=4096, ge=256)
    #: Processor seconds of the process that reads a workbook (RLIMIT_CPU); three times as long by the clock.
    read_seconds: int = Field(default=600, ge=1)
    #: One CSV file.
    max_csv_mb: int = Field(default=1024, ge=1)
    #: Lines of one CSV file.
    max_csv_rows: int = Field(default=10_000_000, ge=1)
    #: One line of a CSV file.
    max_csv_line_kb: int = Field(default=1024, ge=4)
    #: Problems listed when an import is refused; the rest are counted (「另有 K 个问题未列出」).
    max_problems: int = Field(default=200, ge=1)
