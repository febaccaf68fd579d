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
- ``fail(method, path_regex, status=None, retry_after=None, drop=False, times=1, delay=0.0, executed=False)
  -> Fault``: a status (429 when neither a status, a drop nor a delay is given), a dropped connection, or a late
  answer; ``executed``: after the request was carried out (a 504 whose work was done, an answer lost);
  ``retry_after`` as written (7, "0.249", ``http_date(30)``).
- ``latency`` (seconds each request stays in flight), ``concurrency_limit`` (None: no limit),
  ``peak_concurrency[user]`` (the most requests seen at once on a mailbox, a refused one included).
- ``sent_items_delay`` (seconds from a send's 202 to its copy in Sent Items; math.inf: until
  ``complete_sends()``), ``folder_exists_status`` (409; Microsoft documents the code only),
  ``category_duplicate`` (the status and code answered to a category name that exists: undocumented),
  ``page_size`` (items per page at most whatever ``$top`` asks, 3 by default so that clients follow
  ``@odata.nextLink``; None: as Graph, 10 or ``$top`` up to 1000; on its own, the emulator pages as Graph),
  ``event_bodies_html_only`` (True: events come in HTML whatever ``outlook.body-content-type`` asks, as
  event-get.md says; False: as the same page's header table says).
- ``roles`` (application permissions, read when a token is issued, as Entra ID does), ``scope`` (None, or the
  set of mailboxes the app may reach), ``client_id`` / ``client_secret`` (None: any), ``tokens``.
- What people do: ``create_event``, ``update_event``, ``delete_event``, ``client_reply``, ``bounce``,
  ``set_out_of_office``, ``clear_out_of_office``, ``set_working_hours``.
- ``token_claims(token)`` (a JWT's payload), ``batch_requests(body)`` (a $batch envelope checked as Graph
  checks it), ``ROUTES`` (each operation and the application permissions that allow it).

Run on its own: ``python tests/graph/emulator.py --port 8443`` prints its base URL and CA file. When the
environment variable M3MAIL_EMULATOR_LOG names a file, one JSON line is appended per request served (a
``$batch`` is one line, its envelope as the body).

The emulator is one class, ``GraphEmulator``, put together from parts, one module each; every name above stays
importable from this module:
- ``emulator_protocol``: requests, replies, errors, faults;   ``emulator_values``: enums, times, settings values;
- ``emulator_odata``: $filter, paging, Prefer and $select;   ``emulator_mailbox``: ``Mailbox``, the shared state;
- ``emulator_calendar``, ``emulator_mail``, ``emulator_settings``: the Graph operations and what people do;
- ``emulator_identity``: tokens and roles;   ``emulator_routes``: each operation and its permissions;
- ``emulator_dispatch``: faults, permissions, scope, concurrency;   ``emulator_batch``: ``$batch``;
- ``emulator_http``: the request handler and the TLS certificates.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import ssl
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterable
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.graph.emulator_batch import BATCH_LIMIT, Batching, batch_requests  # noqa: E402
from tests.graph.emulator_calendar import CalendarOperations  # noqa: E402
from tests.graph.emulator_dispatch import ACCESS_DENIED, CONCURRENCY_LIMIT  # noqa: E402
from tests.graph.emulator_http import _certificates, _Handler  # noqa: E402
from tests.graph.emulator_identity import ALL_ROLES, Identity, token_claims  # noqa: E402
from tests.graph.emulator_mail import MailOperations  # noqa: E402
from tests.graph.emulator_mailbox import Mailbox  # noqa: E402
from tests.graph.emulator_odata import PAGE_SIZE  # noqa: E402
from tests.graph.emulator_protocol import (  # noqa: E402
    JSON_TYPE,
    Fault,
    GraphError,
    Reply,
    Request,
    _aad_error,
    _after_the_work,
    _Dropped,
    _error_reply,
    _fault_error,
    http_date,
)
from tests.graph.emulator_routes import ROUTES, Route  # noqa: E402
from tests.graph.emulator_settings import SettingsOperations  # noqa: E402

__all__ = [  # what tests and tools import from here, wherever it lives now
    "ACCESS_DENIED",
    "ALL_ROLES",
    "BATCH_LIMIT",
    "CONCURRENCY_LIMIT",
    "JSON_TYPE",
    "PAGE_SIZE",
    "ROUTES",
    "Fault",
    "GraphEmulator",
    "GraphError",
    "Mailbox",
    "Reply",
    "Request",
    "Route",
    "batch_requests",
    "http_date",
    "main",
    "token_claims",
]


class GraphEmulator(Batching, Identity, CalendarOperations, MailOperations, SettingsOperations):
    """The emulator's state and its HTTP server; ``start()`` returns the base URL. Its Graph operations, its
    identity endpoints and the steps a request goes through come from the parts it inherits."""

    def __init__(self, tenant: str = "m3mail-test-tenant", mailboxes: tuple[str, ...] = (),
                 page_size: int | None = PAGE_SIZE,
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
        self.sent_items_delay = 0.0  # seconds from a send's 202 to its copy in Sent Items (math.inf: complete_sends)
        self.folder_exists_status = 409  # ErrorFolderExists's status, which Microsoft does not document
        self.category_duplicate = (409, "ErrorDuplicate")  # the answer to a category that exists: undocumented
        self.event_bodies_html_only = True  # "returns event bodies in only HTML format" (event-get, list events)
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
            if fault is not None and (fault.drop or fault.status) and not fault.executed:
                time.sleep(fault.delay)
                if fault.drop:
                    raise _Dropped
                raise _fault_error(fault)
            claims = self._authenticate(request)
            if request.route_path == "/$batch" and request.method == "POST":
                reply = self._batch(request, claims)
            else:
                reply = self._run_together([self._prepare(request, claims, fault)])[0]
        except GraphError as e:
            return _error_reply(e, request)
        return _after_the_work(fault, reply, request)

    # --- the request log ------------------------------------------------------------------------------------

    def record(self, entry: dict[str, Any]) -> None:
        if self.log_path:
            with self.lock, open(self.log_path, "a", encoding="utf-8") as log:
                log.write(json.dumps(entry, ensure_ascii=False) + "\n")


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
    parser.add_argument("--page-size", type=int, default=0,
                        help="items per page at most, whatever $top asks (default 0: as Graph, 10 or $top up to 1000)")
    parser.add_argument("--sent-items-delay", type=float, default=0.0,
                        help="seconds before a sent email's copy reaches Sent Items (Exchange: 'may take time')")
    args = parser.parse_args()
    emulator = GraphEmulator(mailboxes=tuple(args.mailbox), page_size=args.page_size or None,
                             roles=args.role or ALL_ROLES, concurrency_limit=args.concurrency_limit or None,
                             client_id=args.client_id, client_secret=args.secret)  # fmt: skip
    emulator.scope = set(args.scope) if args.scope else None
    emulator.latency, emulator.sent_items_delay = args.latency, args.sent_items_delay
    base = emulator.start(args.port)
    print(f"base URL: {base}\nauthority: {base}/{emulator.tenant}\nCA file: {emulator.ca_file}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        emulator.stop()


if __name__ == "__main__":
    main()
