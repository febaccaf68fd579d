"""A Microsoft Graph emulator for the tests: HTTPS on 127.0.0.1, the identity endpoints msal calls, and the
Graph v1.0 endpoints m3mail uses, built after ../shared/graph (the API description and documented behaviours).

Faithful where the backend depends on it: request and response shapes, status codes, error bodies
(``{"error": {"code", "message", "innerError"}}``), OData ``@odata.nextLink`` paging with small pages,
``transactionId`` de-duplication of event creation, extended-property filters, JSON batching (``$batch``, with
``dependsOn``), the per-mailbox concurrency limit (429 ApplicationThrottled), access tokens as JWTs whose
``roles`` decide what each request may do, mailbox scoping, ``Prefer`` preferences echoed in
``Preference-Applied``, mailboxSettings and getSchedule.

What tests use (the state can be inspected and acted on as an adviser or an admin would):
- ``GraphEmulator(tenant=, mailboxes=, page_size=, roles=ALL_ROLES, concurrency_limit=4, client_id=None,
  client_secret=None)``; ``start(port=0, folder=None) -> base URL``, ``stop()``, ``base_url``, ``ca_file``.
- ``mailbox(user) -> Mailbox`` (``events``, ``messages``, ``folders``, ``categories``, ``settings``).
- ``fail(method, path_regex, status=None, retry_after=None, drop=False, times=1, delay=0.0) -> Fault``: a
  status (429 when neither a status, a drop nor a delay is given), a dropped connection, or a late answer.
- ``latency`` (seconds each request stays in flight), ``concurrency_limit`` (None: no limit),
  ``peak_concurrency[user]`` (the most requests seen at once on a mailbox, a refused one included).
- ``roles`` (application permissions, read when a token is issued, as Entra ID does), ``scope`` (None, or the
  set of mailboxes the app may reach), ``client_id`` / ``client_secret`` (None: any), ``tokens``.
- What people do: ``create_event``, ``update_event``, ``delete_event``, ``client_reply``, ``bounce``,
  ``set_out_of_office``, ``clear_out_of_office``, ``set_working_hours``.
- ``token_claims(token)`` (a JWT's payload), ``batch_requests(body)`` (a $batch envelope checked as Graph
  checks it), ``ROUTES`` (each operation and the application permissions that allow it).

Run on its own: ``python tests/graph/emulator.py --port 8443`` prints its base URL and CA file. When the
environment variable M3MAIL_EMULATOR_LOG names a file, one JSON line is appended per request served (a
``$batch`` is one line, its envelope as the body).
"""

from __future__ import annotations

import argparse
import base64
import copy
import html
import itertools
import json
import math
import os
import re
import secrets
import socket
import ssl
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from requests.structures import CaseInsensitiveDict

if __package__ in (None, ""):  # run as a script
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from O365.utils.windows_tz import get_iana_tz  # noqa: E402 - a table of zone names, not O365's client

from tests.graph.tls import make_certificates  # noqa: E402

PAGE_SIZE = 3  # small pages, so that every client follows @odata.nextLink
BATCH_LIMIT = 20  # requests in one $batch (shared/graph README, "$batch")
CONCURRENCY_LIMIT = 4  # requests in flight per app per mailbox (README, "Outlook limits")
ALL_ROLES = frozenset({"Calendars.ReadWrite", "Mail.ReadWrite", "Mail.Send", "MailboxSettings.ReadWrite"})
ACCESS_DENIED = "Access is denied. Check credentials and try again."
JSON_TYPE = "application/json; odata.metadata=minimal; odata.streaming=true; IEEE754Compatible=false; charset=utf-8"
_DAYS = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")
_WORKDAYS = _DAYS[1:6]
_SHOW_AS = ("unknown", "free", "tentative", "busy", "oof", "workingElsewhere")
_BUSY_ORDER = ("oof", "busy", "tentative", "workingElsewhere")  # what an interval shows when events overlap
_BUSY_DIGITS = {"free": "0", "tentative": "1", "busy": "2", "oof": "3", "workingElsewhere": "4"}
_COLOURS = ("none", *(f"preset{n}" for n in range(25)))
_TIME_OF_DAY = re.compile(r"([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{1,12})?")


class GraphError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = dict(headers or {})


class _Dropped(Exception):
    """An injected fault: the connection is reset with no answer."""


def _throttled() -> GraphError:
    # What Exchange answers past 4 concurrent requests; Retry-After 1 means "when a call finishes"
    return GraphError(429, "ApplicationThrottled", "Application is over its MailboxConcurrency limit.",
                      {"Retry-After": "1"})  # fmt: skip


@dataclass
class Mailbox:
    """One user's calendar, mail and settings, as Exchange keeps them."""

    address: str
    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    transactions: dict[str, str] = field(default_factory=dict)  # transactionId -> event id
    categories: dict[str, dict[str, Any]] = field(default_factory=dict)
    folders: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> folder (parentFolderId links)
    messages: dict[str, dict[str, Any]] = field(default_factory=dict)  # immutable id -> message
    settings: dict[str, Any] = field(default_factory=lambda: _default_settings())  # mailboxSettings

    def __post_init__(self) -> None:
        root = {"id": "msgfolderroot-" + uuid.uuid4().hex[:8], "displayName": "Top of Information Store",
                "parentFolderId": None, "_wellknown": "msgfolderroot"}  # fmt: skip
        self.folders[root["id"]] = root
        for wellknown, name in (("inbox", "Inbox"), ("sentitems", "Sent Items"), ("drafts", "Drafts")):
            folder_id = f"{wellknown}-{uuid.uuid4().hex[:8]}"
            self.folders[folder_id] = {"id": folder_id, "displayName": name, "parentFolderId": root["id"],
                                       "_wellknown": wellknown}  # fmt: skip

    def folder(self, ref: str) -> dict[str, Any]:
        """A folder by id or by well-known name (inbox, sentitems, drafts, msgfolderroot)."""
        for folder in self.folders.values():
            if folder["id"] == ref or folder.get("_wellknown") == ref.lower():
                return folder
        raise GraphError(404, "ErrorInvalidIdMalformed", "Id is malformed.")


@dataclass
class Fault:
    """A failure to inject: the next ``times`` requests matching ``method`` and the ``path`` pattern (searched in
    the path as sent, /v1.0 included; a $batch's sub-requests are matched one by one) get ``status`` (with
    Retry-After when set), or see their connection dropped before any answer (for a sub-request: the whole
    batch's), or, with ``delay`` alone, are answered normally ``delay`` seconds late (in flight meanwhile)."""

    method: str
    path: str
    status: int | None = None  # 429 unless the fault is a drop or a delay
    retry_after: int | None = None
    drop: bool = False
    times: int = 1
    delay: float = 0.0

    def __post_init__(self) -> None:
        if self.status is None and not self.drop and not self.delay:
            self.status = 429


@dataclass
class Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Request:
    """A request as Graph sees it: a top-level one or one of a $batch (its headers alone, its auth the batch's)."""

    method: str
    path: str  # as sent: /v1.0 included, the user as the client encoded it
    query: dict[str, str]
    headers: Mapping[str, str]  # case-insensitive
    body: Any = None

    @property
    def route_path(self) -> str:
        """The decoded path after the version, which routes match."""
        return unquote(self.path).removeprefix("/v1.0")

    @property
    def link_path(self) -> str:
        return "/v1.0" + self.route_path


