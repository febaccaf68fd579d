"""The executor: intent before, result after, and a retried action tells the backend to look first."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from m3mail.actions import SendEmail
from m3mail.backends.memory import MemoryBackend
from m3mail.errors import BackendError
from m3mail.executor import Executor
from m3mail.models import Client, FollowUp, MailSpec, SentMail, State
from m3mail.state import StateStore

NOW = datetime(2026, 11, 25, 9, tzinfo=UTC)
ADVISER = "a@agence.fr"


class Recording(MemoryBackend):
    """The memory backend, remembering how each send was asked for."""

    def __init__(self) -> None:
        super().__init__([ADVISER], clock=lambda: NOW)
        self.resumes: list[bool] = []

    def send(self, adviser: str, mail: MailSpec, *, resume: bool = False) -> SentMail:
        self.resumes.append(resume)
        return super().send(adviser, mail, resume=resume)


def action() -> SendEmail:
    f = FollowUp("M3-C1-20261118", Client("C1", email="c1@example.com"), ADVISER, (), NOW.date(), NOW.date(),
                 NOW.date(), 1, NOW, state=State.UNREACHED)  # fmt: skip
    mail = MailSpec("M3-C1-20261118#email", ADVISER, ("c1@example.com",), "Bonjour", "texte", "<p>texte</p>")
    return SendEmail(mail.key, ADVISER, f, "emailed", mail=mail)


def test_a_first_try_does_not_look_and_a_retry_after_a_failure_does(tmp_path: Path) -> None:
    backend = Recording()
    with StateStore(tmp_path / "m3mail.db") as store:
        executor = Executor(backend, store, lambda: NOW)
        backend.fail_next("send", BackendError(ADVISER, "send", "throttled", retryable=True, status=429))
        assert executor.execute([action()]) == {}
        assert store.action_status(action().key) == "failed" and executor.tally.errors
        changed = executor.execute([action()])
        assert changed["M3-C1-20261118"].state is State.EMAILED
        assert executor.execute([action()]) == {}  # done: not sent again
    assert backend.resumes == [False, True]
