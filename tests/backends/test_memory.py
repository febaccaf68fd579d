"""The in-memory backend passes the contract, acted on through its own test helpers."""

from __future__ import annotations

from datetime import datetime

import pytest

from m3mail.backends.memory import MemoryBackend
from m3mail.errors import BackendError
from m3mail.models import InboundMail, MailKind, SentMail
from tests.backends.contract import ADVISER, CLIENT, FILING, BackendContract, at, call, mail


class TestMemory(BackendContract):
    @pytest.fixture
    def backend(self) -> MemoryBackend:
        return MemoryBackend([ADVISER, FILING], clock=lambda: at(7, 8))

    def move(self, backend: MemoryBackend, adviser: str, key: str, start: datetime, end: datetime) -> None:
        backend.move_call(adviser, key, start, end)

    def delete(self, backend: MemoryBackend, adviser: str, key: str) -> None:
        backend.delete_call(adviser, key)

    def categorise(self, backend: MemoryBackend, adviser: str, key: str, categories: tuple[str, ...],
                   notes: str) -> None:  # fmt: skip
        backend.set_categories(adviser, key, categories, notes)

    def add_busy(self, backend: MemoryBackend, adviser: str, start: datetime, end: datetime, subject: str, *,
                 free: bool = False, weeks: int = 1) -> None:  # fmt: skip
        backend.add_event(adviser, start, end, subject, free=free, weeks=weeks)

    def reply(self, backend: MemoryBackend, adviser: str, sent: SentMail, subject: str, text: str,
              when: datetime) -> None:  # fmt: skip
        backend.deliver(adviser, InboundMail(f"reply-{when:%H%M}", "<r1@example.com>", CLIENT, subject, text, "",
                                             when, in_reply_to=(sent.message_id,)))  # fmt: skip

    def bounce(self, backend: MemoryBackend, adviser: str, sent: SentMail, when: datetime) -> None:
        report = InboundMail(f"bounce-{when:%H%M}", "<b1@mx.example.com>", "mailer-daemon@mx.example.com",
                             "Undelivered Mail Returned to Sender", "User unknown", "", when,
                             in_reply_to=(sent.message_id,), kind=MailKind.BOUNCE)  # fmt: skip
        backend.deliver(adviser, report)

    def category_names(self, backend: MemoryBackend, adviser: str) -> list[str]:
        return list(backend.category_list(adviser))

    def messages(self, backend: MemoryBackend, mailbox: str, folder: tuple[str, ...]) -> list[tuple[str, bool]]:
        return [(m.mail.subject, m.read) for m in backend.messages(mailbox, folder)]


def test_a_failure_can_be_scripted_for_the_next_call_only() -> None:
    backend = MemoryBackend([ADVISER])
    backend.fail_next("send", BackendError(ADVISER, "send", "throttled", retryable=True, status=429))
    with pytest.raises(BackendError, match="throttled"):
        backend.send(ADVISER, mail())
    assert backend.send(ADVISER, mail()).sent_at == at(7, 9)


def test_the_sent_time_is_the_clocks_when_the_mail_has_none() -> None:
    backend = MemoryBackend([ADVISER], clock=lambda: at(7, 8))
    assert backend.send(ADVISER, mail(when=None)).sent_at == at(7, 8)


def test_a_call_keeps_its_notes_when_only_categories_change() -> None:
    backend = MemoryBackend([ADVISER])
    backend.create_call(ADVISER, call())
    backend.set_categories(ADVISER, "F1.call.1", ["M+3 Injoignable"])
    event = backend.calls(ADVISER, ["F1.call.1"])["F1.call.1"]
    assert event.categories == ("M+3 Injoignable",) and event.notes.startswith("Contrat IARD")