@dataclass(frozen=True)
class Route:
    """One Graph operation: the application permissions that allow it (any one is enough), and the kind of
    resource, which says which Prefer preferences it honours."""

    method: str
    pattern: str  # matched on Request.route_path; group 1 is the mailbox
    roles: frozenset[str]
    kind: str  # "calendar", "mail" or "settings"
    action: Callable[[GraphEmulator, re.Match[str], Request], Reply]


@dataclass(eq=False)
class _Call:
    """A request routed and allowed, waiting for a slot on its mailbox."""

    request: Request
    route: Route
    match: re.Match[str]
    mailbox: str  # lower case
    delay: float = 0.0


class GraphEmulator:
    """The emulator's state and its HTTP server; ``start()`` returns the base URL."""

    def __init__(self, tenant: str = "m3mail-test-tenant", mailboxes: tuple[str, ...] = (), page_size: int = PAGE_SIZE,
                 *, roles: Iterable[str] = ALL_ROLES, concurrency_limit: int | None = CONCURRENCY_LIMIT,
                 client_id: str | None = None, client_secret: str | None = None):  # fmt: skip
        self.tenant, self.page_size = tenant, page_size
        self.mailboxes = {m.lower(): Mailbox(m.lower()) for m in mailboxes}
        self.roles: set[str] = set(roles)
        self.scope: set[str] | None = None  # the mailboxes an access policy lets the app reach; None: all
        self.client_id, self.client_secret = client_id, client_secret  # None: any
        self.app_object_id = str(uuid.uuid4())  # the service principal, the token's oid
        self.tokens: dict[str, float] = {}  # access token -> expiry (time.monotonic)
        self.token_lifetime = 3599
        self.concurrency_limit = concurrency_limit
        self.latency = 0.0  # seconds each Graph request stays in flight
        self.peak_concurrency: dict[str, int] = {}  # mailbox -> most requests seen at once (a refused one counts)
        self._in_flight: dict[str, int] = {}
        self._slots = threading.Lock()
        self.lock = threading.RLock()
        self.log_path = os.environ.get("M3MAIL_EMULATOR_LOG")
        self._ids = itertools.count(1)
        self.faults: list[Fault] = []  # injected failures, consumed in order as requests match them
        self.server: ThreadingHTTPServer | None = None
        self.base_url = ""
        self.ca_file: Path | None = None

    # --- life -----------------------------------------------------------------------------------------------

    def start(self, port: int = 0, folder: Path | None = None) -> str:
        folder = folder or Path(tempfile.mkdtemp(prefix="graph-emulator-"))
        self.ca_file, cert, key = _certificates(folder)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        emulator = self

        class Handler(_Handler):
            graph = emulator

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.base_url = f"https://127.0.0.1:{self.server.server_address[1]}"
        return self.base_url

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def fail(self, method: str, path: str, **kwargs: Any) -> Fault:
        """Inject a failure (see Fault); returns it, so that a test can see whether it was consumed."""
        fault = Fault(method.upper(), path, **kwargs)
        with self.lock:
            self.faults.append(fault)
        return fault

    def _fault_for(self, method: str, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.times > 0 and fault.method == method and re.search(fault.path, path):
                    fault.times -= 1
                    return fault
        return None

    # --- serving: identity, then Graph ------------------------------------------------------------------------

    def handle(self, request: Request) -> Reply:
        """Any request the server receives; raises _Dropped when a fault resets the connection."""
        if m := re.fullmatch(r"/([^/]+)/(v2\.0/\.well-known/openid-configuration|oauth2/v2\.0/token)", request.path):
            if m[1] != self.tenant:
                return _aad_error(400, "invalid_tenant", 90002, f"Tenant '{m[1]}' not found. Check to make sure "
                                  "you have the correct tenant ID and are signing into the correct cloud.")  # fmt: skip
            if request.method == "GET" and m[2].startswith("v2.0"):
                return self.openid_configuration()
            if request.method == "POST" and m[2].startswith("oauth2"):
                return self.token(request.body if isinstance(request.body, dict) else {})
        if request.path.startswith("/v1.0/"):
            return self.serve(request)
        return _error_reply(GraphError(404, "NotFound", f"Unknown path {request.path}"), request)

    def serve(self, request: Request) -> Reply:
        """One top-level Graph request: faults, the token, then a $batch or one routed request."""
        fault = self._fault_for(request.method, request.path)
        try:
            if fault is not None and (fault.drop or fault.status):
                time.sleep(fault.delay)
                if fault.drop:
                    raise _Dropped
                raise _fault_error(fault)
            claims = self._authenticate(request)
            if request.route_path == "/$batch" and request.method == "POST":
                return self._batch(request, claims)
            return self._run_together([self._prepare(request, claims, fault)])[0]
        except GraphError as e:
            return _error_reply(e, request)

    def _authenticate(self, request: Request) -> dict[str, Any]:
        """The claims of the bearer token (one this emulator issued and that has not expired)."""
        header = request.headers.get("Authorization", "")
        token = header.removeprefix("Bearer ") if header.startswith("Bearer ") else ""
        expiry = self.tokens.get(token)
        if expiry is None:
            raise GraphError(401, "InvalidAuthenticationToken", "Access token is empty or invalid.")
        if expiry < time.monotonic():
            raise GraphError(401, "InvalidAuthenticationToken", "Lifetime validation failed, the token is expired.")
        return token_claims(token)

    def _prepare(self, request: Request, claims: dict[str, Any], fault: Fault | None) -> _Call:
        """Route the request and check that the token's roles and the mailbox scope allow it."""
        path = request.route_path
        for route in ROUTES:
            if route.method == request.method and (m := re.fullmatch(route.pattern, path)):
                break
        else:
            raise GraphError(400, "BadRequest", f"Unsupported request {request.method} {path}")
        if not set(claims.get("roles", ())) & route.roles:
            raise GraphError(403, "ErrorAccessDenied", ACCESS_DENIED)
        user = m[1]
        self.mailbox(user)
        if self.scope is not None and user.lower() not in {s.lower() for s in self.scope}:
            # an application access policy (or RBAC for applications) that leaves this mailbox out
            raise GraphError(403, "ErrorAccessDenied", "Access to OData is disabled.")
        return _Call(request, route, m, user.lower(), fault.delay if fault is not None else 0.0)

    def _run_together(self, calls: list[_Call]) -> list[Reply]:
        """Requests in flight together: per mailbox, those past the concurrency limit (counting the requests
        already in flight there) are throttled; the others stay in flight for the latency, then run."""
        admitted = self._admit(calls)
        try:
            pause = max((c.delay for c in admitted), default=0.0) + (self.latency if admitted else 0.0)
            if pause > 0:
                time.sleep(pause)
            return [self._execute(c) if c in admitted else _error_reply(_throttled(), c.request) for c in calls]
        finally:
            self._release(admitted)

    def _admit(self, calls: list[_Call]) -> list[_Call]:
        admitted: list[_Call] = []
        with self._slots:
            for mailbox in dict.fromkeys(c.mailbox for c in calls):
                group = [c for c in calls if c.mailbox == mailbox]
                busy = self._in_flight.get(mailbox, 0)
                self.peak_concurrency[mailbox] = max(self.peak_concurrency.get(mailbox, 0), busy + len(group))
                room = len(group) if self.concurrency_limit is None else max(self.concurrency_limit - busy, 0)
                admitted += group[:room]
                self._in_flight[mailbox] = busy + len(group[:room])
        return admitted

    def _release(self, calls: list[_Call]) -> None:
        with self._slots:
            for call in calls:
                self._in_flight[call.mailbox] -= 1

    def _execute(self, call: _Call) -> Reply:
        try:
            with self.lock:
                reply = call.route.action(self, call.match, call.request)
                return _presented(reply, call)
        except GraphError as e:
            return _error_reply(e, call.request)

    # --- $batch -----------------------------------------------------------------------------------------------

    def _batch(self, request: Request, claims: dict[str, Any]) -> Reply:
        """JSON batching: up to 20 requests, run in waves (a request runs once the ones it dependsOn have);
        the requests of a wave are in flight together. The responses come in the order they ran."""
        items = batch_requests(request.body)
        results: dict[str, Reply] = {}
        responses = []
        for wave in _waves(items):
            ready: list[tuple[str, _Call]] = []
            for item in wave:
                key, sub = item["id"].lower(), _sub_request(item)
                failed = [d for d in item.get("dependsOn") or () if results[d.lower()].status >= 400]
                try:
                    if failed:
                        raise GraphError(424, "FailedDependency", f"Request '{failed[0]}', a dependency, failed.")
                    fault = self._fault_for(sub.method, sub.path)
                    if fault is not None and fault.drop:
                        raise _Dropped
                    if fault is not None and fault.status:
                        raise _fault_error(fault)
                    ready.append((key, self._prepare(sub, claims, fault)))
                except GraphError as e:
                    results[key] = _error_reply(e, sub)
            for (key, _), reply in zip(ready, self._run_together([call for _, call in ready]), strict=True):
                results[key] = reply
            responses += [_sub_response(item["id"], results[item["id"].lower()]) for item in wave]
        return Reply(200, {"responses": responses})

    # --- identity: what msal asks for -------------------------------------------------------------------------

    def openid_configuration(self) -> Reply:
        base = f"{self.base_url}/{self.tenant}"
        return Reply(200, {
            "issuer": f"{base}/v2.0", "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "token_endpoint": f"{base}/oauth2/v2.0/token", "jwks_uri": f"{base}/discovery/v2.0/keys",
            "response_types_supported": ["code", "id_token", "token"], "tenant_region_scope": "EU",
        })  # fmt: skip

    def token(self, form: dict[str, str]) -> Reply:
        """Client credentials: a secret, or a signed assertion (a certificate; its signature is not checked).
        The token is a JWT carrying the app's roles as they are now."""
        client = form.get("client_id", "")
        if form.get("grant_type") != "client_credentials" or not client:
            return Reply(400, {"error": "unsupported_grant_type", "error_description": "client_credentials only"})
        if self.client_id is not None and client != self.client_id:
            return _aad_error(400, "unauthorized_client", 700016, f"Application with identifier '{client}' was not "
                              f"found in the directory '{self.tenant}'.")  # fmt: skip
        secret, assertion = form.get("client_secret"), form.get("client_assertion")
        if not secret and not assertion:
            return _aad_error(401, "invalid_client", 7000216, "'client_assertion', 'client_secret' or 'request' is "
                              "required for the 'client_credentials' grant type.")  # fmt: skip
        if secret and self.client_secret is not None and secret != self.client_secret:
            return _aad_error(401, "invalid_client", 7000215, "Invalid client secret provided. Ensure the secret "
                              "being sent in the request is the client secret value, not the client secret ID, for a "
                              f"secret added to app '{client}'.")  # fmt: skip
        scope = form.get("scope", "")
        if not any(s.endswith("/.default") for s in scope.split()):
            return _aad_error(400, "invalid_scope", 1002012, f"The provided value for scope {scope} is not valid. "
                              "Client credential flows must have a scope value with /.default suffixed to the "
                              "resource identifier (application ID URI).")  # fmt: skip
        token = self._jwt(client, "2" if assertion else "1")
        self.tokens[token] = time.monotonic() + self.token_lifetime
        lifetime = self.token_lifetime
        return Reply(200, {"token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime,
                           "access_token": token})  # fmt: skip

    def _jwt(self, client: str, acr: str) -> str:
        """An app-only access token as Entra ID writes them; the signature is random (msal does not check it)."""
        now = int(time.time())
        kid = _b64url(secrets.token_bytes(20))
        header = {"typ": "JWT", "alg": "RS256", "x5t": kid, "kid": kid}
        claims: dict[str, Any] = {
            "aud": "https://graph.microsoft.com", "iss": f"https://sts.windows.net/{self.tenant}/", "iat": now,
            "nbf": now, "exp": now + self.token_lifetime, "app_displayname": "m3mail", "appid": client,
            "appidacr": acr, "idtyp": "app", "oid": self.app_object_id, "sub": self.app_object_id,
            "tid": self.tenant, "uti": _b64url(secrets.token_bytes(16)), "ver": "1.0",
        }  # fmt: skip
        if self.roles:  # an app with no application permission gets a token with no roles claim at all
            claims["roles"] = sorted(self.roles)
        parts = [_b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims)]
        return ".".join([*parts, _b64url(secrets.token_bytes(256))])

    # --- Graph: events ------------------------------------------------------------------------------------------

    def mailbox(self, user: str) -> Mailbox:
        box = self.mailboxes.get(user.lower())
        if box is None:
            raise GraphError(404, "ErrorInvalidUser", f"The requested user '{user}' is invalid.")
        return box

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

    # --- Graph: master categories ---------------------------------------------------------------------------

    def categories(self, user: str) -> Reply:
        return Reply(200, {"value": list(self.mailbox(user).categories.values())})

    def create_category(self, user: str, body: dict[str, Any]) -> Reply:
        box = self.mailbox(user)
        name = str(body.get("displayName", ""))
        if not name:
            raise GraphError(400, "ErrorInvalidRequest", "displayName is required.")
        if any(c["displayName"].lower() == name.lower() for c in box.categories.values()):
            # not documented by Microsoft; what Exchange answers in practice
            raise GraphError(409, "ErrorDuplicate", "A category with this display name already exists.")
        color = _enum(body.get("color", "none"), _COLOURS, "categoryColor")
        category = {"id": str(uuid.uuid4()), "displayName": name, "color": color}
        box.categories[category["id"]] = category
        return Reply(201, category)

    def category(self, user: str, category_id: str) -> dict[str, Any]:
        category = self.mailbox(user).categories.get(category_id)
        if category is None:
            raise GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
        return category

    def update_category(self, user: str, category_id: str, body: dict[str, Any]) -> Reply:
        """Only the colour changes: the display name is read-only once created (outlookcategory reference)."""
        category = self.category(user, category_id)
        if "displayName" in body and body["displayName"] != category["displayName"]:
            raise GraphError(400, "ErrorInvalidRequest", "The displayName of a category can't be changed.")
        if "color" in body:
            category["color"] = _enum(body["color"], _COLOURS, "categoryColor")
        return Reply(200, category)

    def delete_category(self, user: str, category_id: str) -> Reply:
        self.category(user, category_id)
        del self.mailbox(user).categories[category_id]
        return Reply(204)

    # --- Graph: mailboxSettings -------------------------------------------------------------------------------

    def mailbox_settings(self, user: str) -> Reply:
        settings = copy.deepcopy(self.mailbox(user).settings)
        context = f"{self.base_url}/v1.0/$metadata#users('{user}')/mailboxSettings"
        return Reply(200, {"@odata.context": context, **settings})

    def update_mailbox_settings(self, user: str, body: Any) -> Reply:
        """PATCH merges: a complex property sent in part keeps its other members. Answers the properties sent,
        as they now are."""
        box = self.mailbox(user)
        if not isinstance(body, dict):
            raise GraphError(400, "BadRequest", "Empty Payload. JSON content expected.")
        merged = copy.deepcopy(box.settings)
        sent = [k for k in body if not k.startswith("@odata")]
        for key in sent:
            if key not in merged:
                raise GraphError(400, "RequestBodyRead", f"The property '{key}' does not exist on type "
                                 "'microsoft.graph.mailboxSettings'. Make sure to only use property names that are "
                                 "defined by the type.")  # fmt: skip
            value, old = body[key], merged[key]
            merged[key] = {**old, **value} if isinstance(value, dict) and isinstance(old, dict) else value
        _check_settings(merged)
        box.settings = merged
        context = f"{self.base_url}/v1.0/$metadata#users('{user}')/mailboxSettings"
        return Reply(200, {"@odata.context": context, **{k: copy.deepcopy(merged[k]) for k in sent}})

    def set_out_of_office(self, user: str, start: datetime | None = None, end: datetime | None = None, *,
                          message: str = "Je suis absente du cabinet.", external_message: str | None = None,
                          audience: str = "all") -> dict[str, Any]:  # fmt: skip
        """What an adviser sets in Outlook: automatic replies between two aware datetimes (scheduled), or from
        now on (alwaysEnabled) without them. Returns the automaticRepliesSetting."""
        oof = self.mailbox(user).settings["automaticRepliesSetting"]
        oof.update(status="alwaysEnabled" if start is None else "scheduled", externalAudience=audience,
                   internalReplyMessage=message,
                   externalReplyMessage=message if external_message is None else external_message)  # fmt: skip
        if start is not None:
            if end is None or not start < end:
                raise ValueError("a scheduled absence needs an end after its start")
            oof.update(scheduledStartDateTime=_utc_dtz(start), scheduledEndDateTime=_utc_dtz(end))
        return copy.deepcopy(oof)

    def clear_out_of_office(self, user: str) -> None:
        self.mailbox(user).settings["automaticRepliesSetting"]["status"] = "disabled"

    def set_working_hours(self, user: str, days: Iterable[str] = _WORKDAYS, start: str = "08:30",
                          end: str = "17:30", zone: str = "Romance Standard Time") -> dict[str, Any]:  # fmt: skip
        """Working hours as Outlook keeps them ("08:30" becomes "08:30:00.0000000")."""
        hours = {"daysOfWeek": [_enum(d, _DAYS, "dayOfWeek") for d in days], "startTime": f"{start}:00.0000000",
                 "endTime": f"{end}:00.0000000", "timeZone": {"name": zone}}  # fmt: skip
        self.mailbox(user).settings["workingHours"] = hours
        return copy.deepcopy(hours)

    # --- Graph: mail folders and messages ---------------------------------------------------------------------

    def child_folders(self, user: str, parent: str, query: dict[str, str], path: str) -> Reply:
        box = self.mailbox(user)
        parent_id = box.folder(parent)["id"]
        folders = [f for f in box.folders.values() if f["parentFolderId"] == parent_id]
        if flt := query.get("$filter"):
            m = re.fullmatch(r"displayName eq '((?:[^']|'')*)'", flt.strip())
            if not m:
                raise GraphError(400, "ErrorInvalidUrlQueryFilter", f"The filter is not supported: {flt}")
            folders = [f for f in folders if f["displayName"].lower() == m[1].replace("''", "'").lower()]
        return self._page(folders, query, path)

    def create_folder(self, user: str, parent: str, body: dict[str, Any]) -> Reply:
        box = self.mailbox(user)
        parent_id = box.folder(parent)["id"]
        name = str((body or {}).get("displayName", ""))
        if any(f["parentFolderId"] == parent_id and f["displayName"].lower() == name.lower()
               for f in box.folders.values()):  # fmt: skip
            # the code is documented (EWS); the status is not: Exchange has been seen answering 409
            raise GraphError(409, "ErrorFolderExists", "A folder with the specified name already exists.")
        folder = {"id": self._new_id("AAMkFo"), "displayName": name, "parentFolderId": parent_id}
        box.folders[folder["id"]] = folder
        return Reply(201, folder)

    def create_message(self, user: str, folder: str | None, body: dict[str, Any], prefer: str) -> Reply:
        """A draft in Drafts (POST /messages), or a message in a folder: a draft too, unless the message flags
        property (PR_MESSAGE_FLAGS, "Integer 0x0E07") says read (1), which makes it a sent-looking item."""
        box = self.mailbox(user)
        flags = next((p.get("value") for p in body.get("singleValueExtendedProperties", [])
                      if p.get("id", "").lower() == "integer 0x0e07"), None)  # fmt: skip
        bits = None if flags is None else int(flags)  # MSGFLAG_READ = 1, MSGFLAG_UNSENT = 8
        message = {"id": self._new_id("AAMkMs"), "internetMessageId": f"<{uuid.uuid4().hex}@emulator.example>",
                   "conversationId": self._new_id("AAQkCv"), "isDraft": bits is None or bool(bits & 8),
                   "isRead": bits is None or bool(bits & 1), "createdDateTime": _now(), "receivedDateTime": _now(),
                   **body}  # fmt: skip
        message["_folder"] = box.folder(folder or "drafts")["id"]
        box.messages[message["id"]] = message
        return Reply(201, self._shown(message, prefer))

    def send_draft(self, user: str, message_id: str) -> Reply:
        box = self.mailbox(user)
        message = self._message(box, message_id)
        if not message.get("isDraft"):
            raise GraphError(400, "ErrorInvalidOperation", "Only a draft can be sent.")
        message.update(isDraft=False, isRead=True, sentDateTime=_now(), _folder=box.folder("sentitems")["id"])
        self._moved(message)
        return Reply(202)

    def send_mail(self, user: str, body: Any) -> Reply:
        """sendMail: 202 and no id; a copy in Sent Items unless saveToSentItems is false (either case of the
        parameter names, as for every action)."""
        box = self.mailbox(user)
        args = {str(k).lower(): v for k, v in (body if isinstance(body, dict) else {}).items()}
        message = args.get("message")
        if not isinstance(message, dict):
            raise GraphError(400, "ErrorInvalidRequest", "The message parameter is required.")
        if not any(message.get(k) for k in ("toRecipients", "ccRecipients", "bccRecipients")):
            raise GraphError(400, "ErrorInvalidRecipients", "At least one recipient isn't valid., A message can't "
                             "be sent because it contains no recipients.")  # fmt: skip
        if str(args.get("savetosentitems", True)).lower() != "false":
            sent = {"id": self._new_id("AAMkMs"), "internetMessageId": f"<{uuid.uuid4().hex}@emulator.example>",
                    "conversationId": self._new_id("AAQkCv"), "createdDateTime": _now(), "receivedDateTime": _now(),
                    **message, "isDraft": False, "isRead": True, "sentDateTime": _now(),
                    "_folder": box.folder("sentitems")["id"]}  # fmt: skip
            box.messages[sent["id"]] = sent
        return Reply(202)

    def copy_or_move(self, user: str, message_id: str, body: dict[str, Any], prefer: str, move: bool) -> Reply:
        box = self.mailbox(user)
        message = self._message(box, message_id)
        target = box.folder(str(body.get("destinationId") or body.get("DestinationId") or ""))["id"]
        if move:
            message["_folder"] = target
            self._moved(message)
            return Reply(201, self._shown(message, prefer))
        duplicate = {**message, "id": self._new_id("AAMkMs"), "_folder": target}
        duplicate.pop("_rest", None)
        box.messages[duplicate["id"]] = duplicate
        return Reply(201, self._shown(duplicate, prefer))

    def list_messages(self, user: str, folder: str | None, query: dict[str, str], path: str, prefer: str) -> Reply:
        box = self.mailbox(user)
        items = list(box.messages.values())
        if folder is not None:
            folder_id = box.folder(folder)["id"]
            items = [m for m in items if m["_folder"] == folder_id]
        if flt := query.get("$filter"):
            items = [m for m in items if _message_matches(m, flt)]
        page = self._page(sorted(items, key=lambda m: m["receivedDateTime"]), query, path)
        page.body["value"] = [self._shown(m, prefer) for m in page.body["value"]]
        return page

    def get_message(self, user: str, message_id: str, prefer: str) -> Reply:
        return Reply(200, self._shown(self._message(self.mailbox(user), message_id), prefer))

    # --- what clients and their mail servers do, for the tests ---------------------------------------------

    def client_reply(self, user: str, message_id: str, text: str, *, subject: str = "",
                     when: datetime | None = None) -> dict[str, Any]:  # fmt: skip
        """The client answers a message: a new message in the Inbox, in the same conversation, its headers
        pointing at the original (In-Reply-To, References) as mail clients write them."""
        box = self.mailbox(user)
        original = self._message(box, message_id)
        received = (when or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        to = (original.get("toRecipients") or [{"emailAddress": {"address": "client@example.com"}}])[0]
        reply = {"id": self._new_id("AAMkMs"), "internetMessageId": f"<{uuid.uuid4().hex}@client.example>",
                 "conversationId": original["conversationId"], "subject": "RE: " + original.get("subject", ""),
                 "from": to, "toRecipients": [{"emailAddress": {"address": user}}], "isDraft": False,
                 "isRead": False, "body": {"contentType": "text", "content": text},
                 "receivedDateTime": received, "_folder": box.folder("inbox")["id"],
                 "internetMessageHeaders": [{"name": name, "value": original["internetMessageId"]}
                                            for name in ("In-Reply-To", "References")]}  # fmt: skip
        if subject:
            reply["subject"] = subject
        box.messages[reply["id"]] = reply
        return reply

    def bounce(self, user: str, message_id: str, *, when: datetime | None = None) -> dict[str, Any]:
        """Exchange's non-delivery report: in the Inbox, threaded into the original's conversation (it has no
        In-Reply-To of its own)."""
        reply = self.client_reply(user, message_id, "Delivery has failed to these recipients or groups.", when=when)
        reply["internetMessageHeaders"] = []
        sender = f"MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e@{user.split('@')[-1]}"
        reply["subject"] = "Undeliverable: " + reply["subject"].removeprefix("RE: ")
        reply["from"] = {"emailAddress": {"name": "Microsoft Outlook", "address": sender}}
        return reply

    def _message(self, box: Mailbox, message_id: str) -> dict[str, Any]:
        for message in box.messages.values():
            if message_id in (message["id"], message.get("_rest")):
                return message
        raise GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")

    @staticmethod
    def _moved(message: dict[str, Any]) -> None:
        """Without immutable ids, an item gets a new id when it changes folder (shared/graph README)."""
        message["_rest"] = f"AAMkMv{uuid.uuid4().hex}"

    @staticmethod
    def _shown(message: dict[str, Any], prefer: str) -> dict[str, Any]:
        shown = dict(message)
        if "_rest" in message and 'IdType="ImmutableId"' not in prefer:
            shown["id"] = message["_rest"]
        shown["parentFolderId"] = message["_folder"]
        return shown

    # --- helpers ----------------------------------------------------------------------------------------------

    def _page(self, items: list[dict[str, Any]], query: dict[str, str], path: str) -> Reply:
        top = min(int(query.get("$top", self.page_size)), self.page_size)
        skip = int(query.get("$skip", 0))
        page = items[skip : skip + top]
        body: dict[str, Any] = {"@odata.context": f"{self.base_url}/v1.0/$metadata", "value": page}
        if skip + top < len(items):
            following = dict(query, **{"$skip": str(skip + top), "$top": str(top)})
            body["@odata.nextLink"] = f"{self.base_url}{path}?{urlencode(following)}"
        return Reply(200, body)

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}{uuid.uuid4().hex}"

    def record(self, entry: dict[str, Any]) -> None:
        if self.log_path:
            with self.lock, open(self.log_path, "a", encoding="utf-8") as log:
                log.write(json.dumps(entry, ensure_ascii=False) + "\n")


