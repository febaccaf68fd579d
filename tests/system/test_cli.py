"""The CLI end to end, as a user runs it: init, check and due, with their exit codes and JSON."""

from __future__ import annotations

import shutil
from datetime import date, datetime
from pathlib import Path

import pytest

from m3mail.models import Client, DueFollowUp
from m3mail.resources import shipped
from m3mail.state import StateStore, new_follow_up
from tests.conftest import DATA, INIT_DAY, run_cli

SCENARIO = DATA / "due_scenario_cp1252.csv"
SETTINGS = """
[portfolio]
path = "export.csv"
[[advisers]]
email = "a.durand@agence.fr"
name = "Anne Durand"
[[advisers]]
email = "b.petit@agence.fr"
name = "Bruno Petit"
"""


@pytest.fixture
def scenario(tmp_path: Path) -> Path:
    """A working folder on the hand-made cp1252/CRLF export; returns its settings file."""
    shutil.copy(SCENARIO, tmp_path / "export.csv")
    (tmp_path / "m3mail.toml").write_text(SETTINGS, encoding="utf-8")
    return tmp_path / "m3mail.toml"


def due(settings: Path, day: str, *extra: str) -> list[dict]:
    result = run_cli("due", "--settings", settings, "--today", day, "--json", *extra)
    assert result.code == 0, result.err
    return result.json()


def test_check_lists_rejected_rows_and_warnings_by_line_and_field(scenario: Path) -> None:
    result = run_cli("check", "--settings", scenario, "--json")
    assert result.code == 0, result.err
    report = result.json()
    assert report["accepted"] == 10  # 13 rows: 2 rejected, 1 exact duplicate
    assert [(r["row"], r["field"]) for r in report["rejected"]] == [(9, "conseiller"), (10, "date_effet")]
    assert "c.ancien@agence.fr" in report["rejected"][0]["reason"]
    assert "30/02/2027" in report["rejected"][1]["reason"]
    assert sorted((w["row"], w["field"]) for w in report["warnings"]) == [(12, "email"), (12, "prime_annuelle")]
    assert report["duplicates"] == [{"row": 11, "duplicate_of": 2}]
    assert all("gael.moreau" not in w["reason"] for w in report["warnings"])  # no client data in reasons


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        # a leap day: C010 (VIP, 1 + 5) before C002 (Épargne 4, two contracts due together) before C009
        ("2028-02-29", [("C010", ["K011"], "2028-02-25", "2028-02-18", "2028-03-03", 6),
                        ("C002", ["K002", "K003"], "2028-02-29", "2028-02-22", "2028-03-07", 4),
                        ("C009", ["K010"], "2028-02-29", "2028-02-22", "2028-03-07", 1)]),
        # 30/11/2026 + 3 months = 28/02/2027: the window opens on the 21st, not the day before
        ("2027-02-20", []),
        ("2027-02-21", [("C003", ["K004"], "2027-02-28", "2027-02-21", "2027-03-07", 3)]),
        # 03/10/2027 + 3 months = 03/01/2028: a window across the year end, closing on 10/01
        ("2027-12-27", [("C004", ["K005"], "2028-01-03", "2027-12-27", "2028-01-10", 1)]),
        ("2028-01-10", [("C004", ["K005"], "2028-01-03", "2027-12-27", "2028-01-10", 1)]),
        ("2028-01-11", []),
        # 31/01/2028 + 3 months = 30/04/2028; C002's third contract (15/04/2028) is due apart from the others
        ("2028-04-23", [("C001", ["K001"], "2028-04-30", "2028-04-23", "2028-05-07", 1)]),
        ("2028-04-15", [("C002", ["K012"], "2028-04-15", "2028-04-08", "2028-04-22", 1)]),
    ],
)  # fmt: skip
def test_due_lists_the_right_clients_in_priority_order(scenario: Path, day: str, expected: list) -> None:
    found = due(scenario, day)
    assert [(f["client_id"], f["contracts"], f["due_date"], f["window_start"], f["window_end"], f["priority"])
            for f in found] == expected  # fmt: skip
    assert all(f["adviser"].endswith("@agence.fr") for f in found)


def test_missed_lists_closed_windows_never_the_cancelled_or_opted_out(scenario: Path) -> None:
    missed = due(scenario, "2028-03-08", "--missed")
    assert sorted(f["client_id"] for f in missed) == ["C002", "C003", "C004", "C009", "C010"]
    assert not due(scenario, "2028-03-08")  # and none of them is listed as due


