"""The local backend: calendars are ``.ics`` files and mailboxes Maildir folders, no Microsoft 365 tenant needed.

Public: ``LocalBackend``, ``safe_name`` (folder names) and ``message_id`` (a key's Message-ID). Layout under the root::

    calendars/<adviser>.ics                    one VCALENDAR per adviser (Thunderbird, Radicale... import it)
    mail/<mailbox>/Inbox/{cur,new,tmp}         every folder is a Maildir; nested folders are nested directories
    mail/<mailbox>/Sent/...
    mail/<mailbox>/Clients/DUPONT Jean (C1)/...  (a parent holding no message is a plain directory)

The files belong to the advisers as much as to m3mail: a calendar is re-read before every change and written
whole, atomically (temporary file, fsync, rename), so that their edits survive and a killed run never leaves
half a file. Messages m3mail writes carry an ``X-M3mail-Key`` header: that is how a second attempt finds them.
Sending only puts the message in Sent; nothing leaves the machine.
"""

from __future__ import annotations

import contextlib
import email.errors
import email.policy
import functools
import hashlib
import mailbox
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime
from pathlib import Path
from typing import ParamSpec, TypeVar
from zoneinfo import ZoneInfo

from icalendar import Alarm, Calendar, Component, Event, vText
from icalendar.timezone import tzp

from m3mail.addresses import wire
from m3mail.backends import mime
from m3mail.backends.base import Backend, Progress
from m3mail.backends.vtimezone import is_stale, vtimezone
from m3mail.classify import classify
from m3mail.errors import BackendError, MailboxUnavailable
from m3mail.files import private_files, write_atomic
from m3mail.models import CalendarEvent, CallSpec, InboundMail, MailKind, MailSpec, SentMail

PRODID = "-//m3mail//m3mail local backend//FR"
KEY_HEADER = "X-M3mail-Key"
KEY_PROPERTY = "X-M3MAIL-KEY"
CATEGORIES_PROPERTY = "X-M3MAIL-CATEGORIES"  # the category list: .ics files have none of their own
INBOX, SENT = "Inbox", "Sent"
_POLICY = email.policy.default
_MAILDIR_PARTS = {"cur", "new", "tmp"}  # a folder of that name would be taken for the Maildir's own

P = ParamSpec("P")
R = TypeVar("R")


