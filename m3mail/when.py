"""The moments and intervals the commands take: ``--today`` (a day or a date-time to act as if it were now),
``complaint --on``, ``serve --every``. One parser each; ValueError says what is wrong, and the CLI names the
option (exit 2)."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from m3mail.selection import add_months
from m3mail.settings import Settings

REPLAY_YEARS_BACK, REPLAY_YEARS_AHEAD = 10, 5


def check_replay_day(day: date) -> date:
    """A day given on the command line (``--today``, ``complaint --on``): within 10 years before and 5 after
    the real date. Further is taken for a typo (2080 for 2028), which would mark follow-ups missed for good.
    Raises ValueError saying the allowed range."""
    real = date.today()
    first, last = add_months(real, -12 * REPLAY_YEARS_BACK), add_months(real, 12 * REPLAY_YEARS_AHEAD)
    if not first <= day <= last:
        raise ValueError(f"{day.isoformat()} is more than {REPLAY_YEARS_BACK} years before or {REPLAY_YEARS_AHEAD} "
                         f"after today ({real.isoformat()}), probably a typo: give a day from {first.isoformat()} "
                         f"to {last.isoformat()}")  # fmt: skip
    return day


def parse_when(text: str | None, settings: Settings) -> datetime:
    """``--today``: a date (the run is then at 08:00 in the agency's zone) or an ISO date-time, within the
    bounds of ``check_replay_day``. ValueError says what is wrong (the CLI names the option: exit 2)."""
    zone = ZoneInfo(settings.timezone)
    if text is None:
        return datetime.now(zone)
    try:
        moment = datetime.combine(date.fromisoformat(text), datetime.min.time(), zone).replace(hour=8)
    except ValueError:
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"{text!r:.40} is not a date (2026-11-25) or a date-time (2026-11-25T14:30)") from None
    check_replay_day(moment.date())
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


_EVERY = re.compile(r"(\d{1,5})([smh])")
_UNIT = {"s": 1, "m": 60, "h": 3600}


def parse_interval(text: str) -> timedelta:
    """``--every``: whole seconds, minutes or hours (30s, 15m, 1h), from 1s to 24h; not nan, inf, 0 or -5m."""
    found = _EVERY.fullmatch(text.strip())
    seconds = int(found[1]) * _UNIT[found[2]] if found else 0
    if not 1 <= seconds <= 86400:
        raise ValueError(f"{text!r:.40} is not an interval: a whole number and s, m or h (30s, 15m, 1h), "
                                 "from 1s to 24h")  # fmt: skip
    return timedelta(seconds=seconds)
