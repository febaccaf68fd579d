"""What one adviser's pass does, decided from what the pass read: pure, no backend and no state.

    plan(snapshot, follow_ups, rules, renderer, now) -> Plan       the work, and the notices
    digest(basis, follow_ups, missing_slots, rules, renderer, now)  the adviser's digest, once the work is done

The snapshot is all the pass read (m3mail.adviser.gather): the booked calls as the calendar has them, the Inbox
when an email awaits an answer, the opt-outs, and when a follow-up needs a call the calendar's busy times and
the mailbox's availability. The plan is actions in stages: the outcome categories; the follow-ups' changes
(m3mail.followup decides them); the calls to book, or the client unreached when no slot is left; the emails
and letters; the filings; the values the next runs read. Each stage is planned on the follow-ups as the stages
before are expected to leave them (``Action.after`` of the answer ``Action.simulated`` expects), so that a
follow-up can go from a reply to its filed record in one pass; the executor runs the stages and has each action
act for its follow-up as really left (``Action.on``). The notices come with it: the problems to report (a
template error, a message the Inbox cannot read, working hours unread) and the capacity alert.

The digest is planned after the work is executed: it tells the adviser what happened, not what was expected.
"""

from __future__ import annotations

import hashlib
import html
import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from itertools import chain
from zoneinfo import ZoneInfo

from m3mail import followup as fu
from m3mail.actions import (
    AnyAction,
    BookCall,
    EnsureCategories,
    FileMail,
    Filing,
    Notify,
    Remember,
    SendEmail,
    Update,
    call_key,
)
from m3mail.errors import M3MailError
from m3mail.models import (
    CATEGORY_COLOURS,
    PENDING_CATEGORY,
    Availability,
    CalendarEvent,
    CallSpec,
    FollowUp,
    InboundMail,
    MailKind,
    MailSpec,
    State,
)
from m3mail.planning import (
    AdviserRules,
    CallRequest,
    client_subdivision,
    client_timezone,
    is_business_day,
    may_send_email,
    plan_calls,
)
from m3mail.render import DigestItems, Renderer
from m3mail.rules import PassRules


@dataclass(frozen=True)
class Calendar:
    """The adviser's calendar from now to past the last window, and the mailbox's availability."""

    events: tuple[CalendarEvent, ...]
    availability: Availability
    unread: str = ""  # why the automatic replies and working hours could not be read (the settings' hours apply)


@dataclass(frozen=True)
class DigestBasis:
    """What the digest needs from the state, on a day one is due and not sent yet: when the last one went, and
    what had activity since."""

    since: datetime
    recent: tuple[FollowUp, ...]  # the adviser's follow-ups with activity since the last digest


@dataclass(frozen=True)
class Snapshot:
    """What one pass read for one adviser, before deciding anything."""

    calls: Mapping[str, CalendarEvent]  # the booked calls by key (a key absent: the adviser deleted the call)
    inbox: tuple[InboundMail, ...] = ()  # read when an email awaits an answer or a reply is to file
    refused: frozenset[str] = frozenset()  # follow-ups whose client opted out (this state or the ledger)
    reported: frozenset[str] = frozenset()  # unreadable Inbox messages reported by an earlier run
    calendar: Calendar | None = None  # read when a follow-up needs a call (calendar_horizon)
    digest: DigestBasis | None = None  # None: no digest due this pass (not a working day, or today's sent)
    capacity: str = "{}"  # the capacity alert as the state keeps it (JSON: day -> calls with no free slot)


@dataclass(frozen=True)
class Plan:
    """The actions in the order of their stages, and the notices."""

    stages: tuple[tuple[AnyAction, ...], ...]
    problems: tuple[str, ...] = ()  # for the report and the log: ids and shapes, never client data
    missing_slots: Mapping[str, int] = field(default_factory=dict)  # day -> calls with no free slot (capacity)

    @property
    def actions(self) -> list[AnyAction]:
        return list(chain.from_iterable(self.stages))


