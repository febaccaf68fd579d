"""One pass of the M+3 job for one adviser: observe, decide, plan, act.

    observe   the adviser's call events (one read), Inbox (when an email awaits a reply), busy times
    decide    followup.py turns observations into state changes (pure)
    plan      planning.plan_calls books the follow-ups that need a call (pure)
    act       the executor runs the actions, each recorded before and after

Each phase reads the follow-ups as the previous one left them, so that a follow-up can go from a reply to its
filed record in one pass. Nothing here knows which backend it talks to.
"""

from __future__ import annotations

import hashlib
import html
import json
import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from m3mail import followup as fu
from m3mail.actions import AnyAction, BookCall, EnsureCategories, FileMail, Notify, SendEmail, Update, call_key
from m3mail.backends.base import CATEGORY_COLOURS, Backend
from m3mail.errors import BackendError, M3MailError
from m3mail.executor import Executor, Tally
from m3mail.models import PENDING_CATEGORY, Availability, CallSpec, FollowUp, InboundMail, MailKind, MailSpec, State
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
from m3mail.rules import adviser_rules, process_rules, subdivisions
from m3mail.settings import AdviserSettings, Settings
from m3mail.state import StateStore

log = logging.getLogger("m3mail")


@dataclass
class AdviserReport:
    """What one pass did for one adviser: the run summary's line."""

    booked: int = 0
    outcomes: int = 0
    emailed: int = 0
    letters: int = 0
    filed: int = 0
    missing_slots: dict[str, int] = field(default_factory=dict)  # day -> slots missing (capacity alert)
    errors: list[str] = field(default_factory=list)


@dataclass
class Context:
    settings: Settings
    backend: Backend
    store: StateStore
    renderer: Renderer
    executor: Executor
    now: datetime

    @property
    def today(self) -> date:
        return self.now.astimezone(ZoneInfo(self.settings.timezone)).date()


def adviser_pass(ctx: Context, adviser: AdviserSettings, follow_ups: Sequence[FollowUp]) -> AdviserReport:
    """Everything this pass does for one adviser; a failing mailbox raises and leaves the others alone."""
    report = AdviserReport()
    current = {f.id: f for f in follow_ups}
    ctx.executor.tally = Tally()
    run = ctx.executor.execute
    run([EnsureCategories(key=f"categories:{adviser.email}", mailbox=adviser.email, colours=CATEGORY_COLOURS)])
    changes, replies = _observe(ctx, adviser, list(current.values()))
    _report_unreadable(ctx, adviser, replies, report)
    current |= run(changes)
    current |= run(_bookings(ctx, adviser, [f for f in current.values() if f.state is State.PLANNED], report))
    current |= run(_reach_out(ctx, adviser, [f for f in current.values() if f.state is State.UNREACHED], report))
    current |= run(_filings(ctx, adviser, list(current.values()), replies))
    run(_digest(ctx, adviser, list(current.values()), report))
    tally = ctx.executor.tally
    report.booked, report.emailed, report.filed = tally.of("book"), tally.of("email"), tally.of("file")
    report.letters = tally.of("file", "letter")
    report.outcomes = tally.of("update", "outcome", "unanswered", "unreached")
    report.errors += tally.errors
    return report


# --- observe and decide ----------------------------------------------------------------------------------


def _observe(
    ctx: Context, adviser: AdviserSettings, follow_ups: list[FollowUp]
) -> tuple[list[AnyAction], list[InboundMail]]:
    """The state changes the calendar and the Inbox call for, and the Inbox messages read."""
    rules = process_rules(ctx.settings, adviser)
    booked = {f.call_key: f.call_id for f in follow_ups if f.state is State.BOOKED}
    calls = ctx.backend.calls(adviser.email, list(booked), booked) if booked else {}
    emailed = [f.emailed_at for f in follow_ups if f.emailed_at and (f.state is State.EMAILED or _unfiled_replies(f))]
    inbox = ctx.backend.inbox(adviser.email, min(emailed) - timedelta(days=1)) if emailed else []
    actions: list[AnyAction] = []
    for f in follow_ups:
        steps = [fu.honour_opt_out(f, ctx.store.refuses(f.client), ctx.now)]
        if steps[-1] is None:
            steps.append(fu.read_call(f, calls.get(f.call_key), ctx.now, rules))
        latest = steps[-1].follow_up if steps[-1] else f
        steps.append(fu.read_mail(latest, inbox, ctx.now, rules)[0])
        latest = steps[-1].follow_up if steps[-1] else latest
        steps.append(fu.close_window(latest, ctx.now, ctx.today))
        for change in filter(None, steps):
            actions.append(_update(adviser, f, change.event, change.follow_up, change.detail))
    return actions, inbox


