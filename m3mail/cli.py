"""The ``m3mail`` command: parse arguments, call the service, print the result.

Errors are turned into messages and exit codes here, in one place (the README lists them): 0 done;
1 unexpected error; 2 bad command line; 3 invalid settings; 4 unreadable export; 5 state database;
6 ``init`` would overwrite files; 7 another run holds the lock; 8 the run finished but some actions failed
(they are tried again by the next run); 9 an outcome or complaint command that does not apply.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from m3mail import __version__, commands
from m3mail.errors import M3MailError, RunIncomplete, SettingsError, TenantProblems
from m3mail.logs import setup_logging
from m3mail.models import DueFollowUp, RowIssue
from m3mail.portfolio import ReadReport
from m3mail.report import follow_up_rows as report_rows
from m3mail.settings import Settings, load_settings
from m3mail.when import check_replay_day, parse_interval, parse_when

if TYPE_CHECKING:  # msal and O365 load only for the Microsoft 365 commands
    from collections.abc import Callable

    from m3mail.backends.microsoft365.doctor import Diagnosis
    from m3mail.job import RunSummary
    from m3mail.report import AdviserStatus

log = logging.getLogger("m3mail")


class _Group(click.Group):
    """Turns every M3MailError into its message on stderr and its exit code, without a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except M3MailError as e:
            click.echo(f"m3mail: error: {e}", err=True)
            ctx.exit(e.exit_code)


def _date(_ctx: click.Context, _param: click.Parameter, value: str | None) -> date | None:
    """A day, any day (``report --from/--to``)."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r:.40} is not a date like 2026-11-25") from None


def _replay_date(ctx: click.Context, param: click.Parameter, value: str | None) -> date | None:
    """A day to act as if it were today (``--today``, ``complaint --on``), within check_replay_day's bounds."""
    day = _date(ctx, param, value)
    try:
        return None if day is None else check_replay_day(day)
    except ValueError as e:
        raise click.BadParameter(str(e)) from None


def _when(text: str | None, settings: Settings) -> datetime:
    """``--today`` of the job's commands, a date or a date-time (m3mail.when); exit 2 when wrong."""
    try:
        return parse_when(text, settings)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="'--today'") from None


settings_option = click.option(
    "--settings", "-s", "settings_path", type=click.Path(path_type=Path), default="m3mail.toml",
    envvar="M3MAIL_SETTINGS", show_default=True, help="The settings file (or $M3MAIL_SETTINGS).",
)  # fmt: skip
portfolio_option = click.option(
    "--portfolio", "-p", type=click.Path(path_type=Path), default=None,
    help="The export to read instead of the one the settings name.",
)  # fmt: skip
today_option = click.option(
    "--today", callback=_replay_date, default=None, metavar="YYYY-MM-DD",
    help="Act as if today were this day (default: today in the agency's time zone).",
)  # fmt: skip
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Log more (debug).")
@click.option("-q", "--quiet", is_flag=True, help="Log warnings and errors only.")
@click.option("--log-json", is_flag=True, help="Log one JSON object per line (for a service's journal).")
@click.version_option(__version__, prog_name="m3mail")
def main(verbose: bool, quiet: bool, log_json: bool) -> None:
    """m3mail: the M+3 follow-up of new insurance contracts."""
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    setup_logging(level, as_json=log_json)


@main.command()
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite the folder's m3mail.toml and portefeuille.csv.")
@today_option
def init(folder: Path, force: bool, today: date | None) -> None:
    """Write a ready working folder: commented settings and a sample export around today."""
    written = commands.init_folder(folder, today or date.today(), force=force)
    for path in written:
        click.echo(f"wrote {path}")
    click.echo(f"next: m3mail check --settings {written[0]}   then: m3mail due --settings {written[0]}")


