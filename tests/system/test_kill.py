"""A run killed at every action in turn, then run again, leaves what an uninterrupted run leaves.

The fault is injected in the tests, not in the product: a wrapper around the real local backend raises a
BaseException (the process dying) just before or just after its n-th write reaches the files. The next run,
with a fresh backend as a restarted process would have, must finish the work: no duplicate event, email,
folder or record, and no lost follow-up.
"""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Collection, Mapping
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from m3mail.backends.base import Backend, Progress
from m3mail.backends.local import LocalBackend
from m3mail.commands import init_folder
from m3mail.job import run_once
from m3mail.models import CalendarEvent, CallSpec, InboundMail, MailSpec, SentMail
from m3mail.selection import add_months
from m3mail.settings import Settings, load_settings
from m3mail.state import StateStore
from tests.people import Adviser

PARIS = ZoneInfo("Europe/Paris")
DAY = date(2026, 11, 23)  # a Monday
ADVISER = "claire.martin@cabinet-exemple.fr"


class Killed(BaseException):
    """The process dies here (not an Exception: nothing in m3mail may catch it)."""


class Dying(Backend):
    """The real backend, until its n-th write: then the process dies, before or after the write lands."""

    def __init__(self, inner: Backend, at: int, after: bool):
        self.inner, self.at, self.after, self.writes = inner, at, after, 0

    def _write(self, method, *args, resume: bool = False):
        self.writes += 1
        if self.writes == self.at and not self.after:
            raise Killed(f"before write {self.at}")
        result = method(*args, resume=resume)
        if self.writes == self.at and self.after:
            raise Killed(f"after write {self.at}")
        return result

    def events(self, adviser: str, start: datetime, end: datetime) -> list[CalendarEvent]:
        return self.inner.events(adviser, start, end)

    def calls(self, adviser: str, keys: Collection[str],
              ids: Mapping[str, str] | None = None) -> dict[str, CalendarEvent]:  # fmt: skip
        return self.inner.calls(adviser, keys, ids)

    def create_call(self, adviser: str, call: CallSpec, *, resume: bool = False) -> CalendarEvent:
        return self._write(self.inner.create_call, adviser, call, resume=resume)

    def ensure_categories(self, adviser: str, colours: Mapping[str, str]) -> None:
        self.writes += 1  # a write like the others: the process may die around it too
        if self.writes == self.at and not self.after:
            raise Killed(f"before write {self.at}")
        self.inner.ensure_categories(adviser, colours)
        if self.writes == self.at and self.after:
            raise Killed(f"after write {self.at}")

    def send(self, adviser: str, mail: MailSpec, *, resume: bool = False, progress: Progress | None = None) -> SentMail:
        return self._write(self.inner.send, adviser, mail, resume=resume)

    def find_sent(self, adviser: str, key: str) -> SentMail | None:
        return self.inner.find_sent(adviser, key)

    def inbox(self, adviser: str, since: datetime) -> list[InboundMail]:
        return self.inner.inbox(adviser, since)

    def file(self, mailbox: str, folder: tuple[str, ...], mail: MailSpec, *, resume: bool = False) -> str:
        return self._write(self.inner.file, mailbox, folder, mail, resume=resume)

    def notify(self, adviser: str, mail: MailSpec, *, resume: bool = False) -> str:
        return self._write(self.inner.notify, adviser, mail, resume=resume)


def _export(folder: Path) -> None:
    """Eight clients of one adviser, all due on DAY: with and without email and phone."""
    effect = add_months(DAY, -3).strftime("%d/%m/%Y")
    header = ("client_id;civilite;nom;prenom;email;telephone;adresse;code_postal;ville;conseiller;contrat;type;"
              "produit;date_effet;statut;prime_annuelle;garanties;sinistres;vip;opposition")  # fmt: skip
    rows = [header]
    for n in range(8):
        email = f"client{n}@example.com" if n % 4 else ""
        kind = ["IARD", "Santé", "Prévoyance", "Épargne"][n % 4]
        rows.append(f"K{n};Mme;NOM{n};Prénom;{email};06 12 34 56 0{n};{n} rue Pasteur;69002;Lyon;{ADVISER};"
                    f"CT{n};{kind};Auto;{effect};Actif;300,00;;;non;non")  # fmt: skip
    (folder / "portefeuille.csv").write_text("\r\n".join(rows) + "\r\n", encoding="utf-8")


@pytest.fixture(scope="module")
def before(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A working folder the evening after the calls: outcomes set, emails, letters and records to make."""
    folder = tmp_path_factory.mktemp("kill") / "agence"
    init_folder(folder, DAY)
    _export(folder)
    text = (folder / "m3mail.toml").read_text(encoding="utf-8").replace("attempts = 2", "attempts = 1")
    (folder / "m3mail.toml").write_text(text, encoding="utf-8")
    settings = load_settings(folder / "m3mail.toml")
    run_once(settings, datetime.combine(DAY, time(8), PARIS), echo=lambda _s: None)
    adviser = Adviser(settings.local.root, ADVISER)
    outcomes = ["M+3 Injoignable", "M+3 Satisfait", "M+3 Réclamation", "M+3 Injoignable"]
    for n, call in enumerate(sorted(adviser.calls(), key=lambda c: c.key)):
        adviser.set_outcome(call.key, outcomes[n % 4], notes="Appel du jour")
    return folder


def _copy(before: Path, where: Path) -> Settings:
    shutil.copytree(before, where)
    return load_settings(where / "m3mail.toml")


def _run(settings: Settings, backend: Backend | None = None):
    when = datetime.combine(DAY + timedelta(days=1), time(10, 30), PARIS)
    return run_once(settings, when, backend=backend, sleep=lambda _s: None, echo=lambda _s: None)


def _world(settings: Settings) -> dict[str, object]:
    """Everything the run leaves that a user sees: calendar events, messages by folder, follow-up states."""
    adviser = Adviser(settings.local.root, ADVISER)
    messages: Counter[tuple[str, str]] = Counter()
    for path in sorted(adviser.mail.rglob("cur")):  # every Maildir folder has one
        folder = path.parent.relative_to(adviser.mail)
        for message in adviser.messages(*folder.parts):
            messages[(str(folder), str(message.get("X-M3mail-Key", message["Message-ID"])))] += 1
    with StateStore(settings.state) as store:
        states = {f.id: (f.state, f.record_filed, f.email_filed, len(f.attempts)) for f in store.follow_ups()}
    events = Counter(c.key for c in adviser.calls())
    return {"events": events, "messages": messages, "states": states}


def _backend(settings: Settings) -> LocalBackend:
    return LocalBackend(settings.local.root, [a.email for a in settings.advisers], settings.timezone)


def test_a_run_killed_at_any_write_is_finished_by_the_next(before: Path, tmp_path: Path) -> None:
    reference_settings = _copy(before, tmp_path / "reference")
    counting = Dying(_backend(reference_settings), at=0, after=False)
    _run(reference_settings, counting)
    reference = _world(reference_settings)
    writes = counting.writes
    kinds = Counter(k.split("#")[-1].rstrip("0123456789") for _f, k in reference["messages"])
    assert writes >= 12 and {"email", "file-email", "record", "letter"} <= set(kinds), kinds
    assert all(n == 1 for n in reference["messages"].values())
    for at in range(1, writes + 1):
        for after in (False, True):
            settings = _copy(before, tmp_path / f"killed-{at}-{after}")
            with pytest.raises(Killed):
                _run(settings, Dying(_backend(settings), at, after))
            _run(settings)  # the restarted process
            assert _world(settings) == reference, f"killed {'after' if after else 'before'} write {at}"
