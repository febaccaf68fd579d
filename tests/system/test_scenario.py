"""Three months of operation on the sample data, day by day, on each backend: the local one, and Microsoft 365
against the Graph emulator.

Between runs, advisers act on their calendars (outcomes, notes, moved and deleted calls) and clients on their
email (replies, STOP, bounces), as people would, through a ``Desk`` (tests/people.py for the local files,
tests/graph/people.py for the emulator's mailboxes). Their choices are drawn from the follow-up keys, so that
both backends see the same people. At the end the calendars, mailboxes and state are checked for what a user
cares about: every call well placed, nothing twice, nothing lost, every ended follow-up documented in its client
folder; and both backends must end with the same follow-ups in the same states.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from m3mail.commands import find_due, init_folder, status
from m3mail.job import RunSummary, run_once
from m3mail.models import FollowUp, State
from m3mail.planning import client_subdivision, client_timezone, is_business_day
from m3mail.portfolio import PortfolioReader
from m3mail.settings import Settings, load_settings
from m3mail.state import StateStore
from tests.graph.agency import point_at
from tests.graph.emulator import GraphEmulator
from tests.graph.people import GraphAdviser
from tests.people import Adviser, Desk, Sent

PARIS = ZoneInfo("Europe/Paris")
START = date(2026, 9, 7)  # a Monday; the sample's due dates spread over the three months after it
DAYS = 100
OUTCOMES = [(25, "M+3 Satisfait"), (31, "M+3 Besoin"), (37, "M+3 Question"), (42, "M+3 Changement"),
            (47, "m+3 reclamation"), (92, "M+3 Injoignable")]  # fmt: skip  # the rest: no outcome ever
BACKENDS = ("local", "microsoft365")
SECRET = "scenario-secret"


def roll(*parts: object) -> int:
    """A stable 0-99 draw per item: the same people make the same choices at every test run, on every backend."""
    return int(hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest(), 16) % 100


class People:
    """Everything advisers and clients do between two runs, at their desks."""

    def __init__(self, desks: list[Desk]):
        self.advisers = desks
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
            for sent in adviser.sent(skip=self.seen_files):
                self.seen_files.add(sent.id)
                self._mail(adviser, sent, now)

    def _call(self, adviser: Desk, cal, call, now: datetime) -> None:
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

    def _mail(self, adviser: Desk, sent: Sent, now: datetime) -> None:
        if sent.key in self.seen_mail:
            return
        self.seen_mail.add(sent.key)
        choice = roll(sent.key, "mail")
        if choice < 40:
            adviser.reply_to(sent, "Bonjour, tout va bien, merci de votre appel.", now + timedelta(hours=2))
        elif choice < 50:
            adviser.reply_to(sent, "STOP", now + timedelta(hours=2))
            self.stops.add(sent.key.split("#")[0])
        elif choice < 62:
            adviser.bounce(sent, now + timedelta(minutes=5))


@dataclass
class Operated:
    """One backend's three months: the settings, the people at their desks, each run's summary."""

    backend: str
    settings: Settings
    people: People
    summaries: list[RunSummary]


class Scenarios:
    """Each backend's three months, operated once per module (the comparison of the two reuses them)."""

    def __init__(self, factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
        self.factory, self.monkeypatch = factory, monkeypatch
        self.done: dict[str, Operated] = {}
        self.emulators: list[GraphEmulator] = []

    def __getitem__(self, backend: str) -> Operated:
        if backend not in self.done:
            self.done[backend] = self._operate(backend)
        return self.done[backend]

    def _operate(self, backend: str) -> Operated:
        folder = self.factory.mktemp(f"scenario-{backend}") / "agence"
        init_folder(folder, START + timedelta(days=45))
        if backend == "microsoft365":
            settings = self._on_emulator(folder)
            desks = [GraphAdviser(self.emulators[-1], a.email, a.timezone) for a in settings.advisers]
        else:
            settings = load_settings(folder / "m3mail.toml")
            desks = [Adviser(settings.local.root, a.email) for a in settings.advisers]
        people = People(desks)
        summaries = []
        for offset in range(DAYS):  # one run a day, at 17:00; the people act in the evening
            now = datetime.combine(START + timedelta(days=offset), time(17), PARIS)
            summaries.append(run_once(settings, now, sleep=lambda _s: None, echo=lambda _s: None))
            people.act(now + timedelta(hours=4))
        return Operated(backend, settings, people, summaries)

    def _on_emulator(self, folder: Path) -> Settings:
        """The settings pointed at a fresh emulator holding the advisers' mailboxes, as an admin would write them."""
        sample = load_settings(folder / "m3mail.toml")
        mailboxes = [a.email for a in sample.advisers] + ([sample.filing.mailbox] if sample.filing.mailbox else [])
        graph = GraphEmulator(mailboxes=tuple(mailboxes))
        graph.start(folder=folder.parent / "tls")
        self.emulators.append(graph)
        path = folder / "m3mail.toml"
        point_at(path, graph)
        settings = load_settings(path)
        self.monkeypatch.setenv(settings.microsoft365.client_secret_env, SECRET)
        return settings

    def close(self) -> None:
        for graph in self.emulators:
            graph.stop()


@pytest.fixture(scope="module")
def scenarios(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scenarios]:
    with pytest.MonkeyPatch.context() as monkeypatch:
        # requests lets these override the CA file of the settings; the machine sets them (tests/graph/conftest.py)
        for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "M3MAIL_EMULATOR_LOG"):
            monkeypatch.delenv(name, raising=False)
        runs = Scenarios(tmp_path_factory, monkeypatch)
        try:
            yield runs
        finally:
            runs.close()


