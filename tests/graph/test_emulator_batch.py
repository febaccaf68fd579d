"""JSON batching and the per-mailbox concurrency limit, as Graph documents and applies them (shared/graph README:
"$batch", "Outlook limits", "concurrency error")."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.graph.conftest import ADVISER
from tests.graph.emulator import GraphEmulator, Mailbox
from tests.graph.test_emulator import event, session

OTHER = "thomas.bernard@cabinet-exemple.fr"
JSON = {"Content-Type": "application/json"}


@pytest.fixture
def s(graph: GraphEmulator) -> requests.Session:
    return session(graph)


def get(n: int, user: str = ADVISER, path: str = "/events") -> dict:
    return {"id": str(n), "method": "GET", "url": f"/users/{user}{path}"}


def batch(graph: GraphEmulator, s: requests.Session, *items: dict) -> dict[str, dict]:
    reply = s.post(f"{graph.base_url}/v1.0/$batch", json={"requests": list(items)})
    assert reply.status_code == 200, reply.text
    return {r["id"]: r for r in reply.json()["responses"]}


def statuses(responses: dict[str, dict]) -> dict[str, int]:
    return {ident: r["status"] for ident, r in responses.items()}


def test_a_batch_answers_each_request_by_its_id(graph, s) -> None:
    created = {"id": "new", "method": "POST", "url": f"/users/{ADVISER}/events", "body": event("M3-C1#call1"),
               "headers": JSON}  # fmt: skip
    found = batch(graph, s, created, {**get(2), "url": f"users/{ADVISER}/events?$select=subject"})  # no leading /
    assert statuses(found) == {"new": 201, "2": 200}
    assert found["new"]["body"]["transactionId"] == "M3-C1#call1"
    assert found["2"]["headers"]["Content-Type"].startswith("application/json")
    assert [set(e) for e in found["2"]["body"]["value"]] in ([], [{"id", "@odata.etag", "subject"}])


def test_six_parallel_requests_to_one_mailbox_get_two_throttled(graph, s) -> None:
    found = batch(graph, s, *(get(n) for n in range(6)))
    throttled = [r for r in found.values() if r["status"] == 429]
    assert len(throttled) == 2 and sum(r["status"] == 200 for r in found.values()) == 4
    for r in throttled:
        assert r["headers"]["Retry-After"] == "1"
        assert r["body"]["error"] == {**r["body"]["error"], "code": "ApplicationThrottled",
                                      "message": "Application is over its MailboxConcurrency limit."}  # fmt: skip
    assert graph.peak_concurrency[ADVISER] == 6  # the client asked for six at once


def test_the_limit_counts_per_mailbox(graph, s) -> None:
    graph.mailboxes[OTHER] = Mailbox(OTHER)
    found = batch(graph, s, *(get(n, ADVISER) for n in range(4)), *(get(n, OTHER.upper()) for n in range(4, 8)))
    assert set(statuses(found).values()) == {200}
    assert graph.peak_concurrency == {ADVISER: 4, OTHER: 4}  # the address in the path, without regard to case


def chain(*items: dict) -> list[dict]:
    """The requests as one sequential chain: each depends on the one before."""
    return [items[0]] + [{**item, "dependsOn": [before["id"]]} for before, item in zip(items, items[1:], strict=False)]


@pytest.mark.parametrize(
    "depends",
    [
        {"3": ["2"]},  # parallel requests, then one that depends on another: a mix
        {"2": ["1"], "3": ["1"]},  # a fork: two requests depend on the same one
        {"2": ["1"], "3": ["1", "2"]},  # two dependencies
    ],
)
def test_a_batch_neither_fully_parallel_nor_fully_sequential_is_refused_whole(graph, s, depends) -> None:
    """json-batching TIP: "Batch should be either fully sequential or fully parallel"; Graph refuses a mix."""
    created = {"id": "1", "method": "POST", "url": f"/users/{ADVISER}/events", "body": event("M3-C1#call1"),
               "headers": JSON}  # fmt: skip
    items = [created, *(get(n) for n in (2, 3))]
    items = [{**i, **({"dependsOn": depends[i["id"]]} if i["id"] in depends else {})} for i in items]
    reply = s.post(f"{graph.base_url}/v1.0/$batch", json={"requests": items})
    assert reply.status_code == 400
    error = reply.json()["error"]
    assert error["code"] == "BadRequest" and "fully sequential or fully parallel" in error["message"]
    assert set(error["innerError"]) >= {"request-id", "date"}
    assert graph.mailbox(ADVISER).events == {}  # nothing ran


def test_a_sequential_batch_runs_one_request_at_a_time_in_order(graph, s) -> None:
    found = batch(graph, s, *chain(*(get(n) for n in range(6))))
    assert statuses(found) == {str(n): 200 for n in range(6)}
    assert list(found) == [str(n) for n in range(6)]
    assert graph.peak_concurrency[ADVISER] == 1  # never two in flight: the 4-request limit is never met


def test_after_a_failed_step_of_a_chain_every_later_one_fails_with_424(graph, s) -> None:
    missing = get(2, path="/events/AAMkEvunknown")
    made = {"id": "3", "method": "POST", "url": f"/users/{ADVISER}/events", "body": event("M3-C1#call1"),
            "headers": JSON}  # fmt: skip
    found = batch(graph, s, *chain(get(1), missing, made, get(4)))
    assert statuses(found) == {"1": 200, "2": 404, "3": 424, "4": 424}
    assert found["3"]["body"]["error"]["code"] == "FailedDependency"
    assert graph.mailbox(ADVISER).events == {}  # the write after the failure never ran


def test_a_parallel_batch_is_answered_in_an_order_of_its_own(graph, s) -> None:
    reply = s.post(f"{graph.base_url}/v1.0/$batch", json={"requests": [get(n) for n in range(3)]})
    assert [r["id"] for r in reply.json()["responses"]] != ["0", "1", "2"]  # "might appear in a different order"


@pytest.mark.parametrize(
    "items, words",
    [
        ([get(n) for n in range(21)], "limit is 20"),
        ([get(1), get(1)], "used more than once"),
        ([{**get(1), "dependsOn": ["2"]}, get(2)], "Forward reference is not allowed"),
        ([{"id": "1", "method": "POST", "url": f"/users/{ADVISER}/events", "body": event("M3-C1#call1")}],
         "does not contain Content-Type header or body"),
        ([{"id": "1", "method": "POST", "url": f"/users/{ADVISER}/messages/AAMk/send"}],
         "does not contain Content-Type header or body"),
        ([{**get(1), "url": f"https://graph.microsoft.com/v1.0/users/{ADVISER}/events"}], "must be relative"),
    ],
)  # fmt: skip
def test_a_malformed_batch_fails_whole_with_400(graph, s, items, words) -> None:
    reply = s.post(f"{graph.base_url}/v1.0/$batch", json={"requests": items})
    assert reply.status_code == 400
    assert reply.json()["error"]["code"] == "BadRequest" and words in reply.json()["error"]["message"]
    assert graph.mailbox(ADVISER).events == {}


def test_sub_requests_meet_injected_faults_one_by_one(graph, s) -> None:
    graph.fail("GET", r"/calendarView$", status=503, retry_after=3)
    window = "/calendarView?startDateTime=2026-11-25T00:00:00Z&endDateTime=2026-11-26T00:00:00Z"
    found = batch(graph, s, get(1, path=window), get(2, path=window))
    assert statuses(found) == {"1": 503, "2": 200} and found["1"]["headers"]["Retry-After"] == "3"


def test_a_dropped_sub_request_drops_the_whole_batch(graph, s) -> None:
    graph.fail("GET", r"/events$", drop=True)
    with pytest.raises(requests.ConnectionError):
        s.post(f"{graph.base_url}/v1.0/$batch", json={"requests": [get(1)]})


def test_sub_requests_carry_their_own_prefer_header(graph, s) -> None:
    graph.create_event(ADVISER, event("M3-C1#call1"))
    paris = {"Prefer": 'outlook.timezone="Europe/Paris"'}
    found = batch(graph, s, {**get(1), "headers": paris}, get(2))
    assert found["1"]["body"]["value"][0]["start"]["dateTime"].startswith("2026-11-25T10:00")
    assert found["1"]["headers"]["Preference-Applied"] == 'outlook.timezone="Europe/Paris"'
    assert found["2"]["body"]["value"][0]["start"]["timeZone"] == "UTC" and "Preference-Applied" not in found["2"]


def test_a_batch_is_logged_as_one_line_its_envelope_as_the_body(graph, s, tmp_path) -> None:
    items = [get(1), {"id": "2", "method": "POST", "url": f"/users/{ADVISER}/events", "body": event("M3-C1#call1"),
                      "headers": JSON}]  # fmt: skip
    batch(graph, s, *items)
    lines = [json.loads(line) for line in (tmp_path / "requests.jsonl").read_text().splitlines()]
    graph_lines = [line for line in lines if line["path"].startswith("/v1.0/")]
    assert [(line["method"], line["path"], line["status"]) for line in graph_lines] == [("POST", "/v1.0/$batch", 200)]
    assert graph_lines[0]["body"] == {"requests": items}


# --- top-level requests in flight together ------------------------------------------------------------------


def at_once(graph: GraphEmulator, n: int, user: str = ADVISER) -> list[requests.Response]:
    """``n`` GETs on the mailbox's events, sent together from ``n`` threads."""
    headers = {"Authorization": session(graph).headers["Authorization"]}
    start = threading.Barrier(n)

    def one(_: int) -> requests.Response:
        start.wait()
        return requests.get(f"{graph.base_url}/v1.0/users/{user}/events", headers=headers, verify=str(graph.ca_file))

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(one, range(n)))


