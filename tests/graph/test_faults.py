"""Graph throttles and fails; the backend rides it out, waiting as told, without sleeping in the tests."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from m3mail.backends.microsoft365.backend import Microsoft365Backend
from m3mail.errors import BackendError
from m3mail.models import CallSpec, MailSpec
from tests.graph.conftest import ADVISER
from tests.graph.emulator import GraphEmulator

START = datetime(2026, 11, 25, 10, tzinfo=ZoneInfo("Europe/Paris"))


@pytest.fixture
def naps(backend: Microsoft365Backend) -> list[float]:
    slept: list[float] = []
    backend.sleep = slept.append  # the waits the backend asked for, instead of sleeping
    return slept


def call(key: str) -> CallSpec:
    return CallSpec(key, START, START + timedelta(minutes=20), "M+3 · Mme DUPONT · IARD", "b", "<p>b</p>", 15, ("M+3",))


def test_a_429_is_retried_after_the_time_graph_asks(backend, graph: GraphEmulator, naps) -> None:
    graph.fail("GET", r"/events$", status=429, retry_after=7)
    assert backend.calls(ADVISER, ["M3-C1#call1"]) == {}
    assert naps == [7.0]


def test_503_and_504_are_retried_with_growing_waits(backend, graph: GraphEmulator, naps) -> None:
    graph.fail("GET", r"/calendarView$", status=503)
    graph.fail("GET", r"/calendarView$", status=504)
    assert backend.events(ADVISER, START, START + timedelta(days=1)) == []
    assert naps == [1, 2]


def test_a_dropped_connection_is_retried_for_an_event_graph_deduplicates(backend, graph: GraphEmulator, naps) -> None:
    graph.fail("POST", r"/events$", drop=True)
    backend.create_call(ADVISER, call("M3-C1#call1"))
    assert len(graph.mailbox(ADVISER).events) == 1 and len(naps) == 1


def test_a_dropped_draft_creation_is_left_to_the_executors_resume(backend, graph: GraphEmulator, naps) -> None:
    mail = MailSpec("M3-C1#email", ADVISER, ("client@example.com",), "Bonjour", "t", "<p>t</p>")
    graph.fail("POST", r"/messages$", drop=True)
    with pytest.raises(BackendError) as caught:
        backend.send(ADVISER, mail)
    assert caught.value.retryable and naps == []  # not repeated blindly: it may have been created
    backend.send(ADVISER, mail, resume=True)  # the next try looks first
    sent = [m for m in graph.mailbox(ADVISER).messages.values() if not m["isDraft"]]
    assert len(sent) == 1


def test_the_waiting_is_bounded(backend, graph: GraphEmulator, naps) -> None:
    backend.max_wait = 60
    graph.fail("GET", r"/events$", status=429, retry_after=45, times=5)
    with pytest.raises(BackendError) as caught:
        backend.calls(ADVISER, ["M3-C1#call1"])
    assert caught.value.status == 429 and naps == [45.0]  # a second 45 s wait would pass the 60 s bound
