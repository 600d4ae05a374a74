"""The child process that reads a workbook with calamine, under a memory and a processor-time limit.

Run by ``engine.ledger.guard`` as ``python -I sheets_child.py PATH MEMORY_MB SECONDS ROWS COLUMNS CELLS``,
by path and in isolated mode, so that nothing of duban is imported here: this file needs the
standard library and python_calamine only. calamine allocates a sheet's whole rectangle before
Python sees a cell, and an allocation that fails aborts the process (SIGABRT), which no
``except`` catches: here that takes down this child only, and the parent turns it into a refusal.

It writes pickled messages to stdout, in order::

    ("sheets", [name, ...])                 or ("workbook_error", text) and nothing more
    ("reading", name)                       before each sheet: the parent knows which one a death was in
    ("sheet_error", name, text)             calamine refused this sheet (the others are still read)
    ("too_large", name, rows, columns)      the sheet as read is beyond a limit: nothing more is read
    ("sheet", name, merged)                 then ("rows", [row, ...]) … and ("end", rows_above, width):
                                            the empty rows above the first that calamine left out
    ("done",)

Exit codes: 0 after "done", ``EXIT_MEMORY`` when Python ran out of memory.
"""

from __future__ import annotations

import os
import pickle
import resource
import sys
from collections.abc import Iterator
from typing import Any, BinaryIO

#: Python's own MemoryError (calamine's failed allocations abort instead).
EXIT_MEMORY = 3
#: Rows per message: small enough to hold two at once, big enough that pickling stays cheap.
CHUNK = 20_000


def _limit(memory_mb: int, seconds: int) -> None:
    memory = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    # SIGXCPU at the soft limit; the hard one kills the process if that signal is ignored.
    resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds + 5))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # an abort leaves no core file behind


def _send(out: BinaryIO, *message: Any) -> None:
    pickle.dump(message, out, protocol=pickle.HIGHEST_PROTOCOL)
    out.flush()


def read(path: str, out: BinaryIO, rows: int, columns: int, cells: int) -> None:
    """Read every sheet of a workbook and send its rows and merged ranges (see the module's docstring)."""
    from python_calamine import CalamineWorkbook

    try:
        workbook = CalamineWorkbook.from_path(path)
    except Exception as exc:  # calamine raises several error types for unreadable files
        _send(out, "workbook_error", str(exc))
        return
    names = list(workbook.sheet_names)
    _send(out, "sheets", names)
    for name in names:
        _send(out, "reading", name)
        try:
            sheet = workbook.get_sheet_by_name(name)
        except Exception as exc:
            _send(out, "sheet_error", name, str(exc))
            continue
        end = sheet.end
        height, width = (end[0] + 1, end[1] + 1) if end is not None else (0, 0)
        if height > rows or width > columns or height * width > cells:
            _send(out, "too_large", name, height, width)
            return
        try:
            merged = list(sheet.merged_cell_ranges or ())
        except Exception:  # a format calamine reads no merged cells of
            merged = []
        _send(out, "sheet", name, merged)
        sent = 0
        for chunk in _rows(sheet, width):
            _send(out, "rows", chunk)
            sent += len(chunk)
        _send(out, "end", height - sent, width)
        del sheet
    _send(out, "done")


def _rows(sheet: Any, width: int) -> Iterator[list[list[Any]]]:
    """Yield a sheet's rows in chunks, converted as they go, each as wide as from column A.

    calamine's ``iter_rows`` leaves out the empty columns left of the first used one (put back
    here) and may leave out the empty rows above it: their count goes with "end", and the parent
    puts them back, so that rows are as ``to_python(skip_empty_area=False)`` gives them.
    """
    chunk: list[list[Any]] = []
    for row in sheet.iter_rows():
        chunk.append([""] * (width - len(row)) + row if len(row) < width else row)
        if len(chunk) >= CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def main(argv: list[str]) -> int:
    """Set the limits, then read the workbook named on the command line."""
    path, memory_mb, seconds, rows, columns, cells = argv
    _limit(int(memory_mb), int(seconds))
    try:
        read(path, sys.stdout.buffer, int(rows), int(columns), int(cells))
    except MemoryError:
        os._exit(EXIT_MEMORY)  # no cleanup: it would need memory too
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
