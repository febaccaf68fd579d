"""The backend contract as tests: every backend (memory, local, Microsoft 365) passes this one class.

A backend's test module subclasses ``BackendContract`` (``class TestLocal(BackendContract)``), provides the
``backend`` fixture (a backend holding the mailboxes ADVISER and FILING) and implements the hooks through which
the tests act as the adviser (move, delete or categorise a call, add their own events) and as the client or
the mail server (reply, bounce), and look at what m3mail wrote (``category_names``, ``messages``). The hooks
act the way those people do (on the files, through Graph...), never through the backend under test.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from m3mail.backends.base import CATEGORY_COLOURS, Backend, Progress, ReadOnly
from m3mail.errors import BackendError, MailboxUnavailable
from m3mail.models import Availability, CalendarEvent, CallSpec, InboundMail, MailSpec, SentMail

ADVISER = "conseillere@agence.fr"
FILING = "archives@agence.fr"
CLIENT = "jean.dupont@example.com"
PARIS = ZoneInfo("Europe/Paris")
CLIENT_FOLDER = ("Clients", "DUPONT Jean (C1)")


def at(day: int, hour: int, minute: int = 0, month: int = 12) -> datetime:
    """A Paris wall-clock time in 2026; 7 December is a Monday."""
    return datetime(2026, month, day, hour, minute, tzinfo=PARIS)


def call(key: str = "F1.call.1", start: datetime | None = None, minutes: int = 30,
         categories: tuple[str, ...] = ("M+3",)) -> CallSpec:  # fmt: skip
    start = start or at(7, 16)
    return CallSpec(key, start, start + timedelta(minutes=minutes), "Appel M+3 : DUPONT Jean",
                    "Contrat IARD du 25/08.\nTél. +33 6 12 34 56 78", "<p>Contrat IARD du 25/08.</p>", 15,
                    categories)  # fmt: skip


def mail(key: str = "F1.mail.1", subject: str = "Votre contrat IARD", **changes: object) -> MailSpec:
    values: dict = dict(key=key, sender=ADVISER, to=(CLIENT,), subject=subject, text="Bonjour Monsieur Dupont,\n",
                        html="<p>Bonjour Monsieur Dupont,</p>", sender_name="Claire Martin", when=at(7, 9))  # fmt: skip
    return MailSpec(**(values | changes))


def related(message: InboundMail, sent: SentMail) -> bool:
    """A reply or a bounce points at the message sent: by its Message-ID, or by the backend's thread."""
    same_thread = bool(sent.conversation) and message.conversation == sent.conversation
    return sent.message_id in message.in_reply_to or same_thread


