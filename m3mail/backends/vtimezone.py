"""VTIMEZONE components written as rules, the way calendar apps write them and CalDAV servers keep them.

Public: ``vtimezone(zone, today)``, the VTIMEZONE of a zoneinfo zone; ``is_stale(component)``, whether a
VTIMEZONE holds the RDATE lists an older m3mail wrote; ``transitions(zone, start, end)``, the zone's changes.

Why not icalendar's ``Timezone.from_tzid`` (icalendar 7.3, ``cal/timezone.py``, ``from_tzinfo``): it writes each
sub-component's transitions since 1970 as one comma-separated RDATE. vobject, which Radicale parses every upload
with, reads an RDATE inside STANDARD/DAYLIGHT as text (its ``DaylightOrStandard`` behaviour knows DTSTART and
RRULE only, and ``TextBehavior.decode`` keeps ``stringToTextValues(value)[0]``: the first date), then Radicale
writes the zone again from what it read (``radicale/app/put.py``: each item a new ``vobject.iCalendar()``, whose
serialisation rebuilds the VTIMEZONE with ``TimezoneComponent.settzinfo``, probing the years 2000 to 2030). So
Radicale kept Europe/Paris at +01:00 all year, and every summer call showed an hour late.

What is written instead is the form of RFC 5545 3.6.5's examples, which Thunderbird, Apple Calendar and Outlook
write: a STANDARD and a DAYLIGHT, each a DTSTART and a yearly RRULE (``FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU``), or a
single STANDARD for a zone without daylight saving time. The rules are derived from the zone's transitions over
the coming years, then checked against them, from the first year they held (1970 at the earliest). A zone whose
changes follow no such rule (Morocco's Ramadan, Chile's "Sunday on or after the 2nd") gets one sub-component per
transition over those years instead: never an RDATE list.
"""

from __future__ import annotations

import calendar
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from icalendar import Component, Timezone, TimezoneDaylight, TimezoneStandard, vRecur

YEARS_AHEAD = 15  # the years checked (and covered when no rule fits): last year, this one and 14 more
OLDEST = 1970  # a rule's first year at the earliest, as Thunderbird writes them
_WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_SECOND = timedelta(seconds=1)

_Kind = tuple[timedelta, timedelta, str, bool]  # offset before, offset after, name after, daylight time after
_Observance = TimezoneStandard | TimezoneDaylight


@dataclass(frozen=True, slots=True)
class Transition:
    """A change of the zone at ``at`` (UTC): from offset ``before`` to ``after``, called ``name`` after."""

    at: datetime
    before: timedelta
    after: timedelta
    name: str
    dst: bool

    @property
    def kind(self) -> _Kind:
        return self.before, self.after, self.name, self.dst

    @property
    def local(self) -> datetime:
        """The onset as RFC 5545 3.6.5 wants DTSTART and RRULE: local time in the offset before (TZOFFSETFROM)."""
        return (self.at + self.before).replace(tzinfo=None)


@dataclass(frozen=True, slots=True)
class _Rule:
    """A yearly change: the ``week``-th (-1: last) ``weekday`` of ``month`` at ``at``, local time before it."""

    kind: _Kind
    month: int
    week: int
    weekday: int
    at: time

    def onset(self, year: int) -> datetime:
        days = [d for d in calendar.Calendar().itermonthdates(year, self.month)
                if d.month == self.month and d.weekday() == self.weekday]  # fmt: skip
        return datetime.combine(days[self.week - 1 if self.week > 0 else -1], self.at)

    def rrule(self) -> vRecur:
        return vRecur({"FREQ": "YEARLY", "BYMONTH": self.month, "BYDAY": f"{self.week}{_WEEKDAYS[self.weekday]}"})


def vtimezone(zone: ZoneInfo, today: date, tzid: str | None = None) -> Timezone:
    """The VTIMEZONE of ``zone`` (named ``tzid``, by default the zone's key), right from last year on at least:
    rules if the zone follows yearly rules over the coming years, else its transitions for ``YEARS_AHEAD``."""
    parsed = Timezone.from_ical(_text(zone.key, today.year))
    assert isinstance(parsed, Timezone)
    if tzid is not None:
        parsed["TZID"] = tzid
    return parsed


def is_stale(component: Component) -> bool:
    """Whether a VTIMEZONE has an RDATE with several dates, which vobject (Radicale) reads as its first only:
    icalendar's ``from_tzid``, which m3mail used to write its zones with, writes one per sub-component."""
    for sub in component.subcomponents:
        rdates = sub.get("RDATE")
        for prop in rdates if isinstance(rdates, list) else [rdates] if rdates is not None else []:
            if len(getattr(prop, "dts", ())) > 1:
                return True
    return False


