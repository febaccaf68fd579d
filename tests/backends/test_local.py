"""The local backend passes the contract, acted on as advisers and mail servers do: the tests edit the .ics
files with icalendar and drop messages into Maildir folders. Then what only files can get wrong: time zones,
what other calendar apps read, edits between runs, interrupted writes, the messages on disk."""

from __future__ import annotations

import email.policy
import itertools
import os
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime
from pathlib import Path

import pytest
from icalendar import Calendar, Event

from m3mail.backends.base import CATEGORY_COLOURS
from m3mail.backends.local import LocalBackend, message_id, safe_name
from m3mail.errors import BackendError, MailboxUnavailable
from m3mail.models import CallSpec, SentMail
from tests.backends.contract import (
    ADVISER,
    CLIENT,
    CLIENT_FOLDER,
    FILING,
    PARIS,
    BackendContract,
    at,
    call,
    mail,
)

_delivered = itertools.count(1)


def read_calendar(backend: LocalBackend, adviser: str = ADVISER) -> Calendar:
    return Calendar.from_ical(backend.calendar_path(adviser).read_bytes())


def write_calendar(backend: LocalBackend, cal: Calendar, adviser: str = ADVISER) -> None:
    """As the adviser's calendar app saves it: in place, no ceremony."""
    backend.calendar_path(adviser).write_bytes(cal.to_ical())


def call_component(cal: Calendar, key: str) -> Event:
    (event,) = [e for e in cal.walk("VEVENT") if str(e.get("UID")) == f"{key}@m3mail"]
    return event


def drop_in_inbox(backend: LocalBackend, adviser: str, raw: bytes) -> Path:
    """A mail server delivers a message: a new file in Inbox/new."""
    path = backend.folder_path(adviser, ("Inbox",)) / "new" / f"1796000000.M{next(_delivered)}P1.mx"
    path.write_bytes(raw)
    return path


def files(backend: LocalBackend, mailbox: str, folder: tuple[str, ...]) -> list[Path]:
    where = backend.folder_path(mailbox, folder)
    return sorted(p for sub in ("cur", "new") for p in (where / sub).iterdir())


def parse(path: Path) -> EmailMessage:
    return BytesParser(policy=email.policy.default).parsebytes(path.read_bytes())


class TestLocal(BackendContract):
    @pytest.fixture
    def backend(self, tmp_path: Path) -> LocalBackend:
        return LocalBackend(tmp_path / "boites", [ADVISER, FILING], clock=lambda: at(7, 8))

    def move(self, backend: LocalBackend, adviser: str, key: str, start: datetime, end: datetime) -> None:
        cal = read_calendar(backend, adviser)
        event = call_component(cal, key)
        for name, value in (("DTSTART", start), ("DTEND", end)):
            del event[name]
            event.add(name, value)
        write_calendar(backend, cal, adviser)

    def delete(self, backend: LocalBackend, adviser: str, key: str) -> None:
        cal = read_calendar(backend, adviser)
        cal.subcomponents.remove(call_component(cal, key))
        write_calendar(backend, cal, adviser)

    def categorise(self, backend: LocalBackend, adviser: str, key: str, categories: tuple[str, ...],
                   notes: str) -> None:  # fmt: skip
        cal = read_calendar(backend, adviser)
        event = call_component(cal, key)
        del event["CATEGORIES"]
        event.add("CATEGORIES", list(categories))
        description = f"{event.get('DESCRIPTION', '')}\n\n{notes}"
        del event["DESCRIPTION"]
        event.add("DESCRIPTION", description)
        write_calendar(backend, cal, adviser)

    def add_busy(self, backend: LocalBackend, adviser: str, start: datetime, end: datetime, subject: str, *,
                 free: bool = False, weeks: int = 1) -> None:  # fmt: skip
        cal = read_calendar(backend, adviser)
        event = Event.new(summary=subject, start=start, end=end)
        if free:
            event.add("TRANSP", "TRANSPARENT")
        if weeks > 1:
            event.add("RRULE", {"FREQ": "WEEKLY", "COUNT": weeks})
        cal.add_component(event)
        write_calendar(backend, cal, adviser)

    def reply(self, backend: LocalBackend, adviser: str, sent: SentMail, subject: str, text: str,
              when: datetime) -> None:  # fmt: skip
        msg = EmailMessage()
        msg["From"] = f"Jean Dupont <{CLIENT}>"
        msg["To"] = adviser
        msg["Subject"] = subject
        msg["Date"] = format_datetime(when)
        msg["Message-ID"] = f"<reply.{next(_delivered)}@example.com>"
        msg["In-Reply-To"] = sent.message_id
        msg["References"] = sent.message_id
        msg.set_content(text)
        drop_in_inbox(backend, adviser, msg.as_bytes())

    def bounce(self, backend: LocalBackend, adviser: str, sent: SentMail, when: datetime) -> None:
        drop_in_inbox(backend, adviser, postfix_bounce(adviser, sent.message_id, when))

    def category_names(self, backend: LocalBackend, adviser: str) -> list[str]:
        found = read_calendar(backend, adviser).get("X-M3MAIL-CATEGORIES")
        return [str(v) for v in (found if isinstance(found, list) else [found] if found else [])]

    def messages(self, backend: LocalBackend, mailbox: str, folder: tuple[str, ...]) -> list[tuple[str, bool]]:
        if not backend.folder_path(mailbox, folder).is_dir():
            return []
        return [(str(parse(p)["Subject"]), "S" in p.name.partition(":2,")[2]) for p in files(backend, mailbox, folder)]


