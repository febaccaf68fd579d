"""The settings loader: the shipped example loads, and every problem is reported at once with its key."""

from __future__ import annotations

from datetime import date, time, timedelta
from pathlib import Path

import pytest

from m3mail.errors import SettingsError
from m3mail.resources import shipped
from m3mail.selection import add_months
from m3mail.settings import load_settings
from m3mail.when import check_replay_day

MINIMAL = """
[[advisers]]
email = "A.Durand@Agence.fr"
name = "Anne Durand"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "m3mail.toml"
    path.write_text(text, encoding="utf-8")
    return path


def problems(path: Path) -> dict[str, str]:
    with pytest.raises(SettingsError) as caught:
        load_settings(path)
    return {p.key: p.reason for p in caught.value.problems}


def test_the_commented_example_loads_with_three_advisers_and_their_hours() -> None:
    settings = load_settings(shipped("settings/m3mail.toml"))
    assert settings.backend == "local"
    assert len(settings.advisers) >= 3
    for adviser in settings.advisers:
        assert adviser.email and adviser.name and adviser.timezone
        assert adviser.working_hours and adviser.call_hours
    metz = settings.adviser("thomas.bernard@cabinet-exemple.fr")
    assert metz is not None and metz.holidays == "57"
    assert metz.call_hours == [(time(10), time(13)), (time(14), time(20))]


def test_defaults_follow_the_rules_on_calling_consumers(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, MINIMAL))
    adviser = settings.advisers[0]
    assert adviser.email == "a.durand@agence.fr"  # compared without case, like the export's column
    assert adviser.working_days == [0, 1, 2, 3, 4]
    assert adviser.call_hours == [(time(10), time(13)), (time(14), time(20))]
    assert settings.selection.months_after == 3 and settings.selection.days_before == 7
    assert settings.selection.cooldown_days == 60


def test_relative_paths_resolve_against_the_settings_folder(tmp_path: Path) -> None:
    folder = tmp_path / "agence"
    folder.mkdir()
    text = MINIMAL + '\n[portfolio]\npath = "exports/contrats.xlsx"\n'
    settings = load_settings(write(folder, 'state = "etat/m3mail.db"\n' + text))
    assert settings.portfolio.path == folder.resolve() / "exports" / "contrats.xlsx"
    assert settings.state == folder.resolve() / "etat" / "m3mail.db"


def test_every_problem_is_reported_at_once_with_its_key(tmp_path: Path) -> None:
    text = """
