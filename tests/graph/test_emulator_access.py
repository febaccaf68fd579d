"""Who may do what: app-only tokens as JWTs carrying the app's roles, the role each endpoint requires, mailbox
scoping by an access policy, unknown mailboxes, and the token endpoint's answers to a wrong app or secret."""

from __future__ import annotations

import time

import msal
import pytest
import requests

from tests.graph.conftest import ADVISER
from tests.graph.emulator import ALL_ROLES, GraphEmulator, Mailbox, token_claims
from tests.graph.test_emulator import event, session, token

OTHER = "thomas.bernard@cabinet-exemple.fr"
WINDOW = "startDateTime=2026-11-25T00:00:00Z&endDateTime=2026-11-26T00:00:00Z"
DAY = {"startTime": {"dateTime": "2026-11-25T08:00:00", "timeZone": "Europe/Paris"},
       "endTime": {"dateTime": "2026-11-25T18:00:00", "timeZone": "Europe/Paris"}}  # fmt: skip
MAIL = {"subject": "Bonjour", "toRecipients": [{"emailAddress": {"address": "client@example.com"}}]}


def acquire(graph: GraphEmulator, client_id: str = "m3mail-app", secret: str = "a-secret") -> dict:
    app = msal.ConfidentialClientApplication(
        client_id,
        client_credential=secret,
        instance_discovery=False,
        authority=f"{graph.base_url}/{graph.tenant}",
        verify=str(graph.ca_file),
    )
    return app.acquire_token_for_client(scopes=["https://graph.microsoft.com/.default"])


def test_an_access_token_is_a_jwt_carrying_the_apps_roles(graph: GraphEmulator) -> None:
    claims = token_claims(token(graph))
    assert sorted(claims["roles"]) == sorted(ALL_ROLES)
    assert claims["aud"] == "https://graph.microsoft.com" and claims["tid"] == graph.tenant
    assert claims["appid"] == "client-id" and claims["exp"] > time.time() + 3000


# (method, path under the user, body, a role that allows it, a role that does not)
ENDPOINTS = [
    ("GET", "/events", None, "Calendars.Read", "Calendars.ReadBasic"),
    ("GET", f"/calendarView?{WINDOW}", None, "Calendars.ReadWrite", "Mail.ReadWrite"),
    ("POST", "/events", event("M3-C1#call1"), "Calendars.ReadWrite", "Calendars.Read"),
    ("POST", "/calendar/getSchedule", {"schedules": [ADVISER], **DAY}, "Calendars.ReadBasic", "Mail.Read"),
    ("GET", "/mailFolders/inbox/messages", None, "Mail.Read", "Mail.Send"),
    ("POST", "/mailFolders", {"displayName": "Clients"}, "Mail.ReadWrite", "Mail.Read"),
    ("POST", "/messages", MAIL, "Mail.ReadWrite", "Mail.Send"),
    ("POST", "/sendMail", {"message": MAIL}, "Mail.Send", "Mail.ReadWrite"),
    ("GET", "/outlook/masterCategories", None, "MailboxSettings.Read", "Calendars.ReadWrite"),
    ("POST", "/outlook/masterCategories", {"displayName": "M+3"}, "MailboxSettings.ReadWrite", "MailboxSettings.Read"),
    ("GET", "/mailboxSettings", None, "MailboxSettings.Read", "Mail.ReadWrite"),
    ("PATCH", "/mailboxSettings", {"timeZone": "UTC"}, "MailboxSettings.ReadWrite", "MailboxSettings.Read"),
]  # fmt: skip


@pytest.mark.parametrize("method, path, body, allowed, denied", ENDPOINTS)
def test_each_endpoint_requires_its_role(graph: GraphEmulator, method, path, body, allowed, denied) -> None:
    url = f"{graph.base_url}/v1.0/users/{ADVISER}{path}"
    graph.roles = {denied}  # roles are read when a token is issued: set them before
    refused = session(graph).request(method, url, json=body)
    assert refused.status_code == 403
    assert refused.json()["error"] == {**refused.json()["error"], "code": "ErrorAccessDenied",
                                       "message": "Access is denied. Check credentials and try again."}  # fmt: skip
    graph.roles = {allowed}
    assert session(graph).request(method, url, json=body).status_code in (200, 201, 202)


