"""The export as a table of text cells, whatever its format: CSV as French tools write it, or XLSX.

Detected, not configured: the CSV encoding (UTF-8 with or without BOM, UTF-16 with BOM, else cp1252; a file
mixing UTF-8 and cp1252 lines is read in the encoding of most of them, see ``encodings``) and the separator
(``;``, ``,`` or tab). XLSX cells are turned into the text a CSV export would hold (dates as ISO), so that one
reader validates both. Rows stream: the file is never held in memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from m3mail.errors import PortfolioError
from m3mail.portfolio.csvfile import csv_table
from m3mail.portfolio.table import RowFlaw, Table
from m3mail.portfolio.xlsx import xlsx_table

__all__ = ["RowFlaw", "Table", "open_table"]


MAX_EXPORT_BYTES = 4 * 2**30  # a million-row export is about 220 MB: past 4 GiB, it is not an agency's portfolio


@contextmanager
def open_table(path: Path, sheet: str = "") -> Iterator[Table]:
    """Open the export for reading; raises PortfolioError when it cannot be read at all."""
    if not path.exists():
        raise PortfolioError(f"{path}: the export file does not exist")
    if path.is_dir():
        raise PortfolioError(f"{path}: is a folder, not an export file")
    if not path.is_file():  # a device (/dev/zero), a pipe, a socket: no end, or none to be sure of
        raise PortfolioError(f"{path}: not a regular file (a device or a pipe): export the portfolio to a file")
    if (size := path.stat().st_size) > MAX_EXPORT_BYTES:
        limit = MAX_EXPORT_BYTES // 2**30
        raise PortfolioError(f"{path}: {size / 2**30:.1f} GiB, over the {limit} GiB an export may hold (20 times a "
                             "million-row export): split it, or check what was exported")  # fmt: skip
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        with xlsx_table(path, sheet) as table:
            yield table
    else:
        with csv_table(path) as table:
            yield table