# --- bounces as real mail servers write them -----------------------------------------------------------------


def postfix_bounce(adviser: str, original_id: str, when: datetime) -> bytes:
    """Postfix's DSN (RFC 3464): explanation, delivery status, the original's headers."""
    return f"""\
From: MAILER-DAEMON@mx.example.com (Mail Delivery System)
To: {adviser}
Subject: Undelivered Mail Returned to Sender
Date: {format_datetime(when)}
Message-ID: <20261208090000.ABC12@mx.example.com>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
\tboundary="ABC12.1796000000/mx.example.com"

--ABC12.1796000000/mx.example.com
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients.

<{CLIENT}>: host mx.example.com said: 550 5.1.1 User unknown

--ABC12.1796000000/mx.example.com
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.com

Final-Recipient: rfc822; {CLIENT}
Action: failed
Status: 5.1.1

--ABC12.1796000000/mx.example.com
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers

From: Claire Martin <{adviser}>
To: {CLIENT}
Subject: Votre contrat IARD
Message-ID: {original_id}

--ABC12.1796000000/mx.example.com--
""".encode()


def exchange_bounce(adviser: str, original_id: str, when: datetime) -> bytes:
    """Exchange and Gmail return the whole original message as message/rfc822, from postmaster."""
    return f"""\
From: postmaster@example.com
To: {adviser}
Subject: =?utf-8?q?Non_remis_=3A_Votre_contrat_IARD?=
Date: {format_datetime(when)}
Message-ID: <ndr.1@example.com>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="b1"

--b1
Content-Type: text/html; charset=utf-8

<p>Le message n'a pas pu être remis à <b>{CLIENT}</b>.</p>
--b1
Content-Type: message/rfc822

From: Claire Martin <{adviser}>
To: {CLIENT}
Subject: Votre contrat IARD
Message-ID: {original_id}
References: <older@example.com>

Bonjour Monsieur Dupont,
--b1--
""".encode()


def plain_bounce(adviser: str, original_id: str, when: datetime) -> bytes:
    """Old servers: plain text from MAILER-DAEMON, the original headers quoted in the body."""
    return f"""\
From: Mail Delivery Subsystem <MAILER-DAEMON@old.example.com>
To: {adviser}
Subject: Returned mail: see transcript for details
Date: {format_datetime(when)}

   ----- The following addresses had permanent fatal errors -----
<{CLIENT}>

   ----- Original message -----
From: {adviser}
Message-ID: {original_id}
Subject: Votre contrat IARD
""".encode()


