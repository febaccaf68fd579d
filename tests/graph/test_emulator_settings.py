"""Mailbox settings (automatic replies, working hours), Prefer preferences echoed in Preference-Applied, and
getSchedule, as the OpenAPI subset shapes them and the shared/graph README describes them."""

from __future__ import annotations

import copy
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import requests

from tests.graph.conftest import ADVISER
from tests.graph.emulator import GraphEmulator
from tests.graph.test_emulator import event, session

PARIS = ZoneInfo("Europe/Paris")
ALL_PREFERENCES = 'outlook.timezone="Europe/Paris", outlook.body-content-type="text", IdType="ImmutableId"'


@pytest.fixture
def s(graph: GraphEmulator) -> requests.Session:
    return session(graph)


def url(graph: GraphEmulator, path: str) -> str:
    return f"{graph.base_url}/v1.0/users/{ADVISER}{path}"


def test_a_new_mailbox_has_automatic_replies_off_and_office_hours(graph, s) -> None:
    reply = s.get(url(graph, "/mailboxSettings"), params={"$select": "automaticRepliesSetting,workingHours"})
    settings = reply.json()
    assert set(settings) == {"@odata.context", "automaticRepliesSetting", "workingHours"}
    assert settings["automaticRepliesSetting"]["status"] == "disabled"
    assert settings["workingHours"] == {
        "daysOfWeek": ["monday", "tuesday", "wednesday", "thursday", "friday"], "startTime": "08:30:00.0000000",
        "endTime": "17:30:00.0000000", "timeZone": {"name": "Romance Standard Time"}}  # fmt: skip
    everything = s.get(url(graph, "/mailboxSettings")).json()
    assert everything["timeZone"] == "Romance Standard Time" and everything["language"]["locale"] == "fr-FR"


def test_an_absence_set_by_the_adviser_is_read_back(graph, s) -> None:
    start, end = datetime(2026, 12, 21, 18, tzinfo=PARIS), datetime(2027, 1, 4, 8, tzinfo=PARIS)
    graph.set_out_of_office(ADVISER, start, end, message="Absente jusqu'au 4 janvier.")
    oof = s.get(url(graph, "/mailboxSettings"), params={"$select": "automaticRepliesSetting"}).json()
    assert oof["automaticRepliesSetting"] == {
        "status": "scheduled", "externalAudience": "all", "internalReplyMessage": "Absente jusqu'au 4 janvier.",
        "externalReplyMessage": "Absente jusqu'au 4 janvier.",
        "scheduledStartDateTime": {"dateTime": "2026-12-21T17:00:00.0000000", "timeZone": "UTC"},
        "scheduledEndDateTime": {"dateTime": "2027-01-04T07:00:00.0000000", "timeZone": "UTC"}}  # fmt: skip
    graph.set_out_of_office(ADVISER)
    assert graph.mailbox(ADVISER).settings["automaticRepliesSetting"]["status"] == "alwaysEnabled"
    graph.clear_out_of_office(ADVISER)
    assert graph.mailbox(ADVISER).settings["automaticRepliesSetting"]["status"] == "disabled"


def test_a_patch_merges_into_the_settings_and_answers_what_it_changed(graph, s) -> None:
    first = s.patch(url(graph, "/mailboxSettings"), json={"automaticRepliesSetting": {
        "status": "AlwaysEnabled", "internalReplyMessage": "Absente."}})  # fmt: skip
    assert first.status_code == 200 and set(first.json()) == {"@odata.context", "automaticRepliesSetting"}
    assert first.json()["automaticRepliesSetting"]["status"] == "alwaysEnabled"  # enums in any case, stored canonical
    s.patch(url(graph, "/mailboxSettings"), json={"automaticRepliesSetting": {"status": "disabled"}})
    oof = graph.mailbox(ADVISER).settings["automaticRepliesSetting"]
    assert oof["status"] == "disabled" and oof["internalReplyMessage"] == "Absente."


@pytest.mark.parametrize(
    "body, code",
    [
        ({"automaticRepliesSetting": {"status": "maybe"}}, "RequestBodyRead"),
        ({"workingHours": {"startTime": "8h30"}}, "RequestBodyRead"),
        ({"workingHours": {"daysOfWeek": ["lundi"]}}, "RequestBodyRead"),
        ({"holidays": []}, "RequestBodyRead"),
        ({"timeZone": "Mars/Olympus Mons"}, "TimeZoneNotSupportedException"),
        ({"automaticRepliesSetting": {"status": "scheduled",
          "scheduledStartDateTime": {"dateTime": "2027-01-04T08:00:00", "timeZone": "UTC"},
          "scheduledEndDateTime": {"dateTime": "2026-12-21T18:00:00", "timeZone": "UTC"}}},
         "ErrorInvalidScheduledOofDuration"),
    ],
)  # fmt: skip
def test_a_patch_exchange_would_not_store_is_refused_whole(graph, s, body, code) -> None:
    before = copy.deepcopy(graph.mailbox(ADVISER).settings)
    reply = s.patch(url(graph, "/mailboxSettings"), json=body)
    assert reply.status_code == 400 and reply.json()["error"]["code"] == code
    assert graph.mailbox(ADVISER).settings == before


