"""Advisers and clients, acting on the local backend's files as they would by hand.

An adviser opens their ``.ics`` calendar and sets a category, writes notes, moves or deletes an event; a client
answers an email (a message in the adviser's Inbox, in the same thread) or their mail server bounces it.
These helpers edit the files directly with icalendar and the stdlib email/mailbox packages: no m3mail code.

``Desk`` is what a scenario needs of one adviser's calendar and mailbox, whatever the backend: ``Adviser``
(here) acts on the local backend's files, ``tests.graph.people.GraphAdviser`` on the Graph emulator's mailboxes.
"""

from __future__ import annotations

import email
import email.policy
import mailbox
from collections.abc import Collection, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage, Message
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any, Protocol

from icalendar import Calendar, Event

NOTES_MARKER = "--- Notes du conseiller (écrire sous cette ligne) ---"
KEY_HEADER = "X-M3mail-Key"  # on every message m3mail writes


@dataclass(frozen=True)
class Call:
    uid: str
    key: str
    start: datetime
    end: datetime
    categories: tuple[str, ...]
    description: str


@dataclass(frozen=True)
class Sent:
    """A message m3mail sent, as it sits in the adviser's sent items: its id there, m3mail's key, and the item
    itself (what the client's answer or the bounce is made from)."""

    id: str
    key: str
    item: Any


class Desk(Protocol):
    """One adviser's calendar and mailbox, as the adviser and their clients act on them and as a user looks at
    what m3mail wrote. ``cal`` is what ``editing()`` opened: several changes, one save."""

    email: str

    def editing(self) -> AbstractContextManager[Any]:
        """Open the calendar, make changes, save them."""

    def calls(self, cal: Any = None) -> list[Call]:
        """m3mail's call events, wherever they are now."""

    def events(self) -> list[tuple[datetime, datetime, str]]:
        """Every event of the calendar: (start, end, uid)."""

    def set_outcome(self, key: str, category: str, notes: str = "", cal: Any = None) -> None:
        """The call's category becomes the outcome; the notes go under the brief's notes marker."""

    def move(self, key: str, delta: timedelta, cal: Any = None) -> None: ...

    def delete(self, key: str, cal: Any = None) -> None: ...

    def sent(self, skip: Collection[str] = ()) -> list[Sent]:
        """The messages m3mail sent from this mailbox, but those whose ids are in ``skip``."""

    def reply_to(self, sent: Sent, text: str, when: datetime) -> None:
        """The client answers ``sent`` in the same thread; the answer reaches the Inbox at ``when``."""

    def bounce(self, sent: Sent, when: datetime) -> None:
        """The client's mail server refuses ``sent``: a delivery report reaches the Inbox at ``when``."""

    def keys(self, *folder: str) -> list[str]:
        """m3mail's key of every message of a folder ("Sent", "Inbox", "Clients", name...), "" for others'."""

    def client_folders(self) -> list[str]:
        """The names of the folders under "Clients"."""


def _name(email: str) -> str:
    return email.lower()


