"""Graph throttles and fails; the backend rides it out, waiting as told, without sleeping in the tests, and never
writes twice what Graph does not de-duplicate.

Sources (shared/graph README and tests/graph/microsoft/README.md): concepts/throttling.md ("Wait the number of
seconds specified in the Retry-After header", its sample answers ``Retry-After: 2.128``; no header: back off
exponentially); microsoft-graph-docs#3877 (``0.249`` inside $batch answers); RFC 9110 section 10.2.3 (an
HTTP-date); concepts/errors.md (503: "You may repeat the request after a delay"; 504: a gateway got no answer
in time, so the request may have been carried out).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from m3mail.backends.microsoft365.backend import KEY_PROPERTY, Microsoft365Backend
from m3mail.errors import BackendError
from m3mail.models import CallSpec, MailSpec
from tests.graph.conftest import ADVISER
from tests.graph.emulator import GraphEmulator, http_date

START = datetime(2026, 11, 25, 10, tzinfo=ZoneInfo("Europe/Paris"))
FOLDER = ("Clients", "DUPONT Jean (C1)")


@pytest.fixture
def naps(backend: Microsoft365Backend) -> list[float]:
    slept: list[float] = []
    backend.sleep = slept.append  # the waits the backend asked for, instead of sleeping
    return slept


def call(key: str) -> CallSpec:
    return CallSpec(key, START, START + timedelta(minutes=20), "M+3 · Mme DUPONT · IARD", "b", "<p>b</p>", 15, ("M+3",))


def mail(key: str = "M3-C1#email") -> MailSpec:
    return MailSpec(key, ADVISER, ("client@example.com",), "Bonjour", "t", "<p>t</p>")


def keyed(graph: GraphEmulator, key: str) -> list[dict]:
    return [m for m in graph.mailbox(ADVISER).messages.values()
            if any(p["id"] == KEY_PROPERTY and p["value"] == key for p in m.get("singleValueExtendedProperties", []))]


# --- Retry-After, in every form -------------------------------------------------------------------------------


@pytest.mark.parametrize("after, wait", [(7, 7.0), ("2.128", 2.128), ("0.249", 0.249)])
def test_a_429_is_retried_after_the_time_graph_asks(backend, graph: GraphEmulator, naps, after, wait) -> None:
    graph.fail("GET", r"/calendarView$", status=429, retry_after=after)
    assert backend.events(ADVISER, START, START + timedelta(days=1)) == []
    assert naps == [wait]


def test_a_retry_after_given_as_an_http_date_is_counted_from_the_answers_date(backend, graph, naps) -> None:
    graph.fail("GET", r"/calendarView$", status=503, retry_after=http_date(30))
    backend.events(ADVISER, START, START + timedelta(days=1))
    assert len(naps) == 1 and 29 <= naps[0] <= 31


@pytest.mark.parametrize("after, wait", [("0.249", 0.249), ("3", 3.0)])
def test_each_request_of_a_batch_waits_what_its_own_answer_asks(backend, graph, naps, after, wait) -> None:
    graph.fail("POST", r"/events$", status=429, retry_after=after)  # one sub-request of the batch throttled
    made = backend.create_calls(ADVISER, [(call("M3-C1#call1"), False), (call("M3-C2#call1"), False)])
    assert not [m for m in made if isinstance(m, BackendError)] and len(graph.mailbox(ADVISER).events) == 2
    assert naps == [wait]


def test_a_batch_request_s_retry_after_given_as_an_http_date_is_counted_from_the_batch_s_date(backend, graph,
                                                                                             naps) -> None:  # fmt: skip
    graph.fail("POST", r"/events$", status=503, retry_after=http_date(20))  # a sub-response carries no Date
    made = backend.create_calls(ADVISER, [(call("M3-C1#call1"), False), (call("M3-C2#call1"), False)])
    assert not [m for m in made if isinstance(m, BackendError)]
    assert len(naps) == 1 and 19 <= naps[0] <= 21


def test_503_and_504_on_a_read_are_retried_with_growing_waits(backend, graph: GraphEmulator, naps) -> None:
    graph.fail("GET", r"/calendarView$", status=503)
    graph.fail("GET", r"/calendarView$", status=504)
    assert backend.events(ADVISER, START, START + timedelta(days=1)) == []
    assert naps == [1, 2]


def test_the_waiting_is_bounded(backend, graph: GraphEmulator, naps) -> None:
    backend.max_wait = 60
    graph.fail("GET", r"/calendarView$", status=429, retry_after=45, times=5)
    with pytest.raises(BackendError) as caught:
        backend.events(ADVISER, START, START + timedelta(days=1))
    assert caught.value.status == 429 and naps == [45.0]  # a second 45 s wait would pass the 60 s bound


def test_a_batch_waits_under_the_same_bound_once_not_twice(backend, graph: GraphEmulator, naps) -> None:
    """One policy for the batch and its requests: throttled answers inside it and a throttled batch share it."""
    backend.max_wait = 60
    graph.fail("POST", r"/\$batch$", status=429, retry_after=20)  # the batch as a whole, first
    graph.fail("POST", r"/events$", status=429, retry_after=30, times=10)  # then its requests, each time
    made = backend.create_calls(ADVISER, [(call("M3-C1#call1"), False), (call("M3-C2#call1"), False)])
    assert all(isinstance(m, BackendError) and m.status == 429 for m in made)
    assert naps == [20.0, 30.0] and sum(naps) <= 60


# --- writes after a lost answer ----------------------------------------------------------------------------


def test_a_dropped_event_creation_is_retried_graph_deduplicates_it(backend, graph: GraphEmulator, naps) -> None:
    graph.fail("POST", r"/events$", drop=True, executed=True)  # made, and the answer lost
    backend.create_call(ADVISER, call("M3-C1#call1"))
    assert len(graph.mailbox(ADVISER).events) == 1 and len(naps) == 1


@pytest.mark.parametrize("fault", [{"status": 504}, {"drop": True}], ids=["504", "reset"])
@pytest.mark.parametrize("executed", [True, False], ids=["carried-out", "not-carried-out"])
def test_a_draft_whose_answer_was_lost_is_looked_for_before_it_is_made_again(backend, graph, naps, fault,
                                                                            executed) -> None:  # fmt: skip
    graph.fail("POST", r"/messages$", executed=executed, **fault)
    backend.send(ADVISER, mail())
    (sent,) = keyed(graph, "M3-C1#email")  # one message: made once, sent once
    assert sent["isDraft"] is False and naps == []  # no blind retry: a look-up instead


@pytest.mark.parametrize("fault", [{"status": 504}, {"drop": True}], ids=["504", "reset"])
@pytest.mark.parametrize("executed", [True, False], ids=["carried-out", "not-carried-out"])
def test_a_send_whose_answer_was_lost_is_checked_before_it_is_asked_again(backend, graph, naps, fault,
                                                                         executed) -> None:  # fmt: skip
    graph.fail("POST", r"/send$", executed=executed, **fault)
    backend.send(ADVISER, mail())
    (sent,) = keyed(graph, "M3-C1#email")
    assert sent["isDraft"] is False and sent["_sends"] == 1  # sent exactly once


@pytest.mark.parametrize("executed", [True, False], ids=["carried-out", "not-carried-out"])
def test_a_filed_message_or_a_note_whose_answer_was_lost_is_not_filed_twice(backend, graph, naps, executed) -> None:
    backend.folder(ADVISER, FOLDER)
    graph.fail("POST", r"/mailFolders/[^/]+/messages$", status=504, executed=executed)
    backend.file(ADVISER, FOLDER, mail("M3-C1#record"))
    graph.fail("POST", r"/mailFolders/inbox/messages$", drop=True, executed=executed)
    backend.notify(ADVISER, mail("digest:a:2026-11-25"))
    assert len(keyed(graph, "M3-C1#record")) == 1 and len(keyed(graph, "digest:a:2026-11-25")) == 1


def test_a_write_lost_twice_fails_to_the_executor_which_looks_first_next_time(backend, graph, naps) -> None:
    graph.fail("POST", r"/messages$", status=504)  # not carried out: the look-up finds nothing, so it is made again
    graph.fail("POST", r"/messages$", status=504, executed=True)  # carried out, the answer lost again
    with pytest.raises(BackendError) as caught:
        backend.send(ADVISER, mail())
    assert caught.value.retryable and caught.value.maybe_done
    assert [m["isDraft"] for m in keyed(graph, "M3-C1#email")] == [True]
    backend.send(ADVISER, mail(), resume=True)  # the executor's next try: the draft found, and sent
    assert [m["isDraft"] for m in keyed(graph, "M3-C1#email")] == [False]
