"""The backend contract over Microsoft Graph.

Every request goes through O365's authenticated connection (``account.con``, one per thread): where O365 has
no call of its own (extended properties, master categories, $batch), its raw ``get``/``post`` keep one HTTP
stack and one token. Graph errors become BackendError with the mailbox, the HTTP status and Graph's error code;
throttling (429), 503, 504 and dropped connections are ``retryable``.

Each operation is written once, as a *step*: a generator that yields the Graph requests it needs one after the
other and receives their answers (or has their error thrown in). ``_drive`` runs one step with plain requests,
or several (the writes of a run, by kind and mailbox) in lockstep, their requests of each round sent together
in JSON ``$batch`` requests. Never more than ``per_mailbox`` requests are in flight at once for one mailbox,
whatever the threads: a batch takes as many slots as it runs requests at once (``dependsOn`` chains them).
"""

from __future__ import annotations

import base64
import threading
import time
from collections import Counter
from collections.abc import Callable, Collection, Generator, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from datetime import time as clock_time
from typing import Any, TypeVar
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import html2text
import requests
from O365.utils.windows_tz import get_iana_tz
from tenacity import RetryCallState, Retrying

from m3mail.backends import mime
from m3mail.backends.base import Backend, Folder
from m3mail.backends.microsoft365.connection import GraphAccess, graph_account
from m3mail.errors import BackendError, MailboxUnavailable
from m3mail.models import Availability, CalendarEvent, CallSpec, InboundMail, MailSpec, SentMail

# The follow-up call key on m3mail's events: a single-value extended property, so that an event is found
# again by its key wherever the adviser moved it (shared/graph README: "extended prop id", "query").
KEY_PROPERTY = "String {5c9b6a38-3f0e-4d8b-9d43-0f7c2c8e5a11} Name m3mailKey"
_EXPAND = f"singleValueExtendedProperties($filter=id eq '{KEY_PROPERTY}')"
_EVENT_FIELDS = "subject,start,end,showAs,isCancelled,categories,body"
_PREFER = 'IdType="ImmutableId", outlook.timezone="UTC", outlook.body-content-type="text"'
RETRYABLE = {429, 503, 504}
BATCH_SIZE = 20  # Graph's $batch takes at most 20 requests
T = TypeVar("T")


@dataclass(frozen=True)
class Request:
    """One Graph request of a step. ``repeatable``: sending it twice does no harm (GETs, what Graph
    de-duplicates); None means "a GET"."""

    operation: str  # what it is for, in error messages ("create call", "find folder"...)
    method: str
    url: str  # absolute: the base's, or an @odata.nextLink
    params: Mapping[str, str] | None = None
    body: Mapping[str, Any] | None = None
    repeatable: bool | None = None

    @property
    def safe_to_repeat(self) -> bool:
        return self.method == "get" if self.repeatable is None else self.repeatable


Step = Generator[Request, Any, T]