def plan(snapshot: Snapshot, follow_ups: Sequence[FollowUp], rules: PassRules, renderer: Renderer,
         now: datetime) -> Plan:  # fmt: skip
    """The pass's work for one adviser."""
    email, problems = rules.adviser.email, list[str]()
    current = {f.id: f for f in follow_ups}
    categories = (EnsureCategories(key=f"categories:{email}", mailbox=email, colours=CATEGORY_COLOURS),)
    changes = tuple(observe(snapshot, list(current.values()), rules, now))
    current |= expected(changes, now)
    planned = [f for f in current.values() if f.state is State.PLANNED]
    bookings, missing = _bookings(snapshot.calendar, planned, rules, renderer, now, problems)
    current |= expected(bookings, now)
    unreached = [f for f in current.values() if f.state is State.UNREACHED]
    reaching = _reach_out(unreached, rules, renderer, now, problems)
    current |= expected(reaching, now)
    filings = _filings(list(current.values()), snapshot.inbox, rules, renderer, now, problems)
    notes = _unreadable(snapshot, rules, now, problems)
    alert = json.dumps(missing, sort_keys=True)  # the capacity alert as this pass found it (none: cleared)
    if alert != snapshot.capacity:  # kept when it changed: not a write per adviser and run
        notes.append(Remember(key=capacity_mark(rules), value=alert))
    stages = (categories, changes, tuple(bookings), tuple(reaching), tuple(filings), tuple(notes))
    return Plan(stages, tuple(problems), missing)


def expected(actions: Iterable[AnyAction], now: datetime) -> dict[str, FollowUp]:
    """The follow-ups as the actions are expected to leave them, by id: each one's actions in their order."""
    latest: dict[str, FollowUp] = {}
    for action in actions:
        if action.follow_up is None:
            continue
        prior = latest.get(action.follow_up.id)
        acting = action.on(prior) if prior is not None else action
        if (new := acting.after(acting.simulated(now), now)) is not None:
            latest[new.id] = new
    return latest


# --- observe: what the calendar and the Inbox say --------------------------------------------------------


def observe(snapshot: Snapshot, follow_ups: Sequence[FollowUp], rules: PassRules, now: datetime) -> list[Update]:
    """The follow-ups' changes the opt-outs, the calendar, the Inbox and the time call for."""
    today = _today(rules, now)
    updates: list[Update] = []
    for f in follow_ups:
        steps = [fu.honour_opt_out(f, f.id in snapshot.refused, now)]
        if steps[-1] is None:
            steps.append(fu.read_call(f, snapshot.calls.get(f.call_key), now, rules.process))
        latest = steps[-1].follow_up if steps[-1] else f
        steps.append(fu.read_mail(latest, snapshot.inbox, now, rules.process)[0])
        latest = steps[-1].follow_up if steps[-1] else latest
        steps.append(fu.close_window(latest, now, today))
        for change in filter(None, steps):
            updates.append(_update(rules, f, change.event, change.follow_up, change.detail))
    return updates


def calendar_horizon(snapshot: Snapshot, follow_ups: Sequence[FollowUp], rules: PassRules,
                     now: datetime) -> datetime | None:  # fmt: skip
    """Until when the pass must read the calendar: past the last window of the follow-ups that will need a call
    once observed; None when none will (the calendar is not read)."""
    current = {f.id: f for f in follow_ups} | expected(observe(snapshot, follow_ups, rules, now), now)
    planned = [f for f in current.values() if f.state is State.PLANNED]
    return calendar_horizon_of(planned, rules) if planned else None


def awaits_mail(f: FollowUp) -> bool:
    """Whether the pass must read the Inbox for this follow-up: an email awaits an answer, or a reply its filing."""
    return f.emailed_at is not None and (f.state is State.EMAILED or _unfiled_replies(f))