def test_a_client_followed_up_is_not_due_again_until_the_cool_down_ends(scenario: Path) -> None:
    listed = due(scenario, "2028-02-25")
    c002 = next(f for f in listed if f["client_id"] == "C002")
    with StateStore(scenario.parent / "m3mail.db") as state:  # what the booking run records
        due_c002 = DueFollowUp(Client("C002"), c002["adviser"], (), date(2028, 2, 29), date(2028, 2, 22),
                               date(2028, 3, 7), 4, 11)  # fmt: skip
        at = datetime(2028, 2, 25, 8)
        state.add([new_follow_up(due_c002, at)], at)
    assert "C002" not in [f["client_id"] for f in due(scenario, "2028-02-26")]
    # K012 falls due on 15/04/2028, 50 days after the follow-up: still inside the 60-day cool-down
    assert due(scenario, "2028-04-15") == []
    assert "C002" not in [f["client_id"] for f in due(scenario, "2028-03-08", "--missed")]


def test_bad_settings_exit_3_with_every_problem(tmp_path: Path) -> None:
    path = tmp_path / "m3mail.toml"
    path.write_text('colour = "blue"\n[[advisers]]\nemail = "x"\n', encoding="utf-8")
    result = run_cli("check", "--settings", path)
    assert result.code == 3
    for key in ("colour", "advisers[0].email", "advisers[0].name"):
        assert key in result.err
    assert "Traceback" not in result.err
    as_json = run_cli("check", "--settings", path, "--json")
    assert as_json.code == 3
    assert {p["key"] for p in as_json.json()["problems"]} == {"colour", "advisers[0].email", "advisers[0].name"}


def test_a_missing_required_column_is_one_clear_error(scenario: Path) -> None:
    export = scenario.parent / "export.csv"
    export.write_text("client_id;conseiller;contrat;type\r\nC1;a.durand@agence.fr;K1;IARD\r\n", encoding="utf-8")
    result = run_cli("due", "--settings", scenario)
    assert result.code == 4
    assert "'date_effet'" in result.err and "'conseiller'" in result.err and "Traceback" not in result.err


def test_portfolio_option_reads_another_export(scenario: Path, tmp_path: Path) -> None:
    other = tmp_path / "autre.csv"
    other.write_bytes(SCENARIO.read_bytes())
    (scenario.parent / "export.csv").unlink()
    result = run_cli("due", "--settings", scenario, "--portfolio", other, "--today", "2027-02-21", "--json")
    assert result.code == 0 and [f["client_id"] for f in result.json()] == ["C003"]


def test_init_writes_a_working_folder_and_refuses_to_overwrite(tmp_path: Path) -> None:
    folder = tmp_path / "agence"
    first = run_cli("init", folder, "--today", INIT_DAY.isoformat())
    assert first.code == 0, first.err
    settings = folder / "m3mail.toml"
    assert settings.read_text(encoding="utf-8") == shipped("settings/m3mail.toml").read_text(encoding="utf-8")
    export = (folder / "portefeuille.csv").read_bytes()
    again = run_cli("init", folder)
    assert again.code == 6 and "--force" in again.err
    assert (folder / "portefeuille.csv").read_bytes() == export
    assert run_cli("init", folder, "--force").code == 0


def test_the_sample_has_clients_due_later_and_missed_and_reports_broken_rows(workdir: Path) -> None:
    settings = workdir / "m3mail.toml"
    report = run_cli("check", "--settings", settings, "--json").json()
    assert report["accepted"] >= 300 and len(report["rejected"]) >= 4 and report["warnings"]
    assert report["duplicates"]
    today = due(settings, INIT_DAY.isoformat())
    later = due(settings, "2026-12-20")
    missed = due(settings, INIT_DAY.isoformat(), "--missed")
    assert len(today) >= 20 and len(missed) >= 20
    assert {f["client_id"] for f in later} - {f["client_id"] for f in today}
    # a client may be due for one contract and have missed the window of another, never for the same one
    assert not {c for f in today for c in f["contracts"]} & {c for f in missed for c in f["contracts"]}
    assert {t for f in today for t in f["types"]} == {"IARD", "Santé", "Prévoyance", "Épargne"}
    assert any(len(f["contracts"]) > 1 for f in today)
    priorities = [f["priority"] for f in today]
    assert priorities == sorted(priorities, reverse=True)


def test_due_prints_a_readable_table(workdir: Path) -> None:
    result = run_cli("due", "--settings", workdir / "m3mail.toml", "--today", INIT_DAY.isoformat())
    assert result.code == 0
    assert "Due for M+3 on 25/11/2026" in result.out and "claire.martin@cabinet-exemple.fr" in result.out


def test_check_counts_the_clients_due_on_the_day_asked(scenario: Path) -> None:
    assert run_cli("check", "--settings", scenario, "--today", "2028-02-29", "--json").json()["due"] == 3
    assert run_cli("check", "--settings", scenario, "--today", "2028-01-11", "--json").json()["due"] == 0
    text = run_cli("check", "--settings", scenario, "--today", "2027-02-21")
    assert "1 client due on 21/02/2027" in text.out