class Adviser:
    """One adviser's calendar file and Inbox, under the local backend's root."""

    def __init__(self, root: Path, email: str):
        self.email = email
        self.calendar = root / "calendars" / f"{_name(email)}.ics"
        self.mail = root / "mail" / _name(email)
        self._parsed: tuple[bytes, Calendar] | None = None  # the file's bytes as last read or written, parsed
        self._changed = False  # an edit under way changed the calendar

    def _load(self) -> Calendar:
        """The calendar as the file holds it now. Parsing is the people's main cost in a three-month scenario:
        the file is parsed again only when m3mail (or anyone) changed it since."""
        raw = self.calendar.read_bytes()
        if self._parsed is None or self._parsed[0] != raw:
            self._parsed = (raw, Calendar.from_ical(raw))
        return self._parsed[1]

    def _save(self, cal: Calendar) -> None:
        raw = cal.to_ical()
        self.calendar.write_bytes(raw)
        self._parsed = (raw, cal)

    def calls(self, cal: Calendar | None = None) -> list[Call]:
        """m3mail's call events (those with an X-M3MAIL-KEY)."""
        found = []
        for event in (cal or self._load()).walk("VEVENT"):
            if "X-M3MAIL-KEY" not in event:
                continue
            categories: list[str] = []
            raw = event.get("CATEGORIES")
            for prop in raw if isinstance(raw, list) else [raw] if raw is not None else []:
                categories += [str(c) for c in prop.cats]
            start, end = event.decoded("DTSTART"), event.decoded("DTEND")
            description = str(event.get("DESCRIPTION", ""))
            key = str(event["X-M3MAIL-KEY"])
            found.append(Call(str(event["UID"]), key, start, end, tuple(categories), description))
        return found

    def events(self) -> list[tuple[datetime, datetime, str]]:
        """Every event: (start, end, uid)."""
        return [(e.decoded("DTSTART"), e.decoded("DTEND"), str(e["UID"])) for e in self._load().walk("VEVENT")]

    @contextmanager
    def editing(self) -> Iterator[Calendar]:
        """Open the calendar in the adviser's app, make changes, save once (if anything changed)."""
        cal, self._changed = self._load(), False
        try:
            yield cal
        except BaseException:
            self._parsed = None  # half edited: read the file again next time
            raise
        if self._changed:  # the edits say so: serialising the calendar twice to compare cost more than m3mail
            self._save(cal)

    def set_outcome(self, key: str, category: str, notes: str = "", cal: Calendar | None = None) -> None:
        """Replace the pending "M+3" category by an outcome, and write notes under the marker."""
        with self._calendar(cal) as cal:
            for event in _events_with(cal, key):
                self._changed = True
                event.pop("CATEGORIES", None)
                event.add("CATEGORIES", [category])
                if notes:
                    description = str(event.get("DESCRIPTION", ""))
                    event.pop("DESCRIPTION", None)
                    event.add("DESCRIPTION", f"{description}\n{notes}" if NOTES_MARKER in description else notes)

    def move(self, key: str, delta: timedelta, cal: Calendar | None = None) -> None:
        with self._calendar(cal) as cal:
            for event in _events_with(cal, key):
                self._changed = True
                start, end = event.decoded("DTSTART") + delta, event.decoded("DTEND") + delta
                for name, value in (("DTSTART", start), ("DTEND", end)):
                    event.pop(name)
                    event.add(name, value)

    def delete(self, key: str, cal: Calendar | None = None) -> None:
        with self._calendar(cal) as cal:
            kept = [c for c in cal.subcomponents if str(c.get("X-M3MAIL-KEY", "")) != key]
            self._changed |= len(kept) != len(cal.subcomponents)
            cal.subcomponents = kept

    @contextmanager
    def _calendar(self, cal: Calendar | None) -> Iterator[Calendar]:
        """The calendar being edited, or the file's, saved after this one change."""
        if cal is not None:
            yield cal
        else:
            with self.editing() as own:
                yield own

    def add_busy(self, start: datetime, end: datetime, summary: str = "Rendez-vous") -> None:
        cal = self._load()
        event = Event()
        event.add("UID", make_msgid(domain="adviser.example").strip("<>"))
        event.add("SUMMARY", summary)
        event.add("DTSTART", start)
        event.add("DTEND", end)
        event.add("DTSTAMP", start)
        cal.add_component(event)
        self._save(cal)

    def folder(self, *names: str) -> mailbox.Maildir:
        return mailbox.Maildir(self.mail.joinpath(*names), create=False)

    def messages(self, *names: str, skip: Collection[str] = ()) -> list[EmailMessage]:
        """The messages of a folder, but those whose Maildir keys are in ``skip``; each has its key in
        ``.maildir_key``."""
        path = self.mail.joinpath(*names)
        if not path.exists():
            return []
        box = mailbox.Maildir(path, create=False, factory=_parse)
        found = []
        for key in box.iterkeys():
            if key not in skip:
                message = box[key]
                message.maildir_key = key
                found.append(message)
        return found

    def receive(self, message: Message) -> None:
        mailbox.Maildir(self.mail / "Inbox", create=False).add(message)

    def sent(self, skip: Collection[str] = ()) -> list[Sent]:
        return [Sent(m.maildir_key, str(m[KEY_HEADER]), m) for m in self.messages("Sent", skip=skip) if m[KEY_HEADER]]

    def reply_to(self, sent: Sent, text: str, when: datetime) -> None:
        self.receive(reply(sent.item, text, when))

    def bounce(self, sent: Sent, when: datetime) -> None:
        self.receive(bounce(sent.item, when))  # the module's bounce(), below: the report an MTA writes

    def keys(self, *folder: str) -> list[str]:
        return [str(m[KEY_HEADER] or "") for m in self.messages(*folder)]

    def client_folders(self) -> list[str]:
        clients = self.mail / "Clients"
        return sorted(p.name for p in clients.iterdir()) if clients.exists() else []


def _parse(file) -> EmailMessage:
    return email.message_from_binary_file(file, policy=email.policy.default)


def _events_with(cal: Calendar, key: str) -> list:
    return [e for e in cal.walk("VEVENT") if str(e.get("X-M3MAIL-KEY", "")) == key]


def reply(sent: EmailMessage, text: str, when: datetime) -> EmailMessage:
    """The client answers the message m3mail sent, in the same thread."""
    msg = EmailMessage()
    msg["From"] = sent["To"]
    msg["To"] = sent["From"]
    msg["Subject"] = "RE: " + str(sent["Subject"])
    msg["Date"] = format_datetime(when)
    msg["Message-ID"] = make_msgid(domain="client.example")
    msg["In-Reply-To"] = sent["Message-ID"]
    msg["References"] = sent["Message-ID"]
    quoted = "\n".join("> " + line for line in str(sent.get_body(("plain",)).get_content()).splitlines()[:5])
    msg.set_content(f"{text}\n\nLe {when:%d/%m/%Y}, {sent['From']} a écrit :\n{quoted}\n")
    return msg


def bounce(sent: EmailMessage, when: datetime) -> Message:
    """The client's mail server refuses the message: a delivery status notification (RFC 3464), as an MTA
    writes it, quoting the original message's headers."""
    kept = ("From", "To", "Subject", "Message-ID", "Date")
    headers = "".join(sent[k].fold(policy=email.policy.SMTP).replace("\r\n", "\n") for k in kept if sent[k])
    raw = f"""From: Mail Delivery System <MAILER-DAEMON@mx.example>
To: {sent["From"]}
Subject: Undelivered Mail Returned to Sender
Date: {format_datetime(when)}
Message-ID: {make_msgid(domain="mx.example")}
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="BOUNDARY"

--BOUNDARY
Content-Type: text/plain; charset=us-ascii

Your message could not be delivered: user unknown.

--BOUNDARY
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example

Final-Recipient: rfc822; {sent["To"].addresses[0].addr_spec}
Action: failed
Status: 5.1.1

--BOUNDARY
Content-Type: text/rfc822-headers

{headers}
--BOUNDARY--
"""
    return email.message_from_string(raw, policy=email.policy.default)
