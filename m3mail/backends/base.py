"""The backend contract: what the M+3 process needs from calendars and mailboxes, and nothing more.

A backend only translates between these values (m3mail.models) and its storage (``.ics`` and Maildir files,
Microsoft Graph). Bookkeeping, retries policy and state live outside it, once.

Every write takes a ``key`` and is idempotent on it: called again with the same key and ``resume=True`` (after a
crash, a failed try, a killed run), it finds what it made the first time and returns it, and never makes a second
event, message or folder. The executor records the key before calling, so that a run killed at any point is
finished by the next, and passes ``resume=True`` whenever an earlier try may have reached the backend; a first
try (``resume=False``) may skip the look-up where looking costs a request (Microsoft Graph).

Some writes cannot be looked for by their key at every moment: Exchange copies a sent email to Sent Items only
once it has really gone, and until then the message is nowhere to be seen. For those, the executor hands the
backend a ``Progress``: what the earlier tries of that action noted (the draft's id), and ``note()`` to record,
durably, what the backend made before its next write. A resume then knows the email was handed over.

Errors: every method raises ``BackendError`` (``retryable`` for throttling, 5xx and resets, which a later
attempt may cure) or its subclass ``MailboxUnavailable`` (the adviser's calendar or mailbox does not exist, or
cannot be written); ``send`` may raise ``Pending`` (not a failure: the email was handed over and its copy is
not visible yet; a later call with the same progress finds it). Nothing else escapes a backend.

Times are aware datetimes; backends return them in any zone, the domain converts.

Read-only (a dry run): ``ReadOnly(backend)`` is the one meaning of it, for every backend. Its reads go to the
backend; every write (``create_call``, ``ensure_categories``, ``send``, ``file``, ``notify`` and their batch forms)
raises ``BackendError`` before reaching it, so that nothing a dry run does can change a calendar or a mailbox.
A backend built for it must also write nothing when built (the local backend's ``create=False``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime
from typing import TypeVar

from m3mail.errors import BackendError
from m3mail.models import CATEGORY_COLOURS, Availability, CalendarEvent, CallSpec, InboundMail, MailSpec, SentMail

__all__ = ["CATEGORY_COLOURS", "Backend", "Folder", "Progress", "ReadOnly", "Sending"]
T = TypeVar("T")
R = TypeVar("R")
Folder = tuple[str, ...]


class Progress:
    """One action's notes across its tries: ``noted`` is what an earlier try recorded ("" when none did);
    ``note(text)`` records it durably (the executor writes it to the action log) before returning."""

    def __init__(self, noted: str = "", sink: Callable[[str], None] | None = None):
        self.noted, self._sink = noted, sink

    def note(self, text: str) -> None:
        if self._sink is not None:
            self._sink(text)
        self.noted = text


Sending = tuple[MailSpec, bool, Progress | None]  # an email to send, resumed or not, with its action's notes


class Backend(ABC):
    """Calendars and mailboxes of the advisers (and of the shared filing mailbox, if any)."""

    name: str = "backend"

    # --- calendars ---------------------------------------------------------------------------------------

    @abstractmethod
    def events(self, adviser: str, start: datetime, end: datetime) -> list[CalendarEvent]:
        """Every event of the adviser's calendar that overlaps [start, end), occurrences of recurring events
        included, m3mail's own with their ``key``. The domain counts every event not shown as free as busy."""

    @abstractmethod
    def calls(self, adviser: str, keys: Collection[str],
              ids: Mapping[str, str] | None = None) -> dict[str, CalendarEvent]:  # fmt: skip
        """m3mail's call events with these keys, wherever the adviser moved them, with their categories and
        notes. ``ids``: the backend id each key's event had when it was made, where known (a backend may read
        the events by id rather than search them). A key absent from the result is an event the adviser
        deleted."""

    @abstractmethod
    def create_call(self, adviser: str, call: CallSpec, *, resume: bool = False) -> CalendarEvent:
        """Create the call event, or return the one already made with ``call.key``."""

    @abstractmethod
    def ensure_categories(self, adviser: str, colours: Mapping[str, str]) -> None:
        """Make sure these categories exist in the adviser's category list, with these preset colours; never
        duplicate one that exists."""

    def availability(self, adviser: str) -> Availability:
        """What the adviser's mailbox says of their time: automatic replies, working hours (nothing by
        default: the settings alone decide)."""
        return Availability()

    # --- mail --------------------------------------------------------------------------------------------

    @abstractmethod
    def send(self, adviser: str, mail: MailSpec, *, resume: bool = False, progress: Progress | None = None) -> SentMail:
        """Send ``mail`` from the adviser's mailbox (a copy kept in Sent), or return the message already sent
        with ``mail.key``. A message prepared but not sent by a crash is sent, never twice. ``progress``: see
        the module docstring; raises ``Pending`` when the email was handed over and cannot be seen yet."""

    @abstractmethod
    def find_sent(self, adviser: str, key: str) -> SentMail | None:
        """The message sent with ``key``, if any."""

    @abstractmethod
    def inbox(self, adviser: str, since: datetime) -> list[InboundMail]:
        """Messages received in the adviser's Inbox since ``since``, each translated into a ``MailView`` and
        classified by m3mail.classify (the same decision for every backend); one that cannot be read as mail is
        returned as UNREADABLE, with its id, never raised."""

    @abstractmethod
    def file(self, mailbox: str, folder: tuple[str, ...], mail: MailSpec, *, resume: bool = False) -> str:
        """Put a copy of ``mail`` as a read message in ``folder`` (a path, e.g. ('Clients', 'DUPONT Jean
        (C1)')) of ``mailbox``, creating missing folders once; idempotent on ``mail.key``. Returns its id."""

    @abstractmethod
    def notify(self, adviser: str, mail: MailSpec, *, resume: bool = False) -> str:
        """Put ``mail`` in the adviser's own Inbox, unread (a digest, a note to act on); idempotent."""

    # --- several writes at once: one call per item by default; Microsoft Graph sends them in $batch requests -

    def create_calls(self, adviser: str, calls: Sequence[tuple[CallSpec, bool]]) -> list[CalendarEvent | BackendError]:
        """``create_call`` for each (call, resume); one failing does not stop the others."""
        return _each(lambda item: self.create_call(adviser, item[0], resume=item[1]), calls)

    def send_many(self, adviser: str, mails: Sequence[Sending]) -> list[SentMail | BackendError]:
        """``send`` for each (mail, resume, progress); one failing does not stop the others."""
        return _each(lambda item: self.send(adviser, item[0], resume=item[1], progress=item[2]), mails)

    def file_many(self, mailbox: str, items: Sequence[tuple[Folder, MailSpec, bool]]) -> list[str | BackendError]:
        """``file`` for each (folder, mail, resume); one failing does not stop the others."""
        return _each(lambda item: self.file(mailbox, item[0], item[1], resume=item[2]), items)

    # --- running ------------------------------------------------------------------------------------------

    thread_safe: bool = False  # advisers may be served on several threads at once

    def usage(self) -> dict[str, int]:
        """What the backend consumed so far, for the run summary (Microsoft Graph: requests made)."""
        return {}

    def close(self) -> None:  # noqa: B027 - optional hook, nothing to release by default
        """Release what the backend holds (connections, file handles)."""


