"""Opening a workbook or CSV file that may be hostile: bounded before anything is allocated, parsed where a crash is harmless.

Start here: ``open_workbook`` is what the ledger and hotline readers call instead of calamine.

1. **The archive, before any parsing** (.xlsx, .xlsm, .ods are zip files): the member count from
   the end-of-central-directory record (before ``zipfile`` builds an entry per member), then the
   central directory: the unpacked size of all members, each member's and the archive's
   compression ratio (a zip bomb's is in the thousands); then each sheet's declared
   ``<dimension ref=…>``, streamed from the first KB of its XML, never the whole member.
2. **calamine in a child process** (``sheets_child.py``) with an address-space and a
   processor-time limit: a sheet without a dimension, or one that lies about it or its size,
   makes calamine allocate its whole rectangle, and a failed allocation aborts the process.
   Here the child dies, and that is a refusal naming the sheet; the server, the scheduler or
   the command line carries on. The child also checks each sheet as read against the limits
   before it turns it into Python rows; the rows come back pickled, in chunks, and are
   unpickled with nothing but cell values allowed.

``csv_fits`` bounds a CSV file the same way before it is read: its size, its lines and the
longest line, counted in pieces of at most one line's limit.
"""

from __future__ import annotations

import datetime as dt
import os
import pickle
import posixpath
import re
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any
from xml.etree.ElementTree import Element, ParseError, XMLPullParser

from config.limits import LimitsSettings
from engine.ledger.header import letter
from engine.ledger.sheets_child import EXIT_MEMORY

if TYPE_CHECKING:
    from engine.ledger.read import Problems

__all__ = ["SheetUnreadable", "Workbook", "csv_fits", "open_workbook"]

CHILD = Path(__file__).with_name("sheets_child.py")
#: Suffixes of workbooks that are zip archives (an .xls is an OLE file: only the child guards it).
ZIPPED = (".xlsx", ".xlsm", ".ods")
MB = 1024 * 1024
#: A member smaller than this unpacked is not held to the ratio (a small styles.xml may pack very well).
RATIO_GRACE = MB
#: How much of a sheet's XML is read for its dimension (it comes before the cells, in the first few hundred bytes).
HEAD = 64 * 1024
#: How much of workbook.xml and its relationships is read to name the sheets' members.
INDEX = 8 * MB
_CELL = re.compile(r"^\$?([A-Za-z]{1,3})\$?(\d{1,7})$")
#: What a sheet's rows may hold, besides the builtins (the restricted unpickler allows nothing else).
_CELL_TYPES = {("datetime", name): getattr(dt, name) for name in ("datetime", "date", "time", "timedelta", "timezone")}


class SheetUnreadable(Exception):
    """calamine could not read one sheet; the message is its reason."""


@dataclass
class Sheet:
    """One sheet as the child read it: its rows from A1, and its merged ranges ((top, left), (bottom, right))."""

    name: str
    rows: list[list[Any]]
    merged_cell_ranges: list[tuple[tuple[int, int], tuple[int, int]]]

    def to_python(self, skip_empty_area: bool = True) -> list[list[Any]]:
        """Return the rows from A1 (only ``skip_empty_area=False`` is read; rows are handed over once)."""
        if skip_empty_area:
            raise ValueError("the child reads a sheet from A1 only: call to_python(skip_empty_area=False)")
        return self.rows


@dataclass
class Workbook:
    """What the child read: calamine's sheet names, each sheet or calamine's reason it is unreadable."""

    sheet_names: list[str]
    sheets: dict[str, Sheet | str] = field(default_factory=dict)

    def get_sheet_by_name(self, name: str) -> Sheet:
        """Return a sheet; raise SheetUnreadable with calamine's reason if it could not be read."""
        found = self.sheets.get(name, "工作表未读取")
        if isinstance(found, str):
            raise SheetUnreadable(found)
        return found


class _Refusal(Exception):
    """A workbook beyond a limit: the reason, naming the sheet where there is one."""


class _Unreadable(Exception):
    """calamine could not open the workbook at all (its reason)."""


def open_workbook(path: Path, problems: Problems, name: str, limits: LimitsSettings | None = None) -> Workbook | None:
    """Check a workbook against the limits, then read it in a child process; None (with its problems) if refused."""
    limits = limits or LimitsSettings()
    try:
        if path.suffix.lower() in ZIPPED:
            _check_archive(path, limits)
        return _read_in_child(path, limits)
    except _Refusal as refusal:
        problems.add(name, None, None, None, str(refusal))
        return None
    except _Unreadable as exc:
        problems.add(name, None, None, None, f"无法读取工作簿：{exc}")
        return None


# --- 1. the archive ---------------------------------------------------------------------------


