"""The calendars the local backend writes, loaded into a real CalDAV server: Radicale, on loopback.

Radicale parses every upload with vobject and writes each zone again from what vobject read (radicale/app/put.py,
``prepare``: each item a new ``vobject.iCalendar()``; m3mail/backends/vtimezone.py says how). So the times below
are read through the VTIMEZONE Radicale returns, made into a tzinfo from that component itself
(``Timezone.to_tz(lookup_tzid=False)``: dateutil's ``tzical``, as a client that honours the file's zone does),
never by looking the TZID up in tzdata, which would hide a zone Radicale got wrong: an older m3mail's zones,
written with icalendar's ``Timezone.from_tzid``, came back as +01:00 all year and put every summer call an hour
late.

The server runs as a subprocess of this test: ``python -m radicale`` with a configuration of its own (Radicale
reads only the files ``--config`` names, radicale/config.py ``parse_compound_paths``), on 127.0.0.1 and a free
port, with no authentication (``[auth] type = none``: anyone is anonymous, and the default rights,
``owner_only``, then let anyone write one level below a top collection) and a temporary storage folder.
"""

from __future__ import annotations

import http.client
import socket
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar, Event, Timezone

from m3mail.backends.local import KEY_PROPERTY, PRODID, LocalBackend
from m3mail.backends.vtimezone import transitions, vtimezone
from m3mail.commands import SETTINGS_NAME
from m3mail.job import make_backend
from m3mail.settings import load_settings
from tests.backends.contract import call

ADVISER = "conseillere@agence.fr"
NOW = datetime(2026, 12, 1, 8, tzinfo=UTC)  # the run that books both calls
SUMMER, WINTER = datetime(2027, 7, 15, 10), datetime(2026, 12, 15, 10)  # wall clock in the adviser's zone
# Every zone the advisers work in: metropolitan France and the overseas offices (most without summer time).
ZONES = ["Europe/Paris", "Indian/Reunion", "America/Guadeloupe", "America/Martinique", "America/Cayenne",
         "Indian/Mayotte", "Pacific/Noumea", "Pacific/Tahiti"]  # fmt: skip
DAV, CALDAV = "DAV:", "urn:ietf:params:xml:ns:caldav"
QUERY = f"""<?xml version="1.0" encoding="utf-8"?>
<C:calendar-query xmlns:D="{DAV}" xmlns:C="{CALDAV}">
  <D:prop><C:calendar-data/></D:prop>
  <C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"/></C:comp-filter></C:filter>
</C:calendar-query>
"""


