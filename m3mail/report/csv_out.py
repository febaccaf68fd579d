"""The report as a CSV file: one row per adviser and a TOTAL row, for a spreadsheet.

Public: ``write_csv``, ``COLUMNS`` (the header, stable English names), ``csv_row``, ``total`` (the TOTAL
status, which the HTML report shows too) .

The file is UTF-8 with a BOM and comma-separated: without the BOM, Excel reads UTF-8 as Windows-1252 and
mangles the accents. Rates are decimals (0.875), empty when nothing ended; counts are integers.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

from m3mail.files import write_atomic
from m3mail.report.status import OUTCOME_KEYS, AdviserStatus

TOTAL = "TOTAL"
DONE_COLUMNS = tuple(f"done_{key}" for key in OUTCOME_KEYS.values())
COUNTS_BEFORE_DONE = ("due", "open", "booked")
COUNTS_AFTER_DONE = ("emailed", "letters", "replied", "no_reply", "missed", "cancelled", "opted_out",
                     "complaints_pending", "in_window", "ended")  # fmt: skip
COUNTS_AT_END = ("capacity_alerts", "rejected", "errors")
COLUMNS = ("adviser", *COUNTS_BEFORE_DONE, *DONE_COLUMNS, *COUNTS_AFTER_DONE, "in_window_rate", *COUNTS_AT_END)
_COUNTS = (*COUNTS_BEFORE_DONE, *COUNTS_AFTER_DONE, *COUNTS_AT_END)

# Excel runs a cell starting with one of these as a formula (CSV injection): such a name gets a leading quote.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def total(statuses: Sequence[AdviserStatus]) -> AdviserStatus:
    """The sum of every count, as one status named TOTAL (its rate is computed from the sums)."""
    result = AdviserStatus(TOTAL)
    for s in statuses:
        for name in _COUNTS:
            setattr(result, name, getattr(result, name) + getattr(s, name))
        for key, count in s.done.items():
            result.done[key] = result.done.get(key, 0) + count
    return result


def csv_row(s: AdviserStatus) -> dict[str, str | int]:
    """One status as a CSV row keyed by ``COLUMNS``."""
    row: dict[str, str | int] = {"adviser": _cell(s.adviser)}
    row.update({name: getattr(s, name) for name in _COUNTS})
    row.update({f"done_{key}": s.done.get(key, 0) for key in OUTCOME_KEYS.values()})
    rate = s.in_window_rate
    row["in_window_rate"] = "" if rate is None else repr(round(rate, 3))
    return {name: row[name] for name in COLUMNS}


def write_csv(path: Path, statuses: Sequence[AdviserStatus]) -> None:
    """Write one row per status, then the TOTAL row, replacing ``path`` atomically."""
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS)  # the csv module's defaults: comma, CRLF, minimal quoting
    writer.writeheader()
    writer.writerows(csv_row(s) for s in statuses)
    writer.writerow(csv_row(total(statuses)))
    write_atomic(path, buffer.getvalue().encode("utf-8-sig"))


def _cell(text: str) -> str:
    return f"'{text}" if text.startswith(_FORMULA_START) else text