class _Slots:
    """At most ``limit`` requests in flight per mailbox, across threads (Exchange: 4 per app and mailbox)."""

    def __init__(self, limit: int):
        self.limit = limit
        self.used: Counter[str] = Counter()
        self.peak: Counter[str] = Counter()
        self._cond = threading.Condition()

    @contextmanager
    def hold(self, mailbox: str, n: int = 1) -> Iterator[None]:
        key, n = mailbox.lower(), min(n, self.limit)
        with self._cond:
            self._cond.wait_for(lambda: self.used[key] + n <= self.limit)
            self.used[key] += n
            self.peak[key] = max(self.peak[key], self.used[key])
        try:
            yield
        finally:
            with self._cond:
                self.used[key] -= n
                self._cond.notify_all()


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
        self.sleep, self.max_wait, self.batching = sleep, max_wait, batching
        self.tz = ZoneInfo(timezone)
        self.base = f"{access.graph_url.rstrip('/')}/v1.0"
        self.slots = _Slots(per_mailbox)
        self._folders: dict[tuple[str, Folder], str] = {}
        self._availability: dict[str, Availability] = {}
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[Any] = []
        self._msal: Any = None
        self._counts: Counter[str] = Counter()

    @property
    def con(self) -> Any:
        """This thread's O365 connection (requests sessions are not shared across threads); one msal
        application, hence one token, for all."""
        con = getattr(self._local, "con", None)
        if con is None:
            con = graph_account(self.access).con
            with self._lock:
                if self._msal is None:
                    self._msal = con.msal_client
                con._msal_client = self._msal
                self._connections.append(con)
            self._local.con = con
        return con

    def usage(self) -> dict[str, int]:
        """HTTP requests made to Graph, the operations they carried (a $batch carries several), and how many
        $batch requests."""
        with self._lock:
            return dict(self._counts)

    def close(self) -> None:
        for con in self._connections:
            if con.session is not None:
                con.session.close()

    # --- calendars ---------------------------------------------------------------------------------------

    def events(self, adviser: str, start: datetime, end: datetime) -> list[CalendarEvent]:
        params = {"startDateTime": _utc(start), "endDateTime": _utc(end), "$select": _EVENT_FIELDS,
                  "$expand": _EXPAND, "$top": "100"}  # fmt: skip
        items = self._run(adviser, self._pages("read calendar", self.url(adviser, "/calendarView"), params))
        return sorted((self._event(e) for e in items), key=lambda e: e.start)

    def calls(self, adviser: str, keys: Collection[str]) -> dict[str, CalendarEvent]:
        """One paged query for all of m3mail's events of the adviser, whatever the number of keys."""
        wanted = set(keys)
        if not wanted:
            return {}
        flt = f"singleValueExtendedProperties/Any(ep: ep/id eq '{KEY_PROPERTY}' and ep/value ne '')"
        params = {"$filter": flt, "$select": _EVENT_FIELDS, "$expand": _EXPAND, "$top": "100"}
        items = self._run(adviser, self._pages("read calls", self.url(adviser, "/events"), params))
        found = (self._event(e) for e in items)
        return {e.key: e for e in found if e.key in wanted}

    def create_call(self, adviser: str, call: CallSpec, *, resume: bool = False) -> CalendarEvent:
        return self._run(adviser, self._create_call(adviser, call))

    def create_calls(self, adviser: str, calls: Sequence[tuple[CallSpec, bool]]) -> list[CalendarEvent | BackendError]:
        return self._drive(adviser, [self._create_call(adviser, call) for call, _resume in calls])

    def _create_call(self, adviser: str, call: CallSpec) -> Step[CalendarEvent]:
        """One POST: Graph makes no second event for the same transactionId (a retried create), so that
        resuming needs no look-up either."""
        body = {
            "subject": call.subject, "transactionId": call.key, "showAs": "busy",
            "body": {"contentType": "html", "content": call.body_html or call.body_text},
            "start": _local(call.start, self.tz), "end": _local(call.end, self.tz),
            "categories": list(call.categories), "isReminderOn": True,
            "reminderMinutesBeforeStart": call.reminder_minutes,
            "singleValueExtendedProperties": [{"id": KEY_PROPERTY, "value": call.key}],
        }  # fmt: skip
        made = yield Request("create call", "post", self.url(adviser, "/events"), body=body, repeatable=True)
        return self._event({**made, "singleValueExtendedProperties": [{"id": KEY_PROPERTY, "value": call.key}]})

    def ensure_categories(self, adviser: str, colours: Mapping[str, str]) -> None:
        self._run(adviser, self._ensure_categories(adviser, colours))

    def _ensure_categories(self, adviser: str, colours: Mapping[str, str]) -> Step[None]:
        url = self.url(adviser, "/outlook/masterCategories")
        existing = {c["displayName"].lower() for c in (yield from self._pages("read categories", url, {}))}
        for name, colour in colours.items():
            if name.lower() in existing:
                continue
            try:
                yield Request("create category", "post", url, body={"displayName": name, "color": colour},
                              repeatable=True)  # fmt: skip
            except BackendError as e:
                if e.status != 409:  # created meanwhile, by a run or a person: it exists, as wanted
                    raise

    def availability(self, adviser: str) -> Availability:
        """Automatic replies and working hours from mailboxSettings: one read per adviser and run."""
        if adviser.lower() not in self._availability:
            params = {"$select": "automaticRepliesSetting,workingHours"}
            settings = self._run(adviser, _one(Request("read mailbox settings", "get",
                                                       self.url(adviser, "/mailboxSettings"), params)))  # fmt: skip
            self._availability[adviser.lower()] = _availability(settings)
        return self._availability[adviser.lower()]

    # --- mail ---------------------------------------------------------------------------------------------

    def send(self, adviser: str, mail: MailSpec, *, resume: bool = False) -> SentMail:
        return self._run(adviser, self._send(adviser, mail, resume))

    def send_many(self, adviser: str, mails: Sequence[tuple[MailSpec, bool]]) -> list[SentMail | BackendError]:
        return self._drive(adviser, [self._send(adviser, mail, resume) for mail, resume in mails])

    def _send(self, adviser: str, mail: MailSpec, resume: bool) -> Step[SentMail]:
        """A draft carrying the key, then sent: two requests. Resuming, the sent item or the draft is looked
        for first, so that a crash between the two never sends twice nor loses the email."""
        draft = None
        if resume:
            if sent := (yield from self._by_key(adviser, "sentitems", mail.key)):
                return _sent(sent[0])
            drafts = yield from self._by_key(adviser, "drafts", mail.key)
            draft = drafts[0] if drafts else None
        if draft is None:
            draft = yield Request("create draft", "post", self.url(adviser, "/messages"),
                                  body=_message(mail, flags=None))  # fmt: skip
        yield Request("send", "post", self.url(adviser, f"/messages/{draft['id']}/send"))
        return SentMail(draft["id"], draft.get("internetMessageId", ""), None, draft.get("conversationId", ""))

    def find_sent(self, adviser: str, key: str) -> SentMail | None:
        found = self._run(adviser, self._by_key(adviser, "sentitems", key))
        return _sent(found[0]) if found else None

    def inbox(self, adviser: str, since: datetime) -> list[InboundMail]:
        params = {"$filter": f"receivedDateTime ge {_utc(since)}", "$expand": _EXPAND, "$top": "100",
                  "$select": "id,internetMessageId,conversationId,subject,from,body,receivedDateTime,"
                             "internetMessageHeaders"}  # fmt: skip
        url = self.url(adviser, "/mailFolders/inbox/messages")
        items = self._run(adviser, self._pages("read inbox", url, params))
        return [_inbound(item) for item in items if not _key_of(item)]  # m3mail's own notes are not replies

    def file(self, mailbox: str, folder: Folder, mail: MailSpec, *, resume: bool = False) -> str:
        return self._run(mailbox, self._file(mailbox, folder, mail, resume))

    def file_many(self, mailbox: str, items: Sequence[tuple[Folder, MailSpec, bool]]) -> list[str | BackendError]:
        """The parents of the client folders first (their root, once per run), then the client folders and the
        messages, together."""
        try:
            for parent in dict.fromkeys(folder[:-1] for folder, _mail, _resume in items):
                self.folder(mailbox, parent)
        except BackendError as e:
            return [e] * len(items)
        return self._drive(mailbox, [self._file(mailbox, folder, mail, resume) for folder, mail, resume in items])

    def _file(self, mailbox: str, folder: Folder, mail: MailSpec, resume: bool) -> Step[str]:
        """A read, non-draft message in the folder (created once)."""
        folder_id = yield from self._folder_step(mailbox, folder)
        if resume and (found := (yield from self._by_key(mailbox, folder_id, mail.key))):
            return found[0]["id"]
        url = self.url(mailbox, f"/mailFolders/{folder_id}/messages")
        return (yield Request("file message", "post", url, body=_message(mail, flags=1)))["id"]

    def notify(self, adviser: str, mail: MailSpec, *, resume: bool = False) -> str:
        return self._run(adviser, self._notify(adviser, mail, resume))

    def _notify(self, adviser: str, mail: MailSpec, resume: bool) -> Step[str]:
        """An unread message in the adviser's Inbox (not a draft: its flags say received, unread)."""
        if resume and (found := (yield from self._by_key(adviser, "inbox", mail.key))):
            return found[0]["id"]
        url = self.url(adviser, "/mailFolders/inbox/messages")
        return (yield Request("notify", "post", url, body=_message(mail, flags=0)))["id"]

    def _by_key(self, mailbox: str, folder: str, key: str) -> Step[list[dict[str, Any]]]:
        flt = f"singleValueExtendedProperties/Any(ep: ep/id eq '{KEY_PROPERTY}' and ep/value eq '{_quote(key)}')"
        params = {"$filter": flt, "$select": "id,internetMessageId,conversationId,sentDateTime", "$top": "10"}
        return (yield from self._pages("find message", self.url(mailbox, f"/mailFolders/{folder}/messages"), params))

    def folder(self, mailbox: str, path: Folder) -> str:
        """The id of a folder path under the mailbox's root, created when missing."""
        return self._run(mailbox, self._folder_step(mailbox, path)) if path else "msgfolderroot"

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
        params = {"$filter": f"displayName eq '{_quote(name)}'"}
        if found := (yield from self._pages("find folder", url, params)):
            return found[0]["id"]
        try:
            return (yield Request("create folder", "post", url, body={"displayName": name}, repeatable=True))["id"]
        except BackendError as e:
            if e.code != "ErrorFolderExists":  # made meanwhile: the folder is there, as wanted
                raise
        return (yield from self._pages("find folder", url, params))[0]["id"]

    def _pages(self, operation: str, url: str, params: Mapping[str, str]) -> Step[list[dict[str, Any]]]:
        """Every item of a collection, following @odata.nextLink verbatim until it is absent."""
        page = yield Request(operation, "get", url, params)
        items = list(page.get("value", []))
        while link := page.get("@odata.nextLink"):
            page = yield Request(operation, "get", link)
            items += page.get("value", [])
        return items

    def url(self, mailbox: str, path: str) -> str:
        return f"{self.base}/users/{quote(mailbox, safe='@')}{path}"

    def call(self, mailbox: str, request: Request) -> dict[str, Any]:
        """One request, as the backend makes them (retries, limits, counts): for what the contract does not
        cover (``m3mail doctor``)."""
        return self._run(mailbox, _one(request))

    # --- driving steps: plain requests, or $batch ----------------------------------------------------------

    def _run(self, mailbox: str, step: Step[T]) -> T:
        result = self._drive(mailbox, [step])[0]
        if isinstance(result, BackendError):
            raise result
        return result

    def _drive(self, mailbox: str, steps: list[Step[T]]) -> list[T | BackendError]:
        """Run the steps in lockstep: each round, the requests they wait on go together (in $batch requests
        of up to 20 when there are several); each step gets its answer or its error."""
        results: list[Any] = [None] * len(steps)
        waiting: dict[int, Request] = {}

        def advance(i: int, answer: Any = None, error: BackendError | None = None) -> None:
            try:
                waiting[i] = steps[i].throw(error) if error is not None else steps[i].send(answer)
            except StopIteration as done:
                results[i] = done.value
            except BackendError as e:
                results[i] = e

        for i in range(len(steps)):
            advance(i)
        while waiting:
            round_, batch = list(waiting.items()), self.batching and len(waiting) > 1
            waiting.clear()
            chunks = [round_[n:n + BATCH_SIZE] for n in range(0, len(round_), BATCH_SIZE)] if batch else [round_]
            for chunk in chunks:
                answers = self._batch(mailbox, chunk) if batch and len(chunk) > 1 else self._each(mailbox, chunk)
                for i, answer in answers.items():
                    advance(i, error=answer) if isinstance(answer, BackendError) else advance(i, answer)
        return results

    def _each(self, mailbox: str, chunk: list[tuple[int, Request]]) -> dict[int, Any]:
        answers: dict[int, Any] = {}
        for i, request in chunk:
            try:
                answers[i] = self._request(mailbox, request)
            except BackendError as e:
                answers[i] = e
        return answers

    def _batch(self, mailbox: str, chunk: list[tuple[int, Request]]) -> dict[int, Any]:
        """One $batch request for the chunk, in at most ``per_mailbox`` dependsOn chains (Exchange runs the
        others of a mailbox at once and throttles past 4). What comes back throttled (429), not run
        (424) or unavailable (503, 504) goes again in a smaller batch, after the wait Graph asks for."""
        answers: dict[int, Any] = {}
        pending = dict(chunk)
        slept, attempt = 0.0, 0
        while pending:
            lanes = min(self.slots.limit, len(pending))
            items = list(pending.items())
            envelope = {"requests": [self._sub_request(i, request, items[k - lanes][0] if k >= lanes else None)
                                     for k, (i, request) in enumerate(items)]}  # fmt: skip
            batch = Request("batch", "post", f"{self.base}/$batch", body=envelope,
                            repeatable=all(r.safe_to_repeat for _i, r in items))  # fmt: skip
            try:
                reply = self._request(mailbox, batch, slots=lanes, operations=len(items))
            except BackendError as e:
                return answers | {i: e for i in pending}
            wait = 0.0
            for response in reply.get("responses", []):
                i = int(response.get("id", -1))
                if i not in pending:
                    continue
                status = int(response.get("status", 500))
                if status < 400:
                    answers[i] = response.get("body") or {}
                    del pending[i]
                    continue
                error = _error(mailbox, pending[i].operation, status, response.get("body"),
                               response.get("headers") or {})  # fmt: skip
                if status in (424, *RETRYABLE):
                    answers[i] = error  # kept, in case no more attempt is allowed
                    wait = max(wait, error.retry_after if error.retry_after is not None else 2.0**attempt)
                else:
                    answers[i] = error
                    del pending[i]
            for i in pending:
                answers.setdefault(i, BackendError(mailbox, pending[i].operation, "no answer in the $batch reply",
                                                   retryable=True))  # fmt: skip
            attempt += 1
            if not pending or attempt >= 6 or slept + wait > self.max_wait:
                break
            slept += wait
            self.sleep(wait)
        return answers

    def _sub_request(self, i: int, request: Request, after: int | None) -> dict[str, Any]:
        url = request.url.removeprefix(self.base)
        if request.params:
            url += "?" + urlencode(request.params, quote_via=quote, safe="$'(),:/@")
        sub: dict[str, Any] = {"id": str(i), "method": request.method.upper(), "url": url,
                               "headers": {"Prefer": _PREFER}}  # fmt: skip
        if request.body is not None or request.method in ("post", "patch", "put"):
            sub["body"] = request.body or {}  # Graph refuses a write in a batch without a body (an action's: {})
            sub["headers"]["Content-Type"] = "application/json"
        if after is not None:
            sub["dependsOn"] = [str(after)]
        return sub

    # --- HTTP, through O365's connection -------------------------------------------------------------------

    def _request(self, mailbox: str, request: Request, *, slots: int = 1, operations: int = 1) -> dict[str, Any]:
        """A request, retried on throttling (429, after Retry-After when Graph gives it) and when Graph is
        unavailable (503, 504), and after a dropped connection when repeating it is harmless (GETs, and what
        Graph de-duplicates); the waiting is bounded by ``max_wait``. What is left fails to the executor, whose
        next try resumes (looks before writing)."""
        slept = 0.0

        def retry(state: RetryCallState) -> bool:
            error = state.outcome.exception() if state.outcome else None
            if not isinstance(error, BackendError) or not error.retryable:
                return False
            return error.status is not None or request.safe_to_repeat  # no status: the connection dropped mid-way

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
        return retrying(self._once, mailbox, request, slots, operations)

    def _once(self, mailbox: str, request: Request, slots: int, operations: int) -> dict[str, Any]:
        headers = {"Prefer": 'outlook.timezone="UTC", outlook.body-content-type="text"'}
        kwargs: dict[str, Any] = {"headers": headers}
        if request.params is not None:
            kwargs["params"] = dict(request.params)
        if request.body is not None:
            kwargs["data"] = dict(request.body)
        with self._lock:
            self._counts["requests"] += 1
            self._counts["operations"] += operations
            if request.operation == "batch":
                self._counts["batches"] += 1
                self._counts["batched"] += operations
        try:
            with self.slots.hold(mailbox, slots):
                reply = getattr(self.con, request.method)(request.url, **kwargs)
        except requests.HTTPError as e:
            raise _translated(mailbox, request.operation, e.response) from None
        except (requests.ConnectionError, requests.Timeout) as e:
            raise BackendError(mailbox, request.operation, f"connection failed: {type(e).__name__}",
                               retryable=True) from None  # fmt: skip
        except PermissionError as e:  # no token: the app registration or its secret
            raise MailboxUnavailable(mailbox, request.operation, f"no access token: {e}") from None
        return reply.json() if reply is not None and reply.content else {}

    def _event(self, item: dict[str, Any]) -> CalendarEvent:
        key = _key_of(item)
        body = item.get("body") or {}
        return CalendarEvent(
            id=item["id"], start=_instant(item["start"]), end=_instant(item["end"]), subject=item.get("subject", ""),
            key=key, categories=tuple(item.get("categories") or ()), notes=str(body.get("content", "")),
            free=item.get("showAs") == "free" or bool(item.get("isCancelled")),
        )  # fmt: skip


