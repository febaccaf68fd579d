"""The follow-up state machine: what each observation does to a follow-up (pure, tables)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from m3mail.classify import classify
from m3mail.followup import NOTES_MARKER, Rules, close_window, notes_of, read_call, read_mail
from m3mail.models import CalendarEvent, Client, FollowUp, InboundMail, MailKind, MailView, Outcome, State

PARIS = ZoneInfo("Europe/Paris")
CALL = datetime(2026, 11, 25, 10, 0, tzinfo=PARIS)  # a Wednesday
NOW = datetime(2026, 11, 25, 18, 0, tzinfo=PARIS)
RULES = Rules(attempts=2, reply_wait=timedelta(days=14))


def booked(**changes) -> FollowUp:
    f = FollowUp(id="M3-C1-20261118", client=Client("C1", email="c1@example.com"), adviser="a@agence.fr",
                 contracts=(), due_date=date(2026, 11, 25), window_start=date(2026, 11, 18),
                 window_end=date(2026, 12, 2), priority=1, created_at=CALL - timedelta(days=7),
                 state=State.BOOKED, attempts=(CALL,), call_at=CALL, call_key="M3-C1-20261118#call1")  # fmt: skip
    return replace(f, **changes)


def event(categories: tuple[str, ...] = ("M+3",), start: datetime = CALL, notes: str = "") -> CalendarEvent:
    return CalendarEvent("E1", start, start + timedelta(minutes=20), key="M3-C1-20261118#call1",
                         categories=categories, notes=notes)  # fmt: skip


@pytest.mark.parametrize(
    ("categories", "state", "outcome"),
    [
        (("M+3 Satisfait",), State.DONE, Outcome.SATISFAIT),
        (("m+3 besoin",), State.DONE, Outcome.BESOIN),
        (("M+3 QUESTION",), State.DONE, Outcome.QUESTION),
        (("Travail", "M+3 Changement"), State.DONE, Outcome.CHANGEMENT),
        (("M+3 Reclamation",), State.DONE, Outcome.RECLAMATION),
        (("M+3 Injoignable",), State.PLANNED, None),  # a second attempt is due
    ],
)
def test_the_category_the_adviser_sets_is_the_outcome(categories, state, outcome) -> None:
    change = read_call(booked(), event(categories), NOW, RULES)
    assert change is not None
    assert (change.follow_up.state, change.follow_up.outcome) == (state, outcome)


def test_the_last_unanswered_attempt_leaves_the_client_unreached() -> None:
    second = booked(attempts=(CALL - timedelta(days=2), CALL))
    change = read_call(second, event(("M+3 Injoignable",)), NOW, RULES)
    assert change is not None and change.follow_up.state is State.UNREACHED


def test_a_complaint_gets_its_two_deadlines() -> None:
    change = read_call(booked(), event(("M+3 Réclamation",)), NOW, RULES)
    assert change is not None
    # 10 business days after Wednesday 25 November 2026; two calendar months after it
    assert change.follow_up.complaint_ack_due == date(2026, 12, 9)
    assert change.follow_up.complaint_answer_due == date(2027, 1, 25)


def test_a_deleted_call_cancels_and_a_moved_one_is_followed() -> None:
    cancelled = read_call(booked(), None, NOW, RULES)
    assert cancelled is not None and cancelled.follow_up.state is State.CANCELLED
    later = CALL + timedelta(days=1, hours=3)
    moved = read_call(booked(), event(start=later), NOW, RULES)
    assert moved is not None and moved.follow_up.call_at == later and moved.follow_up.attempts == (later,)
    assert moved.follow_up.state is State.BOOKED
    assert read_call(booked(), event(), NOW, RULES) is None  # nothing happened


def test_the_advisers_notes_are_kept_from_under_the_marker() -> None:
    brief = f"Client: Mme DUPONT\n{NOTES_MARKER}\nA déménagé, nouvelle adresse à saisir."
    change = read_call(booked(), event(("M+3 Changement",), notes=brief), NOW, RULES)
    assert change is not None and change.follow_up.notes == "A déménagé, nouvelle adresse à saisir."
    assert notes_of("no marker at all") == ""


@pytest.mark.parametrize(
    ("state", "today", "expected"),
    [
        (State.BOOKED, date(2026, 12, 2), None),  # the window's last day: not closed yet
        (State.BOOKED, date(2026, 12, 3), State.MISSED),
        (State.PLANNED, date(2026, 12, 3), State.MISSED),  # never booked: no slot
        (State.DONE, date(2026, 12, 3), None),
    ],
)
def test_a_closed_window_misses_what_was_not_done(state, today, expected) -> None:
    f = booked(state=state, attempts=() if state is State.PLANNED else (CALL,))
    change = close_window(f, NOW, today)
    assert (change.follow_up.state if change else None) == expected


def mail(text: str, *, kind: MailKind | None = None, mid: str = "<r1@client.example>") -> InboundMail:
    """A message about the email; a person's, classified from its text, unless ``kind`` says otherwise."""
    if kind is None:
        kind = classify(MailView(headers=(), sender="c1@example.com", subject="RE: votre contrat", text=text)).kind
    return InboundMail(mid, mid, "c1@example.com", "RE: votre contrat", text, "", NOW, in_reply_to=("<sent@m3>",),
                       kind=kind)  # fmt: skip


EMAILED = booked(state=State.EMAILED, emailed_at=NOW - timedelta(days=1), email_message_id="<sent@m3>")


@pytest.mark.parametrize(
    ("message", "state", "replies"),
    [
        (mail("Merci, tout va bien."), State.DONE, 1),
        (mail("STOP"), State.OPTED_OUT, 1),
        (mail("stop merci\n\nLe 24/11/2026, Claire Martin a écrit :\n> Bonjour"), State.OPTED_OUT, 1),
        (mail("Je suis absent jusqu'au 3 décembre.", kind=MailKind.AUTO), State.EMAILED, 0),  # noted, goes on
        (mail("Undelivered", kind=MailKind.BOUNCE), State.UNREACHED, 0),  # the letter comes next
        (mail("Delayed", kind=MailKind.DELAY), None, 0),  # not a failure, not an answer
        (mail("Abuse report", kind=MailKind.FEEDBACK), State.OPTED_OUT, 0),  # a spam complaint
    ],
)
def test_what_comes_back_from_the_email(message, state, replies) -> None:
    change, to_file = read_mail(EMAILED, [message], NOW, RULES)
    assert (change.follow_up.state if change else None) == state
    assert len(to_file) == replies


def test_an_email_left_unanswered_ends_the_follow_up_after_the_wait() -> None:
    assert read_mail(EMAILED, [], NOW + timedelta(days=12), RULES)[0] is None
    change, _ = read_mail(EMAILED, [], EMAILED.emailed_at + timedelta(days=14), RULES)
    assert change is not None and change.follow_up.state is State.DONE


def test_an_automatic_reply_is_noted_for_the_digest_once_and_never_taken_for_the_answer() -> None:
    away = replace(mail("Absente, de retour le 14 décembre 2026.", kind=MailKind.AUTO), back_on=date(2026, 12, 14))
    change, to_file = read_mail(EMAILED, [away], NOW, RULES)
    assert change is not None and change.event == "automatic reply" and to_file == []
    noted = change.follow_up
    assert (noted.state, noted.reply_ids, noted.client_back_on, noted.auto_seen_at) == (
        State.EMAILED, (), date(2026, 12, 14), NOW)  # fmt: skip
    assert read_mail(noted, [away], NOW, RULES)[0] is None  # the same reply again: nothing new
