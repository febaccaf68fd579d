"""A Microsoft Graph emulator for the tests: HTTPS on 127.0.0.1, the identity endpoints msal calls, and the
Graph v1.0 endpoints m3mail uses, built after ../shared/graph (the API description and documented behaviours).

Faithful where the backend depends on it: request and response shapes, status codes, error bodies
(``{"error": {"code", "message", "innerError"}}``), OData ``@odata.nextLink`` paging with small pages,
``transactionId`` de-duplication of event creation, extended-property filters, bearer-token checks. Its state
(mailboxes, events) can be inspected and acted on by the tests as an adviser would.

Run on its own: ``python tests/graph/emulator.py --port 8443`` prints its base URL and CA file. When the
environment variable M3MAIL_EMULATOR_LOG names a file, one JSON line is appended per request served.
"""

from __future__ import annotations

import argparse
import itertools
import json
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
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

if __package__ in (None, ""):  # run as a script
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from O365.utils.windows_tz import get_iana_tz  # noqa: E402 - a table of zone names, not O365's client

from tests.graph.tls import make_certificates  # noqa: E402

PAGE_SIZE = 3  # small pages, so that every client follows @odata.nextLink


class GraphError(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class _Faulted(GraphError):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str]):
        super().__init__(status, code, message)
        self.headers = headers


@dataclass
class Mailbox:
    """One user's calendar and mail, as Exchange keeps them."""

    address: str
    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    transactions: dict[str, str] = field(default_factory=dict)  # transactionId -> event id
    categories: dict[str, dict[str, Any]] = field(default_factory=dict)
    folders: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> folder (parentFolderId links)
    messages: dict[str, dict[str, Any]] = field(default_factory=dict)  # immutable id -> message

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
    """A failure to inject: the next ``times`` requests matching ``method`` and the ``path`` pattern get
    ``status`` (with Retry-After when set), or see their connection dropped before any answer."""

    method: str
    path: str
    status: int = 429
    retry_after: int | None = None
    drop: bool = False
    times: int = 1


@dataclass
class Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


class GraphEmulator:
    """The emulator's state and its HTTP server; ``start()`` returns the base URL."""

    def __init__(self, tenant: str = "m3mail-test-tenant", mailboxes: tuple[str, ...] = (), page_size: int = PAGE_SIZE):
        self.tenant, self.page_size = tenant, page_size
        self.mailboxes = {m.lower(): Mailbox(m.lower()) for m in mailboxes}
        self.tokens: dict[str, float] = {}  # access token -> expiry (time.monotonic)
        self.token_lifetime = 3599
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

    # --- identity: what msal asks for -------------------------------------------------------------------------

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

    def openid_configuration(self) -> Reply:
        base = f"{self.base_url}/{self.tenant}"
        return Reply(200, {
            "issuer": f"{base}/v2.0", "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "token_endpoint": f"{base}/oauth2/v2.0/token", "jwks_uri": f"{base}/discovery/v2.0/keys",
            "response_types_supported": ["code", "id_token", "token"], "tenant_region_scope": "EU",
        })  # fmt: skip

    def token(self, form: dict[str, str]) -> Reply:
        """Client credentials: a secret, or a signed assertion (a certificate; its signature is not checked)."""
        if form.get("grant_type") != "client_credentials" or not form.get("client_id"):
            return Reply(400, {"error": "unsupported_grant_type", "error_description": "client_credentials only"})
        if not form.get("client_secret") and not form.get("client_assertion"):
            return Reply(401, {"error": "invalid_client", "error_description": "AADSTS7000216: no credentials"})
        token = secrets.token_urlsafe(24)
        self.tokens[token] = time.monotonic() + self.token_lifetime
        lifetime = self.token_lifetime
        return Reply(200, {"token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime,
                           "access_token": token})  # fmt: skip

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
        category = {"id": str(uuid.uuid4()), "displayName": name, "color": body.get("color", "none")}
        box.categories[category["id"]] = category
        return Reply(201, category)

    def event(self, user: str, event_id: str) -> dict[str, Any]:
        event = self.mailbox(user).events.get(event_id)
        if event is None:
            raise GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
        return event

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

    def copy_or_move(self, user: str, message_id: str, body: dict[str, Any], prefer: str, move: bool) -> Reply:
        box = self.mailbox(user)
        message = self._message(box, message_id)
        target = box.folder(str(body.get("destinationId") or body.get("DestinationId") or ""))["id"]
        if move:
            message["_folder"] = target
            self._moved(message)
            return Reply(201, self._shown(message, prefer))
        copy = {**message, "id": self._new_id("AAMkMs"), "_folder": target}
        copy.pop("_rest", None)
        box.messages[copy["id"]] = copy
        return Reply(201, self._shown(copy, prefer))

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
            raise GraphError(400, "TimeZoneNotSupportedException", f"A valid TimeZone value must be specified. "
                             f"The following TimeZone value is not supported: '{name}'.") from None


