"""What the CLI asks for, done once: read the export, select who is due, write a working folder.

Settings come in loaded; results go out as values for the CLI to print. Nothing here prints.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from m3mail.errors import InitError, M3MailError, StateError
from m3mail.followup import NOTES_MARKER, Change, conclude, read_call
from m3mail.models import CalendarEvent, FollowUp, Outcome, Record, State
from m3mail.portfolio import PortfolioReader, ReadReport
from m3mail.report import AdviserStatus, adviser_statuses
from m3mail.resources import shipped
from m3mail.rights import ClientFile, Forgotten, PurgeResult, client_file, forget_client, purge_state
from m3mail.rules import process_rules, selection_rules
from m3mail.sample import sample_export
from m3mail.selection import DateRelevance, Selection, select
from m3mail.settings import AdviserSettings, Settings
from m3mail.state import StateStore
from m3mail.state.backups import backups, restore

if TYPE_CHECKING:  # msal and O365 load only for the Microsoft 365 commands
    from m3mail.backends.microsoft365.doctor import Diagnosis

log = logging.getLogger("m3mail")

SETTINGS_NAME = "m3mail.toml"
EXPORT_NAME = "portefeuille.csv"


def today_in(settings: Settings) -> date:
    """Today in the agency's time zone (a run at 00:30 in Paris is already tomorrow's run)."""
    return datetime.now(ZoneInfo(settings.timezone)).date()


# --- the tenant ---------------------------------------------------------------------------------------------


def diagnose(settings: Settings, progress: Callable[[str], None] | None = None) -> Diagnosis | None:
    """What each adviser's mailbox permits (``m3mail doctor``); None for the local backend, which has no tenant."""
    if settings.backend != "microsoft365":
        return None
    from m3mail.backends.microsoft365 import make_microsoft365
    from m3mail.backends.microsoft365.doctor import diagnose as diagnose_tenant

    backend = make_microsoft365(settings)
    filing = (settings.filing.mailbox, settings.filing.root) if settings.filing.mailbox else None
    try:
        return diagnose_tenant(backend, [a.email for a in settings.advisers], filing, progress=progress)
    finally:
        backend.close()


# --- the state ------------------------------------------------------------------------------------------


def open_state(settings: Settings) -> StateStore:
    """The state, checked; a damaged one is refused with what to do (the newest backup, how to restore it)."""
    return StateStore(settings.state, advice=restore_advice(settings))


def state_copy(settings: Settings) -> StateStore:
    """An in-memory copy of the state for a dry run: nothing on disk changes."""
    return StateStore.copy_of(settings.state, advice=restore_advice(settings))


def restore_advice(settings: Settings) -> str:
    found = backups(settings.backups.folder, settings.state)
    if not found:
        return (f"\n  No backup of the state is in {settings.backups.folder}. If the state was lost on purpose, move "
                f"{settings.state.name} aside and run again: m3mail starts a new state (opt-outs are kept apart).")
    return (f"\n  The newest backup is {found[0]}. Stop the scheduled runs, then put it back with:\n"
            f"    m3mail restore {found[0].name} --settings <your settings>\n"
            "  (the damaged state is kept beside it; README, 'Restoring the state').")


def restore_backup(settings: Settings, name: str, now: datetime) -> tuple[Path, Path | None]:
    """Put the backup ``name`` (a file name in the backups folder, or a path) in place of the state, under the
    lock; returns the backup used and where the state it replaced was moved (None when there was none)."""
    from m3mail.lock import locked

    candidate = Path(name)
    path = candidate if candidate.is_absolute() or candidate.exists() else settings.backups.folder / name
    if not path.is_file():
        known = ", ".join(p.name for p in backups(settings.backups.folder, settings.state)) or "none"
        raise StateError(f"{path}: no such backup (backups in {settings.backups.folder}: {known})")
    with locked(settings):
        return path, restore(path, settings.state, now)


def _reader(settings: Settings, portfolio: Path | None) -> PortfolioReader:
    path = portfolio if portfolio is not None else settings.portfolio.path
    return PortfolioReader(path, settings.portfolio, [a.email for a in settings.advisers])


@dataclass(frozen=True)
class CheckResult:
    report: ReadReport
    due: int  # clients due on the day asked
    objected: int = 0  # clients due that day, left out: they objected (never named)


def check_portfolio(settings: Settings, today: date, portfolio: Path | None = None) -> CheckResult:
    """Read every row of the export, validating it in full, and count who is due ``today``; nothing is written."""
    rules = selection_rules(settings)
    relevant = DateRelevance(today, rules)
    reader = _reader(settings, portfolio)
    current = [r for r in reader.records() if relevant(r.contract.effect_date)]
    _log_report(reader)
    with open_state(settings) as store:
        history, refused = store.past_follow_ups(), _refused(store, current)
    selection = select(current, today, rules, history, reader.report.opted_out | refused)
    return CheckResult(reader.report, len(selection.due), selection.objected)


def _refused(store: StateStore, records: list[Record]) -> set[str]:
    """The clients who opted out through m3mail: by the state's ids, and by the opt-out ledger's fingerprints
    (their id, or the address in the export), which a restored or new state does not lose."""
    refuses = store.refusals()
    return {r.client.id for r in records if refuses(r.client)}


@dataclass(frozen=True)
class DueResult:
    selection: Selection
    report: ReadReport