def _update(adviser: AdviserSettings, f: FollowUp, event: str, new: FollowUp, detail: str) -> Update:
    """A change of the follow-up's state alone, recorded with its history line."""
    return Update(key=f"{f.id}#update", mailbox=adviser.email, follow_up=f, event=event, new=new, detail=detail)


def _report_unreadable(ctx: Context, adviser: AdviserSettings, inbox: list[InboundMail], report: AdviserReport) -> None:
    """A message in the Inbox that cannot be read as mail stays where it is, and is reported once (its id or
    file name, never its content): the follow-ups go on."""
    for m in inbox:
        if m.kind is not MailKind.UNREADABLE:
            continue
        mark = f"unreadable:{adviser.email}:{m.id}"
        if ctx.store.get(mark):
            continue
        problem = (f"a message in the Inbox cannot be read as mail, left where it is: {m.id} (open it in the mail "
                   "app; if it is not mail, delete it)")
        report.errors.append(problem)
        log.error("%s: %s", adviser.email, problem)
        if not ctx.executor.dry_run:
            ctx.store.put(mark, ctx.now.isoformat(timespec="seconds"))


def _unfiled_replies(f: FollowUp) -> bool:
    return any(mid not in f.replies_filed for mid in f.reply_ids + f.other_ids)


# --- book ------------------------------------------------------------------------------------------------


def _bookings(
    ctx: Context, adviser: AdviserSettings, planned: list[FollowUp], report: AdviserReport
) -> list[AnyAction]:
    """Calls for the follow-ups that need one; a window without a free slot is a capacity alert."""
    if not planned:
        return []
    rules = adviser_rules(ctx.settings, adviser)
    horizon = datetime.combine(max(f.window_end for f in planned) + timedelta(days=2), datetime.min.time(),
                               tzinfo=ZoneInfo(adviser.timezone))  # fmt: skip
    events = ctx.backend.events(adviser.email, ctx.now - timedelta(days=1), horizon)
    busy = [(e.start, e.end) for e in events if not e.free]
    try:
        mailbox = ctx.backend.availability(adviser.email)
    except BackendError as e:  # booked by the settings' hours alone; reported, so that it gets fixed
        report.errors.append(f"automatic replies and working hours unread: {e}")
        log.error("%s: automatic replies and working hours unread: %s", adviser.email, e)
        mailbox = Availability()
    if mailbox.problem:  # booked by the settings' hours; reported, so that it gets fixed
        problem = (f"Outlook's working hours unread: {mailbox.problem}; the settings' hours apply (choose a listed "
                   "time zone in Outlook, or set working_days and working_hours for this adviser)")
        report.errors.append(problem)
        log.error("%s: %s", adviser.email, problem)
    busy += [(start, end or horizon) for start, end in mailbox.away]  # automatic replies on: away
    rules = _outlook_hours(rules, adviser, mailbox, ctx.now)
    zone = ZoneInfo(adviser.timezone)
    per_day = Counter(e.start.astimezone(zone).date() for e in events if e.key)
    bookings, shortages = plan_calls([_request(f) for f in planned], rules, busy, per_day, ctx.now)
    by_id = {f.id: f for f in planned}
    actions: list[AnyAction] = []
    for booking in bookings:
        f = by_id[booking.followup_id]
        try:
            actions.append(_book(ctx, adviser, f, booking.start, booking.end))
        except M3MailError as e:  # a template error: this follow-up waits, the others go on
            report.errors.append(f"{f.id}: {e}")
            log.error("%s: cannot prepare the call: %s", f.id, e, extra={"followup": f.id})
    for shortage in shortages:
        f = by_id[shortage.followup_id]
        if f.attempts:  # a further attempt has no room: the client is emailed instead
            unreached = replace(f, state=State.UNREACHED)
            actions.append(_update(adviser, f, "unreached", unreached, "no slot for another attempt in the window"))
            continue
        day = shortage.day.isoformat()
        report.missing_slots[day] = report.missing_slots.get(day, 0) + 1
        if not f.capacity_short:
            actions.append(_update(adviser, f, "capacity", replace(f, capacity_short=True),
                                   f"no free slot in the window (due {day})"))
    if not ctx.executor.dry_run:
        ctx.store.put(f"capacity:{adviser.email}", json.dumps(report.missing_slots, sort_keys=True))
    return actions


def _outlook_hours(rules: AdviserRules, adviser: AdviserSettings, mailbox: Availability,
                   now: datetime) -> AdviserRules:  # fmt: skip
    """The working days and hours set in the adviser's mailbox, where their settings table sets none."""
    if mailbox.timezone is not None and not _same_clock(mailbox.timezone, adviser.timezone, now):
        return rules  # hours in another zone than the adviser's: the settings' stand
    if mailbox.working_days is not None and "working_days" not in adviser.model_fields_set:
        rules = replace(rules, working_days=mailbox.working_days)
    if mailbox.working_hours is not None and "working_hours" not in adviser.model_fields_set:
        rules = replace(rules, working_hours=(mailbox.working_hours,))
    return rules


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


