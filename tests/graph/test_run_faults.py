"""Whole runs on the Microsoft 365 backend, with every Graph call failing once in turn, and the process killed
before and after every Graph request: the next run always leaves what an undisturbed run leaves.

A small agency (one adviser, three clients) lives four runs against the emulator: the calls are booked; one is
answered and its record filed, the others get a second attempt; those go unanswered and the clients are
emailed (the copies filed); one client replies, the other's email bounces (reply filed, letter, records). Each
run is replayed from the world as it stood before it:
- with the n-th Graph call (a request, or one request of a $batch) answered 429, 503, or its connection reset,
  for every n: the run, then a second one at the same time (what a failed action leaves is done then), must
  leave the calendars, mailboxes and follow-ups as the undisturbed run left them;
- with the process killed just before, or just after, its n-th HTTP request to Graph: a restarted run must
  leave the same, with no duplicate event, email, draft, folder, category or record.
"""

from __future__ import annotations

import copy
import csv
import io
import math
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests
from requests.adapters import HTTPAdapter

from m3mail.backends.microsoft365 import make_microsoft365
from m3mail.backends.microsoft365.backend import KEY_PROPERTY
from m3mail.commands import find_due, init_folder
from m3mail.job import run_once
from m3mail.settings import Settings, load_settings
from m3mail.state import StateStore
from tests.conftest import INIT_DAY
from tests.graph.agency import point_at
from tests.graph.emulator import Fault, GraphEmulator

PARIS = ZoneInfo("Europe/Paris")
ADVISER = "claire.martin@cabinet-exemple.fr"
SECRET = "a-secret"


class Killed(BaseException):
    """The process dies here (not an Exception: nothing in m3mail may catch it)."""


@dataclass
class Moment:
    """One run of the story, and the world just before it (emulator state, state database)."""

    now: datetime
    mailboxes: dict[str, Any]
    state: bytes
    after: tuple  # what the undisturbed run left: world(), follow_ups()
    calls: int = 0  # Graph calls the undisturbed run made (requests and $batch sub-requests)
    requests: int = 0  # HTTP requests it made


def agency(folder: Path, graph: GraphEmulator) -> Settings:
    """The sample folder cut down to one adviser and the three of her clients due last in their window."""
    init_folder(folder, INIT_DAY)
    path = folder / "m3mail.toml"
    point_at(path, graph, first_adviser_only=True)  # Claire only
    settings = load_settings(path)
    with StateStore(Path(":memory:")) as empty:
        due = [d for d in find_due(settings, INIT_DAY, store=empty).selection.due if d.adviser == ADVISER]
    chosen = {d.client.id for d in sorted(due, key=lambda d: (d.window_end, d.client.id))[-3:]}
    export = settings.portfolio.path
    rows = list(csv.reader(io.StringIO(export.read_text(encoding="utf-8-sig")), delimiter=";"))
    kept = [rows[0]] + [r for r in rows[1:] if r and r[0] in chosen]
    out = io.StringIO()
    csv.writer(out, delimiter=";", lineterminator="\r\n").writerows(kept)
    export.write_text(out.getvalue(), encoding="utf-8-sig")
    return settings


def world(graph: GraphEmulator) -> tuple:
    """What a user would see in the mailbox: events, folders, messages (by folder), categories."""
    box = graph.mailbox(ADVISER)
    names = {f["id"]: f["displayName"] for f in box.folders.values()}
    events = sorted((_key(e) or e.get("subject", ""), str(e["start"]), str(e["end"]), tuple(e.get("categories", ())))
                    for e in box.events.values())  # fmt: skip
    folders = sorted((names.get(f["parentFolderId"] or "", ""), f["displayName"]) for f in box.folders.values())
    messages = sorted((names.get(m.get("_folder", ""), "?"), _key(m) or m.get("subject", ""), bool(m.get("isDraft")))
                      for m in box.messages.values())  # fmt: skip
    categories = sorted(c["displayName"] for c in box.categories.values())
    return events, folders, messages, categories