def test_sending_a_draft_takes_mail_send(graph: GraphEmulator) -> None:
    draft = graph.create_message(ADVISER, None, dict(MAIL), 'IdType="ImmutableId"').body
    url = f"{graph.base_url}/v1.0/users/{ADVISER}/messages/{draft['id']}/send"
    graph.roles = {"Mail.ReadWrite"}
    assert session(graph).post(url).status_code == 403
    graph.roles = {"Mail.Send"}
    assert session(graph).post(url).status_code == 202


def test_an_app_without_application_permissions_gets_a_token_without_roles(graph: GraphEmulator) -> None:
    graph.roles = set()
    s = session(graph)
    assert "roles" not in token_claims(s.headers["Authorization"].removeprefix("Bearer "))
    assert s.get(f"{graph.base_url}/v1.0/users/{ADVISER}/events").status_code == 403


def test_a_token_keeps_the_roles_it_was_issued_with(graph: GraphEmulator) -> None:
    s = session(graph)
    graph.roles = set()  # consent withdrawn: only a new token sees it
    assert s.get(f"{graph.base_url}/v1.0/users/{ADVISER}/events").status_code == 200
    assert session(graph).get(f"{graph.base_url}/v1.0/users/{ADVISER}/events").status_code == 403


def test_an_access_policy_keeps_the_app_out_of_other_mailboxes(graph: GraphEmulator) -> None:
    graph.mailboxes[OTHER] = Mailbox(OTHER)
    graph.scope = {OTHER.upper()}
    s = session(graph)
    refused = s.get(f"{graph.base_url}/v1.0/users/{ADVISER}/events")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "ErrorAccessDenied"
    assert refused.json()["error"]["message"] == "Access to OData is disabled."
    assert s.get(f"{graph.base_url}/v1.0/users/{OTHER}/events").status_code == 200
    batch = s.post(f"{graph.base_url}/v1.0/$batch", json={"requests": [
        {"id": "1", "method": "GET", "url": f"/users/{ADVISER}/events"},
        {"id": "2", "method": "GET", "url": f"/users/{OTHER}/events"}]})  # fmt: skip
    assert {r["id"]: r["status"] for r in batch.json()["responses"]} == {"1": 403, "2": 200}


def test_an_unknown_mailbox_is_an_invalid_user(graph: GraphEmulator) -> None:
    reply = session(graph).get(f"{graph.base_url}/v1.0/users/nobody@cabinet-exemple.fr/mailboxSettings")
    assert reply.status_code == 404 and reply.json()["error"]["code"] == "ErrorInvalidUser"


def test_a_wrong_client_secret_is_refused_by_the_token_endpoint(graph: GraphEmulator) -> None:
    graph.client_secret = "the-secret"
    refused = acquire(graph, secret="an-old-secret")
    assert refused["error"] == "invalid_client" and refused["error_description"].startswith("AADSTS7000215")
    assert "access_token" in acquire(graph, secret="the-secret")


def test_an_unknown_application_is_refused_by_the_token_endpoint(graph: GraphEmulator) -> None:
    graph.client_id = "m3mail-app"
    refused = acquire(graph, client_id="another-app")
    assert refused["error"] == "unauthorized_client" and "AADSTS700016" in refused["error_description"]
    assert "access_token" in acquire(graph)


def test_an_unknown_tenant_is_not_found(graph: GraphEmulator) -> None:
    reply = requests.get(f"{graph.base_url}/another-tenant/v2.0/.well-known/openid-configuration",
                         verify=str(graph.ca_file))  # fmt: skip
    assert reply.status_code == 400 and reply.json()["error"] == "invalid_tenant"
    assert reply.json()["error_description"].startswith("AADSTS90002")
