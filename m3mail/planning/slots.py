"""The call planner: which free slot of an adviser's calendar each M+3 call gets.

Pure: the calendar's busy intervals, the day's M+3 call counts and ``now`` are parameters, and the answer is
a list of bookings to make and a list of shortages to report; nothing is written anywhere.

Every instant is handled in UTC: aware datetimes sharing one zone compare and subtract by wall clock, which
is wrong on the days clocks change. Wall-clock hours (working hours in the adviser's zone, call hours in the
client's) are turned into instants day by day, so a 10:00 call is at 10:00 on both sides of a DST change.

Public: ``AdviserRules``, ``CallRequest``, ``Booking``, ``Shortage``, ``plan_calls``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from m3mail.planning.calendar import is_business_day, to_utc, wall_time

Interval = tuple[datetime, datetime]  # [start, end), aware
MIDDAY = time(13, 0)  # a call starting before 13:00 client time is a morning call
HALVES = ("morning", "afternoon")
ATTEMPT_PERIOD_DAYS = 30  # décret 2022-1313: at most 4 calls to a consumer in any 30 calendar days


@dataclass(frozen=True)
class AdviserRules:
    """How one adviser's calls may be booked: built by the caller from AdviserSettings and CallSettings."""

    timezone: str  # IANA, e.g. "Europe/Paris" or "Indian/Reunion"
    working_days: frozenset[int]  # 0 = Monday
    working_hours: tuple[tuple[time, time], ...]  # in the adviser's zone
    call_hours: tuple[tuple[time, time], ...]  # in the CLIENT's zone (décret 2022-1313: 10-13, 14-20)
    subdivision: str  # the adviser's `holidays` subdivision ("" metropolitan France)
    max_per_day: int
    slot: timedelta
    lead: timedelta  # never book sooner than now + lead
    attempts_per_30_days: int = 4

    def __post_init__(self) -> None:
        if self.slot <= timedelta(0):
            raise ValueError(f"the call slot must last more than nothing, not {self.slot}")


@dataclass(frozen=True)
class CallRequest:
    """A follow-up that needs a call, with the days it may take place on and what the call must avoid."""

    followup_id: str
    priority: int
    due_date: date
    window_start: date
    window_end: date
    client_timezone: str = "Europe/Paris"
    client_subdivision: str = ""
    avoid_half: str | None = None  # "morning"/"afternoon": a second attempt goes to the other time of day
    earlier_attempts: tuple[datetime, ...] = ()  # start times of earlier calls to this client

    def __post_init__(self) -> None:
        if self.avoid_half is not None and self.avoid_half not in HALVES:
            raise ValueError(f"avoid_half must be 'morning', 'afternoon' or None, not {self.avoid_half!r}")


@dataclass(frozen=True)
class Booking:
    """A call to put in the adviser's calendar: aware datetimes in the adviser's zone."""

    followup_id: str
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Shortage:
    """No slot anywhere in the follow-up's window: ``day`` is its due date, the day a slot was missing for."""

    followup_id: str
    day: date


def plan_calls(
    requests: Sequence[CallRequest],
    rules: AdviserRules,
    busy: Sequence[Interval],
    calls_per_day: Mapping[date, int],
    now: datetime,
) -> tuple[list[Booking], list[Shortage]]:
    """Book each request in the slot closest to its due date, highest priority first, so that when the
    adviser's capacity runs short it is the lower priorities that get the shortages.

    ``busy`` holds every event not shown as free and the out-of-office periods; ``calls_per_day`` the M+3
    calls already in the calendar, by day in the adviser's zone. Raises ValueError for naive datetimes.
    """
    agenda = _Agenda(rules, busy, calls_per_day, now)
    bookings: list[Booking] = []
    shortages: list[Shortage] = []
    for request in sorted(requests, key=_urgency):
        booking = agenda.book(request)
        if booking is None:
            shortages.append(Shortage(request.followup_id, request.due_date))
        else:
            bookings.append(booking)
    return bookings, shortages


def _urgency(request: CallRequest) -> tuple[int, date, date, str]:
    """Highest priority first, then the window closing soonest, the earliest due date, and the id (stable)."""
    return -request.priority, request.window_end, request.due_date, request.followup_id