def _update(rules: PassRules, f: FollowUp, event: str, new: FollowUp, detail: str) -> Update:
    """A change of the follow-up's state alone, recorded with its history line."""
    return Update(key=f"{f.id}#update", mailbox=rules.adviser.email, follow_up=f, event=event, new=new,
                  detail=detail)  # fmt: skip


def _unreadable(snapshot: Snapshot, rules: PassRules, now: datetime, problems: list[str]) -> list[AnyAction]:
    """A message in the Inbox that cannot be read as mail stays where it is, and is reported once (its id or
    file name, never its content): the follow-ups go on."""
    marks: list[AnyAction] = []
    for m in snapshot.inbox:
        if m.kind is MailKind.UNREADABLE and m.id not in snapshot.reported:
            problems.append(f"a message in the Inbox cannot be read as mail, left where it is: {m.id} (open it in "
                            "the mail app; if it is not mail, delete it)")  # fmt: skip
            marks.append(Remember(key=unreadable_mark(rules, m), value=now.isoformat(timespec="seconds")))
    return marks


def capacity_mark(rules: PassRules) -> str:
    return f"capacity:{rules.adviser.email}"


def unreadable_mark(rules: PassRules, message: InboundMail) -> str:
    return f"unreadable:{rules.adviser.email}:{message.id}"


def _unfiled_replies(f: FollowUp) -> bool:
    return any(mid not in f.replies_filed for mid in f.reply_ids + f.other_ids)


def _today(rules: PassRules, now: datetime) -> date:
    return now.astimezone(ZoneInfo(rules.agency_timezone)).date()


# --- book ------------------------------------------------------------------------------------------------


def _bookings(calendar: Calendar | None, planned: list[FollowUp], rules: PassRules, renderer: Renderer,
              now: datetime, problems: list[str]) -> tuple[list[AnyAction], dict[str, int]]:  # fmt: skip
    """Calls for the follow-ups that need one; a window without a free slot is a capacity alert (a further
    attempt without room: the client is emailed instead)."""
    missing: dict[str, int] = {}
    if not planned:
        return [], missing
    if calendar is None:
        raise ValueError("follow-ups to book, and no calendar read: the snapshot was gathered without calendar_horizon")
    mailbox, horizon = calendar.availability, calendar_horizon_of(planned, rules)
    if calendar.unread:  # booked by the settings' hours alone; reported, so that it gets fixed
        problems.append(f"automatic replies and working hours unread: {calendar.unread}")
    if mailbox.problem:  # booked by the settings' hours; reported, so that it gets fixed
        problems.append(f"Outlook's working hours unread: {mailbox.problem}; the settings' hours apply (choose a "
                        "listed time zone in Outlook, or set working_days and working_hours for this adviser)")
    busy = [(e.start, e.end) for e in calendar.events if not e.free]
    busy += [(start, end or horizon) for start, end in mailbox.away]  # automatic replies on: away
    hours = _outlook_hours(rules, mailbox, now)
    zone = ZoneInfo(rules.adviser.timezone)
    per_day = Counter(e.start.astimezone(zone).date() for e in calendar.events if e.key)
    bookings, shortages = plan_calls([_request(f) for f in planned], hours, busy, per_day, now)
    by_id = {f.id: f for f in planned}
    actions: list[AnyAction] = []
    for booking in bookings:
        f = by_id[booking.followup_id]
        try:
            actions.append(_book(rules, renderer, f, booking.start, booking.end))
        except M3MailError as e:  # a template error: this follow-up waits, the others go on
            problems.append(f"{f.id}: {e}")
    for shortage in shortages:
        f = by_id[shortage.followup_id]
        if f.attempts:  # a further attempt has no room: the client is emailed instead
            unreached = replace(f, state=State.UNREACHED)
            actions.append(_update(rules, f, "unreached", unreached, "no slot for another attempt in the window"))
            continue
        day = shortage.day.isoformat()
        missing[day] = missing.get(day, 0) + 1
        if not f.capacity_short:
            actions.append(_update(rules, f, "capacity", replace(f, capacity_short=True),
                                   f"no free slot in the window (due {day})"))  # fmt: skip
    return actions, missing