@main.command()
@settings_option
@portfolio_option
@today_option
@json_option
def check(settings_path: Path, portfolio: Path | None, today: date | None, as_json: bool) -> None:
    """Validate the settings and the export, acting on nothing.

    Rejected rows are listed and do not make the command fail; invalid settings do (exit 3).
    """
    settings = _load(settings_path, as_json)
    day = today or commands.today_in(settings)
    result = commands.check_portfolio(settings, day, portfolio)
    report = result.report
    if as_json:
        click.echo(json.dumps(_report_json(report) | {"due": result.due, "objected": result.objected},
                              ensure_ascii=False, indent=2))  # fmt: skip
        return
    click.echo(f"settings: {settings_path}: valid ({len(settings.advisers)} advisers)")
    click.echo(f"export: {portfolio or settings.portfolio.path} ({report.description})")
    click.echo(
        f"  {report.accepted} rows accepted, {len(report.rejected)} rejected, {len(report.warnings)} warnings, "
        f"{len(report.duplicates)} exact duplicates counted once"
    )
    if report.missing_columns:
        click.echo(f"  optional columns absent (left empty): {', '.join(report.missing_columns)}")
    _print_issues("rejected", report.rejected)
    _print_issues("warnings (row kept, value ignored)", report.warnings)
    clients = "1 client" if result.due == 1 else f"{result.due} clients"
    click.echo(f"{clients} due on {day:%d/%m/%Y}: m3mail due --settings {settings_path}")
    _print_objected(result.objected)


@main.command()
@settings_option
@portfolio_option
@today_option
@click.option("--missed", is_flag=True, help="List the clients whose window closed without a follow-up.")
@json_option
def due(settings_path: Path, portfolio: Path | None, today: date | None, missed: bool, as_json: bool) -> None:
    """The clients due for their M+3 follow-up today, highest priority first."""
    settings = _load(settings_path, as_json)
    day = today or commands.today_in(settings)
    result = commands.find_due(settings, day, portfolio, missed=missed)
    follow_ups = result.selection.missed if missed else result.selection.due
    if result.report.rejected:
        log.warning("rows of the export rejected: %d ('m3mail check' lists them)", len(result.report.rejected))
    if as_json:
        click.echo(json.dumps([_follow_up_json(f) for f in follow_ups], ensure_ascii=False, indent=2))
        return
    _print_follow_ups(follow_ups, day, missed)
    if not missed:
        _print_objected(result.selection.objected)


def _print_objected(count: int) -> None:
    """Clients left out because they objected: counted, never named (their objection is kept as fingerprints)."""
    if count:
        clients = "1 client" if count == 1 else f"{count} clients"
        click.echo(f"{clients} due left out: they objected to being contacted (opposition, STOP or erasure)")


def _load(settings_path: Path, as_json: bool) -> Settings:
    try:
        return load_settings(settings_path)
    except SettingsError as e:
        if as_json:
            problems = [{"key": p.key, "reason": p.reason} for p in e.problems]
            click.echo(json.dumps({"settings": str(settings_path), "problems": problems}, ensure_ascii=False, indent=2))
        raise


def _report_json(report: ReadReport) -> dict[str, Any]:
    return {
        "accepted": report.accepted,
        "rejected": [i.as_dict() for i in report.rejected],
        "warnings": [i.as_dict() for i in report.warnings],
        "duplicates": [{"row": line, "duplicate_of": first} for line, first in report.duplicates],
        "missing_columns": report.missing_columns,
    }


def _print_issues(title: str, issues: list[RowIssue]) -> None:
    if issues:
        click.echo(f"{title}:")
        for i in sorted(issues, key=lambda i: i.row):
            click.echo(f"  line {i.row:>6}  {i.field:<14} {i.reason}")


def _follow_up_json(f: DueFollowUp) -> dict[str, Any]:
    return {
        "client_id": f.client.id,
        "name": f.client.display_name,
        "adviser": f.adviser,
        "contracts": [c.id for c in f.contracts],
        "types": [t.value for t in f.types],
        "due_date": f.due_date.isoformat(),
        "window_start": f.window_start.isoformat(),
        "window_end": f.window_end.isoformat(),
        "days_left": f.days_left,
        "priority": f.priority,
        "vip": f.client.vip,
    }


def _print_follow_ups(follow_ups: list[DueFollowUp], day: date, missed: bool) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=None if sys.stdout.isatty() else 160, highlight=False)
    if not follow_ups:
        console.print(f"No client {'missed' if missed else 'due'} on {day:%d/%m/%Y}.")
        return
    title = f"{'Missed follow-ups' if missed else 'Due for M+3'} on {day:%d/%m/%Y}: {len(follow_ups)} clients"
    table = Table(title=title, title_justify="left")
    for column in ("prio", "client", "name", "adviser", "contracts", "due", "window", "days left"):
        table.add_column(column, no_wrap=column != "contracts")
    for f in follow_ups:
        contracts = ", ".join(f"{c.id} {c.type.value} {c.product}".strip() for c in f.contracts)
        table.add_row(
            f"{f.priority}{' VIP' if f.client.vip else ''}", f.client.id, f.client.display_name, f.adviser,
            contracts, f"{f.due_date:%d/%m/%Y}", f"{f.window_start:%d/%m} - {f.window_end:%d/%m/%Y}",
            str(f.days_left),
        )  # fmt: skip
    console.print(table)


