"""The XLSX export as a Table, read with openpyxl in read-only mode, within bounds that a damaged or hostile
file cannot push.

- **Before openpyxl opens it**, the zip's directory is checked (``check_archive``): openpyxl holds the shared
  strings (``xl/sharedStrings.xml``) in memory as one Python string each (about four bytes of memory per byte
  of XML), and reads the other XML parts whole; only the sheets stream. The sizes checked are the ones the zip
  declares, and they bound what can be read: CPython's zipfile never returns more than a member's declared
  size (Lib/zipfile.py, ``ZipExtFile._read1``: ``data = data[:self._left]``, ``_left`` starting at
  ``ZipInfo.file_size``), and a member whose data does not match it fails its CRC (``_update_crc`` raises
  ``BadZipFile("Bad CRC-32 ...")``). The parts read whole are first read here in bounded pieces, since
  ``ZipFile.read`` inflates up to 1 GiB in one call before cutting at the declared size.
- **The sheet's ``<dimension>`` is not trusted**: a tool that writes ``A1:XFD1048576`` makes read-only mode
  pad every row to 16,384 cells (``ReadOnlyWorksheet._cells_by_row`` builds each row ``max_column`` wide).
  ``reset_dimensions()`` (openpyxl's documented remedy, "Read-only mode ... Worksheet dimensions") leaves
  each row as long as its last cell; empty cells at a row's end are then dropped without a look at each.
- **Whatever openpyxl raises** on a damaged file, at open or half-way through the rows, is a PortfolioError
  naming the file (and the last row read): fuzzing openpyxl 3.1 with truncated, bit-flipped and edited
  workbooks gave zipfile.BadZipFile, zlib.error, xml.etree.ElementTree.ParseError (a SyntaxError; lxml's is
  too), KeyError, ValueError, TypeError, OSError and NotImplementedError, and a crafted one IndexError (a
  shared string index past the table); zipfile's EOFError (compressed data cut short) is caught too. Its
  messages can quote a cell (``float('...')``), so only those known to name parts and positions are repeated.
"""

from __future__ import annotations

import datetime as dt
import struct
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from m3mail.errors import PortfolioError
from m3mail.portfolio.csvfile import MAX_FIELD_CHARS
from m3mail.portfolio.table import RowFlaw, Table

if TYPE_CHECKING:
    from openpyxl.workbook.workbook import Workbook  # type: ignore[import-untyped]
    from openpyxl.worksheet._read_only import ReadOnlyWorksheet  # type: ignore[import-untyped]

# Shared strings: an agency export holds about five strings of its own per row (client id, email, phone,
# address, contract id; names, cities and products repeat): 88 bytes of XML per row, measured on the
# benchmark's rows laid out as Excel writes shared strings. 9 MB for 100,000 contracts, 92 MB for a full sheet
# (Excel stops at 1,048,576 rows): 128 MiB admits any sheet Excel can hold, and bounds openpyxl's memory to
# about 0.5 GB (it measured 118 MB for 30 MiB of short strings).
MAX_SHARED_STRINGS = 128 << 20
# Every other XML part is read whole (workbook, styles, theme, relationships): a few KB, styles.xml a few MB
# at worst (Excel keeps at most 65,490 cell formats: "Excel specifications and limits",
# https://support.microsoft.com/office/excel-specifications-and-limits-1672b34d-7043-467e-8e27-269d656771c3).
MAX_PART = 64 << 20
# All members together: a full sheet of this export is about 0.7-1 GiB of XML (655 bytes a row measured,
# Excel adds styles); two of them, with room.
MAX_TOTAL = 2 << 30
# A zip bomb's members expand hundreds of times (DEFLATE reaches 1032:1). Apache POI, the most used XLSX
# library, refuses any member over 100 KiB that expands more than 100 times (poi-ooxml,
# org.apache.poi.openxml4j.util.ZipSecureFile: MIN_INFLATE_RATIO = 0.01, GRACE_ENTRY_SIZE = 100*1024); the
# workbooks measured here compress 2 to 11 times.
BOMB_RATIO = 100
BOMB_GRACE = 100 << 10
EXCEL_ROWS = 1_048_576  # Excel's last row (same page: 1,048,576 rows by 16,384 columns): past it, a damaged sheet
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # a compound file: an encrypted workbook, or an .xls
_EXTRA = "\x00"  # stands for the values of a row past the header's columns

# what openpyxl (and the zipfile, zlib and XML parsers under it) raise on a file it cannot read
_FAILURES: tuple[type[BaseException], ...] = (
    zipfile.BadZipFile, zlib.error, EOFError, SyntaxError, LookupError, ValueError, TypeError, AttributeError,
    OSError, RuntimeError, ArithmeticError, struct.error, MemoryError,
)  # fmt: skip