# --- the routes: each Graph operation, the application permissions it needs ----------------------------------

_USER = r"/users/([^/]+)"
_CALENDAR_READ = frozenset({"Calendars.Read", "Calendars.ReadWrite"})
_CALENDAR_WRITE = frozenset({"Calendars.ReadWrite"})
_FREE_BUSY = _CALENDAR_READ | {"Calendars.ReadBasic"}  # getSchedule's least privilege is Calendars.ReadBasic
_MAIL_READ = frozenset({"Mail.Read", "Mail.ReadWrite"})
_MAIL_WRITE = frozenset({"Mail.ReadWrite"})
_MAIL_SEND = frozenset({"Mail.Send"})
_SETTINGS_READ = frozenset({"MailboxSettings.Read", "MailboxSettings.ReadWrite"})
_SETTINGS_WRITE = frozenset({"MailboxSettings.ReadWrite"})


def _prefer(r: Request) -> str:
    return r.headers.get("Prefer", "")


ROUTES: tuple[Route, ...] = (
    Route("POST", _USER + r"/(?:calendar/)?events", _CALENDAR_WRITE, "calendar",
          lambda g, m, r: g.create_event(m[1], r.body or {})),
    Route("GET", _USER + r"/(?:calendar/)?events", _CALENDAR_READ, "calendar",
          lambda g, m, r: g.list_events(m[1], r.query, r.link_path)),
    Route("GET", _USER + r"/(?:calendar/)?events/([^/]+)", _CALENDAR_READ, "calendar",
          lambda g, m, r: Reply(200, g.event(m[1], m[2]))),
    Route("PATCH", _USER + r"/(?:calendar/)?events/([^/]+)", _CALENDAR_WRITE, "calendar",
          lambda g, m, r: g.update_event(m[1], m[2], r.body or {})),
    Route("DELETE", _USER + r"/(?:calendar/)?events/([^/]+)", _CALENDAR_WRITE, "calendar",
          lambda g, m, r: g.delete_event(m[1], m[2])),
    Route("GET", _USER + r"/(?:calendar/)?calendarView", _CALENDAR_READ, "calendar",
          lambda g, m, r: g.calendar_view(m[1], r.query, r.link_path)),
    Route("POST", _USER + r"/calendar/getSchedule", _FREE_BUSY, "calendar",
          lambda g, m, r: g.get_schedule(m[1], r.body, _preferences(r.headers).get("outlook.timezone", "UTC"))),
    Route("GET", _USER + r"/mailFolders", _MAIL_READ, "mail",
          lambda g, m, r: g.child_folders(m[1], "msgfolderroot", r.query, r.link_path)),
    Route("POST", _USER + r"/mailFolders", _MAIL_WRITE, "mail",
          lambda g, m, r: g.create_folder(m[1], "msgfolderroot", r.body or {})),
    Route("GET", _USER + r"/mailFolders/([^/]+)/childFolders", _MAIL_READ, "mail",
          lambda g, m, r: g.child_folders(m[1], m[2], r.query, r.link_path)),
    Route("POST", _USER + r"/mailFolders/([^/]+)/childFolders", _MAIL_WRITE, "mail",
          lambda g, m, r: g.create_folder(m[1], m[2], r.body or {})),
    Route("POST", _USER + r"/messages", _MAIL_WRITE, "mail",
          lambda g, m, r: g.create_message(m[1], None, r.body or {}, _prefer(r))),
    Route("POST", _USER + r"/mailFolders/([^/]+)/messages", _MAIL_WRITE, "mail",
          lambda g, m, r: g.create_message(m[1], m[2], r.body or {}, _prefer(r))),
    Route("GET", _USER + r"/messages", _MAIL_READ, "mail",
          lambda g, m, r: g.list_messages(m[1], None, r.query, r.link_path, _prefer(r))),
    Route("GET", _USER + r"/mailFolders/([^/]+)/messages", _MAIL_READ, "mail",
          lambda g, m, r: g.list_messages(m[1], m[2], r.query, r.link_path, _prefer(r))),
    Route("GET", _USER + r"/messages/([^/]+)", _MAIL_READ, "mail",
          lambda g, m, r: g.get_message(m[1], m[2], _prefer(r))),
    Route("POST", _USER + r"/messages/([^/]+)/send", _MAIL_SEND, "mail",
          lambda g, m, r: g.send_draft(m[1], m[2])),
    Route("POST", _USER + r"/messages/([^/]+)/(copy|move)", _MAIL_WRITE, "mail",
          lambda g, m, r: g.copy_or_move(m[1], m[2], r.body or {}, _prefer(r), move=m[3] == "move")),
    Route("POST", _USER + r"/sendMail", _MAIL_SEND, "mail",
          lambda g, m, r: g.send_mail(m[1], r.body)),
    Route("GET", _USER + r"/outlook/masterCategories", _SETTINGS_READ, "settings",
          lambda g, m, r: g.categories(m[1])),
    Route("POST", _USER + r"/outlook/masterCategories", _SETTINGS_WRITE, "settings",
          lambda g, m, r: g.create_category(m[1], r.body or {})),
    Route("GET", _USER + r"/outlook/masterCategories/([^/]+)", _SETTINGS_READ, "settings",
          lambda g, m, r: Reply(200, g.category(m[1], m[2]))),
    Route("PATCH", _USER + r"/outlook/masterCategories/([^/]+)", _SETTINGS_WRITE, "settings",
          lambda g, m, r: g.update_category(m[1], m[2], r.body or {})),
    Route("DELETE", _USER + r"/outlook/masterCategories/([^/]+)", _SETTINGS_WRITE, "settings",
          lambda g, m, r: g.delete_category(m[1], m[2])),
    Route("GET", _USER + r"/mailboxSettings", _SETTINGS_READ, "settings",
          lambda g, m, r: g.mailbox_settings(m[1])),
    Route("PATCH", _USER + r"/mailboxSettings", _SETTINGS_WRITE, "settings",
          lambda g, m, r: g.update_mailbox_settings(m[1], r.body)),
)  # fmt: skip


