"""The CSV export as a Table, read by Python's csv module in a single streaming pass.

What the csv module cannot read is one bad row, never the end of the import:

- a value over MAX_FIELD_CHARS makes ``csv.reader`` raise ``csv.Error`` ("field larger than field limit"). Its
  C reader then starts afresh on the next line (``Reader_iternext`` calls ``parse_reset`` first,
  Modules/_csv.c), which is the right place only when the record ended on the line it stopped on.
  ``resync.Resync`` finds where the record started and ended (a second, lazy reader of the file: errors are
  rare, the common path pays nothing), reports it, and skips its lines;
- a line in another encoding than the file's is found by ``Table.flaw`` (see ``encodings``), and so is a NUL
  character, which the csv module reads as any other since Python 3.11 (bpo-27580, python/cpython#28808): a
  binary file, or UTF-16 saved without its byte order mark.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from m3mail.errors import PortfolioError
from m3mail.portfolio.encodings import Encoding, detect_encoding, undecodable_count
from m3mail.portfolio.resync import Resync
from m3mail.portfolio.table import RowFlaw, Table

SEPARATORS = (";", ",", "\t")

# The longest value a cell may hold, in characters. Python's csv module stops at 131,072 by default
# (csv.field_size_limit(), "Returns the current maximum field size allowed by the parser"); no export value
# comes near 64 Ki characters (an address, a list of guarantees: a few hundred), so a longer one is a pasted
# document or a quote left open, and its row is rejected. Excel itself keeps at most 32,767 characters in a
# cell (Microsoft, "Excel specifications and limits").
MAX_FIELD_CHARS = 65_536
_SNIFF = 1 << 20  # the separator is decided on the header line's first MiB


def detect_separator(first_line: str) -> str:
    """The separator that splits the header into the most columns (``;`` wins ties: the French default)."""
    best, best_count = ";", 0
    for sep in SEPARATORS:
        try:
            count = len(next(csv.reader([first_line], delimiter=sep), []))
        except csv.Error:  # an overlong value: the header is refused when it is read
            count = 0
        if count > best_count:
            best, best_count = sep, count
    return best


@contextmanager
def field_limit(limit: int) -> Iterator[None]:
    """csv.field_size_limit is the module's, for the whole process: set for one reading, then put back."""
    previous = csv.field_size_limit(limit)
    try:
        yield
    finally:
        csv.field_size_limit(previous)


@contextmanager
def csv_table(path: Path) -> Iterator[Table]:
    """The CSV file as a Table: its encoding and separator detected, its rows streamed by ``csv.reader``."""
    encoding, first_raw = _sniff(path)
    try:
        f = path.open(encoding=encoding.name, errors=encoding.errors, newline="")
    except OSError as e:
        raise PortfolioError(f"{path}: cannot be read: {e.strerror}") from None
    with f, field_limit(MAX_FIELD_CHARS):
        seen = undecodable_count()
        try:
            separator = detect_separator(f.readline(_SNIFF))
            f.seek(0)
        except UnicodeDecodeError as e:
            raise PortfolioError(f"{path}: not valid {encoding.name} on line 1 ({e.reason})") from None
        reader = csv.reader(f, delimiter=separator)
        header = _header(path, reader, encoding, first_raw, separator)
        resync = Resync(path, encoding, separator, len(header), f, reader, MAX_FIELD_CHARS)
        try:
            yield Table(
                header, reader, resync.line, _description(encoding, separator), separator, resync.position,
                flaw=_ForeignLines(encoding, seen, resync.position), recover=resync.recover,
            )  # fmt: skip
        finally:
            resync.close()


def _sniff(path: Path) -> tuple[Encoding, bytes]:
    """The file's encoding, and its first line as bytes (to decode the header again if it is foreign)."""
    try:
        with path.open("rb") as raw:
            encoding = detect_encoding(raw)
            raw.seek(0)
            first = raw.readline(_SNIFF).splitlines()
    except OSError as e:
        raise PortfolioError(f"{path}: cannot be read: {e.strerror}") from None
    return encoding, first[0] if first else b""