@dataclass(frozen=True)
class ZipLimits:
    """The bounds ``check_archive`` holds a workbook to (the module's constants, lowered by tests)."""

    shared_strings: int = MAX_SHARED_STRINGS
    part: int = MAX_PART
    total: int = MAX_TOTAL
    ratio: int = BOMB_RATIO
    grace: int = BOMB_GRACE


LIMITS = ZipLimits()


@contextmanager
def xlsx_table(path: Path, sheet: str = "") -> Iterator[Table]:
    import openpyxl  # type: ignore[import-untyped]  # only XLSX users pay for its import

    try:
        fh = path.open("rb")
    except OSError as e:
        raise PortfolioError(f"{path}: cannot be read: {e.strerror}") from None
    with fh:
        check_archive(path, fh, LIMITS)
        fh.seek(0)
        try:
            book = openpyxl.load_workbook(fh, read_only=True, data_only=True)
        except _FAILURES as e:
            raise PortfolioError(f"{path}: not a readable XLSX file ({_cause(e)})") from None
        try:
            ws = _worksheet(path, book, sheet)
            rows = _SheetRows(path, ws.iter_rows(values_only=True))
            header = next(rows, None)
            if header is None:
                raise PortfolioError(f"{path}: the sheet {ws.title!r} is empty (no header row)")
            rows.width = len(header)
            description = f"XLSX, sheet {ws.title!r}, header on row {rows.number}"
            yield Table(header, rows, lambda _cells: rows.number, description, header_line=rows.number,
                        flaw=_long_value)  # fmt: skip
        finally:
            book.close()


def check_archive(path: Path, fh: BinaryIO, limits: ZipLimits = LIMITS) -> None:
    """Refuses, before openpyxl reads it, a file that is no zip, or whose members would expand past the limits."""
    if fh.read(len(_OLE2)) == _OLE2:
        raise PortfolioError(
            f"{path}: not a readable XLSX file (an OLE2 compound file: a password-protected "
            "workbook, or an .xls named .xlsx; save it from Excel as a plain .xlsx or as CSV)"
        )
    fh.seek(0)
    try:
        with zipfile.ZipFile(fh) as archive:
            infos = archive.infolist()
            _check_sizes(path, infos, limits)
            for info in infos:
                if _read_whole(info.filename):
                    _read_bounded(archive, info)
    except _FAILURES as e:
        raise PortfolioError(f"{path}: not a readable XLSX file ({_cause(e)})") from None


def _check_sizes(path: Path, infos: Sequence[zipfile.ZipInfo], limits: ZipLimits) -> None:
    total = 0
    for info in infos:
        name, size = info.filename, info.file_size
        total += size
        if size > limits.grace and size > limits.ratio * max(info.compress_size, 1):
            raise PortfolioError(
                f"{path}: refused: its part {name} expands {size / max(info.compress_size, 1):,.0f} times "
                f"(to {_mib(size)}), more than the {limits.ratio}:1 that marks a zip bomb (spreadsheets "
                "compress about ten times); save the export again from its tool"
            )
        if _shared_strings(name) and size > limits.shared_strings:
            raise PortfolioError(
                f"{path}: refused: its shared strings ({name}) expand to {_mib(size)}, over the "
                f"{_mib(limits.shared_strings)} m3mail reads (a sheet of 1,000,000 contracts holds about 90 MiB); "
                "export it as CSV instead"
            )
        if _read_whole(name) and size > limits.part:
            raise PortfolioError(
                f"{path}: refused: its part {name} expands to {_mib(size)}, over the {_mib(limits.part)} a "
                "workbook part may hold; save the export again from its tool, or as CSV"
            )
    if total > limits.total:
        raise PortfolioError(
            f"{path}: refused: its contents expand to {_mib(total)}, over the {_mib(limits.total)} m3mail reads "
            "from one workbook; export the portfolio alone, or as CSV"
        )


def _shared_strings(name: str) -> bool:
    return name.rpartition("/")[2].lower().startswith("sharedstrings")


def _read_whole(name: str) -> bool:
    """The XML parts openpyxl reads whole into memory: all but the sheets and the shared strings (streamed)."""
    lower = name.lower()
    if not lower.endswith((".xml", ".rels")) or _shared_strings(name):
        return False
    return not (lower.startswith("xl/worksheets/") and "/_rels/" not in lower)


