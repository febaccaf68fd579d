"""The backend contract over Microsoft Graph (work in progress: calendars and categories so far).

Every request goes through O365's authenticated connection (``account.con``): where O365 has no call of its
own (extended properties, master categories), its raw ``get``/``post`` keep one HTTP stack and one token.
Graph errors become BackendError with the mailbox, the HTTP status and Graph's error code; throttling (429),
503, 504 and dropped connections are ``retryable``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import requests
from O365.utils.windows_tz import get_iana_tz

from m3mail.backends.base import Backend
from m3mail.backends.microsoft365.connection import GraphAccess, graph_account
from m3mail.errors import BackendError, MailboxUnavailable
from m3mail.models import CalendarEvent, CallSpec, InboundMail, MailSpec, SentMail

# The follow-up call key on m3mail's events: a single-value extended property, so that an event is found
# again by its key wherever the adviser moved it (shared/graph README: "extended prop id", "query").
KEY_PROPERTY = "String {5c9b6a38-3f0e-4d8b-9d43-0f7c2c8e5a11} Name m3mailKey"
KEY_PREFIX = "M3-"  # every follow-up id starts with it
_EXPAND = f"singleValueExtendedProperties($filter=id eq '{KEY_PROPERTY}')"
_EVENT_FIELDS = "subject,start,end,showAs,isCancelled,categories,body"
RETRYABLE = {429, 503, 504}


class Microsoft365Backend(Backend):
    name = "microsoft365"

    def __init__(self, access: GraphAccess, timezone: str = "Europe/Paris"):
        self.access = access
        self.tz = ZoneInfo(timezone)
        self.account = graph_account(access)
        self.base = f"{access.graph_url.rstrip('/')}/v1.0"

    # --- calendars ---------------------------------------------------------------------------------------

    def events(self, adviser: str, start: datetime, end: datetime) -> list[CalendarEvent]:
        params = {"startDateTime": _utc(start), "endDateTime": _utc(end), "$select": _EVENT_FIELDS,
                  "$expand": _EXPAND, "$top": "100"}  # fmt: skip
        items = self._all(adviser, "read calendar", self._url(adviser, "/calendarView"), params)
        return sorted((self._event(e) for e in items), key=lambda e: e.start)

    def calls(self, adviser: str, keys: Collection[str]) -> dict[str, CalendarEvent]:
        """One paged query for all of m3mail's events of the adviser, whatever the number of keys."""
        wanted = set(keys)
        if not wanted:
            return {}
        flt = (
            f"singleValueExtendedProperties/Any(ep: ep/id eq '{KEY_PROPERTY}' and startswith(ep/value, '{KEY_PREFIX}'))"
        )
        params = {"$filter": flt, "$select": _EVENT_FIELDS, "$expand": _EXPAND, "$top": "100"}
        items = self._all(adviser, "read calls", self._url(adviser, "/events"), params)
        found = (self._event(e) for e in items)
        return {e.key: e for e in found if e.key in wanted}

    def create_call(self, adviser: str, call: CallSpec, *, resume: bool = False) -> CalendarEvent:
        """One POST: Graph makes no second event for the same transactionId (a retried create)."""
        body = {
            "subject": call.subject, "transactionId": call.key, "showAs": "busy",
            "body": {"contentType": "HTML", "content": call.body_html or call.body_text},
            "start": _local(call.start, self.tz), "end": _local(call.end, self.tz),
            "categories": list(call.categories), "isReminderOn": True,
            "reminderMinutesBeforeStart": call.reminder_minutes,
            "singleValueExtendedProperties": [{"id": KEY_PROPERTY, "value": call.key}],
        }  # fmt: skip
        made = self._request(adviser, "create call", "post", self._url(adviser, "/events"), data=body)
        return self._event({**made, "singleValueExtendedProperties": [{"id": KEY_PROPERTY, "value": call.key}]})

    def ensure_categories(self, adviser: str, colours: Mapping[str, str]) -> None:
        url = self._url(adviser, "/outlook/masterCategories")
        existing = {c["displayName"].lower() for c in self._all(adviser, "read categories", url, {})}
        for name, colour in colours.items():
            if name.lower() in existing:
                continue
            try:
                self._request(adviser, "create category", "post", url, data={"displayName": name, "color": colour})
            except BackendError as e:
                if e.status != 409:  # created meanwhile, by a run or a person: it exists, as wanted
                    raise

    # --- mail: the next slice ----------------------------------------------------------------------------

    def send(self, adviser: str, mail: MailSpec, *, resume: bool = False) -> SentMail:
        raise BackendError(adviser, "send", "not available yet on the microsoft365 backend")

    def find_sent(self, adviser: str, key: str) -> SentMail | None:
        raise BackendError(adviser, "find sent message", "not available yet on the microsoft365 backend")

    def inbox(self, adviser: str, since: datetime) -> list[InboundMail]:
        raise BackendError(adviser, "read inbox", "not available yet on the microsoft365 backend")

    def file(self, mailbox: str, folder: tuple[str, ...], mail: MailSpec, *, resume: bool = False) -> str:
        raise BackendError(mailbox, "file message", "not available yet on the microsoft365 backend")

    def notify(self, adviser: str, mail: MailSpec, *, resume: bool = False) -> str:
        raise BackendError(adviser, "notify", "not available yet on the microsoft365 backend")

    # --- HTTP, through O365's connection -------------------------------------------------------------------

    def _url(self, mailbox: str, path: str) -> str:
        return f"{self.base}/users/{quote(mailbox)}{path}"

    def _request(self, mailbox: str, operation: str, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        headers = {"Prefer": 'outlook.timezone="UTC", outlook.body-content-type="text"'}
        try:
            reply = getattr(self.account.con, method)(url, headers=headers, **kwargs)
        except requests.HTTPError as e:
            raise _translated(mailbox, operation, e.response) from None
        except (requests.ConnectionError, requests.Timeout) as e:
            raise BackendError(mailbox, operation, f"connection failed: {type(e).__name__}", retryable=True) from None
        except PermissionError as e:  # no token: the app registration or its secret
            raise MailboxUnavailable(mailbox, operation, f"no access token: {e}") from None
        return reply.json() if reply is not None and reply.content else {}

    def _all(self, mailbox: str, operation: str, url: str, params: dict[str, str]) -> Iterator[dict[str, Any]]:
        """Every item of a collection, following @odata.nextLink verbatim until it is absent."""
        page = self._request(mailbox, operation, "get", url, params=params)
        items = list(page.get("value", []))
        while link := page.get("@odata.nextLink"):
            page = self._request(mailbox, operation, "get", link)
            items += page.get("value", [])
        return iter(items)

    def _event(self, item: dict[str, Any]) -> CalendarEvent:
        key = next((p.get("value") for p in item.get("singleValueExtendedProperties", [])
                    if p.get("id") == KEY_PROPERTY), None)  # fmt: skip
        body = item.get("body") or {}
        return CalendarEvent(
            id=item["id"], start=_instant(item["start"]), end=_instant(item["end"]), subject=item.get("subject", ""),
            key=key, categories=tuple(item.get("categories") or ()), notes=str(body.get("content", "")),
            free=item.get("showAs") == "free" or bool(item.get("isCancelled")),
        )  # fmt: skip


def _translated(mailbox: str, operation: str, response: requests.Response | None) -> BackendError:
    status = response.status_code if response is not None else None
    code, message = "", ""
    try:
        error = response.json().get("error", {}) if response is not None else {}
        code, message = error.get("code", ""), error.get("message", "")
    except ValueError:
        pass
    denied = ("ErrorInvalidUser", "ErrorAccessDenied", "Authorization_RequestDenied")
    kind = MailboxUnavailable if status in (403, 404) and code in denied else BackendError
    return kind(mailbox, operation, message or "Graph refused the request", retryable=status in RETRYABLE,
                status=status, code=code)  # fmt: skip


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _local(moment: datetime, zone: ZoneInfo) -> dict[str, str]:
    """A dateTimeTimeZone in the agency's zone: Outlook shows the wall-clock time, right across DST."""
    return {"dateTime": moment.astimezone(zone).replace(tzinfo=None).isoformat(timespec="seconds"),
            "timeZone": zone.key}  # fmt: skip


def _instant(value: dict[str, str]) -> datetime:
    """A dateTimeTimeZone from Graph (IANA or Windows zone name) as an aware datetime."""
    name = value.get("timeZone") or "UTC"
    try:
        zone = ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo(str(get_iana_tz(name)))
    return datetime.fromisoformat(value["dateTime"][:19]).replace(tzinfo=zone)
