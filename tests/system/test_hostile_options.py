"""Hostile settings and options, through the CLI as an admin meets them: every bad value is a message naming its
key, exit 3 for the settings (every problem at once) and 2 for the command line; never a traceback (exit 1)."""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from m3mail.cli import _interval, main
from m3mail.selection import add_months
from tests.conftest import run_cli

DEFAULT_FOLDER = 'folder = "{nom} {prenom} ({client_id})"'
SECRET = "Qx8~fake.Secret-Value_42"  # what a client secret looks like, typed where its variable's name goes


def cli(*args: str | Path) -> Result:
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exc_info
    assert "Traceback" not in result.output
    return result


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("made") / "agence"
    assert cli("init", folder, "--force").exit_code == 0
    return folder


@pytest.fixture
def agency(made: Path, tmp_path: Path) -> Path:
    """A fresh copy of the folder ``m3mail init DIR --force`` wrote; returns its settings file."""
    shutil.copytree(made, tmp_path / "agence")
    return tmp_path / "agence" / "m3mail.toml"


def edit(settings: Path, *changes: tuple[str, str], top: str = "") -> Path:
    """Each (line, replacement) once in the settings, and ``top`` lines before the first table."""
    text = settings.read_text(encoding="utf-8")
    for old, new in changes:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    settings.write_text(top + text, encoding="utf-8")
    return settings


def refused_settings(settings: Path, *keys: str) -> str:
    result = cli("check", "--settings", settings)
    assert result.exit_code == 3, result.output
    for key in keys:
        assert f"  - {key}: " in result.stderr, (key, result.stderr)
    return result.stderr


def refused_option(option: str, *args: str | Path) -> str:
    result = cli(*args)
    assert result.exit_code == 2, result.output
    assert f"Invalid value for '{option}'" in result.stderr, result.stderr
    return result.stderr


# --- 1. the client folder's name template ---------------------------------------------------------------


@pytest.mark.parametrize("template", ["{nom.foo}", "{nom[0]}", "{nom!r}", "{nom:>99999999}", "{nom:{prenom}}",
                                      "{}", "{nom", "{adresse}"])  # fmt: skip
def test_a_folder_template_with_more_than_the_placeholders_is_refused_at_load(agency: Path, template: str) -> None:
    reason = refused_settings(edit(agency, (DEFAULT_FOLDER, f"folder = {template!r}")), "filing.folder")
    assert "{nom}, {prenom}, {client_id} and {civilite}" in reason


def test_a_plain_folder_template_files_the_clients(agency: Path) -> None:
    edit(agency, (DEFAULT_FOLDER, 'folder = "{civilite} {nom} {{{client_id}}}"'))
    assert cli("check", "--settings", agency).exit_code == 0


# --- 2. numbers and booleans ----------------------------------------------------------------------------


@pytest.mark.parametrize(("line", "value"), [
    ("max_per_day = 8", "true"), ("max_per_day = 8", "2.5"), ("max_per_day = 8", "nan"), ("max_per_day = 8", "inf"),
    ("max_per_day = 8", '"8"'), ("max_per_day = 8", str(10**30)), ("slot_minutes = 20", "true"),
    ("vip = 5", "-1"), ("keep = 14", "false"), ("batching = true", "1"), ('missed_since = ""', "0"),
])  # fmt: skip
def test_a_number_or_boolean_of_the_wrong_kind_is_refused(agency: Path, line: str, value: str) -> None:
    name = line.split(" =")[0]
    section = {"vip": "priority", "keep": "backups", "batching": "microsoft365", "missed_since": "selection"}
    key = f"{section.get(name, 'calls')}.{name}"
    reason = refused_settings(edit(agency, (line, f"{name} = {value}")), key)
    if value == "true":
        assert "not true/false" in reason


# --- 3. serve --every -----------------------------------------------------------------------------------


