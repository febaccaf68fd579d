"""Every request the Microsoft 365 backend makes is one Graph's API description accepts (openapi_check), and the
check does fail on requests Graph would refuse."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests

from m3mail.backends.base import CATEGORY_COLOURS
from m3mail.models import CallSpec, MailSpec
from tests.graph.conftest import ADVISER
from tests.graph.emulator import GraphEmulator
from tests.graph.openapi_check import check_log, check_request
from tests.graph.test_emulator import event, session

START = datetime(2026, 11, 25, 10, tzinfo=ZoneInfo("Europe/Paris"))


def mail(key: str) -> MailSpec:
    brief = (("brief.pdf", "application/pdf", b"%PDF-1.4"),)
    return MailSpec(key, ADVISER, ("client@example.com",), "Votre contrat Auto", "Bonjour", "<p>Bonjour</p>",
                    sender_name="Claire Martin", attachments=brief)  # fmt: skip


def test_every_request_of_the_backend_is_one_graph_describes(backend, graph: GraphEmulator, tmp_path) -> None:
    since = datetime.now(UTC) - timedelta(hours=1)
    backend.ensure_categories(ADVISER, CATEGORY_COLOURS)
    for n in range(4):  # more than a page
        call = CallSpec(f"M3-C{n}#call1", START + timedelta(hours=n), START + timedelta(hours=n, minutes=20),
                        "M+3 · Mme DUPONT · IARD", "brief", "<p>brief</p>", 15, ("M+3",))  # fmt: skip
        backend.create_call(ADVISER, call)
    backend.events(ADVISER, START, START + timedelta(days=1))
    backend.calls(ADVISER, ["M3-C1#call1", "M3-C3#call1"])
    sent = backend.send(ADVISER, mail("M3-C1#email"))
    backend.send(ADVISER, mail("M3-C1#email"), resume=True)
    backend.send(ADVISER, mail("M3-C2#email"), resume=True)
    backend.find_sent(ADVISER, "M3-C1#email")
    graph.client_reply(ADVISER, sent.id, "Merci, tout va bien.")
    backend.inbox(ADVISER, since)
    backend.file(ADVISER, ("Clients", "DUPONT Jean (C1)"), mail("M3-C1#record"))
    backend.file(ADVISER, ("Clients", "DUPONT Jean (C1)"), mail("M3-C1#record"), resume=True)
    backend.notify(ADVISER, mail("digest:2026-11-25"))
    backend.notify(ADVISER, mail("digest:2026-11-25"), resume=True)
    log = tmp_path / "requests.jsonl"
    logged = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    assert {"GET", "POST"} <= {line["method"] for line in logged if line["path"].startswith("/v1.0/")}
    assert check_log(log) == []


@pytest.fixture
def s(graph: GraphEmulator) -> requests.Session:
    return session(graph)


def test_an_event_graph_would_refuse_is_reported(graph, s, tmp_path) -> None:
    s.post(f"{graph.base_url}/v1.0/users/{ADVISER}/events", json={**event("M3-C1#call1"), "showAs": "maybe"})
    (problem,) = check_log(tmp_path / "requests.jsonl")
    assert problem.startswith("line ") and f"POST /v1.0/users/{ADVISER}/events" in problem
    assert "body.showAs: 'maybe' does not match" in problem


def test_a_sub_request_of_a_batch_is_checked_as_its_own_request(graph, s, tmp_path) -> None:
    window = "/calendarView?startDateTime=2026-11-25T00:00:00Z"  # endDateTime is required
    s.post(f"{graph.base_url}/v1.0/$batch", json={"requests": [
        {"id": "1", "method": "GET", "url": f"/users/{ADVISER}/events"},
        {"id": "2", "method": "GET", "url": f"/users/{ADVISER}{window}"}]})  # fmt: skip
    (problem,) = check_log(tmp_path / "requests.jsonl")
    assert "POST /v1.0/$batch request 2 (GET" in problem and "endDateTime" in problem


def test_a_malformed_batch_is_reported(graph, s, tmp_path) -> None:
    s.post(
        f"{graph.base_url}/v1.0/$batch",
        json={"requests": [{"id": str(n), "method": "GET", "url": f"/users/{ADVISER}/events"} for n in range(21)]},
    )
    (problem,) = check_log(tmp_path / "requests.jsonl")
    assert "limit is 20" in problem


ME = f"/v1.0/users/{ADVISER.replace('@', '%40')}"


@pytest.mark.parametrize(
    "method, path, query, body, words",
    [
        ("POST", f"{ME}/events", {}, {**event("k"), "start": "2026-11-25T10:00:00"}, "body.start"),
        ("POST", f"{ME}/events", {}, {**event("k"), "body": {"contentType": "markdown"}}, "body.body.contentType"),
        ("GET", f"{ME}/events", {"$top": "many"}, None, "$top"),
        ("GET", f"{ME}/calendarz", {}, None, "Path not found"),
        ("DELETE", f"{ME}/mailboxSettings", {}, None, "Operation delete not found"),
        ("POST", f"{ME}/messages/AAMk1/move", {}, {"destinationId": 5}, "body.DestinationId: 5 is not of type"),
        ("POST", f"{ME}/calendar/getSchedule", {}, {"schedules": [ADVISER], "availabilityViewInterval": "30"},
         "body.AvailabilityViewInterval"),
        ("PATCH", f"{ME}/mailboxSettings", {}, {"automaticRepliesSetting": {"status": "maybe"}},
         "body.automaticRepliesSetting.status"),
        ("PATCH", f"{ME}/mailboxSettings", {}, {"workingHours": {"startTime": "8h30"}}, "body.workingHours.startTime"),
    ],
)  # fmt: skip
def test_requests_graph_would_refuse_are_reported(method, path, query, body, words) -> None:
    problem = check_request({"method": method, "path": path, "query": query, "headers": {}, "body": body})
    assert problem is not None and words in problem


@pytest.mark.parametrize(
    "path, body",
    [
        (f"{ME}/events", {**event("k"), "body": {"contentType": "HTML", "content": "<p>x</p>"}, "showAs": "Busy"}),
        (f"{ME}/messages/AAMk1/copy", {"DestinationId": "inbox"}),
        (f"{ME}/calendar/getSchedule", {"Schedules": [ADVISER], "AvailabilityViewInterval": 15,
                                        "StartTime": {"dateTime": "2026-11-25T08:00:00", "timeZone": "UTC"}}),
        (f"{ME}/sendMail", {"message": {"subject": "s", "importance": "Low"}, "saveToSentItems": False}),
    ],
)  # fmt: skip
def test_what_graph_accepts_passes(path, body) -> None:
    assert check_request({"method": "POST", "path": path, "query": {}, "headers": {}, "body": body}) is None