@pytest.fixture(scope="module", params=BACKENDS)
def operated(request: pytest.FixtureRequest, scenarios: Scenarios) -> tuple[Settings, People, list[RunSummary]]:
    run = scenarios[request.param]
    return run.settings, run.people, run.summaries


def follow_ups(settings: Settings):
    with StateStore(settings.state) as store:
        return store.follow_ups()


def test_nothing_is_made_twice(operated) -> None:
    settings, people, _ = operated
    for adviser in people.advisers:
        uids = [uid for _s, _e, uid in adviser.events()]
        assert len(uids) == len(set(uids)), adviser.email
        calls = Counter(c.key for c in adviser.calls())
        assert all(n == 1 for n in calls.values()), calls.most_common(3)
        keys = Counter(adviser.keys("Sent"))
        assert all(n == 1 for n in keys.values()), keys.most_common(3)
        digests = Counter(key for key in adviser.keys("Inbox") if key)
        assert all(n == 1 for n in digests.values())


def test_every_call_is_well_placed(operated) -> None:
    settings, people, _ = operated
    by_key = {f.call_key: f for f in follow_ups(settings)}
    by_attempt = {f"{f.id}#call{i + 1}": f for f in follow_ups(settings) for i in range(len(f.attempts))}
    # where each client lives, from the export: a closed follow-up keeps no address in the state
    postal = {r.client.id: r.client.postal_code for r in PortfolioReader(
        settings.portfolio.path, settings.portfolio, [a.email for a in settings.advisers]).records()}  # fmt: skip
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
            client_zone = ZoneInfo(client_timezone(postal[f.client.id]))
            local = call.start.astimezone(client_zone)
            assert f.window_start <= start.date() <= f.window_end, call.key
            subdivisions = [conf.holidays, client_subdivision(postal[f.client.id])]
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
        for folder in adviser.client_folders():
            for key in adviser.keys("Clients", folder):
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


def test_the_advisers_notes_reach_the_follow_ups_as_they_typed_them(operated) -> None:
    settings, _people, _ = operated
    everything = follow_ups(settings)
    assert any(f.notes for f in everything)
    for f in everything:
        if f.minimised:  # closed: the notes are in its record, in the client folder, and erased from the state
            assert f.notes == "" and f.record_filed, f.id
            continue
        lines = f.notes.splitlines()
        assert all(re.fullmatch(rf"Appel passé \({re.escape(f.id)}#call\d\)", line) for line in lines), (f.id, f.notes)
        assert lines or not f.outcome, f.id  # every outcome came with a note


