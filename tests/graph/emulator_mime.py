"""How the Graph emulator stores a message that arrives from the internet: a raw RFC 5322 message becomes a Graph
message in the Inbox, as Exchange keeps it and Graph shows it, so that the corpus of real mail
(tests/data/mail/) reaches the Microsoft 365 backend as it would on a tenant.

What comes from Microsoft's pages (resources/message.md, message-get.md's example with internetMessageHeaders,
attachment-get.md and its itemAttachment example): ``internetMessageId`` is the Message-ID field; ``from`` and
``toRecipients`` the addresses; ``internetMessageHeaders`` the header fields as received, in order; ``body`` one
itemBody (``html`` or ``text``); the other parts are attachments, a file attachment (``name``, ``contentType``,
``size``, base64 ``contentBytes``) or, for an attached message, an itemAttachment whose ``item`` is that message.
What is a guess (PROVENANCE.md): which part becomes the body (the first text/html, else the first text/plain,
of the message or of its first multipart part), the names given to parts that have none, that a decoded subject
keeps a CR/LF an encoded word hid, and the threading: a message naming a stored message's Message-ID
(In-Reply-To, References, an attached message) joins its conversation, as Exchange threads replies and its
non-delivery reports.
"""

from __future__ import annotations

import base64
import email.policy
import uuid
from datetime import UTC, datetime
from email.header import decode_header, make_header
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import parseaddr, parsedate_to_datetime
from typing import Any

from tests.graph.emulator_mailbox import Mailbox

_POLICY = email.policy.default


def graph_message(box: Mailbox, raw: bytes, when: datetime, new_id: str) -> dict[str, Any]:
    """The Graph message Exchange would store for ``raw`` received at ``when`` (internal fields: ``_folder`` is
    set by the caller; ``_attachments`` holds what the attachments endpoints serve)."""
    msg = BytesParser(policy=_POLICY).parsebytes(raw)
    fields = [(name, _unfolded(str(value))) for name, value in msg.raw_items()]
    own_id = _first_id(_field(fields, "Message-ID")) or f"<{uuid.uuid4().hex}@emulator.example>"
    body, attachments = _body_and_attachments(msg)
    return {
        "id": new_id, "internetMessageId": own_id, "subject": _text(_field(fields, "Subject")),
        "from": _recipient(_field(fields, "From")), "toRecipients": [_recipient(a) for a in _field(fields, "To")
                                                                     .split(",") if a.strip()],
        "receivedDateTime": when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "sentDateTime": _sent(_field(fields, "Date"), when), "isDraft": False, "isRead": False,
        "internetMessageHeaders": [{"name": n, "value": v} for n, v in fields],
        "body": body, "hasAttachments": bool(attachments), "_attachments": attachments,
        "conversationId": _conversation(box, fields, attachments),
    }  # fmt: skip


def _unfolded(value: str) -> str:
    return " ".join(value.replace("\r", " ").replace("\n", " ").split()) if "\n" in value else value.strip()


def _field(fields: list[tuple[str, str]], name: str) -> str:
    return next((v for k, v in fields if k.lower() == name.lower()), "")


def _text(raw: str) -> str:
    """A header decoded as Exchange shows it; a CR/LF hidden in an encoded word is kept (a guess)."""
    try:
        return str(make_header(decode_header(raw)))
    except (LookupError, UnicodeError, ValueError):
        return raw


def _first_id(value: str) -> str:
    start, end = value.find("<"), value.find(">")
    return value[start : end + 1] if 0 <= start < end else ""


def _recipient(value: str) -> dict[str, Any]:
    name, address = parseaddr(_text(value))
    return {"emailAddress": {"name": name or address, "address": address}}


