"""JSON batching in the Graph emulator (``POST /v1.0/$batch``), as Microsoft's JSON batching page
(concepts/json-batching.md) describes it and Graph applies it:
- the envelope is checked before anything runs, and a malformed batch fails whole with 400: more than 20
  requests, an id used twice (ids are not case-sensitive), a write without its ``body`` and ``Content-Type``
  header, an absolute url, a ``dependsOn`` naming no earlier request;
- "Batch should be either fully sequential or fully parallel" (the page's TIP): either no request has
  ``dependsOn``, or each one but the first depends on the one before it, and nothing else; a batch mixing the
  two is refused whole with 400 (msgraph-sdk-java-core#71 and a reported spike; the message text is a guess);
- a parallel batch's requests are in flight together (so past 4 on one mailbox, the others are throttled, 429
  ApplicationThrottled), and their answers come in an order of Graph's ("might appear in a different order than
  the requests": here the reverse one);
- a sequential batch runs one request at a time, in order; once one fails, every later one fails with 424
  FailedDependency ("If an individual request fails, any request that depends on that request fails with status
  code 424").

``Batching`` is a part of ``GraphEmulator``. Public, and importable from ``tests.graph.emulator``:
``batch_requests(body)`` (a $batch envelope checked as Graph checks it) and ``BATCH_LIMIT``.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

from requests.structures import CaseInsensitiveDict

from tests.graph.emulator_dispatch import Dispatch, _Call
from tests.graph.emulator_protocol import (
    JSON_TYPE,
    GraphError,
    Reply,
    Request,
    _after_the_work,
    _Dropped,
    _error_reply,
    _fault_error,
)

BATCH_LIMIT = 20  # requests in one $batch (json-batching, "Batch size limitations")
MIXED = "Batch should be either fully sequential or fully parallel."  # the page's words; Graph's own text unknown


class Batching(Dispatch):
    """A $batch's requests through the steps of ``Dispatch``: all at once, or one after the other."""

    def _batch(self, request: Request, claims: dict[str, Any]) -> Reply:
        items = batch_requests(request.body)
        if any(item.get("dependsOn") for item in items):
            responses = self._in_sequence(items, claims)
        else:
            responses = self._in_parallel(items, claims)[::-1]  # any order: not the requests'
        return Reply(200, {"responses": responses})

    def _in_parallel(self, items: list[dict[str, Any]], claims: dict[str, Any]) -> list[dict[str, Any]]:
        """The requests in flight together; each answered on its own (a fault, a refusal, the throttle)."""
        results: dict[str, Reply] = {}
        ready: list[tuple[str, _Call, Any]] = []
        for item in items:
            sub = _sub_request(item)
            try:
                fault = self._sub_fault(sub)
                ready.append((item["id"], self._prepare(sub, claims, fault), fault))
            except GraphError as e:
                results[item["id"]] = _error_reply(e, sub)
        replies = self._run_together([call for _, call, _f in ready])
        for (ident, call, fault), reply in zip(ready, replies, strict=True):
            results[ident] = _after_the_work(fault, reply, call.request)
        return [_sub_response(item["id"], results[item["id"]]) for item in items]

    def _in_sequence(self, items: list[dict[str, Any]], claims: dict[str, Any]) -> list[dict[str, Any]]:
        """One request after the other; after a failed one, the rest fail with 424."""
        responses: list[dict[str, Any]] = []
        failed: str | None = None
        for item in items:
            sub = _sub_request(item)
            try:
                if failed is not None:
                    raise GraphError(424, "FailedDependency", f"Request '{failed}', a dependency, failed.")
                fault = self._sub_fault(sub)
                call = self._prepare(sub, claims, fault)
                reply = _after_the_work(fault, self._run_together([call])[0], sub)
            except GraphError as e:
                reply = _error_reply(e, sub)
            if reply.status >= 400 and failed is None:
                failed = item["id"]
            responses.append(_sub_response(item["id"], reply))
        return responses

    def _sub_fault(self, sub: Request) -> Any:
        """The fault injected for a sub-request, raised here unless it waits for the work to be done."""
        fault = self._fault_for(sub.method, sub.path)
        if fault is not None and not fault.executed:
            if fault.drop:
                raise _Dropped
            if fault.status:
                raise _fault_error(fault)
        return fault


# --- $batch: the envelope, the answers ---------------------------------------------------------------------------


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
    if any(item.get("dependsOn") for item in items) and not _a_chain(items):
        raise GraphError(400, "BadRequest", MIXED)
    return items


def _a_chain(items: list[dict[str, Any]]) -> bool:
    """Fully sequential: the first request depends on none, each later one on the one before it alone."""
    if items and items[0].get("dependsOn"):
        return False
    return all([str(d).lower() for d in item.get("dependsOn") or ()] == [before["id"].lower()]
               for before, item in zip(items, items[1:], strict=False))  # fmt: skip


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