def _description(encoding: Encoding, separator: str) -> str:
    name = "tab" if separator == "\t" else repr(separator)
    return f"CSV, {encoding.label}, separator {name}"


def _header(path: Path, reader: Iterator[list[str]], encoding: Encoding, first_raw: bytes, sep: str) -> list[str]:
    """The header row; a header in the file's other encoding is decoded in that one (it names columns only)."""
    try:
        header = next(reader, None)
    except csv.Error as e:
        raise PortfolioError(f"{path}: the header line cannot be read: {_why(e)}") from None
    except UnicodeDecodeError as e:
        raise PortfolioError(f"{path}: not valid {encoding.name} on line 1 ({e.reason})") from None
    if not header:
        raise PortfolioError(f"{path}: the export is empty (no header line)")
    if any("\0" in cell for cell in header):
        raise PortfolioError(f"{path}: the header line holds NUL characters (a binary file, or UTF-16 saved without "
                             "its byte order mark?); save the export again as CSV UTF-8")  # fmt: skip
    foreign = 1 in encoding.foreign_lines or (encoding.utf8 and not _encodable("".join(header)))
    if foreign and first_raw and getattr(reader, "line_num", 0) == 1:  # a header on one line, as they all are
        other = "cp1252" if encoding.utf8 else "utf-8"
        text = first_raw.removeprefix(codecs.BOM_UTF8).decode(other, errors="replace")
        header = next(csv.reader([text], delimiter=sep))
    return header


def _encodable(text: str) -> bool:
    """False for text holding the lone surrogates that stand for undecodable bytes."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _why(error: csv.Error) -> str:
    text = str(error)
    if text.startswith("field larger than field limit"):
        return f"it holds a value over the {MAX_FIELD_CHARS:,} characters a value may hold"
    return text


class _ForeignLines:
    """``Table.flaw`` of a CSV file: the row holds a NUL, or a line in another encoding than the file's."""

    def __init__(self, encoding: Encoding, seen: int, position: Callable[[], int]):
        self.encoding, self.seen, self.position = encoding, seen, position

    def __call__(self, cells: Sequence[str], line: int) -> RowFlaw | None:
        if "\0" in "".join(cells):  # the csv module reads NUL as any character since Python 3.11
            column = next(i for i, c in enumerate(cells) if "\0" in c)
            return RowFlaw(line, column, "the row holds a NUL character (a binary file, or UTF-16 saved without its "
                                         "byte order mark?) and is not read")  # fmt: skip
        enc = self.encoding
        if enc.utf8:
            if undecodable_count() == self.seen:
                return None  # no undecodable byte met yet: the common case, at no cost
            undecodable = next((i for i, c in enumerate(cells) if not c.isascii() and not _encodable(c)), None)
            if undecodable is None:
                return None
            return RowFlaw(line, undecodable, (
                f"line {line} is not valid UTF-8, the encoding of this file"
                f"{' (its byte order mark says so)' if enc.name == 'utf-8-sig' else ' (most of its lines)'}: "
                "it looks like cp1252, another tool's export; the row is not read, so that no name is mailed "
                "garbled. Save the file again in one encoding"), "encoding")  # fmt: skip
        if not enc.foreign_lines:
            return None
        found = next((n for n in range(line, max(line, self.position()) + 1) if n in enc.foreign_lines), None)
        if found is None:
            return None
        return RowFlaw(line, next((i for i, c in enumerate(cells) if not c.isascii()), 0), (
            f"line {found} is UTF-8 while this file is cp1252 (most of its lines): read as cp1252 it would be "
            "garbled ('Ã©' for 'é'), so the row is not read. Save the file again in one encoding"),
            "encoding")  # fmt: skip
