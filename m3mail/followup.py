"""The follow-up state machine: a follow-up and what was observed give its next state.

Pure: the call event as the calendar has it, the Inbox messages and the time are passed in; nothing is read
or written here. Each function returns a ``Change`` (the follow-up after it, and a line for its history) or
None when nothing changed.

    PLANNED --booked--> BOOKED --outcome--> DONE (Réclamation: its deadlines tracked)
    BOOKED --deleted by the adviser--> CANCELLED
    BOOKED or PLANNED --window closed, no outcome--> MISSED
    BOOKED --Injoignable, attempts left--> PLANNED (another attempt, at another time of day)
    BOOKED --Injoignable, last attempt--> UNREACHED --email--> EMAILED
    UNREACHED --no email address, or a bounce--> letter --> DONE
    EMAILED --reply--> DONE;  --reply saying STOP--> OPTED_OUT;  --no reply in time--> DONE
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from m3mail.addresses import normalised
from m3mail.models import CalendarEvent, Client, Contract, FollowUp, InboundMail, MailKind, Outcome, State
from m3mail.planning import complaint_deadlines

NOTES_MARKER = "--- Notes du conseiller (écrire sous cette ligne) ---"


@dataclass(frozen=True)
class Rules:
    """The process settings, as plain values."""

    attempts: int = 2
    reply_wait: timedelta = timedelta(days=14)
    ack_business_days: int = 10
    answer_months: int = 2
    subdivisions: tuple[str, ...] = ()  # the adviser's public holidays, for the complaint deadline


@dataclass(frozen=True)
class Change:
    follow_up: FollowUp
    event: str
    detail: str = ""


def outcome_of(categories: Sequence[str]) -> Outcome | None:
    """The outcome the adviser set: the first outcome category (accents and case ignored)."""
    for category in categories:
        if (outcome := Outcome.parse(category)) is not None:
            return outcome
    return None


def notes_of(description: str) -> str:
    """What the adviser wrote under the notes marker of the brief (all of it if the marker was removed)."""
    _, marker, after = description.rpartition(NOTES_MARKER)  # the last one: the brief's own is its last line,
    return (after if marker else "").strip()  # so a marker the export slipped into a claim cannot forge notes


def read_call(f: FollowUp, event: CalendarEvent | None, now: datetime, rules: Rules) -> Change | None:
    """A booked follow-up against its calendar event: deleted, moved, outcome set, or still to make."""
    if f.state is not State.BOOKED:
        return None
    if event is None:
        return Change(replace(f, state=State.CANCELLED, ended_at=now), "cancelled", "the adviser deleted the call")
    moved = f.call_at is not None and event.start != f.call_at
    current = replace(f, call_at=event.start, attempts=f.attempts[:-1] + (event.start,)) if moved else f
    notes = _join_notes(f.notes, notes_of(event.notes))
    outcome = outcome_of(event.categories)
    if outcome is None:
        return Change(current, "moved", f"call moved to {event.start.isoformat()}") if moved else None
    if outcome is Outcome.INJOIGNABLE:
        if len(f.attempts) < rules.attempts:
            detail = f"attempt {len(f.attempts)} unanswered: another attempt to book"
            return Change(replace(current, state=State.PLANNED, notes=notes), "unanswered", detail)
        return Change(replace(current, state=State.UNREACHED, notes=notes), "unreached", "no call answered")
    return Change(conclude(current, outcome, notes, now, rules), "outcome", outcome.value)


def conclude(f: FollowUp, outcome: Outcome, notes: str, now: datetime, rules: Rules) -> FollowUp:
    done = replace(f, state=State.DONE, outcome=outcome, notes=notes, outcome_at=now, ended_at=now)
    if outcome is not Outcome.RECLAMATION:
        return done
    # the complaint was heard on the call: at its time, or earlier if the adviser called before it
    day = min(f.call_at or now, now).date()
    ack, answer = complaint_deadlines(day, rules.ack_business_days, rules.answer_months, rules.subdivisions)
    return replace(done, complaint_ack_due=ack, complaint_answer_due=answer)


def _join_notes(kept: str, new: str) -> str:
    """Notes of every attempt are kept: the second call's notes come after the first's."""
    if not new or new in kept:
        return kept
    return f"{kept}\n{new}".strip()


def close_window(f: FollowUp, now: datetime, today: date) -> Change | None:
    """The window closed: a follow-up never called is missed; one whose attempts all failed is unreached."""
    if today <= f.window_end or f.state not in (State.PLANNED, State.BOOKED):
        return None
    if f.state is State.PLANNED and f.attempts:  # a further attempt could not be made in time
        return Change(replace(f, state=State.UNREACHED), "unreached", "the window closed before another attempt")
    reason = "no outcome recorded" if f.state is State.BOOKED else "no free slot in the window"
    return Change(replace(f, state=State.MISSED, ended_at=now), "missed", reason)


def is_about(f: FollowUp, m: InboundMail) -> bool:
    """Whether an Inbox message is about the follow-up's email: it names the email's Message-ID, it is in the
    email's thread (the backend's conversation), it is a report (failure, delay, complaint) naming the address
    emailed, or it comes from that address after the email: an automatic reply (out-of-office responders answer
    every message), or a reply with the email's subject that lost its thread headers (some webmails), as
    Exchange threads a conversation by its topic."""
    if f.email_message_id and f.email_message_id in m.in_reply_to:
        return True
    if f.email_conversation and m.conversation == f.email_conversation:
        return True
    if not f.client.email or (f.emailed_at is not None and m.received_at < f.emailed_at):
        return False
    client = normalised(f.client.email)
    if m.kind in (MailKind.BOUNCE, MailKind.DELAY, MailKind.FEEDBACK):
        return client in m.recipients
    if normalised(m.sender) != client:
        return False
    return m.kind is MailKind.AUTO or bool(f.email_subject and topic(m.subject) == topic(f.email_subject))


_PREFIXES = re.compile(r"^\s*((re|tr|fw|fwd|aw|wg|antw|r[ée]f|rép|rep)\s*(\[\d+\])?\s*:\s*)+", re.IGNORECASE)


def from_client(f: FollowUp, m: InboundMail) -> bool:
    """Whether a message comes from the address m3mail emailed. A Message-ID is no secret (it is in every copy
    of the email, and derived from the follow-up's key): a reply in the thread from anyone else never acts for
    the client, least of all a STOP."""
    return bool(f.client.email) and normalised(m.sender) == normalised(f.client.email)


def honour_opt_out(f: FollowUp, refused: bool, now: datetime) -> Change | None:
    """A follow-up under way whose client opted out through m3mail before (the opt-out ledger knows them, the
    state did not: a restored or new database) ends at once, nothing more sent."""
    if not refused or f.state.ended:
        return None
    return Change(replace(f, state=State.OPTED_OUT, ended_at=now), "opted out", "an opt-out recorded earlier")


def topic(subject: str) -> str:
    """A subject without its reply and forward prefixes (Re:, RE :, TR:, Fwd:, AW:...), folded: a thread's topic."""
    return " ".join(_PREFIXES.sub("", subject).casefold().split())


def read_mail(
    f: FollowUp, inbox: Sequence[InboundMail], now: datetime, rules: Rules
) -> tuple[Change | None, list[InboundMail]]:
    """An emailed follow-up against the adviser's Inbox (each message classified by m3mail.classify): a
    complaint about the email opts the client out; a person's reply ends it (STOP opts out); a failure report
    falls back on a letter; silence ends it after the wait. A delay notice changes nothing (a later failure
    would), nor does an automatic reply: it is never the client's answer. Returns the change and the replies to
    file."""
    if f.state is not State.EMAILED or not f.email_message_id:
        return None, []
    related = [m for m in inbox if is_about(f, m)]
    if any(m.kind is MailKind.FEEDBACK for m in related):
        ended = replace(f, state=State.OPTED_OUT, ended_at=now)
        return Change(ended, "opted out", "the client reported the email as spam (a feedback report)"), []
    answers = [m for m in related if m.kind in (MailKind.REPLY, MailKind.STOP)]
    others = [m for m in answers if not from_client(f, m) and m.message_id not in f.other_ids]
    if others:  # filed for the adviser to judge and listed in the digest: never the client's answer
        f = replace(f, other_ids=f.other_ids + tuple(m.message_id for m in others), other_seen_at=now)
    replies = [m for m in answers if from_client(f, m) and m.message_id not in f.reply_ids]
    if replies:
        ids = f.reply_ids + tuple(m.message_id for m in replies)
        answered = replace(f, replied_at=min(m.received_at for m in replies), reply_ids=ids, ended_at=now)
        if any(m.kind is MailKind.STOP for m in replies):
            return Change(replace(answered, state=State.OPTED_OUT), "opted out", "the client replied STOP"), replies
        return Change(replace(answered, state=State.DONE), "replied", f"{len(replies)} reply(ies)"), replies
    if others:
        detail = f"{len(others)} message(s) from another address than the client's: filed for the adviser to judge"
        return Change(f, "reply from another address", detail), others
    if any(m.kind is MailKind.BOUNCE for m in related) and f.bounced_at is None:
        return Change(replace(f, state=State.UNREACHED, bounced_at=now), "bounced", "the email bounced"), []
    if f.emailed_at is not None and now - f.emailed_at >= rules.reply_wait:
        wait = f"no reply in {rules.reply_wait.days} days"
        return Change(replace(f, state=State.DONE, ended_at=now), "no reply", wait), []
    autos = [m for m in related if m.kind is MailKind.AUTO and m.message_id not in f.auto_ids]
    if autos:  # noted for the adviser's digest; the sequence goes on
        back = max((m.back_on for m in autos if m.back_on), default=f.client_back_on)
        seen = replace(f, auto_ids=f.auto_ids + tuple(m.message_id for m in autos), client_back_on=back,
                       auto_seen_at=now)  # fmt: skip
        detail = f"an automatic reply, back on {back.isoformat()}" if back else "an automatic reply"
        return Change(seen, "automatic reply", detail), []
    return None, []


def overdue(f: FollowUp, now: datetime) -> bool:
    """A call whose time has passed and whose outcome the adviser has not recorded yet."""
    return f.state is State.BOOKED and f.call_at is not None and f.call_at < now


def complaint_pending(f: FollowUp) -> bool:
    return f.outcome is Outcome.RECLAMATION and (f.complaint_acknowledged is None or f.complaint_answered is None)


def closed(f: FollowUp) -> bool:
    """Nothing left to do for it with the client's data: ended, its replies and record filed. A complaint still
    awaiting its answer is closed too: its deadlines, kept, are what the digest and ``m3mail complaint`` need,
    and the adviser finds the client by the id that ends the name of their folder."""
    unfiled = any(mid not in f.replies_filed for mid in f.reply_ids + f.other_ids)
    return f.state.ended and f.record_filed and not unfiled


def minimised(f: FollowUp) -> FollowUp:
    """A closed follow-up as the state keeps it: ids, dates, states, outcome and complaint dates, which status,
    the report, de-duplication and the cool-down need, and none of the client's data (RGPD article 5(1)(c) and
    (e): no name, contact detail, address, product, guarantee, claim, question, note or Message-ID of theirs).
    What was said to the client is in the client folder, where the agency's own mail retention applies."""
    contracts = tuple(Contract(id=c.id, client_id=c.client_id, adviser=c.adviser, type=c.type,
                               effect_date=c.effect_date) for c in f.contracts)  # fmt: skip
    return replace(f, client=Client(f.client.id), contracts=contracts, notes="", email_subject="", reply_ids=(),
                   replies_filed=(), auto_ids=(), other_ids=(), minimised=True)  # fmt: skip
