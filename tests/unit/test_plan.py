"""An adviser's pass: what it plans from what it read (pure), and what the executor then really does."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from m3mail.adviser import Context, adviser_pass, gather
from m3mail.backends.base import Progress
from m3mail.backends.memory import MemoryBackend
from m3mail.errors import BackendError
from m3mail.executor import Executor
from m3mail.models import (
    Availability,
    CalendarEvent,
    Client,
    Contract,
    ContractType,
    FollowUp,
    InboundMail,
    MailKind,
    MailSpec,
    SentMail,
    State,
)
from m3mail.plan import Calendar, DigestBasis, Snapshot, calendar_horizon, digest, digest_key, plan
from m3mail.render import Renderer
from m3mail.rules import pass_rules
from m3mail.settings import AdviserSettings, AgencySettings, Settings
from m3mail.state import StateStore

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 11, 25, 9, 30, tzinfo=PARIS)  # a Wednesday, within the sending hours
ADVISER = AdviserSettings(email="claire.martin@cabinet-exemple.fr", name="Claire Martin")
SETTINGS = Settings(advisers=[ADVISER], agency=AgencySettings(name="Cabinet Exemple"))
RULES = pass_rules(SETTINGS, ADVISER)
RENDERER = Renderer(SETTINGS.agency)
CALL = NOW - timedelta(days=1)
AUTO = Contract(id="K1", client_id="C1", adviser=ADVISER.email, type=ContractType.IARD, effect_date=date(2026, 8, 25),
                product="Auto")  # fmt: skip


def follow_up(state: State = State.PLANNED, email: str = "c1@example.com", **changes) -> FollowUp:
    f = FollowUp(id="M3-C1-20261118", client=Client("C1", last_name="Dupont", first_name="Jean", email=email),
                 adviser=ADVISER.email, contracts=(AUTO,), due_date=date(2026, 11, 25), window_start=date(2026, 11, 18),
                 window_end=date(2026, 12, 2), priority=1, created_at=NOW - timedelta(days=7), state=state)  # fmt: skip
    return replace(f, **changes)


def last_attempt_unanswered() -> tuple[FollowUp, Snapshot]:
    """A follow-up whose second call the adviser marked "M+3 Injoignable", as the calendar has it."""
    key = "M3-C1-20261118#call2"
    f = follow_up(State.BOOKED, attempts=(CALL - timedelta(days=3), CALL), call_at=CALL, call_key=key, call_id="E2")
    event = CalendarEvent("E2", CALL, CALL + timedelta(minutes=20), key=key, categories=("M+3 Injoignable",))
    return f, Snapshot(calls={key: event})


def kinds(actions) -> list[tuple[str, str]]:
    """What the actions do to calendars, mailboxes and follow-ups (the values kept for the next runs aside)."""
    return [(a.kind, a.event) for a in actions if a.kind != "remember"]


def remembered(work) -> dict[str, str]:
    return {a.key: a.value for a in work.actions if a.kind == "remember"}


def test_the_last_unanswered_call_becomes_an_email_and_its_filed_copy_in_one_pass() -> None:
    f, snapshot = last_attempt_unanswered()
    work = plan(snapshot, [f], RULES, RENDERER, NOW)
    assert kinds(work.actions) == [("categories", "categories"), ("update", "unreached"), ("email", "emailed"),
                                   ("file", "email filed")]  # fmt: skip
    assert calendar_horizon(snapshot, [f], RULES, NOW) is None  # nothing to book: the calendar is not read
    assert work.problems == () and work.missing_slots == {}
    assert remembered(work) == {}  # no alert, none kept: nothing written
    earlier = plan(replace(snapshot, capacity='{"2026-11-20": 2}'), [f], RULES, RENDERER, NOW)
    assert remembered(earlier) == {f"capacity:{ADVISER.email}": "{}"}  # an earlier alert cleared: none short now


class Late(MemoryBackend):
    """A backend whose emails leave minutes after the pass planned them (Exchange's sentDateTime is the time the
    message really went)."""

    def send(self, adviser: str, mail: MailSpec, *, resume: bool = False, progress: Progress | None = None) -> SentMail:
        made = super().send(adviser, mail, resume=resume, progress=progress)
        return replace(made, sent_at=NOW + timedelta(minutes=7))


def test_the_filed_copy_bears_the_time_the_email_really_left(tmp_path: Path) -> None:
    f, snapshot = last_attempt_unanswered()
    sent = NOW + timedelta(minutes=7)
    backend = Late([ADVISER.email], clock=lambda: NOW)
    with StateStore(tmp_path / "m3mail.db") as store:
        store.add([f], NOW)
        tally = Executor(backend, store, lambda: NOW).execute(*plan(snapshot, [f], RULES, RENDERER, NOW).stages)
        saved = store.follow_up(f.id)
    assert tally.of("email") == 1 and tally.of("file", "email filed") == 1
    assert saved is not None and saved.state is State.EMAILED and saved.email_filed
    assert saved.emailed_at == sent and saved.email_message_id == tally.changed[f.id].email_message_id
    [copy] = backend.messages(ADVISER.email, ("Clients", "DUPONT Jean (C1)"))
    assert copy.mail.when == sent


def test_a_window_with_no_free_slot_is_a_capacity_alert_and_a_further_attempt_an_email() -> None:
    first = follow_up()
    again = follow_up(attempts=(CALL,), id="M3-C2-20261118", client=Client("C2", email="c2@example.com"))
    busy = CalendarEvent("B", NOW - timedelta(days=1), NOW + timedelta(days=30), subject="Congés")
    snapshot = Snapshot(calls={}, calendar=Calendar((busy,), Availability()))
    assert calendar_horizon(snapshot, [first, again], RULES, NOW) is not None
    work = plan(snapshot, [first, again], RULES, RENDERER, NOW)
    assert ("book", "booked") not in kinds(work.actions)
    assert work.missing_slots == {"2026-11-25": 1}  # the first attempt: the adviser is told
    changes = {a.follow_up.id: a.event for a in work.actions if a.kind == "update" and a.follow_up}
    assert changes == {first.id: "capacity", again.id: "unreached"}
    assert [a.follow_up.id for a in work.actions if a.kind == "email" and a.follow_up] == [again.id]
    assert remembered(work) == {f"capacity:{ADVISER.email}": '{"2026-11-25": 1}'}


def test_a_client_without_email_gets_a_letter_and_the_record_filed_after_it() -> None:
    f = follow_up(State.UNREACHED, email="", attempts=(CALL,))
    work = plan(Snapshot(calls={}), [f], RULES, RENDERER, NOW)
    filings = [a for a in work.actions if a.kind == "file"]
    assert kinds(filings) == [("file", "letter"), ("file", "record filed")]
    assert {a.folder for a in filings} == {("Clients", "DUPONT Jean (C1)")}


def test_an_opted_out_client_is_neither_booked_nor_emailed() -> None:
    f = follow_up()
    snapshot = Snapshot(calls={}, refused=frozenset({f.id}))
    assert calendar_horizon(snapshot, [f], RULES, NOW) is None
    work = plan(snapshot, [f], RULES, RENDERER, NOW)
    assert kinds(work.actions)[1:] == [("update", "opted out"), ("file", "record filed")]


def test_a_message_the_inbox_cannot_read_is_reported_once() -> None:
    junk = InboundMail(id="1732-junk", message_id="", sender="", subject="", text="", html="", received_at=NOW,
                       kind=MailKind.UNREADABLE)  # fmt: skip
    first = plan(Snapshot(calls={}, inbox=(junk,)), [], RULES, RENDERER, NOW)
    assert len(first.problems) == 1 and "1732-junk" in first.problems[0]
    assert f"unreadable:{ADVISER.email}:1732-junk" in remembered(first)
    later = plan(Snapshot(calls={}, inbox=(junk,), reported=frozenset({"1732-junk"})), [], RULES, RENDERER, NOW)
    assert later.problems == () and not [k for k in remembered(later) if k.startswith("unreadable:")]


def test_the_digest_lists_a_letter_once_it_is_filed_not_when_it_is_planned() -> None:
    basis = DigestBasis(since=NOW - timedelta(days=1), recent=())
    unreached = follow_up(State.UNREACHED, email="", attempts=(CALL,))
    assert digest(basis, [unreached], {}, RULES, RENDERER, NOW).actions == []  # nothing to tell yet
    done = replace(unreached, state=State.DONE, letter_at=NOW, ended_at=NOW)
    [notify] = digest(basis, [done], {}, RULES, RENDERER, NOW).actions
    assert notify.kind == "notify" and "C1" in notify.mail.text
    assert digest(None, [done], {}, RULES, RENDERER, NOW).actions == []  # no digest due this pass


def test_the_digest_is_due_once_a_working_day_and_its_follow_ups_are_read_only_then(tmp_path: Path) -> None:
    backend = MemoryBackend([ADVISER.email], clock=lambda: NOW)
    with StateStore(tmp_path / "m3mail.db") as store:
        assert gather(backend, store, RULES, [], NOW).digest is not None
        store.intend(digest_key(RULES, NOW), None, "notify", ADVISER.email, NOW)
        store.done(digest_key(RULES, NOW), NOW, "", None, "digest", "")
        assert gather(backend, store, RULES, [], NOW).digest is None  # today's went: once a day
        saturday = NOW + timedelta(days=3)
        assert gather(backend, store, RULES, [], saturday).digest is None  # not a working day


def test_a_letter_that_could_not_be_filed_is_reported_and_neither_counted_nor_in_the_digest(tmp_path: Path) -> None:
    f = follow_up(State.UNREACHED, email="", attempts=(CALL,))
    backend = MemoryBackend([ADVISER.email], clock=lambda: NOW)
    backend.fail_next("file", BackendError(ADVISER.email, "file message", "unavailable", retryable=True, status=503))
    with StateStore(tmp_path / "m3mail.db") as store:
        store.add([f], NOW)
        executor = Executor(backend, store, lambda: NOW)
        report = adviser_pass(Context(SETTINGS, backend, store, RENDERER, executor, NOW), ADVISER, [f])
        saved = store.follow_up(f.id)
    assert report.letters == 0 and report.filed == 0 and len(report.errors) == 1
    assert saved is not None and saved.state is State.UNREACHED  # tried again by the next run
    assert backend.messages(ADVISER.email, ("Clients", "DUPONT Jean (C1)")) == []
    assert backend.messages(ADVISER.email, ("Inbox",)) == []  # no digest announcing a letter that is not there
