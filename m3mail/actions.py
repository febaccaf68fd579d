"""The actions a run takes on calendars and mailboxes: small frozen values with an idempotency key.

Planning returns them; ``--dry-run`` prints them; the executor records each one's key before calling the
backend and marks it done after, together with the follow-up's new state (``after``). Keys are derived from
the follow-up id, so that the same work planned again after a crash has the same key, and the backend finds
what was already made.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from m3mail.backends.base import Backend, Progress
from m3mail.errors import BackendError
from m3mail.models import CalendarEvent, CallSpec, FollowUp, MailSpec, SentMail, State


def call_key(fid: str, attempt: int) -> str:
    return f"{fid}#call{attempt}"


@dataclass(frozen=True)
class Action:
    key: str
    mailbox: str
    follow_up: FollowUp | None = None  # the follow-up it acts for, as it stands before the action
    event: str = ""  # the history line of the follow-up once done

    kind = "action"
    batched = False  # several of this kind for one mailbox go to the backend together (perform_many)

    def perform(self, backend: Backend, *, resume: bool = False, progress: Progress | None = None) -> object:
        """Do it on the backend (idempotent on ``key``; ``resume`` when an earlier try may have reached it;
        ``progress``, what earlier tries noted, for the backends that note); returns what the backend returned."""
        raise NotImplementedError

    @classmethod
    def perform_many(cls, backend: Backend, actions: Sequence[Action], resume: Sequence[bool],
                     progress: Sequence[Progress | None]) -> list[object]:  # fmt: skip
        """``perform`` for actions of this kind on one mailbox: what each returned, or its BackendError."""
        results: list[object] = []
        for action, again, notes in zip(actions, resume, progress, strict=True):
            try:
                results.append(action.perform(backend, resume=again, progress=notes))
            except BackendError as e:
                results.append(e)
        return results

    def after(self, result: object, now: datetime) -> FollowUp | None:
        """The follow-up once the action is done (None: the follow-up does not change)."""
        return None

    def simulated(self, now: datetime) -> object:
        """What a dry run takes the backend to have answered, so that the rest of its pass (the email's copy
        filed, the record after a letter) is planned as a real run would, and counted alike."""
        return None

    def describe(self) -> str:
        """One line for --dry-run and the logs: ids, never client data."""
        who = f" {self.follow_up.id}" if self.follow_up else ""
        return f"{self.kind:<10} {self.mailbox}{who}"


@dataclass(frozen=True)
class Update(Action):
    """A change of state alone (moved, cancelled, missed...): nothing to do on a backend."""

    new: FollowUp | None = None
    detail: str = ""
    kind = "update"

    def perform(self, backend: Backend, *, resume: bool = False, progress: Progress | None = None) -> object:
        return None

    def after(self, result: object, now: datetime) -> FollowUp | None:
        return self.new

    def describe(self) -> str:
        return f"{super().describe()} {self.event}: {self.detail}"


@dataclass(frozen=True)
class EnsureCategories(Action):
    colours: Mapping[str, str] = field(default_factory=dict)
    kind = "categories"

    def perform(self, backend: Backend, *, resume: bool = False, progress: Progress | None = None) -> object:
        backend.ensure_categories(self.mailbox, self.colours)
        return None


@dataclass(frozen=True)
class BookCall(Action):
    call: CallSpec | None = None
    kind = "book"
    batched = True

    def perform(self, backend: Backend, *, resume: bool = False, progress: Progress | None = None) -> object:
        assert self.call is not None
        return backend.create_call(self.mailbox, self.call, resume=resume)

    @classmethod
    def perform_many(cls, backend: Backend, actions: Sequence[Action], resume: Sequence[bool],
                     progress: Sequence[Progress | None]) -> list[object]:  # fmt: skip
        calls = [a.call for a in actions if isinstance(a, BookCall) and a.call is not None]
        return list(backend.create_calls(actions[0].mailbox, list(zip(calls, resume, strict=True))))

    def after(self, result: object, now: datetime) -> FollowUp | None:
        assert self.follow_up is not None and self.call is not None
        start = getattr(result, "start", self.call.start)
        return replace(self.follow_up, state=State.BOOKED, call_at=start, call_key=self.call.key,
                       call_id=str(getattr(result, "id", "") or ""), attempts=self.follow_up.attempts + (start,),
                       capacity_short=False)  # fmt: skip

    def simulated(self, now: datetime) -> object:
        assert self.call is not None
        return CalendarEvent("", self.call.start, self.call.end, key=self.call.key)

    def describe(self) -> str:
        assert self.call is not None
        return f"{super().describe()} call at {self.call.start.isoformat(timespec='minutes')}"


@dataclass(frozen=True)
class SendEmail(Action):
    mail: MailSpec | None = None
    kind = "email"
    batched = True

    def perform(self, backend: Backend, *, resume: bool = False, progress: Progress | None = None) -> object:
        assert self.mail is not None
        return backend.send(self.mailbox, self.mail, resume=resume, progress=progress)

    @classmethod
    def perform_many(cls, backend: Backend, actions: Sequence[Action], resume: Sequence[bool],
                     progress: Sequence[Progress | None]) -> list[object]:  # fmt: skip
        mails = [a.mail for a in actions if isinstance(a, SendEmail) and a.mail is not None]
        return list(backend.send_many(actions[0].mailbox, list(zip(mails, resume, progress, strict=True))))

    def after(self, result: object, now: datetime) -> FollowUp | None:
        assert self.follow_up is not None and isinstance(result, SentMail)
        subject = self.mail.subject if self.mail is not None else ""
        return replace(self.follow_up, state=State.EMAILED, emailed_at=result.sent_at or now,
                       email_message_id=result.message_id, email_conversation=result.conversation,
                       email_subject=subject)  # fmt: skip

    def simulated(self, now: datetime) -> object:
        return SentMail("", f"<dry-run.{self.key}@m3mail.invalid>", now)


@dataclass(frozen=True)
class FileMail(Action):
    """A message filed in a client folder: the email sent, a reply, a letter, the follow-up record."""

    folder: tuple[str, ...] = ()
    mail: MailSpec | None = None
    new: FollowUp | None = None  # the follow-up once filed, when filing changes it (letter, record)
    kind = "file"
    batched = True

    def perform(self, backend: Backend, *, resume: bool = False, progress: Progress | None = None) -> object:
        assert self.mail is not None
        return backend.file(self.mailbox, self.folder, self.mail, resume=resume)

    @classmethod
    def perform_many(cls, backend: Backend, actions: Sequence[Action], resume: Sequence[bool],
                     progress: Sequence[Progress | None]) -> list[object]:  # fmt: skip
        items = [(a.folder, a.mail, again) for a, again in zip(actions, resume, strict=True)
                 if isinstance(a, FileMail) and a.mail is not None]  # fmt: skip
        return list(backend.file_many(actions[0].mailbox, items))

    def after(self, result: object, now: datetime) -> FollowUp | None:
        return self.new

    def describe(self) -> str:
        return f"{super().describe()} {self.event} -> {'/'.join(self.folder[:1])}/..."


@dataclass(frozen=True)
class Notify(Action):
    """A message in the adviser's own Inbox: the daily digest."""

    mail: MailSpec | None = None
    kind = "notify"

    def perform(self, backend: Backend, *, resume: bool = False, progress: Progress | None = None) -> object:
        assert self.mail is not None
        return backend.notify(self.mailbox, self.mail, resume=resume)

    def describe(self) -> str:
        return f"{super().describe()} {self.event}"