def transitions(zone: ZoneInfo, start: datetime, end: datetime) -> list[Transition]:
    """Every change of ``zone`` in [start, end) (aware datetimes), to the second: day steps, then bisection.
    Two changes on the same day that undo each other go unseen; no zone has had one since the 1940s."""
    found: list[Transition] = []
    moment, state = start, _state(zone, start)
    while moment < end:
        step = min(moment + timedelta(days=1), end)
        if _state(zone, step) == state:
            moment = step
            continue
        low, high = moment, step  # state at low, another at high
        while high - low > _SECOND:
            middle = low + (high - low) // 2
            middle -= timedelta(microseconds=middle.microsecond)
            low, high = (middle, high) if _state(zone, middle) == state else (low, middle)
        after = _state(zone, high)
        found.append(Transition(high.astimezone(UTC), state[0], after[0], after[2], after[1]))
        moment, state = high, after
    return found


@functools.lru_cache(maxsize=64)
def _text(key: str, year: int) -> bytes:
    """The VTIMEZONE of zone ``key`` as written in ``year``: deriving it scans decades of the zone (0.1 s)."""
    text: bytes = _build(ZoneInfo(key), year).to_ical()
    return text


def _build(zone: ZoneInfo, year: int) -> Timezone:
    first, last = year - 1, year + YEARS_AHEAD - 1
    changes = transitions(zone, _new_year(first), _new_year(last + 1))
    rules = _fit(changes, range(first, last + 1))
    if rules is None or not all(_follows(zone, rules, y) for y in range(first, last + 1)):
        return _listed(zone, changes, first, last)
    since = first
    while since > OLDEST and _follows(zone, rules, since - 1):
        since -= 1
    return _ruled(zone, rules, since)


def _fit(changes: Sequence[Transition], years: range) -> list[_Rule] | None:
    """One rule per kind of change if each kind happens once a year, every year, on the same weekday of the
    same month at the same time; None otherwise. No change at all: no rule, an empty list."""
    rules = []
    for kind in dict.fromkeys(c.kind for c in changes):
        onsets = [c.local for c in changes if c.kind == kind]
        if [o.year for o in onsets] != list(years):
            return None
        shapes = {(o.month, o.weekday(), o.time()) for o in onsets}
        if len(shapes) != 1:
            return None
        ((month, weekday, at),) = shapes
        weeks = {(o.day - 1) // 7 + 1 for o in onsets}
        if len(weeks) == 1 and max(weeks) <= 4:
            week = weeks.pop()
        elif all(calendar.monthrange(o.year, month)[1] - o.day < 7 for o in onsets):
            week = -1
        else:
            return None
        rules.append(_Rule(kind, month, week, weekday, at))
    return rules


def _follows(zone: ZoneInfo, rules: Sequence[_Rule], year: int) -> bool:
    """Whether the zone's changes in ``year`` (UTC) are those of ``rules``, no more (none, for no rule)."""
    expected = sorted((_utc(r.onset(year), r.kind[0]), r.kind) for r in rules)
    return [(c.at, c.kind) for c in transitions(zone, _new_year(year), _new_year(year + 1))] == expected


def _ruled(zone: ZoneInfo, rules: Sequence[_Rule], since: int) -> Timezone:
    tz = Timezone()
    tz.add("TZID", zone.key)
    if not rules:  # the same offset all along: a single STANDARD
        start = _new_year(since)
        offset = start.astimezone(zone).utcoffset() or timedelta()
        tz.add_component(_observance(TimezoneStandard(), datetime(since, 1, 1), offset, offset,
                                     start.astimezone(zone).tzname() or ""))  # fmt: skip
        return tz
    for rule in sorted(rules, key=lambda r: r.onset(since)):
        before, after, name, dst = rule.kind
        sub = _observance(TimezoneDaylight() if dst else TimezoneStandard(), rule.onset(since), before, after, name)
        sub.add("RRULE", rule.rrule())
        tz.add_component(sub)
    return tz


def _listed(zone: ZoneInfo, changes: Sequence[Transition], first: int, last: int) -> Timezone:
    """The fallback: the offset on 1 January of ``first``, then one sub-component per change until ``last``."""
    tz = Timezone()
    tz.add("TZID", zone.key)
    tz.add("COMMENT", f"Transitions from {first} to {last} only: {zone.key} follows no plain yearly rule.")
    start = _new_year(first).astimezone(zone)
    offset = start.utcoffset() or timedelta()
    initial = TimezoneDaylight() if start.dst() else TimezoneStandard()
    tz.add_component(_observance(initial, datetime(first, 1, 1), offset, offset, start.tzname() or ""))
    for c in changes:
        tz.add_component(_observance(TimezoneDaylight() if c.dst else TimezoneStandard(), c.local, c.before,
                                     c.after, c.name))  # fmt: skip
    return tz


def _observance(sub: _Observance, start: datetime, before: timedelta, after: timedelta,
                name: str) -> _Observance:  # fmt: skip
    sub.DTSTART, sub.TZOFFSETFROM, sub.TZOFFSETTO = start, before, after
    if name:
        sub.add("TZNAME", name)
    return sub


def _state(zone: ZoneInfo, moment: datetime) -> tuple[timedelta, bool, str]:
    local = moment.astimezone(zone)
    return local.utcoffset() or timedelta(), bool(local.dst()), local.tzname() or ""


def _utc(local: datetime, offset: timedelta) -> datetime:
    return (local - offset).replace(tzinfo=UTC)


def _new_year(year: int) -> datetime:
    return datetime(year, 1, 1, tzinfo=UTC)
