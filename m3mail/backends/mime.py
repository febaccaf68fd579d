"""Received RFC 5322 messages as the classifier reads them (``view_of``), for the backends that see raw
messages; dates, Message-IDs and the text of a part, read without ever raising on what real mail holds
(unknown charsets, encoded words hiding CR/LF, missing fields).

Deciding what a message is belongs to m3mail.classify, the same for every backend.
"""

from __future__ import annotations

import email.policy
import re
from datetime import UTC, datetime
from email.header import decode_header, make_header
from email.message import EmailMessage, Message, MIMEPart
from email.utils import parseaddr, parsedate_to_datetime

import html2text

from m3mail.classify import ids
from m3mail.models import MailPart, MailView

_POLICY = email.policy.default
# message/* parts holding header-like fields rather than a message (RFC 3464, RFC 5965, RFC 8098)
_FIELD_PARTS = ("message/delivery-status", "message/global-delivery-status", "message/feedback-report",
                "message/disposition-notification", "message/global-disposition-notification")  # fmt: skip
_RETURNED = ("message/rfc822", "message/global")

__all__ = ["date", "ids", "message_id", "one_line", "readable", "text_of", "view_of"]


def one_line(value: str) -> str:
    """A header value on one line: an encoded word may hide CR/LF (RFC 2047 decodes them), which no header
    written again may hold."""
    return " ".join(value.replace("\x00", " ").split())


def decoded(raw: str) -> str:
    """A header value as people read it (RFC 2047 encoded words decoded), whatever its charset claims; raw
    UTF-8 (RFC 6532, which the parser keeps as surrogate escapes) read as UTF-8."""
    if any("\udc80" <= c <= "\udcff" for c in raw):
        raw = raw.encode("ascii", "surrogateescape").decode("utf-8", "replace")
    try:
        return one_line(str(make_header(decode_header(raw))))
    except (LookupError, UnicodeError, ValueError, TypeError):  # an unknown or lying charset
        return one_line(raw)


def message_id(msg: Message) -> str:
    found = ids(str(msg.get("Message-ID", "")))
    return found[0] if found else ""


def date(msg: Message) -> datetime | None:
    try:
        when = parsedate_to_datetime(str(msg.get("Date", "")))
    except (TypeError, ValueError, IndexError):
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)  # "-0000": UTC, local zone unknown


def text_of(part: MIMEPart | Message) -> str:
    try:
        return str(part.get_content())  # type: ignore[union-attr]
    except (LookupError, ValueError, AttributeError, KeyError):  # an unknown or lying charset
        payload = part.get_payload(decode=True)
        return payload.decode("utf-8", errors="replace") if isinstance(payload, bytes) else str(payload or "")


def readable(msg: Message) -> bool:
    """Whether the bytes were a message at all: a header block that names at least a sender, an id, a date or
    a subject (the parser takes anything; what it took from garbage has none)."""
    names = {k.lower() for k in msg}
    return bool(names & {"from", "sender", "message-id", "date", "subject", "return-path", "received"})


def view_of(msg: EmailMessage, text: str | None = None) -> MailView:
    """The message as the classifier reads it: top-level fields decoded, sender, subject on one line, media
    type and report-type, the readable text (``text``, when the caller has made it already), every part."""
    headers = tuple((name, decoded(str(raw))) for name, raw in msg.raw_items())
    sender = parseaddr(next((v for k, v in headers if k.lower() == "from"), ""))[1].strip().lower()
    try:
        report_type = str(msg.get_param("report-type", "") or "").strip().lower()
    except (ValueError, TypeError):
        report_type = ""
    return MailView(
        headers=headers, sender=sender if "@" in sender else "", subject=next((v for k, v in headers
        if k.lower() == "subject"), ""), content_type=msg.get_content_type(), report_type=report_type,
        text=body_text(msg)[0] if text is None else text, parts=tuple(_parts(msg)),
    )  # fmt: skip


def body_text(msg: EmailMessage) -> tuple[str, str]:
    """(text, html) of the message: its plain text, else its HTML made text (lines as written)."""
    try:
        text_part, html_part = msg.get_body(("plain",)), msg.get_body(("html",))
    except (KeyError, ValueError, TypeError):
        text_part = html_part = None
    if text_part is None and html_part is None:  # multipart/report and the like: the first text leaf
        leaves = [p for p in msg.walk() if not p.is_multipart() and p.get_content_maintype() == "text"]
        text_part = next((p for p in leaves if p.get_content_subtype() == "plain"), None)
        html_part = next((p for p in leaves if p.get_content_subtype() == "html"), None)
    html = text_of(html_part) if html_part is not None else ""
    text = text_of(text_part) if text_part is not None else ""
    if not text and html:
        text = html2text.HTML2Text(bodywidth=0).handle(html)  # no wrapping at 78: lines as written
    return text, html


def _parts(part: Message) -> list[MailPart]:
    """Every part, depth first; a returned message is one part (its header block), not its own parts."""
    kind = part.get_content_type()
    if kind in _RETURNED:
        inner = part.get_payload()
        inner = inner[0] if isinstance(inner, list) and inner else inner
        return [MailPart(kind, _fields_of(inner) if isinstance(inner, Message) else str(inner or ""))]
    if kind in _FIELD_PARTS or (kind.startswith("message/") and kind != "message/partial"):
        return [MailPart(kind, _fields_text(part))]
    if part.is_multipart():
        payload = part.get_payload()
        subs = [sub for sub in (payload if isinstance(payload, list) else []) if isinstance(sub, Message)]
        return [p for sub in subs for p in _parts(sub)]
    if part.get_content_maintype() == "text":
        return [MailPart(kind, text_of(part))]
    return [MailPart(kind)]  # an attachment: its type alone


def _fields_of(msg: Message) -> str:
    return "\n".join(f"{name}: {one_line(str(value))}" for name, value in msg.raw_items())


def _fields_text(part: Message) -> str:
    """The fields of a message/delivery-status (or feedback-report...) part, groups apart by a blank line."""
    payload = part.get_payload()
    if isinstance(payload, list):
        return "\n\n".join(_fields_of(group) for group in payload if isinstance(group, Message))
    raw = part.get_payload(decode=True)
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else str(payload or "")
    return re.sub(r"\r\n?", "\n", text)