@pytest.mark.parametrize("html_only", [True, False])
def test_honoured_preferences_are_echoed_in_preference_applied(graph, s, html_only) -> None:
    """event-get.md: "Currently, this operation returns event bodies in only HTML format", while its header table
    documents outlook.body-content-type: the emulator does either (html_only by default)."""
    graph.event_bodies_html_only = html_only
    notes = {"contentType": "HTML", "content": "<p>Bonjour&nbsp;!<br>RAS</p>"}
    graph.create_event(ADVISER, {**event("M3-C1#call1"), "body": notes})
    plain = s.get(url(graph, "/events"))
    assert "Preference-Applied" not in plain.headers and plain.json()["value"][0]["body"]["contentType"] == "html"
    asked = s.get(url(graph, "/events"), headers={"Prefer": ALL_PREFERENCES})
    shown = asked.json()["value"][0]
    if html_only:
        assert asked.headers["Preference-Applied"] == 'outlook.timezone="Europe/Paris", IdType="ImmutableId"'
        assert shown["body"] == {"contentType": "html", "content": notes["content"]}
    else:
        assert asked.headers["Preference-Applied"] == ALL_PREFERENCES
        assert shown["body"] == {"contentType": "text", "content": "Bonjour\xa0!\nRAS"}
    assert shown["start"] == {"dateTime": "2026-11-25T10:00:00.0000000", "timeZone": "Europe/Paris"}
    mail = s.get(url(graph, "/mailFolders/inbox/messages"), headers={"Prefer": ALL_PREFERENCES})
    assert mail.headers["Preference-Applied"] == 'outlook.body-content-type="text", IdType="ImmutableId"'
    settings = s.get(url(graph, "/mailboxSettings"), headers={"Prefer": ALL_PREFERENCES})
    assert "Preference-Applied" not in settings.headers


def busy(graph: GraphEmulator, subject: str, start: str, end: str, show_as: str) -> None:
    graph.create_event(ADVISER, {"subject": subject, "showAs": show_as,
                                 "start": {"dateTime": start, "timeZone": "Europe/Paris"},
                                 "end": {"dateTime": end, "timeZone": "Europe/Paris"}})  # fmt: skip


@pytest.mark.parametrize("pascal", [False, True])
def test_get_schedule_gives_the_free_busy_view_and_items(graph, s, pascal) -> None:
    busy(graph, "Dentiste", "2026-11-25T10:00:00", "2026-11-25T11:00:00", "busy")
    busy(graph, "Peut-être", "2026-11-25T14:00:00", "2026-11-25T14:30:00", "tentative")
    busy(graph, "Rappel", "2026-11-25T16:00:00", "2026-11-25T16:30:00", "free")
    args = {"schedules": [ADVISER, "nobody@cabinet-exemple.fr"], "availabilityViewInterval": 60,
            "startTime": {"dateTime": "2026-11-25T08:00:00", "timeZone": "Romance Standard Time"},
            "endTime": {"dateTime": "2026-11-25T18:00:00", "timeZone": "Romance Standard Time"}}  # fmt: skip
    if pascal:  # the CSDL's parameter names
        args = {name[0].upper() + name[1:]: value for name, value in args.items()}
    reply = s.post(url(graph, "/calendar/getSchedule"), json=args,
                   headers={"Prefer": 'outlook.timezone="Europe/Paris"'})  # fmt: skip
    assert reply.status_code == 200 and reply.headers["Preference-Applied"] == 'outlook.timezone="Europe/Paris"'
    mine, unknown = reply.json()["value"]
    assert mine["availabilityView"] == "0020001000"  # one digit an hour, 08:00 to 18:00
    assert [(i["subject"], i["status"], i["start"]["dateTime"][:16]) for i in mine["scheduleItems"]] == [
        ("Dentiste", "busy", "2026-11-25T10:00"), ("Peut-être", "tentative", "2026-11-25T14:00")]  # fmt: skip
    assert mine["workingHours"]["startTime"] == "08:30:00.0000000"
    assert unknown["error"]["responseCode"] == "ErrorMailRecipientNotFound" and unknown["scheduleItems"] == []


def test_working_hours_set_by_the_adviser_show_in_the_schedule(graph, s) -> None:
    graph.set_working_hours(ADVISER, ("Monday", "Thursday"), "09:00", "12:00")
    args = {"schedules": [ADVISER], "startTime": {"dateTime": "2026-11-25T00:00:00", "timeZone": "UTC"},
            "endTime": {"dateTime": "2026-11-26T00:00:00", "timeZone": "UTC"}}  # fmt: skip
    (schedule,) = s.post(url(graph, "/calendar/getSchedule"), json=args).json()["value"]
    assert schedule["workingHours"]["daysOfWeek"] == ["monday", "thursday"]
    assert len(schedule["availabilityView"]) == 48  # every 30 minutes by default