@pytest.mark.parametrize("every", ["nan", "inf", "0", "0s", "-5m", "1e999s", "", "1.5h", "90", "25h", "15 minutes"])
def test_serve_refuses_an_interval_it_cannot_keep(agency: Path, every: str) -> None:
    result = run_cli("serve", "--settings", agency, "--every", every)  # a process: one that serves times out
    assert result.code == 2 and "Invalid value for '--every'" in result.err and "30s, 15m, 1h" in result.err
    assert "Traceback" not in result.err and not (agency.parent / "m3mail.db").exists()  # refused before any pass


@pytest.mark.parametrize(("every", "seconds"), [("30s", 30), ("15m", 900), ("1h", 3600), (" 24h ", 86400)])
def test_serve_takes_the_documented_intervals(every: str, seconds: int) -> None:
    assert _interval(every) == timedelta(seconds=seconds)


# --- 4. --today and --on --------------------------------------------------------------------------------


def test_a_day_decades_away_is_refused_by_every_command_with_the_allowed_range(agency: Path) -> None:
    real = date.today()
    allowed = f"from {add_months(real, -120).isoformat()} to {add_months(real, 60).isoformat()}"
    for command in (("run", "--dry-run"), ("run",), ("due",), ("check",), ("outcome", "M3-X", "Satisfait")):
        times = ("2080-01-01T10:00+04:00",) if command[0] in ("run", "outcome") else ()  # date-times: run's --today
        for day in ("2080-01-01", "1926-12-01", *times):
            assert allowed in refused_option("--today", *command, "--today", day, "--settings", agency)
    assert allowed in refused_option("--today", "init", agency.parent / "other", "--today", "2080-01-01")
    assert allowed in refused_option("--on", "complaint", "M3-X", "--answered", "--on", "2080-01-01",
                                     "--settings", agency)  # fmt: skip
    assert not (agency.parent / "m3mail.db").exists() and not (agency.parent / "other").exists()


@pytest.mark.parametrize("day", ["nan", "", "2026-02-30", "tomorrow"])
def test_a_day_that_is_no_date_is_refused_naming_the_option(agency: Path, day: str) -> None:
    refused_option("--today", "run", "--today", day, "--settings", agency)
    refused_option("--today", "due", "--today", day, "--settings", agency)


def test_past_years_and_the_next_few_stay_replayable(agency: Path) -> None:
    real = date.today()
    for day in (add_months(real, -119), date(real.year - 1, 1, 1), add_months(real, 59)):
        assert cli("due", "--settings", agency, "--today", day.isoformat(), "--json").exit_code == 0
    assert cli("run", "--dry-run", "--settings", agency, "--today", f"{real.year + 1}-06-01T10:00").exit_code == 0


def test_report_refuses_a_period_that_ends_before_it_starts(agency: Path, tmp_path: Path) -> None:
    refused_option("--from", "report", "--settings", agency, "--csv", tmp_path / "r.csv",
                   "--from", "2027-01-01", "--to", "2026-01-01")  # fmt: skip


# --- 5. a secret typed into client_secret_env -----------------------------------------------------------


@pytest.mark.parametrize("backend", ["local", "microsoft365"])
def test_a_secret_typed_as_the_variable_s_name_is_refused_and_never_printed(agency: Path, backend: str) -> None:
    edit(agency, ('client_secret_env = "M3MAIL_CLIENT_SECRET"', f'client_secret_env = "{SECRET}"'),
         ('backend = "local"', f'backend = "{backend}"'), ('tenant_id = ""', 'tenant_id = "t"'),
         ('client_id = ""', 'client_id = "app"'))  # fmt: skip
    for command in (("check",), ("check", "--json"), ("run",), ("doctor",), ("status", "--json")):
        result = run_cli(*command, "--settings", agency)  # a real process: what reaches its stdout and stderr
        assert result.code == 3, (command, result.err)
        assert "microsoft365.client_secret_env" in result.out + result.err
        assert SECRET not in result.out + result.err and "Traceback" not in result.err