def _translated(operation: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Turn what the file system and the parsers raise into the contract's errors, naming the mailbox."""

    def decorate(method: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(method)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            mailbox_name = str(args[1]) if len(args) > 1 else "?"
            try:
                return method(*args, **kwargs)
            except BackendError:
                raise
            except OSError as e:
                where = f"{e.filename}: " if e.filename else ""
                raise MailboxUnavailable(mailbox_name, operation, f"{where}{e.strerror or e}") from e
            except (ValueError, LookupError, email.errors.MessageError, mailbox.Error) as e:  # malformed content
                detail = str(e) if isinstance(e, ValueError) else f"{type(e).__name__}: {e}"
                raise BackendError(mailbox_name, operation, detail) from e

        return wrapper

    return decorate


def safe_name(name: str) -> str:
    """A folder name as a directory name: path separators, NUL, control characters and leading dots replaced
    by ``_``, accents and inner spaces kept (``DUPONT Hélène (C1)`` stays as it is)."""
    safe = re.sub(r"[/\\\x00-\x1f]", "_", name).strip()
    safe = re.sub(r"^\.+", lambda m: "_" * len(m.group()), safe) or "_"
    if safe in _MAILDIR_PARTS:
        safe += "_"
    return safe.encode()[:255].decode(errors="ignore")  # most file systems stop at 255 bytes


def message_id(key: str) -> str:
    """``<key@m3mail.local>``; a key with characters a Message-ID cannot hold gets them replaced and a hash of
    the key appended, so that two keys never share an id."""
    safe = re.sub(r"\.{2,}", ".", re.sub(r"[^A-Za-z0-9._+=-]", "-", key)).strip(".") or "m3mail"
    if safe != key:
        safe += "." + hashlib.sha1(key.encode()).hexdigest()[:10]
    return f"<{safe}@m3mail.local>"


@dataclass(frozen=True, slots=True)
class _Stored:
    """What the per-folder index keeps of a message m3mail wrote."""

    id: str
    message_id: str
    date: datetime | None


class LocalBackend(Backend):
    """``.ics`` calendars and Maildir mailboxes under ``root``.

    ``advisers`` are the mailboxes to make if missing (the advisers', and the shared filing mailbox if any):
    their calendar (an empty VCALENDAR) and their Inbox and Sent folders. Any other mailbox exists if its
    folder does. Raises MailboxUnavailable when the root cannot be written or a calendar cannot be parsed.

    Each calendar is kept in its adviser's zone (``zones``: mailbox -> IANA name; ``timezone``, the agency's,
    for the others): calls are written ``DTSTART;TZID=<zone>`` and the file holds that zone's VTIMEZONE as
    rules (m3mail.backends.vtimezone), which CalDAV servers such as Radicale keep right.
    """

    name = "local"

    def __init__(self, root: Path, advisers: Collection[str], timezone: str = "Europe/Paris",
                 *, zones: Mapping[str, str] | None = None, clock: Callable[[], datetime] | None = None,
                 create: bool = True):  # fmt: skip
        """With ``create=False`` (a dry run) nothing is written: a missing calendar or folder reads as empty."""
        self.root = Path(root)
        self.tz = ZoneInfo(timezone)
        self._zones = {mailbox_name.lower(): ZoneInfo(zone) for mailbox_name, zone in (zones or {}).items()}
        self.create = create
        self._clock = clock or (lambda: datetime.now(UTC))
        self._index: dict[Path, dict[str, _Stored]] = {}  # folder -> {key: message}: one scan per folder
        # The last version of each calendar read or written, parsed: re-reading the file is cheap, parsing a
        # calendar of a few hundred events with icalendar is not (0.1 s), and every call booked re-reads it.
        self._calendars: dict[Path, tuple[bytes, Calendar]] = {}
        for adviser in advisers if create else ():
            with contextlib.suppress(MailboxUnavailable):  # that adviser's own operations will say why
                self._create(adviser)

    @_translated("create calendar and mailbox")
    def _create(self, adviser: str) -> None:
        path = self.calendar_path(adviser)
        try:
            with private_files():
                path.parent.mkdir(parents=True, exist_ok=True)
                if not path.exists():
                    write_atomic(path, self._new_calendar(self.zone(adviser)).to_ical())
                self.folder_path(adviser, ()).mkdir(parents=True, exist_ok=True)
                for folder in (INBOX, SENT):
                    self._maildir(adviser, (folder,), create=True)
        except OSError as e:
            raise MailboxUnavailable(adviser, "create calendar and mailbox",
                                     f"{self.root} cannot be written: {e.strerror or e}") from e  # fmt: skip

    # --- paths ---------------------------------------------------------------------------------------------

    def calendar_path(self, adviser: str) -> Path:
        return self.root / "calendars" / f"{safe_name(adviser.lower())}.ics"

    def folder_path(self, mailbox_name: str, folder: Iterable[str]) -> Path:
        return self.root.joinpath("mail", safe_name(mailbox_name.lower()), *map(safe_name, folder))

    # --- calendars -----------------------------------------------------------------------------------------

    def zone(self, adviser: str) -> ZoneInfo:
        """The zone of the adviser's calendar: their own, else the agency's."""
        return self._zones.get(adviser.lower(), self.tz)

    @_translated("read calendar")
    def events(self, adviser: str, start: datetime, end: datetime) -> list[CalendarEvent]:
        cal, zone = self._load(adviser), self.zone(adviser)
        recurring = {str(c.get("UID")) for c in cal.walk("VEVENT") if {"RRULE", "RDATE", "RECURRENCE-ID"} & set(c)}
        found = []
        import recurring_ical_events  # only booking needs it: an idle run does not pay for its import

        for occurrence in recurring_ical_events.of(cal).between(start, end):
            event = self._event_value(occurrence, zone)
            if event.start >= end or event.end <= start:
                continue
            if event.id in recurring:  # every occurrence needs an id of its own
                event = replace(event, id=f"{event.id}/{event.start.isoformat()}")
            found.append(event)
        return sorted(found, key=lambda e: e.start)

    @_translated("read calls")
    def calls(self, adviser: str, keys: Collection[str],
              ids: Mapping[str, str] | None = None) -> dict[str, CalendarEvent]:  # fmt: skip
        wanted, zone = set(keys), self.zone(adviser)
        found = {}
        for component in self._load(adviser).walk("VEVENT"):
            key = _key_of(component)
            if key in wanted and "DTSTART" in component and (key not in found or "RECURRENCE-ID" not in component):
                found[key] = self._event_value(component, zone)
        return found

    @_translated("create call")
    def create_call(self, adviser: str, call: CallSpec, *, resume: bool = False) -> CalendarEvent:
        raw, zone = self._read(adviser), self.zone(adviser)
        cal = self._parse(adviser, raw)
        if (made := _find_call(cal, call.key)) is not None:
            return self._event_value(made, zone)
        event = self._call_event(call, zone)
        end = raw.rstrip().rfind(b"END:VCALENDAR")
        # An unusual file, one without the adviser's zone, or one holding a zone as an older m3mail wrote it
        # (RDATE lists, which Radicale misreads): rewrite it whole, with the zones as rules (_write_zones).
        if end < 0 or not _zones_ready(cal, zone.key):

            def add(cal: Calendar) -> bool:
                cal.add_component(event)
                return True

            self._edit(adviser, add)
            return self._event_value(event, zone)
        # Append the event: the adviser's own lines stay byte for byte (line ends included), and a large
        # calendar costs no rewrite.
        lines = event.to_ical() + b"END:VCALENDAR\r\n"
        if b"\r\n" not in raw:
            lines = lines.replace(b"\r\n", b"\n")
        self._append(adviser, raw, raw[:end] + lines, event)
        return self._event_value(event, zone)

    @_translated("create categories")
    def ensure_categories(self, adviser: str, colours: Mapping[str, str]) -> None:
        def add(cal: Calendar) -> bool:
            existing = {_x_text(v) for v in _values(cal.get(CATEGORIES_PROPERTY))}
            missing = [name for name in colours if name not in existing]
            for name in missing:
                cal.add(CATEGORIES_PROPERTY, vText(name), parameters={"X-COLOUR": colours[name]})
            return bool(missing)

        self._edit(adviser, add)

    def _new_calendar(self, zone: ZoneInfo) -> Calendar:
        cal = Calendar()
        cal.add("prodid", PRODID)
        cal.add("version", "2.0")
        cal.add("calscale", "GREGORIAN")
        # RFC 5545 wants one component at least; the zone also tells apps how to read the events' times.
        cal.add_component(vtimezone(zone, self._clock().date()))
        return cal

    def _call_event(self, call: CallSpec, zone: ZoneInfo) -> Event:
        event = Event()
        event.add("uid", f"{call.key}@m3mail")
        event.add("dtstamp", self._clock().astimezone(UTC))
        event.add("summary", call.subject)
        # The plain-text brief only: an HTML copy (X-ALT-DESC) would triple the file that every run parses.
        event.add("description", call.body_text)
        event.add("dtstart", call.start.astimezone(zone))  # DTSTART;TZID=<zone>: the VTIMEZONE tells the offset
        event.add("dtend", call.end.astimezone(zone))
        if call.categories:
            event.add("categories", list(call.categories))
        event.add("transp", "OPAQUE")
        event.add(KEY_PROPERTY, vText(call.key))
        alarm = Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", call.subject)
        alarm.add("trigger", timedelta(minutes=-max(call.reminder_minutes, 0)))
        event.add_component(alarm)
        return event

    def _event_value(self, component: Component, zone: ZoneInfo) -> CalendarEvent:
        start = _aware(component.get("DTSTART").dt, zone)
        if "DTEND" in component:
            end = _aware(component.get("DTEND").dt, zone)
        elif "DURATION" in component:
            end = start + component.get("DURATION").dt
        else:  # RFC 5545 3.6.1: a day for a date, no time at all for a date-time
            end = start + timedelta(days=1) if not isinstance(component.get("DTSTART").dt, datetime) else start
        free = str(component.get("TRANSP", "OPAQUE")).upper() == "TRANSPARENT"
        cancelled = str(component.get("STATUS", "")).upper() == "CANCELLED"
        return CalendarEvent(
            id=str(component.get("UID", "")), start=start, end=end, subject=str(component.get("SUMMARY", "")),
            key=_key_of(component), categories=_categories(component),
            notes=str(component.get("DESCRIPTION", "")), free=free or cancelled,
        )  # fmt: skip

    def _load(self, adviser: str) -> Calendar:
        return self._parse(adviser, self._read(adviser))

    def _read(self, adviser: str) -> bytes:
        path = self.calendar_path(adviser)
        try:
            return path.read_bytes()
        except FileNotFoundError as e:
            if not self.create:
                return bytes(self._new_calendar(self.zone(adviser)).to_ical())
            raise MailboxUnavailable(adviser, "open calendar", f"no calendar at {path}") from e

    def _parse(self, adviser: str, raw: bytes) -> Calendar:
        """The calendar in ``raw``, parsed once per content: parsing is the slow part of a run. The cached
        object is never edited in place (``_edit`` parses its own copy)."""
        path = self.calendar_path(adviser)
        cached = self._calendars.get(path)
        if cached is not None and cached[0] == raw:
            return cached[1]
        cal = self._parse_fresh(adviser, raw)
        self._calendars[path] = (raw, cal)
        return cal

    def _parse_fresh(self, adviser: str, raw: bytes) -> Calendar:
        path = self.calendar_path(adviser)
        try:
            cal = Calendar.from_ical(raw)
        except ValueError as e:
            raise MailboxUnavailable(adviser, "read calendar", f"{path} cannot be parsed: {e}") from e
        if not isinstance(cal, Calendar) or cal.name != "VCALENDAR":
            raise MailboxUnavailable(adviser, "read calendar", f"{path} is not a VCALENDAR")
        return cal

    def _edit(self, adviser: str, change: Callable[[Calendar], bool]) -> Calendar:
        """Re-read the calendar, apply ``change`` (True if it changed something) and write it back whole,
        unless the adviser's app wrote the file in the meantime: then start again from their version."""
        path = self.calendar_path(adviser)
        for _ in range(3):
            raw = self._read(adviser)
            cal = self._parse_fresh(adviser, raw)
            if not change(cal):
                return cal
            self._write_zones(cal)
            data = cal.to_ical()
            if self._read(adviser) == raw:
                self._calendars.pop(path, None)
                write_atomic(path, data)
                return cal
        raise BackendError(adviser, "write calendar", f"{path} keeps changing under us", retryable=True)

    def _write_zones(self, cal: Calendar) -> None:
        """Give ``cal`` a VTIMEZONE for every TZID its events use, as rules: the missing ones added (in place of
        icalendar's ``add_missing_timezones``, whose ``from_tzid`` writes the RDATE lists that Radicale
        misreads), and those lists, where an older m3mail wrote them, replaced. TZIDs that name no zoneinfo
        zone are left as they are (icalendar skips them too)."""
        today = self._clock().date()
        for i, component in enumerate(cal.subcomponents):
            if component.name == "VTIMEZONE" and is_stale(component):
                tzid = str(component.get("TZID", ""))
                if (zone := _zoneinfo(tzid)) is not None:
                    cal.subcomponents[i] = vtimezone(zone, today, tzid)
        at = len(_timezones(cal))  # after the zones already there, before the events (as icalendar inserts them)
        for tzid in sorted(cal.get_missing_tzids()):
            if (zone := _zoneinfo(tzid)) is not None:
                cal.subcomponents.insert(at, vtimezone(zone, today, tzid))
                at += 1

    def _append(self, adviser: str, raw: bytes, data: bytes, event: Event) -> None:
        """Write ``data`` (``raw`` plus ``event``), unless the adviser's app changed the file meanwhile."""
        path = self.calendar_path(adviser)
        if self._read(adviser) != raw:
            raise BackendError(adviser, "write calendar", f"{path} changed while m3mail wrote it", retryable=True)
        cached = self._calendars.pop(path, None)
        write_atomic(path, data)
        if cached is not None and cached[0] == raw:  # keep the parsed calendar in step, without parsing again
            cached[1].add_component(event)
            self._calendars[path] = (data, cached[1])

    # --- mail ----------------------------------------------------------------------------------------------

    @_translated("send")
    def send(self, adviser: str, mail: MailSpec, *, resume: bool = False, progress: Progress | None = None) -> SentMail:
        stored = self._stored(adviser, (SENT,), mail.key) or self._deliver(adviser, (SENT,), mail, seen=True)
        return SentMail(stored.id, stored.message_id, stored.date)

    @_translated("find sent message")
    def find_sent(self, adviser: str, key: str) -> SentMail | None:
        stored = self._stored(adviser, (SENT,), key)
        return SentMail(stored.id, stored.message_id, stored.date) if stored else None

    @_translated("read inbox")
    def inbox(self, adviser: str, since: datetime) -> list[InboundMail]:
        if not self.create and not (self.folder_path(adviser, (INBOX,)) / "cur").is_dir():
            return []
        box = self._maildir(adviser, (INBOX,), create=True)
        found = []
        for key in box.iterkeys():
            raw = box.get_bytes(key)
            headers = BytesParser(policy=_POLICY).parsebytes(raw, headersonly=True)
            if KEY_HEADER in headers:  # a note m3mail put there itself
                continue
            received = mime.date(headers) or datetime.fromtimestamp(box.get_message(key).get_date(), UTC)
            if received >= since:
                found.append(self._inbound(key, BytesParser(policy=_POLICY).parsebytes(raw), received))
        return sorted(found, key=lambda m: m.received_at)

    @_translated("file message")
    def file(self, mailbox: str, folder: tuple[str, ...], mail: MailSpec, *, resume: bool = False) -> str:
        try:
            stored = self._stored(mailbox, folder, mail.key) or self._deliver(mailbox, folder, mail, seen=True)
        except OSError as e:  # a client folder's name is client data: name the folder root only
            root = self.folder_path(mailbox, folder[:1])
            raise MailboxUnavailable(mailbox, "file message", f"{root}/...: {e.strerror or e}") from e
        return stored.id

    @_translated("notify")
    def notify(self, adviser: str, mail: MailSpec, *, resume: bool = False) -> str:
        stored = self._stored(adviser, (INBOX,), mail.key) or self._deliver(adviser, (INBOX,), mail, seen=False)
        return stored.id

    def _home(self, mailbox_name: str) -> Path:
        home = self.folder_path(mailbox_name, ())
        if not home.is_dir():
            raise MailboxUnavailable(mailbox_name, "open mailbox", f"no mailbox at {home}")
        return home

    def _maildir(self, mailbox_name: str, folder: tuple[str, ...], *, create: bool = False) -> mailbox.Maildir:
        """The folder's Maildir; with ``create``, made with its parents (plain directories: ``Clients/`` then
        lists the client folders only, as a person browsing it expects)."""
        self._home(mailbox_name)
        path = self.folder_path(mailbox_name, folder)
        if not create:
            return mailbox.Maildir(path, factory=None, create=False)
        with private_files():
            path.parent.mkdir(parents=True, exist_ok=True)
            return mailbox.Maildir(path, factory=None, create=True)

    def _stored(self, mailbox_name: str, folder: tuple[str, ...], key: str) -> _Stored | None:
        """The message written with ``key`` in the folder, from the index (one scan per folder and run)."""
        path = self.folder_path(mailbox_name, folder)
        if path not in self._index:
            self._home(mailbox_name)  # raises if the mailbox itself is missing
            if not (path / "cur").is_dir():
                return None
            box = self._maildir(mailbox_name, folder)
            index = {}
            for msg_key in box.iterkeys():
                headers = BytesParser(policy=_POLICY).parsebytes(box.get_bytes(msg_key), headersonly=True)
                if KEY_HEADER in headers:
                    index[str(headers[KEY_HEADER])] = _Stored(msg_key, mime.message_id(headers), mime.date(headers))
            self._index[path] = index
        return self._index[path].get(key)

    def _deliver(self, mailbox_name: str, folder: tuple[str, ...], mail: MailSpec, *, seen: bool) -> _Stored:
        box = self._maildir(mailbox_name, folder, create=True)
        when = mail.when or self._clock()
        when = (when if when.tzinfo else when.replace(tzinfo=self.tz)).replace(microsecond=0)  # as in Date:
        message = mailbox.MaildirMessage(self._build(mail, when).as_bytes())
        if seen:
            message.set_subdir("cur")
            message.set_flags("S")
        with private_files():
            stored = _Stored(box.add(message), message_id(mail.key), when)  # tmp/ then rename: atomic
        self._index.setdefault(self.folder_path(mailbox_name, folder), {})[mail.key] = stored
        return stored

    def _build(self, mail: MailSpec, when: datetime) -> EmailMessage:
        # addresses as servers take them: IDNA domains; a non-ASCII local part in UTF-8 (SMTPUTF8), never an
        # encoded word, which the email package would write with the default policy (m3mail.addresses)
        to = [wire(a) for a in mail.to]
        msg = EmailMessage(policy=_POLICY.clone(utf8=True) if any(utf8 for _a, utf8 in to) else _POLICY)
        msg["Date"] = format_datetime(when)
        msg["From"] = Address(display_name=mail.sender_name, addr_spec=wire(mail.sender)[0])
        msg["To"] = ", ".join(a for a, _utf8 in to)
        msg["Subject"] = mime.one_line(mail.subject)  # a reply's subject may have hidden CR/LF in encoded words
        msg["Message-ID"] = message_id(mail.key)
        if mail.in_reply_to:
            parent = mail.in_reply_to if mail.in_reply_to.startswith("<") else f"<{mail.in_reply_to}>"
            msg["In-Reply-To"] = msg["References"] = parent
        msg[KEY_HEADER] = mail.key
        # Quoted-printable keeps every line 7-bit and short, whatever the mail server on the way.
        msg.set_content(mail.text, cte="quoted-printable")
        if mail.html:
            msg.add_alternative(mail.html, subtype="html", cte="quoted-printable")
        for name, content_type, data in mail.attachments:
            maintype, _, subtype = content_type.partition("/")
            msg.add_attachment(data, maintype=maintype, subtype=subtype or "octet-stream", filename=name)
        return msg

    def _inbound(self, key: str, msg: EmailMessage, received: datetime) -> InboundMail:
        """The message translated into the common view, then classified (m3mail.classify)."""
        if not mime.readable(msg):
            return InboundMail(id=key, message_id="", sender="", subject="", text="", html="", received_at=received,
                               kind=MailKind.UNREADABLE, reason="not a message: no header field m3mail can read")
        text, html = mime.body_text(msg)
        view = mime.view_of(msg, text)
        verdict = classify(view, received)
        return InboundMail(  # a message without a Message-ID is known by its file: "<key@maildir>"
            id=key, message_id=mime.message_id(msg) or f"<{key}@maildir>", sender=view.sender, subject=view.subject,
            text=view.text,
            html=html, received_at=received, in_reply_to=verdict.refs, kind=verdict.kind,
            recipients=verdict.recipients, own_text=verdict.own_text, back_on=verdict.back_on, reason=verdict.reason,
        )  # fmt: skip


# --- iCalendar helpers ---------------------------------------------------------------------------------------


def _values(prop: object) -> list[object]:
    """A property that may appear once or several times, as a list."""
    if prop is None:
        return []
    return list(prop) if isinstance(prop, list) else [prop]


def _x_text(prop: object) -> str:
    """The text of an X- property. icalendar writes a ``vText`` escaped but reads unknown properties back raw,
    still escaped (RFC 5545 3.3.11): ``\\,`` ``\\;`` ``\\n`` ``\\\\``."""
    if isinstance(prop, vText):
        return str(prop)
    return re.sub(r"\\([\\;,nN])", lambda m: "\n" if m.group(1) in "nN" else m.group(1), str(prop))


def _categories(component: Component) -> tuple[str, ...]:
    """Every category, whether written ``CATEGORIES:a,b`` or as repeated properties."""
    names: list[str] = []
    for prop in _values(component.get("CATEGORIES")):
        names.extend(str(c) for c in getattr(prop, "cats", [prop]))
    return tuple(dict.fromkeys(n.strip() for n in names if n.strip()))


def _aware(value: date | datetime, zone: ZoneInfo) -> datetime:
    """Floating times and all-day dates are the adviser's wall clock, in the zone of their calendar."""
    if not isinstance(value, datetime):
        return datetime.combine(value, time(), zone)
    return value if value.tzinfo is not None else value.replace(tzinfo=zone)


def _timezones(cal: Calendar) -> list[Component]:
    """The calendar's VTIMEZONEs: top level only, walking every event of a large calendar costs."""
    return [c for c in cal.subcomponents if c.name == "VTIMEZONE"]


def _zoneinfo(tzid: str) -> ZoneInfo | None:
    """The zoneinfo zone a TZID names, as icalendar resolves it (IANA names, Windows names...), or None."""
    zone = tzp.timezone(tzid) if tzid else None
    return zone if isinstance(zone, ZoneInfo) else None


def _zones_ready(cal: Calendar, tzid: str) -> bool:
    """Whether an event in ``tzid`` can be appended as it is: the calendar has that VTIMEZONE, and none of its
    zones is one an older m3mail wrote as RDATE lists (the rewrite replaces them)."""
    zones = _timezones(cal)
    has = any(str(z.get("TZID", "")) == tzid for z in zones)
    return has and not any(is_stale(z) and _zoneinfo(str(z.get("TZID", ""))) is not None for z in zones)


def _key_of(component: Component) -> str | None:
    if KEY_PROPERTY in component:
        return _x_text(component.get(KEY_PROPERTY))
    uid = str(component.get("UID", ""))
    return uid.removesuffix("@m3mail") if uid.endswith("@m3mail") else None


def _find_call(cal: Calendar, key: str) -> Component | None:
    matches = [c for c in cal.walk("VEVENT") if _key_of(c) == key]
    masters = [c for c in matches if "RECURRENCE-ID" not in c]
    return next(iter(masters or matches), None)
