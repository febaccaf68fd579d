"""What the CLI asks for, done once: read the export, select who is due, write a working folder.

Settings come in loaded; results go out as values for the CLI to print. Nothing here prints.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from m3mail.errors import InitError
from m3mail.models import PastFollowUp
from m3mail.portfolio import PortfolioReader, ReadReport
from m3mail.resources import shipped
from m3mail.sample import sample_export
from m3mail.selection import DateRelevance, Selection, select
from m3mail.settings import Settings, selection_rules
from m3mail.state import StateStore

log = logging.getLogger("m3mail")

SETTINGS_NAME = "m3mail.toml"
EXPORT_NAME = "portefeuille.csv"


def today_in(settings: Settings) -> date:
    """Today in the agency's time zone (a run at 00:30 in Paris is already tomorrow's run)."""
    return datetime.now(ZoneInfo(settings.timezone)).date()


def _reader(settings: Settings, portfolio: Path | None) -> PortfolioReader:
    path = portfolio if portfolio is not None else settings.portfolio.path
    return PortfolioReader(path, settings.portfolio, [a.email for a in settings.advisers])


@dataclass(frozen=True)
class CheckResult:
    report: ReadReport
    due: int  # clients due on the day asked


def check_portfolio(settings: Settings, today: date, portfolio: Path | None = None) -> CheckResult:
    """Read every row of the export, validating it in full, and count who is due ``today``; nothing is written."""
    rules = selection_rules(settings)
    relevant = DateRelevance(today, rules)
    reader = _reader(settings, portfolio)
    current = [r for r in reader.records() if relevant(r.contract.effect_date)]
    _log_report(reader)
    selection = select(current, today, rules, _history(settings), reader.report.opted_out)
    return CheckResult(reader.report, len(selection.due))


@dataclass(frozen=True)
class DueResult:
    selection: Selection
    report: ReadReport


def find_due(settings: Settings, today: date, portfolio: Path | None = None, *, missed: bool = False) -> DueResult:
    """The clients due ``today`` (and, with ``missed``, those whose window closed unattended)."""
    rules = selection_rules(settings)
    reader = _reader(settings, portfolio)
    # only rows whose window is open today (or closed, for missed) are validated and kept in memory
    records = list(reader.records(DateRelevance(today, rules, missed=missed)))
    _log_report(reader)
    selection = select(records, today, rules, _history(settings), reader.report.opted_out)
    log.info("selection for %s: %d due, %d missed", today, len(selection.due), len(selection.missed))
    return DueResult(selection, reader.report)


def _history(settings: Settings) -> list[PastFollowUp]:
    with StateStore(settings.state) as state:
        return state.past_follow_ups()


def _log_report(reader: PortfolioReader) -> None:
    r = reader.report
    log.info(
        "export %s (%s): %d accepted, %d rejected, %d warnings, %d duplicates, %d not relevant today",
        reader.path.name, r.description, r.accepted, len(r.rejected), len(r.warnings), len(r.duplicates), r.skipped,
    )  # fmt: skip


def init_folder(folder: Path, today: date, *, force: bool = False) -> list[Path]:
    """Write a ready working folder: the commented settings and a sample export around ``today``."""
    settings_path, export_path = folder / SETTINGS_NAME, folder / EXPORT_NAME
    existing = [p for p in (settings_path, export_path) if p.exists()]
    if existing and not force:
        names = ", ".join(str(p) for p in existing)
        raise InitError(f"{names} already exist(s); nothing was written. Use --force to overwrite.")
    folder.mkdir(parents=True, exist_ok=True)
    settings_path.write_text(shipped(f"settings/{SETTINGS_NAME}").read_text(encoding="utf-8"), encoding="utf-8")
    # UTF-8 with a BOM and CRLF line ends: what Excel's "CSV UTF-8" writes, and what Excel reads back
    export_path.write_bytes(sample_export(today).encode("utf-8-sig"))
    return [settings_path, export_path]
