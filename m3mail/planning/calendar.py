"""The French calendar as the follow-ups need it: public holidays, business days, the client's time zone,
complaint deadlines and the hours client emails may leave.

Pure: ``today`` and ``now`` are parameters. Holidays come from the ``holidays`` package, per subdivision of
France: "" is metropolitan France, "57" Moselle and "6AE" Alsace (Good Friday, 26 December), "971".."976"
the overseas departments (abolition of slavery...), "PM", "BL", "MF" the overseas collectivities.

Public: ``is_public_holiday``, ``is_business_day``, ``add_business_days``, ``client_timezone``,
``client_subdivision``, ``complaint_deadlines``, ``may_send_email``, ``next_sending_time``, ``wall_time``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

from m3mail.selection import add_months

# (postal code prefix, IANA zone, `holidays` subdivision), longest prefixes first. 97133 and 97150 are the
# postal codes of Saint-Barthélemy and Saint-Martin: La Poste files them under Guadeloupe's 971, while the
# 977 and 978 prefixes are their INSEE codes, which exports sometimes carry instead.
_PLACES: tuple[tuple[str, str, str], ...] = (
    ("97133", "America/St_Barthelemy", "BL"),
    ("97150", "America/Marigot", "MF"),
    ("971", "America/Guadeloupe", "971"),
    ("972", "America/Martinique", "972"),
    ("973", "America/Cayenne", "973"),
    ("974", "Indian/Reunion", "974"),
    ("975", "America/Miquelon", "PM"),
    ("976", "Indian/Mayotte", "976"),
    ("977", "America/St_Barthelemy", "BL"),
    ("978", "America/Marigot", "MF"),
    ("57", "Europe/Paris", "57"),
    ("67", "Europe/Paris", "6AE"),
    ("68", "Europe/Paris", "6AE"),
)
_MAINLAND = ("", "Europe/Paris", "")
_SEARCH_DAYS = 366  # a year always holds a business day; past it, the sending hours must be empty


@lru_cache(maxsize=256)
def _holidays(subdivision: str, year: int) -> frozenset[date]:
    """The public holidays of one subdivision and year: `holidays` recomputes Easter and the rest on each
    call, and a run asks about the same few (subdivision, year) pairs thousands of times."""
    try:
        found = holidays.country_holidays("FR", subdiv=subdivision or None, years=year)
    except NotImplementedError:  # how `holidays` reports an unknown subdivision
        raise ValueError(f"{subdivision!r} is not a subdivision of France in the holidays package") from None
    return frozenset(found)


def is_public_holiday(day: date, subdivisions: Iterable[str] = ()) -> bool:
    """A public holiday in metropolitan France or in any of ``subdivisions`` ("" is ignored).

    Raises ValueError for a subdivision the ``holidays`` package does not know.
    """
    places = {"", *subdivisions}
    return any(day in _holidays(place, day.year) for place in places)


def is_business_day(day: date, subdivisions: Iterable[str] = ()) -> bool:
    """Monday to Friday and a working day everywhere in ``subdivisions``."""
    return day.weekday() < 5 and not is_public_holiday(day, subdivisions)


def add_business_days(day: date, n: int, subdivisions: Iterable[str] = ()) -> date:
    """The ``n``-th business day after ``day`` (before it when ``n`` is negative; ``day`` itself for 0)."""
    places = tuple(subdivisions)
    step = timedelta(days=1 if n >= 0 else -1)
    left = abs(n)
    while left:
        day += step
        if is_business_day(day, places):
            left -= 1
    return day


def _place(postal_code: str) -> tuple[str, str, str]:
    """The place row of a postal code. A 4-digit code lost its leading zero in a spreadsheet (1000 = 01000)."""
    code = "".join(postal_code.split())
    if len(code) == 4 and code.isdigit():
        code = "0" + code
    return next((row for row in _PLACES if code.startswith(row[0])), _MAINLAND)


def client_timezone(postal_code: str) -> str:
    """The IANA zone a client lives in, from their postal code: Europe/Paris unless overseas."""
    return _place(postal_code)[1]


def client_subdivision(postal_code: str) -> str:
    """The ``holidays`` subdivision of a client's postal code: "" for metropolitan France without local days."""
    return _place(postal_code)[2]


def complaint_deadlines(
    day: date, ack_business_days: int = 10, answer_months: int = 2, subdivisions: Iterable[str] = ()
) -> tuple[date, date]:
    """(acknowledgement due, answer due) of a complaint received on ``day``, as ACPR recommendation 2022-R-01
    asks: acknowledged within 10 business days, answered within 2 months (calendar months, end-clamped)."""
    return add_business_days(day, ack_business_days, subdivisions), add_months(day, answer_months)


def wall_time(day: date, at: time, zone: ZoneInfo) -> datetime:
    """``day`` at the wall-clock time ``at`` in ``zone``, normalised: a time skipped when clocks go forward
    (02:30 on the last Sunday of March in Paris) becomes the instant it names an hour later (03:30)."""
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC).astimezone(zone)


def to_utc(moment: datetime) -> datetime:
    """``moment`` in UTC. Aware datetimes in one zone compare and subtract by wall clock (wrong across a DST
    change), so every computation here is done in UTC. Raises ValueError for a naive datetime."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{moment.isoformat()} has no time zone; m3mail only works with aware datetimes")
    return moment.astimezone(UTC)


def may_send_email(
    now: datetime, send_hours: Sequence[tuple[time, time]], timezone: str, subdivisions: Iterable[str] = ()
) -> bool:
    """Whether a client email may leave at ``now``: a business day where the client lives, within one of
    ``send_hours`` (start included, end excluded) on the clock of ``timezone``."""
    local = to_utc(now).astimezone(ZoneInfo(timezone))
    clock = local.time()
    return is_business_day(local.date(), subdivisions) and any(start <= clock < end for start, end in send_hours)


def next_sending_time(
    now: datetime, send_hours: Sequence[tuple[time, time]], timezone: str, subdivisions: Iterable[str] = ()
) -> datetime:
    """``now`` if an email may leave now, else the next start of a sending range on a business day, as an
    aware datetime in ``timezone``. Raises ValueError when there is none (``send_hours`` empty)."""
    places = tuple(subdivisions)
    zone = ZoneInfo(timezone)
    if may_send_email(now, send_hours, timezone, places):
        return to_utc(now).astimezone(zone)
    instant = to_utc(now)
    first = instant.astimezone(zone).date()
    for offset in range(_SEARCH_DAYS):
        day = first + timedelta(days=offset)
        if not is_business_day(day, places):
            continue
        starts = sorted(wall_time(day, start, zone) for start, _ in send_hours)
        later = [s for s in starts if to_utc(s) > instant]
        if later:
            return later[0]
    raise ValueError("no sending time within a year: the sending hours are empty")