def _key(item: dict[str, Any]) -> str | None:
    return next((p["value"] for p in item.get("singleValueExtendedProperties") or () if p["id"] == KEY_PROPERTY), None)


def follow_ups(settings: Settings) -> tuple:
    with StateStore(settings.state) as store:
        return tuple((f.id, f.state.value, f.outcome.value if f.outcome else "", len(f.attempts), f.email_filed,
                      len(f.replies_filed), f.record_filed, f.letter_at is not None)
                     for f in store.follow_ups())  # fmt: skip


def run(settings: Settings, now: datetime, transport: HTTPAdapter | None = None) -> dict[str, int]:
    """One run as the scheduled service makes it (a new process: a new backend), without sleeping; its Graph
    requests through ``transport`` when given."""
    backend = make_microsoft365(settings, transport=transport)
    backend.sleep = lambda _s: None
    try:
        return run_once(settings, now, backend=backend, sleep=lambda _s: None, echo=lambda _s: None).usage
    finally:
        backend.close()


def next_evening(after: datetime) -> datetime:
    """17:00 on the first weekday after ``after``."""
    day = after.astimezone(PARIS).date() + timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return datetime.combine(day, time(17), PARIS)


def people(graph: GraphEmulator, step: int, now: datetime) -> None:
    """What the adviser and the clients do after run ``step`` (at ``now``)."""
    box = graph.mailbox(ADVISER)
    if step in (0, 1):  # the adviser makes the calls: the first client answers (satisfied), the others do not
        calls = sorted((e for e in box.events.values() if _key(e) and e.get("categories") == ["M+3"]), key=_key)
        for n, event in enumerate(calls):
            outcome = "M+3 Satisfait" if step == 0 and n == 0 else "M+3 Injoignable"
            graph.update_event(ADVISER, event["id"], {"categories": [outcome]})
    if step == 2:  # one client replies, the other's mail server bounces the email
        sent = sorted((m for m in box.messages.values() if (_key(m) or "").endswith("#email")), key=_key)
        assert len(sent) == 2, "two clients emailed"
        graph.client_reply(ADVISER, sent[0]["id"], "Bonjour, tout va bien, merci.", when=now + timedelta(hours=2))
        graph.bounce(ADVISER, sent[1]["id"], when=now + timedelta(minutes=5))


def _last_call_end(graph: GraphEmulator) -> datetime:
    ends = [datetime.fromisoformat(str(e["end"]["dateTime"])[:19]).replace(tzinfo=ZoneInfo(e["end"]["timeZone"]))
            for e in graph.mailbox(ADVISER).events.values()]  # fmt: skip
    return max(ends)


class Counting:
    """Counts the Graph calls the emulator serves (requests and $batch sub-requests) and fails the n-th."""

    def __init__(self, graph: GraphEmulator, n: int = 0, **fault: Any):
        self.graph, self.n, self.fault, self.seen = graph, n, fault, 0
        self.original = graph._fault_for
        self.lock = threading.Lock()

    def __call__(self, method: str, path: str) -> Fault | None:
        with self.lock:
            self.seen += 1
            if self.seen == self.n:
                return Fault(method, path, **self.fault)
        return self.original(method, path)


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[GraphEmulator, Settings, list[Moment]]]:
    mp = pytest.MonkeyPatch()
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "M3MAIL_EMULATOR_LOG"):
        mp.delenv(name, raising=False)
    mp.setenv("M3MAIL_CLIENT_SECRET", SECRET)
    folder = tmp_path_factory.mktemp("faults")
    graph = GraphEmulator(mailboxes=(ADVISER,))
    graph.start(folder=folder / "tls")
    settings = agency(folder / "agence", graph)
    moments: list[Moment] = []
    now = datetime.combine(INIT_DAY, time(17), PARIS)
    for step in range(4):
        before = Moment(now, copy.deepcopy(graph.mailboxes), _state_bytes(settings), ())
        counter = Counting(graph)
        graph._fault_for = counter
        usage = run(settings, now)
        graph._fault_for = counter.original
        before.calls, before.requests = counter.seen, usage.get("requests", 0)
        before.after = (world(graph), follow_ups(settings))
        moments.append(before)
        people(graph, step, now)
        now = next_evening(max(now, _last_call_end(graph)))
    try:
        yield graph, settings, moments
    finally:
        graph.stop()
        mp.undo()


