"""Three months of operation on the sample data, day by day, on the local backend.

Between runs, advisers act on their .ics calendars (outcomes, notes, moved and deleted calls) and clients on
their email (replies, STOP, bounces), as people would. At the end the calendars, mailboxes and state are
checked for what a user cares about: every call well placed, nothing twice, nothing lost, every ended
follow-up documented in its client folder.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from m3mail.models import State
from m3mail.planning import client_subdivision, client_timezone, is_business_day
from m3mail.runner import run_once
from m3mail.service import find_due, init_folder, status
from m3mail.settings import Settings, load_settings
from m3mail.state import StateStore
from tests.people import Adviser, bounce, reply

PARIS = ZoneInfo("Europe/Paris")
START = date(2026, 9, 7)  # a Monday; the sample's due dates spread over the three months after it
DAYS = 100
OUTCOMES = [(25, "M+3 Satisfait"), (31, "M+3 Besoin"), (37, "M+3 Question"), (42, "M+3 Changement"),
            (47, "m+3 reclamation"), (92, "M+3 Injoignable")]  # fmt: skip  # the rest: no outcome ever


def roll(*parts: object) -> int:
    """A stable 0-99 draw per item: the same people make the same choices at every test run."""
    return int(hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest(), 16) % 100


class People:
    """Everything advisers and clients do between two runs."""

    def __init__(self, settings: Settings):
        self.advisers = [Adviser(settings.local.root, a.email) for a in settings.advisers]
        self.seen_calls: set[str] = set()
        self.answered_calls: set[str] = set()
        self.seen_mail: set[str] = set()
        self.seen_files: set[str] = set()
        self.moved: set[str] = set()
        self.deleted: set[str] = set()
        self.stops: set[str] = set()

    def act(self, now: datetime) -> None:
        for adviser in self.advisers:
            with adviser.editing() as cal:  # the adviser opens their calendar once
                for call in adviser.calls(cal):
                    self._call(adviser, cal, call, now)
            for sent in adviser.messages("Sent", skip=self.seen_files):
                self.seen_files.add(sent.maildir_key)
                self._mail(adviser, sent, now)

    def _call(self, adviser: Adviser, cal, call, now: datetime) -> None:
        if call.key not in self.seen_calls:  # the adviser looks at a new call in their calendar
            self.seen_calls.add(call.key)
            choice = roll(call.key, "plan")
            if call.start > now + timedelta(days=1) and choice < 3:
                adviser.delete(call.key, cal)
                self.deleted.add(call.key)
                return
            if call.start > now + timedelta(days=1) and choice < 6:
                adviser.move(call.key, timedelta(hours=1), cal)
                self.moved.add(call.key)
                return
        if call.key in self.answered_calls or call.end > now:
            return
        self.answered_calls.add(call.key)
        choice = roll(call.key, "outcome")
        category = next((c for limit, c in OUTCOMES if choice < limit), None)
        if category is not None:
            adviser.set_outcome(call.key, category, notes=f"Appel passé ({call.key})", cal=cal)

    def _mail(self, adviser: Adviser, sent, now: datetime) -> None:
        key = str(sent["X-M3mail-Key"])
        if key in self.seen_mail:
            return
        self.seen_mail.add(key)
        choice = roll(key, "mail")
        if choice < 40:
            adviser.receive(reply(sent, "Bonjour, tout va bien, merci de votre appel.", now + timedelta(hours=2)))
        elif choice < 50:
            adviser.receive(reply(sent, "STOP", now + timedelta(hours=2)))
            self.stops.add(key.split("#")[0])
        elif choice < 62:
            adviser.receive(bounce(sent, now + timedelta(minutes=5)))


@pytest.fixture(scope="module")
def operated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, People, list]:
    folder = tmp_path_factory.mktemp("scenario") / "agence"
    init_folder(folder, START + timedelta(days=45))
    settings = load_settings(folder / "m3mail.toml")
    people = People(settings)
    summaries = []
    for offset in range(DAYS):  # one run a day, at 17:00; the people act in the evening
        now = datetime.combine(START + timedelta(days=offset), time(17), PARIS)
        summaries.append(run_once(settings, now, sleep=lambda _s: None, echo=lambda _s: None))
        people.act(now + timedelta(hours=4))
    return settings, people, summaries


def follow_ups(settings: Settings):
    with StateStore(settings.state) as store:
        return store.follow_ups()


def test_nothing_is_made_twice(operated) -> None:
    settings, people, _ = operated
    for adviser in people.advisers:
        uids = [uid for _s, _e, uid in adviser.events()]
        assert len(uids) == len(set(uids)), adviser.email
        keys = Counter(str(m["X-M3mail-Key"]) for m in adviser.messages("Sent"))
        assert all(n == 1 for n in keys.values()), keys.most_common(3)
        digests = Counter(str(m["X-M3mail-Key"]) for m in adviser.messages("Inbox") if m["X-M3mail-Key"])
        assert all(n == 1 for n in digests.values())


def test_every_call_is_well_placed(operated) -> None:
    settings, people, _ = operated
    by_key = {f.call_key: f for f in follow_ups(settings)}
    by_attempt = {f"{f.id}#call{i + 1}": f for f in follow_ups(settings) for i in range(len(f.attempts))}
    checked = 0
    for adviser, conf in zip(people.advisers, settings.advisers, strict=True):
        zone = ZoneInfo(conf.timezone)
        others = adviser.events()
        per_day = Counter(c.start.astimezone(zone).date() for c in adviser.calls())
        assert max(per_day.values(), default=0) <= settings.calls.max_per_day
        for call in adviser.calls():
            if call.key in people.moved:
                continue
            f = by_attempt.get(call.key) or by_key[call.key]
            start, end = call.start.astimezone(zone), call.end.astimezone(zone)
            client_zone = ZoneInfo(client_timezone(f.client.postal_code))
            local = call.start.astimezone(client_zone)
            assert f.window_start <= start.date() <= f.window_end, call.key
            subdivisions = [conf.holidays, client_subdivision(f.client.postal_code)]
            assert is_business_day(start.date(), [s for s in subdivisions if s]), call.key
            assert any(a <= local.time() and (local + (end - start)).time() <= b for a, b in conf.call_hours)
            assert any(a <= start.time() and end.time() <= b for a, b in conf.working_hours), call.key
            overlapping = [u for s, e, u in others if u != call.uid and s < call.end and call.start < e]
            assert not overlapping, call.key
            checked += 1
    assert checked > 100


def test_no_follow_up_is_lost_and_every_ended_one_is_documented(operated) -> None:
    settings, people, _ = operated
    everything = follow_ups(settings)
    started = {f.client.id for f in everything}
    # every client due on any day of the replay was followed up (or had refused by then)
    for offset in range(0, DAYS - 20, 5):
        day = START + timedelta(days=offset)
        with StateStore(Path(":memory:")) as nothing_yet:  # selection as on that day, before any follow-up
            due = {d.client.id for d in find_due(settings, day, store=nothing_yet).selection.due}
        assert due <= started, sorted(due - started)[:5]
    last = START + timedelta(days=DAYS - 1)
    for f in everything:
        if f.window_end < last - timedelta(days=settings.email.reply_wait_days + 2):
            assert f.state.ended, (f.id, f.state)
        if f.state.ended:
            assert f.record_filed, f.id
    states = Counter(f.state for f in everything)
    assert states[State.DONE] > 50 and states[State.CANCELLED] >= 1 and states[State.OPTED_OUT] >= 1
    outcomes = {f.outcome for f in everything if f.outcome}
    assert len(outcomes) == 5  # the four results of the seed and the complaint
    assert any(f.letter_at for f in everything) and any(f.emailed_at for f in everything)
    assert any(f.bounced_at for f in everything) and any(f.replied_at for f in everything)
    assert all(f.complaint_ack_due and f.complaint_answer_due for f in everything if f.outcome and
               f.outcome.value == "Réclamation")  # fmt: skip


def test_client_folders_hold_one_record_per_ended_follow_up(operated) -> None:
    settings, people, _ = operated
    everything = follow_ups(settings)
    records: Counter[str] = Counter()
    emails: Counter[str] = Counter()
    for adviser in people.advisers:
        clients = adviser.mail / "Clients"
        for folder in clients.iterdir() if clients.exists() else []:
            for message in adviser.messages("Clients", folder.name):
                key = str(message["X-M3mail-Key"])
                records[key.split("#")[0]] += key.endswith("#record")
                emails[key.split("#")[0]] += key.endswith("#file-email")
    for f in everything:
        if f.state.ended:
            assert records[f.id] == 1, f.id
        if f.emailed_at and f.state.ended:
            assert emails[f.id] == 1, f.id


def test_opted_out_clients_are_never_contacted_again(operated) -> None:
    settings, people, _ = operated
    everything = follow_ups(settings)
    stopped = {f.client.id for f in everything if f.state is State.OPTED_OUT}
    assert stopped
    for client in stopped:
        assert len([f for f in everything if f.client.id == client]) == 1


def test_status_adds_up(operated) -> None:
    settings, _people, summaries = operated
    statuses, everything = status(settings)
    assert sum(s.due for s in statuses) == len(everything)
    assert sum(sum(s.done.values()) for s in statuses) == len([f for f in everything if f.outcome])
    assert sum(s.started for s in summaries) == len(everything)