# --- $batch: the envelope, the waves, the answers ------------------------------------------------------------


def batch_requests(body: Any) -> list[dict[str, Any]]:
    """The requests of a batch envelope, checked as Graph checks them before running any: a malformed batch
    fails whole with 400."""
    items = body.get("requests") if isinstance(body, dict) else None
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise GraphError(400, "BadRequest", "Invalid batch payload format.")
    if len(items) > BATCH_LIMIT:
        raise GraphError(400, "BadRequest", f"The batch holds {len(items)} requests; the limit is {BATCH_LIMIT}.")
    seen: set[str] = set()
    for item in items:
        ident, method, url = item.get("id"), item.get("method"), item.get("url")
        if not isinstance(ident, str) or not ident or not isinstance(method, str) or not isinstance(url, str):
            raise GraphError(400, "BadRequest", "Each request needs an id, a method and a url.")
        if ident.lower() in seen:  # ids are not case-sensitive and must be unique (json-batching)
            raise GraphError(400, "BadRequest", f"The request id '{ident}' is used more than once in the batch.")
        if re.match(r"[a-z][a-z0-9+.-]*://", url, re.IGNORECASE):
            raise GraphError(400, "BadRequest", f"The url of request '{ident}' must be relative to the version.")
        headers = CaseInsensitiveDict(item.get("headers") or {})
        if method.upper() in ("POST", "PATCH", "PUT") and ("body" not in item or "Content-Type" not in headers):
            raise GraphError(400, "BadRequest", f"Write request id : {ident} does not contain Content-Type header "
                             "or body.")  # fmt: skip
        for dep in item.get("dependsOn") or ():
            if not isinstance(dep, str) or dep.lower() not in seen:  # OData JSON batch: no forward reference
                raise GraphError(400, "BadRequest", f"The dependsOn Id: [{dep}] in request [{ident}] is not matching "
                                 "any of the request Id and atomic group Id seen so far. Forward reference is not "
                                 "allowed.")  # fmt: skip
        seen.add(ident.lower())
    return items