def _state_bytes(settings: Settings) -> bytes:
    return settings.state.read_bytes() if settings.state.exists() else b""


def _restore(graph: GraphEmulator, settings: Settings, moment: Moment) -> None:
    graph.mailboxes = copy.deepcopy(moment.mailboxes)
    graph.faults.clear()
    if moment.state:
        settings.state.write_bytes(moment.state)
    else:
        settings.state.unlink(missing_ok=True)


def test_the_story_does_what_the_process_says(story) -> None:
    """The undisturbed story itself: booked, answered, second attempts, emails, a reply, a bounce, all filed."""
    graph, settings, moments = story
    states = {s[0]: s for s in moments[-1].after[1]}
    assert len(states) == 3
    assert sorted(s[1] for s in states.values()) == ["done", "done", "done"]
    assert sum(s[7] for s in states.values()) == 1  # the bounced client gets a letter
    assert all(s[6] for s in states.values())  # every record filed
    events, folders, messages, categories = moments[-1].after[0]
    assert len(events) == 5  # three first calls, two second attempts
    assert [m for m in messages if m[2]] == []  # no draft left behind
    assert len({c.lower() for c in categories}) == len(categories) >= 7
    assert all(m.calls > 0 for m in moments)


@pytest.mark.parametrize("kind", [{"status": 429, "retry_after": 1}, {"status": 503}, {"drop": True}],
                         ids=["429", "503", "reset"])  # fmt: skip
@pytest.mark.parametrize("step", range(4))
def test_every_graph_call_failing_once_in_turn(story, step: int, kind: dict[str, Any]) -> None:
    graph, settings, moments = story
    moment = moments[step]
    for n in range(1, moment.calls + 1):
        _restore(graph, settings, moment)
        graph._fault_for = Counting(graph, n, **kind)
        try:
            run(settings, moment.now)
        finally:
            graph._fault_for = graph._fault_for.original
        run(settings, moment.now)  # what failed is done by the next run
        assert (world(graph), follow_ups(settings)) == moment.after, f"call {n} failing ({kind})"


@pytest.mark.parametrize("delay", [False, True], ids=["", "sent-items-delay"])
@pytest.mark.parametrize("after", [False, True], ids=["before", "after"])
@pytest.mark.parametrize("step", range(4))
def test_killed_before_or_after_every_graph_request(story, step: int, after: bool, delay: bool) -> None:
    """With ``delay``, a sent email's copy reaches Sent Items only after the restarted run (message-send: it "may
    take time"): that run must send nothing again, and the one after the copy appears records it."""
    graph, settings, moments = story
    moment = moments[step]
    for n in range(1, moment.requests + 1):
        _restore(graph, settings, moment)
        graph.sent_items_delay = math.inf if delay else 0.0
        with pytest.raises(Killed):
            run(settings, moment.now, transport=Dying(n, after))
        run(settings, moment.now)  # the restarted service
        if delay:
            graph.sent_items_delay = 0.0
            graph.complete_sends()  # the copies appear
            run(settings, moment.now)  # the next run records what was waiting for them
        assert (world(graph), follow_ups(settings)) == moment.after, f"killed {'after' if after else 'before'} {n}"


class Dying(HTTPAdapter):
    """requests' own transport for the Graph requests (the backend mounts it on graph_url: the sign-in service
    is not counted), until the n-th: then the process dies, before it is sent or after its answer came."""

    def __init__(self, n: int, after: bool):
        super().__init__()
        self.n, self.after, self.seen = n, after, 0

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        self.seen += 1
        if self.seen == self.n and not self.after:
            raise Killed(f"before request {self.n}")
        response = super().send(request, *args, **kwargs)
        if self.seen == self.n and self.after:
            raise Killed(f"after request {self.n}")
        return response