def _instant(value: Any, field_name: str) -> datetime:
    """A dateTimeTimeZone ({"dateTime", "timeZone"}) as an aware UTC datetime."""
    if not isinstance(value, dict) or "dateTime" not in value:
        raise GraphError(400, "ErrorInvalidRequest", f"The property '{field_name}' must be a dateTimeTimeZone.")
    local = datetime.fromisoformat(str(value["dateTime"])[:19])
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
        fault = self.graph._fault_for(method, url.path) if url.path.startswith("/v1.0/") else None
        if fault is not None and fault.drop:
            self.graph.record({"method": method, "path": url.path, "query": query, "headers": dict(self.headers),
                               "body": body, "status": None})  # fmt: skip
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)  # a reset: no answer at all
            return
        try:
            if fault is not None:
                code = "TooManyRequests" if fault.status == 429 else "ServiceUnavailable"
                headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
                raise _Faulted(fault.status, code, "Injected failure.", headers)
            reply = self._route(method, unquote(url.path), query, body)  # routing on the decoded path
        except GraphError as e:
            reply = Reply(e.status, {"error": {"code": e.code, "message": e.message, "innerError": {
                "date": "2026-11-25T08:00:00", "request-id": str(uuid.uuid4()),
                "client-request-id": self.headers.get("client-request-id", str(uuid.uuid4()))}}})  # fmt: skip
            reply.headers.update(getattr(e, "headers", {}))
        self.graph.record({"method": method, "path": url.path, "query": query, "headers": dict(self.headers),
                           "body": body, "status": reply.status})  # fmt: skip
        data = b"" if reply.body is None else json.dumps(_present(reply.body, self.headers, query)).encode()
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if data:
            self.send_header("Content-Type", "application/json; odata.metadata=minimal; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _route(self, method: str, path: str, query: dict[str, str], body: Any) -> Reply:
        g = self.graph
        tenant = re.escape(g.tenant)
        if method == "GET" and re.fullmatch(rf"/{tenant}/v2\.0/\.well-known/openid-configuration", path):
            return g.openid_configuration()
        if method == "POST" and re.fullmatch(rf"/{tenant}/oauth2/v2\.0/token", path):
            return g.token(body if isinstance(body, dict) else {})
        if not path.startswith("/v1.0/"):
            raise GraphError(404, "NotFound", f"Unknown path {path}")
        self._authenticate()
        with g.lock:
            return self._graph(method, path.removeprefix("/v1.0"), query, body, path)

    def _authenticate(self) -> None:
        header = self.headers.get("Authorization", "")
        expiry = self.graph.tokens.get(header.removeprefix("Bearer ")) if header.startswith("Bearer ") else None
        if expiry is None:
            raise GraphError(401, "InvalidAuthenticationToken", "Access token is empty or invalid.")
        if expiry < time.monotonic():
            raise GraphError(401, "InvalidAuthenticationToken", "Lifetime validation failed, the token is expired.")

    def _graph(self, method: str, path: str, query: dict[str, str], body: Any, full: str) -> Reply:
        g = self.graph
        if m := re.fullmatch(r"/users/([^/]+)/(?:calendar/)?events", path):
            if method == "POST":
                return g.create_event(m[1], body or {})
            if method == "GET":
                return g.list_events(m[1], query, full)
        if m := re.fullmatch(r"/users/([^/]+)/(?:calendar/)?events/([^/]+)", path):
            if method == "GET":
                return Reply(200, g.event(m[1], m[2]))
            if method == "PATCH":
                return g.update_event(m[1], m[2], body or {})
            if method == "DELETE":
                return g.delete_event(m[1], m[2])
        if (m := re.fullmatch(r"/users/([^/]+)/(?:calendar/)?calendarView", path)) and method == "GET":
            return g.calendar_view(m[1], query, full)
        prefer = self.headers.get("Prefer", "")
        if m := re.fullmatch(r"/users/([^/]+)/mailFolders(?:/([^/]+)/childFolders)?", path):
            parent = m[2] or "msgfolderroot"
            if method == "GET":
                return g.child_folders(m[1], parent, query, full)
            if method == "POST":
                return g.create_folder(m[1], parent, body or {})
        if m := re.fullmatch(r"/users/([^/]+)(?:/mailFolders/([^/]+))?/messages", path):
            if method == "POST":
                return g.create_message(m[1], m[2], body or {}, prefer)
            if method == "GET":
                return g.list_messages(m[1], m[2], query, full, prefer)
        if m := re.fullmatch(r"/users/([^/]+)/messages/([^/]+)/(send|copy|move)", path):
            if method == "POST" and m[3] == "send":
                return g.send_draft(m[1], m[2])
            if method == "POST":
                return g.copy_or_move(m[1], m[2], body or {}, prefer, move=m[3] == "move")
        if (m := re.fullmatch(r"/users/([^/]+)/messages/([^/]+)", path)) and method == "GET":
            return g.get_message(m[1], m[2], prefer)
        if m := re.fullmatch(r"/users/([^/]+)/outlook/masterCategories", path):
            if method == "GET":
                return g.categories(m[1])
            if method == "POST":
                return g.create_category(m[1], body or {})
        raise GraphError(400, "BadRequest", f"Unsupported request {method} {path}")


_PREFER_ZONE = re.compile(r'outlook\.timezone="([^"]+)"')


def _present(body: Any, headers: Any, query: dict[str, str]) -> Any:
    """Items as Graph shows them: times in the zone the Prefer header asks for (UTC by default), extended
    properties only when $expand asks for them, no internal field."""
    zone_name = m[1] if (m := _PREFER_ZONE.search(headers.get("Prefer", ""))) else "UTC"
    expand = query.get("$expand", "")

    def item(entity: Any) -> Any:
        if not isinstance(entity, dict):
            return entity
        shown = {k: v for k, v in entity.items() if not k.startswith("_")}
        if "_start" in entity:
            zone = _zone(zone_name)
            for name in ("start", "end"):
                local = entity[f"_{name}"].astimezone(zone).replace(tzinfo=None)
                shown[name] = {"dateTime": local.isoformat(timespec="microseconds") + "0", "timeZone": zone_name}
        if "singleValueExtendedProperties" in shown:
            wanted = re.findall(r"id eq '([^']*)'", expand) if "singleValueExtendedProperties" in expand else []
            props = [p for p in shown.pop("singleValueExtendedProperties") if p.get("id") in wanted]
            if props:
                shown["singleValueExtendedProperties"] = props
        return shown

    if isinstance(body, dict) and isinstance(body.get("value"), list):
        return {**body, "value": [item(e) for e in body["value"]]}
    return item(body)


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
    args = parser.parse_args()
    emulator = GraphEmulator(mailboxes=tuple(args.mailbox))
    base = emulator.start(args.port)
    print(f"base URL: {base}\nauthority: {base}/{emulator.tenant}\nCA file: {emulator.ca_file}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        emulator.stop()


if __name__ == "__main__":
    main()
