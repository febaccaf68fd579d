"""Graph's time zones: Windows names mapped by Unicode CLDR's windowsZones, custom zones, and a zone nobody can map
reported with the mailbox, never a traceback.

Sources: user-get-mailboxsettings.md (its first example's working hours are in "Pacific Standard Time", its third
in a customTimeZone: tests/graph/microsoft/get_mailboxsettings_1.json, _3.json); user-list-events.md (Prefer:
outlook.timezone="Pacific Standard Time" answered in that zone); CLDR windowsZones.xml, as icalendar ships it.
O365's own table maps "Pacific Standard Time" to US/Pacific-New, which tzdata no longer has.
"""

from __future__ import annotations

import copy
import json
from datetime import datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from m3mail.backends.microsoft365.shapes import availability_of, event_of, instant
from m3mail.backends.microsoft365.zones import UnknownZone, zone
from m3mail.commands import init_folder
from m3mail.job import run_once
from m3mail.settings import load_settings
from tests.conftest import INIT_DAY
from tests.graph.agency import point_at
from tests.graph.conftest import ADVISER
from tests.graph.emulator import GraphEmulator
from tests.graph.test_emulator import event, session

EXAMPLES = Path(__file__).with_name("microsoft")
PARIS = ZoneInfo("Europe/Paris")