def _read_bounded(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
    """Inflates a member in 64 KiB pieces: data past its declared size, or damaged, fails here (BadZipFile,
    zlib.error) at the cost of one piece, not of the 1 GiB ``ZipFile.read`` may inflate at once."""
    with archive.open(info) as member:
        while member.read(1 << 16):
            pass


def _mib(size: int) -> str:
    if size >= 1 << 30:
        return f"{size / (1 << 30):,.1f} GiB"
    return f"{size / (1 << 20):,.0f} MiB" if size >= 1 << 20 else f"{size / (1 << 10):,.0f} KiB"


def _cause(e: BaseException) -> str:
    """What went wrong, in words that never quote a cell."""
    if isinstance(e, zipfile.BadZipFile):
        return f"not a zip archive, or a damaged one: {e}"
    if isinstance(e, (zlib.error, EOFError)):
        return "its compressed data is damaged or cut short"
    if isinstance(e, SyntaxError):
        return f"malformed XML: {e.msg}" if getattr(e, "msg", None) else "malformed XML"
    if isinstance(e, KeyError) and str(e.args[0] if e.args else "").startswith("There is no item named"):
        return f"a part is missing: {e.args[0]}"
    if isinstance(e, NotImplementedError):
        return f"{e}"  # zipfile: "That compression method is not supported"
    if isinstance(e, RuntimeError) and "encrypted" in str(e):
        return "a part is encrypted: save the workbook without a password"
    if isinstance(e, MemoryError):
        return "it does not fit in memory"
    return f"content openpyxl cannot read: {type(e).__name__}"


def _worksheet(path: Path, book: Workbook, sheet: str) -> ReadOnlyWorksheet:
    from openpyxl.worksheet._read_only import ReadOnlyWorksheet

    if sheet and sheet not in book.sheetnames:
        raise PortfolioError(f"{path}: no sheet named {sheet!r}; the sheets are {book.sheetnames}")
    if not sheet and not book.worksheets:
        raise PortfolioError(f"{path}: not a readable XLSX file (it holds no worksheet)")
    ws = book[sheet] if sheet else book.worksheets[0]
    if not isinstance(ws, ReadOnlyWorksheet):
        raise PortfolioError(f"{path}: the sheet {sheet!r} is a chart, not rows")
    ws.reset_dimensions()
    return ws


class _SheetRows:
    """Rows as text, remembering the sheet row number of the last one; empty rows are skipped.

    Read-only mode yields one tuple per sheet row from row 1, empty rows included (``_cells_by_row`` fills the
    rows the XML leaves out), so the count of tuples is the row number.
    """

    def __init__(self, path: Path, rows: Iterator[tuple[object, ...]]):
        self.path, self.rows = path, rows
        self.number = 0
        self.width = 0  # the header's, once read: cells past it are not converted

    def __iter__(self) -> _SheetRows:
        return self

    def __next__(self) -> list[str]:
        while True:
            try:
                values = next(self.rows)
            except _FAILURES as e:
                raise PortfolioError(f"{self.path}: not a readable XLSX file past row {self.number} "
                                     f"({_cause(e)})") from None  # fmt: skip
            self.number += 1
            if self.number > EXCEL_ROWS:
                raise PortfolioError(f"{self.path}: not a readable XLSX file: its rows go past row {EXCEL_ROWS:,}, "
                                     "the last one Excel has (a damaged sheet)")  # fmt: skip
            if cells := _texts(values, self.width):
                return cells


def _texts(values: tuple[object, ...], width: int) -> list[str]:
    """A row's values as text, without the empty cells at its end. Past the header's ``width``, cells are
    only counted (at C speed); one that holds a value stands as _EXTRA, for the row to be rejected."""
    extra = False
    if width and len(values) > width:
        tail = values[width:]
        extra = tail.count(None) != len(tail) and any(_cell_text(v) for v in tail)
        values = values[:width]
    cells = [_cell_text(v) for v in values]
    while cells and not cells[-1]:
        cells.pop()
    if extra:
        cells += [""] * (width - len(cells)) + [_EXTRA]
    return cells


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return "oui" if value else "non"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return value.strip() if isinstance(value, str) else str(value)


def _long_value(cells: Sequence[str], line: int) -> RowFlaw | None:
    """``Table.flaw`` of a sheet: a cell longer than a CSV value may be (Excel itself stops at 32,767)."""
    if not cells or max(map(len, cells)) <= MAX_FIELD_CHARS:
        return None
    column = next(i for i, c in enumerate(cells) if len(c) > MAX_FIELD_CHARS)
    return RowFlaw(line, column, f"a value is over the {MAX_FIELD_CHARS:,} characters a value may hold; "
                                 "the row is not read")  # fmt: skip
