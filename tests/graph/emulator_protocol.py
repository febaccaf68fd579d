"""The values every part of the Graph emulator passes around, and the errors it answers with.

A ``Request`` (a top-level one or a $batch sub-request) goes in and a ``Reply`` comes out. An operation that
refuses raises ``GraphError``, which becomes Graph's error body (``_error_reply``); the identity endpoints refuse
as Entra ID does (``_aad_error``). A ``Fault`` is a failure a test injects (``GraphEmulator.fail``); ``_Dropped``
carries a dropped connection up to the HTTP handler, which resets it.

Public, and importable from ``tests.graph.emulator``: ``GraphError``, ``Fault``, ``Reply``, ``Request``,
``JSON_TYPE``, ``http_date``. Names with a leading underscore are shared by the emulator's own modules only.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import unquote

JSON_TYPE = "application/json; odata.metadata=minimal; odata.streaming=true; IEEE754Compatible=false; charset=utf-8"


class GraphError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = dict(headers or {})


class _Dropped(Exception):
    """An injected fault: the connection is reset with no answer."""


@dataclass
class Fault:
    """A failure to inject: the next ``times`` requests matching ``method`` and the ``path`` pattern (searched in
    the path as sent, /v1.0 included; a $batch's sub-requests are matched one by one) get ``status`` (with
    Retry-After when set), or see their connection dropped before any answer (for a sub-request: the whole
    batch's), or, with ``delay`` alone, are answered normally ``delay`` seconds late (in flight meanwhile).

    ``executed``: the request is carried out first, and only then answered with the status or dropped: a 504
    from a gateway whose backend did the work, an answer lost with its connection (graph/errors, 504 row).
    ``retry_after`` is written as given: whole seconds (7), a fraction ("0.249", as inside $batch answers) or an
    HTTP-date (``http_date(seconds)``)."""

    method: str
    path: str
    status: int | None = None  # 429 unless the fault is a drop or a delay
    retry_after: float | str | None = None
    drop: bool = False
    times: int = 1
    delay: float = 0.0
    executed: bool = False

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


# --- answers: errors -------------------------------------------------------------------------------------------


def _error_reply(e: GraphError, request: Request | None) -> Reply:
    client_request = (request.headers.get("client-request-id") if request is not None else None) or str(uuid.uuid4())
    inner = {"date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"), "request-id": str(uuid.uuid4()),
             "client-request-id": client_request}  # fmt: skip
    return Reply(e.status, {"error": {"code": e.code, "message": e.message, "innerError": inner}}, dict(e.headers))


_FAULT_CODES = {429: "TooManyRequests", 503: "ServiceUnavailable", 504: "GatewayTimeout"}  # graph/errors codes


def _fault_error(fault: Fault) -> GraphError:
    status = fault.status or 429
    headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
    return GraphError(status, _FAULT_CODES.get(status, "UnknownError"), "Injected failure.", headers)


def _after_the_work(fault: Fault | None, reply: Reply, request: Request) -> Reply:
    """The answer to a request that was carried out: itself, or, for an ``executed`` fault, its status or a
    dropped connection instead."""
    if fault is None or not fault.executed or not (fault.drop or fault.status):
        return reply
    if fault.drop:
        raise _Dropped
    return _error_reply(_fault_error(fault), request)


def http_date(seconds: float) -> str:
    """An HTTP-date (RFC 9110 IMF-fixdate) ``seconds`` from now, rounded up to the second: a Retry-After form."""
    return format_datetime(datetime.fromtimestamp(math.ceil(time.time() + seconds), UTC), usegmt=True)


def _aad_error(status: int, error: str, number: int, description: str) -> Reply:
    """An Entra ID token endpoint error, as msal receives it."""
    trace, correlation, stamp = uuid.uuid4(), uuid.uuid4(), datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    return Reply(status, {
        "error": error, "error_codes": [number], "timestamp": stamp, "trace_id": str(trace),
        "correlation_id": str(correlation), "error_uri": f"https://login.microsoftonline.com/error?code={number}",
        "error_description": f"AADSTS{number}: {description} Trace ID: {trace} Correlation ID: {correlation} "
                             f"Timestamp: {stamp}",
    })  # fmt: skip
