"""The emulator behaves as Microsoft documents it, seen through real msal and plain HTTPS requests."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import msal
import requests

from tests.graph.conftest import ADVISER
from tests.graph.emulator import GraphEmulator


def token(graph: GraphEmulator) -> str:
    app = msal.ConfidentialClientApplication(
        "client-id", client_credential="a-secret", authority=f"{graph.base_url}/{graph.tenant}",
        instance_discovery=False, verify=str(graph.ca_file),
    )  # fmt: skip
    result = app.acquire_token_for_client(scopes=["https://graph.microsoft.com/.default"])
    assert "access_token" in result, result
    return result["access_token"]


def session(graph: GraphEmulator) -> requests.Session:
    s = requests.Session()
    s.verify = str(graph.ca_file)
    s.headers["Authorization"] = f"Bearer {token(graph)}"
    return s


def event(tx: str, subject: str = "M+3 · Mme DUPONT · IARD") -> dict:
    return {"subject": subject, "transactionId": tx, "showAs": "busy", "categories": ["M+3"],
            "start": {"dateTime": "2026-11-25T10:00:00", "timeZone": "Europe/Paris"},
            "end": {"dateTime": "2026-11-25T10:20:00", "timeZone": "Europe/Paris"},
            "singleValueExtendedProperties": [{"id": "String {66f5a359-4659-4830-9070-00047ec6ac6e} Name m3mail",
                                               "value": tx}]}  # fmt: skip


def test_msal_gets_an_app_only_token_over_https_with_the_emulators_ca(graph: GraphEmulator) -> None:
    assert token(graph) in graph.tokens


def test_a_request_without_a_valid_token_gets_the_graph_error_body(graph: GraphEmulator) -> None:
    reply = requests.get(f"{graph.base_url}/v1.0/users/{ADVISER}/events", verify=str(graph.ca_file),
                         headers={"Authorization": "Bearer forged"})  # fmt: skip
    assert reply.status_code == 401
    error = reply.json()["error"]
    assert error["code"] == "InvalidAuthenticationToken" and {"date", "request-id"} <= set(error["innerError"])


def test_the_same_transaction_id_never_makes_a_second_event(graph: GraphEmulator) -> None:
    s = session(graph)
    url = f"{graph.base_url}/v1.0/users/{ADVISER}/events"
    first, again = s.post(url, json=event("M3-C1#call1")), s.post(url, json=event("M3-C1#call1"))
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"] and len(graph.mailbox(ADVISER).events) == 1


def test_lists_come_in_small_pages_linked_by_next_link(graph: GraphEmulator) -> None:
    s = session(graph)
    url = f"{graph.base_url}/v1.0/users/{ADVISER}/events"
    for n in range(7):
        s.post(url, json=event(f"M3-C{n}#call1"))
    seen, pages, link = [], 0, url
    while link:
        page = s.get(link).json()
        seen += [e["id"] for e in page["value"]]
        link, pages = page.get("@odata.nextLink"), pages + 1
    assert len(seen) == len(set(seen)) == 7 and pages == 3


def test_events_are_found_again_by_their_extended_property(graph: GraphEmulator) -> None:
    s = session(graph)
    url = f"{graph.base_url}/v1.0/users/{ADVISER}/events"
    for n in range(3):
        s.post(url, json=event(f"M3-C{n}#call1"))
    prop = "String {66f5a359-4659-4830-9070-00047ec6ac6e} Name m3mail"
    found = s.get(url, params={"$filter": f"singleValueExtendedProperties/Any(ep: ep/id eq '{prop}' and "
                                          "ep/value eq 'm3-c1#CALL1')"}).json()["value"]  # fmt: skip
    assert [e["transactionId"] for e in found] == ["M3-C1#call1"]  # the value matches without regard to case


def test_every_request_is_logged_as_one_json_line(graph: GraphEmulator, tmp_path) -> None:
    s = session(graph)
    s.post(f"{graph.base_url}/v1.0/users/{ADVISER}/events", json=event("M3-C9#call1"))
    lines = [json.loads(line) for line in (tmp_path / "requests.jsonl").read_text().splitlines()]
    posted = [line for line in lines if line["path"] == f"/v1.0/users/{ADVISER}/events"]
    assert posted and posted[0]["method"] == "POST" and posted[0]["status"] == 201
    assert posted[0]["body"]["transactionId"] == "M3-C9#call1" and posted[0]["query"] == {}


def test_the_emulator_runs_on_its_own(tmp_path) -> None:
    script = Path(__file__).with_name("emulator.py")
    server = subprocess.Popen([sys.executable, str(script), "--port", "0", "--mailbox", ADVISER, "--latency", "0.01"],
                              stdout=subprocess.PIPE, text=True, cwd=tmp_path)  # fmt: skip
    try:
        printed = dict(server.stdout.readline().strip().split(": ", 1) for _ in range(3))
        base, ca_file = printed["base URL"], printed["CA file"]
        reply = requests.get(f"{printed['authority']}/v2.0/.well-known/openid-configuration", verify=ca_file)
        assert reply.status_code == 200 and reply.json()["token_endpoint"].startswith(base)
    finally:
        server.terminate()
        server.wait(timeout=10)