@dataclass(frozen=True)
class Radicale:
    port: int
    storage: Path

    def request(self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None,
                ) -> tuple[int, bytes]:  # fmt: skip
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request(method, path, body, headers or {})
            reply = connection.getresponse()
            return reply.status, reply.read()
        finally:
            connection.close()

    def upload(self, name: str, ics: bytes) -> None:
        """The whole file as one calendar collection, as ``curl -T`` or a client's import does."""
        status, _ = self.request("MKCOL", "/m3mail/")
        assert status in (201, 405)  # 405: already made
        status, body = self.request("PUT", f"/m3mail/{name}/", ics, {"Content-Type": "text/calendar; charset=utf-8"})
        assert status == 201, body.decode(errors="replace")

    def items(self, name: str) -> list[Calendar]:
        """Every item of the collection as a CalDAV client gets it: a calendar-query REPORT."""
        status, body = self.request("REPORT", f"/m3mail/{name}/", QUERY.encode(),
                                    {"Depth": "1", "Content-Type": "application/xml; charset=utf-8"})  # fmt: skip
        assert status == 207, body.decode(errors="replace")
        found = ET.fromstring(body).iter(f"{{{CALDAV}}}calendar-data")
        return [Calendar.from_ical(data.text or "") for data in found]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def radicale(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Radicale]:
    """A server of its own for each test: vobject keeps the first VTIMEZONE it parses for a TZID for the whole
    process (``TimezoneComponent.registerTzinfo`` registers a TZID only once), so one test's zone would be
    every later test's."""
    folder = tmp_path_factory.mktemp("radicale")
    port = _free_port()
    config = folder / "config"
    config.write_text(f"""[server]
hosts = 127.0.0.1:{port}
[auth]
type = none
[storage]
filesystem_folder = {folder / "collections"}
[web]
type = none
[logging]
level = warning
""")
    log = folder / "radicale.log"
    with log.open("wb") as out:
        server = subprocess.Popen([sys.executable, "-m", "radicale", "--config", str(config)],
                                  stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        ready = Radicale(port, folder / "collections")
        deadline = time.monotonic() + 30
        while True:
            assert server.poll() is None, f"Radicale stopped: {log.read_text(errors='replace')}"
            try:
                ready.request("OPTIONS", "/")
                break
            except OSError:
                assert time.monotonic() < deadline, f"Radicale did not answer: {log.read_text(errors='replace')}"
                time.sleep(0.1)
        yield ready
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def starts(cal: Calendar) -> dict[str, datetime]:
    """Each event's start (by key) as the VTIMEZONE in ``cal`` places it: its wall clock, that zone's offset."""
    zones = {str(tz["TZID"]): tz.to_tz(lookup_tzid=False) for tz in cal.walk("VTIMEZONE")}
    found = {}
    for event in cal.walk("VEVENT"):
        start = event["DTSTART"]
        found[str(event[KEY_PROPERTY])] = start.dt.replace(tzinfo=zones[start.params["TZID"]])
    return found


def served(radicale: Radicale, name: str) -> dict[str, datetime]:
    return {key: start for cal in radicale.items(name) for key, start in starts(cal).items()}


def book_summer_and_winter(backend: LocalBackend, adviser: str) -> None:
    zone = backend.zone(adviser)
    for key, wall in (("F1.call.1", SUMMER), ("F2.call.1", WINTER)):
        backend.create_call(adviser, call(key, wall.replace(tzinfo=zone)))


def expect_at_their_hour(found: dict[str, datetime], zone: str) -> None:
    where = ZoneInfo(zone)
    for key, wall in (("F1.call.1", SUMMER), ("F2.call.1", WINTER)):
        right = wall.replace(tzinfo=where)
        assert found[key].astimezone(UTC) == right.astimezone(UTC), (
            f"{zone} {key}: the served zone puts {wall:%d/%m/%Y %H:%M} at UTC{found[key].utcoffset()}, "
            f"not UTC{right.utcoffset()}"
        )


# --- through Radicale ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("zone", ZONES)
def test_a_summer_and_a_winter_call_are_at_their_hour_in_radicale(tmp_path: Path, radicale: Radicale,
                                                                    zone: str) -> None:  # fmt: skip
    backend = LocalBackend(tmp_path, [ADVISER], zones={ADVISER: zone}, clock=lambda: NOW)
    book_summer_and_winter(backend, ADVISER)
    ics = backend.calendar_path(ADVISER).read_bytes()
    assert ics.count(f"DTSTART;TZID={zone}:".encode()) == 2  # each call in the adviser's own zone

    name = zone.replace("/", "-").lower()
    radicale.upload(name, ics)
    found = served(radicale, name)
    assert sorted(found) == ["F1.call.1", "F2.call.1"]
    expect_at_their_hour(found, zone)


def test_each_adviser_of_the_example_settings_gets_a_calendar_in_their_zone(workdir: Path,
                                                                              radicale: Radicale) -> None:  # fmt: skip
    settings = load_settings(workdir / SETTINGS_NAME)
    backend = make_backend(settings, lambda: NOW)
    assert isinstance(backend, LocalBackend)
    for adviser in settings.advisers:
        book_summer_and_winter(backend, adviser.email)
        cal = Calendar.from_ical(backend.calendar_path(adviser.email).read_bytes())
        assert [str(tz["TZID"]) for tz in cal.walk("VTIMEZONE")] == [adviser.timezone]
        name = adviser.email.split("@")[0]
        radicale.upload(name, backend.calendar_path(adviser.email).read_bytes())
        expect_at_their_hour(served(radicale, name), adviser.timezone)
    if settings.filing.mailbox:  # a mailbox that is no adviser's: the agency's zone
        assert backend.zone(settings.filing.mailbox).key == settings.timezone
    assert {a.timezone for a in settings.advisers} >= {"Europe/Paris", "Indian/Reunion"}


@pytest.mark.parametrize("zone", ["Europe/Paris", "Indian/Reunion"])
def test_an_older_m3mail_calendar_is_right_once_a_call_is_booked_in_it(tmp_path: Path, radicale: Radicale,
                                                                       zone: str) -> None:  # fmt: skip
    """Older versions wrote every calendar in Europe/Paris, overseas advisers' too, with the RDATE-list zone:
    the next call booked rewrites the file with that zone as rules, the adviser's own beside it."""
    paris = ZoneInfo("Europe/Paris")
    old = Calendar()
    old.add("prodid", PRODID)
    old.add("version", "2.0")
    old.add_component(Timezone.from_tzid("Europe/Paris"))  # as m3mail wrote its zone
    booked = Event()
    booked.add("uid", "F1.call.1@m3mail")
    booked.add("dtstamp", NOW)
    booked.add("dtstart", SUMMER.replace(tzinfo=paris))
    booked.add("dtend", SUMMER.replace(tzinfo=paris) + timedelta(minutes=30))
    booked.add(KEY_PROPERTY, "F1.call.1")
    old.add_component(booked)
    backend = LocalBackend(tmp_path, [ADVISER], zones={ADVISER: zone}, clock=lambda: NOW)
    backend.calendar_path(ADVISER).write_bytes(old.to_ical())
    assert backend.calls(ADVISER, ["F1.call.1"])["F1.call.1"].start == SUMMER.replace(tzinfo=paris)  # read by TZID

    backend.create_call(ADVISER, call("F2.call.1", WINTER.replace(tzinfo=ZoneInfo(zone))))
    ics = backend.calendar_path(ADVISER).read_bytes()
    zones = [str(tz["TZID"]) for tz in Calendar.from_ical(ics).walk("VTIMEZONE")]
    assert b"RDATE" not in ics and zones == list(dict.fromkeys(["Europe/Paris", zone]))  # replaced, not doubled
    radicale.upload("older", ics)
    found = served(radicale, "older")
    assert found["F1.call.1"].astimezone(UTC) == SUMMER.replace(tzinfo=paris).astimezone(UTC)
    assert found["F2.call.1"].astimezone(UTC) == WINTER.replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)


