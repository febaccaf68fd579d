"""Going on after a record Python's csv module gave up on: where it started, where it ended, and why.

``csv.reader`` raises ``csv.Error`` ("field larger than field limit") for a value over its field size limit, in
the middle of a record; its next call starts a new record on the next line (Modules/_csv.c: ``Reader_iternext``
begins with ``parse_reset``). (Since Python 3.11 a NUL is read as any other character, bpo-27580: the CSV
table's ``flaw`` rejects such a row.) It keeps no trace of the failed record: the lines it read
for it are found again by a second reader of the file (``_Shadow``), made at the first failure only, and
followed by ``RecordScan``, which walks a record as the csv module does (RFC 4180 quoting as Python reads it:
a quote opens a quoted value only at the start of a value, ``""`` inside one is a quote, and line breaks
inside one belong to the value). A record whose quoted value is still open on the line the csv module stopped
on is either a long value that goes on (its lines are skipped up to its end) or a stray quote that swallowed
the rows after it (they are reported, and the reading goes on after them, where the csv module resumes).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from m3mail.errors import PortfolioError
from m3mail.portfolio.encodings import Encoding
from m3mail.portfolio.table import RowFlaw

if TYPE_CHECKING:
    from _csv import Reader


def over_limit(error: csv.Error) -> bool:
    """Whether ``error`` is the csv module's "field larger than field limit (N)": the one a record survives."""
    return str(error).startswith("field larger than field limit")


class RecordScan:
    """One record followed line by line as the csv module reads it (default dialect, the file's separator).

    It notes the first value over ``limit`` characters (``over``: its position in the record, and the line it
    starts on), and whether a quoted value is open at the end of the last line fed.
    """

    def __init__(self, separator: str, limit: int, first_line: int):
        self.sep, self.limit = separator, limit
        self.field, self.field_line, self.length = 0, first_line, 0
        self.started = self.in_quote = False
        self.over: tuple[int, int] | None = None
        self._stops = re.compile(f"[{re.escape(separator)}\r\n]")

    def feed(self, text: str, number: int) -> bool:
        """Reads the physical line ``number``; True when the record ends with it."""
        pos, end = 0, len(text)
        while pos < end:
            if self.in_quote:
                quote = text.find('"', pos)
                self._take(text, pos, end if quote < 0 else quote)
                if quote < 0:
                    return False  # the quoted value goes on with the next line, this line's break in it
                if text.startswith('"', quote + 1):
                    self._take(text, quote + 1, quote + 2)  # a doubled quote: one '"' in the value
                    pos = quote + 2
                else:
                    self.in_quote, pos = False, quote + 1
                continue
            if not self.started and text[pos] == '"':
                self.in_quote = self.started = True
                pos += 1
                continue
            stop = self._stops.search(text, pos)
            at = end if stop is None else stop.start()
            if at > pos:
                self.started = True
                self._take(text, pos, at)
            if stop is None:
                break
            if stop.group() == self.sep:
                self.field, self.field_line, self.length = self.field + 1, number, 0
                self.started = False
                pos = at + 1
            else:
                return True  # CR or LF outside quotes: the end of the record
        return not self.in_quote  # the file's last line, without its line break

    def culprit(self) -> int:
        """The position of the value the csv module stopped on."""
        return self.over[0] if self.over else self.field

    def _take(self, text: str, start: int, stop: int) -> None:
        self.length += stop - start
        if self.over is None and self.length > self.limit:
            self.over = (self.field, self.field_line)


class _Shadow:
    """A second reader of the file, one record behind the first and moved only when asked."""

    def __init__(self, path: Path, encoding: Encoding, separator: str):
        self.path = path
        self.file = path.open(encoding=encoding.name, errors=encoding.errors, newline="")
        self.lines: list[str] = []
        self.reader = csv.reader(self._kept(), delimiter=separator)
        self.skipped = 0

    def _kept(self) -> Iterator[str]:
        for line in self.file:
            self.lines.append(line)
            yield line

    def failed_record(self, last: int) -> list[str]:
        """Reads on to the record that fails on line ``last`` (as the first reader's did) and returns its lines."""
        while True:
            self.lines.clear()
            try:
                if next(self.reader, None) is None:
                    raise PortfolioError(f"{self.path}: the file changed while it was read; read it again")
            except csv.Error:
                if self.reader.line_num + self.skipped >= last:
                    return list(self.lines)

    def skip(self, count: int) -> None:
        for _ in range(count):
            next(self.file, None)
        self.skipped += count