def _one(request: Request) -> Step[dict[str, Any]]:
    return (yield request)


def _sent(item: dict[str, Any]) -> SentMail:
    sent_at = datetime.fromisoformat(item["sentDateTime"].replace("Z", "+00:00")) if item.get("sentDateTime") else None
    return SentMail(item["id"], item.get("internetMessageId", ""), sent_at, item.get("conversationId", ""))


_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _availability(settings: dict[str, Any]) -> Availability:
    """mailboxSettings' automatic replies and working hours, as the domain reads them."""
    away: tuple[tuple[datetime, datetime | None], ...] = ()
    replies = settings.get("automaticRepliesSetting") or {}
    status = str(replies.get("status", "disabled")).lower()
    if status == "alwaysenabled":
        away = ((datetime(2000, 1, 1, tzinfo=UTC), None),)  # on until the adviser turns it off
    elif status == "scheduled" and replies.get("scheduledStartDateTime") and replies.get("scheduledEndDateTime"):
        away = ((_instant(replies["scheduledStartDateTime"]), _instant(replies["scheduledEndDateTime"])),)
    hours = settings.get("workingHours") or {}
    days = frozenset(_DAYS.index(d.lower()) for d in hours.get("daysOfWeek") or () if d.lower() in _DAYS)
    zone = _zone_name((hours.get("timeZone") or {}).get("name", ""))
    try:
        span = (clock_time.fromisoformat(hours["startTime"][:8]), clock_time.fromisoformat(hours["endTime"][:8]))
    except (KeyError, TypeError, ValueError):
        span = None
    if span is None or not days or zone is None or span[0] >= span[1]:
        return Availability(away=away)
    return Availability(away=away, working_days=days, working_hours=span, timezone=zone)


