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
from m3mail.selection import add_months
from m3mail.settings import Settings, load_settings
from m3mail.state import StateStore
from tests.conftest import one_attempt_folder, quiet_run
from tests.people import Adviser

PARIS = ZoneInfo("Europe/Paris")
DAY = date(2026, 11, 23)  # a Monday
ADVISER = "claire.martin@cabinet-exemple.fr"


def _rows() -> list[str]:
    effect = add_months(DAY, -3).strftime("%d/%m/%Y")
    return [f"K{n};Mme;NOM{n};Prénom;client{n}@example.com;06 12 34 56 0{n};{n} rue Pasteur;69002;Lyon;"
            f"{ADVISER};CT{n};IARD;Auto;{effect};Actif;300,00;;;non;non" for n in range(2)]  # fmt: skip


@pytest.fixture
def emailed(tmp_path: Path) -> tuple[Settings, Adviser]:
    """Two clients emailed after one unanswered call each."""
    settings = load_settings(one_attempt_folder(tmp_path / "agence", DAY, _rows()))
    quiet_run(settings, datetime.combine(DAY, time(8), PARIS))
    adviser = Adviser(settings.local.root, ADVISER)
    for call in adviser.calls():
        adviser.set_outcome(call.key, "M+3 Injoignable")
    quiet_run(settings, datetime.combine(DAY + timedelta(days=1), time(10, 30), PARIS))
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

    report = quiet_run(settings, afternoon).advisers[ADVISER]
    (problem,) = [e for e in report.errors if "cannot be read as mail" in e]
    assert garbage in problem and garbage in set(inbox.iterkeys())  # named, and left where it is
    with StateStore(settings.state) as store:
        states = {f.id: f for f in store.follow_ups()}
    auto, replied = states[first.key.split("#")[0]], states[second.key.split("#")[0]]
    assert auto.state is State.EMAILED and auto.reply_ids == ()  # an automatic reply is not the client's answer
    assert replied.state is State.DONE and replied.replied_at is not None  # answered, its reply filed below, and
    assert replied.minimised and replied.reply_ids == ()  # closed: its client data and reply ids erased
    folder = next(name for name in adviser.client_folders() if "NOM1" in name)
    assert any("tout va bien" in str(m["Subject"]) for m in adviser.messages("Clients", folder))

    again = quiet_run(settings, afternoon + timedelta(minutes=30)).advisers[ADVISER]
    assert not [e for e in again.errors if "cannot be read as mail" in e]  # reported once


def stop_from(sender: str, sent: EmailMessage, when: datetime) -> bytes:
    """A STOP in the email's thread (its In-Reply-To names the email's Message-ID) from ``sender``."""
    return (f"From: {sender}\nTo: {sent['From']}\nSubject: Re: {sent['Subject']}\n"
            f"Date: {format_datetime(when)}\nMessage-ID: {make_msgid(domain='example.net')}\n"
            f"In-Reply-To: {sent['Message-ID']}\nReferences: {sent['Message-ID']}\nMIME-Version: 1.0\n"
            "Content-Type: text/plain; charset=utf-8\n\nSTOP\n").encode()


def test_a_stop_from_another_address_is_filed_for_the_adviser_never_acted_on(emailed) -> None:
    settings, adviser = emailed
    first, _second = sorted(adviser.sent(), key=lambda s: s.key)
    afternoon = datetime.combine(DAY + timedelta(days=1), time(15), PARIS)
    # whoever learns the email's Message-ID (a forwarded copy, a guess from the follow-up key) cannot opt out
    adviser.folder("Inbox").add(stop_from("intrus@example.net", first.item, afternoon - timedelta(hours=1)))

    quiet_run(settings, afternoon)
    fid = first.key.split("#")[0]
    with StateStore(settings.state) as store:
        f = store.follow_up(fid)
        assert f is not None and store.refused_on(f.client) is None and not store.refuses(f.client)
    assert f.state is State.EMAILED and f.reply_ids == () and len(f.other_ids) == 1 and f.replies_filed == f.other_ids
    folder = next(name for name in adviser.client_folders() if "NOM0" in name)
    assert any(m["From"] == "intrus@example.net" for m in adviser.messages("Clients", folder))
    (digest,) = [m for m in adviser.messages("Inbox") if str(m["Subject"]).startswith("M+3 · Votre point")]
    body = digest.get_body(("html",)).get_content()
    assert "autre adresse que celle du client" in body and "NOM0" in body

    # the client's own STOP, later, is one
    adviser.folder("Inbox").add(stop_from(str(first.item["To"]), first.item, afternoon + timedelta(hours=1)))
    quiet_run(settings, afternoon + timedelta(hours=2))
    with StateStore(settings.state) as store:
        assert store.follow_up(fid).state is State.OPTED_OUT  # type: ignore[union-attr]


def test_a_stop_outlives_the_loss_of_the_state(emailed) -> None:
    settings, adviser = emailed
    first, _second = sorted(adviser.sent(), key=lambda s: s.key)
    afternoon = datetime.combine(DAY + timedelta(days=1), time(15), PARIS)
    adviser.folder("Inbox").add(stop_from(str(first.item["To"]), first.item, afternoon - timedelta(hours=1)))
    quiet_run(settings, afternoon)
    client = first.key.split("-")[1]

    for lost in (settings.state, Path(f"{settings.state}-wal"), Path(f"{settings.state}-shm")):
        lost.unlink(missing_ok=True)  # gone, and no backup put back: the run starts a new state
    summary = quiet_run(settings, afternoon + timedelta(hours=1))
    assert summary.started == 1  # the other client only
    with StateStore(settings.state) as store:
        assert [f.client.id for f in store.follow_ups()] == ["K1"] and client == "K0"


def test_a_stop_recorded_after_the_backup_survives_its_restore(emailed) -> None:
    """Restored from the morning's backup, the state has the follow-up still awaiting an answer; the ledger
    ends it at the next run, and nothing more reaches the client."""
    settings, adviser = emailed
    first, _second = sorted(adviser.sent(), key=lambda s: s.key)
    (backup, *_) = sorted(settings.backups.folder.iterdir(), reverse=True)
    afternoon = datetime.combine(DAY + timedelta(days=1), time(15), PARIS)
    adviser.folder("Inbox").add(stop_from(str(first.item["To"]), first.item, afternoon - timedelta(hours=1)))
    quiet_run(settings, afternoon)
    (stop,) = [k for k in adviser.folder("Inbox").iterkeys()
               if b"STOP" in adviser.folder("Inbox").get_bytes(k)]  # fmt: skip
    adviser.folder("Inbox").remove(stop)  # the adviser tidied the Inbox: the reply is in the client folder

    from m3mail.state.backups import restore

    restore(backup, settings.state, afternoon)
    quiet_run(settings, afternoon + timedelta(hours=1))
    fid = first.key.split("#")[0]
    with StateStore(settings.state) as store:
        f = store.follow_up(fid)
        assert f is not None and f.state is State.OPTED_OUT
        assert [e for _at, e, d in store.history(fid) if d == "an opt-out recorded earlier"] == ["opted out"]


def test_client_mail_folders_and_messages_are_private(emailed) -> None:
    settings, adviser = emailed
    root = settings.local.root
    folders = [p for p in root.rglob("*") if p.is_dir()]
    files = [p for p in root.rglob("*") if p.is_file()]
    assert any(p.name == "Clients" for p in folders) and files
    assert {oct(p.stat().st_mode & 0o777) for p in folders} == {"0o700"}
    assert {oct(p.stat().st_mode & 0o777) for p in files} == {"0o600"}