class BackendContract:
    """What the M+3 process needs from calendars and mailboxes (see m3mail.backends.base)."""

    @pytest.fixture
    def backend(self) -> Backend:
        raise NotImplementedError("a backend with the mailboxes ADVISER and FILING")

    # --- hooks: the adviser, the client and the mail server act; the tests look -------------------------

    def move(self, backend: Backend, adviser: str, key: str, start: datetime, end: datetime) -> None:
        raise NotImplementedError

    def delete(self, backend: Backend, adviser: str, key: str) -> None:
        raise NotImplementedError

    def categorise(self, backend: Backend, adviser: str, key: str, categories: tuple[str, ...], notes: str) -> None:
        raise NotImplementedError

    def add_busy(self, backend: Backend, adviser: str, start: datetime, end: datetime, subject: str, *,
                 free: bool = False, weeks: int = 1) -> None:  # fmt: skip
        """An event of the adviser's own; ``weeks`` > 1: a weekly recurring event with that many occurrences."""
        raise NotImplementedError

    def reply(self, backend: Backend, adviser: str, sent: SentMail, subject: str, text: str, when: datetime) -> None:
        """CLIENT answers the message ``sent``; it reaches the adviser's Inbox at ``when``."""
        raise NotImplementedError

    def bounce(self, backend: Backend, adviser: str, sent: SentMail, when: datetime) -> None:
        """The client's mail server reports that ``sent`` could not be delivered to CLIENT."""
        raise NotImplementedError

    def category_names(self, backend: Backend, adviser: str) -> list[str]:
        raise NotImplementedError

    def messages(self, backend: Backend, mailbox: str, folder: tuple[str, ...]) -> list[tuple[str, bool]]:
        """(subject, read) of every message m3mail wrote in the folder."""
        raise NotImplementedError

    # --- mailboxes -----------------------------------------------------------------------------------------

    def test_an_unknown_mailbox_is_unavailable(self, backend: Backend) -> None:
        nobody = "personne@agence.fr"
        operations = [
            lambda: backend.events(nobody, at(7, 0), at(8, 0)),
            lambda: backend.calls(nobody, ["F1.call.1"]),
            lambda: backend.create_call(nobody, call()),
            lambda: backend.ensure_categories(nobody, CATEGORY_COLOURS),
            lambda: backend.send(nobody, mail()),
            lambda: backend.find_sent(nobody, "F1.mail.1"),
            lambda: backend.inbox(nobody, at(1, 0)),
            lambda: backend.file(nobody, CLIENT_FOLDER, mail()),
            lambda: backend.notify(nobody, mail()),
        ]
        for operation in operations:
            with pytest.raises(MailboxUnavailable, match=nobody):
                operation()

    # --- calendars -----------------------------------------------------------------------------------------

    def test_creating_a_call_twice_makes_one_event(self, backend: Backend) -> None:
        first = backend.create_call(ADVISER, call())
        again = backend.create_call(ADVISER, call())
        assert first == again
        assert (first.key, first.start, first.end) == ("F1.call.1", at(7, 16), at(7, 16, 30))
        assert first.subject == "Appel M+3 : DUPONT Jean" and first.categories == ("M+3",) and not first.free
        assert [e.key for e in backend.events(ADVISER, at(7, 0), at(8, 0))] == ["F1.call.1"]

    def test_a_call_given_in_utc_lands_at_the_same_instant(self, backend: Backend) -> None:
        made = backend.create_call(ADVISER, call(start=datetime(2026, 12, 7, 9, 0, tzinfo=ZoneInfo("UTC"))))
        assert made.start == at(7, 10)
        assert backend.calls(ADVISER, ["F1.call.1"])["F1.call.1"].start == at(7, 10)

    def test_events_show_the_advisers_own_recurring_and_free_events_and_our_calls(self, backend: Backend) -> None:
        self.add_busy(backend, ADVISER, at(7, 10), at(7, 11), "Rendez-vous Mme Petit")
        self.add_busy(backend, ADVISER, at(7, 12), at(7, 13), "Déjeuner d'équipe", weeks=3)
        self.add_busy(backend, ADVISER, at(7, 14), at(7, 15), "Rappel : relire les devis", free=True)
        self.add_busy(backend, ADVISER, at(28, 9), at(28, 10), "Hors de la période")
        backend.create_call(ADVISER, call(start=at(8, 16)))

        found = backend.events(ADVISER, at(7, 0), at(19, 0))

        by_subject: dict[str, list] = {}
        for event in found:
            by_subject.setdefault(event.subject, []).append(event)
        assert sorted(by_subject) == ["Appel M+3 : DUPONT Jean", "Déjeuner d'équipe", "Rappel : relire les devis",
                                      "Rendez-vous Mme Petit"]  # fmt: skip
        lunches = by_subject["Déjeuner d'équipe"]
        assert [e.start for e in lunches] == [at(7, 12), at(14, 12)]  # the third one is on the 21st
        assert len({e.id for e in lunches}) == 2 and all(e.key is None and not e.free for e in lunches)
        assert by_subject["Rappel : relire les devis"][0].free
        assert by_subject["Rendez-vous Mme Petit"][0].key is None
        assert by_subject["Appel M+3 : DUPONT Jean"][0].key == "F1.call.1"

    def test_events_overlap_the_period_strictly(self, backend: Backend) -> None:
        self.add_busy(backend, ADVISER, at(7, 10), at(7, 11), "Avant")
        self.add_busy(backend, ADVISER, at(7, 11, 30), at(7, 12, 30), "À cheval")
        self.add_busy(backend, ADVISER, at(7, 12), at(7, 13), "Après")
        assert [e.subject for e in backend.events(ADVISER, at(7, 11), at(7, 12))] == ["À cheval"]

    def test_calls_follow_the_advisers_moves_outcomes_notes_and_deletions(self, backend: Backend) -> None:
        for key in ("F1.call.1", "F2.call.1", "F3.call.1"):
            backend.create_call(ADVISER, call(key))
        self.add_busy(backend, ADVISER, at(7, 9), at(7, 10), "Rendez-vous Mme Petit")
        self.move(backend, ADVISER, "F1.call.1", at(8, 15), at(8, 15, 30))
        self.categorise(backend, ADVISER, "F2.call.1", ("M+3", "M+3 Satisfait"), "Client ravi, rappeler en mars")
        self.delete(backend, ADVISER, "F3.call.1")

        calls = backend.calls(ADVISER, ["F1.call.1", "F2.call.1", "F3.call.1", "F9.call.1"])

        assert sorted(calls) == ["F1.call.1", "F2.call.1"]
        assert (calls["F1.call.1"].start, calls["F1.call.1"].end) == (at(8, 15), at(8, 15, 30))
        assert set(calls["F2.call.1"].categories) == {"M+3", "M+3 Satisfait"}
        assert "Client ravi, rappeler en mars" in calls["F2.call.1"].notes

    def test_categories_are_created_once(self, backend: Backend) -> None:
        backend.ensure_categories(ADVISER, CATEGORY_COLOURS)
        backend.ensure_categories(ADVISER, CATEGORY_COLOURS)
        backend.ensure_categories(ADVISER, {"M+3": "preset7"})
        names = self.category_names(backend, ADVISER)
        assert sorted(names) == sorted(CATEGORY_COLOURS)

    # --- mail ----------------------------------------------------------------------------------------------

    def test_sending_twice_sends_once(self, backend: Backend) -> None:
        first = backend.send(ADVISER, mail())
        again = backend.send(ADVISER, mail(), resume=True)  # as the executor retries an action it may have done
        assert (again.id, again.message_id) == (first.id, first.message_id)
        assert first.message_id.startswith("<") and first.message_id.endswith(">")
        assert self.messages(backend, ADVISER, ("Sent",)) == [("Votre contrat IARD", True)]
        found = backend.find_sent(ADVISER, "F1.mail.1")
        assert found is not None and (found.id, found.message_id) == (first.id, first.message_id)
        assert backend.find_sent(ADVISER, "F2.mail.1") is None

    def test_two_keys_make_two_messages_with_their_own_ids(self, backend: Backend) -> None:
        first = backend.send(ADVISER, mail("F1.mail.1"))
        second = backend.send(ADVISER, mail("F2.mail.1", "Votre contrat Santé"))
        assert first.message_id != second.message_id and first.id != second.id
        assert len(self.messages(backend, ADVISER, ("Sent",))) == 2

    def test_the_inbox_has_replies_and_bounces_but_not_our_own_notes(self, backend: Backend) -> None:
        sent = backend.send(ADVISER, mail())
        self.reply(backend, ADVISER, sent, "RE: Votre contrat IARD", "Merci, tout va bien.", at(8, 9))
        self.bounce(backend, ADVISER, sent, at(8, 10))
        backend.notify(ADVISER, mail("digest.2026-12-08", "Relances du jour", to=(ADVISER,)))

        found = backend.inbox(ADVISER, at(1, 0))

        assert [m.subject for m in found if m.subject == "Relances du jour"] == []
        (answer,) = [m for m in found if not m.bounce]
        assert (answer.sender, answer.subject, answer.received_at) == (CLIENT, "RE: Votre contrat IARD", at(8, 9))
        assert related(answer, sent) and "Merci, tout va bien." in answer.text
        (bounce,) = [m for m in found if m.bounce]
        assert related(bounce, sent)
        assert [m.bounce for m in backend.inbox(ADVISER, at(8, 9, 30))] == [True]

    def test_filing_creates_the_folders_once_and_is_idempotent(self, backend: Backend) -> None:
        first = backend.file(FILING, CLIENT_FOLDER, mail("F1.file.1", "Compte rendu M+3"))
        again = backend.file(FILING, CLIENT_FOLDER, mail("F1.file.1", "Compte rendu M+3"), resume=True)
        backend.file(FILING, CLIENT_FOLDER, mail("F1.file.2", "RE: Votre contrat IARD"))
        backend.file(FILING, ("Clients", "MARTIN Zoé (C2)"), mail("F2.file.1", "Compte rendu M+3"))
        assert first == again
        assert sorted(self.messages(backend, FILING, CLIENT_FOLDER)) == [
            ("Compte rendu M+3", True), ("RE: Votre contrat IARD", True)]  # fmt: skip
        assert self.messages(backend, FILING, ("Clients", "MARTIN Zoé (C2)")) == [("Compte rendu M+3", True)]

    def test_a_note_to_the_adviser_arrives_once_and_unread(self, backend: Backend) -> None:
        note = mail("digest.2026-12-08", "Relances du jour", to=(ADVISER,))
        assert backend.notify(ADVISER, note) == backend.notify(ADVISER, note, resume=True)
        assert self.messages(backend, ADVISER, ("Inbox",)) == [("Relances du jour", False)]

    def test_accented_names_and_subjects_round_trip(self, backend: Backend) -> None:
        subject = "Votre contrat Santé : échéance d’été « M+3 »"
        sent = backend.send(ADVISER, mail(subject=subject, sender_name="Hélène Dupré", text="Chère cliente, voilà.\n"))
        self.reply(backend, ADVISER, sent, f"RE: {subject}", "Très bien, merci ! Zoé", at(8, 9))
        assert self.messages(backend, ADVISER, ("Sent",)) == [(subject, True)]
        (answer,) = backend.inbox(ADVISER, at(1, 0))
        assert answer.subject == f"RE: {subject}" and "Très bien, merci ! Zoé" in answer.text

    # --- the forms the executor uses for two or more actions, and availability ---------------------------

    def test_calls_created_together_are_one_event_each_and_resumable(self, backend: Backend) -> None:
        specs = [call("F1.call.1", at(7, 16)), call("F2.call.1", at(7, 17)), call("F3.call.1", at(8, 10))]
        first = backend.create_calls(ADVISER, [(c, False) for c in specs])
        again = backend.create_calls(ADVISER, [(c, True) for c in specs])  # after a crash: found, not made again
        assert all(isinstance(e, CalendarEvent) for e in first + again)
        made = [(e.id, e.key, e.start, e.end, e.categories) for e in first if isinstance(e, CalendarEvent)]
        assert made == [(e.id, e.key, e.start, e.end, e.categories) for e in again if isinstance(e, CalendarEvent)]
        assert [(e.key, e.start) for e in first if isinstance(e, CalendarEvent)] == [(c.key, c.start) for c in specs]
        assert sorted(e.key or "" for e in backend.events(ADVISER, at(7, 0), at(9, 0))) == [c.key for c in specs]

    def test_emails_sent_together_are_sent_once_each(self, backend: Backend) -> None:
        mails = [mail("F1.mail.1", "Votre contrat IARD"),
                 mail("F2.mail.1", "Votre contrat Santé", to=("z@example.org",))]  # fmt: skip
        first = backend.send_many(ADVISER, [(m, False, Progress()) for m in mails])
        again = backend.send_many(ADVISER, [(m, True, Progress()) for m in mails])
        assert all(isinstance(s, SentMail) for s in first)
        assert [s.message_id for s in first if isinstance(s, SentMail)] == \
            [s.message_id for s in again if isinstance(s, SentMail)]  # fmt: skip
        assert len({s.message_id for s in first if isinstance(s, SentMail)}) == 2
        assert sorted(self.messages(backend, ADVISER, ("Sent",))) == [("Votre contrat IARD", True),
                                                                     ("Votre contrat Santé", True)]  # fmt: skip

    def test_messages_filed_together_land_once_each_in_their_folders(self, backend: Backend) -> None:
        other = ("Clients", "MARTIN Zoé (C2)")
        items = [(CLIENT_FOLDER, mail("F1.file.1", "Compte rendu M+3")), (other, mail("F2.file.1", "Compte rendu M+3")),
                 (CLIENT_FOLDER, mail("F1.file.2", "RE: Votre contrat IARD"))]  # fmt: skip
        first = backend.file_many(FILING, [(folder, m, False) for folder, m in items])
        again = backend.file_many(FILING, [(folder, m, True) for folder, m in items])
        assert all(isinstance(i, str) and i for i in first) and first == again
        assert sorted(self.messages(backend, FILING, CLIENT_FOLDER)) == [("Compte rendu M+3", True),
                                                                        ("RE: Votre contrat IARD", True)]  # fmt: skip
        assert self.messages(backend, FILING, other) == [("Compte rendu M+3", True)]

    def test_a_mailbox_that_says_nothing_of_its_time_leaves_the_settings_to_decide(self, backend: Backend) -> None:
        availability = backend.availability(ADVISER)
        assert isinstance(availability, Availability)
        assert availability.away == () and availability.problem == ""

    # --- read-only: what a dry run uses ----------------------------------------------------------------------

    def test_read_only_reads_and_refuses_every_write_before_it_reaches_the_backend(self, backend: Backend) -> None:
        backend.create_call(ADVISER, call("F1.call.1"))
        sent = backend.send(ADVISER, mail("F1.mail.1"))
        backend.file(FILING, CLIENT_FOLDER, mail("F0.file.1", "Compte rendu M+3"))
        backend.notify(ADVISER, mail("digest.1", "Relances du jour", to=(ADVISER,)))
        before = (self.messages(backend, ADVISER, ("Sent",)), self.messages(backend, FILING, CLIENT_FOLDER),
                  self.messages(backend, ADVISER, ("Inbox",)), self.category_names(backend, ADVISER))  # fmt: skip
        reader = ReadOnly(backend)
        assert [e.key for e in reader.events(ADVISER, at(7, 0), at(8, 0))] == ["F1.call.1"]
        assert set(reader.calls(ADVISER, ["F1.call.1"])) == {"F1.call.1"}
        found = reader.find_sent(ADVISER, "F1.mail.1")
        assert found is not None and found.message_id == sent.message_id
        writes = [
            lambda: reader.create_call(ADVISER, call("F2.call.1", at(8, 10))),
            lambda: reader.create_calls(ADVISER, [(call("F3.call.1", at(8, 11)), False)])[0],
            lambda: reader.ensure_categories(ADVISER, CATEGORY_COLOURS),
            lambda: reader.send(ADVISER, mail("F2.mail.1")),
            lambda: reader.send_many(ADVISER, [(mail("F3.mail.1"), False, None)])[0],
            lambda: reader.file(FILING, CLIENT_FOLDER, mail("F1.file.1")),
            lambda: reader.file_many(FILING, [(CLIENT_FOLDER, mail("F1.file.2"), False)])[0],
            lambda: reader.notify(ADVISER, mail("digest", to=(ADVISER,))),
        ]
        for write in writes:
            try:
                result = write()
            except BackendError as e:
                result = e
            assert isinstance(result, BackendError) and "read-only" in str(result)
        assert [e.key for e in backend.events(ADVISER, at(7, 0), at(9, 0))] == ["F1.call.1"]
        assert before == (self.messages(backend, ADVISER, ("Sent",)), self.messages(backend, FILING, CLIENT_FOLDER),
                          self.messages(backend, ADVISER, ("Inbox",)), self.category_names(backend, ADVISER))