def _book(ctx: Context, adviser: AdviserSettings, f: FollowUp, start: datetime, end: datetime) -> BookCall:
    brief = ctx.renderer.brief(f, adviser)
    spec = CallSpec(
        key=call_key(f.id, len(f.attempts) + 1), start=start, end=end, subject=ctx.renderer.call_subject(f),
        body_text=brief.text, body_html=brief.html, reminder_minutes=ctx.settings.calls.reminder_minutes,
        categories=(PENDING_CATEGORY,),
    )  # fmt: skip
    return BookCall(key=spec.key, mailbox=adviser.email, follow_up=f, event="booked", call=spec)


# --- reach out: the email, or the letter -----------------------------------------------------------------


def _reach_out(
    ctx: Context, adviser: AdviserSettings, unreached: list[FollowUp], report: AdviserReport
) -> list[AnyAction]:
    actions: list[AnyAction] = []
    sending = may_send_email(ctx.now, ctx.settings.email.send_hours, ctx.settings.timezone, subdivisions(adviser))
    for f in unreached:
        try:
            if f.client.email and f.bounced_at is None:
                if sending:
                    actions.append(_email(ctx, adviser, f))
            else:
                actions.append(_letter(ctx, adviser, f))
        except M3MailError as e:
            report.errors.append(f"{f.id}: {e}")
            log.error("%s: cannot prepare the message: %s", f.id, e, extra={"followup": f.id})
    return actions


def _email(ctx: Context, adviser: AdviserSettings, f: FollowUp) -> SendEmail:
    text = ctx.renderer.client_email(f, adviser)
    mail = MailSpec(key=f"{f.id}#email", sender=adviser.email, sender_name=adviser.name, to=(f.client.email,),
                    subject=text.subject, text=text.text, html=text.html, when=ctx.now)  # fmt: skip
    return SendEmail(key=mail.key, mailbox=adviser.email, follow_up=f, event="emailed", mail=mail)


def _letter(ctx: Context, adviser: AdviserSettings, f: FollowUp) -> FileMail:
    letter = ctx.renderer.letter(f, adviser, ctx.today)
    note = f"Courrier M+3 à imprimer et envoyer à {f.client.display_name} ({f.client.id})."
    mail = MailSpec(key=f"{f.id}#letter", sender=adviser.email, sender_name=adviser.name, to=(adviser.email,),
                    subject=f"Courrier M+3 à envoyer · {f.client.display_name} ({f.client.id})", text=note,
                    html=f"<p>{html.escape(note)}</p>", when=ctx.now,
                    attachments=((f"courrier-M3-{_safe(f.client.id)}.html", "text/html",
                                  letter.html.encode()),))  # fmt: skip
    done = replace(f, state=State.DONE, letter_at=ctx.now, ended_at=ctx.now)
    return FileMail(key=mail.key, mailbox=_mailbox(ctx, adviser), follow_up=f, event="letter", folder=_folder(ctx, f),
                    mail=mail, new=done)


# --- file: the email sent, the replies, the record -------------------------------------------------------


def _filings(
    ctx: Context, adviser: AdviserSettings, follow_ups: list[FollowUp], inbox: list[InboundMail]
) -> list[AnyAction]:
    by_id = {m.message_id: m for m in inbox}
    actions: list[AnyAction] = []
    for f in follow_ups:
        try:
            actions += _files_for(ctx, adviser, f, by_id)
        except M3MailError as e:
            log.error("%s: cannot prepare the filing: %s", f.id, e, extra={"followup": f.id})
    return actions


