"""``m3mail run``: one pass of the whole job (the lock: m3mail.lock; the loop of ``serve``: m3mail.serve).

A pass: import the export when it changed (or the day did), start the follow-ups that fell due, then for each
adviser gather a snapshot, plan, execute (m3mail.adviser). One adviser's failing mailbox is
reported and the others go on. ``dry_run`` works on an in-memory copy of the state and a backend that is only
read: it prints the actions and changes nothing.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from m3mail.actions import AnyAction, Purge, Remember, Start
from m3mail.adviser import AdviserReport, Context, adviser_pass
from m3mail.backends.base import Backend, ReadOnly
from m3mail.commands import find_due, open_state, state_copy
from m3mail.errors import BackendError, PortfolioError, StateError
from m3mail.executor import Clock, Executor, SendingLimit
from m3mail.lock import locked
from m3mail.render import Renderer
from m3mail.rules import retention_cutoffs
from m3mail.settings import AdviserSettings, Settings
from m3mail.state import StateStore, new_follow_up
from m3mail.state.backups import take_daily

log = logging.getLogger("m3mail")


@dataclass
class RunSummary:
    now: datetime
    imported: bool = False  # the export was read (it changed, or a new day began)
    rejected_rows: int = 0
    started: int = 0  # follow-ups that fell due and were started
    advisers: dict[str, AdviserReport] = field(default_factory=dict)
    dry_run: bool = False
    import_error: str = ""  # the export could not be read: no follow-up was started
    backup_error: str = ""  # the day's backup of the state could not be written: the run went on
    usage: dict[str, int] = field(default_factory=dict)  # what the backend consumed (Graph requests)
    minimised: int = 0  # follow-ups closed in this run whose client data was erased from the state
    purged: int = 0  # follow-ups deleted, past their retention

    @property
    def errors(self) -> int:
        return sum(len(r.errors) for r in self.advisers.values()) + bool(self.import_error) + bool(self.backup_error)


def make_backend(settings: Settings, clock: Clock, *, read_only: bool = False) -> Backend:
    """The backend the settings name; ``read_only`` (a dry run): reads only (m3mail.backends.base.ReadOnly),
    and built without writing anything, not even the missing folders."""
    if settings.backend == "microsoft365":
        from m3mail.backends.microsoft365 import make_microsoft365

        backend: Backend = make_microsoft365(settings)
    else:
        from m3mail.backends.local import LocalBackend

        filing = [settings.filing.mailbox] if settings.filing.mailbox else []
        mailboxes = [a.email for a in settings.advisers] + filing
        zones = {a.email: a.timezone for a in settings.advisers}  # each calendar in its adviser's zone
        backend = LocalBackend(settings.local.root, mailboxes, settings.timezone, zones=zones, clock=clock,
                               create=not read_only)  # fmt: skip
    return ReadOnly(backend) if read_only else backend


def run_once(settings: Settings, now: datetime, *, backend: Backend | None = None, dry_run: bool = False,
             portfolio: Path | None = None, clock: Clock | None = None, sleep: Callable[[float], None] = time.sleep,
             stop: threading.Event | None = None, echo: Callable[[str], None] = print,
             progress: Callable[[int, int, str], None] | None = None) -> RunSummary:  # fmt: skip
    """One pass of the whole job at ``now``, under the lock (a dry run only reads: it takes none)."""
    with nullcontext() if dry_run else locked(settings), _open_state(settings, dry_run) as store:
        own_backend = backend is None
        # the sending limit paces real sends by the real time (unless a test gives its clock): the run's own
        # clock stays at ``now`` for what it records, and frozen, the limit's minute never passed, so that every
        # email past a mailbox's 30th waited a whole minute
        pace = clock or _real_time
        clock = clock or (lambda: now)
        backend = backend or make_backend(settings, clock, read_only=dry_run)
        if dry_run and not isinstance(backend, ReadOnly):
            backend = ReadOnly(backend)
        try:
            executor = Executor(backend, store, clock, dry_run=dry_run, stop=stop, echo=echo,
                                limit=SendingLimit(settings.email.per_minute, pace, sleep))  # fmt: skip
            ctx = Context(settings, backend, store, Renderer(settings.agency, settings.templates), executor, now)
            summary = RunSummary(now, dry_run=dry_run)
            if not dry_run:
                _back_up(settings, store, ctx.today, summary)
            _start_due(ctx, portfolio, summary)
            _advisers(ctx, summary, stop, progress)
            if not (stop is not None and stop.is_set()):
                _tidy(ctx, summary)
            summary.usage = backend.usage()
            return summary
        finally:
            if own_backend:
                backend.close()


def _real_time() -> datetime:
    return datetime.now(UTC)


@contextmanager
def _open_state(settings: Settings, dry_run: bool) -> Iterator[StateStore]:
    """The state, checked; a dry run works on an in-memory copy: nothing on disk changes."""
    store = state_copy(settings) if dry_run else open_state(settings)
    try:
        yield store
    finally:
        store.close()


def _back_up(settings: Settings, store: StateStore, today: date, summary: RunSummary) -> None:
    """The day's backup, before the run acts; one that cannot be written is reported (exit 8) and the run goes
    on: the work of the day matters more than its copy, and the next run tries again."""
    try:
        made = take_daily(store.db, settings.backups.folder, settings.state, today, settings.backups.keep)
    except StateError as e:
        log.error("%s", e)
        summary.backup_error = str(e)
        return
    if made is not None:
        log.info("state backed up to %s", made)


def _start_due(ctx: Context, portfolio: Path | None, summary: RunSummary) -> None:
    """Start the follow-ups that fell due: only when the export changed or a new day began."""
    path = portfolio or ctx.settings.portfolio.path
    try:
        stat = path.stat()
    except OSError:
        stat = None
    fingerprint = f"{path}:{stat.st_size}:{stat.st_mtime_ns}" if stat else ""
    mark = f"{fingerprint}@{ctx.today.isoformat()}"
    if stat is not None and ctx.store.get("import.mark") == mark:
        return
    try:
        result = find_due(ctx.settings, ctx.today, portfolio, store=ctx.store)
    except PortfolioError as e:  # no new follow-ups today; those under way still get their calls and emails
        log.error("%s", e)
        summary.import_error = str(e)
        return
    summary.imported, summary.rejected_rows = True, len(result.report.rejected)
    fresh = [new_follow_up(d, ctx.now) for d in result.selection.due]
    starts: list[AnyAction] = [Start(key=f"{f.id}#start", mailbox=f.adviser, follow_up=f) for f in fresh]
    rejected = json.dumps(result.report.rejected_by_adviser, sort_keys=True)
    marks = [Remember(key="import.rejected", value=rejected), Remember(key="import.mark", value=mark)]
    # a dry run adds them to its in-memory copy only, and keeps no mark
    summary.started = ctx.executor.execute(starts, marks).of("start")


def _tidy(ctx: Context, summary: RunSummary) -> None:
    """What the state no longer needs, once the passes are done: the closed follow-ups minimised, what is past
    its retention deleted (a dry run leaves it: ``m3mail purge --dry-run`` shows it)."""
    follow_ups_before, opt_outs_before = retention_cutoffs(ctx.settings, ctx.today)
    tally = ctx.executor.execute([Purge(follow_ups_before=follow_ups_before, opt_outs_before=opt_outs_before)])
    summary.minimised, summary.purged = tally.of("minimised"), tally.of("purged:follow_ups")
    gone = {k.split(":", 1)[1]: n for k, n in tally.done.items() if k.startswith("purged:") and n}
    if summary.minimised or gone:
        log.info("retention: %d follow-up(s) closed and minimised; past retention, deleted: %s", summary.minimised,
                 ", ".join(f"{n} {name.replace('_', ' ')}" for name, n in gone.items()) or "nothing")  # fmt: skip


def _advisers(ctx: Context, summary: RunSummary, stop: threading.Event | None,
              progress: Callable[[int, int, str], None] | None) -> None:  # fmt: skip
    """Every adviser's pass; on several threads when the backend allows it (Microsoft 365), each with its own
    executor. A failing mailbox is reported and the others go on."""
    follow_ups = ctx.store.follow_ups(active_only=True)
    advisers = ctx.settings.advisers
    reports: dict[str, AdviserReport] = {}

    def serve(adviser: AdviserSettings) -> AdviserReport | None:
        if stop is not None and stop.is_set():
            return None
        try:
            return adviser_pass(ctx, adviser, [f for f in follow_ups if f.adviser == adviser.email])
        except BackendError as e:  # this mailbox waits; the others go on
            log.error("%s: %s", adviser.email, e)
            return AdviserReport(errors=[str(e)])

    workers = ctx.settings.microsoft365.concurrent_advisers if ctx.backend.thread_safe else 1
    if ctx.executor.dry_run or workers == 1 or len(advisers) == 1:  # a dry run prints its actions in order
        for done, adviser in enumerate(advisers, 1):
            if progress is not None:
                progress(done, len(advisers), adviser.email)
            if (report := serve(adviser)) is not None:
                reports[adviser.email] = report
    else:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="adviser") as pool:
            futures = {pool.submit(serve, adviser): adviser for adviser in advisers}
            for done, future in enumerate(as_completed(futures), 1):
                email = futures[future].email
                if progress is not None:
                    progress(done, len(advisers), email)
                if (report := future.result()) is not None:
                    reports[email] = report
    summary.advisers = {a.email: reports[a.email] for a in advisers if a.email in reports}