backend = "cloud"
colour = "blue"
[selection]
months_after = "three"
cooldown = 30
[portfolio.columns]
nom = "email"
[[advisers]]
email = "not-an-address"
timezone = "Europe/Pariss"
working_hours = ["18:00-09:00"]
working_days = ["lundi", "someday"]
holidays = "99"
[[advisers]]
email = "b@agence.fr"
name = "B"
"""
    found = problems(write(tmp_path, text))
    assert set(found) == {
        "backend", "colour", "selection.months_after", "selection.cooldown", "portfolio.columns",
        "advisers[0].email", "advisers[0].name", "advisers[0].timezone", "advisers[0].working_hours[0]",
        "advisers[0].working_days[1]", "advisers[0].holidays",
    }  # fmt: skip
    assert "unknown setting" in found["colour"] and "unknown setting" in found["selection.cooldown"]
    assert "required" in found["advisers[0].name"]
    assert "end must come after the start" in found["advisers[0].working_hours[0]"]


def test_advisers_listed_twice_and_no_adviser_at_all_are_refused(tmp_path: Path) -> None:
    twice = MINIMAL + '[[advisers]]\nemail = "a.durand@agence.fr"\nname = "Again"\n'
    assert "listed twice" in " ".join(problems(write(tmp_path, twice)).values())
    assert "advisers" in problems(write(tmp_path, 'backend = "local"\n'))


def test_retention_keeps_opt_outs_three_years_at_least_and_follow_ups_as_long_as_the_cool_down(tmp_path: Path) -> None:
    defaults = load_settings(write(tmp_path, MINIMAL)).retention
    assert (defaults.follow_ups_years, defaults.opt_outs_years) == (3, 3)
    assert "retention.opt_outs_years" in problems(write(tmp_path, "[retention]\nopt_outs_years = 2\n" + MINIMAL))
    short = "[retention]\nfollow_ups_years = 1\n[selection]\ncooldown_days = 400\n" + MINIMAL
    assert "cooldown_days" in " ".join(problems(write(tmp_path, short)).values())


def test_a_missing_or_broken_file_names_the_file(tmp_path: Path) -> None:
    assert "m3mail init" in problems(tmp_path / "absent.toml")["(file)"]
    assert "not valid TOML" in problems(write(tmp_path, "backend = \n"))["(file)"]


# --- hostile values: each refused with its key, all at once ---------------------------------------------


@pytest.mark.parametrize("template", ["{nom.foo}", "{nom[0]}", "{nom!r}", "{nom:>99999999}", "{nom:{prenom}}", "{}",
                                      "{0}", "{nom", "nom}", "{adresse}", "{nom!s:10}"])  # fmt: skip
def test_a_folder_template_takes_the_four_placeholders_as_they_are(tmp_path: Path, template: str) -> None:
    text = MINIMAL + f"[filing]\nfolder = {template!r}\n"
    assert "use {nom}, {prenom}, {client_id} and {civilite}" in problems(write(tmp_path, text))["filing.folder"]


@pytest.mark.parametrize("template", ["{civilite} {nom} - {client_id}", "{{{client_id}}} {prenom}", "Dossier"])
def test_plain_folder_templates_load(tmp_path: Path, template: str) -> None:
    settings = load_settings(write(tmp_path, MINIMAL + f"[filing]\nfolder = {template!r}\n"))
    assert settings.filing.folder == template


@pytest.mark.parametrize("value", ["true", "false", "2.5", "2.0", "nan", "inf", '"8"', str(10**30), "-5"])
def test_counts_are_whole_numbers_never_booleans_floats_or_strings(tmp_path: Path, value: str) -> None:
    text = MINIMAL.replace("[[advisers]]", f"[calls]\nmax_per_day = {value}\n[priority]\nvip = {value}\n[[advisers]]")
    text += f"max_calls_per_day = {value}\n"
    found = problems(write(tmp_path, text))
    assert {"calls.max_per_day", "priority.vip", "advisers[0].max_calls_per_day"} <= set(found)
    if value in ("true", "false"):
        assert "not true/false" in found["calls.max_per_day"]


def test_a_boolean_is_true_or_false_and_a_date_no_number(tmp_path: Path) -> None:
    text = '[microsoft365]\nbatching = "yes"\n[selection]\nmissed_since = 0\n' + MINIMAL
    found = problems(write(tmp_path, text))
    assert "boolean" in found["microsoft365.batching"] and "date" in found["selection.missed_since"]


SECRET = "Qx8~secret.Value-42"


@pytest.mark.parametrize("value", [SECRET, "1SECRET", "MY SECRET", ""])
def test_a_secret_in_client_secret_env_is_refused_and_never_repeated(tmp_path: Path, value: str) -> None:
    text = MINIMAL.replace("[[advisers]]", f'[microsoft365]\nclient_secret_env = "{value}"\n[[advisers]]')
    with pytest.raises(SettingsError) as caught:
        load_settings(write(tmp_path, text))
    assert "microsoft365.client_secret_env" in str(caught.value) and "environment variable" in str(caught.value)
    assert not value or value not in str(caught.value)


def test_microsoft365_ids_urls_and_thumbprint_are_checked(tmp_path: Path) -> None:
    text = 'backend = "microsoft365"\n' + MINIMAL.replace("[[advisers]]", """[microsoft365]
