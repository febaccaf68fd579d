"""Reading the messages that arrive in an Inbox: threads, dates, text, bounces, automatic answers.

Shared by the backends that see raw RFC 5322 messages.
"""

from __future__ import annotations

import email.policy
import re
from datetime import UTC, datetime
from email.message import EmailMessage, Message, MIMEPart
from email.parser import Parser
from email.utils import parseaddr, parsedate_to_datetime

_POLICY = email.policy.default


def ids(text: str) -> list[str]:
    """The ``<...>`` message ids in a header such as References, in order, once each."""
    return list(dict.fromkeys(re.findall(r"<[^<>\s]+>", text)))


def message_id(msg: Message) -> str:
    found = ids(str(msg.get("Message-ID", "")))
    return found[0] if found else ""


def date(msg: Message) -> datetime | None:
    try:
        when = parsedate_to_datetime(str(msg.get("Date", "")))
    except (TypeError, ValueError, IndexError):
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)  # "-0000": UTC, local zone unknown


def text_of(part: MIMEPart) -> str:
    try:
        return str(part.get_content())
    except (LookupError, ValueError):  # an unknown or lying charset
        payload = part.get_payload(decode=True) or b""
        return payload.decode("utf-8", errors="replace")


def is_automatic(msg: EmailMessage) -> bool:
    """An out-of-office answer or a read receipt: not the client's reply (RFC 3834, RFC 8098)."""
    submitted = str(msg.get("Auto-Submitted", "no")).strip().lower()
    precedence = str(msg.get("Precedence", "")).strip().lower()
    receipt = msg.get_content_type() == "multipart/report" and \
        msg.get_param("report-type", "").lower() == "disposition-notification"  # fmt: skip
    return (submitted != "no" or precedence in ("auto_reply", "bulk", "junk", "list") or receipt
            or any(h in msg for h in ("X-Autoreply", "X-Autorespond", "X-Auto-Response-Suppress")))  # fmt: skip


def is_bounce(msg: EmailMessage) -> bool:
    """A delivery status notification (RFC 3464), or a mail server's own message (older servers send plain
    text bounces from MAILER-DAEMON or postmaster)."""
    if msg.get_content_type() == "multipart/report" and msg.get_param("report-type") == "delivery-status":
        return True
    local_part = parseaddr(str(msg.get("From", "")))[1].partition("@")[0].lower()
    return local_part in ("mailer-daemon", "postmaster")


def bounced_ids(msg: EmailMessage, text: str) -> list[str]:
    """The Message-ID of the message that could not be delivered: from the returned message or its headers,
    else from a quoted ``Message-ID:`` line in the text."""
    found: list[str] = []
    for part in msg.walk():
        if part.get_content_type() == "message/rfc822":
            inner = part.get_payload()
            found += [message_id(m) for m in (inner if isinstance(inner, list) else [inner])]
        elif part.get_content_type() == "text/rfc822-headers":
            found.append(message_id(Parser(policy=_POLICY).parsestr(text_of(part), headersonly=True)))
    found = [i for i in found if i]
    return found or ids(" ".join(re.findall(r"^\s*Message-ID:\s*(<[^>]+>)", text, re.I | re.M)))
