"""Graph's JSON and m3mail's values, both ways: events, messages, mailbox settings, dates and zones.

Pure functions, no HTTP: what the backend sends (``message``, ``local``) and how it reads what Graph answers
(``event_of``, ``inbound``, ``availability_of``...).
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from datetime import time as clock_time
from typing import Any
from zoneinfo import ZoneInfo

import html2text

from m3mail.backends import mime
from m3mail.backends.microsoft365.zones import UnknownZone, zone
from m3mail.models import Availability, CalendarEvent, InboundMail, MailSpec, SentMail

# The follow-up key on m3mail's events and messages: a single-value extended property, so that an item is found
# again by its key wherever the adviser moved it (shared/graph README: "extended prop id", "query").
KEY_PROPERTY = "String {5c9b6a38-3f0e-4d8b-9d43-0f7c2c8e5a11} Name m3mailKey"
EXPAND_KEY = f"singleValueExtendedProperties($filter=id eq '{KEY_PROPERTY}')"
BUSY_FIELDS = "subject,start,end,showAs,isCancelled,categories"  # free/busy: no bodies to fetch and convert
EVENT_FIELDS = f"{BUSY_FIELDS},body"  # a call read back: its notes


class Unreadable(ValueError):
    """An item Graph answered without what m3mail needs of it (an event without its start, a message without
    its id): said plainly, never a KeyError."""


def _require(item: Any, kind: str, *names: str) -> None:
    if not isinstance(item, dict):
        raise Unreadable(f"{kind}: not a JSON object")
    if missing := [n for n in names if item.get(n) in (None, "")]:
        raise Unreadable(f"{kind} {item.get('id') or ''} without {', '.join(missing)}".replace("  ", " "))


def event_of(item: dict[str, Any]) -> CalendarEvent:
    """An event as Graph gives it. Bodies come in HTML ("Currently, this operation returns event bodies in only
    HTML format", event-get.md), or in text where ``Prefer: outlook.body-content-type="text"`` is honoured: HTML is
    made text, so that the adviser's notes are read as typed."""
    _require(item, "an event", "id", "start", "end")
    return CalendarEvent(
        id=item["id"], start=instant(item["start"]), end=instant(item["end"]), subject=item.get("subject", ""),
        key=key_of(item), categories=tuple(item.get("categories") or ()),
        notes=_text(item["body"]) if isinstance(item.get("body"), dict) else "",
        free=item.get("showAs") == "free" or bool(item.get("isCancelled")),
    )  # fmt: skip


def _text(body: dict[str, Any]) -> str:
    content = str(body.get("content", ""))
    if str(body.get("contentType", "text")).lower() != "html":
        return content
    return html2text.HTML2Text(bodywidth=0).handle(content)  # lines as typed: html2text wraps at 78 otherwise



def sent_of(item: dict[str, Any]) -> SentMail:
    _require(item, "a sent message", "id")
    sent_at = datetime.fromisoformat(item["sentDateTime"].replace("Z", "+00:00")) if item.get("sentDateTime") else None
    return SentMail(item["id"], item.get("internetMessageId", ""), sent_at, item.get("conversationId", ""))


_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def availability_of(settings: dict[str, Any]) -> Availability:
    """mailboxSettings' automatic replies and working hours, as the domain reads them. Working hours in a zone
    no table maps are left out, and said so in ``problem``; the automatic replies count all the same."""
    away: tuple[tuple[datetime, datetime | None], ...] = ()
    problem = ""
    replies = settings.get("automaticRepliesSetting") or {}
    status = str(replies.get("status", "disabled")).lower()
    if status == "alwaysenabled":
        away = ((datetime(2000, 1, 1, tzinfo=UTC), None),)  # on until the adviser turns it off
    elif status == "scheduled" and replies.get("scheduledStartDateTime") and replies.get("scheduledEndDateTime"):
        try:
            away = ((instant(replies["scheduledStartDateTime"]), instant(replies["scheduledEndDateTime"])),)
        except UnknownZone as e:  # the absence cannot be placed: taken as on, until it can
            away, problem = ((datetime(2000, 1, 1, tzinfo=UTC), None),), f"automatic replies scheduled in {e}"
    hours = settings.get("workingHours") or {}
    days = frozenset(_DAYS.index(d.lower()) for d in hours.get("daysOfWeek") or () if d.lower() in _DAYS)
    try:
        span = (clock_time.fromisoformat(hours["startTime"][:8]), clock_time.fromisoformat(hours["endTime"][:8]))
    except (KeyError, TypeError, ValueError):
        span = None
    if span is None or not days or span[0] >= span[1]:
        return Availability(away=away, problem=problem)
    try:
        where = zone(hours.get("timeZone"), default=None).key
    except UnknownZone as e:
        return Availability(away=away, problem=problem or f"working hours in {e}")
    return Availability(away=away, working_days=days, working_hours=span, timezone=where, problem=problem)


def zone_name(name: str) -> str | None:
    """An IANA name for Graph's zone name (IANA or Windows), None when no table maps it."""
    try:
        return zone(name, default=None).key
    except UnknownZone:
        return None


def utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def local(moment: datetime, where: ZoneInfo) -> dict[str, str]:
    """A dateTimeTimeZone in the agency's zone: Outlook shows the wall-clock time, right across DST."""
    return {"dateTime": moment.astimezone(where).replace(tzinfo=None).isoformat(timespec="seconds"),
            "timeZone": where.key}  # fmt: skip


def instant(value: dict[str, str]) -> datetime:
    """A dateTimeTimeZone from Graph (its own zone: IANA or Windows name, UTC when absent) as an aware datetime;
    UnknownZone when no table maps the zone."""
    return datetime.fromisoformat(value["dateTime"][:19]).replace(tzinfo=zone(value.get("timeZone")))


def key_of(item: dict[str, Any]) -> str | None:
    return next((p.get("value") for p in item.get("singleValueExtendedProperties", [])
                 if p.get("id") == KEY_PROPERTY), None)  # fmt: skip


def odata_quote(text: str) -> str:
    """A string literal inside an OData filter: single quotes doubled."""
    return text.replace("'", "''")


def message(mail: MailSpec, *, flags: int | None) -> dict[str, Any]:
    """A Graph message. ``flags`` (PR_MESSAGE_FLAGS): None for a draft to send, 1 for a read filed copy, 0 for
    an unread note; without the property a message created in a folder is a draft."""
    properties = [{"id": KEY_PROPERTY, "value": mail.key}]
    if flags is not None:
        properties.append({"id": "Integer 0x0E07", "value": str(flags)})
    message: dict[str, Any] = {
        "subject": mail.subject, "body": {"contentType": "html", "content": mail.html or mail.text},
        "toRecipients": [{"emailAddress": {"address": a}} for a in mail.to],
        "singleValueExtendedProperties": properties,
    }  # fmt: skip
    if flags is not None:  # a copy or a note: say who wrote it
        message["from"] = {"emailAddress": {"address": mail.sender, "name": mail.sender_name or mail.sender}}
    if mail.attachments:
        message["attachments"] = [
            {"@odata.type": "#microsoft.graph.fileAttachment", "name": name, "contentType": kind,
             "contentBytes": base64.b64encode(data).decode()}
            for name, kind, data in mail.attachments
        ]  # fmt: skip
    return message


_BOUNCE_SENDERS = ("microsoftexchange", "mailer-daemon", "postmaster")
_BOUNCE_SUBJECTS = ("undeliverable:", "non remis", "delivery status notification", "mail delivery failed")
_AUTO_SUBJECTS = ("automatic reply:", "réponse automatique", "absence du bureau", "out of office")


def inbound(item: dict[str, Any]) -> InboundMail:
    _require(item, "a message", "id", "receivedDateTime")
    headers = {h.get("name", "").lower(): h.get("value", "") for h in item.get("internetMessageHeaders") or []}
    sender = ((item.get("from") or {}).get("emailAddress") or {}).get("address", "").lower()
    subject = item.get("subject") or ""
    bounce = sender.startswith(_BOUNCE_SENDERS) or subject.lower().startswith(_BOUNCE_SUBJECTS)
    auto = headers.get("auto-submitted", "no").lower() != "no" or subject.lower().startswith(_AUTO_SUBJECTS)
    refs = mime.ids(f"{headers.get('in-reply-to', '')} {headers.get('references', '')}")
    body = item.get("body") or {}
    text = str(body.get("content", ""))
    is_html = str(body.get("contentType", "text")).lower() == "html"
    return InboundMail(
        id=item["id"], message_id=item.get("internetMessageId", ""), sender=sender, subject=subject,
        text=_text(body), html=text if is_html else "",
        received_at=datetime.fromisoformat(item["receivedDateTime"].replace("Z", "+00:00")),
        in_reply_to=tuple(refs), conversation=item.get("conversationId", ""), bounce=bounce, auto=auto and not bounce,
    )  # fmt: skip
