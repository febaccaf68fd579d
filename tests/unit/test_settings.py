"""The settings loader: the shipped example loads, and every problem is reported at once with its key."""

from __future__ import annotations

from datetime import time
from pathlib import Path

import pytest

from m3mail.errors import SettingsError
from m3mail.resources import shipped
from m3mail.settings import load_settings

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


def test_a_missing_or_broken_file_names_the_file(tmp_path: Path) -> None:
    assert "m3mail init" in problems(tmp_path / "absent.toml")["(file)"]
    assert "not valid TOML" in problems(write(tmp_path, "backend = \n"))["(file)"]
