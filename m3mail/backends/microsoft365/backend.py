"""The backend contract over Microsoft Graph: each operation a step of Graph requests (transport.py).

Calls are events with a transactionId and the follow-up key as an extended property, read back by the id they
had when booked; emails a draft carrying the key, its id noted, then sent; filings read, non-draft messages in
client folders created once. Resuming after a crash looks for what carries the key before writing, and so does
a step whose write Graph may have carried out without its answer coming back (504, a dropped connection). The
writes of a run go to ``GraphClient.drive`` together, so that they travel in $batch requests. Graph errors
become BackendError with the mailbox, the HTTP status and Graph's error code; throttling (429), 503, 504 and
dropped connections are ``retryable``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import quote
from zoneinfo import ZoneInfo

from m3mail.backends.base import Backend, Folder, Progress, Sending
from m3mail.backends.microsoft365.connection import GraphAccess
from m3mail.backends.microsoft365.shapes import (
    BUSY_FIELDS,
    EVENT_FIELDS,
    EXPAND_KEY,
    KEY_PROPERTY,
    Unreadable,
    availability_of,
    event_of,
    handed_over,
    inbound,
    key_of,
    local,
    may_need_parts,
    message,
    odata_quote,
    sent_of,
    utc,
)
from m3mail.backends.microsoft365.transport import GraphClient, Request, Step, one
from m3mail.backends.microsoft365.zones import UnknownZone
from m3mail.errors import BackendError, Pending
from m3mail.models import Availability, CalendarEvent, CallSpec, InboundMail, MailSpec, SentMail

__all__ = ["KEY_PROPERTY", "Microsoft365Backend", "Request"]
T = TypeVar("T")


class Microsoft365Backend(Backend):
    name = "microsoft365"
    thread_safe = True

    def __init__(self, access: GraphAccess, timezone: str = "Europe/Paris", *, per_mailbox: int = 4,
                 batching: bool = True, sleep: Callable[[float], None] = time.sleep,
                 max_wait: float = 120.0):  # fmt: skip
        """``per_mailbox``: requests in flight at once per mailbox; ``batching``: several writes in $batch
        requests; ``sleep`` waits between retries (tests inject one); ``max_wait`` bounds the waiting per
        request."""
        self.access = access
        self.graph = GraphClient(access, per_mailbox=per_mailbox, batching=batching, sleep=sleep, max_wait=max_wait)
        self.tz = ZoneInfo(timezone)
        self._folders: dict[tuple[str, Folder], str] = {}
        self._availability: dict[str, Availability] = {}

    @property
    def con(self) -> Any:
        return self.graph.con

    @property
    def sleep(self) -> Callable[[float], None]:
        return self.graph.sleep

    @sleep.setter
    def sleep(self, value: Callable[[float], None]) -> None:
        self.graph.sleep = value

    @property
    def max_wait(self) -> float:
        return self.graph.max_wait

    @max_wait.setter
    def max_wait(self, value: float) -> None:
        self.graph.max_wait = value

    def usage(self) -> dict[str, int]:
        return self.graph.usage()

    def close(self) -> None:
        self.graph.close()

    # --- calendars ---------------------------------------------------------------------------------------

    def events(self, adviser: str, start: datetime, end: datetime) -> list[CalendarEvent]:
        params = {"startDateTime": utc(start), "endDateTime": utc(end), "$select": BUSY_FIELDS,
                  "$expand": EXPAND_KEY, "$top": "100"}  # fmt: skip
        items = self.graph.run(adviser, self._pages("read calendar", self.url(adviser, "/calendarView"), params))
        return sorted((_read(adviser, "read calendar", event_of, e) for e in items), key=lambda e: e.start)

    def calls(self, adviser: str, keys: Collection[str],
              ids: Mapping[str, str] | None = None) -> dict[str, CalendarEvent]:  # fmt: skip
        """Each call read by the id it had when booked (immutable ids survive a move, shared/graph README), in
        $batch requests; a call with no known id, or whose id is gone, looked for by its key. The requests grow
        with the open calls, never with the years of events in the calendar."""
        wanted = list(dict.fromkeys(keys))
        known = ids or {}
        results = self.graph.drive(adviser, [self._call(adviser, key, known.get(key, "")) for key in wanted])
        found: dict[str, CalendarEvent] = {}
        for key, result in zip(wanted, results, strict=True):
            if isinstance(result, BackendError):
                raise result
            if result is not None:
                found[key] = result
        return found

    def _call(self, adviser: str, key: str, event_id: str) -> Step[CalendarEvent | None]:
        params = {"$select": EVENT_FIELDS, "$expand": EXPAND_KEY}
        if event_id:
            try:
                item = yield Request("read call", "get", self.url(adviser, f"/events/{event_id}"), params)
                return _read(adviser, "read call", event_of, item)
            except BackendError as e:
                if e.status != 404:  # 404: deleted, or (an id from before) not an immutable one: look by key
                    raise
        found = yield from self._pages("find call", self.url(adviser, "/events"), {"$filter": _with_key(key), **params})
        return _read(adviser, "find call", event_of, found[0]) if found else None

    def create_call(self, adviser: str, call: CallSpec, *, resume: bool = False) -> CalendarEvent:
        return self.graph.run(adviser, self._create_call(adviser, call, resume))

    def create_calls(self, adviser: str, calls: Sequence[tuple[CallSpec, bool]]) -> list[CalendarEvent | BackendError]:
        return self.graph.drive(adviser, [self._create_call(adviser, call, resume) for call, resume in calls])

    def _create_call(self, adviser: str, call: CallSpec, resume: bool) -> Step[CalendarEvent]:
        """One POST. Graph makes no second event for the same transactionId (a retried create); resuming, the
        event is looked for by its key first all the same, as Microsoft does not say for how long it
        remembers a transactionId."""
        if resume:
            params = {"$filter": _with_key(call.key), "$select": EVENT_FIELDS, "$expand": EXPAND_KEY}
            if found := (yield from self._pages("find call", self.url(adviser, "/events"), params)):
                return _read(adviser, "find call", event_of, found[0])
        body = {
            "subject": call.subject, "transactionId": call.key, "showAs": "busy",
            "body": {"contentType": "html", "content": call.body_html or call.body_text},
            "start": local(call.start, self.tz), "end": local(call.end, self.tz),
            "categories": list(call.categories), "isReminderOn": True,
            "reminderMinutesBeforeStart": call.reminder_minutes,
            "singleValueExtendedProperties": [{"id": KEY_PROPERTY, "value": call.key}],
        }  # fmt: skip
        made = yield Request("create call", "post", self.url(adviser, "/events"), body=body, repeatable=True)
        keyed = {**made, "singleValueExtendedProperties": [{"id": KEY_PROPERTY, "value": call.key}]}
        keyed.pop("body", None)  # the brief just written: no notes yet, and no HTML to make text of
        return _read(adviser, "create call", event_of, keyed)

    def ensure_categories(self, adviser: str, colours: Mapping[str, str]) -> None:
        """The list read, then the missing categories created together (in $batch requests)."""
        url = self.url(adviser, "/outlook/masterCategories")
        existing = {c["displayName"].lower() for c in self.graph.run(adviser, self._pages("read categories", url, {}))}
        missing = [(name, colour) for name, colour in colours.items() if name.lower() not in existing]
        for result in self.graph.drive(adviser, [self._category(url, name, colour) for name, colour in missing]):
            if isinstance(result, BackendError):
                raise result

    def _category(self, url: str, name: str, colour: str) -> Step[None]:
        try:
            yield Request("create category", "post", url, body={"displayName": name, "color": colour},
                          repeatable=True)  # fmt: skip
        except BackendError as e:
            # Microsoft documents no status or code for a name that exists (outlookuser-post-mastercategories):
            # after any failed create, the list read again says whether it is there (made meanwhile)
            again = {c["displayName"].lower() for c in (yield from self._pages("read categories", url, {}))}
            if name.lower() not in again:
                raise e from None

    def availability(self, adviser: str) -> Availability:
        """Automatic replies and working hours from mailboxSettings: one read per adviser and run."""
        if adviser.lower() not in self._availability:
            params = {"$select": "automaticRepliesSetting,workingHours"}
            settings = self.graph.run(adviser, one(Request("read mailbox settings", "get",
                                                       self.url(adviser, "/mailboxSettings"), params)))  # fmt: skip
            self._availability[adviser.lower()] = availability_of(settings)
        return self._availability[adviser.lower()]

    # --- mail ---------------------------------------------------------------------------------------------

    def send(self, adviser: str, mail: MailSpec, *, resume: bool = False, progress: Progress | None = None) -> SentMail:
        return self.graph.run(adviser, self._send(adviser, mail, resume, progress))

    def send_many(self, adviser: str, mails: Sequence[Sending]) -> list[SentMail | BackendError]:
        return self.graph.drive(adviser, [self._send(adviser, mail, resume, notes) for mail, resume, notes in mails])

    def _send(self, adviser: str, mail: MailSpec, resume: bool, progress: Progress | None) -> Step[SentMail]:
        """A draft carrying the key, its id noted, then sent. Exchange makes the Sent Items copy only once the
        message has really gone, "which might take time" (message-send), under the draft's immutable id, which
        answers 404 meanwhile (outlook-immutable-id): so a resume reads the noted id. Still a draft: it is sent.
        A sent item: done. Nowhere: Exchange took it (a draft that left Drafts was accepted): Pending, never sent
        again, and recorded once the copy appears."""
        noted, asked = _noted(progress)
        draft = None
        if noted:
            draft = yield from self._message(adviser, noted)
            if draft is None:
                raise _not_yet(adviser, asked)
            if not draft.get("isDraft", True):
                return sent_of(draft)
        elif resume:  # no draft noted: the send was never asked for; a draft may have been made
            drafts = yield from self._by_key(adviser, "drafts", mail.key)
            draft = drafts[0] if drafts else None
            if draft is None and (sent := (yield from self._by_key(adviser, "sentitems", mail.key))):
                return sent_of(sent[0])  # sent by a version that noted nothing
        if draft is None:
            draft = yield from self._write_once(adviser, "drafts", mail.key, Request(
                "create draft", "post", self.url(adviser, "/messages"), body=message(mail, flags=None)))  # fmt: skip
        if progress is not None:  # from here on, a resume knows the send may have been asked for, and when
            progress.note(f"{draft['id']} {datetime.now(UTC).isoformat(timespec='seconds')}")
        try:
            yield Request("send", "post", self.url(adviser, f"/messages/{draft['id']}/send"))
        except BackendError as e:
            if not e.maybe_done:
                raise
            now = yield from self._message(adviser, draft["id"])  # a 504 or a lost answer: was it taken?
            if now is None:
                raise _not_yet(adviser, None) from None
            if not now.get("isDraft", True):
                return sent_of(now)
            yield Request("send", "post", self.url(adviser, f"/messages/{draft['id']}/send"))  # still a draft
        return handed_over(draft)

    def _message(self, mailbox: str, message_id: str) -> Step[dict[str, Any] | None]:
        """A message by its (immutable) id, or None when Graph answers 404."""
        params = {"$select": "id,isDraft,internetMessageId,conversationId,sentDateTime,parentFolderId"}
        try:
            item: dict[str, Any] = yield Request("read message", "get", self.url(mailbox, f"/messages/{message_id}"),
                                                 params)  # fmt: skip
            return item
        except BackendError as e:
            if e.status == 404:
                return None
            raise

    def _write_once(self, mailbox: str, folder: str, key: str, request: Request) -> Step[dict[str, Any]]:
        """A write Graph does not de-duplicate (a draft, a filed message, a note): when its answer is lost (a
        504, a dropped connection: it may have been carried out), what carries its key is looked for before it
        is written again (shared/graph README, "504 / dropped connection")."""
        try:
            made: dict[str, Any] = yield request
            return made
        except BackendError as e:
            if not e.maybe_done:
                raise
        if found := (yield from self._by_key(mailbox, folder, key)):
            return found[0]
        again: dict[str, Any] = yield request
        return again

    def find_sent(self, adviser: str, key: str) -> SentMail | None:
        found = self.graph.run(adviser, self._by_key(adviser, "sentitems", key))
        return _read(adviser, "find sent message", sent_of, found[0]) if found else None

    def inbox(self, adviser: str, since: datetime) -> list[InboundMail]:
        """The Inbox since ``since``, each message translated (shapes.view_of) and classified by the classifier
        the local backend uses too. A report's attachments (its fields, the returned message) are read with it,
        those of several together; a message Graph answers without its id or time is UNREADABLE."""
        params = {"$filter": f"receivedDateTime ge {utc(since)}", "$expand": EXPAND_KEY, "$top": "100",
                  "$select": "id,internetMessageId,conversationId,subject,from,body,receivedDateTime,"
                             "internetMessageHeaders,hasAttachments"}  # fmt: skip
        url = self.url(adviser, "/mailFolders/inbox/messages")
        items = self.graph.run(adviser, self._pages("read inbox", url, params))
        received = [item for item in items if not key_of(item)]  # m3mail's own notes are not replies
        reports = [item for item in received if may_need_parts(item)]
        parts = self.graph.drive(adviser, [self._attachments(adviser, str(item["id"])) for item in reports])
        found = {str(item["id"]): p for item, p in zip(reports, parts, strict=True) if not isinstance(p, BackendError)}
        return [inbound(item, found.get(str(item.get("id")))) for item in received]

    def _attachments(self, mailbox: str, message_id: str) -> Step[list[dict[str, Any]]]:
        """A report's attachments (message-list-attachments.md: file attachments with their contentBytes); an
        attached message (the one returned) read with its item, whose Message-ID says which email it was
        (attachment-get.md: ``$expand=microsoft.graph.itemattachment/item``)."""
        url = self.url(mailbox, f"/messages/{message_id}/attachments")
        found = yield from self._pages("read attachments", url, {})
        for n, attachment in enumerate(found):
            if "itemattachment" in str(attachment.get("@odata.type", "")).lower() and attachment.get("id"):
                params = {"$expand": "microsoft.graph.itemattachment/item"}
                found[n] = yield Request("read attachment", "get", f"{url}/{attachment['id']}", params)
        return found

    def file(self, mailbox: str, folder: Folder, mail: MailSpec, *, resume: bool = False) -> str:
        return self.graph.run(mailbox, self._file(mailbox, folder, mail, resume))

    def file_many(self, mailbox: str, items: Sequence[tuple[Folder, MailSpec, bool]]) -> list[str | BackendError]:
        """The parents of the client folders first (their root, once per run), then the client folders and the
        messages, together."""
        try:
            for parent in dict.fromkeys(folder[:-1] for folder, _mail, _resume in items):
                self.folder(mailbox, parent)
        except BackendError as e:
            return [e] * len(items)
        return self.graph.drive(mailbox, [self._file(mailbox, folder, mail, resume) for folder, mail, resume in items])

    def _file(self, mailbox: str, folder: Folder, mail: MailSpec, resume: bool) -> Step[str]:
        """A read, non-draft message in the folder (created once)."""
        folder_id = yield from self._folder_step(mailbox, folder)
        if resume and (found := (yield from self._by_key(mailbox, folder_id, mail.key))):
            return str(found[0]["id"])
        url = self.url(mailbox, f"/mailFolders/{folder_id}/messages")
        filed = Request("file message", "post", url, body=message(mail, flags=1))
        made = yield from self._write_once(mailbox, folder_id, mail.key, filed)
        return str(made["id"])

    def notify(self, adviser: str, mail: MailSpec, *, resume: bool = False) -> str:
        return self.graph.run(adviser, self._notify(adviser, mail, resume))

    def _notify(self, adviser: str, mail: MailSpec, resume: bool) -> Step[str]:
        """An unread message in the adviser's Inbox (not a draft: its flags say received, unread)."""
        if resume and (found := (yield from self._by_key(adviser, "inbox", mail.key))):
            return str(found[0]["id"])
        url = self.url(adviser, "/mailFolders/inbox/messages")
        note = Request("notify", "post", url, body=message(mail, flags=0))
        made = yield from self._write_once(adviser, "inbox", mail.key, note)
        return str(made["id"])

    def _by_key(self, mailbox: str, folder: str, key: str) -> Step[list[dict[str, Any]]]:
        params = {"$filter": _with_key(key), "$select": "id,internetMessageId,conversationId,sentDateTime",
                  "$top": "10"}  # fmt: skip
        return (yield from self._pages("find message", self.url(mailbox, f"/mailFolders/{folder}/messages"), params))

    def folder(self, mailbox: str, path: Folder) -> str:
        """The id of a folder path under the mailbox's root, created when missing."""
        return self.graph.run(mailbox, self._folder_step(mailbox, path)) if path else "msgfolderroot"

    def _folder_step(self, mailbox: str, path: Folder) -> Step[str]:
        """The id of a folder path under the mailbox's root, creating what is missing; cached per backend
        (folder ids never change)."""
        parent = "msgfolderroot"
        for depth in range(1, len(path) + 1):
            cached = self._folders.get((mailbox.lower(), path[:depth]))
            if cached is None:
                cached = yield from self._child_folder(mailbox, parent, path[depth - 1])
                self._folders[(mailbox.lower(), path[:depth])] = cached
            parent = cached
        return parent

    def _child_folder(self, mailbox: str, parent: str, name: str) -> Step[str]:
        url = self.url(mailbox, f"/mailFolders/{parent}/childFolders")
        params = {"$filter": f"displayName eq '{odata_quote(name)}'"}
        if found := (yield from self._pages("find folder", url, params)):
            return str(found[0]["id"])
        try:
            made = yield Request("create folder", "post", url, body={"displayName": name}, repeatable=True)
            return str(made["id"])
        except BackendError as e:
            if e.code != "ErrorFolderExists":  # made meanwhile: the folder is there, as wanted
                raise
        return str((yield from self._pages("find folder", url, params))[0]["id"])

    def _pages(self, operation: str, url: str, params: Mapping[str, str]) -> Step[list[dict[str, Any]]]:
        """Every item of a collection, following @odata.nextLink verbatim until it is absent."""
        page = yield Request(operation, "get", url, params)
        items = list(page.get("value", []))
        while link := page.get("@odata.nextLink"):
            page = yield Request(operation, "get", link)
            items += page.get("value", [])
        return items

    def url(self, mailbox: str, path: str) -> str:
        return f"{self.graph.base}/users/{quote(mailbox, safe='@')}{path}"

    def call(self, mailbox: str, request: Request) -> dict[str, Any]:
        """One request, as the backend makes them (retries, limits, counts): for what the contract does not
        cover (``m3mail doctor``)."""
        return self.graph.run(mailbox, one(request))


