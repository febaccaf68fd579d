"""What comes back to the advisers' Inbox never blocks a follow-up: a run on the local backend after the emails.

- an iCloud vacation reply (``Subject: Auto reply: …``, ``X-Apple-Action: VACATION``, an In-Reply-To, no
  Auto-Submitted: the corpus's icloud-vacation.eml) neither stops the sequence nor is recorded as the answer;
- a reply whose encoded Subject hides CR/LF is filed, and its follow-up ends;
- bytes that are not mail stay where they are and are reported once, by their file name.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from m3mail.models import State
from m3mail.runner import run_once
from m3mail.selection import add_months
from m3mail.service import init_folder
from m3mail.settings import Settings, load_settings
from m3mail.state import StateStore
from tests.people import Adviser

PARIS = ZoneInfo("Europe/Paris")
DAY = date(2026, 11, 23)  # a Monday
ADVISER = "claire.martin@cabinet-exemple.fr"


def _export(folder: Path) -> None:
    effect = add_months(DAY, -3).strftime("%d/%m/%Y")
    rows = ["client_id;civilite;nom;prenom;email;telephone;adresse;code_postal;ville;conseiller;contrat;type;"
            "produit;date_effet;statut;prime_annuelle;garanties;sinistres;vip;opposition"]  # fmt: skip
    for n in range(2):
        rows.append(f"K{n};Mme;NOM{n};Prénom;client{n}@example.com;06 12 34 56 0{n};{n} rue Pasteur;69002;Lyon;"
                    f"{ADVISER};CT{n};IARD;Auto;{effect};Actif;300,00;;;non;non")  # fmt: skip
    (folder / "portefeuille.csv").write_text("\r\n".join(rows) + "\r\n", encoding="utf-8")


def run(settings: Settings, when: datetime):
    return run_once(settings, when, sleep=lambda _s: None, echo=lambda _s: None)


@pytest.fixture
def emailed(tmp_path: Path) -> tuple[Settings, Adviser]:
    """Two clients emailed after one unanswered call each."""
    folder = tmp_path / "agence"
    init_folder(folder, DAY)
    _export(folder)
    path = folder / "m3mail.toml"
    path.write_text(path.read_text(encoding="utf-8").replace("attempts = 2", "attempts = 1"), encoding="utf-8")
    settings = load_settings(path)
    run(settings, datetime.combine(DAY, time(8), PARIS))
    adviser = Adviser(settings.local.root, ADVISER)
    for call in adviser.calls():
        adviser.set_outcome(call.key, "M+3 Injoignable")
    run(settings, datetime.combine(DAY + timedelta(days=1), time(10, 30), PARIS))
    assert len(adviser.sent()) == 2
    return settings, adviser


def vacation(sent: EmailMessage, when: datetime) -> bytes:
    return (f"From: {sent['To']}\nTo: {sent['From']}\nSubject: Auto reply: {sent['Subject']}\n"
            f"Date: {format_datetime(when)}\nMessage-ID: {make_msgid(domain='icloud.com')}\n"
            f"In-Reply-To: {sent['Message-ID']}\nX-Apple-Action: VACATION\nMIME-Version: 1.0\n"
            "Content-Type: text/plain; charset=utf-8\n\nJe suis en congés, de retour le 14 décembre 2026.\n").encode()


def crlf_reply(sent: EmailMessage, when: datetime) -> bytes:
    return (f"From: {sent['To']}\nTo: {sent['From']}\nSubject: =?utf-8?q?Re=3A_Votre_contrat=0D=0A_tout_va_bien?=\n"
            f"Date: {format_datetime(when)}\nMessage-ID: {make_msgid(domain='client.example')}\n"
            f"In-Reply-To: {sent['Message-ID']}\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n"
            "Bonjour, tout va bien, merci.\n").encode()


def test_what_comes_back_never_blocks_a_follow_up(emailed) -> None:
    settings, adviser = emailed
    first, second = sorted(adviser.sent(), key=lambda s: s.key)
    afternoon = datetime.combine(DAY + timedelta(days=1), time(15), PARIS)
    inbox = adviser.folder("Inbox")
    inbox.add(vacation(first.item, afternoon - timedelta(hours=1)))
    inbox.add(crlf_reply(second.item, afternoon - timedelta(hours=1)))
    garbage = inbox.add(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10" + bytes(range(256)))

    report = run(settings, afternoon).advisers[ADVISER]
    (problem,) = [e for e in report.errors if "cannot be read as mail" in e]
    assert garbage in problem and garbage in set(inbox.iterkeys())  # named, and left where it is
    with StateStore(settings.state) as store:
        states = {f.id: f for f in store.follow_ups()}
    auto, replied = states[first.key.split("#")[0]], states[second.key.split("#")[0]]
    assert auto.state is State.EMAILED and auto.reply_ids == ()  # an automatic reply is not the client's answer
    assert replied.state is State.DONE and replied.reply_ids and replied.replies_filed == replied.reply_ids
    folder = next(name for name in adviser.client_folders() if "NOM1" in name)
    assert any("tout va bien" in str(m["Subject"]) for m in adviser.messages("Clients", folder))

    again = run(settings, afternoon + timedelta(minutes=30)).advisers[ADVISER]
    assert not [e for e in again.errors if "cannot be read as mail" in e]  # reported once