# --- 6. the hostile admin's other settings ---------------------------------------------------------------

CASES = {
    "a string for a table": ({'[local]\n': "# [local]\n", 'root = "boites"': ""}, 'local = "boites"\n', "local"),
    "a list for a string": ({'name = "Cabinet Exemple Assurances"': 'name = ["Cabinet"]'}, "", "agency.name"),
    "an unknown nested key": ({"max_per_day = 8": "max_per_dya = 8"}, "", "calls.max_per_dya"),
    "an adviser twice": ({'email = "thomas.bernard@cabinet-exemple.fr"': 'email = "Claire.Martin@cabinet-exemple.fr"'},
                         "", "advisers"),
    "a zone on Mars": ({'timezone = "Indian/Reunion"': 'timezone = "Mars/Olympus"'}, "", "advisers[2].timezone"),
    "a zone that is a folder": ({'timezone = "Indian/Reunion"': 'timezone = "Indian"'}, "", "advisers[2].timezone"),
    "hours past midnight": ({'working_hours = ["08:00-12:00", "13:00-16:30"]': 'working_hours = ["25:00-26:00"]'},
                            "", "advisers[2].working_hours[0]"),
    "call hours reversed": ({'13:00-16:30"]\ncall_hours = ["10:00-13:00", "14:00-20:00"]':
                             '13:00-16:30"]\ncall_hours = ["20:00-10:00"]'}, "", "advisers[2].call_hours[0]"),
    "unknown holidays": ({'holidays = "974"': 'holidays = "975"'}, "", "advisers[2].holidays"),
    "a name on two lines": ({'name = "Nadia Hoarau"': 'name = "Nadia\\nBcc: x@example.com"'}, "", "advisers[2].name"),
    "a NUL in the state's path": ({'state = "m3mail.db"': 'state = "m3\\u0000mail.db"'}, "", "state"),
    "a NUL in the export's path": ({'path = "portefeuille.csv"': 'path = "porte\\u0000feuille.csv"'}, "",
                                   "portfolio.path"),
    "a huge integer": ({"answer_months = 2": f"answer_months = {10**30}"}, "", "complaints.answer_months"),
    "a Graph address that is none": ({'graph_url = "https://graph.microsoft.com"': 'graph_url = "graph"'}, "",
                                     "microsoft365.graph_url"),
}  # fmt: skip


@pytest.mark.parametrize("case", CASES)
def test_a_hostile_setting_is_named_with_its_key(agency: Path, case: str) -> None:
    changes, top, key = CASES[case]
    refused_settings(edit(agency, *changes.items(), top=top), key)


def test_every_problem_is_listed_at_once(agency: Path) -> None:
    edit(agency, (DEFAULT_FOLDER, 'folder = "{nom.x}"'), ("max_per_day = 8", "max_per_day = true"),
         ('client_secret_env = "M3MAIL_CLIENT_SECRET"', f'client_secret_env = "{SECRET}"'),
         ('timezone = "Indian/Reunion"', 'timezone = "Mars/Olympus"'))  # fmt: skip
    reasons = refused_settings(agency, "filing.folder", "calls.max_per_day", "microsoft365.client_secret_env",
                               "advisers[2].timezone")  # fmt: skip
    assert "4 settings problem(s)" in reasons and SECRET not in reasons


@pytest.mark.parametrize(("content", "reason"), [
    ("# réglages\n".encode("cp1252"), "not UTF-8 text (byte 0xe9 on line 1)"),
    (b"backend = = 'local'\n", "not valid TOML"),
    (b"x = " + b"[" * 3000 + b"]" * 3000, "nested too deeply"),
])  # fmt: skip
def test_a_settings_file_that_is_not_toml_is_one_problem_of_the_file(agency: Path, content: bytes,
                                                                    reason: str) -> None:  # fmt: skip
    agency.write_bytes(content)
    assert reason in refused_settings(agency, "(file)")