def _sent(date: str, when: datetime) -> str:
    try:
        moment = parsedate_to_datetime(date)
    except (TypeError, ValueError, IndexError):
        moment = when
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _body_and_attachments(msg: EmailMessage) -> tuple[dict[str, str], list[dict[str, Any]]]:
    leaves = list(_leaves(msg))
    body_part = next((p for p in leaves if p.get_content_type() == "text/html" and not _attached(p)), None) or \
        next((p for p in leaves if p.get_content_type() == "text/plain" and not _attached(p)), None)  # fmt: skip
    body = {"contentType": "html" if body_part is not None and body_part.get_content_type() == "text/html"
            else "text", "content": _content(body_part) if body_part is not None else ""}  # fmt: skip
    alternative = _alternative_of(msg, body_part)
    attachments = [_attachment(p, n) for n, p in enumerate(leaves, 1) if p is not body_part and p not in alternative]
    return body, attachments


def _leaves(part: Message) -> Any:
    """The parts a reader sees: leaves, and attached messages (not descended into)."""
    if part.get_content_type() in ("message/rfc822", "message/global") or (
        part.get_content_maintype() == "message" and part.is_multipart()
    ):
        yield part
        return
    if part.is_multipart():
        for sub in part.get_payload():
            yield from _leaves(sub)
        return
    yield part


def _attached(part: Message) -> bool:
    return str(part.get("Content-Disposition", "")).lower().startswith("attachment")


def _alternative_of(msg: Message, body: Message | None) -> list[Message]:
    """The other renderings of the body (text/plain beside text/html in a multipart/alternative): not attachments."""
    for part in msg.walk():
        if part.get_content_type() == "multipart/alternative":
            subs = [p for p in part.get_payload() if isinstance(p, Message)]
            if body in subs:
                return [p for p in subs if p is not body]
    return []


def _content(part: Message) -> str:
    try:
        return str(part.get_content())  # type: ignore[attr-defined]
    except (LookupError, ValueError, KeyError):
        data = part.get_payload(decode=True)
        return data.decode("utf-8", errors="replace") if isinstance(data, bytes) else str(data or "")


def _attachment(part: Message, n: int) -> dict[str, Any]:
    kind = part.get_content_type()
    ident = f"AAMkAt{uuid.uuid4().hex}"
    if kind in ("message/rfc822", "message/global"):
        inner = part.get_payload()
        inner = inner[0] if isinstance(inner, list) and inner else inner
        item = _item(inner) if isinstance(inner, Message) else {}
        return {"@odata.type": "#microsoft.graph.itemAttachment", "id": ident, "name": item.get("subject") or
                f"ATT{n:05d}", "contentType": kind, "size": len(part.as_bytes()), "isInline": False,
                "_item": item}  # fmt: skip
    data = _raw(part)
    name = part.get_filename() or f"ATT{n:05d}.{'txt' if kind.startswith(('text/', 'message/')) else 'dat'}"
    return {"@odata.type": "#microsoft.graph.fileAttachment", "id": ident, "name": name, "contentType": kind,
            "size": len(data), "isInline": False, "contentBytes": base64.b64encode(data).decode()}  # fmt: skip


def _raw(part: Message) -> bytes:
    """The part's content as a file: a field part (message/delivery-status...) as its text."""
    if part.get_content_maintype() == "message" and part.is_multipart():
        groups = [g for g in part.get_payload() if isinstance(g, Message)]
        return "\n\n".join("\n".join(f"{k}: {v}" for k, v in g.raw_items()) for g in groups).encode()
    data = part.get_payload(decode=True)
    return data if isinstance(data, bytes) else str(part.get_payload()).encode()


def _item(inner: Message) -> dict[str, Any]:
    fields = [(name, _unfolded(str(value))) for name, value in inner.raw_items()]
    return {"internetMessageId": _first_id(_field(fields, "Message-ID")), "subject": _text(_field(fields, "Subject")),
            "internetMessageHeaders": [{"name": n, "value": v} for n, v in fields]}  # fmt: skip


def _conversation(box: Mailbox, fields: list[tuple[str, str]], attachments: list[dict[str, Any]]) -> str:
    named = " ".join([_field(fields, "In-Reply-To"), _field(fields, "References"),
                      *(a.get("_item", {}).get("internetMessageId", "") for a in attachments)])  # fmt: skip
    for message in box.messages.values():
        if message.get("internetMessageId") and message["internetMessageId"] in named:
            return str(message["conversationId"])
    return f"AAQkCv{uuid.uuid4().hex}"

