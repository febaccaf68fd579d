"""JSON batching in the Graph emulator (``POST /v1.0/$batch``): the envelope checked as Graph checks it before
running anything, the requests run in waves along ``dependsOn`` (424 FailedDependency after a failed one), the
requests of a wave in flight together, the answers in the order they ran.

``Batching`` is a part of ``GraphEmulator``. Public, and importable from ``tests.graph.emulator``:
``batch_requests(body)`` (a $batch envelope checked as Graph checks it) and ``BATCH_LIMIT``.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

from requests.structures import CaseInsensitiveDict

from tests.graph.emulator_dispatch import Dispatch, _Call
from tests.graph.emulator_protocol import JSON_TYPE, GraphError, Reply, Request, _Dropped, _error_reply, _fault_error

BATCH_LIMIT = 20  # requests in one $batch (shared/graph README, "$batch")


class Batching(Dispatch):
    """A $batch's requests through the steps of ``Dispatch``, wave by wave."""

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
