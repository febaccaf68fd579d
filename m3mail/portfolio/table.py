"""A table of text cells with what the reader needs to number, check and report its rows."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class RowFlaw:
    """A row that cannot be read as values: its first line, the position of the value at fault, why."""

    line: int
    column: int
    reason: str
    kind: str = ""  # "encoding" for a line in another encoding than the file's (counted in the description)


def _sound(_cells: Sequence[str], _line: int) -> RowFlaw | None:
    return None


def _unrecoverable(error: csv.Error) -> RowFlaw:
    raise error


@dataclass
class Table:
    """A header and the rows after it.

    ``line(cells)`` tells, right after a row was yielded, the line (CSV) or sheet row (XLSX) it starts on:
    it is computed on demand, since most rows of a large export never need it. ``flaw(cells, line)`` tells
    what makes a row unreadable before its values are looked at (a line in another encoding, a value too
    long); it is asked only of the rows that are read in full. ``recover(error)``, when iterating ``rows``
    raised ``csv.Error``, reports the record that failed and puts ``rows`` after it (or raises PortfolioError).
    """

    header: list[str]
    rows: Iterator[Sequence[str]]
    line: Callable[[Sequence[str]], int]
    description: str  # e.g. "CSV, cp1252, separator ';'", for messages
    separator: str | None = None  # CSV only: a value that holds lines full of it swallowed rows
    position: Callable[[], int] = lambda: 0  # the last line read, for errors that stop the reading
    header_line: int = 1  # the line (CSV) or sheet row (XLSX) of the header
    flaw: Callable[[Sequence[str], int], RowFlaw | None] = _sound
    recover: Callable[[csv.Error], RowFlaw] = _unrecoverable
