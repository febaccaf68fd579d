"""Graph's values as the emulator checks and writes them: enum members (matched without regard to case),
dateTimeTimeZone values and the zones they name (IANA or Windows names), times of day, and a new mailbox's
settings with the checks a mailboxSettings PATCH goes through.

Pure functions that raise ``GraphError`` (400) for what Graph would refuse. Nothing here is public: the leading
underscores say that only the emulator's own modules use these names.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON  # Unicode CLDR's windowsZones, "001" zones

from tests.graph.emulator_protocol import GraphError

_DAYS = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")
_WORKDAYS = _DAYS[1:6]
_TIME_OF_DAY = re.compile(r"([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{1,12})?")


# --- values: enums, times, settings ---------------------------------------------------------------------------


def _enum(value: Any, allowed: Iterable[str], type_name: str) -> str:
    """An enum member, matched without regard to case as Graph does (its own examples write "HTML", "Low")."""
    for member in allowed:
        if isinstance(value, str) and value.lower() == member.lower():
            return member
    raise GraphError(400, "RequestBodyRead", f"Cannot convert the literal '{value}' to the expected type "
                     f"'microsoft.graph.{type_name}'.")  # fmt: skip


def _utc_dtz(moment: datetime) -> dict[str, str]:
    return {"dateTime": moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.0000000"), "timeZone": "UTC"}


def _default_settings() -> dict[str, Any]:
    """A new mailbox's settings: automatic replies off, Monday to Friday 08:30-17:30, Paris time, French."""
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    return {
        "archiveFolder": f"AAMkAr{uuid.uuid4().hex}", "timeZone": "Romance Standard Time",
        "automaticRepliesSetting": {
            "status": "disabled", "externalAudience": "all", "scheduledStartDateTime": _utc_dtz(hour),
            "scheduledEndDateTime": _utc_dtz(hour + timedelta(days=1)), "internalReplyMessage": "",
            "externalReplyMessage": "",
        },
        "dateFormat": "dd/MM/yyyy", "timeFormat": "HH:mm",
        "delegateMeetingMessageDeliveryOptions": "sendToDelegateOnly",
        "language": {"locale": "fr-FR", "displayName": "français (France)"}, "userPurpose": "user",
        "workingHours": {"daysOfWeek": list(_WORKDAYS), "startTime": "08:30:00.0000000",
                         "endTime": "17:30:00.0000000", "timeZone": {"name": "Romance Standard Time"}},
    }  # fmt: skip


def _check_settings(settings: dict[str, Any]) -> None:
    """Reject what Exchange would not store; enum members take their canonical case."""
    oof = settings["automaticRepliesSetting"]
    oof["status"] = _enum(oof.get("status"), ("disabled", "alwaysEnabled", "scheduled"), "automaticRepliesStatus")
    oof["externalAudience"] = _enum(oof.get("externalAudience"), ("none", "contactsOnly", "all"),
                                    "externalAudienceScope")  # fmt: skip
    if oof["status"] == "scheduled":
        start = _instant(oof.get("scheduledStartDateTime"), "scheduledStartDateTime")
        if not start < _instant(oof.get("scheduledEndDateTime"), "scheduledEndDateTime"):
            raise GraphError(400, "ErrorInvalidScheduledOofDuration", "The scheduled Oof duration is invalid.")
    hours = settings["workingHours"]
    hours["daysOfWeek"] = [_enum(d, _DAYS, "dayOfWeek") for d in hours.get("daysOfWeek") or ()]
    for name in ("startTime", "endTime"):
        if not _TIME_OF_DAY.fullmatch(str(hours.get(name))):
            raise GraphError(400, "RequestBodyRead", f"Cannot convert the literal '{hours.get(name)}' to the "
                             "expected type 'Edm.TimeOfDay'.")  # fmt: skip
    hours_zone = hours.get("timeZone") or {}
    if "customtimezone" not in str(hours_zone.get("@odata.type", "")).lower():  # a custom zone is its own rules
        _zone(str(hours_zone.get("name") or "UTC"))
    _zone(str(settings.get("timeZone") or "UTC"))
    settings["delegateMeetingMessageDeliveryOptions"] = _enum(
        settings["delegateMeetingMessageDeliveryOptions"],
        ("sendToDelegateAndInformationToPrincipal", "sendToDelegateAndPrincipal", "sendToDelegateOnly"),
        "delegateMeetingMessageDeliveryOptions",
    )


_WINDOWS = {name.lower(): iana for name, iana in WINDOWS_TO_OLSON.items()}


def _zone(name: str) -> ZoneInfo:
    """A zone as Graph takes it (in a dateTimeTimeZone, in ``Prefer: outlook.timezone``): IANA names, and the
    Windows names Outlook uses ("Romance Standard Time", "Pacific Standard Time": user-get-mailboxsettings.md,
    user-list-events.md), mapped by Unicode CLDR's windowsZones. Anything else: 400 (the error's code and text
    are what Exchange was reported to answer: a guess)."""
    for candidate in (name, _WINDOWS.get(name.strip().lower(), "")):
        try:
            if candidate and " " not in candidate:
                return ZoneInfo(candidate)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    raise GraphError(400, "TimeZoneNotSupportedException", "A valid TimeZone value must be specified. The following "
                     f"TimeZone value is not supported: '{name}'.")  # fmt: skip


def _wall(moment: datetime, zone: ZoneInfo) -> str:
    """A wall-clock time as Graph writes it: seven decimals, no offset."""
    return moment.astimezone(zone).replace(tzinfo=None).isoformat(timespec="microseconds") + "0"


def _instant(value: Any, field_name: str) -> datetime:
    """A dateTimeTimeZone ({"dateTime", "timeZone"}) as an aware UTC datetime."""
    if not isinstance(value, dict) or "dateTime" not in value:
        raise GraphError(400, "ErrorInvalidRequest", f"The property '{field_name}' must be a dateTimeTimeZone.")
    try:
        local = datetime.fromisoformat(str(value["dateTime"])[:19])
    except ValueError:
        raise GraphError(400, "ErrorInvalidRequest", f"The property '{field_name}' has an invalid dateTime.") from None
    return local.replace(tzinfo=_zone(value.get("timeZone") or "UTC")).astimezone(UTC)


def _query_instant(text: str | None, name: str) -> datetime:
    if not text:
        raise GraphError(400, "ErrorInvalidParameter", f"This request requires a time window specified by the "
                         f"query string parameters StartDateTime and EndDateTime. ({name} is missing)")  # fmt: skip
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
