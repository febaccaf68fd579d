"""The export as a table of text cells, whatever its format: CSV as French tools write it, or XLSX.

Detected, not configured: the CSV encoding (UTF-8 with or without BOM, UTF-16 with BOM, else cp1252) and the
separator (``;``, ``,`` or tab). XLSX cells are turned into the text a CSV export would hold (dates as ISO),
so that one reader validates both. Rows stream: the file is never held in memory.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from m3mail.errors import PortfolioError

SEPARATORS = (";", ",", "\t")
_CHUNK = 1 << 20


@dataclass
class Table:
    """A header and the rows after it.

    ``line(cells)`` tells, right after a row was yielded, the line (CSV) or sheet row (XLSX) it starts on:
    it is computed on demand, since most rows of a large export never need it.
    """

    header: list[str]
    rows: Iterator[Sequence[str]]
    line: Callable[[Sequence[str]], int]
    description: str  # e.g. "CSV, cp1252, separator ';'", for messages
    separator: str | None = None  # CSV only: a value that holds lines full of it swallowed rows
    position: Callable[[], int] = lambda: 0  # the last line read, for errors that stop the reading


@contextmanager
def open_table(path: Path, sheet: str = "") -> Iterator[Table]:
    """Open the export for reading; raises PortfolioError when it cannot be read at all."""
    if not path.exists():
        raise PortfolioError(f"{path}: the export file does not exist")
    if path.is_dir():
        raise PortfolioError(f"{path}: is a folder, not an export file")
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        with _xlsx_table(path, sheet) as table:
            yield table
    else:
        with _csv_table(path) as table:
            yield table


def detect_encoding(path: Path) -> str:
    """UTF-8 (BOM or not) when every byte of the file decodes as UTF-8, else cp1252.

    The whole file is checked, in chunks: a cp1252 'é' on the last line must not break a run half-way.
    """
    with path.open("rb") as f:
        head = f.read(4)
        if head.startswith(codecs.BOM_UTF8):
            return "utf-8-sig"
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return "utf-16"
        f.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        try:
            while chunk := f.read(_CHUNK):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "cp1252"
    return "utf-8"


def detect_separator(first_line: str) -> str:
    """The separator that splits the header into the most columns (``;`` wins ties: the French default)."""
    best, best_count = ";", 0
    for sep in SEPARATORS:
        count = len(next(csv.reader([first_line], delimiter=sep), []))
        if count > best_count:
            best, best_count = sep, count
    return best


@contextmanager
def _csv_table(path: Path) -> Iterator[Table]:
    try:
        encoding = detect_encoding(path)
        # cp1252 leaves five bytes undefined: they become U+FFFD rather than stopping the run
        f = path.open(encoding=encoding, errors="replace" if encoding == "cp1252" else "strict", newline="")
    except OSError as e:
        raise PortfolioError(f"{path}: cannot be read: {e.strerror}") from None
    with f:
        first = f.readline()
        f.seek(0)
        separator = detect_separator(first)
        reader = csv.reader(f, delimiter=separator)
        header = next(reader, None)
        if not header:
            raise PortfolioError(f"{path}: the export is empty (no header line)")
        name = "tab" if separator == "\t" else repr(separator)

        def line(cells: Sequence[str]) -> int:
            """The record ends on ``line_num``; quoted values may span lines (LF, CRLF or CR). A quote left
            open runs to the end of the file and takes the last line's break into its value."""
            breaks = sum(c.count("\n") + c.count("\r") - c.count("\r\n") for c in cells if "\n" in c or "\r" in c)
            if breaks and cells[-1].endswith(("\n", "\r")):
                breaks -= 1
            return reader.line_num - breaks

        description = f"CSV, {encoding}, separator {name}"
        yield Table(header, reader, line, description, separator, lambda: reader.line_num)


@contextmanager
def _xlsx_table(path: Path, sheet: str) -> Iterator[Table]:
    import openpyxl  # only XLSX users pay for its import
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, OSError, KeyError, ValueError) as e:
        raise PortfolioError(f"{path}: not a readable XLSX file ({e})") from None
    try:
        if sheet and sheet not in book.sheetnames:
            raise PortfolioError(f"{path}: no sheet named {sheet!r}; the sheets are {book.sheetnames}")
        ws = book[sheet] if sheet else book.worksheets[0]
        sheet_rows = _XlsxRows(ws.iter_rows())
        header = next(sheet_rows, None)
        if header is None:
            raise PortfolioError(f"{path}: the sheet {ws.title!r} is empty (no header row)")
        description = f"XLSX, sheet {ws.title!r}, header on row {sheet_rows.number}"
        yield Table(header, sheet_rows, lambda _cells: sheet_rows.number, description)
    finally:
        book.close()


class _XlsxRows:
    """Rows as text, remembering the sheet row number of the last one; leading empty rows are skipped."""

    def __init__(self, cells: Iterator[tuple]):
        self.cells = cells
        self.number = 0
        self.started = False

    def __iter__(self) -> _XlsxRows:
        return self

    def __next__(self) -> list[str]:
        for row in self.cells:
            number = next((c.row for c in row if getattr(c, "row", None)), None)
            values = [_cell_text(c.value) for c in row]
            if number is None or not (self.started or any(values)):
                continue  # empty rows carry no row number in read-only mode
            self.started, self.number = True, number
            return values
        raise StopIteration


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
    return str(value).strip() if isinstance(value, str) else str(value)
