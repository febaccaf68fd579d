"""The backend contract over Microsoft Graph (work in progress: not yet wired into the settings).

Every request goes through O365's authenticated connection (``account.con``): where O365 has no call of its
own (extended properties, master categories), its raw ``get``/``post`` keep one HTTP stack and one token.
Graph errors become BackendError with the mailbox, the HTTP status and Graph's error code; throttling (429),
503, 504 and dropped connections are ``retryable``.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Collection, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import html2text
import requests
from O365.utils.windows_tz import get_iana_tz
from tenacity import RetryCallState, Retrying

from m3mail.backends import mime
from m3mail.backends.base import Backend
from m3mail.backends.microsoft365.connection import GraphAccess, graph_account
from m3mail.errors import BackendError, MailboxUnavailable
from m3mail.models import CalendarEvent, CallSpec, InboundMail, MailSpec, SentMail

# The follow-up call key on m3mail's events: a single-value extended property, so that an event is found
# again by its key wherever the adviser moved it (shared/graph README: "extended prop id", "query").
KEY_PROPERTY = "String {5c9b6a38-3f0e-4d8b-9d43-0f7c2c8e5a11} Name m3mailKey"
_EXPAND = f"singleValueExtendedProperties($filter=id eq '{KEY_PROPERTY}')"
_EVENT_FIELDS = "subject,start,end,showAs,isCancelled,categories,body"
RETRYABLE = {429, 503, 504}


class Microsoft365Backend(Backend):
    name = "microsoft365"

    def __init__(self, access: GraphAccess, timezone: str = "Europe/Paris", *,
                 sleep: Callable[[float], None] = time.sleep, max_wait: float = 120.0):  # fmt: skip
        """``sleep`` waits between retries (tests inject one); ``max_wait`` bounds the waiting per request."""
        self.access = access
        self.sleep, self.max_wait = sleep, max_wait
        self.tz = ZoneInfo(timezone)
        self.account = graph_account(access)
        self.base = f"{access.graph_url.rstrip('/')}/v1.0"
        self._folders: dict[tuple[str, tuple[str, ...]], str] = {}

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
        flt = f"singleValueExtendedProperties/Any(ep: ep/id eq '{KEY_PROPERTY}' and ep/value ne '')"
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
        made = self._request(
            adviser, "create call", "post", self._url(adviser, "/events"), data=body, idempotent=True
        )  # Graph makes no second event for the same transactionId
        return self._event({**made, "singleValueExtendedProperties": [{"id": KEY_PROPERTY, "value": call.key}]})

    def ensure_categories(self, adviser: str, colours: Mapping[str, str]) -> None:
        url = self._url(adviser, "/outlook/masterCategories")
        existing = {c["displayName"].lower() for c in self._all(adviser, "read categories", url, {})}
        for name, colour in colours.items():
            if name.lower() in existing:
                continue
            try:
                data = {"displayName": name, "color": colour}
                self._request(adviser, "create category", "post", url, data=data, idempotent=True)
            except BackendError as e:
                if e.status != 409:  # created meanwhile, by a run or a person: it exists, as wanted
                    raise

    # --- mail ---------------------------------------------------------------------------------------------

    def send(self, adviser: str, mail: MailSpec, *, resume: bool = False) -> SentMail:
        """A draft carrying the key, then sent: two requests. Resuming, the sent item or the draft is looked
        for first, so that a crash between the two never sends twice nor loses the email."""
        if resume:
            if (sent := self.find_sent(adviser, mail.key)) is not None:
                return sent
            drafts = self._by_key(adviser, "drafts", mail.key)
            draft = drafts[0] if drafts else None
        else:
            draft = None
        if draft is None:
            draft = self._request(adviser, "create draft", "post", self._url(adviser, "/messages"),
                                  data=_message(mail, flags=None))  # fmt: skip
        self._request(adviser, "send", "post", self._url(adviser, f"/messages/{draft['id']}/send"))
        return SentMail(draft["id"], draft.get("internetMessageId", ""), None, draft.get("conversationId", ""))

    def find_sent(self, adviser: str, key: str) -> SentMail | None:
        found = self._by_key(adviser, "sentitems", key)
        if not found:
            return None
        item = found[0]
        sent_at = (
            datetime.fromisoformat(item["sentDateTime"].replace("Z", "+00:00")) if item.get("sentDateTime") else None
        )
        return SentMail(item["id"], item.get("internetMessageId", ""), sent_at, item.get("conversationId", ""))

    def inbox(self, adviser: str, since: datetime) -> list[InboundMail]:
        params = {"$filter": f"receivedDateTime ge {_utc(since)}", "$expand": _EXPAND, "$top": "100",
                  "$select": "id,internetMessageId,conversationId,subject,from,body,receivedDateTime,"
                             "internetMessageHeaders"}  # fmt: skip
        items = self._all(adviser, "read inbox", self._url(adviser, "/mailFolders/inbox/messages"), params)
        return [_inbound(item) for item in items if not _key_of(item)]  # m3mail's own notes are not replies

    def file(self, mailbox: str, folder: tuple[str, ...], mail: MailSpec, *, resume: bool = False) -> str:
        """A read, non-draft message in the folder (created once, with its parents)."""
        folder_id = self._folder(mailbox, folder)
        if resume and (found := self._by_key(mailbox, folder_id, mail.key)):
            return found[0]["id"]
        url = self._url(mailbox, f"/mailFolders/{folder_id}/messages")
        return self._request(mailbox, "file message", "post", url, data=_message(mail, flags=1))["id"]

    def notify(self, adviser: str, mail: MailSpec, *, resume: bool = False) -> str:
        """An unread message in the adviser's Inbox (not a draft: its flags say received, unread)."""
        if resume and (found := self._by_key(adviser, "inbox", mail.key)):
            return found[0]["id"]
        url = self._url(adviser, "/mailFolders/inbox/messages")
        return self._request(adviser, "notify", "post", url, data=_message(mail, flags=0))["id"]

    def _by_key(self, mailbox: str, folder: str, key: str) -> list[dict[str, Any]]:
        flt = f"singleValueExtendedProperties/Any(ep: ep/id eq '{KEY_PROPERTY}' and ep/value eq '{_quote(key)}')"
        params = {"$filter": flt, "$select": "id,internetMessageId,conversationId,sentDateTime", "$top": "10"}
        return list(self._all(mailbox, "find message", self._url(mailbox, f"/mailFolders/{folder}/messages"), params))

    def _folder(self, mailbox: str, path: tuple[str, ...]) -> str:
        """The id of a folder path under the mailbox's root, creating what is missing; cached per backend."""
        parent = "msgfolderroot"
        for depth in range(1, len(path) + 1):
            cached = self._folders.get((mailbox, path[:depth]))
            if cached is None:
                cached = self._child_folder(mailbox, parent, path[depth - 1])
                self._folders[(mailbox, path[:depth])] = cached
            parent = cached
        return parent

    def _child_folder(self, mailbox: str, parent: str, name: str) -> str:
        url = self._url(mailbox, f"/mailFolders/{parent}/childFolders")
        params = {"$filter": f"displayName eq '{_quote(name)}'"}
        found = list(self._all(mailbox, "find folder", url, params))
        if found:
            return found[0]["id"]
        try:
            return self._request(mailbox, "create folder", "post", url, data={"displayName": name}, idempotent=True)[
                "id"
            ]
        except BackendError as e:
            if e.code != "ErrorFolderExists":  # made meanwhile: the folder is there, as wanted
                raise
        return next(iter(self._all(mailbox, "find folder", url, params)))["id"]

    # --- HTTP, through O365's connection -------------------------------------------------------------------

    def _url(self, mailbox: str, path: str) -> str:
        return f"{self.base}/users/{quote(mailbox)}{path}"

    def _request(self, mailbox: str, operation: str, method: str, url: str, *, idempotent: bool | None = None,
                 **kwargs: Any) -> dict[str, Any]:  # fmt: skip
        """One Graph request, retried with tenacity while Graph throttles (429, honouring Retry-After) or is
        unavailable (503, 504), and after a dropped connection when repeating it is harmless (GETs, and what
        Graph de-duplicates); the waiting is bounded by ``max_wait``. What is left fails to the executor, whose
        next try resumes (looks before writing)."""
        repeatable = method == "get" if idempotent is None else idempotent
        slept = 0.0

        def retry(state: RetryCallState) -> bool:
            error = state.outcome.exception() if state.outcome else None
            if not isinstance(error, BackendError) or not error.retryable:
                return False
            return error.status is not None or repeatable  # no status: the connection dropped mid-way

        def delay(state: RetryCallState) -> float:
            """Retry-After when Graph says it, else 1, 2, 4... seconds."""
            error = state.outcome.exception() if state.outcome else None
            after = getattr(error, "retry_after", None)
            return after if after is not None else float(min(2 ** (state.attempt_number - 1), 30))

        def stop(state: RetryCallState) -> bool:
            return state.attempt_number >= 6 or slept + delay(state) > self.max_wait

        def nap(seconds: float) -> None:
            nonlocal slept
            slept += seconds
            self.sleep(seconds)

        retrying = Retrying(retry=retry, wait=delay, stop=stop, sleep=nap, reraise=True)
        return retrying(self._once, mailbox, operation, method, url, **kwargs)

    def _once(self, mailbox: str, operation: str, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
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
        key = _key_of(item)
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
    after = response.headers.get("Retry-After") if response is not None else None
    return kind(mailbox, operation, message or "Graph refused the request", retryable=status in RETRYABLE,
                status=status, code=code, retry_after=float(after) if after and after.isdigit() else None)  # fmt: skip


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


def _key_of(item: dict[str, Any]) -> str | None:
    return next((p.get("value") for p in item.get("singleValueExtendedProperties", [])
                 if p.get("id") == KEY_PROPERTY), None)  # fmt: skip


def _quote(text: str) -> str:
    """A string literal inside an OData filter: single quotes doubled."""
    return text.replace("'", "''")


def _message(mail: MailSpec, *, flags: int | None) -> dict[str, Any]:
    """A Graph message. ``flags`` (PR_MESSAGE_FLAGS): None for a draft to send, 1 for a read filed copy, 0 for
    an unread note; without the property a message created in a folder is a draft."""
    properties = [{"id": KEY_PROPERTY, "value": mail.key}]
    if flags is not None:
        properties.append({"id": "Integer 0x0E07", "value": str(flags)})
    message: dict[str, Any] = {
        "subject": mail.subject, "body": {"contentType": "HTML", "content": mail.html or mail.text},
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


def _inbound(item: dict[str, Any]) -> InboundMail:
    headers = {h.get("name", "").lower(): h.get("value", "") for h in item.get("internetMessageHeaders") or []}
    sender = ((item.get("from") or {}).get("emailAddress") or {}).get("address", "").lower()
    subject = item.get("subject") or ""
    bounce = sender.startswith(_BOUNCE_SENDERS) or subject.lower().startswith(_BOUNCE_SUBJECTS)
    auto = headers.get("auto-submitted", "no").lower() != "no" or subject.lower().startswith(_AUTO_SUBJECTS)
    refs = mime.ids(f"{headers.get('in-reply-to', '')} {headers.get('references', '')}")
    body = item.get("body") or {}
    text = str(body.get("content", ""))
    return InboundMail(
        id=item["id"], message_id=item.get("internetMessageId", ""), sender=sender, subject=subject,
        text=text if body.get("contentType", "text").lower() == "text" else html2text.html2text(text),
        html=text if body.get("contentType", "").lower() == "html" else "",
        received_at=datetime.fromisoformat(item["receivedDateTime"].replace("Z", "+00:00")),
        in_reply_to=tuple(refs), conversation=item.get("conversationId", ""), bounce=bounce, auto=auto and not bounce,
    )  # fmt: skip