def example(name: str) -> dict:
    return json.loads((EXAMPLES / f"{name}.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    "name, iana",
    [
        ("Pacific Standard Time", "America/Los_Angeles"),  # Microsoft's mailboxSettings example
        ("pacific standard time", "America/Los_Angeles"),
        ("Romance Standard Time", "Europe/Paris"),  # what Outlook writes for Paris
        ("W. Europe Standard Time", "Europe/Berlin"),
        ("Mauritius Standard Time", "Indian/Mauritius"),  # La Réunion's Windows zone (CLDR territory RE)
        ("SA Western Standard Time", "America/La_Paz"),  # Guadeloupe, Martinique
        ("SA Eastern Standard Time", "America/Cayenne"),  # Guyane
        ("E. Africa Standard Time", "Africa/Nairobi"),  # Mayotte
        ("Europe/Paris", "Europe/Paris"),
        ("UTC", "UTC"),
        ({"name": "Pacific Standard Time"}, "America/Los_Angeles"),
        ({"@odata.type": "#microsoft.graph.customTimeZone", "name": "Romance Standard Time", "bias": -60},
         "Europe/Paris"),
    ],
)  # fmt: skip
def test_graph_zone_names_are_mapped_through_cldr(name, iana) -> None:
    assert zone(name).key == iana


@pytest.mark.parametrize(
    "value",
    ["Customized Time Zone", "Nonsense Standard Time", "tzone://Microsoft/Custom", "../etc/passwd",
     example("get_mailboxsettings_3")["response"]["body"]["timeZone"]],
)  # fmt: skip
def test_a_zone_no_table_maps_is_unknown_not_a_crash(value) -> None:
    with pytest.raises(UnknownZone) as caught:
        zone(value)
    assert "no table maps" in str(caught.value)


def test_microsoft_s_pacific_working_hours_are_read_in_pacific_time() -> None:
    settings = example("get_mailboxsettings_1")["response"]["body"]  # user-get-mailboxsettings.md, example 1
    found = availability_of(settings)
    assert found.timezone == "America/Los_Angeles" and found.problem == ""
    assert found.working_hours == (time(8), time(17)) and found.working_days == frozenset(range(5))
    utc = ZoneInfo("UTC")
    assert found.away == ((datetime(2016, 3, 14, 7, tzinfo=utc), datetime(2016, 3, 28, 7, tzinfo=utc)),)


def test_working_hours_in_a_custom_zone_are_left_out_and_said_so() -> None:
    settings = {"workingHours": example("get_mailboxsettings_3")["response"]["body"]}
    found = availability_of(settings)
    assert found.working_hours is None and found.timezone is None
    assert "Customized Time Zone" in found.problem


def test_events_answered_in_pacific_time_are_read_at_their_instant() -> None:
    (first, *_) = example("list_events")["response"]["body"]["value"]  # user-list-events.md, Prefer Pacific
    read = event_of({**first, "id": first.get("id", "AAMkEv")})
    assert read.start == datetime(2017, 4, 21, 17, tzinfo=ZoneInfo("UTC"))  # 10:00 PDT
    with pytest.raises(UnknownZone):
        instant({"dateTime": "2017-04-21T10:00:00.0000000", "timeZone": "Customized Time Zone"})


def test_the_emulator_answers_in_a_windows_zone_when_asked_as_graph_does(graph: GraphEmulator) -> None:
    graph.create_event(ADVISER, event("M3-C1#call1"))  # 10:00 in Paris on 25 November
    reply = session(graph).get(f"{graph.base_url}/v1.0/users/{ADVISER}/events",
                               headers={"Prefer": 'outlook.timezone="Pacific Standard Time"'})  # fmt: skip
    assert reply.status_code == 200
    assert reply.headers["Preference-Applied"] == 'outlook.timezone="Pacific Standard Time"'
    start = reply.json()["value"][0]["start"]
    assert start == {"dateTime": "2026-11-25T01:00:00.0000000", "timeZone": "Pacific Standard Time"}


CUSTOM = example("get_mailboxsettings_3")["response"]["body"]["timeZone"]


@pytest.fixture
def agency(tmp_path: Path, graph: GraphEmulator, monkeypatch: pytest.MonkeyPatch):
    """The sample agency on the emulator, the advisers' working days and hours left to Outlook."""
    for other in ("thomas.bernard@cabinet-exemple.fr", "nadia.hoarau@cabinet-exemple.fr"):
        graph.mailboxes[other] = type(graph.mailbox(ADVISER))(other)
    init_folder(tmp_path / "agence", INIT_DAY)
    path = tmp_path / "agence" / "m3mail.toml"
    point_at(path, graph)
    text = path.read_text(encoding="utf-8")
    text = "\n".join(li for li in text.splitlines() if not li.startswith(("working_hours =", "working_days =")))
    path.write_text(text + "\n", encoding="utf-8")
    monkeypatch.setenv("M3MAIL_CLIENT_SECRET", "a-secret")
    return load_settings(path)


def _local_starts(graph: GraphEmulator, mailbox: str, where: ZoneInfo) -> list[datetime]:
    return [e["_start"].astimezone(where) for e in graph.mailbox(mailbox).events.values()]


def test_an_unmappable_zone_is_reported_with_the_mailbox_and_the_others_go_on(agency, graph) -> None:
    graph.set_working_hours(ADVISER, start="14:00", end="17:00", zone=copy.deepcopy(CUSTOM))
    nadia = "nadia.hoarau@cabinet-exemple.fr"  # La Réunion: Outlook says "Mauritius Standard Time", same clock
    graph.set_working_hours(nadia, start="14:00", end="16:00", zone="Mauritius Standard Time")
    summary = run_once(agency, datetime.combine(INIT_DAY, time(8), PARIS), sleep=lambda _s: None,
                       echo=lambda _s: None)  # fmt: skip
    claire = summary.advisers[ADVISER]
    (problem,) = claire.errors
    assert "working hours unread" in problem and "Customized Time Zone" in problem
    assert claire.booked > 0  # booked in the default hours of the settings instead
    assert summary.advisers[nadia].errors == [] and summary.advisers[nadia].booked > 0
    reunion = ZoneInfo("Indian/Reunion")
    assert all(time(14) <= s.time() < time(16) for s in _local_starts(graph, nadia, reunion))


def test_the_emulator_keeps_a_custom_zone_patched_into_working_hours_as_graph_does(graph: GraphEmulator) -> None:
    patch = example("workinghours_custom_timezone")["request"]["body"]  # user-update-mailboxsettings.md, example 2
    reply = session(graph).patch(f"{graph.base_url}/v1.0/users/{ADVISER}/mailboxSettings", json=patch)
    assert reply.status_code == 200
    assert reply.json()["workingHours"]["timeZone"]["@odata.type"] == "#microsoft.graph.customTimeZone"
