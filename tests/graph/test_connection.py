"""m3mail's O365 account talks to Graph through real msal and O365 code, over HTTPS, to the emulator."""

from __future__ import annotations

import datetime as dt
import json
import time
from zoneinfo import ZoneInfo

from m3mail.backends.microsoft365.connection import GraphAccess, graph_account
from tests.graph.conftest import ADVISER
from tests.graph.emulator import GraphEmulator


def access(graph: GraphEmulator) -> GraphAccess:
    base = graph.base_url
    return GraphAccess(tenant_id=graph.tenant, client_id="m3mail-app", credential="a-secret", graph_url=base,
                       authority_url=base, ca_bundle=str(graph.ca_file))  # fmt: skip


def new_call(account, key: str):
    event = account.schedule(resource=ADVISER).new_event()
    event.subject = "M+3 · Mme DUPONT · IARD"
    event.start = dt.datetime(2026, 11, 25, 10, 0, tzinfo=ZoneInfo("Europe/Paris"))
    event.end = event.start + dt.timedelta(minutes=20)
    event.transaction_id = key
    assert event.save()
    return event


def test_an_event_is_created_app_only_and_a_retried_create_makes_none_twice(graph: GraphEmulator) -> None:
    account = graph_account(access(graph), ADVISER)
    first, again = new_call(account, "M3-C1#call1"), new_call(account, "M3-C1#call1")
    assert first.object_id == again.object_id
    (stored,) = graph.mailbox(ADVISER).events.values()
    assert stored["subject"] == "M+3 · Mme DUPONT · IARD" and stored["start"]["dateTime"] == "2026-11-25T10:00:00"


def test_requests_go_on_after_the_token_expires(graph: GraphEmulator) -> None:
    graph.token_lifetime = 1  # msal renews tokens that have less than five minutes left
    account = graph_account(access(graph), ADVISER)
    new_call(account, "M3-C1#call1")
    time.sleep(1.2)  # the first token has expired in the emulator
    new_call(account, "M3-C2#call1")
    assert len(graph.mailbox(ADVISER).events) == 2 and len(graph.tokens) >= 2


def test_every_request_asks_for_immutable_ids(graph: GraphEmulator, tmp_path) -> None:
    new_call(graph_account(access(graph), ADVISER), "M3-C1#call1")
    lines = [json.loads(line) for line in (tmp_path / "requests.jsonl").read_text().splitlines()]
    graph_requests = [line for line in lines if line["path"].startswith("/v1.0/")]
    assert graph_requests
    assert all('IdType="ImmutableId"' in line["headers"].get("Prefer", "") for line in graph_requests)


def test_the_settings_ca_file_wins_over_the_environments_ca_variables(graph: GraphEmulator, monkeypatch) -> None:
    import certifi

    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):  # a bundle that does not trust the emulator
        monkeypatch.setenv(name, certifi.where())
    new_call(graph_account(access(graph), ADVISER), "M3-C1#call1")
    assert len(graph.mailbox(ADVISER).events) == 1