SENT_COPY_WAIT = timedelta(hours=24)  # Exchange sends within minutes; a copy still missing after this is lost


def _noted(progress: Progress | None) -> tuple[str, datetime | None]:
    """The draft id a try of the send noted, and when it asked for the send ("" and None: nothing noted)."""
    words = (progress.noted if progress is not None else "").split()
    try:
        asked = datetime.fromisoformat(words[1]) if len(words) > 1 else None
    except ValueError:
        asked = None
    return (words[0] if words else ""), asked


def _not_yet(adviser: str, asked: datetime | None) -> BackendError:
    """A send Exchange took whose copy is not in Sent Items: Pending, for a day; then an error to look into, as
    the copy will not come (deleted before it was read back): the email is never sent again all the same."""
    if asked is not None and datetime.now(UTC) - asked > SENT_COPY_WAIT:
        return BackendError(adviser, "send", f"Exchange took the email at {asked.isoformat()}, and its copy never "
                            "reached Sent Items: it is not sent again; look for it in the adviser's mailbox",
                            code="SentCopyMissing")  # fmt: skip
    return Pending(adviser, "send", "handed to Exchange; its copy is not in Sent Items yet")


def _read(mailbox: str, operation: str, parse: Callable[[dict[str, Any]], T], item: dict[str, Any]) -> T:
    """What Graph answered, read; a time zone no table maps, or an item without what m3mail needs, is the
    mailbox's error, named (never a traceback)."""
    try:
        return parse(item)
    except UnknownZone as e:
        raise BackendError(mailbox, operation, f"Graph answered in {e}", code="UnknownTimeZone") from None
    except Unreadable as e:
        raise BackendError(mailbox, operation, f"Graph answered {e}", code="UnreadableAnswer") from None


def _with_key(key: str) -> str:
    """The OData filter for the items carrying m3mail's ``key`` (shared/graph README: "extended prop query")."""
    return f"singleValueExtendedProperties/Any(ep: ep/id eq '{KEY_PROPERTY}' and ep/value eq '{odata_quote(key)}')"