def find_due(settings: Settings, today: date, portfolio: Path | None = None, *, missed: bool = False,
             store: StateStore | None = None) -> DueResult:  # fmt: skip
    """The clients due ``today`` (and, with ``missed``, those whose window closed unattended)."""
    rules = selection_rules(settings)
    reader = _reader(settings, portfolio)
    # only rows whose window is open today (or closed, for missed) are validated and kept in memory
    records = list(reader.records(DateRelevance(today, rules, missed=missed)))
    _log_report(reader)
    if store is None:
        with open_state(settings) as own:
            history, refused = own.past_follow_ups(), _refused(own, records)
    else:
        history, refused = store.past_follow_ups(), _refused(store, records)
    selection = select(records, today, rules, history, reader.report.opted_out | refused)
    log.info("selection for %s: %d due, %d missed, %d left out (they objected)", today, len(selection.due),
             len(selection.missed), selection.objected)  # fmt: skip
    return DueResult(selection, reader.report)


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


# --- what advisers and the admin record by hand ----------------------------------------------------------


def record_outcome(settings: Settings, fid: str, text: str, note: str, now: datetime) -> FollowUp:
    """An adviser's outcome given on the command line, as if set on the call event."""
    outcome = Outcome.parse(text)
    if outcome is None:
        names = ", ".join(o.value for o in Outcome)
        raise OutcomeError(f"{text!r} is not an outcome; use one of: {names}")
    with _locked_store(settings) as store:
        f = _follow_up(store, fid)
        rules = process_rules(settings, _adviser(settings, f))
        notes = f"{NOTES_MARKER}\n{note}" if note else ""
        if f.state is State.BOOKED and f.call_at is not None:
            event = CalendarEvent(id="cli", start=f.call_at, end=f.call_at, categories=(outcome.category,), notes=notes)
            change = read_call(f, event, now, rules)
        elif f.state in (State.UNREACHED, State.EMAILED) and outcome is not Outcome.INJOIGNABLE:
            change = Change(conclude(f, outcome, (f.notes + "\n" + note).strip(), now, rules), "outcome", outcome.value)
        else:
            raise OutcomeError(f"{fid} is {f.state.value}: an outcome applies to a booked call (or an emailed client)")
        assert change is not None
        store.save(change.follow_up, now, f"{change.event} (command line)", change.detail)
        return change.follow_up


def mark_complaint(settings: Settings, fid: str, step: str, day: date) -> FollowUp:
    with _locked_store(settings) as store:
        f = _follow_up(store, fid)
        if f.outcome is not Outcome.RECLAMATION:
            raise OutcomeError(f"{fid} is not a complaint (its outcome is {f.outcome.value if f.outcome else 'none'})")
        f = replace(f, complaint_acknowledged=day) if step == "acknowledged" else replace(f, complaint_answered=day)
        store.save(f, datetime.now(ZoneInfo(settings.timezone)), f"complaint {step}", day.isoformat())
        return f


def status(settings: Settings, start: date | None = None, end: date | None = None,
           ) -> tuple[list[AdviserStatus], list[FollowUp]]:  # fmt: skip
    """Per-adviser counts and the follow-ups, those due within [start, end] when a period is given."""
    with open_state(settings) as store:
        follow_ups = [f for f in store.follow_ups()
                      if (start is None or f.due_date >= start) and (end is None or f.due_date <= end)]  # fmt: skip
        rejected = json.loads(store.get("import.rejected", "{}"))
        capacity = {a.email: sum(json.loads(store.get(f"capacity:{a.email}", "{}")).values())
                    for a in settings.advisers}  # fmt: skip
        errors: dict[str, int] = {}
        for _key, _fid, mailbox, _error in store.failures():
            errors[mailbox] = errors.get(mailbox, 0) + 1
    statuses = adviser_statuses(follow_ups, [a.email for a in settings.advisers], rejected=rejected,
                                capacity=capacity, errors=errors)  # fmt: skip
    return statuses, follow_ups


def write_report(settings: Settings, html: Path | None, csv: Path | None, start: date | None,
                 end: date | None) -> list[Path]:  # fmt: skip
    from m3mail.report.csv_out import write_csv
    from m3mail.report.html import write_html

    statuses, follow_ups = status(settings, start, end)
    written = []
    if html is not None:
        write_html(html, statuses, follow_ups, period=(start, end), agency=settings.agency.name,
                   generated_at=datetime.now(ZoneInfo(settings.timezone)))  # fmt: skip
        written.append(html)
    if csv is not None:
        write_csv(csv, statuses)
        written.append(csv)
    return written


class OutcomeError(M3MailError):
    exit_code = 9


def client_report(settings: Settings, client_id: str) -> ClientFile:
    """``m3mail client``: what the state holds on one client (read only: a copy of the state)."""
    with state_copy(settings) as store:
        return client_file(settings, store, client_id)


def forget(settings: Settings, client_id: str, now: datetime) -> Forgotten:
    """``m3mail forget``: the client erased from the state and its backups, under the lock."""
    with _locked_store(settings) as store:
        return forget_client(settings, store, client_id, now)


def purge(settings: Settings, today: date, now: datetime, *, dry_run: bool) -> PurgeResult:
    """``m3mail purge``: the retention purge of each run, on demand (``dry_run``: counts, on a copy)."""
    if dry_run:
        with state_copy(settings) as store:
            return purge_state(settings, store, today, now, dry_run=True)
    with _locked_store(settings) as store:
        return purge_state(settings, store, today, now, dry_run=False)


@contextmanager
def _locked_store(settings: Settings) -> Iterator[StateStore]:
    from m3mail.lock import locked

    with locked(settings), open_state(settings) as store:
        yield store


def _follow_up(store: StateStore, fid: str) -> FollowUp:
    f = store.follow_up(fid)
    if f is None:
        raise OutcomeError(f"no follow-up {fid!r}: 'm3mail status --json' lists them")
    return f


def _adviser(settings: Settings, f: FollowUp) -> AdviserSettings:
    adviser = settings.adviser(f.adviser)
    if adviser is None:
        raise OutcomeError(f"{f.id}: its adviser {f.adviser} is no longer in the settings")
    return adviser