# --- the job --------------------------------------------------------------------------------------------

when_option = click.option(
    "--today", "when", default=None, metavar="DATE|DATETIME",
    help="Run as if it were this day (08:00 in the agency's zone) or this ISO date-time.",
)  # fmt: skip


@main.command()
@settings_option
@portfolio_option
@when_option
@click.option("--dry-run", is_flag=True, help="Print the actions this run would take; change nothing.")
def run(settings_path: Path, portfolio: Path | None, when: str | None, dry_run: bool) -> None:
    """One pass of the whole job: import, select, book, read outcomes, email, file, remind."""
    from m3mail import job

    settings = _load(settings_path, False)
    summary = job.run_once(settings, _when(when, settings), dry_run=dry_run, portfolio=portfolio,
                              echo=click.echo, progress=_progress())  # fmt: skip
    _print_summary(summary)
    if summary.errors:
        advice = f"; what each mailbox permits: m3mail doctor --settings {settings_path}" \
            if settings.backend == "microsoft365" else ""  # fmt: skip
        raise RunIncomplete(f"{summary.errors} problem(s), listed above; the next run tries again{advice}")


@main.command()
@settings_option
@click.option("--every", "interval", default="15m", show_default=True, callback=lambda _c, _p, v: _interval(v),
              help="Interval between passes, from 1s to 24h: 30s, 15m, 1h.")  # fmt: skip
def serve(settings_path: Path, interval: timedelta) -> None:
    """A pass now, then one at each interval, until SIGTERM or Ctrl-C (the action under way is finished)."""
    import signal
    import threading

    from m3mail import job
    from m3mail.serve import serve as loop

    settings = _load(settings_path, False)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    log.info("serving: a pass every %s; stop with SIGTERM or Ctrl-C", interval)

    def one_pass() -> None:
        summary = job.run_once(settings, parse_when(None, settings), stop=stop, echo=click.echo)
        _print_summary(summary)

    loop(interval, stop, run=one_pass)
    log.info("stopped")


@main.command()
@click.argument("followup_id")
@click.argument("outcome")
@click.option("--note", default="", help="The adviser's notes, kept in the record.")
@settings_option
@when_option
def outcome(followup_id: str, outcome: str, note: str, settings_path: Path, when: str | None) -> None:
    """Record a call's OUTCOME (Satisfait, Besoin, Question, Changement, Réclamation, Injoignable)."""
    settings = _load(settings_path, False)
    f = commands.record_outcome(settings, followup_id, outcome, note, _when(when, settings))
    click.echo(f"{f.id}: {f.state.value}" + (f" ({f.outcome.value})" if f.outcome else ""))


@main.command()
@click.argument("followup_id")
@click.option("--acknowledged", "step", flag_value="acknowledged", help="The complaint was acknowledged.")
@click.option("--answered", "step", flag_value="answered", help="The complaint was answered.")
@click.option("--on", "day", callback=_replay_date, default=None, metavar="YYYY-MM-DD", help="When (default: today).")
@settings_option
def complaint(followup_id: str, step: str | None, day: date | None, settings_path: Path) -> None:
    """Mark a complaint (M+3 Réclamation) acknowledged or answered: its due date stops being shown."""
    if step is None:
        raise click.UsageError("say --acknowledged or --answered")
    settings = _load(settings_path, False)
    f = commands.mark_complaint(settings, followup_id, step, day or commands.today_in(settings))
    acknowledged, answered = f.complaint_acknowledged or "-", f.complaint_answered or "-"
    click.echo(f"{f.id}: complaint acknowledged {acknowledged}, answered {answered}")