def calendar_horizon_of(planned: Sequence[FollowUp], rules: PassRules) -> datetime:
    """Two days past the last window to book in: the calls that end it, and an away period running on."""
    last = max(f.window_end for f in planned) + timedelta(days=2)
    return datetime.combine(last, datetime.min.time(), tzinfo=ZoneInfo(rules.adviser.timezone))


def _outlook_hours(rules: PassRules, mailbox: Availability, now: datetime) -> AdviserRules:
    """The working days and hours set in the adviser's mailbox, where their settings table sets none."""
    hours, adviser = rules.calendar, rules.adviser
    if mailbox.timezone is not None and not _same_clock(mailbox.timezone, adviser.timezone, now):
        return hours  # hours in another zone than the adviser's: the settings' stand
    if mailbox.working_days is not None and "working_days" not in adviser.model_fields_set:
        hours = replace(hours, working_days=mailbox.working_days)
    if mailbox.working_hours is not None and "working_hours" not in adviser.model_fields_set:
        hours = replace(hours, working_hours=(mailbox.working_hours,))
    return hours


def _same_clock(a: str, b: str, now: datetime) -> bool:
    """Two zones that show the same time all the coming year. Outlook names zones the Windows way, and CLDR maps
    each Windows name to one zone: "Mauritius Standard Time" is Indian/Mauritius, while an adviser in La Réunion
    is Indian/Reunion, on the same clock."""
    if a == b:
        return True
    za, zb = ZoneInfo(a), ZoneInfo(b)
    moments = [now + timedelta(days=d) for d in range(0, 366, 7)]
    return all(m.astimezone(za).utcoffset() == m.astimezone(zb).utcoffset() for m in moments)


def _request(f: FollowUp) -> CallRequest:
    last = f.attempts[-1] if f.attempts else None
    zone = ZoneInfo(client_timezone(f.client.postal_code))
    avoid = None if last is None else ("morning" if last.astimezone(zone).hour < 13 else "afternoon")
    return CallRequest(
        followup_id=f.id, priority=f.priority, due_date=f.due_date, window_start=f.window_start,
        window_end=f.window_end, client_timezone=zone.key, client_subdivision=client_subdivision(f.client.postal_code),
        avoid_half=avoid, earlier_attempts=f.attempts,
    )  # fmt: skip


def _book(rules: PassRules, renderer: Renderer, f: FollowUp, start: datetime, end: datetime) -> BookCall:
    brief = renderer.brief(f, rules.adviser)
    spec = CallSpec(
        key=call_key(f.id, len(f.attempts) + 1), start=start, end=end, subject=renderer.call_subject(f),
        body_text=brief.text, body_html=brief.html, reminder_minutes=rules.reminder_minutes,
        categories=(PENDING_CATEGORY,),
    )  # fmt: skip
    return BookCall(key=spec.key, mailbox=rules.adviser.email, follow_up=f, event="booked", call=spec)


# --- reach out: the email, or the letter -----------------------------------------------------------------


def _reach_out(unreached: list[FollowUp], rules: PassRules, renderer: Renderer, now: datetime,
               problems: list[str]) -> list[AnyAction]:  # fmt: skip
    """The email to a client with an address (within the sending hours), the letter to one without, or whose
    email bounced."""
    actions: list[AnyAction] = []
    sending = may_send_email(now, rules.send_hours, rules.agency_timezone, rules.subdivisions)
    for f in unreached:
        try:
            if f.client.email and f.bounced_at is None:
                if sending:
                    actions.append(_email(rules, renderer, f, now))
            else:
                actions.append(_letter(rules, renderer, f, now))
        except M3MailError as e:
            problems.append(f"{f.id}: {e}")
    return actions


