"""Graph's time zones as IANA zones.

Graph names zones the Windows way ("Romance Standard Time"; Microsoft's own mailboxSettings example answers
``workingHours.timeZone.name`` = "Pacific Standard Time", user-get-mailboxsettings.md), the IANA way, or gives a
custom zone (``{"@odata.type": "#microsoft.graph.customTimeZone", "bias", "name", "standardOffset",
"daylightOffset"}``, resources/customtimezone.md). Events' start and end are in the zone of
``Prefer: outlook.timezone`` when Graph honours it, in UTC when none is asked (user-list-events.md), each value
carrying its own ``timeZone``, to be read rather than assumed (event-get.md's example answers UTC under a
Pacific ``Preference-Applied``).

Windows names go through Unicode CLDR's windowsZones table (the "001" zone of each Windows zone), as icalendar,
a dependency already, ships it generated from CLDR. Not O365's table: it maps "Pacific Standard Time" to
``US/Pacific-New``, which tzdata dropped (ZoneInfoNotFoundError): working hours silently lost, an event
unreadable. A custom zone is taken by its name when that names a zone; its rules are not guessed at (Microsoft's
pages disagree on the sign of ``bias``: customtimezone.md says positive east of UTC, calendar-getschedule.md's
example gives 480 to a Pacific zone). What no table maps raises ``UnknownZone``, which the backend reports with
the mailbox.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

_WINDOWS = {name.lower(): iana for name, iana in WINDOWS_TO_OLSON.items()}
UTC_ZONE = ZoneInfo("UTC")


class UnknownZone(ValueError):
    """A zone Graph named that neither tzdata nor CLDR's windowsZones knows (a custom zone, a typo)."""

    def __init__(self, name: str, custom: bool = False):
        self.name, self.custom = name, custom
        what = "a custom time zone" if custom else "a time zone"
        super().__init__(f"{what} {name!r} that no table maps to an IANA zone (Unicode CLDR windowsZones)")


def zone(value: str | Mapping[str, Any] | None, *, default: ZoneInfo | None = UTC_ZONE) -> ZoneInfo:
    """The IANA zone of a Graph zone: a name (IANA or Windows, any case for Windows names), or a timeZoneBase
    object (``{"name": ...}``, or a custom zone). An empty name is ``default`` (a dateTimeTimeZone without one is
    in UTC); None as the default makes it unknown too."""
    custom = False
    if isinstance(value, Mapping):
        custom = "customtimezone" in str(value.get("@odata.type", "")).lower()
        value = value.get("name")
    name = str(value or "").strip()
    if not name:
        if default is None or custom:
            raise UnknownZone(name, custom)
        return default
    found = _iana(name) or _iana(_WINDOWS.get(name.lower(), ""))
    if found is None:
        raise UnknownZone(name, custom)
    return found


def _iana(name: str) -> ZoneInfo | None:
    if not name or " " in name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None
