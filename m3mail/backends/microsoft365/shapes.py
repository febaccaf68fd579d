"""Graph's JSON and m3mail's values, both ways: events, messages, mailbox settings, dates and zones.

Pure functions, no HTTP: what the backend sends (``message``, ``local``) and how it reads what Graph answers
(``event_of``, ``inbound``, ``availability_of``...).
"""

from __future__ import annotations

import base64
from dataclasses import replace
from datetime import UTC, datetime
from datetime import time as clock_time
from email.message import Message
from typing import Any
from zoneinfo import ZoneInfo

import html2text

from m3mail.addresses import wire
from m3mail.backends import mime
from m3mail.backends.microsoft365.zones import UnknownZone, zone
from m3mail.classify import classify, may_be_report
from m3mail.models import Availability, CalendarEvent, InboundMail, MailKind, MailPart, MailSpec, MailView, SentMail

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



def handed_over(draft: dict[str, Any]) -> SentMail:
    """A draft Exchange accepted to send (202): recorded with the draft's own Message-ID and conversation, which
    its 201 answer carries (user-post-messages.md), and no sent time yet (the copy in Sent Items comes later)."""
    _require(draft, "a draft", "id")
    return SentMail(draft["id"], draft.get("internetMessageId", ""), None, draft.get("conversationId", ""))


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
        "toRecipients": [{"emailAddress": {"address": wire(a)[0]}} for a in mail.to],  # IDNA domains
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


def view_of(item: dict[str, Any], attachments: list[dict[str, Any]] | None = None) -> MailView:
    """A Graph message as the classifier reads it (m3mail.classify, shared with the local backend): its
    internetMessageHeaders (the fields as received), its sender ("" for the empty one), its subject on one line,
    its media type and report-type from its Content-Type field, its body as text, and, where they were read,
    its attachments as parts (a file attachment's type and text, an attached message as message/rfc822)."""
    parts = tuple(_part(a) for a in attachments or () if isinstance(a, dict))
    return replace(_fields_view(item), text=_text(item.get("body") or {}), parts=parts)


def _fields_view(item: dict[str, Any]) -> MailView:
    """The view of a message's fields alone: what the body would cost to make text is not spent."""
    headers = tuple((str(h.get("name", "")), mime.decoded(str(h.get("value", ""))))
                    for h in item.get("internetMessageHeaders") or [] if isinstance(h, dict))  # fmt: skip
    sender = str(((item.get("from") or {}).get("emailAddress") or {}).get("address") or "").strip().lower()
    content = Message()
    content["Content-Type"] = next((v for k, v in headers if k.lower() == "content-type"), "text/plain")
    try:
        report_type = str(content.get_param("report-type", "") or "").lower()
        kind = content.get_content_type()
    except (ValueError, TypeError):
        report_type, kind = "", "text/plain"
    return MailView(headers=headers, sender=sender if "@" in sender else "", content_type=kind,
                    subject=mime.one_line(str(item.get("subject") or "")), report_type=report_type)  # fmt: skip


def _part(attachment: dict[str, Any]) -> MailPart:
    """An attachment as a part: an attached message (itemAttachment) as message/rfc822 with its header block
    when Graph gave the item, a file attachment with its text when it is text or a report's fields."""
    if "itemattachment" in str(attachment.get("@odata.type", "")).lower():
        item = attachment.get("item") or {}
        fields = [f"{h.get('name')}: {h.get('value')}" for h in item.get("internetMessageHeaders") or []]
        if item.get("internetMessageId") and not any(f.lower().startswith("message-id:") for f in fields):
            fields.append(f"Message-ID: {item['internetMessageId']}")
        return MailPart("message/rfc822", "\n".join(fields))
    kind = str(attachment.get("contentType") or "application/octet-stream").split(";")[0].strip().lower()
    text = ""
    if kind.startswith(("text/", "message/")) and attachment.get("contentBytes"):
        try:
            data = base64.b64decode(str(attachment["contentBytes"]))
        except ValueError:
            data = b""
        text = data.decode("utf-8", errors="replace").replace("\r\n", "\n")
    return MailPart(kind, text)


def inbound(item: dict[str, Any], attachments: list[dict[str, Any]] | None = None) -> InboundMail:
    """A Graph message, read and classified; one without an id or a received time is UNREADABLE."""
    if not isinstance(item, dict) or not item.get("id") or not item.get("receivedDateTime"):
        ident = str(item.get("id") or "?") if isinstance(item, dict) else "?"
        return InboundMail(id=ident, message_id="", sender="", subject="", text="", html="", received_at=_EPOCH,
                           kind=MailKind.UNREADABLE, reason="Graph answered a message without its id or time")
    view = view_of(item, attachments)
    received = datetime.fromisoformat(str(item["receivedDateTime"]).replace("Z", "+00:00"))
    verdict = classify(view, received)
    body = item.get("body") or {}
    is_html = str(body.get("contentType", "text")).lower() == "html"
    return InboundMail(
        id=item["id"], message_id=str(item.get("internetMessageId") or ""), sender=view.sender, subject=view.subject,
        text=view.text, html=str(body.get("content", "")) if is_html else "", received_at=received,
        in_reply_to=verdict.refs, conversation=str(item.get("conversationId") or ""), kind=verdict.kind,
        recipients=verdict.recipients, own_text=verdict.own_text, back_on=verdict.back_on, reason=verdict.reason,
    )  # fmt: skip


def may_need_parts(item: dict[str, Any]) -> bool:
    """Whether the classifier would read this message's attachments: a report (its fields are a part)."""
    return bool(item.get("hasAttachments")) and may_be_report(_fields_view(item))


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