def _email(rules: PassRules, renderer: Renderer, f: FollowUp, now: datetime) -> SendEmail:
    adviser = rules.adviser
    text = renderer.client_email(f, adviser)
    mail = MailSpec(key=f"{f.id}#email", sender=adviser.email, sender_name=adviser.name, to=(f.client.email,),
                    subject=text.subject, text=text.text, html=text.html, when=now)  # fmt: skip
    return SendEmail(key=mail.key, mailbox=adviser.email, follow_up=f, event="emailed", mail=mail)


def _letter(rules: PassRules, renderer: Renderer, f: FollowUp, now: datetime) -> FileMail:
    adviser = rules.adviser
    letter = renderer.letter(f, adviser, _today(rules, now))
    note = f"Courrier M+3 à imprimer et envoyer à {f.client.display_name} ({f.client.id})."
    mail = MailSpec(key=f"{f.id}#letter", sender=adviser.email, sender_name=adviser.name, to=(adviser.email,),
                    subject=f"Courrier M+3 à envoyer · {f.client.display_name} ({f.client.id})", text=note,
                    html=f"<p>{html.escape(note)}</p>", when=now,
                    attachments=((f"courrier-M3-{_safe(f.client.id)}.html", "text/html",
                                  letter.html.encode()),))  # fmt: skip
    return FileMail(key=mail.key, mailbox=rules.filing_box, follow_up=f, filing=Filing.LETTER, folder=folder(rules, f),
                    mail=mail)  # fmt: skip


# --- file: the email sent, the replies, the record -------------------------------------------------------


def _filings(follow_ups: list[FollowUp], inbox: Sequence[InboundMail], rules: PassRules, renderer: Renderer,
             now: datetime, problems: list[str]) -> list[AnyAction]:  # fmt: skip
    by_id = {m.message_id: m for m in inbox}
    actions: list[AnyAction] = []
    for f in follow_ups:
        try:
            actions += _files_for(f, by_id, rules, renderer, now)
        except M3MailError as e:
            problems.append(f"{f.id}: cannot prepare the filing: {e}")
    return actions


def _files_for(f: FollowUp, inbox: Mapping[str, InboundMail], rules: PassRules, renderer: Renderer,
               now: datetime) -> list[FileMail]:  # fmt: skip
    """The follow-up's filings in their order (each one planned on the follow-up the one before leaves)."""
    adviser, box, where = rules.adviser, rules.filing_box, folder(rules, f)
    actions: list[FileMail] = []

    def file(key: str, filing: Filing, mail: MailSpec, reply_id: str = "") -> None:
        nonlocal f
        action = FileMail(key=key, mailbox=box, follow_up=f, filing=filing, folder=where, mail=mail, reply_id=reply_id)
        actions.append(action)
        f = action.after("", now) or f

    if f.emailed_at and not f.email_filed:
        sent = renderer.client_email(f, adviser)
        file(f"{f.id}#file-email", Filing.COPY, MailSpec(
            key=f"{f.id}#file-email", sender=adviser.email, sender_name=adviser.name, to=(f.client.email,),
            subject=sent.subject, text=sent.text, html=sent.html, when=f.emailed_at))  # fmt: skip
    for mid in f.reply_ids + f.other_ids:  # the client's replies, and the others in the thread for the adviser
        if mid in f.replies_filed or mid not in inbox:
            continue
        reply, key = inbox[mid], f"{f.id}#reply-{_digest_of(mid)}"
        file(key, Filing.REPLY, MailSpec(
            key=key, sender=reply.sender, to=(adviser.email,), subject=reply.subject, text=reply.text,
            html=reply.html, when=reply.received_at, in_reply_to=f.email_message_id), reply_id=mid)  # fmt: skip
    if f.state.ended and not f.record_filed and not _unfiled_replies(f):
        record = renderer.record(f, adviser, now)
        file(f"{f.id}#record", Filing.RECORD, MailSpec(
            key=f"{f.id}#record", sender=adviser.email, sender_name=adviser.name, to=(adviser.email,),
            subject=record.subject, text=record.text, html=record.html, when=now))  # fmt: skip
    return actions