# --- the calendar file ---------------------------------------------------------------------------------------


def test_a_new_calendar_is_a_valid_vcalendar_with_the_paris_zone(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path, [ADVISER])
    cal = read_calendar(backend)
    assert str(cal["VERSION"]) == "2.0" and "m3mail" in str(cal["PRODID"])
    assert [str(tz["TZID"]) for tz in cal.walk("VTIMEZONE")] == ["Europe/Paris"]
    assert (tmp_path / "calendars" / f"{ADVISER}.ics").is_file()
    for folder in ("Inbox", "Sent"):
        assert all((tmp_path / "mail" / ADVISER / folder / sub).is_dir() for sub in ("cur", "new", "tmp"))


@pytest.mark.parametrize(("month", "utc_offset"), [(7, timedelta(hours=2)), (12, timedelta(hours=1))])
def test_ten_oclock_in_paris_stays_ten_oclock_in_summer_and_winter(tmp_path: Path, month: int,
                                                                     utc_offset: timedelta) -> None:  # fmt: skip
    backend = LocalBackend(tmp_path, [ADVISER])
    backend.create_call(ADVISER, call(start=at(7, 10, month=month)))
    raw = backend.calendar_path(ADVISER).read_text()
    assert f"DTSTART;TZID=Europe/Paris:2026{month:02}07T100000" in raw

    event = call_component(read_calendar(backend), "F1.call.1")
    start = event["DTSTART"]
    assert start.params["TZID"] == "Europe/Paris"
    assert (start.dt.hour, start.dt.utcoffset()) == (10, utc_offset)
    assert backend.calls(ADVISER, ["F1.call.1"])["F1.call.1"].start.astimezone(PARIS).hour == 10


def test_a_call_event_carries_what_calendar_apps_show(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path, [ADVISER])
    backend.create_call(ADVISER, call(categories=("M+3", "Prioritaire")))
    cal = read_calendar(backend)
    assert cal.get_missing_tzids() == set()
    event = call_component(cal, "F1.call.1")
    assert str(event["X-M3MAIL-KEY"]) == "F1.call.1" and str(event["TRANSP"]) == "OPAQUE"
    assert str(event["SUMMARY"]) == "Appel M+3 : DUPONT Jean"
    assert str(event["DESCRIPTION"]) == "Contrat IARD du 25/08.\nTél. +33 6 12 34 56 78"
    assert [str(c) for c in event["CATEGORIES"].cats] == ["M+3", "Prioritaire"]
    (alarm,) = event.walk("VALARM")
    assert str(alarm["ACTION"]) == "DISPLAY" and alarm["TRIGGER"].dt == timedelta(minutes=-15)
    assert "TRIGGER:-PT15M" in backend.calendar_path(ADVISER).read_text().replace("\r\n", "\n")


def test_keys_and_texts_with_special_characters_are_escaped_and_read_back(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path, [ADVISER])
    spec = call("F1;call,1\\b")
    multiline = CallSpec(spec.key, spec.start, spec.end, spec.subject, "Contrat IARD, Santé; Prévoyance\nLigne 2",
                         "<p>brief</p>", 15, ("M+3",))  # fmt: skip
    made = backend.create_call(ADVISER, multiline)
    assert made.key == "F1;call,1\\b" and backend.create_call(ADVISER, multiline) == made
    assert list(backend.calls(ADVISER, ["F1;call,1\\b"])) == ["F1;call,1\\b"]
    assert backend.calls(ADVISER, [made.key])[made.key].notes == "Contrat IARD, Santé; Prévoyance\nLigne 2"
    raw = backend.calendar_path(ADVISER).read_text()
    assert "DESCRIPTION:Contrat IARD\\, Santé\\; Prévoyance\\nLigne 2" in raw  # escaped, on one line