def _check_archive(path: Path, limits: LimitsSettings) -> None:
    """Refuse an archive beyond the limits, reading only its directory and the head of each sheet."""
    with path.open("rb") as handle:
        counted = _members_declared(handle)
        if counted is None:
            return  # not a zip archive: calamine says what is wrong with it
        _check_members(counted, limits)  # before zipfile makes an entry for every one
        try:
            archive = zipfile.ZipFile(handle)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError):
            return
        with archive:
            members = archive.infolist()
            _check_members(len(members), limits)  # the end record may understate them
            sheets = _sheet_members(archive)
            _check_sizes(members, sheets, limits)
            for member, sheet in sheets.items():
                ref = _declared_dimension(archive, member)
                size = _extent(ref) if ref else None
                if size is not None and not _within(*size, limits):
                    raise _Refusal(_beyond(sheet, "声明的范围", ref or "", *size, limits))


def _check_members(count: int, limits: LimitsSettings) -> None:
    if count > limits.max_zip_members:
        raise _Refusal(
            f"压缩包有 {count} 个成员，超出上限（最多 {limits.max_zip_members} 个），文件可能已损坏或是恶意构造的"
        )


def _members_declared(handle: IO[bytes]) -> int | None:
    """Return the member count the end-of-central-directory record declares (ZIP64 too); None if there is none."""
    handle.seek(0, os.SEEK_END)
    size = handle.tell()
    tail_size = min(size, 22 + 0xFFFF + 20)  # the record, its longest comment, a ZIP64 locator before it
    handle.seek(size - tail_size)
    tail = handle.read(tail_size)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < 22:
        return None
    entries: int = struct.unpack("<H", tail[at + 10 : at + 12])[0]
    if entries == 0xFFFF and at >= 20 and tail[at - 20 : at - 16] == b"PK\x06\x07":
        offset: int = struct.unpack("<Q", tail[at - 12 : at - 4])[0]
        if offset < size:
            handle.seek(offset)
            record = handle.read(56)
            if record[:4] == b"PK\x06\x06" and len(record) == 56:
                entries = struct.unpack("<Q", record[32:40])[0]
    return entries


def _check_sizes(members: list[zipfile.ZipInfo], sheets: dict[str, str], limits: LimitsSettings) -> None:
    unpacked = sum(m.file_size for m in members)
    packed = sum(m.compress_size for m in members)
    if unpacked > limits.max_unzipped_mb * MB:
        raise _Refusal(f"解压后共 {_mb(unpacked)} MB，超出上限（最多 {limits.max_unzipped_mb} MB）")
    for member in members:
        if member.file_size > RATIO_GRACE and member.file_size > limits.max_zip_ratio * max(member.compress_size, 1):
            what = f"工作表「{sheets[member.filename]}」" if member.filename in sheets else "成员"
            raise _Refusal(
                f"{what}（{member.filename}）解压后 {_mb(member.file_size)} MB，是压缩后的 "
                f"{member.file_size // max(member.compress_size, 1)} 倍，超出上限（最多 {limits.max_zip_ratio} 倍），"
                "文件可能是压缩炸弹"
            )
    if unpacked > RATIO_GRACE and unpacked > limits.max_zip_ratio * max(packed, 1):
        raise _Refusal(
            f"解压后共 {_mb(unpacked)} MB，是压缩后的 {unpacked // max(packed, 1)} 倍，"
            f"超出上限（最多 {limits.max_zip_ratio} 倍），文件可能是压缩炸弹"
        )


def _mb(size: int) -> str:
    return f"{size / MB:.0f}" if size >= MB else f"{size / MB:.2f}"


def _sheet_members(archive: zipfile.ZipFile) -> dict[str, str]:
    """Map each worksheet's member to its sheet name (from workbook.xml and its relationships); {} if unreadable."""
    book = _targets(archive, "_rels/.rels", "").get("officeDocument", "xl/workbook.xml")
    folder, file = posixpath.split(book)
    by_id = _targets(archive, posixpath.join(folder, "_rels", f"{file}.rels"), folder, by="Id")
    names: dict[str, str] = {}
    for element in _elements(archive, book):
        if _local(element.tag) == "sheet":
            rid = next((v for k, v in element.attrib.items() if _local(k) == "id"), None)
            if rid in by_id and "name" in element.attrib:
                names.setdefault(by_id[rid], element.attrib["name"])
    return names


def _targets(archive: zipfile.ZipFile, rels: str, folder: str, by: str = "Type") -> dict[str, str]:
    """Return a relationships part's targets (as members) by the last word of their type, or by their Id."""
    found: dict[str, str] = {}
    for element in _elements(archive, rels):
        if _local(element.tag) != "Relationship" or "Target" not in element.attrib:
            continue
        target = element.attrib["Target"]
        member = target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join(folder, target))
        key = element.attrib.get(by, "")
        found.setdefault(key.rsplit("/", 1)[-1] if by == "Type" else key, member)
    return found