# --- both backends, the same results ---------------------------------------------------------------------


def results(settings: Settings) -> dict[str, tuple]:
    """What became of each follow-up: its state and outcome, and the steps that led there (not the notes, see
    above, nor the backends' own message ids)."""

    def result(f: FollowUp) -> tuple:
        return (f.state, f.outcome, f.call_at, f.attempts, f.emailed_at, f.letter_at, f.replied_at, f.bounced_at,
                f.ended_at, f.complaint_ack_due, f.complaint_answer_due, f.email_filed, len(f.replies_filed),
                f.record_filed)  # fmt: skip

    return {f.id: result(f) for f in follow_ups(settings)}


def test_both_backends_end_with_the_same_follow_ups_in_the_same_states(scenarios: Scenarios) -> None:
    local, graph = (follow_ups(scenarios[b].settings) for b in BACKENDS)
    assert {f.id for f in graph} == {f.id for f in local}
    assert Counter((f.state, f.outcome) for f in graph) == Counter((f.state, f.outcome) for f in local)
    ours, theirs = (results(scenarios[b].settings) for b in BACKENDS)
    differing = {fid: (ours[fid], theirs[fid]) for fid in ours if ours[fid] != theirs[fid]}
    assert not differing, list(differing.items())[:3]


def desks(run: Operated) -> dict[str, dict[str, object]]:
    """What each adviser sees in their calendar and mailbox: the calls (where, with which category), the keys of
    the emails sent, of the digests, and of what each client folder holds."""

    def filed(key: str) -> str:
        return re.sub(r"#reply-\w+", "#reply", key)  # a reply's key holds its Message-ID's digest

    return {desk.email: {
        "calls": {c.key: (c.start, c.end, c.categories) for c in desk.calls()},
        "sent": sorted(desk.keys("Sent")),
        "digests": sorted(key for key in desk.keys("Inbox") if key),
        "answers": len([key for key in desk.keys("Inbox") if not key]),
        "clients": {folder: sorted(map(filed, desk.keys("Clients", folder))) for folder in desk.client_folders()},
    } for desk in run.people.advisers}  # fmt: skip


def test_both_backends_leave_the_same_calendars_and_mailboxes(scenarios: Scenarios) -> None:
    local, graph = (desks(scenarios[b]) for b in BACKENDS)
    for adviser, seen in local.items():
        for part, value in seen.items():
            assert graph[adviser][part] == value, (adviser, part)


def test_both_backends_report_the_same_runs(scenarios: Scenarios) -> None:
    def report(summary: RunSummary) -> tuple:
        advisers = {a: (r.booked, r.outcomes, r.emailed, r.letters, r.filed, r.missing_slots, r.errors)
                    for a, r in summary.advisers.items()}  # fmt: skip
        return summary.started, summary.rejected_rows, summary.errors, advisers

    local, graph = ([report(s) for s in scenarios[b].summaries] for b in BACKENDS)
    for day, (ours, theirs) in enumerate(zip(local, graph, strict=True)):
        assert theirs == ours, START + timedelta(days=day)


def test_graph_requests_per_follow_up_stay_within_the_budget(operated) -> None:
    """At most 5 writes per follow-up over its whole life (booking to filed record); reads, per adviser and
    run, are amortised. The $batch requests carry the writes: fewer HTTP requests still."""
    settings, _people, summaries = operated
    if settings.backend != "microsoft365":
        pytest.skip("Graph requests: the microsoft365 backend only")
    everything = follow_ups(settings)
    total = Counter[str]()
    for summary in summaries:
        total.update(summary.usage)
    writes_per_follow_up = total["writes"] / len(everything)
    print(f"\n{len(everything)} follow-ups over {len(summaries)} days: {total['requests']} Graph requests "
          f"({total['operations']} operations, {total['writes']} writes, {total['batched']} of them in "
          f"{total['batches']} $batch requests): {total['requests'] / len(everything):.2f} requests, "
          f"{writes_per_follow_up:.2f} writes per follow-up")  # fmt: skip
    assert 0 < writes_per_follow_up <= 5
    assert total["batches"] > 0 and total["requests"] < total["operations"]
