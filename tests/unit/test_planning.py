"""Planning: holidays, business days, client zones, complaint deadlines, sending hours and the call planner.

Every expected value below was computed by hand from the 2025-2028 calendars (weekdays, French public
holidays, UTC offsets); none is produced by the code under test. Booked slots are written as the adviser's
wall clock with its UTC offset, "2026-03-30 11:00+0200", so that a DST mistake cannot hide.

Reference days: Wed 10/06/2026 (CEST, UTC+2); Réunion is UTC+4 all year. Paris changes clocks on Sunday
29/03/2026 (UTC+1 -> UTC+2) and Sunday 25/10/2026 (UTC+2 -> UTC+1).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from m3mail.planning import (
    AdviserRules,
    Booking,
    CallRequest,
    Shortage,
    add_business_days,
    client_subdivision,
    client_timezone,
    complaint_deadlines,
    is_business_day,
    is_public_holiday,
    may_send_email,
    next_sending_time,
    plan_calls,
)

PARIS = ZoneInfo("Europe/Paris")
REUNION = ZoneInfo("Indian/Reunion")


def d(iso: str) -> date:
    return date.fromisoformat(iso)


def at(text: str, zone: ZoneInfo = PARIS) -> datetime:
    """``"2026-06-10 10:00"`` in ``zone``, or an explicit offset (``"2026-03-30 08:00+00:00"``)."""
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


def hours(*ranges: str) -> tuple[tuple[time, time], ...]:
    """``"09:00-12:30"`` -> ((09:00, 12:30),)."""
    pairs = (r.split("-") for r in ranges)
    return tuple((time.fromisoformat(a), time.fromisoformat(b)) for a, b in pairs)


# --- holidays and business days ------------------------------------------------------------------------


@pytest.mark.parametrize(("day", "subdivisions", "expected"), [
    pytest.param("2026-05-01", (), True, id="1-may"),
    pytest.param("2026-07-14", (), True, id="14-july"),
    pytest.param("2026-05-25", (), True, id="whit-monday"),
    pytest.param("2026-05-14", (), True, id="ascension"),
    pytest.param("2026-05-26", (), False, id="ordinary-tuesday"),
    pytest.param("2026-04-03", (), False, id="good-friday-metropolitan"),
    pytest.param("2026-04-03", ("57",), True, id="good-friday-moselle"),
    pytest.param("2026-04-03", ("6AE",), True, id="good-friday-alsace"),
    pytest.param("2026-04-03", ("974",), False, id="good-friday-reunion"),
    pytest.param("2026-04-03", ("974", "57"), True, id="good-friday-any-of-two"),
    pytest.param("2026-04-03", ("",), False, id="empty-subdivision-ignored"),
    pytest.param("2025-12-26", (), False, id="26-december-metropolitan"),
    pytest.param("2025-12-26", ("57",), True, id="26-december-moselle"),
    pytest.param("2025-12-26", ("6AE",), True, id="26-december-alsace"),
    pytest.param("2025-12-26", ("974",), False, id="26-december-reunion"),
    pytest.param("2025-12-20", ("974",), True, id="20-december-reunion"),
    pytest.param("2025-12-20", (), False, id="20-december-metropolitan"),
    pytest.param("2025-12-20", ("57",), False, id="20-december-moselle"),
    pytest.param("2026-05-01", ("974",), True, id="national-day-counts-overseas-too"),
])  # fmt: skip
def test_is_public_holiday(day, subdivisions, expected):
    assert is_public_holiday(d(day), subdivisions) is expected


def test_unknown_subdivision_is_a_value_error():
    with pytest.raises(ValueError, match="XX"):
        is_public_holiday(d("2026-06-10"), ("XX",))


@pytest.mark.parametrize(("day", "subdivisions", "expected"), [
    pytest.param("2026-06-10", (), True, id="wednesday"),
    pytest.param("2026-06-13", (), False, id="saturday"),
    pytest.param("2026-06-14", (), False, id="sunday"),
    pytest.param("2026-05-01", (), False, id="friday-1-may"),
    pytest.param("2026-04-03", (), True, id="good-friday-metropolitan"),
    pytest.param("2026-04-03", ("57",), False, id="good-friday-moselle"),
    pytest.param("2027-12-20", ("974",), False, id="monday-20-december-reunion"),
    pytest.param("2027-12-20", (), True, id="monday-20-december-metropolitan"),
])  # fmt: skip
def test_is_business_day(day, subdivisions, expected):
    assert is_business_day(d(day), subdivisions) is expected


@pytest.mark.parametrize(("day", "n", "subdivisions", "expected"), [
    pytest.param("2026-05-22", 1, (), "2026-05-26", id="fri-over-whit-monday-weekend"),
    pytest.param("2026-05-23", 1, (), "2026-05-26", id="from-saturday"),
    pytest.param("2026-05-22", 0, (), "2026-05-22", id="zero"),
    pytest.param("2026-05-26", -1, (), "2026-05-22", id="backwards-over-the-long-weekend"),
    pytest.param("2026-04-02", 1, (), "2026-04-03", id="thu-to-good-friday-metropolitan"),
    pytest.param("2026-04-02", 1, ("57",), "2026-04-07", id="thu-over-easter-moselle"),
    pytest.param("2026-04-02", 2, (), "2026-04-07", id="thu-plus-2-over-easter-monday"),
    pytest.param("2026-05-13", 1, (), "2026-05-15", id="over-ascension-bridge-day-is-worked"),
])  # fmt: skip
def test_add_business_days(day, n, subdivisions, expected):
    assert add_business_days(d(day), n, subdivisions) == d(expected)


# --- client zone and subdivision from the postal code ---------------------------------------------------


@pytest.mark.parametrize(("postal_code", "zone", "subdivision"), [
    pytest.param("75008", "Europe/Paris", "", id="paris"),
    pytest.param("20000", "Europe/Paris", "", id="corsica"),
    pytest.param("57000", "Europe/Paris", "57", id="moselle"),
    pytest.param("67000", "Europe/Paris", "6AE", id="bas-rhin"),
    pytest.param("68100", "Europe/Paris", "6AE", id="haut-rhin"),
    pytest.param("5700", "Europe/Paris", "", id="05700-hautes-alpes-lost-its-zero"),
    pytest.param("6700", "Europe/Paris", "", id="06700-alpes-maritimes-lost-its-zero"),
    pytest.param("97100", "America/Guadeloupe", "971", id="guadeloupe"),
    pytest.param("97200", "America/Martinique", "972", id="martinique"),
    pytest.param("97300", "America/Cayenne", "973", id="guyane"),
    pytest.param("97400", "Indian/Reunion", "974", id="reunion"),
    pytest.param(" 97 490 ", "Indian/Reunion", "974", id="reunion-with-spaces"),
    pytest.param("97500", "America/Miquelon", "PM", id="saint-pierre-et-miquelon"),
    pytest.param("97600", "Indian/Mayotte", "976", id="mayotte"),
    pytest.param("97700", "America/St_Barthelemy", "BL", id="saint-barthelemy-977"),
    pytest.param("97133", "America/St_Barthelemy", "BL", id="saint-barthelemy-postal-97133"),
    pytest.param("97800", "America/Marigot", "MF", id="saint-martin-978"),
    pytest.param("97150", "America/Marigot", "MF", id="saint-martin-postal-97150"),
    pytest.param("", "Europe/Paris", "", id="empty"),
])  # fmt: skip
def test_client_timezone_and_subdivision(postal_code, zone, subdivision):
    assert (client_timezone(postal_code), client_subdivision(postal_code)) == (zone, subdivision)


# --- complaint deadlines (ACPR 2022-R-01) ---------------------------------------------------------------


@pytest.mark.parametrize(("day", "kwargs", "ack", "answer"), [
    # Wed 29/04/2026: 30/04 (1), Fri 1 May off, 4-7/05 (2-5), Fri 8 May off, 11-13/05 (6-8), Thu 14 Ascension
    # off, Fri 15 (9), Mon 18 (10)
    pytest.param("2026-04-29", {}, "2026-05-18", "2026-06-29", id="across-three-may-holidays"),
    # Thu 31/12/2026: Fri 1 Jan off, 4-8/01 (1-5), 11-15/01 (6-10); 31/12 + 2 months = 28/02/2027
    pytest.param("2026-12-31", {}, "2027-01-15", "2027-02-28", id="31-december-to-28-february"),
    # Fri 31/12/2027: Sat 1 Jan, 3-7/01 (1-5), 10-14/01 (6-10); 2028 is a leap year
    pytest.param("2027-12-31", {}, "2028-01-14", "2028-02-29", id="31-december-to-29-february-leap"),
    # Fri 19/12/2025: 22-24/12 (1-3), Thu 25 off, Fri 26 worked: (4), 29-31/12 (5-7), Thu 1 Jan off, 2/01 (8),
    # 5-6/01 (9-10)
    pytest.param("2025-12-19", {}, "2026-01-06", "2026-02-19", id="christmas-metropolitan"),
    # ... and in Moselle Fri 26/12 is off too: 29-31/12 (4-6), 2/01 (7), 5-7/01 (8-10)
    pytest.param("2025-12-19", {"subdivisions": ("57",)}, "2026-01-07", "2026-02-19", id="christmas-moselle"),
    # Fri 30/01/2026, 5 business days: 2-6/02; 1 month: 30/01 -> 28/02
    pytest.param("2026-01-30", {"ack_business_days": 5, "answer_months": 1}, "2026-02-06", "2026-02-28",
                 id="custom-5-days-1-month"),
])  # fmt: skip
def test_complaint_deadlines(day, kwargs, ack, answer):
    assert complaint_deadlines(d(day), **kwargs) == (d(ack), d(answer))


# --- client email sending hours ---------------------------------------------------------------------------

OFFICE = hours("09:00-18:00")
SPLIT = hours("09:00-12:00", "14:00-18:00")


@pytest.mark.parametrize(("now", "send_hours", "zone", "subdivisions", "expected"), [
    pytest.param("2026-06-10 09:00", OFFICE, "Europe/Paris", (), True, id="start-included"),
    pytest.param("2026-06-10 17:59", OFFICE, "Europe/Paris", (), True, id="last-minute"),
    pytest.param("2026-06-10 18:00", OFFICE, "Europe/Paris", (), False, id="end-excluded"),
    pytest.param("2026-06-10 08:59", OFFICE, "Europe/Paris", (), False, id="too-early"),
    pytest.param("2026-06-10 13:00", SPLIT, "Europe/Paris", (), False, id="lunch-gap"),
    pytest.param("2026-06-10 14:00", SPLIT, "Europe/Paris", (), True, id="second-range"),
    pytest.param("2026-06-13 10:00", OFFICE, "Europe/Paris", (), False, id="saturday"),
    pytest.param("2026-05-01 10:00", OFFICE, "Europe/Paris", (), False, id="1-may"),
    pytest.param("2026-04-03 10:00", OFFICE, "Europe/Paris", (), True, id="good-friday-metropolitan"),
    pytest.param("2026-04-03 10:00", OFFICE, "Europe/Paris", ("57",), False, id="good-friday-moselle"),
    pytest.param("2026-06-10 07:30+00:00", OFFICE, "Europe/Paris", (), True, id="utc-now-is-09h30-paris"),
    pytest.param("2026-06-10 06:30+00:00", OFFICE, "Europe/Paris", (), False, id="utc-now-is-08h30-paris"),
    pytest.param("2026-06-10 06:00+00:00", OFFICE, "Indian/Reunion", ("974",), True, id="10h00-in-reunion"),
    pytest.param("2026-06-10 14:30+00:00", OFFICE, "Indian/Reunion", ("974",), False,
                 id="18h30-in-reunion-16h30-in-paris"),
    pytest.param("2027-12-20 06:00+00:00", OFFICE, "Indian/Reunion", ("974",), False, id="20-december-reunion"),
    pytest.param("2027-12-20 06:00+00:00", OFFICE, "Indian/Reunion", (), True, id="20-december-no-subdivision"),
])  # fmt: skip
def test_may_send_email(now, send_hours, zone, subdivisions, expected):
    assert may_send_email(at(now), send_hours, zone, subdivisions) is expected


@pytest.mark.parametrize(("now", "send_hours", "zone", "subdivisions", "expected"), [
    pytest.param("2026-06-10 10:00", OFFICE, "Europe/Paris", (), "2026-06-10T10:00:00+02:00", id="now"),
    pytest.param("2026-06-10 07:00", OFFICE, "Europe/Paris", (), "2026-06-10T09:00:00+02:00", id="later-today"),
    pytest.param("2026-06-10 18:30", OFFICE, "Europe/Paris", (), "2026-06-11T09:00:00+02:00", id="tomorrow"),
    pytest.param("2026-06-10 12:30", SPLIT, "Europe/Paris", (), "2026-06-10T14:00:00+02:00", id="after-lunch"),
    pytest.param("2026-06-12 18:00", OFFICE, "Europe/Paris", (), "2026-06-15T09:00:00+02:00", id="over-weekend"),
    pytest.param("2026-04-30 19:00", OFFICE, "Europe/Paris", (), "2026-05-04T09:00:00+02:00",
                 id="over-1-may-long-weekend"),
    pytest.param("2026-04-02 19:00", OFFICE, "Europe/Paris", ("57",), "2026-04-07T09:00:00+02:00",
                 id="over-easter-in-moselle"),
    pytest.param("2026-03-28 12:00", OFFICE, "Europe/Paris", (), "2026-03-30T09:00:00+02:00",
                 id="over-dst-spring-sunday"),
    pytest.param("2026-10-25 00:30+00:00", OFFICE, "Europe/Paris", (), "2026-10-26T09:00:00+01:00",
                 id="from-the-repeated-hour-of-the-autumn-sunday"),
    pytest.param("2026-06-10 15:00+00:00", OFFICE, "Indian/Reunion", ("974",), "2026-06-11T09:00:00+04:00",
                 id="reunion-evening"),
])  # fmt: skip
def test_next_sending_time(now, send_hours, zone, subdivisions, expected):
    assert next_sending_time(at(now), send_hours, zone, subdivisions).isoformat() == expected


def test_next_sending_time_without_sending_hours_is_a_value_error():
    with pytest.raises(ValueError):
        next_sending_time(at("2026-06-10 10:00"), (), "Europe/Paris")


def test_naive_now_is_a_value_error():
    with pytest.raises(ValueError, match="time zone"):
        may_send_email(datetime(2026, 6, 10, 10), OFFICE, "Europe/Paris")


# --- the call planner -----------------------------------------------------------------------------------

RULES = AdviserRules(
    timezone="Europe/Paris",
    working_days=frozenset(range(5)),
    working_hours=hours("09:00-18:00"),
    call_hours=hours("10:00-13:00", "14:00-20:00"),
    subdivision="",
    max_per_day=8,
    slot=timedelta(minutes=20),
    lead=timedelta(minutes=60),
)
NOW = "2026-06-01 08:00"  # Monday


def req(fid="F1", due="2026-06-10", start=None, end=None, *, priority=1, zone="Europe/Paris", subdivision="",
        avoid=None, attempts=()) -> CallRequest:  # fmt: skip
    """A request; the window is the due date +/- 7 days unless given."""
    due_day = d(due)
    return CallRequest(
        followup_id=fid,
        priority=priority,
        due_date=due_day,
        window_start=d(start) if start else due_day - timedelta(days=7),
        window_end=d(end) if end else due_day + timedelta(days=7),
        client_timezone=zone,
        client_subdivision=subdivision,
        avoid_half=avoid,
        earlier_attempts=tuple(at(a) for a in attempts),
    )


def block(day: str, span: str, zone: ZoneInfo = PARIS) -> tuple[datetime, datetime]:
    """A busy interval on ``day``: ``block("2026-06-10", "10:00-10:45")``."""
    start, end = span.split("-")
    return at(f"{day} {start}", zone), at(f"{day} {end}", zone)


def daily(first: str, last: str, *spans: str) -> list[tuple[datetime, datetime]]:
    """A recurring busy block: each span on every day from ``first`` to ``last``."""
    days = (d(first) + timedelta(days=i) for i in range((d(last) - d(first)).days + 1))
    return [block(day.isoformat(), span) for day in days for span in spans]


def plan(requests, busy=(), counts=None, now=NOW, **changes) -> list[str]:
    """The planner's answer as text, "F1 2026-06-10 10:00+0200" per booking and "F2 none 2026-06-10" per
    shortage; ``changes`` replace fields of RULES."""
    bookings, shortages = plan_calls(requests, replace(RULES, **changes), busy, counts or {}, at(now))
    return [f"{b.followup_id} {b.start:%Y-%m-%d %H:%M%z}" for b in bookings] + [
        f"{s.followup_id} none {s.day}" for s in shortages
    ]


def test_first_slot_is_10h00_on_the_due_date_in_the_advisers_zone():
    [booking], shortages = plan_calls([req()], RULES, [], {}, at(NOW))
    assert shortages == []
    assert booking == Booking("F1", at("2026-06-10 10:00"), at("2026-06-10 10:20"))
    assert booking.start.tzinfo == PARIS and booking.start.utcoffset() == timedelta(hours=2)


@pytest.mark.parametrize(("now", "expected"), [
    pytest.param("2026-06-10 08:00", "F1 2026-06-10 10:00+0200", id="lead-ends-before-call-hours"),
    pytest.param("2026-06-10 09:00", "F1 2026-06-10 10:00+0200", id="lead-ends-at-10h00"),
    pytest.param("2026-06-10 09:05", "F1 2026-06-10 10:20+0200", id="lead-pushes-to-next-slot"),
    pytest.param("2026-06-10 09:40", "F1 2026-06-10 10:40+0200", id="lead-ends-on-a-slot"),
    pytest.param("2026-06-10 11:30", "F1 2026-06-10 12:40+0200", id="last-morning-slot-12h40-13h00"),
    pytest.param("2026-06-10 11:45", "F1 2026-06-10 14:00+0200", id="lead-pushes-past-lunch"),
    pytest.param("2026-06-10 16:45", "F1 2026-06-11 10:00+0200", id="no-slot-left-today-tomorrow-not-yesterday"),
    pytest.param("2026-06-10 07:00+00:00", "F1 2026-06-10 10:00+0200", id="now-in-utc"),
])  # fmt: skip
def test_lead_time(now, expected):
    assert plan([req()], now=now) == [expected]


@pytest.mark.parametrize(("busy", "expected"), [
    pytest.param([block("2026-06-10", "10:00-10:45")], "F1 2026-06-10 11:00+0200", id="event-then-grid"),
    pytest.param([block("2026-06-10", "10:00-10:20")], "F1 2026-06-10 10:20+0200", id="back-to-back-allowed"),
    pytest.param([block("2026-06-10", "10:19-10:21")], "F1 2026-06-10 10:40+0200", id="short-event-two-slots"),
    pytest.param([block("2026-06-10", "09:00-13:00")], "F1 2026-06-10 14:00+0200", id="busy-morning"),
    pytest.param([block("2026-06-10", "08:00-09:00", ZoneInfo("UTC"))], "F1 2026-06-10 11:00+0200",
                 id="event-given-in-utc"),
    pytest.param([block("2026-06-10", "06:00-07:00")], "F1 2026-06-10 10:00+0200", id="event-before-hours"),
    pytest.param([(at("2026-06-09 18:00"), at("2026-06-10 12:00"))], "F1 2026-06-10 12:00+0200",
                 id="event-from-the-day-before"),
    pytest.param(daily("2026-06-01", "2026-06-17", "10:00-12:00", "14:00-18:00"), "F1 2026-06-10 12:00+0200",
                 id="recurring-blocks-leave-noon"),
    pytest.param(daily("2026-06-08", "2026-06-12", "09:00-18:00"), "F1 2026-06-05 10:00+0200",
                 id="recurring-full-days-week-then-friday-before-not-monday-after"),
    pytest.param([(at("2026-06-08 00:00"), at("2026-06-13 00:00"))], "F1 2026-06-05 10:00+0200",
                 id="out-of-office-week"),
])  # fmt: skip
def test_busy_intervals(busy, expected):
    assert plan([req()], busy=busy) == [expected]


@pytest.mark.parametrize(("working", "busy", "expected"), [
    # allowed: 10:00-12:30 and 14:00-18:00; 12:20-12:40 would cross 12:30
    pytest.param(("09:00-12:30", "13:30-18:00"), [block("2026-06-10", "10:00-12:10")], "F1 2026-06-10 14:00+0200",
                 id="lunch-break-narrows-morning"),
    pytest.param(("09:00-18:00",), [block("2026-06-10", "10:00-12:10")], "F1 2026-06-10 12:20+0200",
                 id="without-the-break-12h20-fits"),
    pytest.param(("09:00-12:30", "13:30-18:00"), [block("2026-06-10", "10:00-12:30"), block("2026-06-10",
                 "14:00-17:50")], "F1 2026-06-09 10:00+0200", id="18h00-end-no-17h40-slot"),
    pytest.param(("11:15-18:00",), [], "F1 2026-06-10 11:15+0200", id="grid-from-the-allowed-start"),
    pytest.param(("12:45-18:00",), [], "F1 2026-06-10 14:00+0200", id="15-minutes-is-too-short"),
    pytest.param(("07:00-09:30",), [], "F1 none 2026-06-10", id="no-overlap-shortage"),
])  # fmt: skip
def test_working_hours_narrow_call_hours(working, busy, expected):
    assert plan([req()], busy=busy, working_hours=hours(*working)) == [expected]


@pytest.mark.parametrize(("request_", "changes", "now", "expected"), [
    pytest.param(req(due="2026-06-13"), {}, NOW, "F1 2026-06-12 10:00+0200", id="due-saturday-to-friday"),
    pytest.param(req(due="2026-06-14"), {}, NOW, "F1 2026-06-15 10:00+0200", id="due-sunday-to-monday"),
    pytest.param(req(due="2026-06-13"), {"working_days": frozenset(range(7))}, NOW, "F1 2026-06-12 10:00+0200",
                 id="saturday-never-even-if-worked"),
    pytest.param(req(), {"working_days": frozenset({0, 1, 3, 4})}, NOW, "F1 2026-06-09 10:00+0200",
                 id="wednesday-off"),
    pytest.param(req(due="2026-05-01"), {}, "2026-04-20 08:00", "F1 2026-04-30 10:00+0200",
                 id="due-on-1-may"),
    pytest.param(req(due="2026-04-03", start="2026-04-03", end="2026-04-06"), {}, "2026-03-23 08:00",
                 "F1 2026-04-03 10:00+0200", id="good-friday-metropolitan"),
    pytest.param(req(due="2026-04-03", start="2026-04-03", end="2026-04-06"), {"subdivision": "57"},
                 "2026-03-23 08:00", "F1 none 2026-04-03", id="easter-window-moselle-adviser"),
    pytest.param(req(due="2026-04-03", start="2026-04-03", end="2026-04-06", subdivision="6AE"), {},
                 "2026-03-23 08:00", "F1 none 2026-04-03", id="easter-window-alsace-client"),
    pytest.param(req(due="2026-12-25", start="2026-12-24", end="2026-12-27"), {"subdivision": "57"},
                 "2026-12-24 17:30", "F1 none 2026-12-25", id="christmas-window-from-thursday-evening"),
    pytest.param(req(due="2026-05-14", start="2026-05-14", end="2026-05-17"), {}, "2026-05-04 08:00",
                 "F1 2026-05-15 10:00+0200", id="ascension-bridge-friday-is-worked"),
    pytest.param(req(due="2026-06-10", start="2026-06-10", end="2026-06-10"), {}, "2026-06-10 19:30",
                 "F1 none 2026-06-10", id="window-over-never-after-its-end"),
    pytest.param(req(due="2026-06-05", start="2026-06-01", end="2026-06-05"), {}, "2026-06-08 08:00",
                 "F1 none 2026-06-05", id="window-in-the-past"),
])  # fmt: skip
def test_days_never_on_weekend_holiday_or_outside_window(request_, changes, now, expected):
    assert plan([request_], now=now, **changes) == [expected]


def test_window_full_to_its_end_gives_a_shortage_not_a_later_day():
    window = req(due="2026-06-17", start="2026-06-15", end="2026-06-17")
    assert plan([window], busy=daily("2026-06-15", "2026-06-17", "00:00-23:59")) == ["F1 none 2026-06-17"]


@pytest.mark.parametrize(("requests", "counts", "max_per_day", "expected"), [
    pytest.param([req()], {d("2026-06-10"): 8}, 8, ["F1 2026-06-09 10:00+0200"], id="due-day-full-day-before"),
    pytest.param([req()], {d("2026-06-10"): 8, d("2026-06-09"): 9}, 8, ["F1 2026-06-11 10:00+0200"],
                 id="two-days-full-day-after"),
    pytest.param([req("F1"), req("F2")], {d("2026-06-10"): 7}, 8,
                 ["F1 2026-06-10 10:00+0200", "F2 2026-06-09 10:00+0200"], id="last-place-of-the-day"),
    pytest.param([req("F1"), req("F2"), req("F3")], {}, 2,
                 ["F1 2026-06-10 10:00+0200", "F2 2026-06-10 10:20+0200", "F3 2026-06-09 10:00+0200"],
                 id="fill-the-day-then-spill"),
    pytest.param([req("F1"), req("F2"), req("F3"), req("F4")], {}, 1,
                 ["F1 2026-06-10 10:00+0200", "F2 2026-06-09 10:00+0200", "F3 2026-06-11 10:00+0200",
                  "F4 2026-06-08 10:00+0200"], id="one-a-day-closest-days-earlier-first"),
    pytest.param([req()], {d("2026-06-10"): 0}, 0, ["F1 none 2026-06-10"], id="zero-capacity"),
])  # fmt: skip
def test_max_per_day(requests, counts, max_per_day, expected):
    assert plan(requests, counts=counts, max_per_day=max_per_day) == expected


# one call a day: whoever is served first takes 10/06, the other gets what is left (11/06 is full when given)
@pytest.mark.parametrize(("requests", "counts", "expected"), [
    pytest.param([req("A", priority=1, start="2026-06-10", end="2026-06-10"),
                  req("B", priority=5, start="2026-06-10", end="2026-06-10"),
                  req("C", priority=3, start="2026-06-10", end="2026-06-10")], {},
                 ["B 2026-06-10 10:00+0200", "C none 2026-06-10", "A none 2026-06-10"], id="highest-priority-wins"),
    pytest.param([req("A", start="2026-06-10", end="2026-06-17"), req("B", start="2026-06-10", end="2026-06-10")],
                 {}, ["B 2026-06-10 10:00+0200", "A 2026-06-11 10:00+0200"], id="tie-fewest-days-left-first"),
    pytest.param([req("A", due="2026-06-11", start="2026-06-10", end="2026-06-11"),
                  req("B", due="2026-06-10", start="2026-06-10", end="2026-06-11")], {d("2026-06-11"): 1},
                 ["B 2026-06-10 10:00+0200", "A none 2026-06-11"], id="tie-earliest-due-first"),
    pytest.param([req("B", start="2026-06-10", end="2026-06-10"), req("A", start="2026-06-10", end="2026-06-10")],
                 {}, ["A 2026-06-10 10:00+0200", "B none 2026-06-10"], id="tie-by-id"),
])  # fmt: skip
def test_priority_order_under_short_capacity(requests, counts, expected):
    assert plan(requests, counts=counts, max_per_day=1) == expected


@pytest.mark.parametrize(("avoid", "busy", "expected"), [
    pytest.param("morning", [], "F1 2026-06-10 14:00+0200", id="after-a-morning-attempt"),
    pytest.param("afternoon", [], "F1 2026-06-10 10:00+0200", id="after-an-afternoon-attempt"),
    pytest.param("afternoon", [block("2026-06-10", "10:00-13:00")], "F1 2026-06-09 10:00+0200",
                 id="morning-full-next-closest-morning-not-afternoon"),
    pytest.param("morning", [block("2026-06-10", "14:00-18:00")], "F1 2026-06-09 14:00+0200",
                 id="afternoon-full-next-closest-afternoon"),
])  # fmt: skip
def test_second_attempt_at_the_other_time_of_day(avoid, busy, expected):
    assert plan([req(avoid=avoid)], busy=busy) == [expected]


def test_morning_ends_at_13h00_client_time():
    # working 12:40-18:00 and call hours 10:00-20:00: 12:40 starts before 13:00 (morning), 13:00 does not
    changes = {"working_hours": hours("12:40-18:00"), "call_hours": hours("10:00-20:00")}
    assert plan([req(avoid="afternoon")], **changes) == ["F1 2026-06-10 12:40+0200"]
    assert plan([req(avoid="morning")], **changes) == ["F1 2026-06-10 13:00+0200"]


@pytest.mark.parametrize(("attempts", "limit", "expected"), [
    pytest.param(("2026-05-20 10:00", "2026-05-27 10:00", "2026-06-03 10:00"), 4, "F1 2026-06-10 10:00+0200",
                 id="fourth-call-allowed"),
    # 15/05 .. 13/06 already holds 4 calls: the first day free of that period is Sun 14/06, so Mon 15/06
    pytest.param(("2026-05-15 10:00", "2026-05-18 10:00", "2026-05-20 10:00", "2026-05-22 10:00"), 4,
                 "F1 2026-06-15 10:00+0200", id="fifth-in-30-days-refused"),
    # 12/05 + 29 days = 10/06: the due date and the day before are in that period, 11/06 is not
    pytest.param(("2026-05-12 10:00", "2026-05-15 10:00", "2026-05-18 10:00", "2026-05-20 10:00"), 4,
                 "F1 2026-06-11 10:00+0200", id="30-calendar-days-boundary"),
    pytest.param(("2026-05-20 10:00", "2026-05-25 10:00"), 2, "F1 none 2026-06-10", id="limit-2-window-covered"),
    # calls already booked later: 06/06..07/06 would hold 5 with any day from 08/06; 05/06 + 29 days = 04/07
    pytest.param(("2026-06-12 10:00", "2026-07-01 10:00", "2026-07-03 10:00", "2026-07-06 10:00"), 4,
                 "F1 2026-06-05 10:00+0200", id="later-calls-count-too"),
])  # fmt: skip
def test_at_most_4_calls_in_30_days(attempts, limit, expected):
    assert plan([req(attempts=attempts)], attempts_per_30_days=limit) == [expected]


# Réunion is UTC+4. June (Paris UTC+2): call hours 10-13 and 14-20 Réunion are 08-11 and 12-18 Paris, so with
# 09:00-18:00 working hours the adviser may call 09:00-11:00 and 12:00-18:00. January (Paris UTC+1): they are
# 07-10 and 11-17 Paris, so 09:00-10:00 and 11:00-17:00.
@pytest.mark.parametrize(("due", "now", "avoid", "busy", "expected"), [
    pytest.param("2026-06-10", NOW, None, [], "F1 2026-06-10 09:00+0200", id="june-first-slot"),
    pytest.param("2026-06-10", NOW, "morning", [], "F1 2026-06-10 12:00+0200", id="june-afternoon"),
    pytest.param("2026-06-10", NOW, None, [block("2026-06-10", "09:00-10:40")], "F1 2026-06-10 10:40+0200",
                 id="june-last-morning-slot-ends-13h00-reunion"),
    pytest.param("2026-06-10", NOW, None, [block("2026-06-10", "09:00-10:45")], "F1 2026-06-10 12:00+0200",
                 id="june-morning-full-then-14h00-reunion"),
    pytest.param("2026-01-14", "2026-01-05 08:00", None, [], "F1 2026-01-14 09:00+0100", id="january-first-slot"),
    pytest.param("2026-01-14", "2026-01-05 08:00", "morning", [], "F1 2026-01-14 11:00+0100",
                 id="january-afternoon"),
    pytest.param("2026-01-14", "2026-01-05 08:00", None, [block("2026-01-14", "09:00-10:00")],
                 "F1 2026-01-14 11:00+0100", id="january-10h00-paris-is-13h00-reunion"),
    pytest.param("2026-01-14", "2026-01-05 08:00", None, [block("2026-01-14", "09:00-16:40")],
                 "F1 2026-01-14 16:40+0100", id="january-last-slot-ends-20h00-reunion"),
    pytest.param("2027-12-20", "2027-12-13 08:00", None, [], "F1 2027-12-21 09:00+0100",
                 id="20-december-holiday-in-reunion"),
])  # fmt: skip
def test_reunion_client_with_paris_adviser(due, now, avoid, busy, expected):
    request = req(due=due, zone="Indian/Reunion", subdivision="974", avoid=avoid)
    assert plan([request], busy=busy, now=now) == [expected]


def test_reunion_adviser_with_paris_client():
    # June: adviser 09:00-18:00 Réunion = 07:00-16:00 Paris; client hours 10-13 and 14-20 Paris = 12-15 and
    # 16-22 Réunion: calls 12:00-15:00 and 16:00-18:00 Réunion. The booking is in the adviser's zone.
    rules = {"timezone": "Indian/Reunion", "subdivision": "974"}
    assert plan([req()], **rules) == ["F1 2026-06-10 12:00+0400"]
    assert plan([req(avoid="morning")], busy=[block("2026-06-10", "15:00-16:00", REUNION)], **rules) == [
        "F1 2026-06-10 16:00+0400"
    ]


def test_calls_per_day_keyed_by_the_advisers_date():
    # the count of 10/06 is that of the Réunion adviser's 10/06: full, so the call moves to 09/06
    rules = {"timezone": "Indian/Reunion", "subdivision": "974", "max_per_day": 1}
    assert plan([req()], counts={d("2026-06-10"): 1}, **rules) == ["F1 2026-06-09 12:00+0400"]


@pytest.mark.parametrize(("request_", "now", "busy", "expected"), [
    # Sat 28/03 10:00 CET is 09:00 UTC; + 48 h = Mon 30/03 09:00 UTC = 11:00 CEST (10:00 by wall clock)
    pytest.param(req(due="2026-03-30"), "2026-03-28 10:00", [], "F1 2026-03-30 11:00+0200",
                 id="spring-lead-across-the-change"),
    # Sat 24/10 11:00 CEST is 09:00 UTC; + 48 h = Mon 26/10 09:00 UTC = 10:00 CET (11:00 by wall clock)
    pytest.param(req(due="2026-10-26"), "2026-10-24 11:00", [], "F1 2026-10-26 10:00+0100",
                 id="autumn-lead-across-the-change"),
    pytest.param(req(due="2026-03-29"), "2026-03-23 08:00", [], "F1 2026-03-30 10:00+0200",
                 id="due-on-spring-sunday"),
    pytest.param(req(due="2026-10-25"), "2026-10-19 08:00", [], "F1 2026-10-26 10:00+0100",
                 id="due-on-autumn-sunday"),
    # the same UTC hour 08:00-09:00 is 09:00-10:00 on Friday 27/03 (CET) but 10:00-11:00 on Monday 30/03 (CEST)
    pytest.param(req(due="2026-03-27", start="2026-03-27", end="2026-03-27"), "2026-03-23 08:00",
                 [block("2026-03-27", "08:00-09:00", ZoneInfo("UTC"))], "F1 2026-03-27 10:00+0100",
                 id="utc-event-before-the-change"),
    pytest.param(req(due="2026-03-30", start="2026-03-30", end="2026-03-30"), "2026-03-23 08:00",
                 [block("2026-03-30", "08:00-09:00", ZoneInfo("UTC"))], "F1 2026-03-30 11:00+0200",
                 id="utc-event-after-the-change"),
    # Réunion client: 14:00 Réunion is 11:00 Paris on Fri 27/03 (CET) and 12:00 on Mon 30/03 (CEST)
    pytest.param(req(due="2026-03-27", start="2026-03-27", end="2026-03-27", zone="Indian/Reunion",
                     avoid="morning"), "2026-03-23 08:00", [], "F1 2026-03-27 11:00+0100",
                 id="reunion-afternoon-before-spring-change"),
    pytest.param(req(due="2026-03-30", start="2026-03-30", end="2026-03-30", zone="Indian/Reunion",
                     avoid="morning"), "2026-03-23 08:00", [], "F1 2026-03-30 12:00+0200",
                 id="reunion-afternoon-after-spring-change"),
    pytest.param(req(due="2026-10-23", start="2026-10-23", end="2026-10-23", zone="Indian/Reunion",
                     avoid="morning"), "2026-10-19 08:00", [], "F1 2026-10-23 12:00+0200",
                 id="reunion-afternoon-before-autumn-change"),
    pytest.param(req(due="2026-10-26", start="2026-10-26", end="2026-10-26", zone="Indian/Reunion",
                     avoid="morning"), "2026-10-19 08:00", [], "F1 2026-10-26 11:00+0100",
                 id="reunion-afternoon-after-autumn-change"),
])  # fmt: skip
def test_dst_changes_in_paris(request_, now, busy, expected):
    assert plan([request_], busy=busy, now=now, lead=timedelta(hours=48)) == [expected]


def test_dst_sunday_never_booked_even_when_worked():
    for sunday in ("2026-03-29", "2026-10-25"):
        request = req(due=sunday, start=sunday, end=sunday)
        assert plan([request], now="2026-03-01 08:00", working_days=frozenset(range(7))) == [f"F1 none {sunday}"]


def test_bookings_of_the_same_run_are_busy_for_the_next():
    requests = [req("F1"), req("F2", avoid="afternoon"), req("F3", avoid="morning")]
    assert plan(requests, busy=[block("2026-06-10", "10:20-10:40")]) == [
        "F1 2026-06-10 10:00+0200",
        "F2 2026-06-10 10:40+0200",
        "F3 2026-06-10 14:00+0200",
    ]


def test_nothing_to_plan():
    assert plan_calls([], RULES, [], {}, at(NOW)) == ([], [])


def test_shortage_value():
    request = req(due="2026-04-03", start="2026-04-03", end="2026-04-03", subdivision="57")
    assert plan_calls([request], RULES, [], {}, at("2026-03-23 08:00")) == ([], [Shortage("F1", d("2026-04-03"))])


@pytest.mark.parametrize("call", [
    pytest.param(lambda: plan_calls([req()], RULES, [], {}, datetime(2026, 6, 1, 8)), id="naive-now"),
    pytest.param(lambda: plan_calls([req()], RULES, [(datetime(2026, 6, 10, 10), datetime(2026, 6, 10, 11))], {},
                                    at(NOW)), id="naive-busy"),
    pytest.param(lambda: plan_calls([CallRequest("F1", 1, d("2026-06-10"), d("2026-06-03"), d("2026-06-17"),
                                                 earlier_attempts=(datetime(2026, 5, 1, 10),))], RULES, [], {},
                                    at(NOW)), id="naive-attempt"),
    pytest.param(lambda: req(avoid="evening"), id="unknown-half"),
    pytest.param(lambda: replace(RULES, slot=timedelta(0)), id="empty-slot"),
])  # fmt: skip
def test_invalid_values_are_value_errors(call):
    with pytest.raises(ValueError):
        call()