def _files_for(ctx: Context, adviser: AdviserSettings, f: FollowUp, inbox: dict[str, InboundMail]) -> list[AnyAction]:
    actions: list[AnyAction] = []
    mailbox, folder = _mailbox(ctx, adviser), _folder(ctx, f)
    if f.emailed_at and not f.email_filed:
        sent = ctx.renderer.client_email(f, adviser)
        copy = MailSpec(key=f"{f.id}#file-email", sender=adviser.email, sender_name=adviser.name, to=(f.client.email,),
                        subject=sent.subject, text=sent.text, html=sent.html, when=f.emailed_at)  # fmt: skip
        f = replace(f, email_filed=True)
        actions.append(FileMail(key=copy.key, mailbox=mailbox, follow_up=f, event="email filed", folder=folder,
                                mail=copy, new=f))
    for mid in f.reply_ids + f.other_ids:  # the client's replies, and the others in the thread for the adviser
        if mid in f.replies_filed or mid not in inbox:
            continue
        reply = inbox[mid]
        mail = MailSpec(key=f"{f.id}#reply-{_digest_of(mid)}", sender=reply.sender, to=(adviser.email,),
                        subject=reply.subject, text=reply.text, html=reply.html, when=reply.received_at,
                        in_reply_to=f.email_message_id)  # fmt: skip
        f = replace(f, replies_filed=f.replies_filed + (mid,))
        actions.append(FileMail(key=mail.key, mailbox=mailbox, follow_up=f, event="reply filed", folder=folder,
                                mail=mail, new=f))
    if f.state.ended and not f.record_filed and not _unfiled_replies(f):
        record = ctx.renderer.record(f, adviser, ctx.now)
        mail = MailSpec(key=f"{f.id}#record", sender=adviser.email, sender_name=adviser.name, to=(adviser.email,),
                        subject=record.subject, text=record.text, html=record.html, when=ctx.now)  # fmt: skip
        done = replace(f, record_filed=True)
        actions.append(FileMail(key=mail.key, mailbox=mailbox, follow_up=f, event="record filed", folder=folder,
                                mail=mail, new=done))
    return actions


def _mailbox(ctx: Context, adviser: AdviserSettings) -> str:
    return ctx.settings.filing.mailbox or adviser.email


FOLDER_BYTES = 200  # a folder name's bound in UTF-8: under the 255 bytes a name may hold on ext4, XFS, btrfs and
# APFS, 255 UTF-16 units on NTFS (Wikipedia, "Comparison of file systems", as Drupal's ConfigBase::MAX_NAME_LENGTH
# cites it; Android's CTS checks "ext4-style filesystems which support 255-byte file and directory names", commit
# 0ceca29), with room for Maildir's leading dot and the ".tmp" of an atomic write


def _folder(ctx: Context, f: FollowUp) -> tuple[str, str]:
    """The client's folder: the settings' template, always ending with the client id (so that two clients never
    share one, whatever their names), one line, within FOLDER_BYTES: a long name is cut, never the id."""
    filing = ctx.settings.filing
    name = filing.folder.format(nom=f.client.last_name.upper(), prenom=f.client.first_name, client_id=f.client.id,
                                civilite=f.client.civility)  # fmt: skip
    name = " ".join("".join(c if c.isprintable() else " " for c in name).split())
    suffix = f"({f.client.id})"
    if name.endswith(suffix):
        name = name[: -len(suffix)].rstrip()
    room = FOLDER_BYTES - len(suffix.encode()) - 1
    name = name.encode()[:room].decode(errors="ignore").rstrip(" .")
    return filing.root, f"{name} {suffix}" if name else suffix


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in text)


def _digest_of(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


# --- the adviser's daily digest --------------------------------------------------------------------------


def _digest(
    ctx: Context, adviser: AdviserSettings, follow_ups: Iterable[FollowUp], report: AdviserReport
) -> list[AnyAction]:
    """One message a day in the adviser's Inbox: calls without outcome, letters, complaints, bounces, capacity."""
    key = f"digest:{adviser.email}:{ctx.today.isoformat()}"
    working_day = ctx.today.weekday() in adviser.working_days and is_business_day(ctx.today, subdivisions(adviser))
    if not working_day or ctx.store.action_status(key) == "done":
        return []
    since = ctx.store.last_done(f"digest:{adviser.email}:") or ctx.now - timedelta(days=1)
    # those of this pass as they stand now, and those that ended since the last digest (letters, bounces)
    known = {f.id: f for f in ctx.store.follow_ups_since(adviser.email, since.date())}
    follow_ups = list((known | {f.id: f for f in follow_ups}).values())
    items = DigestItems(
        overdue=tuple(f for f in follow_ups if fu.overdue(f, ctx.now)),
        letters=tuple(f for f in follow_ups if f.letter_at and f.letter_at >= since),
        complaints=tuple(f for f in follow_ups if fu.complaint_pending(f)),
        bounces=tuple(f for f in follow_ups if f.bounced_at and f.bounced_at >= since),
        capacity=tuple(sorted((date.fromisoformat(d), n) for d, n in report.missing_slots.items())),
        away=tuple(f for f in follow_ups if f.state is State.EMAILED and f.auto_seen_at and f.auto_seen_at >= since),
        others=tuple(f for f in follow_ups if f.other_seen_at and f.other_seen_at >= since),
    )
    if not items:
        return []
    digest = ctx.renderer.digest(adviser, ctx.today, items)
    mail = MailSpec(key=key, sender=adviser.email, sender_name="m3mail", to=(adviser.email,), subject=digest.subject,
                    text=digest.text, html=digest.html, when=ctx.now)  # fmt: skip
    return [Notify(key=key, mailbox=adviser.email, event="digest", mail=mail)]