@main.command()
@settings_option
@json_option
def doctor(settings_path: Path, as_json: bool) -> None:
    """Check that m3mail may do in each adviser's mailbox what a run does; say what to fix (exit 10 if not)."""
    settings = _load(settings_path, as_json)
    found = commands.diagnose(settings, progress=lambda m: click.echo(f"checking {m}...", err=True))
    if found is None:  # the local backend: nothing to ask a tenant
        root = settings.local.root
        ok = root.is_dir() or not root.exists()
        if as_json:
            click.echo(json.dumps({"ok": ok, "backend": "local", "root": str(root)}))
        else:
            click.echo(f"local backend: calendars and mailboxes under {root}: "
                       + ("ok" if ok else "not a folder: fix [local] root"))  # fmt: skip
        if not ok:
            raise TenantProblems(f"{root} is not a folder")
        return
    if as_json:
        click.echo(json.dumps(found.as_json(), ensure_ascii=False, indent=2))
    else:
        _print_diagnosis(found)
    if found.problems:
        raise TenantProblems(f"{found.problems} problem(s) to fix, listed above")


def _print_diagnosis(m: Diagnosis) -> None:
    click.echo(f"token: {'ok' if m.token.ok else 'REFUSED'}: {m.token.detail}"
               + (f"; application permissions: {', '.join(m.roles)}" if m.roles else ""))  # fmt: skip
    if not m.token.ok:
        click.echo(f"  fix: {m.token.fix}")
    for mailbox, checks in m.mailboxes.items():
        click.echo(mailbox)
        for c in checks:
            if c.ok:
                click.echo(f"  ok      {c.name}: {c.detail}")
            else:
                click.echo(f"  FAILED  {c.name}: HTTP {c.status} {c.code}: {c.detail}")
                click.echo(f"          fix: {c.fix}")
    click.echo(f"{m.problems} problem(s)" if m.problems else "everything m3mail needs is permitted")


@main.command()
@settings_option
@json_option
def status(settings_path: Path, as_json: bool) -> None:
    """Per adviser: due, booked, done by outcome, emailed, letters, replied, missed, cancelled, rejected, errors."""
    settings = _load(settings_path, as_json)
    statuses, follow_ups = commands.status(settings)
    if as_json:
        data = {"advisers": [s.as_dict() for s in statuses],
                "followups": [vars(r) for r in report_rows(follow_ups)]}  # fmt: skip
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    _print_statuses(statuses)
    pending = [f for f in follow_ups if f.complaint_answer_due and f.complaint_answered is None]
    for f in pending:
        done = f.complaint_acknowledged
        ack = f"acknowledged {done}" if done else f"acknowledge by {f.complaint_ack_due}"
        click.echo(f"complaint {f.id}: {ack}, answer by {f.complaint_answer_due}")


@main.command()
@click.argument("client_id")
@settings_option
@json_option
def client(client_id: str, settings_path: Path, as_json: bool) -> None:
    """Everything m3mail holds on CLIENT_ID, and where their exchanges are filed (an access request)."""
    settings = _load(settings_path, as_json)
    found = commands.client_report(settings, client_id)
    if as_json:
        click.echo(json.dumps(found.as_dict(), ensure_ascii=False, indent=2))
        return
    for line in found.lines():
        click.echo(line)


@main.command()
@click.argument("client_id")
@settings_option
def forget(client_id: str, settings_path: Path) -> None:
    """Erase CLIENT_ID from the state and its backups; m3mail never contacts them again (erasure, objection)."""
    from datetime import datetime

    settings = _load(settings_path, False)
    done = commands.forget(settings, client_id, datetime.now().astimezone())
    if done.export_unread:
        click.echo(f"the export could not be read for the client's address: {done.export_unread}", err=True)
    for line in done.lines():
        click.echo(line)


@main.command()
@click.option("--dry-run", is_flag=True, help="Count what would go; change nothing.")
@settings_option
@today_option
def purge(dry_run: bool, settings_path: Path, today: date | None) -> None:
    """Minimise the closed follow-ups and delete what is past its retention ([retention]); each run does it."""
    from datetime import datetime

    settings = _load(settings_path, False)
    result = commands.purge(settings, today or commands.today_in(settings), datetime.now().astimezone(),
                            dry_run=dry_run)  # fmt: skip
    for line in result.lines(dry_run=dry_run):
        click.echo(line)


@main.command()
@click.argument("backup", required=False)
@settings_option
def restore(backup: str | None, settings_path: Path) -> None:
    """Put a BACKUP of the state back (a name in the backups folder, or a path); with none, list the backups."""
    from datetime import datetime

    from m3mail.state.backups import backups

    settings = _load(settings_path, False)
    if backup is None:
        found = backups(settings.backups.folder, settings.state)
        for path in found:
            click.echo(path.name)
        if not found:
            click.echo(f"no backup of {settings.state.name} in {settings.backups.folder}", err=True)
        return
    used, aside = commands.restore_backup(settings, backup, datetime.now())
    click.echo(f"{settings.state} restored from {used}" + (f"; the state it replaced is {aside}" if aside else ""))