# --- the zones as written ------------------------------------------------------------------------------------


def test_paris_is_written_as_calendar_apps_write_it() -> None:
    tz = vtimezone(ZoneInfo("Europe/Paris"), NOW.date())
    rules = {s.name: (s["RRULE"].to_ical(), s["TZOFFSETFROM"].td, s["TZOFFSETTO"].td) for s in tz.subcomponents}
    hour = timedelta(hours=1)
    assert rules == {"DAYLIGHT": (b"FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3", hour, 2 * hour),
                     "STANDARD": (b"FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10", 2 * hour, hour)}  # fmt: skip


@pytest.mark.parametrize("zone", ZONES[1:])
def test_an_overseas_zone_without_summer_time_is_a_single_standard(zone: str) -> None:
    (standard,) = vtimezone(ZoneInfo(zone), NOW.date()).subcomponents
    offset = datetime(2027, 1, 1, tzinfo=ZoneInfo(zone)).utcoffset()
    assert standard.name == "STANDARD" and standard["TZOFFSETFROM"].td == standard["TZOFFSETTO"].td == offset


# Zones whose rules are harder than Paris's: weeks counted from the start of the month, the southern hemisphere,
# daylight time in winter (Dublin), 45-minute offsets, changes at midnight or none, rules no RRULE of this form
# can say (Chile's "first Sunday on or after the 2nd", Morocco's Ramadan, Greenland's changes on Saturdays).
HARDER = ["America/New_York", "Australia/Sydney", "Europe/Dublin", "Pacific/Chatham", "America/Havana",
          "Asia/Kolkata", "America/Santiago", "Africa/Casablanca", "America/Nuuk", "Asia/Jerusalem"]  # fmt: skip


@pytest.mark.parametrize("zone", ZONES + HARDER)
def test_a_zone_read_from_its_vtimezone_agrees_with_tzdata_for_the_coming_years(zone: str) -> None:
    """Every offset change from last year to 2040, and the hour either side of each, read through the
    VTIMEZONE component alone; never an RDATE list."""
    where = ZoneInfo(zone)
    written = vtimezone(where, NOW.date())
    assert all("RDATE" not in sub for sub in written.subcomponents)
    read = Timezone.from_ical(written.to_ical()).to_tz(lookup_tzid=False)
    moments = [datetime(year, month, 15, 12, tzinfo=UTC) for year in range(2025, 2041) for month in range(1, 13)]
    for change in transitions(where, datetime(2025, 1, 1, tzinfo=UTC), datetime(2041, 1, 1, tzinfo=UTC)):
        moments += [change.at - timedelta(hours=1), change.at + timedelta(hours=1)]
    for moment in moments:
        local = moment.astimezone(where)
        assert local.replace(tzinfo=read).utcoffset() == local.utcoffset(), f"{zone} at {local}"


def test_a_zone_follows_its_rule_from_the_first_year_it_held() -> None:
    (daylight,) = vtimezone(ZoneInfo("Europe/Paris"), date(2026, 6, 1)).walk("DAYLIGHT")
    (standard,) = vtimezone(ZoneInfo("Europe/Paris"), date(2026, 6, 1)).walk("STANDARD")
    # The EU's rules since 1996 (last Sunday of October); summer time from the last Sunday of March since 1981.
    assert (daylight["DTSTART"].dt, standard["DTSTART"].dt) == (datetime(1996, 3, 31, 2), datetime(1996, 10, 27, 3))