class _Agenda:
    """The adviser's calendar as the planner fills it: busy intervals in UTC and M+3 calls per day."""

    def __init__(self, rules: AdviserRules, busy: Iterable[Interval], calls_per_day: Mapping[date, int],
                 now: datetime) -> None:  # fmt: skip
        self.rules = rules
        self.zone = ZoneInfo(rules.timezone)
        self.taken = [(to_utc(start), to_utc(end)) for start, end in busy]
        self.counts = dict(calls_per_day)
        self.earliest = to_utc(now) + rules.lead
        self.today = to_utc(now).astimezone(self.zone).date()

    def book(self, request: CallRequest) -> Booking | None:
        """Take the earliest free slot of the first qualifying day, days taken closest to the due date first."""
        for day in _candidate_days(request, self.today):
            start = self._first_start(request, day) if self._day_open(request, day) else None
            if start is not None:
                end = start + self.rules.slot
                self.taken.append((start, end))
                self.counts[day] = self.counts.get(day, 0) + 1
                return Booking(request.followup_id, start.astimezone(self.zone), end.astimezone(self.zone))
        return None

    def _day_open(self, request: CallRequest, day: date) -> bool:
        """A working day of the adviser's, a business day for both adviser and client, below the day's cap,
        and within the limit of calls to this client."""
        rules = self.rules
        return (
            day.weekday() in rules.working_days
            and is_business_day(day, (rules.subdivision, request.client_subdivision))
            and self.counts.get(day, 0) < rules.max_per_day
            and _within_attempt_limit(request, day, rules.attempts_per_30_days)
        )

    def _first_start(self, request: CallRequest, day: date) -> datetime | None:
        """The earliest grid start on ``day`` inside both the adviser's working hours and the client's call
        hours, not before ``earliest``, overlapping nothing busy, at the time of day the request allows."""
        client_zone = ZoneInfo(request.client_timezone)
        working = _instants(day, self.rules.working_hours, self.zone)
        calling = _instants(day, self.rules.call_hours, client_zone)
        allowed = _intersections(working, calling)
        if not allowed:
            return None
        first, last = min(lo for lo, _ in allowed), max(hi for _, hi in allowed)
        busy = [(lo, hi) for lo, hi in self.taken if lo < last and first < hi]  # the day's events only
        slot = self.rules.slot
        free = (
            start
            for start in _grid(allowed, slot)
            if start >= self.earliest
            and not any(lo < start + slot and start < hi for lo, hi in busy)
            and _right_half(start, client_zone, request.avoid_half)
        )
        return min(free, default=None)


def _candidate_days(request: CallRequest, today: date) -> list[date]:
    """The window's days from today on, closest to the due date first; of two equally close, the earlier."""
    first = max(request.window_start, today)
    days = [first + timedelta(days=i) for i in range((request.window_end - first).days + 1)]
    return sorted(days, key=lambda d: (abs((d - request.due_date).days), d))


def _instants(day: date, hours: Iterable[tuple[time, time]], zone: ZoneInfo) -> list[Interval]:
    """Wall-clock ranges of ``day`` in ``zone`` as UTC intervals, built afresh each day for DST."""
    return [(to_utc(wall_time(day, start, zone)), to_utc(wall_time(day, end, zone))) for start, end in hours]


def _intersections(left: Iterable[Interval], right: Iterable[Interval]) -> list[Interval]:
    """The non-empty overlaps of two sets of intervals: when both the adviser works and the client may be called."""
    pairs = ((max(a_lo, b_lo), min(a_hi, b_hi)) for a_lo, a_hi in left for b_lo, b_hi in right)
    return sorted((lo, hi) for lo, hi in pairs if lo < hi)


def _grid(ranges: Iterable[Interval], slot: timedelta) -> Iterator[datetime]:
    """Slot starts every ``slot`` from the start of each range, while the whole slot fits in the range."""
    for lo, hi in ranges:
        start = lo
        while start + slot <= hi:
            yield start
            start += slot


def _right_half(start: datetime, client_zone: ZoneInfo, avoid: str | None) -> bool:
    """A second attempt goes to the other half of the client's day (morning = starting before 13:00)."""
    if avoid is None:
        return True
    morning = start.astimezone(client_zone).time() < MIDDAY
    return not morning if avoid == "morning" else morning


def _within_attempt_limit(request: CallRequest, day: date, limit: int) -> bool:
    """Whether one more call on ``day`` keeps every period of 30 calendar days (client's dates) within ``limit``
    calls. Only the periods starting on a call day up to ``day`` need checking: any period holding ``day`` can
    slide forward to its first call without losing one."""
    zone = ZoneInfo(request.client_timezone)
    days = [to_utc(a).astimezone(zone).date() for a in request.earlier_attempts] + [day]
    span = timedelta(days=ATTEMPT_PERIOD_DAYS - 1)
    for first in {d for d in days if d <= day <= d + span}:
        if sum(first <= d <= first + span for d in days) > limit:
            return False
    return True