def test_a_fifth_request_in_flight_on_a_mailbox_is_throttled(graph) -> None:
    graph.latency = 0.5  # each request stays in flight that long
    replies = at_once(graph, 5)
    assert sorted(r.status_code for r in replies) == [200, 200, 200, 200, 429]
    (throttled,) = [r for r in replies if r.status_code == 429]
    assert throttled.headers["Retry-After"] == "1" and throttled.json()["error"]["code"] == "ApplicationThrottled"
    assert graph.peak_concurrency[ADVISER] == 5


def test_the_concurrency_limit_is_settable(graph) -> None:
    graph.latency, graph.concurrency_limit = 0.5, None
    assert {r.status_code for r in at_once(graph, 6)} == {200}
    assert graph.peak_concurrency[ADVISER] == 6


def test_requests_in_flight_leave_fewer_slots_to_a_batch(graph, s) -> None:
    graph.fail("GET", r"/calendarView$", delay=0.5)  # a slow answer holds its slot meanwhile
    url = f"{graph.base_url}/v1.0/users/{ADVISER}/calendarView"
    window = {"startDateTime": "2026-11-25T00:00:00Z", "endDateTime": "2026-11-26T00:00:00Z"}
    other = session(graph)
    with ThreadPoolExecutor(1) as pool:
        slow = pool.submit(s.get, url, params=window)
        while not graph.peak_concurrency.get(ADVISER):
            time.sleep(0.01)
        found = batch(graph, other, *(get(n) for n in range(4)))
        assert sorted(statuses(found).values()) == [200, 200, 200, 429]
        assert slow.result().status_code == 200


def test_latency_and_a_slow_answer_delay_requests_that_still_succeed(graph, s) -> None:
    url = f"{graph.base_url}/v1.0/users/{ADVISER}/events"
    graph.latency = 0.1
    started = time.monotonic()
    assert s.get(url).status_code == 200 and time.monotonic() - started >= 0.1
    graph.latency = 0.0
    slow = graph.fail("GET", r"/events$", delay=0.3)
    started = time.monotonic()
    assert s.get(url).status_code == 200 and time.monotonic() - started >= 0.3 and slow.times == 0
    started = time.monotonic()
    assert s.get(url).status_code == 200 and time.monotonic() - started < 0.3
