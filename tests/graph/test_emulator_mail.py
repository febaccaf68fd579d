"""The emulator's mail side behaves as Microsoft documents it (shared/graph README), over HTTPS."""

from __future__ import annotations

import pytest
import requests

from tests.graph.conftest import ADVISER
from tests.graph.emulator import GraphEmulator
from tests.graph.test_emulator import session

KEY = "String {5c9b6a38-3f0e-4d8b-9d43-0f7c2c8e5a11} Name m3mailKey"
IMMUTABLE = {"Prefer": 'IdType="ImmutableId"'}


@pytest.fixture
def s(graph: GraphEmulator) -> requests.Session:
    return session(graph)


def url(graph: GraphEmulator, path: str) -> str:
    return f"{graph.base_url}/v1.0/users/{ADVISER}{path}"


def draft(key: str) -> dict:
    return {"subject": "Votre contrat Auto", "body": {"contentType": "HTML", "content": "<p>Bonjour</p>"},
            "toRecipients": [{"emailAddress": {"address": "client@example.com"}}],
            "singleValueExtendedProperties": [{"id": KEY, "value": key}]}  # fmt: skip


def test_a_folder_that_exists_is_an_error_folder_exists_and_is_found_by_name(graph, s) -> None:
    first = s.post(url(graph, "/mailFolders"), json={"displayName": "Clients"})
    again = s.post(url(graph, "/mailFolders"), json={"displayName": "Clients"})
    assert first.status_code == 201 and again.status_code == 409
    assert again.json()["error"]["code"] == "ErrorFolderExists"
    child = s.post(
        url(graph, f"/mailFolders/{first.json()['id']}/childFolders"), json={"displayName": "DUPONT Jean (C1)"}
    )
    found = s.get(url(graph, f"/mailFolders/{first.json()['id']}/childFolders"),
                  params={"$filter": "displayName eq 'DUPONT Jean (C1)'"}).json()["value"]  # fmt: skip
    assert [f["id"] for f in found] == [child.json()["id"]]


def test_a_draft_sent_moves_to_sent_items_keeping_its_immutable_id_only(graph, s) -> None:
    made = s.post(url(graph, "/messages"), json=draft("M3-C1#email"), headers=IMMUTABLE).json()
    assert made["isDraft"] is True and made["internetMessageId"]
    assert s.post(url(graph, f"/messages/{made['id']}/send")).status_code == 202
    flt = f"singleValueExtendedProperties/Any(ep: ep/id eq '{KEY}' and ep/value eq 'M3-C1#email')"
    sent = s.get(url(graph, "/mailFolders/sentitems/messages"), params={"$filter": flt}, headers=IMMUTABLE).json()
    assert [m["id"] for m in sent["value"]] == [made["id"]] and sent["value"][0]["isDraft"] is False
    plain = s.get(url(graph, "/mailFolders/sentitems/messages"), params={"$filter": flt}).json()
    assert plain["value"][0]["id"] != made["id"]  # without immutable ids, a moved item has a new id


def test_a_copy_is_a_new_message_in_the_destination(graph, s) -> None:
    folder = s.post(url(graph, "/mailFolders"), json={"displayName": "Clients"}).json()
    made = s.post(url(graph, "/messages"), json=draft("M3-C2#email"), headers=IMMUTABLE).json()
    copy = s.post(url(graph, f"/messages/{made['id']}/copy"), json={"destinationId": folder["id"]},
                  headers=IMMUTABLE)  # fmt: skip
    assert copy.status_code == 201 and copy.json()["id"] != made["id"]
    assert copy.json()["parentFolderId"] == folder["id"] and len(graph.mailbox(ADVISER).messages) == 2


def test_a_message_created_with_the_read_flag_is_not_a_draft(graph, s) -> None:
    folder = s.post(url(graph, "/mailFolders"), json={"displayName": "Clients"}).json()
    record = dict(draft("M3-C3#record"))
    record["singleValueExtendedProperties"] = [*record["singleValueExtendedProperties"],
                                               {"id": "Integer 0x0E07", "value": "1"}]  # fmt: skip
    made = s.post(url(graph, f"/mailFolders/{folder['id']}/messages"), json=record).json()
    assert made["isDraft"] is False and made["isRead"] is True


def test_replies_and_bounces_come_in_the_same_conversation(graph, s) -> None:
    made = s.post(url(graph, "/messages"), json=draft("M3-C4#email"), headers=IMMUTABLE).json()
    s.post(url(graph, f"/messages/{made['id']}/send"))
    graph.client_reply(ADVISER, made["id"], "STOP")
    graph.bounce(ADVISER, made["id"])
    thread = s.get(url(graph, "/mailFolders/inbox/messages"),
                   params={"$filter": f"conversationId eq '{made['conversationId']}'"}).json()["value"]  # fmt: skip
    assert sorted(m["subject"].split(":")[0] for m in thread) == ["RE", "Undeliverable"]