tenant_id = "a b"
client_id = "app/../x"
graph_url = "nope"
authority_url = "http://login.microsoftonline.com"
certificate_key = "m3mail.key"
certificate_thumbprint = "AB:CD"
[[advisers]]""")
    found = problems(write(tmp_path, text))
    assert set(found) == {"microsoft365.tenant_id", "microsoft365.client_id", "microsoft365.graph_url",
                          "microsoft365.authority_url", "microsoft365.certificate_thumbprint"}  # fmt: skip
    missing = problems(write(tmp_path, 'backend = "microsoft365"\n' + MINIMAL))
    assert "tenant_id" in missing["microsoft365"]  # keyed by its section, not "(top level)"


def test_advisers_hours_days_zones_and_texts(tmp_path: Path) -> None:
    text = """
[[advisers]]
email = "a@agence.fr"
name = "Anne\\nBcc: x@example.com"
timezone = "Europe"
working_days = ["sam", "dim"]
call_hours = ["20:00-10:00"]
[[advisers]]
email = "b@agence.fr"
name = "B"
timezone = "Mars/Olympus"
working_hours = ["25:00-26:00"]
holidays = "99"
[[advisers]]
email = "c@agence.fr"
name = "C"
working_hours = ["08:00-09:00"]
"""
    found = problems(write(tmp_path, text))
    assert set(found) == {
        "advisers[0].name", "advisers[0].timezone", "advisers[0].working_days", "advisers[0].call_hours[0]",
        "advisers[1].timezone", "advisers[1].working_hours[0]", "advisers[1].holidays", "advisers[2]",
    }  # fmt: skip
    assert "call_hours and working_hours never meet" in found["advisers[2]"]  # the default call hours
    assert "Monday to Friday" in found["advisers[0].working_days"] and "one line" in found["advisers[0].name"]


def test_call_hours_alone_load_their_working_hours_may_come_from_outlook(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, MINIMAL + 'call_hours = ["18:30-19:30"]\n'))
    assert settings.advisers[0].call_hours == [(time(18, 30), time(19, 30))]  # beyond the default 09:00-18:00


@pytest.mark.parametrize(("setting", "key"), [
    ('state = "m3\\u0000.db"', "state"), ('state = "/"', "state"), ('templates = 5', "templates"),
    ('[portfolio]\npath = "a\\u0000b"', "portfolio.path"), ('[local]\nroot = "a\\u0000b"', "local.root"),
    ('[portfolio]\ncancelled_statuses = [""]', "portfolio.cancelled_statuses[0]"),
    ('[portfolio.columns]\nnom = ""', "portfolio.columns.nom"), ('[filing]\nroot = ""', "filing.root"),
    ('[agency]\nemail = "accueil"', "agency.email"), ('[agency]\nname = ["A"]', "agency.name"),
    ('calls = "x"', "calls"),
])  # fmt: skip
def test_paths_texts_and_tables(tmp_path: Path, setting: str, key: str) -> None:
    assert key in problems(write(tmp_path, setting + "\n" + MINIMAL))


def test_an_unreadable_or_hostile_file_is_one_problem_of_the_file(tmp_path: Path) -> None:
    path = tmp_path / "m3mail.toml"
    path.write_bytes(("# réglages\n" + MINIMAL).encode("cp1252"))
    assert "not UTF-8 text (byte 0xe9 on line 1)" in problems(path)["(file)"]
    assert "nested too deeply" in problems(write(tmp_path, "x = " + "[" * 5000 + "]" * 5000 + MINIMAL))["(file)"]


# --- the bounds of a replayed day ------------------------------------------------------------------------


def test_a_replayed_day_is_within_ten_years_back_and_five_ahead() -> None:
    real = date.today()
    first, last = add_months(real, -120), add_months(real, 60)
    for day in (first, real, last, date(real.year - 1, 1, 1), date(real.year + 2, 12, 31)):
        assert check_replay_day(day) == day
    for day in (first - timedelta(days=1), last + timedelta(days=1), date(2080, 1, 1), date(1, 1, 1)):
        with pytest.raises(ValueError, match=f"from {first.isoformat()} to {last.isoformat()}"):
            check_replay_day(day)