def _zone_name(name: str) -> str | None:
    """An IANA name for Graph's zone name (IANA or Windows), None when unknown (a custom zone)."""
    try:
        return ZoneInfo(name).key
    except (ZoneInfoNotFoundError, ValueError):
        try:
            return ZoneInfo(str(get_iana_tz(name))).key
        except Exception:  # O365 raises its own error for names it does not know
            return None


def _translated(mailbox: str, operation: str, response: requests.Response | None) -> BackendError:
    if response is None:
        return BackendError(mailbox, operation, "Graph refused the request")
    try:
        body = response.json()
    except ValueError:
        body = None
    return _error(mailbox, operation, response.status_code, body, response.headers)


def _error(mailbox: str, operation: str, status: int, body: Any, headers: Mapping[str, str]) -> BackendError:
    """A Graph error (a reply, or a $batch response) as a BackendError: status, Graph code, Retry-After."""
    error = body.get("error", {}) if isinstance(body, dict) else {}
    code, message = error.get("code", ""), error.get("message", "")
    denied = ("ErrorInvalidUser", "ErrorAccessDenied", "Authorization_RequestDenied")
    kind = MailboxUnavailable if status in (403, 404) and code in denied else BackendError
    after = next((str(v) for k, v in headers.items() if k.lower() == "retry-after"), None)
    return kind(mailbox, operation, message or f"Graph answered {status}", retryable=status in RETRYABLE,
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
