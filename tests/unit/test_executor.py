"""The executor: intent before, result after, and a retried action tells the backend to look first."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from m3mail.actions import EnsureCategories, FileMail, Filing, Remember, SendEmail
from m3mail.backends.base import Progress
from m3mail.backends.memory import MemoryBackend
from m3mail.errors import BackendError, Pending
from m3mail.executor import Executor
from m3mail.models import CATEGORY_COLOURS, Client, FollowUp, MailSpec, SentMail, State
from m3mail.state import StateStore

NOW = datetime(2026, 11, 25, 9, tzinfo=UTC)
ADVISER = "a@agence.fr"


class Recording(MemoryBackend):
    """The memory backend, remembering how each send was asked for."""

    def __init__(self) -> None:
        super().__init__([ADVISER], clock=lambda: NOW)
        self.resumes: list[bool] = []

    def send(self, adviser: str, mail: MailSpec, *, resume: bool = False, progress: Progress | None = None) -> SentMail:
        self.resumes.append(resume)
        return super().send(adviser, mail, resume=resume)


def action() -> SendEmail:
    f = FollowUp("M3-C1-20261118", Client("C1", email="c1@example.com"), ADVISER, (), NOW.date(), NOW.date(),
                 NOW.date(), 1, NOW, state=State.UNREACHED)  # fmt: skip
    mail = MailSpec("M3-C1-20261118#email", ADVISER, ("c1@example.com",), "Bonjour", "texte", "<p>texte</p>")
    return SendEmail(key=mail.key, mailbox=ADVISER, follow_up=f, event="emailed", mail=mail)


def test_a_first_try_does_not_look_and_a_retry_after_a_failure_does(tmp_path: Path) -> None:
    backend = Recording()
    with StateStore(tmp_path / "m3mail.db") as store:
        executor = Executor(backend, store, lambda: NOW)
        backend.fail_next("send", BackendError(ADVISER, "send", "throttled", retryable=True, status=429))
        failed = executor.execute([action()])
        assert failed.changed == {} and failed.errors
        assert store.action_status(action().key) == "failed"
        changed = executor.execute([action()]).changed
        assert changed["M3-C1-20261118"].state is State.EMAILED
        assert executor.execute([action()]).changed == {}  # done: not sent again
    assert backend.resumes == [False, True]


class Grouping(MemoryBackend):
    """The memory backend, remembering how many files were asked for at once."""

    def __init__(self) -> None:
        super().__init__([ADVISER], clock=lambda: NOW)
        self.batches: list[int] = []

    def file_many(self, mailbox, items):
        self.batches.append(len(items))
        return super().file_many(mailbox, items)


def filings(fid: str) -> list[FileMail]:
    """The email copy, then the record, of one follow-up (the record's state says both are filed)."""
    f = action().follow_up
    assert f is not None
    f = replace(f, id=fid, client=Client(fid, email="c@example.com"))
    folder = ("Clients", fid)
    copy = MailSpec(f"{fid}#file-email", ADVISER, ("c@example.com",), "Bonjour", "texte", "<p>texte</p>")
    record = MailSpec(f"{fid}#record", ADVISER, (ADVISER,), "Compte rendu", "texte", "<p>texte</p>")
    done = replace(f, state=State.DONE)
    return [FileMail(key=copy.key, mailbox=ADVISER, follow_up=done, filing=Filing.COPY, folder=folder, mail=copy),
            FileMail(key=record.key, mailbox=ADVISER, follow_up=done, filing=Filing.RECORD, folder=folder,
                     mail=record)]  # fmt: skip


def test_the_filings_of_several_follow_ups_go_to_the_backend_together_in_each_one_s_order(tmp_path: Path) -> None:
    backend = Grouping()
    with StateStore(tmp_path / "m3mail.db") as store:
        changed = Executor(backend, store, lambda: NOW).execute(filings("F1") + filings("F2") + filings("F3")).changed
        assert all(f.record_filed and f.email_filed for f in changed.values()) and len(changed) == 3
    assert backend.batches == [3, 3]  # the three email copies, then the three records
    for fid in ("F1", "F2", "F3"):
        keys = [m.mail.key for m in backend.messages(ADVISER, ("Clients", fid))]
        assert keys == [f"{fid}#file-email", f"{fid}#record"]


def test_after_a_failed_filing_the_rest_of_that_follow_up_waits_and_the_others_go_on(tmp_path: Path) -> None:
    backend = Grouping()
    backend.fail_next("file", BackendError(ADVISER, "file message", "unavailable", retryable=True, status=503))
    with StateStore(tmp_path / "m3mail.db") as store:
        changed = Executor(backend, store, lambda: NOW).execute(filings("F1") + filings("F2")).changed
        assert set(changed) == {"F2"}  # F1's record is not filed over its missing email copy
        assert store.action_status("F1#file-email") == "failed" and store.action_status("F1#record") is None
        assert not (saved := store.follow_up("F1")) or not saved.email_filed
        changed = Executor(backend, store, lambda: NOW).execute(filings("F1")).changed  # the next run
        assert changed["F1"].record_filed and changed["F1"].email_filed
    assert [m.mail.key for m in backend.messages(ADVISER, ("Clients", "F1"))] == ["F1#file-email", "F1#record"]


class Handing(MemoryBackend):
    """A backend whose send notes its draft, then either dies (the run is killed) or finds the email handed over
    and not visible yet (Exchange's Sent Items delay), as the Microsoft 365 backend does."""

    def __init__(self) -> None:
        super().__init__([ADVISER], clock=lambda: NOW)
        self.seen: list[tuple[bool, str]] = []  # (resume, what the progress held) at each call
        self.killed = True

    def send(self, adviser: str, mail: MailSpec, *, resume: bool = False, progress: Progress | None = None) -> SentMail:
        assert progress is not None
        self.seen.append((resume, progress.noted))
        if not progress.noted:
            progress.note("draft-1")
            if self.killed:
                raise KeyboardInterrupt("the run is killed after the draft is noted")
        if self.killed is False and len(self.seen) == 2:
            raise Pending(adviser, "send", "handed over; its copy is not in Sent Items yet")
        return super().send(adviser, mail, resume=resume)


def test_what_a_send_noted_before_a_kill_reaches_its_next_try_and_pending_is_no_failure(tmp_path: Path) -> None:
    backend = Handing()
    with StateStore(tmp_path / "m3mail.db") as store:
        with pytest.raises(KeyboardInterrupt):
            Executor(backend, store, lambda: NOW).execute([action()])
        assert store.action_status(action().key) == "intent" and store.progress(action().key) == "draft-1"
    backend.killed = False
    with StateStore(tmp_path / "m3mail.db") as store:  # the restarted service
        tally = Executor(backend, store, lambda: NOW).execute([action()])
        assert tally.changed == {}  # the copy not seen yet: nothing recorded as sent
        assert store.action_status(action().key) == "pending" and tally.errors == []
        assert tally.done == {"pending:email": 1}
        changed = Executor(backend, store, lambda: NOW).execute([action()]).changed  # the next run finds it
        assert changed["M3-C1-20261118"].state is State.EMAILED and store.action_status(action().key) == "done"
    assert backend.seen == [(False, ""), (True, "draft-1"), (True, "draft-1")]


def test_an_adviser_s_failed_action_does_not_hold_back_the_next_stages_ones(tmp_path: Path) -> None:
    """The outcome categories failing (stage one) does not stop the capacity alert being kept (a later stage):
    only a follow-up's own actions wait for one of theirs that failed."""
    backend = MemoryBackend([ADVISER], clock=lambda: NOW)
    backend.fail_next("ensure_categories", BackendError(ADVISER, "categories", "unavailable", retryable=True))
    categories = EnsureCategories(key=f"categories:{ADVISER}", mailbox=ADVISER, colours=CATEGORY_COLOURS)
    with StateStore(tmp_path / "m3mail.db") as store:
        tally = Executor(backend, store, lambda: NOW).execute([categories], [Remember(key="capacity:a", value="{}")])
        assert len(tally.errors) == 1 and store.get("capacity:a") == "{}"
