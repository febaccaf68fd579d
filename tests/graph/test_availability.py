"""The adviser's Outlook says when they are away and when they work: calls are booked accordingly."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from m3mail.commands import init_folder
from m3mail.job import run_once
from m3mail.settings import Settings, load_settings
from tests.conftest import INIT_DAY
from tests.graph.agency import point_at
from tests.graph.conftest import ADVISER
from tests.graph.emulator import GraphEmulator

PARIS = ZoneInfo("Europe/Paris")


def test_automatic_replies_and_working_hours_are_read_from_mailbox_settings(backend, graph: GraphEmulator) -> None:
    start, end = datetime(2026, 12, 1, 8, tzinfo=PARIS), datetime(2026, 12, 4, 18, tzinfo=PARIS)
    graph.set_out_of_office(ADVISER, start, end)
    graph.set_working_hours(ADVISER, ["monday", "tuesday", "thursday"], "14:00", "17:00", "Romance Standard Time")
    found = backend.availability(ADVISER)
    assert found.away == ((start, end),)
    assert found.working_days == frozenset({0, 1, 3}) and found.timezone == "Europe/Paris"
    assert found.working_hours == (time(14), time(17))


def test_automatic_replies_turned_on_by_hand_have_no_end(backend, graph: GraphEmulator) -> None:
    graph.set_out_of_office(ADVISER)
    (since, until), = backend.availability(ADVISER).away
    assert since < datetime.now(UTC) and until is None


@pytest.fixture
def claire(tmp_path: Path, graph: GraphEmulator, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The sample agency with Claire alone, her working days and hours left to Outlook."""
    init_folder(tmp_path / "agence", INIT_DAY)
    path = tmp_path / "agence" / "m3mail.toml"
    point_at(path, graph, first_adviser_only=True)
    text = path.read_text(encoding="utf-8")
    text = "\n".join(li for li in text.splitlines() if not li.startswith(("working_hours =", "working_days =")))
    path.write_text(text + "\n", encoding="utf-8")
    monkeypatch.setenv("M3MAIL_CLIENT_SECRET", "a-secret")
    return load_settings(path)


def test_no_call_is_booked_while_the_adviser_is_away_nor_outside_outlook_s_working_hours(claire, graph) -> None:
    now = datetime.combine(INIT_DAY, time(17), PARIS)
    away_until = datetime(2026, 11, 30, 23, tzinfo=PARIS)
    graph.set_out_of_office(ADVISER, now, away_until)
    graph.set_working_hours(ADVISER, ["monday", "tuesday", "wednesday", "thursday", "friday"], "14:00", "17:00")
    summary = run_once(claire, now, sleep=lambda _s: None, echo=lambda _s: None)
    calls = [e for e in graph.mailbox(ADVISER).events.values()]
    assert summary.advisers[ADVISER].booked == len(calls) > 0
    for event in calls:
        start = datetime.fromisoformat(event["start"]["dateTime"]).replace(tzinfo=ZoneInfo(event["start"]["timeZone"]))
        local = start.astimezone(PARIS)
        assert local > away_until, local
        assert time(14) <= local.time() and (local + timedelta(minutes=20)).time() <= time(17), local
