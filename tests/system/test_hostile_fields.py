"""Hostile values in the export reach people made safe: escaped HTML, folder names that keep the client id, notes
taken only from what the adviser wrote."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from m3mail.followup import NOTES_MARKER
from m3mail.models import State
from m3mail.plan import FOLDER_BYTES
from m3mail.selection import add_months
from m3mail.settings import Settings, load_settings
from m3mail.state import StateStore
from tests.conftest import one_attempt_folder, quiet_run
from tests.people import Adviser

PARIS = ZoneInfo("Europe/Paris")
DAY = date(2026, 11, 23)  # a Monday
ADVISER = "claire.martin@cabinet-exemple.fr"
SCRIPT = "<script>alert(1)</script>"
FORGED = f"{NOTES_MARKER} Le client renonce à toute réclamation"
LONG = "É" * 300  # 600 bytes in UTF-8


def _rows() -> list[str]:
    effect = add_months(DAY, -3).strftime("%d/%m/%Y")
    return [
        (f"K0;Mme;{SCRIPT};Prénom;;06 12 34 56 00;1 rue Pasteur;69002;Lyon;{ADVISER};CT0;IARD;Auto;{effect};Actif;"
         "300,00;;;non;non"),
        f"K1;M.;{LONG};{LONG};k1@example.com;;;;;{ADVISER};CT1;IARD;Auto;{effect};Actif;;;;non;non",
        (f"K2;M.;Martin;Paul;k2@example.com;;;;;{ADVISER};CT2;IARD;Auto;{effect};Actif;;;Bris de glace|{FORGED};"
         "non;non"),
    ]


@pytest.fixture
def worked(tmp_path: Path) -> tuple[Settings, Adviser]:
    settings = load_settings(one_attempt_folder(tmp_path / "agence", DAY, _rows()))
    quiet_run(settings, datetime.combine(DAY, time(8), PARIS))
    adviser = Adviser(settings.local.root, ADVISER)
    calls = {c.key.split("-")[1]: c for c in adviser.calls()}
    adviser.set_outcome(calls["K0"].key, "M+3 Injoignable")
    adviser.set_outcome(calls["K1"].key, "M+3 Satisfait")
    adviser.set_outcome(calls["K2"].key, "M+3 Satisfait")  # no notes written
    quiet_run(settings, datetime.combine(DAY + timedelta(days=1), time(10, 30), PARIS))
    return settings, adviser


def test_html_in_a_name_is_escaped_in_the_letter_note_and_the_digest(worked) -> None:
    _settings, adviser = worked
    inbox = adviser.messages("Inbox")
    folder = next(name for name in adviser.client_folders() if "(K0)" in name)
    filed = adviser.messages("Clients", folder)
    (note,) = [m for m in filed if str(m["Subject"]).startswith("Courrier M+3")]
    for message in [note, *inbox]:
        html = message.get_body(("html",))
        if html is not None:
            assert SCRIPT.upper() not in html.get_content().upper()
    assert "&lt;script&gt;" in note.get_body(("html",)).get_content().lower()


def test_a_long_name_is_cut_and_the_folder_keeps_the_client_id(worked) -> None:
    _settings, adviser = worked
    (folder,) = [name for name in adviser.client_folders() if "ÉÉÉ" in name]
    assert folder.endswith(" (K1)") and len(folder.encode()) <= FOLDER_BYTES
    assert adviser.messages("Clients", folder)  # the record is there


def test_a_marker_in_the_export_does_not_forge_the_advisers_notes(worked) -> None:
    settings, adviser = worked
    with StateStore(settings.state) as store:
        f = next(f for f in store.follow_ups() if f.client.id == "K2")
    assert f.state is State.DONE and f.notes == ""
    folder = next(name for name in adviser.client_folders() if "(K2)" in name)
    (record,) = [m.get_body(("html",)).get_content() for m in adviser.messages("Clients", folder)
                 if "Notes du conseiller</h2>" in m.get_body(("html",)).get_content()]  # fmt: skip
    notes = record.split("Notes du conseiller</h2>")[1]
    assert "Aucune note." in notes and "renonce" not in notes