@main.command()
@settings_option
@click.option("--html", "html_path", type=click.Path(path_type=Path), help="Write the HTML report here.")
@click.option("--csv", "csv_path", type=click.Path(path_type=Path), help="Write the CSV (one row per adviser) here.")
@click.option("--from", "start", callback=_date, default=None, metavar="YYYY-MM-DD", help="Due dates from this day.")
@click.option("--to", "end", callback=_date, default=None, metavar="YYYY-MM-DD", help="Due dates up to this day.")
def report(settings_path: Path, html_path: Path | None, csv_path: Path | None, start: date | None,
           end: date | None) -> None:  # fmt: skip
    """The per-adviser report: an HTML page with a chart, and a CSV."""
    if html_path is None and csv_path is None:
        raise click.UsageError("say where to write the report: --html FILE and/or --csv FILE")
    if start and end and start > end:
        raise click.BadParameter(f"{start} comes after --to {end}", param_hint="'--from'")
    settings = _load(settings_path, False)
    for path in commands.write_report(settings, html_path, csv_path, start, end):
        click.echo(f"wrote {path}")


def _interval(text: str) -> timedelta:
    """``--every`` (m3mail.when); exit 2 when wrong."""
    try:
        return parse_interval(text)
    except ValueError as e:
        raise click.BadParameter(str(e)) from None


def _progress() -> Callable[[int, int, str], None] | None:
    """A progress line per adviser on a terminal; nothing in a service (stderr not a terminal)."""
    if not sys.stderr.isatty():
        return None
    from rich.console import Console

    console = Console(stderr=True)

    def step(done: int, total: int, adviser: str) -> None:
        console.print(f"[{done}/{total}] {adviser}", end="\r" if done < total else "\n", highlight=False)

    return step


def _print_summary(summary: RunSummary) -> None:
    label = "dry run" if summary.dry_run else "run"
    click.echo(f"{label} at {summary.now.isoformat(timespec='minutes')}: {summary.started} follow-up(s) started"
               + (f", {summary.rejected_rows} export row(s) rejected" if summary.rejected_rows else ""))  # fmt: skip
    columns = ("booked", "outcomes", "emailed", "letters", "filed", "capacity", "errors")
    width = max([len("adviser"), *(len(a) for a in summary.advisers)])
    click.echo(f"{'adviser':<{width}}  " + "  ".join(f"{c:>8}" for c in columns))
    for adviser, r in summary.advisers.items():
        counts = (r.booked, r.outcomes, r.emailed, r.letters, r.filed, sum(r.missing_slots.values()), len(r.errors))
        click.echo(f"{adviser:<{width}}  " + "  ".join(f"{n:>8}" for n in counts))
    if summary.usage:
        u = summary.usage
        click.echo(f"Microsoft Graph: {u.get('requests', 0)} request(s), {u.get('operations', 0)} operation(s)"
                   f" ({u.get('batched', 0)} of them in {u.get('batches', 0)} $batch request(s))")  # fmt: skip
    if summary.import_error:
        click.echo(f"error: no follow-up started: {summary.import_error}", err=True)
    for adviser, r in summary.advisers.items():
        for day, missing in sorted(r.missing_slots.items()):
            click.echo(f"capacity alert: {adviser}: {missing} call slot(s) missing for {day}")
        for error in r.errors:
            click.echo(f"error: {adviser}: {error}", err=True)


def _print_statuses(statuses: list[AdviserStatus]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(show_edge=False, box=None, pad_edge=False)
    columns = ("adviser", "due", "open", "booked", "satisfait", "besoin", "question", "changement", "réclamation",
               "emailed", "letters", "replied", "missed", "cancelled", "rejected", "capacity", "errors")  # fmt: skip
    for column in columns:
        table.add_column(column, justify="left" if column == "adviser" else "right")
    for s in statuses:
        done = list(s.done.values())
        table.add_row(s.adviser, *map(str, (s.due, s.open, s.booked, *done, s.emailed, s.letters, s.replied, s.missed,
                                            s.cancelled, s.rejected, s.capacity_alerts, s.errors)))  # fmt: skip
    Console(width=None if sys.stdout.isatty() else 200, highlight=False).print(table)
