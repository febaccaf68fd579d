"""The ``m3mail`` command: parse arguments, call the service, print the result.

Errors are turned into messages and exit codes here, in one place (see ``EXIT_CODES`` and the README):
0 done; 1 unexpected error; 2 bad command line; 3 invalid settings; 4 unreadable export; 5 state database;
6 ``init`` would overwrite files.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import date
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from m3mail import __version__, service
from m3mail.errors import M3MailError, SettingsError
from m3mail.models import DueFollowUp, RowIssue
from m3mail.portfolio import ReadReport
from m3mail.settings import Settings, load_settings

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
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date like 2026-11-25") from None


settings_option = click.option(
    "--settings", "-s", "settings_path", type=click.Path(path_type=Path), default="m3mail.toml",
    envvar="M3MAIL_SETTINGS", show_default=True, help="The settings file (or $M3MAIL_SETTINGS).",
)  # fmt: skip
portfolio_option = click.option(
    "--portfolio", "-p", type=click.Path(path_type=Path), default=None,
    help="The export to read instead of the one the settings name.",
)  # fmt: skip
today_option = click.option(
    "--today", callback=_date, default=None, metavar="YYYY-MM-DD",
    help="Act as if today were this day (default: today in the agency's time zone).",
)  # fmt: skip
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Log more (debug).")
@click.option("-q", "--quiet", is_flag=True, help="Log warnings and errors only.")
@click.version_option(__version__, prog_name="m3mail")
def main(verbose: bool, quiet: bool) -> None:
    """m3mail: the M+3 follow-up of new insurance contracts."""
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("m3mail: %(levelname)s: %(message)s"))
    log.handlers[:] = [handler]
    log.setLevel(level)
    log.propagate = False


@main.command()
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite the folder's m3mail.toml and portefeuille.csv.")
@today_option
def init(folder: Path, force: bool, today: date | None) -> None:
    """Write a ready working folder: commented settings and a sample export around today."""
    written = service.init_folder(folder, today or date.today(), force=force)
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
    day = today or service.today_in(settings)
    result = service.check_portfolio(settings, day, portfolio)
    report = result.report
    if as_json:
        click.echo(json.dumps(_report_json(report) | {"due": result.due}, ensure_ascii=False, indent=2))
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


@main.command()
@settings_option
@portfolio_option
@today_option
@click.option("--missed", is_flag=True, help="List the clients whose window closed without a follow-up.")
@json_option
def due(settings_path: Path, portfolio: Path | None, today: date | None, missed: bool, as_json: bool) -> None:
    """The clients due for their M+3 follow-up today, highest priority first."""
    settings = _load(settings_path, as_json)
    day = today or service.today_in(settings)
    result = service.find_due(settings, day, portfolio, missed=missed)
    follow_ups = result.selection.missed if missed else result.selection.due
    if result.report.rejected:
        log.warning("rows of the export rejected: %d ('m3mail check' lists them)", len(result.report.rejected))
    if as_json:
        click.echo(json.dumps([_follow_up_json(f) for f in follow_ups], ensure_ascii=False, indent=2))
        return
    _print_follow_ups(follow_ups, day, missed)


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
