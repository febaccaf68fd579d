"""The actions a run takes on calendars and mailboxes: small frozen values with an idempotency key.

Planning returns them; ``--dry-run`` prints them; the executor records each one's key before calling the
backend and marks it done after, together with the follow-up's new state (``after``). Keys are derived from
the follow-up id, so that the same work planned again after a crash has the same key, and the backend finds
what was already made.

Every field is given by name (``kw_only``) and every payload is required: an action cannot be built without
what it acts with. ``Action[R]`` says what its backend call returns (``R``): ``after`` takes that.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from enum import Enum
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Self, TypeVar

from m3mail.errors import BackendError
from m3mail.models import CalendarEvent, CallSpec, FollowUp, MailSpec, SentMail, State

if TYPE_CHECKING:  # the backend is only called through, never imported: planning builds actions without it
    from m3mail.backends.base import Backend, Progress

R = TypeVar("R")


def call_key(fid: str, attempt: int) -> str:
    return f"{fid}#call{attempt}"


@dataclass(frozen=True, kw_only=True)
class Action(Generic[R]):
    key: str
    mailbox: str
    follow_up: FollowUp | None  # the follow-up it acts for, as it stands before the action (None: the adviser's)
    event: str  # the history line of the follow-up once done

    kind: ClassVar[str] = "action"
    batched: ClassVar[bool] = False  # several of this kind for one mailbox go to the backend together

    def perform(self, backend: Backend, *, resume: bool = False, progress: Progress | None = None) -> R:
        """Do it on the backend (idempotent on ``key``; ``resume`` when an earlier try may have reached it;
        ``progress``, what earlier tries noted, for the backends that note); returns what the backend returned."""
        raise NotImplementedError

    @classmethod
    def perform_many(cls, backend: Backend, actions: Sequence[Action[Any]], resume: Sequence[bool],
                     progress: Sequence[Progress | None]) -> list[Any]:  # fmt: skip
        """``perform`` for actions of this kind on one mailbox: what each returned, or its BackendError."""
        results: list[Any] = []
        for action, again, notes in zip(actions, resume, progress, strict=True):
            try:
                results.append(action.perform(backend, resume=again, progress=notes))
            except BackendError as e:
                results.append(e)
        return results

    def after(self, result: R, now: datetime) -> FollowUp | None:
        """The follow-up once the action is done (None: the follow-up does not change)."""
        return None

    def on(self, latest: FollowUp) -> Self:
        """This action acting for ``latest``: its follow-up as the actions before it in the pass really left it
        (planning saw it as it expected them to leave it; an email's send time is only known once sent)."""
        return replace(self, follow_up=latest)

    def simulated(self, now: datetime) -> R:
        """What a dry run takes the backend to have answered, so that the rest of its pass (the email's copy
        filed, the record after a letter) is planned as a real run would, and counted alike."""
        raise NotImplementedError

    def describe(self) -> str:
        """One line for --dry-run and the logs: ids, never client data."""
        who = f" {self.follow_up.id}" if self.follow_up else ""
        return f"{self.kind:<10} {self.mailbox}{who}"


@dataclass(frozen=True, kw_only=True)
class StateOnly(Action[None]):
    """An action on the state alone: nothing to do on a backend (the executor applies it to the state)."""

    def perform(self, backend: Backend, *, resume: bool = False, progress: Progress | None = None) -> None:
        return None

    def simulated(self, now: datetime) -> None:
        return None


@dataclass(frozen=True, kw_only=True)
class Update(StateOnly):
    """A change of state alone (moved, cancelled, missed...): nothing to do on a backend."""

    new: FollowUp
    detail: str = ""
    kind: ClassVar[str] = "update"

    def after(self, result: None, now: datetime) -> FollowUp | None:
        return self.new

    def on(self, latest: FollowUp) -> Self:
        return self  # its new state was decided whole from what the pass read, not from another action's result

    def describe(self) -> str:
        return f"{super().describe()} {self.event}: {self.detail}"


@dataclass(frozen=True, kw_only=True)
class EnsureCategories(Action[None]):
    colours: Mapping[str, str]
    follow_up: FollowUp | None = None
    event: str = "categories"
    kind: ClassVar[str] = "categories"

    def perform(self, backend: Backend, *, resume: bool = False, progress: Progress | None = None) -> None:
        backend.ensure_categories(self.mailbox, self.colours)

    def simulated(self, now: datetime) -> None:
        return None


@dataclass(frozen=True, kw_only=True)
class BookCall(Action[CalendarEvent]):
    follow_up: FollowUp
    call: CallSpec
    kind: ClassVar[str] = "book"
    batched: ClassVar[bool] = True

    def perform(self, backend: Backend, *, resume: bool = False, progress: Progress | None = None) -> CalendarEvent:
        return backend.create_call(self.mailbox, self.call, resume=resume)

    @classmethod
    def perform_many(cls, backend: Backend, actions: Sequence[Action[Any]], resume: Sequence[bool],
                     progress: Sequence[Progress | None]) -> list[Any]:  # fmt: skip
        calls = [a.call for a in actions if isinstance(a, BookCall)]
        return list(backend.create_calls(actions[0].mailbox, list(zip(calls, resume, strict=True))))

    def after(self, result: CalendarEvent, now: datetime) -> FollowUp | None:
        start = result.start
        return replace(self.follow_up, state=State.BOOKED, call_at=start, call_key=self.call.key,
                       call_id=result.id, attempts=self.follow_up.attempts + (start,),
                       capacity_short=False)  # fmt: skip

    def simulated(self, now: datetime) -> CalendarEvent:
        return CalendarEvent("", self.call.start, self.call.end, key=self.call.key)

    def describe(self) -> str:
        return f"{super().describe()} call at {self.call.start.isoformat(timespec='minutes')}"


@dataclass(frozen=True, kw_only=True)
class SendEmail(Action[SentMail]):
    follow_up: FollowUp
    mail: MailSpec
    kind: ClassVar[str] = "email"
    batched: ClassVar[bool] = True

    def perform(self, backend: Backend, *, resume: bool = False, progress: Progress | None = None) -> SentMail:
        return backend.send(self.mailbox, self.mail, resume=resume, progress=progress)

    @classmethod
    def perform_many(cls, backend: Backend, actions: Sequence[Action[Any]], resume: Sequence[bool],
                     progress: Sequence[Progress | None]) -> list[Any]:  # fmt: skip
        mails = [a.mail for a in actions if isinstance(a, SendEmail)]
        return list(backend.send_many(actions[0].mailbox, list(zip(mails, resume, progress, strict=True))))

    def after(self, result: SentMail, now: datetime) -> FollowUp | None:
        return replace(self.follow_up, state=State.EMAILED, emailed_at=result.sent_at or now,
                       email_message_id=result.message_id, email_conversation=result.conversation,
                       email_subject=self.mail.subject)  # fmt: skip

    def simulated(self, now: datetime) -> SentMail:
        return SentMail("", f"<dry-run.{self.key}@m3mail.invalid>", now)


class Filing(Enum):
    """What a filed message is, and so what its filing notes on the follow-up."""

    COPY = "email filed"  # the copy of the email sent to the client
    REPLY = "reply filed"  # a reply in the email's thread
    LETTER = "letter"  # the letter to print: the follow-up ends with it
    RECORD = "record filed"  # the follow-up's record, once it ended


@dataclass(frozen=True, kw_only=True)
class FileMail(Action[str]):
    """A message filed in a client folder: the email sent, a reply, a letter, the follow-up record."""

    follow_up: FollowUp
    folder: tuple[str, ...]
    mail: MailSpec
    filing: Filing
    reply_id: str = ""  # Filing.REPLY: the reply's Message-ID
    event: str = ""
    kind: ClassVar[str] = "file"
    batched: ClassVar[bool] = True

    def __post_init__(self) -> None:
        if not self.event:
            object.__setattr__(self, "event", self.filing.value)

    def perform(self, backend: Backend, *, resume: bool = False, progress: Progress | None = None) -> str:
        return backend.file(self.mailbox, self.folder, self.mail, resume=resume)

    @classmethod
    def perform_many(cls, backend: Backend, actions: Sequence[Action[Any]], resume: Sequence[bool],
                     progress: Sequence[Progress | None]) -> list[Any]:  # fmt: skip
        items = [(a.folder, a.mail, again) for a, again in zip(actions, resume, strict=True) if isinstance(a, FileMail)]
        return list(backend.file_many(actions[0].mailbox, items))

    def after(self, result: str, now: datetime) -> FollowUp | None:
        f = self.follow_up
        match self.filing:
            case Filing.COPY:
                return replace(f, email_filed=True)
            case Filing.REPLY:
                return replace(f, replies_filed=f.replies_filed + (self.reply_id,))
            case Filing.LETTER:
                return replace(f, state=State.DONE, letter_at=now, ended_at=now)
            case Filing.RECORD:
                return replace(f, record_filed=True)

    def on(self, latest: FollowUp) -> Self:
        """The email's copy bears the time it was really sent, which its planning could only expect."""
        if self.filing is Filing.COPY and latest.emailed_at is not None:
            return replace(self, follow_up=latest, mail=replace(self.mail, when=latest.emailed_at))
        return replace(self, follow_up=latest)

    def simulated(self, now: datetime) -> str:
        return ""

    def describe(self) -> str:
        return f"{super().describe()} {self.event} -> {'/'.join(self.folder[:1])}/..."


@dataclass(frozen=True, kw_only=True)
class Notify(Action[str]):
    """A message in the adviser's own Inbox: the daily digest."""

    mail: MailSpec
    follow_up: FollowUp | None = None
    kind: ClassVar[str] = "notify"

    def perform(self, backend: Backend, *, resume: bool = False, progress: Progress | None = None) -> str:
        return backend.notify(self.mailbox, self.mail, resume=resume)

    def simulated(self, now: datetime) -> str:
        return ""

    def describe(self) -> str:
        return f"{super().describe()} {self.event}"


@dataclass(frozen=True, kw_only=True)
class Start(StateOnly):
    """A follow-up that fell due, added to the state (nothing to do on a backend)."""

    follow_up: FollowUp
    event: str = "selected"
    kind: ClassVar[str] = "start"
    batched: ClassVar[bool] = True  # the day's new follow-ups are added together, a transaction per group

    def describe(self) -> str:
        return f"{super().describe()} (due {self.follow_up.due_date.isoformat()})"


@dataclass(frozen=True, kw_only=True)
class Remember(StateOnly):
    """A value the next runs read (what the import rejected, a capacity alert, a message reported once), kept in
    the state under ``key`` (nothing to do on a backend)."""

    value: str
    mailbox: str = ""
    follow_up: FollowUp | None = None
    event: str = "remembered"
    kind: ClassVar[str] = "remember"


@dataclass(frozen=True, kw_only=True)
class Purge(StateOnly):
    """The state's own tidying at the end of a run: the closed follow-ups minimised (their client data erased),
    and what is past its retention deleted (StateStore.minimise_closed, StateStore.purge)."""

    follow_ups_before: date
    opt_outs_before: date
    key: str = "retention"
    mailbox: str = ""
    follow_up: FollowUp | None = None
    event: str = "purged"
    kind: ClassVar[str] = "purge"


AnyAction = Action[Any]  # an action of any kind, as planning returns them and the executor runs them
