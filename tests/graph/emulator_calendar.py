"""The calendar half of the Graph emulator: events (``transactionId`` de-duplication of their creation,
extended-property filters, calendarView) and getSchedule's free/busy.

``CalendarOperations`` is a part of ``GraphEmulator``. Its public methods are the Graph operations the routes
call, and ``create_event``, ``update_event`` and ``delete_event`` are also what tests do as an adviser would in
Outlook.
"""

from __future__ import annotations

import copy
import math
from datetime import datetime, timedelta
from typing import Any

from tests.graph.emulator_mailbox import MailboxStore
from tests.graph.emulator_odata import _matches
from tests.graph.emulator_protocol import GraphError, Reply
from tests.graph.emulator_values import _enum, _instant, _query_instant, _wall, _zone

_SHOW_AS = ("unknown", "free", "tentative", "busy", "oof", "workingElsewhere")
_BUSY_ORDER = ("oof", "busy", "tentative", "workingElsewhere")  # what an interval shows when events overlap
_BUSY_DIGITS = {"free": "0", "tentative": "1", "busy": "2", "oof": "3", "workingElsewhere": "4"}


def _checked_event(body: dict[str, Any]) -> dict[str, Any]:
    if "showAs" in body:
        return {**body, "showAs": _enum(body["showAs"], _SHOW_AS, "freeBusyStatus")}
    return body


class CalendarOperations(MailboxStore):
    """Events and free/busy, in the mailboxes of ``MailboxStore``."""

    # --- Graph: events ------------------------------------------------------------------------------------------

    def create_event(self, user: str, body: dict[str, Any]) -> Reply:
        box = self.mailbox(user)
        for name in ("subject", "start", "end"):
            if name not in body:
                raise GraphError(400, "ErrorInvalidRequest", f"The property '{name}' is required.")
        body = _checked_event(body)
        tx = body.get("transactionId")
        if tx and tx in box.transactions and box.transactions[tx] in box.events:
            return Reply(201, box.events[box.transactions[tx]])  # documented: 201, and no second event
        event_id = self._new_id("AAMkEv")
        event = {"id": event_id, "@odata.etag": f'W/"{next(self._ids)}"', "isCancelled": False,
                 "showAs": body.get("showAs", "busy"), "categories": body.get("categories", []),
                 "isReminderOn": body.get("isReminderOn", True), **body}  # fmt: skip
        event["_start"], event["_end"] = _instant(body["start"], "start"), _instant(body["end"], "end")
        box.events[event_id] = event
        if tx:
            box.transactions[tx] = event_id
        return Reply(201, event)

    def list_events(self, user: str, query: dict[str, str], path: str) -> Reply:
        events = list(self.mailbox(user).events.values())
        if flt := query.get("$filter"):
            events = [e for e in events if _matches(e, flt)]
        return self._page(events, query, path)

    def calendar_view(self, user: str, query: dict[str, str], path: str) -> Reply:
        start = _query_instant(query.get("startDateTime"), "startDateTime")
        end = _query_instant(query.get("endDateTime"), "endDateTime")
        events = [e for e in self.mailbox(user).events.values() if e["_start"] < end and start < e["_end"]]
        return self._page(sorted(events, key=lambda e: e["_start"]), query, path)

    def update_event(self, user: str, event_id: str, body: dict[str, Any]) -> Reply:
        """What an adviser does in Outlook: a category, a note in the body, a new time."""
        event = self.event(user, event_id)
        body = _checked_event(body)
        event.update({k: v for k, v in body.items() if k not in ("id", "transactionId")})
        for name in ("start", "end"):
            if name in body:
                event[f"_{name}"] = _instant(body[name], name)
        event["@odata.etag"] = f'W/"{next(self._ids)}"'
        return Reply(200, event)

    def delete_event(self, user: str, event_id: str) -> Reply:
        self.event(user, event_id)
        del self.mailbox(user).events[event_id]
        return Reply(204)

    def event(self, user: str, event_id: str) -> dict[str, Any]:
        event = self.mailbox(user).events.get(event_id)
        if event is None:
            raise GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
        return event

    def get_schedule(self, user: str, body: Any, zone_name: str) -> Reply:
        """Free/busy of up to 20 mailboxes over a window under 62 days; parameter names are accepted in either
        case (the CSDL says Schedules, Microsoft's examples say schedules). Busy digits: 0 free, 1 tentative,
        2 busy, 3 oof, 4 workingElsewhere."""
        self.mailbox(user)
        args = {str(k).lower(): v for k, v in (body if isinstance(body, dict) else {}).items()}
        schedules = args.get("schedules")
        if not isinstance(schedules, list) or not schedules or not all(isinstance(s, str) for s in schedules):
            raise GraphError(400, "ErrorInvalidParameter", "schedules must list at least one address.")
        if len(schedules) > 20:
            raise GraphError(400, "ErrorInvalidParameter", "getSchedule takes up to 20 schedules.")
        start, end = _instant(args.get("starttime"), "startTime"), _instant(args.get("endtime"), "endTime")
        interval = args.get("availabilityviewinterval") or 30
        if not isinstance(interval, int) or not 5 <= interval <= 1440:
            raise GraphError(400, "ErrorInvalidParameter", "availabilityViewInterval must be between 5 and 1440.")
        if not start < end or end - start >= timedelta(days=62):
            raise GraphError(400, "ErrorInvalidParameter", "The time window must be positive and under 62 days.")
        value = [self._schedule(address, start, end, interval, zone_name) for address in schedules]
        context = f"{self.base_url}/v1.0/$metadata#Collection(microsoft.graph.scheduleInformation)"
        return Reply(200, {"@odata.context": context, "value": value})

    def _schedule(self, address: str, start: datetime, end: datetime, interval: int, zone_name: str) -> dict[str, Any]:
        box = self.mailboxes.get(address.lower())
        if box is None:  # documented: one item carrying an error, the call itself succeeds
            return {"scheduleId": address, "availabilityView": "", "scheduleItems": [],
                    "error": {"message": f"The user '{address}' could not be found.",
                              "responseCode": "ErrorMailRecipientNotFound"}}  # fmt: skip
        busy = [e for e in box.events.values() if e["_start"] < end and start < e["_end"]
                and not e.get("isCancelled") and e.get("showAs", "busy") != "free"]  # fmt: skip
        busy.sort(key=lambda e: e["_start"])
        step = timedelta(minutes=interval)
        view = ""
        for n in range(math.ceil((end - start) / step)):
            slot_start, slot_end = start + n * step, min(start + (n + 1) * step, end)
            shown = [e.get("showAs", "busy") for e in busy if e["_start"] < slot_end and slot_start < e["_end"]]
            view += next((_BUSY_DIGITS[s] for s in _BUSY_ORDER if s in shown), "0")
        zone = _zone(zone_name)
        items = [{"isPrivate": e.get("sensitivity") == "private", "status": e.get("showAs", "busy"),
                  "subject": e.get("subject", ""), "location": (e.get("location") or {}).get("displayName", ""),
                  "start": {"dateTime": _wall(e["_start"], zone), "timeZone": zone_name},
                  "end": {"dateTime": _wall(e["_end"], zone), "timeZone": zone_name}} for e in busy]  # fmt: skip
        return {"scheduleId": address, "availabilityView": view, "scheduleItems": items,
                "workingHours": copy.deepcopy(box.settings["workingHours"])}  # fmt: skip
