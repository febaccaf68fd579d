"""An in-memory backend: the contract in plain dicts, for fast domain tests.

Public: ``MemoryBackend`` and ``StoredMail``. Besides the contract, ``MemoryBackend`` has the hands of the people
m3mail works with, so that a test can play them: the adviser (``set_categories``, ``move_call``, ``delete_call``,
``add_event``), the client (``deliver`` a reply or a bounce), the outside world (``fail_next``), and eyes to
check what m3mail did (``messages``, ``category_list``). Nothing leaves the process; nothing is kept after it.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from m3mail.backends.base import Backend, Progress
from m3mail.errors import BackendError, MailboxUnavailable
from m3mail.models import CalendarEvent, CallSpec, InboundMail, MailSpec, SentMail

INBOX, SENT = ("Inbox",), ("Sent",)


@dataclass(frozen=True, slots=True)
class StoredMail:
    """A message m3mail wrote: sent, filed or put in an Inbox."""

    id: str
    mail: MailSpec
    message_id: str
    at: datetime
    read: bool


class MemoryBackend(Backend):
    """Calendars and mailboxes of ``advisers`` (and of a shared filing mailbox, if listed), in memory."""

    name = "memory"

    def __init__(self, advisers: Collection[str], *, clock: Callable[[], datetime] | None = None):
        self._clock = clock or (lambda: datetime.now(UTC))
        self._events: dict[str, dict[str, CalendarEvent]] = {a.lower(): {} for a in advisers}
        self._category_lists: dict[str, dict[str, str]] = {a.lower(): {} for a in advisers}
        self._folders: dict[str, dict[tuple[str, ...], dict[str, StoredMail]]] = {
            a.lower(): {INBOX: {}, SENT: {}} for a in advisers
        }
        self._received: dict[str, list[InboundMail]] = {a.lower(): [] for a in advisers}
        self._failures: dict[str, list[BackendError]] = {}
        self._ids = itertools.count(1)

    # --- calendars -----------------------------------------------------------------------------------------

    def events(self, adviser: str, start: datetime, end: datetime) -> list[CalendarEvent]:
        calendar = self._calendar(adviser, "events")
        return sorted((e for e in calendar.values() if e.start < end and e.end > start), key=lambda e: e.start)

    def calls(self, adviser: str, keys: Collection[str],
              ids: Mapping[str, str] | None = None) -> dict[str, CalendarEvent]:  # fmt: skip
        wanted = set(keys)
        return {e.key: e for e in self._calendar(adviser, "calls").values() if e.key in wanted}

    def create_call(self, adviser: str, call: CallSpec, *, resume: bool = False) -> CalendarEvent:
        calendar = self._calendar(adviser, "create_call")
        existing = self._call(adviser, call.key)
        if existing is not None:
            return existing
        event = CalendarEvent(self._new_id(), call.start, call.end, call.subject, call.key, call.categories,
                              call.body_text)  # fmt: skip
        calendar[event.id] = event
        return event

    def ensure_categories(self, adviser: str, colours: Mapping[str, str]) -> None:
        self._check(adviser, "ensure_categories")
        for name, colour in colours.items():
            self._category_lists[adviser.lower()].setdefault(name, colour)

    # --- mail ----------------------------------------------------------------------------------------------

    def send(self, adviser: str, mail: MailSpec, *, resume: bool = False, progress: Progress | None = None) -> SentMail:
        stored = self._store(adviser, SENT, mail, read=True, operation="send")
        return SentMail(stored.id, stored.message_id, stored.at)

    def find_sent(self, adviser: str, key: str) -> SentMail | None:
        stored = self._folder(adviser, SENT, "find_sent").get(key)
        return SentMail(stored.id, stored.message_id, stored.at) if stored else None

    def inbox(self, adviser: str, since: datetime) -> list[InboundMail]:
        self._check(adviser, "inbox")
        found = [m for m in self._received[adviser.lower()] if m.received_at >= since]
        return sorted(found, key=lambda m: m.received_at)

    def file(self, mailbox: str, folder: tuple[str, ...], mail: MailSpec, *, resume: bool = False) -> str:
        return self._store(mailbox, folder, mail, read=True, operation="file").id

    def notify(self, adviser: str, mail: MailSpec, *, resume: bool = False) -> str:
        return self._store(adviser, INBOX, mail, read=False, operation="notify").id

    # --- the adviser's, the client's and the world's hands -----------------------------------------------

    def set_categories(self, adviser: str, key: str, categories: Collection[str], notes: str = "") -> None:
        """The adviser tags the call with an outcome (and writes notes in it, if ``notes``)."""
        event = self._existing_call(adviser, key)
        changed = replace(event, categories=tuple(categories), notes=notes or event.notes)
        self._events[adviser.lower()][event.id] = changed

    def move_call(self, adviser: str, key: str, start: datetime, end: datetime) -> None:
        event = self._existing_call(adviser, key)
        self._events[adviser.lower()][event.id] = replace(event, start=start, end=end)

    def delete_call(self, adviser: str, key: str) -> None:
        del self._events[adviser.lower()][self._existing_call(adviser, key).id]

    def add_event(self, adviser: str, start: datetime, end: datetime, subject: str = "", free: bool = False,
                  weeks: int = 1) -> str:  # fmt: skip
        """An event of the adviser's own; ``weeks`` > 1 makes it weekly, each occurrence with its own id."""
        event_id = self._new_id()
        for week in range(weeks):
            shift = timedelta(weeks=week)
            occurrence_id = event_id if weeks == 1 else f"{event_id}/{week}"
            self._calendar(adviser, "add_event")[occurrence_id] = CalendarEvent(
                occurrence_id, start + shift, end + shift, subject, free=free
            )
        return event_id

    def deliver(self, adviser: str, mail: InboundMail) -> None:
        """A message arrives in the adviser's Inbox: a client's reply, a bounce..."""
        self._check(adviser, "deliver")
        self._received[adviser.lower()].append(mail)

    def fail_next(self, operation: str, error: BackendError) -> None:
        """The next call of ``operation`` (a method name, e.g. "send") raises ``error``."""
        self._failures.setdefault(operation, []).append(error)

    def messages(self, mailbox: str, folder: tuple[str, ...]) -> list[StoredMail]:
        """What m3mail wrote in ``folder`` (empty if the folder does not exist)."""
        return list(self._mailbox(mailbox, "messages").get(folder, {}).values())

    def category_list(self, adviser: str) -> dict[str, str]:
        self._check(adviser, "category_list")
        return dict(self._category_lists[adviser.lower()])

    # --- internals -----------------------------------------------------------------------------------------

    def _check(self, mailbox: str, operation: str) -> None:
        if mailbox.lower() not in self._events:
            raise MailboxUnavailable(mailbox, operation, "no such mailbox")
        pending = self._failures.get(operation)
        if pending:
            raise pending.pop(0)

    def _calendar(self, adviser: str, operation: str) -> dict[str, CalendarEvent]:
        self._check(adviser, operation)
        return self._events[adviser.lower()]

    def _mailbox(self, mailbox: str, operation: str) -> dict[tuple[str, ...], dict[str, StoredMail]]:
        self._check(mailbox, operation)
        return self._folders[mailbox.lower()]

    def _folder(self, mailbox: str, folder: tuple[str, ...], operation: str) -> dict[str, StoredMail]:
        return self._mailbox(mailbox, operation).setdefault(folder, {})

    def _store(self, mailbox: str, folder: tuple[str, ...], mail: MailSpec, *, read: bool,
               operation: str) -> StoredMail:  # fmt: skip
        messages = self._folder(mailbox, folder, operation)
        if mail.key not in messages:
            message_id = self._new_id()
            messages[mail.key] = StoredMail(message_id, mail, f"<{message_id}@m3mail.memory>",
                                            mail.when or self._clock(), read)  # fmt: skip
        return messages[mail.key]

    def _call(self, adviser: str, key: str) -> CalendarEvent | None:
        return next((e for e in self._events[adviser.lower()].values() if e.key == key), None)

    def _existing_call(self, adviser: str, key: str) -> CalendarEvent:
        event = self._call(adviser, key)
        if event is None:
            raise KeyError(f"{adviser} has no call {key!r}")
        return event

    def _new_id(self) -> str:
        return f"mem-{next(self._ids)}"
