"""How the Graph emulator answers a Graph request once its token is checked: the faults a test injected, the
route and the permissions it needs, the mailbox scope, the per-mailbox concurrency limit (429
ApplicationThrottled past it), the latency, the operation itself under the state lock, and the answer shown as
the Prefer header and the query ask. Top-level requests and $batch sub-requests go through the same steps.

``Dispatch`` is a part of ``GraphEmulator``: ``fail()`` is for tests, and ``_fault_for`` is the one place where
faults are consumed (a test may replace it on an instance, to count calls or fail the n-th). Public, and
importable from ``tests.graph.emulator``: ``CONCURRENCY_LIMIT`` and ``ACCESS_DENIED``.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from typing import Any

from tests.graph.emulator_mailbox import MailboxStore
from tests.graph.emulator_odata import _applied, _preferences, _present
from tests.graph.emulator_protocol import Fault, GraphError, Reply, Request, _error_reply
from tests.graph.emulator_routes import ROUTES, Route

CONCURRENCY_LIMIT = 4  # requests in flight per app per mailbox (README, "Outlook limits")
ACCESS_DENIED = "Access is denied. Check credentials and try again."


def _throttled() -> GraphError:
    # What Exchange answers past 4 concurrent requests; Retry-After 1 means "when a call finishes"
    return GraphError(429, "ApplicationThrottled", "Application is over its MailboxConcurrency limit.",
                      {"Retry-After": "1"})  # fmt: skip


@dataclass(eq=False)
class _Call:
    """A request routed and allowed, waiting for a slot on its mailbox."""

    request: Request
    route: Route
    match: re.Match[str]
    mailbox: str  # lower case
    delay: float = 0.0


class Dispatch(MailboxStore):
    """Faults, routing, permissions, scope and concurrency slots; ``GraphEmulator.__init__`` sets the state."""

    scope: set[str] | None  # the mailboxes an access policy lets the app reach; None: all
    concurrency_limit: int | None
    latency: float  # seconds each Graph request stays in flight
    peak_concurrency: dict[str, int]  # mailbox -> most requests seen at once (a refused one counts)
    faults: list[Fault]  # injected failures, consumed in order as requests match them
    lock: threading.RLock
    event_bodies_html_only: bool  # events answered in HTML whatever outlook.body-content-type asks
    _in_flight: dict[str, int]
    _slots: threading.Lock

    # --- injected failures ----------------------------------------------------------------------------------

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

    # --- one Graph request: route, permissions, scope, a slot on its mailbox, the operation ------------------

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
                return _presented(reply, call, html_events=self.event_bodies_html_only)
        except GraphError as e:
            return _error_reply(e, call.request)


def _presented(reply: Reply, call: _Call, *, html_events: bool = False) -> Reply:
    preferences = _preferences(call.request.headers)
    if html_events and call.route.kind == "calendar":
        # event-get.md, user-list-events.md: "Currently, this operation returns event bodies in only HTML format"
        # (while the same page documents outlook.body-content-type): the stricter reading, by default
        preferences.pop("outlook.body-content-type", None)
    body = reply.body if reply.body is None else _present(reply.body, preferences, call.request.query)
    headers = dict(reply.headers)
    if reply.status < 300 and (applied := _applied(preferences, call.route.kind)):
        headers["Preference-Applied"] = applied
    return Reply(reply.status, body, headers)