def _elements(archive: zipfile.ZipFile, member: str) -> Iterator[Element]:
    """Yield the elements of a small member as they start; nothing if it is missing, too big or not XML."""
    try:
        info = archive.getinfo(member)
    except KeyError:
        return
    if info.file_size > INDEX:
        return
    parser = _parser()
    try:
        with archive.open(info) as stream:
            while chunk := stream.read(64 * 1024):
                parser.feed(chunk)
                yield from _started(parser)
    except (ParseError, zipfile.BadZipFile, OSError, ValueError, NotImplementedError, RuntimeError, EOFError):
        return


def _declared_dimension(archive: zipfile.ZipFile, member: str) -> str | None:
    """Return a sheet's ``<dimension ref>``, reading at most the first ``HEAD`` bytes of its XML."""
    parser = _parser()
    read = 0
    try:
        with archive.open(member) as stream:
            while read < HEAD and (chunk := stream.read(4096)):
                read += len(chunk)
                parser.feed(chunk)
                for element in _started(parser):
                    tag = _local(element.tag)
                    if tag == "dimension":
                        return str(element.attrib.get("ref", "")) or None
                    if tag == "sheetData":
                        return None  # the cells begin: no dimension was declared
    except (KeyError, ParseError, zipfile.BadZipFile, OSError, ValueError, NotImplementedError, RuntimeError, EOFError):
        return None  # calamine, in the child, says what is wrong with it
    return None


def _parser() -> Any:
    return XMLPullParser(events=("start",))


def _started(parser: Any) -> Iterator[Element]:
    """Yield the elements a pull parser has seen start since it was last asked."""
    for _event, element in parser.read_events():
        yield element


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _extent(ref: str) -> tuple[int, int] | None:
    """Return the rows and columns from A1 to the end of a range like ``A1:XFD1048576`` (None if unreadable)."""
    end = _CELL.match(ref.strip().split(":")[-1])
    if end is None:
        return None
    column = 0
    for char in end.group(1).upper():
        column = column * 26 + ord(char) - ord("A") + 1
    return int(end.group(2)), column


def _within(rows: int, columns: int, limits: LimitsSettings) -> bool:
    return (
        rows <= limits.max_sheet_rows
        and columns <= limits.max_sheet_columns
        and rows * columns <= limits.max_sheet_cells
    )


def _beyond(sheet: str, what: str, ref: str, rows: int, columns: int, limits: LimitsSettings) -> str:
    return (
        f"工作表「{sheet}」{what} {ref}（{rows} 行、{columns} 列）超出上限（最多 {limits.max_sheet_rows} 行、"
        f"{limits.max_sheet_columns} 列、{limits.max_sheet_cells} 个单元格），未读取"
    )


# --- 2. calamine in a child -------------------------------------------------------------------


class _Cells(pickle.Unpickler):
    """Unpickles rows of cell values and nothing else: the child read hostile input."""

    def find_class(self, module: str, name: str) -> Any:
        """Allow the datetime types of cells, refuse every other class."""
        found = _CELL_TYPES.get((module, name))
        if found is None:
            raise pickle.UnpicklingError(f"not a cell value: {module}.{name}")
        return found


@dataclass
class _Death:
    """How the child ended when it did not finish."""

    code: int
    timed_out: bool
    stderr: str


def _read_in_child(path: Path, limits: LimitsSettings) -> Workbook:
    """Run calamine in ``sheets_child.py`` under the limits; return what it read or refuse what killed it."""
    command = [
        sys.executable,
        "-I",
        str(CHILD),
        str(path),
        str(limits.read_memory_mb),
        str(limits.read_seconds),
        str(limits.max_sheet_rows),
        str(limits.max_sheet_columns),
        str(limits.max_sheet_cells),
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUST_")}  # no Rust backtraces on abort
    timed_out = threading.Event()
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errors, env=env)

        def overdue() -> None:
            timed_out.set()
            process.kill()

        # Processor time is the child's own limit (RLIMIT_CPU); the clock is the backstop for a child that waits.
        timer = threading.Timer(limits.read_seconds * 3, overdue)
        timer.daemon = True
        timer.start()
        assert process.stdout is not None
        receiver = _Receiver()
        try:
            receiver.run(process.stdout)
        finally:
            timer.cancel()
            if not receiver.finished:
                process.kill()
            process.stdout.close()
            code = process.wait()
            errors.seek(0)
            stderr = errors.read()[-4000:].decode("utf-8", "replace")
    if receiver.workbook_error is not None:
        raise _Unreadable(receiver.workbook_error)
    if receiver.too_large is not None:
        sheet, rows, columns = receiver.too_large
        raise _Refusal(
            _beyond(sheet, "的范围", f"A1:{letter(max(columns, 1) - 1)}{max(rows, 1)}", rows, columns, limits)
        )
    if receiver.finished:  # every sheet came back ("done"): however the child ends now, that is the workbook
        return Workbook(receiver.names, receiver.sheets)
    death = _Death(code, timed_out.is_set(), stderr)
    reason = _death_reason(receiver.current, death, limits)
    if reason is None:  # neither a limit nor calamine: a bug of duban's, with the child's own words
        raise RuntimeError(f"the workbook reader exited with {death.code}: {death.stderr}")
    raise _Refusal(reason)