class Resync:
    """Line numbers of the CSV reader, and its recovery from a failed record (``Table.recover``)."""

    def __init__(self, path: Path, encoding: Encoding, separator: str, width: int, file: TextIO,
                 reader: Reader, limit: int):  # fmt: skip
        self.path, self.encoding, self.sep, self.width = path, encoding, separator, width
        self.file, self.reader, self.limit = file, reader, limit
        self.skipped = 0  # lines read past the csv reader: the rest of failed records
        self._shadow: _Shadow | None = None

    def position(self) -> int:
        """The last line read."""
        return self.reader.line_num + self.skipped

    def line(self, cells: Sequence[str]) -> int:
        """The line the record just read starts on: it ends on ``position()``; quoted values may span lines
        (LF, CRLF or CR). A quote left open runs to the end of the file and takes the last line's break."""
        breaks = sum(c.count("\n") + c.count("\r") - c.count("\r\n") for c in cells if "\n" in c or "\r" in c)
        if breaks and cells[-1].endswith(("\n", "\r")):
            breaks -= 1
        return self.position() - breaks

    def close(self) -> None:
        if self._shadow is not None:
            self._shadow.file.close()

    def recover(self, error: csv.Error) -> RowFlaw:
        """The failed record as a rejected row; the reader is left on the line after it."""
        last = self.position()
        if not over_limit(error):
            raise PortfolioError(f"{self.path}: the export cannot be read past line {last}: {error}") from None
        if self._shadow is None:
            self._shadow = _Shadow(self.path, self.encoding, self.sep)
        lines = self._shadow.failed_record(last)
        first = last - len(lines) + 1
        scan = RecordScan(self.sep, self.limit, first)
        ended = False
        for number, text in enumerate(lines, first):
            ended = scan.feed(text, number)
        column = scan.culprit()
        if ended:
            return RowFlaw(first, column, self._reason(first, last))
        opened = scan.field_line  # a quoted value is open at the end of ``last``
        if self._swallows_rows(lines[opened - first + 1 :]):
            return RowFlaw(first, column, (
                f"a quote opened in this value is never closed: lines {opened}-{last} were read as one value "
                f"until it passed the {self.limit:,} characters a value may hold, and lines {opened + 1}-{last} "
                "were not read; close or remove the quote"))  # fmt: skip
        end = self._skip_rest(scan, last)
        if end is None:
            return RowFlaw(
                first,
                column,
                (
                    f"a quote opened in this value on line {opened} is never closed: lines {opened}-{self.position()} "
                    "(the end of the file) were read as one value and are not read; close or remove the quote"
                ),
            )
        return RowFlaw(first, column, self._reason(first, end))

    def _reason(self, first: int, last: int) -> str:
        lines = f" (lines {first}-{last})" if last > first else ""
        return (f"a value of the row{lines} is over the {self.limit:,} characters a value may hold (no export's "
                "value is that long: a document pasted in a cell?); the row is not read")  # fmt: skip

    def _swallows_rows(self, lines: Sequence[str]) -> bool:
        """Lines holding at least half the header's separators are rows, not the text of one value."""
        threshold = max(2, self.width // 2)
        return any(text.count(self.sep) >= threshold for text in lines)

    def _skip_rest(self, scan: RecordScan, last: int) -> int | None:
        """Reads the failed record's remaining lines past the csv reader; its last line, None at the end of
        the file (the shadow reader skips them alike)."""
        number, end = last, None
        for text in self.file:
            number += 1
            if scan.feed(text, number):
                end = number
                break
        self.skipped += number - last
        assert self._shadow is not None
        self._shadow.skip(number - last)
        return end