FOLDER_BYTES = 200  # a folder name's bound in UTF-8: under the 255 bytes a name may hold on ext4, XFS, btrfs and
# APFS, 255 UTF-16 units on NTFS (Wikipedia, "Comparison of file systems", as Drupal's ConfigBase::MAX_NAME_LENGTH
# cites it; Android's CTS checks "ext4-style filesystems which support 255-byte file and directory names", commit
# 0ceca29), with room for Maildir's leading dot and the ".tmp" of an atomic write


def folder(rules: PassRules, f: FollowUp) -> tuple[str, str]:
    return client_folder(rules.folder_template, rules.filing_root, f)


def client_folder(template: str, root: str, f: FollowUp) -> tuple[str, str]:
    """The client's folder under ``root``: the settings' template, always ending with the client id (so that two
    clients never share one, whatever their names), one line, within FOLDER_BYTES: a long name is cut, never the
    id."""
    name = template.format(nom=f.client.last_name.upper(), prenom=f.client.first_name, client_id=f.client.id,
                           civilite=f.client.civility)  # fmt: skip
    name = " ".join("".join(c if c.isprintable() else " " for c in name).split())
    suffix = f"({f.client.id})"
    if name.endswith(suffix):
        name = name[: -len(suffix)].rstrip()
    room = FOLDER_BYTES - len(suffix.encode()) - 1
    name = name.encode()[:room].decode(errors="ignore").rstrip(" .")
    return root, f"{name} {suffix}" if name else suffix


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in text)


def _digest_of(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


# --- the adviser's daily digest --------------------------------------------------------------------------


def digest_day(rules: PassRules, now: datetime) -> bool:
    """Whether the adviser gets a digest today: one of their working days, and no public holiday."""
    today = _today(rules, now)
    return today.weekday() in rules.adviser.working_days and is_business_day(today, rules.subdivisions)


def digest_key(rules: PassRules, now: datetime) -> str:
    return f"digest:{rules.adviser.email}:{_today(rules, now).isoformat()}"


def digest(basis: DigestBasis | None, follow_ups: Iterable[FollowUp], missing_slots: Mapping[str, int],
           rules: PassRules, renderer: Renderer, now: datetime) -> Plan:  # fmt: skip
    """One message a day in the adviser's Inbox, on their working days: calls without outcome, letters,
    complaints, bounces, capacity, automatic replies, replies from another address."""
    today, adviser = _today(rules, now), rules.adviser
    if basis is None or not digest_day(rules, now):
        return Plan(())
    since = basis.since
    # those of this pass as they stand now, and those with activity since the last digest (letters, bounces)
    everyone = list(({f.id: f for f in basis.recent} | {f.id: f for f in follow_ups}).values())
    items = DigestItems(
        overdue=tuple(f for f in everyone if fu.overdue(f, now)),
        letters=tuple(f for f in everyone if f.letter_at and f.letter_at >= since),
        complaints=tuple(f for f in everyone if fu.complaint_pending(f)),
        bounces=tuple(f for f in everyone if f.bounced_at and f.bounced_at >= since),
        capacity=tuple(sorted((date.fromisoformat(d), n) for d, n in missing_slots.items())),
        away=tuple(f for f in everyone if f.state is State.EMAILED and f.auto_seen_at and f.auto_seen_at >= since),
        others=tuple(f for f in everyone if f.other_seen_at and f.other_seen_at >= since),
    )
    if not items:
        return Plan(())
    try:
        text = renderer.digest(adviser, today, items)
    except M3MailError as e:  # a template error: the digest waits for the fix, the work is done
        return Plan((), problems=(f"the daily digest: {e}",))
    key = digest_key(rules, now)
    mail = MailSpec(key=key, sender=adviser.email, sender_name="m3mail", to=(adviser.email,), subject=text.subject,
                    text=text.text, html=text.html, when=now)  # fmt: skip
    return Plan(((Notify(key=key, mailbox=adviser.email, event="digest", mail=mail),),))