def _death_reason(sheet: str | None, death: _Death, limits: LimitsSettings) -> str | None:
    """Return what a child's death means to the user: a limit it ran into, or a crash; None for a bug of duban's."""
    what = f"读取工作表「{sheet}」时" if sheet is not None else "读取工作簿时"
    if death.timed_out or death.code == -signal.SIGXCPU:
        return f"{what}超出时间上限（{limits.read_seconds} 秒），文件可能已损坏或过大"
    if death.code in (EXIT_MEMORY, -signal.SIGABRT, -signal.SIGKILL):
        return f"{what}超出内存上限（{limits.read_memory_mb} MB），文件可能已损坏或过大"
    if death.code < 0:
        try:
            cause = signal.Signals(-death.code).name
        except ValueError:
            cause = f"信号 {-death.code}"
        return f"{what}读取进程异常终止（{cause}），文件可能已损坏"
    return None


class _Receiver:
    """The parent's side of the child's messages (see sheets_child.py)."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.sheets: dict[str, Sheet | str] = {}
        self.current: str | None = None
        self.workbook_error: str | None = None
        self.too_large: tuple[str, int, int] | None = None
        self.finished = False

    def run(self, stream: IO[bytes]) -> None:
        """Read messages until "done", a refusal, or the end of the stream (the child died)."""
        while True:
            try:
                message = _Cells(stream).load()
            except (EOFError, pickle.UnpicklingError, ValueError, OSError):
                return
            kind = message[0]
            if kind == "sheets":
                self.names = [str(n) for n in message[1]]
            elif kind == "reading":
                self.current = str(message[1])
            elif kind == "sheet_error":
                self.sheets.setdefault(str(message[1]), str(message[2]))
            elif kind == "sheet":
                _, name, merged = message
                rows: list[list[Any]] = []
                while True:
                    try:
                        part = _Cells(stream).load()
                    except (EOFError, pickle.UnpicklingError, ValueError, OSError):
                        return
                    if part[0] != "rows":
                        break
                    rows.extend(part[1])
                _end, above, width = part
                rows[0:0] = [[""] * width for _ in range(above)]
                self.sheets.setdefault(str(name), Sheet(str(name), rows, merged))
            elif kind == "workbook_error":
                self.workbook_error = str(message[1])
                self.finished = True
                return
            elif kind == "too_large":
                self.too_large = (str(message[1]), int(message[2]), int(message[3]))
                self.finished = True
                return
            elif kind == "done":
                self.current = None
                self.finished = True
                return


# --- CSV --------------------------------------------------------------------------------------


def csv_fits(file: Path, problems: Problems, name: str, limits: LimitsSettings | None = None) -> bool:
    """Say whether a CSV file is within the limits (size, lines, longest line), adding the problem if not."""
    limits = limits or LimitsSettings()
    try:
        size = file.stat().st_size
    except OSError:
        return True  # reading it will say what is wrong
    if size > limits.max_csv_mb * MB:
        problems.add(name, None, None, None, f"文件 {_mb(size)} MB，超出上限（最多 {limits.max_csv_mb} MB）")
        return False
    longest = limits.max_csv_line_kb * 1024
    lines, since = 0, 0  # newlines so far; bytes since the last one
    with file.open("rb") as handle:
        # A piece no longer than a line's limit: a line over it cannot sit wholly inside one piece.
        while chunk := handle.read(longest):
            first = chunk.find(b"\n")
            if first < 0:
                since += len(chunk)
            else:
                if since + first > longest:
                    break
                lines += chunk.count(b"\n")
                since = len(chunk) - chunk.rfind(b"\n") - 1
            if since > longest:
                break
            if lines > limits.max_csv_rows:
                problems.add(name, None, None, None, f"超过 {limits.max_csv_rows} 行，超出上限")
                return False
        else:
            if lines + (since > 0) > limits.max_csv_rows:
                problems.add(name, None, None, None, f"超过 {limits.max_csv_rows} 行，超出上限")
                return False
            return True
    problems.add(
        name,
        lines + 1,
        None,
        None,
        f"此行超过 {limits.max_csv_line_kb} KB，超出上限（每行最多 {limits.max_csv_line_kb} KB），文件可能已损坏",
    )
    return False