def _waves(items: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Wave 1: the requests that depend on none; wave k: those whose dependencies all ran in earlier waves."""
    wave_of: dict[str, int] = {}
    for item in items:  # dependencies come earlier in the list (checked by _batch_items)
        wave_of[item["id"].lower()] = 1 + max((wave_of[d.lower()] for d in item.get("dependsOn") or ()), default=0)
    return [[i for i in items if wave_of[i["id"].lower()] == n] for n in range(1, max(wave_of.values(), default=0) + 1)]


def _sub_request(item: dict[str, Any]) -> Request:
    url = urlsplit(item["url"] if item["url"].startswith("/") else "/" + item["url"])
    query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
    headers = CaseInsensitiveDict(item.get("headers") or {})
    return Request(item["method"].upper(), "/v1.0" + url.path, query, headers, item.get("body"))


def _sub_response(ident: str, reply: Reply) -> dict[str, Any]:
    headers = {"Cache-Control": "no-cache", **reply.headers}
    response: dict[str, Any] = {"id": ident, "status": reply.status, "headers": headers}
    if reply.body is not None:
        headers["Content-Type"] = JSON_TYPE
        response["body"] = reply.body
    return response


# --- answers: errors, presentation -------------------------------------------------------------------------------


def _error_reply(e: GraphError, request: Request | None) -> Reply:
    client_request = (request.headers.get("client-request-id") if request is not None else None) or str(uuid.uuid4())
    inner = {"date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"), "request-id": str(uuid.uuid4()),
             "client-request-id": client_request}  # fmt: skip
    return Reply(e.status, {"error": {"code": e.code, "message": e.message, "innerError": inner}}, dict(e.headers))


def _fault_error(fault: Fault) -> GraphError:
    code = "TooManyRequests" if fault.status == 429 else "ServiceUnavailable"
    headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
    return GraphError(fault.status or 429, code, "Injected failure.", headers)


def _aad_error(status: int, error: str, number: int, description: str) -> Reply:
    """An Entra ID token endpoint error, as msal receives it."""
    trace, correlation, stamp = uuid.uuid4(), uuid.uuid4(), datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    return Reply(status, {
        "error": error, "error_codes": [number], "timestamp": stamp, "trace_id": str(trace),
        "correlation_id": str(correlation), "error_uri": f"https://login.microsoftonline.com/error?code={number}",
        "error_description": f"AADSTS{number}: {description} Trace ID: {trace} Correlation ID: {correlation} "
                             f"Timestamp: {stamp}",
    })  # fmt: skip


def _preferences(headers: Mapping[str, str]) -> dict[str, str]:
    """The Prefer header's preferences, names in lower case: outlook.timezone, outlook.body-content-type, idtype."""
    return {k.lower(): v for k, v in re.findall(r'([\w.-]+)\s*=\s*"?([^",]*)"?', headers.get("Prefer", ""))}


def _applied(preferences: dict[str, str], kind: str) -> str:
    """The Preference-Applied header: the preferences this kind of resource honours."""
    applied = []
    if kind == "calendar" and "outlook.timezone" in preferences:
        applied.append(f'outlook.timezone="{preferences["outlook.timezone"]}"')
    if kind in ("calendar", "mail"):
        if preferences.get("outlook.body-content-type", "").lower() in ("text", "html"):
            applied.append(f'outlook.body-content-type="{preferences["outlook.body-content-type"].lower()}"')
        if preferences.get("idtype", "").lower() == "immutableid":
            applied.append('IdType="ImmutableId"')
    return ", ".join(applied)


def _presented(reply: Reply, call: _Call) -> Reply:
    preferences = _preferences(call.request.headers)
    body = reply.body if reply.body is None else _present(reply.body, preferences, call.request.query)
    headers = dict(reply.headers)
    if reply.status < 300 and (applied := _applied(preferences, call.route.kind)):
        headers["Preference-Applied"] = applied
    return Reply(reply.status, body, headers)


def _present(body: Any, preferences: dict[str, str], query: dict[str, str]) -> Any:
    """Items as Graph shows them: times in the zone the Prefer header asks for (UTC by default), bodies in the
    format it asks for (HTML by default), extended properties only when $expand asks for them, only the
    properties $select names (with id), no internal field."""
    zone_name = preferences.get("outlook.timezone", "UTC")
    body_type = preferences.get("outlook.body-content-type", "html").lower()
    expand = query.get("$expand", "")
    select = {s.strip().lower() for s in query.get("$select", "").split(",") if s.strip()}

    def item(entity: Any) -> Any:
        if not isinstance(entity, dict):
            return entity
        shown = {k: v for k, v in entity.items() if not k.startswith("_")}
        if "_start" in entity:
            zone = _zone(zone_name)
            for name in ("start", "end"):
                shown[name] = {"dateTime": _wall(entity[f"_{name}"], zone), "timeZone": zone_name}
        if isinstance(shown.get("body"), dict) and body_type in ("text", "html"):
            shown["body"] = _body_as(shown["body"], body_type)
        if "singleValueExtendedProperties" in shown:
            wanted = re.findall(r"id eq '([^']*)'", expand) if "singleValueExtendedProperties" in expand else []
            props = [p for p in shown.pop("singleValueExtendedProperties") if p.get("id") in wanted]
            if props:
                shown["singleValueExtendedProperties"] = props
        if select:
            kept = {"id", "@odata.etag", "@odata.context", "singlevalueextendedproperties"}
            shown = {k: v for k, v in shown.items() if k.lower() in select | kept}
        return shown

    if isinstance(body, dict) and isinstance(body.get("value"), list):
        return {**body, "value": [item(e) for e in body["value"]]}
    return item(body)


def _body_as(body: dict[str, Any], wanted: str) -> dict[str, Any]:
    """An itemBody converted as Exchange converts it for outlook.body-content-type."""
    kind, content = str(body.get("contentType", "text")).lower(), str(body.get("content", ""))
    if kind == wanted:
        return {**body, "contentType": wanted}
    if wanted == "text":
        text = re.sub(r"(?is)<(head|style|script)\b.*?</\1\s*>", "", content)
        text = re.sub(r"(?i)<br\s*/?>|</(p|div|li|tr|h\d)\s*>", "\n", text)
        text = html.unescape(re.sub(r"<[^>]+>", "", text))
        return {"contentType": "text", "content": re.sub(r"\n{3,}", "\n\n", text).strip()}
    lines = "<br>\r\n".join(html.escape(line) for line in content.splitlines())
    return {"contentType": "html", "content": f"<html><body>{lines}</body></html>"}


# --- values: enums, times, settings ---------------------------------------------------------------------------


def _enum(value: Any, allowed: Iterable[str], type_name: str) -> str:
    """An enum member, matched without regard to case as Graph does (its own examples write "HTML", "Low")."""
    for member in allowed:
        if isinstance(value, str) and value.lower() == member.lower():
            return member
    raise GraphError(400, "RequestBodyRead", f"Cannot convert the literal '{value}' to the expected type "
                     f"'microsoft.graph.{type_name}'.")  # fmt: skip


def _checked_event(body: dict[str, Any]) -> dict[str, Any]:
    if "showAs" in body:
        return {**body, "showAs": _enum(body["showAs"], _SHOW_AS, "freeBusyStatus")}
    return body


def _utc_dtz(moment: datetime) -> dict[str, str]:
    return {"dateTime": moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.0000000"), "timeZone": "UTC"}


def _default_settings() -> dict[str, Any]:
    """A new mailbox's settings: automatic replies off, Monday to Friday 08:30-17:30, Paris time, French."""
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    return {
        "archiveFolder": f"AAMkAr{uuid.uuid4().hex}", "timeZone": "Romance Standard Time",
        "automaticRepliesSetting": {
            "status": "disabled", "externalAudience": "all", "scheduledStartDateTime": _utc_dtz(hour),
            "scheduledEndDateTime": _utc_dtz(hour + timedelta(days=1)), "internalReplyMessage": "",
            "externalReplyMessage": "",
        },
        "dateFormat": "dd/MM/yyyy", "timeFormat": "HH:mm",
        "delegateMeetingMessageDeliveryOptions": "sendToDelegateOnly",
        "language": {"locale": "fr-FR", "displayName": "français (France)"}, "userPurpose": "user",
        "workingHours": {"daysOfWeek": list(_WORKDAYS), "startTime": "08:30:00.0000000",
                         "endTime": "17:30:00.0000000", "timeZone": {"name": "Romance Standard Time"}},
    }  # fmt: skip


def _check_settings(settings: dict[str, Any]) -> None:
    """Reject what Exchange would not store; enum members take their canonical case."""
    oof = settings["automaticRepliesSetting"]
    oof["status"] = _enum(oof.get("status"), ("disabled", "alwaysEnabled", "scheduled"), "automaticRepliesStatus")
    oof["externalAudience"] = _enum(oof.get("externalAudience"), ("none", "contactsOnly", "all"),
                                    "externalAudienceScope")  # fmt: skip
    if oof["status"] == "scheduled":
        start = _instant(oof.get("scheduledStartDateTime"), "scheduledStartDateTime")
        if not start < _instant(oof.get("scheduledEndDateTime"), "scheduledEndDateTime"):
            raise GraphError(400, "ErrorInvalidScheduledOofDuration", "The scheduled Oof duration is invalid.")
    hours = settings["workingHours"]
    hours["daysOfWeek"] = [_enum(d, _DAYS, "dayOfWeek") for d in hours.get("daysOfWeek") or ()]
    for name in ("startTime", "endTime"):
        if not _TIME_OF_DAY.fullmatch(str(hours.get(name))):
            raise GraphError(400, "RequestBodyRead", f"Cannot convert the literal '{hours.get(name)}' to the "
                             "expected type 'Edm.TimeOfDay'.")  # fmt: skip
    _zone(str((hours.get("timeZone") or {}).get("name") or "UTC"))
    _zone(str(settings.get("timeZone") or "UTC"))
    settings["delegateMeetingMessageDeliveryOptions"] = _enum(
        settings["delegateMeetingMessageDeliveryOptions"],
        ("sendToDelegateAndInformationToPrincipal", "sendToDelegateAndPrincipal", "sendToDelegateOnly"),
        "delegateMeetingMessageDeliveryOptions",
    )


def token_claims(token: str) -> dict[str, Any]:
    """The payload of a JWT access token (no signature check), as a test or a doctor reads it."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


_CERTIFICATES: dict[str, bytes] = {}
_CERTIFICATES_LOCK = threading.Lock()


def _certificates(folder: Path) -> tuple[Path, Path, Path]:
    """The CA and server files in ``folder``: made once per process (RSA keys are slow to make), then copied."""
    with _CERTIFICATES_LOCK:
        if not _CERTIFICATES:
            made = make_certificates(Path(tempfile.mkdtemp(prefix="graph-emulator-tls-")))
            _CERTIFICATES.update((path.name, path.read_bytes()) for path in made)
    folder.mkdir(parents=True, exist_ok=True)
    paths = tuple(folder / name for name in ("ca.pem", "server.pem", "server.key"))
    for path in paths:
        path.write_bytes(_CERTIFICATES[path.name])
    return paths  # type: ignore[return-value]


def _zone(name: str) -> ZoneInfo:
    """A dateTimeTimeZone's zone: IANA names and the Windows names Outlook uses ("Romance Standard Time")."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        try:
            return ZoneInfo(str(get_iana_tz(name)))
        except (KeyError, ValueError, ZoneInfoNotFoundError):
            raise GraphError(
                400,
                "TimeZoneNotSupportedException",
                f"A valid TimeZone value must be specified. The following TimeZone value is not supported: '{name}'.",
            ) from None


def _wall(moment: datetime, zone: ZoneInfo) -> str:
    """A wall-clock time as Graph writes it: seven decimals, no offset."""
    return moment.astimezone(zone).replace(tzinfo=None).isoformat(timespec="microseconds") + "0"


def _instant(value: Any, field_name: str) -> datetime:
    """A dateTimeTimeZone ({"dateTime", "timeZone"}) as an aware UTC datetime."""
    if not isinstance(value, dict) or "dateTime" not in value:
        raise GraphError(400, "ErrorInvalidRequest", f"The property '{field_name}' must be a dateTimeTimeZone.")
    try:
        local = datetime.fromisoformat(str(value["dateTime"])[:19])
    except ValueError:
        raise GraphError(400, "ErrorInvalidRequest", f"The property '{field_name}' has an invalid dateTime.") from None
    return local.replace(tzinfo=_zone(value.get("timeZone") or "UTC")).astimezone(UTC)


def _query_instant(text: str | None, name: str) -> datetime:
    if not text:
        raise GraphError(400, "ErrorInvalidParameter", f"This request requires a time window specified by the "
                         f"query string parameters StartDateTime and EndDateTime. ({name} is missing)")  # fmt: skip
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


_EXT_FILTER = re.compile(
    r"singleValueExtendedProperties/Any\(\s*(\w+)\s*:\s*\1/id\s+eq\s+'([^']*)'\s+and\s+"
    r"(?:\1/value\s+(?P<op>eq|ne)\s+'(?P<eq>(?:[^']|'')*)'|startswith\(\s*\1/value\s*,\s*'(?P<prefix>[^']*)'\s*\))"
    r"\s*\)",
    re.IGNORECASE,
)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _message_matches(message: dict[str, Any], expression: str) -> bool:
    """The message filters the backend sends: by extended property, conversation, or received since."""
    expression = expression.strip()
    if m := re.fullmatch(r"conversationId eq '([^']*)'", expression):
        return message.get("conversationId") == m[1]
    if m := re.fullmatch(r"receivedDateTime ge (\S+)", expression):
        return message.get("receivedDateTime", "") >= m[1]
    return _matches(message, expression)


def _matches(event: dict[str, Any], expression: str) -> bool:
    """The OData filters the backend sends: an extended property equal to a value (value case-insensitive)."""
    m = _EXT_FILTER.fullmatch(expression.strip())
    if not m:
        raise GraphError(400, "ErrorInvalidUrlQueryFilter", f"The filter is not supported: {expression}")
    prop_id, equal, prefix = m.group(2), m.group("eq"), m.group("prefix")
    for p in event.get("singleValueExtendedProperties", []):
        value = str(p.get("value", "")).lower()
        if equal is not None:
            same = value == equal.replace("''", "'").lower()
            found = same if m.group("op").lower() == "eq" else not same
        else:
            found = value.startswith(prefix.lower())
        if p.get("id") == prop_id and found:
            return True
    return False


class _Handler(BaseHTTPRequestHandler):
    graph: GraphEmulator
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go in two writes: without it, 40 ms per request

    def log_message(self, format: str, *args: Any) -> None:  # quiet: the JSON log says what happened
        pass

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def _serve(self, method: str) -> None:
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body = _body(raw, self.headers.get("Content-Type", ""))
        request = Request(method, url.path, query, CaseInsensitiveDict(self.headers.items()), body)
        entry = {"method": method, "path": url.path, "query": query, "headers": dict(self.headers), "body": body}
        try:
            reply = self.graph.handle(request)
        except _Dropped:
            self.graph.record({**entry, "status": None})
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)  # a reset: no answer at all
            return
        self.graph.record({**entry, "status": reply.status})
        data = b"" if reply.body is None else json.dumps(reply.body).encode()
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if data:
            self.send_header("Content-Type", JSON_TYPE if url.path.startswith("/v1.0/") else "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _body(raw: bytes, content_type: str) -> Any:
    if not raw:
        return None
    if "application/x-www-form-urlencoded" in content_type:
        return {k: v[-1] for k, v in parse_qs(raw.decode()).items()}
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace")


def main() -> None:
    parser = argparse.ArgumentParser(description="A Microsoft Graph emulator for m3mail, on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=8443)
    parser.add_argument("--mailbox", action="append", default=[], help="a mailbox to create (repeatable)")
    parser.add_argument("--role", action="append", help="an application permission (repeatable; default: all)")
    parser.add_argument("--scope", action="append", help="a mailbox the app may reach (repeatable; default: all)")
    parser.add_argument("--client-id", help="the only client id accepted (default: any)")
    parser.add_argument("--secret", help="the only client secret accepted (default: any)")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds each Graph request takes")
    parser.add_argument("--concurrency-limit", type=int, default=CONCURRENCY_LIMIT, help="per mailbox (0: none)")
    args = parser.parse_args()
    emulator = GraphEmulator(mailboxes=tuple(args.mailbox), roles=args.role or ALL_ROLES,
                             concurrency_limit=args.concurrency_limit or None, client_id=args.client_id,
                             client_secret=args.secret)  # fmt: skip
    emulator.scope = set(args.scope) if args.scope else None
    emulator.latency = args.latency
    base = emulator.start(args.port)
    print(f"base URL: {base}\nauthority: {base}/{emulator.tenant}\nCA file: {emulator.ca_file}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        emulator.stop()


if __name__ == "__main__":
    main()