class ReadOnly(Backend):
    """A backend that only reads (see the module docstring): the dry run's."""

    def __init__(self, inner: Backend):
        self.inner, self.name, self.thread_safe = inner, inner.name, inner.thread_safe

    def _refused(self, mailbox: str, operation: str) -> BackendError:
        return BackendError(mailbox, operation, "refused: this backend is read-only (a dry run writes nothing)")

    def events(self, adviser: str, start: datetime, end: datetime) -> list[CalendarEvent]:
        return self.inner.events(adviser, start, end)

    def calls(self, adviser: str, keys: Collection[str],
              ids: Mapping[str, str] | None = None) -> dict[str, CalendarEvent]:  # fmt: skip
        return self.inner.calls(adviser, keys, ids)

    def availability(self, adviser: str) -> Availability:
        return self.inner.availability(adviser)

    def find_sent(self, adviser: str, key: str) -> SentMail | None:
        return self.inner.find_sent(adviser, key)

    def inbox(self, adviser: str, since: datetime) -> list[InboundMail]:
        return self.inner.inbox(adviser, since)

    def create_call(self, adviser: str, call: CallSpec, *, resume: bool = False) -> CalendarEvent:
        raise self._refused(adviser, "create call")

    def ensure_categories(self, adviser: str, colours: Mapping[str, str]) -> None:
        raise self._refused(adviser, "create categories")

    def send(self, adviser: str, mail: MailSpec, *, resume: bool = False, progress: Progress | None = None) -> SentMail:
        raise self._refused(adviser, "send")

    def file(self, mailbox: str, folder: tuple[str, ...], mail: MailSpec, *, resume: bool = False) -> str:
        raise self._refused(mailbox, "file message")

    def notify(self, adviser: str, mail: MailSpec, *, resume: bool = False) -> str:
        raise self._refused(adviser, "notify")

    def usage(self) -> dict[str, int]:
        return self.inner.usage()

    def close(self) -> None:
        self.inner.close()


def _each(write: Callable[[T], R], items: Sequence[T]) -> list[R | BackendError]:
    results: list[R | BackendError] = []
    for item in items:
        try:
            results.append(write(item))
        except BackendError as e:
            results.append(e)
    return results