def test_the_advisers_edits_survive_the_next_write(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path, [ADVISER])
    backend.create_call(ADVISER, call("F1.call.1"))
    cal = read_calendar(backend)
    cal.add_component(Event.new(summary="Dentiste", start=at(9, 11), end=at(9, 12), uid="dentiste@thunderbird"))
    event = call_component(cal, "F1.call.1")
    del event["DTSTART"], event["DTEND"]
    event.add("DTSTART", at(8, 15))
    event.add("DTEND", at(8, 15, 30))
    write_calendar(backend, cal)

    backend.create_call(ADVISER, call("F2.call.1", start=at(10, 16)))
    backend.ensure_categories(ADVISER, CATEGORY_COLOURS)

    subjects = {e.subject: e for e in backend.events(ADVISER, at(7, 0), at(12, 0))}
    assert subjects["Dentiste"].id == "dentiste@thunderbird"
    assert backend.calls(ADVISER, ["F1.call.1"])["F1.call.1"].start == at(8, 15)
    assert len(backend.calls(ADVISER, ["F1.call.1", "F2.call.1"])) == 2


def test_an_interrupted_write_leaves_the_previous_calendar_whole(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    backend = LocalBackend(tmp_path, [ADVISER])
    backend.create_call(ADVISER, call("F1.call.1"))
    before = backend.calendar_path(ADVISER).read_bytes()

    def power_cut(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device", str(dst))

    monkeypatch.setattr(os, "replace", power_cut)
    with pytest.raises(MailboxUnavailable, match=ADVISER):
        backend.create_call(ADVISER, call("F2.call.1"))
    monkeypatch.undo()

    assert backend.calendar_path(ADVISER).read_bytes() == before
    assert sorted(p.name for p in (tmp_path / "calendars").iterdir()) == [f"{ADVISER}.ics"]  # no leftovers
    assert list(backend.calls(ADVISER, ["F1.call.1", "F2.call.1"])) == ["F1.call.1"]


def test_a_calendar_that_cannot_be_parsed_names_the_adviser_and_the_file(tmp_path: Path) -> None:
    path = tmp_path / "calendars" / f"{ADVISER}.ics"
    path.parent.mkdir(parents=True)
    path.write_text("BEGIN:VCALENDAR\nthis is not iCalendar\n")
    backend = LocalBackend(tmp_path, [ADVISER])  # one broken calendar does not stop the others' backend
    with pytest.raises(MailboxUnavailable, match=f"{ADVISER}.*{path}"):
        backend.calls(ADVISER, ["F1.call.1"])


def test_a_root_that_cannot_be_written_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "boites"
    root.write_text("a file where the folder should be")
    backend = LocalBackend(root, [ADVISER])
    with pytest.raises(MailboxUnavailable, match=f"{ADVISER}.*{root}"):
        backend.create_call(ADVISER, call())


THUNDERBIRD = """\
BEGIN:VCALENDAR
PRODID:-//Mozilla.org/NONSGML Mozilla Calendar V1.1//EN
VERSION:2.0
BEGIN:VTIMEZONE
TZID:Europe/Paris
BEGIN:DAYLIGHT
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
TZNAME:CEST
DTSTART:19700329T020000
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU
END:DAYLIGHT
BEGIN:STANDARD
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
TZNAME:CET
DTSTART:19701025T030000
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU
END:STANDARD
END:VTIMEZONE
BEGIN:VEVENT
UID:F1.call.1@m3mail
SUMMARY:Appel M+3 : DUPONT Jean
DTSTART:20261208T140000
DTEND:20261208T143000
CATEGORIES:M+3,M+3 Besoin
CATEGORIES:Prioritaire
DESCRIPTION:Contrat IARD.\\n\\nVeut un devis habitation\\, rappeler jeudi.
X-MOZ-GENERATION:3
END:VEVENT
BEGIN:VEVENT
UID:F2.call.1@m3mail
X-M3MAIL-KEY:F2.call.1
SUMMARY:Appel M+3 : MARTIN Zoé
DTSTART:20261209T080000Z
DTEND:20261209T083000Z
END:VEVENT
BEGIN:VEVENT
UID:0f3e-weekly@thunderbird
SUMMARY:Réunion d'agence
DTSTART;TZID=Europe/Paris:20261207T090000
DTEND;TZID=Europe/Paris:20261207T100000
RRULE:FREQ=WEEKLY;BYDAY=MO,WE
EXDATE;TZID=Europe/Paris:20261209T090000
END:VEVENT
BEGIN:VEVENT
UID:holiday@thunderbird
SUMMARY:Congés
DTSTART;VALUE=DATE:20261210
DTEND;VALUE=DATE:20261211
TRANSP:TRANSPARENT
END:VEVENT
END:VCALENDAR
"""


def test_a_calendar_written_by_thunderbird_is_read_as_the_adviser_sees_it(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path, [ADVISER])
    backend.calendar_path(ADVISER).write_text(THUNDERBIRD.replace("\n", "\r\n"))

    calls = backend.calls(ADVISER, ["F1.call.1", "F2.call.1"])
    assert (calls["F1.call.1"].start, calls["F1.call.1"].end) == (at(8, 14), at(8, 14, 30))  # floating: Paris
    assert calls["F1.call.1"].categories == ("M+3", "M+3 Besoin", "Prioritaire")
    assert calls["F1.call.1"].notes == "Contrat IARD.\n\nVeut un devis habitation, rappeler jeudi."
    assert calls["F2.call.1"].start == at(9, 9)  # 08:00Z is 09:00 in Paris in winter

    events = backend.events(ADVISER, at(7, 0), at(11, 0))
    meetings = [e.start for e in events if e.subject == "Réunion d'agence"]
    assert meetings == [at(7, 9)]  # Wednesday the 9th excluded by EXDATE; next Monday outside
    (holiday,) = [e for e in events if e.subject == "Congés"]
    assert holiday.free and holiday.start == at(10, 0)

    backend.create_call(ADVISER, call("F3.call.1"))
    after = backend.calendar_path(ADVISER).read_bytes()
    theirs = THUNDERBIRD.replace("\n", "\r\n").removesuffix("END:VCALENDAR\r\n").encode()
    assert after.startswith(theirs) and b"UID:F3.call.1@m3mail\r\n" in after[len(theirs) :]  # theirs kept as is


def test_a_calendar_without_our_zone_gets_it_when_a_call_is_added(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path, [ADVISER])
    google = "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//Google Inc//Google Calendar 70.9054//EN\nBEGIN:VEVENT\n" \
             "UID:g1@google.com\nDTSTART:20261207T080000Z\nDTEND:20261207T090000Z\nSUMMARY:Visite\nEND:VEVENT\n" \
             "END:VCALENDAR\n"  # fmt: skip
    backend.calendar_path(ADVISER).write_text(google)
    backend.create_call(ADVISER, call())
    cal = read_calendar(backend)
    assert [str(tz["TZID"]) for tz in cal.walk("VTIMEZONE")] == ["Europe/Paris"] and not cal.get_missing_tzids()
    assert sorted(str(e["UID"]) for e in cal.walk("VEVENT")) == ["F1.call.1@m3mail", "g1@google.com"]


def test_adding_to_a_calendar_with_bare_line_feeds_keeps_them(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path, [ADVISER])
    backend.calendar_path(ADVISER).write_text(THUNDERBIRD)
    backend.create_call(ADVISER, call("F3.call.1"))
    after = backend.calendar_path(ADVISER).read_bytes()
    assert b"\r" not in after and after.startswith(THUNDERBIRD.removesuffix("END:VCALENDAR\n").encode())
    assert "F3.call.1" in backend.calls(ADVISER, ["F3.call.1"])


def test_categories_go_into_the_calendar_once(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path, [ADVISER])
    backend.ensure_categories(ADVISER, CATEGORY_COLOURS)
    before = backend.calendar_path(ADVISER).read_bytes()
    backend.ensure_categories(ADVISER, CATEGORY_COLOURS)
    assert backend.calendar_path(ADVISER).read_bytes() == before  # nothing to add: not even rewritten
    props = read_calendar(backend)["X-M3MAIL-CATEGORIES"]
    assert {str(p): p.params["X-COLOUR"] for p in props} == dict(CATEGORY_COLOURS)


def test_a_second_run_finds_what_the_first_made(tmp_path: Path) -> None:
    first = LocalBackend(tmp_path, [ADVISER, FILING])
    made = first.create_call(ADVISER, call())
    sent = first.send(ADVISER, mail())
    filed = first.file(FILING, CLIENT_FOLDER, mail("F1.file.1"))

    second = LocalBackend(tmp_path, [ADVISER, FILING])
    assert second.create_call(ADVISER, call()) == made
    assert second.send(ADVISER, mail()) == sent == second.find_sent(ADVISER, "F1.mail.1")
    assert second.file(FILING, CLIENT_FOLDER, mail("F1.file.1")) == filed
    assert len(files(second, ADVISER, ("Sent",))) == len(files(second, FILING, CLIENT_FOLDER)) == 1


# --- the messages on disk ------------------------------------------------------------------------------------


def test_a_sent_message_is_a_multipart_rfc5322_message_with_encoded_headers(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path, [ADVISER])
    sent = backend.send(ADVISER, mail(subject="Votre contrat Santé", sender_name="Hélène Dupré",
                                      in_reply_to="<earlier@example.com>"))  # fmt: skip
    (path,) = files(backend, ADVISER, ("Sent",))
    assert path.parent.name == "cur" and path.name.endswith(":2,S")
    head = path.read_bytes().split(b"\n\n")[0]
    assert head.isascii()  # RFC 2047 words, no raw UTF-8 in headers

    msg = parse(path)
    assert msg.get_content_type() == "multipart/alternative" and not msg.defects
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    assert all(p.get_content_charset() == "utf-8" for p in msg.iter_parts())
    assert str(msg["From"]) == f"Hélène Dupré <{ADVISER}>" and str(msg["Subject"]) == "Votre contrat Santé"
    assert str(msg["To"]) == CLIENT and str(msg["Message-ID"]) == sent.message_id == "<F1.mail.1@m3mail.local>"
    assert str(msg["In-Reply-To"]) == str(msg["References"]) == "<earlier@example.com>"
    assert str(msg["X-M3mail-Key"]) == "F1.mail.1"
    assert msg["Date"].datetime == at(7, 9) == sent.sent_at


def test_attachments_make_a_mixed_message(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path, [ADVISER, FILING])
    record = ("Compte rendu DUPONT Jean.pdf", "application/pdf", b"%PDF-1.7\n")
    backend.file(FILING, CLIENT_FOLDER, mail("F1.file.1", attachments=(record,)))
    msg = parse(files(backend, FILING, CLIENT_FOLDER)[0])
    assert msg.get_content_type() == "multipart/mixed"
    (attachment,) = msg.iter_attachments()
    assert attachment.get_filename() == "Compte rendu DUPONT Jean.pdf" and attachment.get_content() == b"%PDF-1.7\n"


def test_filed_messages_are_read_and_notes_unread(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path, [ADVISER, FILING])
    backend.file(FILING, CLIENT_FOLDER, mail("F1.file.1"))
    backend.notify(ADVISER, mail("digest", to=(ADVISER,)))
    assert [p.parent.name for p in files(backend, FILING, CLIENT_FOLDER)] == ["cur"]
    (note,) = files(backend, ADVISER, ("Inbox",))
    assert note.parent.name == "new" and ":2,S" not in note.name
    client_folder = tmp_path / "mail" / FILING / "Clients" / "DUPONT Jean (C1)"
    assert all((client_folder / sub).is_dir() for sub in ("cur", "new", "tmp"))
    assert [p.name for p in client_folder.parent.iterdir()] == ["DUPONT Jean (C1)"]  # only client folders


def test_folder_names_stay_inside_the_mailbox_and_keep_their_accents(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path, [FILING])
    backend.file(FILING, ("Clients", "../../évasion", ".cachée", "DUPRÉ Zoé (C3)"), mail("F3.file.1"))
    made = [p.relative_to(tmp_path / "mail" / FILING) for p in (tmp_path / "mail" / FILING).rglob("cur")]
    assert Path("Clients/___.._évasion/_cachée/DUPRÉ Zoé (C3)/cur") in made
    assert sorted(p.name for p in tmp_path.iterdir()) == ["calendars", "mail"]
    assert [safe_name(n) for n in ("a/b\\c", "..", "new", "")] == ["a_b_c", "__", "new_", "_"]


def test_message_ids_hold_only_what_rfc5322_allows_and_never_collide() -> None:
    assert message_id("F1.mail.1") == "<F1.mail.1@m3mail.local>"
    odd = [message_id(k) for k in ("F1:mail/1", "F1:mail:1", "F1 mail 1")]
    assert len(set(odd)) == 3 and all(i.startswith("<F1-mail-1.") for i in odd)


@pytest.mark.parametrize("bounce", [postfix_bounce, exchange_bounce, plain_bounce])
def test_bounces_from_every_kind_of_server_point_at_the_message(tmp_path: Path, bounce) -> None:
    backend = LocalBackend(tmp_path, [ADVISER])
    sent = backend.send(ADVISER, mail())
    drop_in_inbox(backend, ADVISER, bounce(ADVISER, sent.message_id, at(8, 10)))
    (found,) = backend.inbox(ADVISER, at(1, 0))
    assert found.bounce and found.in_reply_to[0] == sent.message_id
    assert found.received_at == at(8, 10) and found.text


def test_a_reply_in_html_only_is_read_as_text(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path, [ADVISER])
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = f"Jean Dupont <{CLIENT}>", ADVISER, "RE: Votre contrat"
    msg.set_content("<p>Merci, <b>tout va bien</b>.</p>", subtype="html")
    path = drop_in_inbox(backend, ADVISER, msg.as_bytes())  # no Date: the file's time is the arrival
    os.utime(path, (at(8, 9).timestamp(), at(8, 9).timestamp()))
    (found,) = backend.inbox(ADVISER, at(1, 0))
    assert "Merci, **tout va bien**." in found.text and found.html.startswith("<p>")
    assert found.received_at == at(8, 9) and not found.bounce and found.in_reply_to == ()


def test_a_file_that_is_not_a_calendar_is_refused_not_guessed_at(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path, [ADVISER])
    backend.calendar_path(ADVISER).write_text("BEGIN:VEVENT\nEND:VEVENT\n")
    with pytest.raises(MailboxUnavailable, match="not a VCALENDAR"):
        backend.events(ADVISER, at(7, 0), at(8, 0))


def test_a_broken_event_is_a_backend_error_naming_the_adviser(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path, [ADVISER])
    cal = read_calendar(backend)
    cal.add_component(Event.new(summary="Sans heure", uid="broken@thunderbird"))  # no DTSTART
    write_calendar(backend, cal)
    with pytest.raises(BackendError, match=f"{ADVISER}: read calendar failed"):
        backend.events(ADVISER, at(7, 0), at(8, 0))


def test_a_filing_error_names_the_mailbox_and_folder_root_but_not_the_client(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path, [ADVISER])
    blocked = backend.folder_path(ADVISER, ("Clients", "DUPONT Jeanne (C77)"))
    blocked.parent.mkdir(parents=True)
    blocked.write_text("a file where the client folder should be")
    with pytest.raises(MailboxUnavailable) as caught:
        backend.file(ADVISER, ("Clients", "DUPONT Jeanne (C77)"), mail())
    assert ADVISER in str(caught.value) and "Clients" in str(caught.value)
    assert "DUPONT" not in str(caught.value) and "Jeanne" not in str(caught.value)
