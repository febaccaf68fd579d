"""Frozen values passed between the stages: the export's clients and contracts, row issues, follow-ups.

Nothing here does I/O; every stage can build and compare these values in tests.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from enum import StrEnum
from functools import lru_cache


@lru_cache(maxsize=8192)  # statuses, types, flags and civilities repeat on every row
def fold(text: str) -> str:
    """Lower case without accents or surrounding spaces: how we compare words users type ("Santé" = "SANTE")."""
    decomposed = unicodedata.normalize("NFKD", text.strip().casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


class ContractType(StrEnum):
    """The four families of contracts of the agency; the value is the French label shown to people."""

    IARD = "IARD"
    SANTE = "Santé"
    PREVOYANCE = "Prévoyance"
    EPARGNE = "Épargne"

    @property
    def key(self) -> str:
        """The settings key of this type (``[priority] sante = 2``)."""
        return fold(self.value)

    @property
    def is_health(self) -> bool:
        """Health data (Santé, Prévoyance) is minimised wherever it leaves the state: counts, never details."""
        return self in (ContractType.SANTE, ContractType.PREVOYANCE)

    @classmethod
    def parse(cls, text: str) -> ContractType | None:
        return _TYPES_BY_KEY.get(fold(text))


_TYPES_BY_KEY = {t.key: t for t in ContractType}


@dataclass(frozen=True, slots=True)
class Client:
    """A client as the export describes them. Optional fields are empty strings when absent or invalid."""

    id: str
    civility: str = ""
    last_name: str = ""
    first_name: str = ""
    email: str = ""
    phone: str = ""  # E.164 where it could be normalised
    street: str = ""
    postal_code: str = ""
    city: str = ""
    vip: bool = False
    opted_out: bool = False

    @property
    def display_name(self) -> str:
        """``DUPONT Jean``: the French administrative order, family name in capitals."""
        return " ".join(p for p in (self.last_name.upper(), self.first_name) if p)


@dataclass(frozen=True, slots=True)
class Contract:
    """One contract line of the export. ``line`` is where it was read (header = line 1)."""

    id: str
    client_id: str
    adviser: str  # the adviser's email, lower case
    type: ContractType
    effect_date: date
    product: str = ""
    status: str = ""
    cancelled: bool = False
    premium: Decimal | None = None
    guarantees: tuple[str, ...] = ()
    claims: tuple[str, ...] = ()
    questions: tuple[str, ...] = ()
    line: int = 0


def contract_types(contracts: tuple[Contract, ...]) -> tuple[ContractType, ...]:
    """The contracts' types, once each, in the contracts' order."""
    return tuple(dict.fromkeys(c.type for c in contracts))


@dataclass(frozen=True, slots=True)
class RowIssue:
    """A rejected row, or a kept row with a dropped value: line number, field name, reason."""

    row: int
    field: str
    reason: str

    def as_dict(self) -> dict[str, object]:
        return {"row": self.row, "field": self.field, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class Record:
    """A valid row: the contract and the client it belongs to."""

    client: Client
    contract: Contract


@dataclass(frozen=True, slots=True)
class PastFollowUp:
    """What the state knows of a follow-up already started, as selection needs it.

    ``last_activity`` is the latest day something happened (created, called, emailed): the cool-down runs
    from it. ``open`` follow-ups are still under way.
    """

    client_id: str
    window_start: date
    window_end: date
    last_activity: date
    open: bool = False


@dataclass(frozen=True, slots=True)
class DueFollowUp:
    """A client to follow up now (or one whose window closed without a follow-up, when ``missed``).

    The window is the days on which contacting the client is in time for every covered contract; the due
    date is the earliest M+3 date of those contracts, brought into the window.
    """

    client: Client
    adviser: str
    contracts: tuple[Contract, ...]
    due_date: date
    window_start: date
    window_end: date
    priority: int
    days_left: int
    missed: bool = False

    @property
    def types(self) -> tuple[ContractType, ...]:
        return contract_types(self.contracts)


# --- The follow-up and what backends exchange with the domain -----------------------------------------------


class Outcome(StrEnum):
    """What the adviser records on the call event, as an Outlook category ``M+3 <value>``."""

    SATISFAIT = "Satisfait"  # the client is satisfied, nothing to do
    BESOIN = "Besoin"  # a further need: a proposal to make
    QUESTION = "Question"  # a technical question, answered
    CHANGEMENT = "Changement"  # a change of situation: the contract to amend
    RECLAMATION = "Réclamation"  # a complaint (ACPR 2022-R-01): acknowledge in 10 business days, answer in 2 months
    INJOIGNABLE = "Injoignable"  # no answer

    @property
    def category(self) -> str:
        return f"{CATEGORY_PREFIX} {self.value}"

    @classmethod
    def parse(cls, text: str) -> Outcome | None:
        """``M+3 Réclamation``, ``m+3 reclamation`` or ``reclamation`` -> RECLAMATION."""
        folded = fold(text)
        folded = folded.removeprefix(fold(CATEGORY_PREFIX)).strip()
        return _OUTCOMES.get(folded)


CATEGORY_PREFIX = "M+3"
PENDING_CATEGORY = CATEGORY_PREFIX  # the category of a call still to make
_OUTCOMES = {fold(o.value): o for o in Outcome}

# Outlook's preset colours for the outcome categories: distinct, and readable in the calendar grid.
CATEGORY_COLOURS: Mapping[str, str] = {
    "M+3": "preset7",  # blue: a call to make
    "M+3 Satisfait": "preset4",  # green
    "M+3 Besoin": "preset3",  # yellow
    "M+3 Question": "preset8",  # purple
    "M+3 Changement": "preset1",  # orange
    "M+3 Réclamation": "preset0",  # red
    "M+3 Injoignable": "preset12",  # grey
}


class State(StrEnum):
    """Where a follow-up stands. The last four end it; every ended follow-up gets its record filed."""

    PLANNED = "planned"  # selected; no call in the calendar yet (booking, or waiting for capacity)
    BOOKED = "booked"  # a call is in the adviser's calendar
    UNREACHED = "unreached"  # every call attempt failed: the email (or letter) waits for business hours
    EMAILED = "emailed"  # the client was emailed; waiting for a reply
    DONE = "done"  # ended with an outcome (a call, a reply, a letter, or an email left unanswered)
    MISSED = "missed"  # the window closed before anyone reached the client
    CANCELLED = "cancelled"  # the adviser deleted the call: never re-booked behind their back
    OPTED_OUT = "opted_out"  # the client asked to hear no more (STOP)

    @property
    def ended(self) -> bool:
        return self in (State.DONE, State.MISSED, State.CANCELLED, State.OPTED_OUT)


@dataclass(frozen=True, slots=True)
class Availability:
    """What an adviser's mailbox says of their time (Outlook's automatic replies and working hours).

    ``away``: periods when automatic replies are on (scheduled; or from ``since`` with no end when turned on by
    hand). ``working_days`` (0 = Monday) and ``working_hours`` (start, end) are in ``timezone`` (IANA); None
    when the mailbox says nothing, or says it in a way that cannot be read (``problem`` says what)."""

    away: tuple[tuple[datetime, datetime | None], ...] = ()
    working_days: frozenset[int] | None = None
    working_hours: tuple[time, time] | None = None
    timezone: str | None = None
    problem: str = ""  # what the mailbox says that could not be read (a time zone no table maps), for the report


@dataclass(frozen=True, slots=True)
class CalendarEvent:
    """An event of an adviser's calendar, as a backend reads it.

    ``key`` is the follow-up call key for events m3mail made (None for the adviser's own events); ``free``
    events (shown as free) never count as busy.
    """

    id: str
    start: datetime
    end: datetime
    subject: str = ""
    key: str | None = None
    categories: tuple[str, ...] = ()
    notes: str = ""
    free: bool = False


@dataclass(frozen=True, slots=True)
class CallSpec:
    """A call event to create: idempotent on ``key`` (the backend finds an existing event by it)."""

    key: str
    start: datetime
    end: datetime
    subject: str
    body_text: str
    body_html: str
    reminder_minutes: int
    categories: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class MailSpec:
    """A message m3mail writes: sent to a client, filed in a folder, or put in an adviser's Inbox.

    ``key`` makes it idempotent: a backend finds the message it already made by it. ``attachments`` are
    (file name, MIME type, bytes).
    """

    key: str
    sender: str
    to: tuple[str, ...]
    subject: str
    text: str
    html: str
    sender_name: str = ""
    when: datetime | None = None
    in_reply_to: str = ""
    attachments: tuple[tuple[str, str, bytes], ...] = ()


@dataclass(frozen=True, slots=True)
class SentMail:
    """A message as a backend stored it: its backend id and its RFC 5322 Message-ID (thread of replies)."""

    id: str
    message_id: str
    sent_at: datetime | None = None
    conversation: str = ""  # the backend's thread id, where it has one: replies are found by it


class MailKind(StrEnum):
    """What a message in an adviser's Inbox is (m3mail.classify decides)."""

    REPLY = "reply"  # a person's answer
    STOP = "stop"  # a person asking to hear no more
    BOUNCE = "bounce"  # a failure report: the email was not delivered
    DELAY = "delay"  # a delay notice: not (yet) a failure
    AUTO = "auto"  # an automatic reply (out of office), a read receipt, a positive delivery notice
    FEEDBACK = "feedback"  # a spam complaint about the email (RFC 5965)
    UNREADABLE = "unreadable"  # not readable as mail


@dataclass(frozen=True, slots=True)
class MailPart:
    """One part of a received message, as the classifier reads it: its media type (lower case) and its text
    (a text part decoded; a message/delivery-status or feedback-report part's fields; a returned message's
    or text/rfc822-headers' header block)."""

    content_type: str
    text: str = ""


@dataclass(frozen=True, slots=True)
class MailView:
    """A received message as every backend sees it, for the one classifier: its top-level header fields
    (decoded, in order), its sender (lower case; "" for the empty sender ``<>``), subject (one line), media
    type and report-type (lower case), readable text, and parts."""

    headers: tuple[tuple[str, str], ...]
    sender: str
    subject: str
    content_type: str = "text/plain"
    report_type: str = ""
    text: str = ""
    parts: tuple[MailPart, ...] = ()

    def header(self, name: str) -> str:
        """The first value of a header field ("" when absent)."""
        wanted = name.lower()
        return next((v for k, v in self.headers if k.lower() == wanted), "")

    def has(self, name: str) -> bool:
        wanted = name.lower()
        return any(k.lower() == wanted for k, _v in self.headers)


@dataclass(frozen=True, slots=True)
class InboundMail:
    """A message found in an adviser's Inbox, read and classified (m3mail.classify).

    ``in_reply_to`` holds every Message-ID it is about: In-Reply-To and References, the returned message's,
    one quoted in its text. ``recipients``: the addresses a failure, delay or complaint report names (lower
    case, IDNA domains). ``text`` is the whole readable text; ``own_text`` a person's own words, without the
    quoted original. ``back_on``: the day an out-of-office reply says its writer is back."""

    id: str
    message_id: str
    sender: str
    subject: str
    text: str
    html: str
    received_at: datetime
    in_reply_to: tuple[str, ...] = ()
    conversation: str = ""  # the backend's thread id, where it has one
    kind: MailKind = MailKind.REPLY
    recipients: tuple[str, ...] = ()
    own_text: str = ""
    back_on: date | None = None
    reason: str = ""  # why the classifier decided so (for logs and tests; no client data)

    @property
    def bounce(self) -> bool:
        return self.kind is MailKind.BOUNCE

    @property
    def auto(self) -> bool:
        """Not a person speaking, nor a failure: an automatic reply, a delay, a receipt."""
        return self.kind in (MailKind.AUTO, MailKind.DELAY)


@dataclass(frozen=True, slots=True)
class FollowUp:
    """One client's M+3 follow-up, from selection to its filed record: what the state database keeps.

    The client and contracts are a snapshot taken at selection, so that a later export cannot change what
    the follow-up was about. ``attempts`` are the start times of every call booked, first one first.
    """

    id: str
    client: Client
    adviser: str
    contracts: tuple[Contract, ...]
    due_date: date
    window_start: date
    window_end: date
    priority: int
    created_at: datetime
    state: State = State.PLANNED
    attempts: tuple[datetime, ...] = ()
    call_at: datetime | None = None  # the current call, where the adviser's calendar has it now
    call_key: str = ""  # the key of the current call event
    call_id: str = ""  # the backend's id of that event when it was made (read back by it)
    outcome: Outcome | None = None
    notes: str = ""
    outcome_at: datetime | None = None
    emailed_at: datetime | None = None
    email_message_id: str = ""
    email_conversation: str = ""  # the backend's thread of the email, where it has one
    email_subject: str = ""  # the email's subject: a reply that lost its thread headers is known by it
    letter_at: datetime | None = None
    replied_at: datetime | None = None
    reply_ids: tuple[str, ...] = ()  # Message-IDs of the client's replies, filed
    bounced_at: datetime | None = None
    auto_ids: tuple[str, ...] = ()  # Message-IDs of the automatic replies seen (out of office): not answers
    client_back_on: date | None = None  # the day the client's automatic reply says they are back
    auto_seen_at: datetime | None = None  # when the latest automatic reply was seen (the digest lists it once)
    complaint_ack_due: date | None = None
    complaint_answer_due: date | None = None
    complaint_acknowledged: date | None = None
    complaint_answered: date | None = None
    capacity_short: bool = False  # no slot was free in the window at the last try
    ended_at: datetime | None = None
    email_filed: bool = False  # the email sent is in the client folder
    replies_filed: tuple[str, ...] = ()  # Message-IDs of the replies already in the client folder
    other_ids: tuple[str, ...] = ()  # Message-IDs of replies in the thread from another address: for the adviser
    other_seen_at: datetime | None = None  # when the latest of those was seen (the digest lists it once)
    record_filed: bool = False
    minimised: bool = False  # closed: the client's data was erased from it (m3mail.followup.minimised)

    @property
    def types(self) -> tuple[ContractType, ...]:
        return contract_types(self.contracts)

    @property
    def last_activity(self) -> date:
        """The latest day something happened: the cool-down runs from it."""
        moments = [self.created_at, *self.attempts, self.emailed_at, self.letter_at, self.replied_at, self.ended_at]
        return max(m for m in moments if m is not None).date()
