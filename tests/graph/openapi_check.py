"""Check the Graph requests an emulator log recorded against Microsoft's API description, with openapi-core.

Public: ``check_log(path) -> list[str]``, one problem per request Graph's description refuses (unknown path or
method, a bad enum value or type, a missing parameter), a ``$batch`` line expanded into its sub-requests, each
checked as its own request (and its envelope checked as the emulator checks it); ``check_request(record)``
for one ``{"method", "path", "query", "headers", "body"}`` (path with /v1.0, as logged). Identity lines (token,
metadata) are skipped.

The description is graph_openapi_subset.json, a copy of shared/graph's (generated from Microsoft's CSDL). It
is read as Microsoft means it, with three adjustments (``_adjusted``), without which it would let through what
Graph refuses:
- a nullable complex or enum property is written ``anyOf: [the type, {type: object, nullable: true}]``: taken
  literally, the second branch accepts any object, so nothing inside a complex property (an event's ``body``, a
  setting's ``status``) would be checked. It is read as meant: the type, or null;
- enum members are matched without regard to case, as Graph matches them (Microsoft's own examples write
  ``"contentType": "HTML"`` and ``"importance": "Low"``);
- Edm.TimeOfDay has ``format: time`` (RFC 3339, which wants an offset) beside a pattern that accepts Graph's
  ``08:30:00.0000000``: the pattern is kept, the format dropped.
Action bodies (getSchedule, copy, move, sendMail...) are described with the CSDL's PascalCase parameter names
and no ``required``; Graph accepts, and Microsoft's examples write, camelCase, which the validator would let
through unchecked as unknown properties. They are renamed to the described case first, so that their values
are checked too. Event and message are open types (no ``additionalProperties: false``): a misspelt property
name is not caught.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from openapi_core import OpenAPI
from openapi_core.exceptions import OpenAPIError
from openapi_core.testing import MockRequest

from tests.graph.emulator import GraphError, batch_requests

DESCRIPTION = Path(__file__).with_name("graph_openapi_subset.json")
HOST = "https://graph.microsoft.com"
_NULL_ONLY = "x-m3mail-null-only"  # marks the null branches, whose failures say nothing about the value


def check_log(path: str | Path) -> list[str]:
    problems = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        entry = json.loads(line) if line.strip() else {}
        if not str(entry.get("path", "")).startswith("/v1.0/"):
            continue
        problems += [f"line {number}: {problem}" for problem in _entry_problems(entry)]
    return problems


def _entry_problems(entry: dict[str, Any]) -> Iterator[str]:
    label = f"{entry['method']} {unquote(entry['path'])}"
    if unquote(entry["path"]) != "/v1.0/$batch":
        if problem := check_request(entry):
            yield f"{label}: {problem}"
        return
    try:
        items = batch_requests(entry.get("body"))
    except GraphError as e:
        yield f"{label}: {e.message}"
        return
    auth = {k: v for k, v in (entry.get("headers") or {}).items() if k.lower() == "authorization"}
    for item in items:
        sub = _sub_record(item, auth)
        if problem := check_request(sub):
            yield f"{label} request {item['id']} ({sub['method']} {unquote(sub['path'])}): {problem}"


def _sub_record(item: dict[str, Any], auth: dict[str, str]) -> dict[str, Any]:
    """A batch's sub-request as a top-level request: its url under /v1.0, the batch's authorization."""
    url = urlsplit(item["url"] if item["url"].startswith("/") else "/" + item["url"])
    query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
    return {"method": item["method"].upper(), "path": "/v1.0" + url.path, "query": query,
            "headers": {**auth, **(item.get("headers") or {})}, "body": item.get("body")}  # fmt: skip


def check_request(record: dict[str, Any]) -> str | None:
    """What Graph's description finds wrong with one request, or None."""
    method, path = record["method"].lower(), record["path"]
    headers = dict(record.get("headers") or {})
    body = _action_body(method, unquote(path), record.get("body"))
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "application/json")
    request = MockRequest(HOST, method, path, args=record.get("query") or {}, headers=headers,
                          data=None if body is None else json.dumps(body).encode(),
                          content_type=content_type.split(";")[0].strip())  # fmt: skip
    try:
        _description().validate_request(request)
    except OpenAPIError as e:
        return _described(e)
    return None


@functools.cache
def _description() -> OpenAPI:
    return OpenAPI.from_dict(_adjusted(json.loads(DESCRIPTION.read_text(encoding="utf-8"))))


def _adjusted(node: Any) -> Any:
    """The description as Microsoft means it (see the module docstring)."""
    if isinstance(node, list):
        return [_adjusted(n) for n in node]
    if not isinstance(node, dict):
        return node
    node = {k: _adjusted(v) for k, v in node.items()}
    if isinstance(node.get("anyOf"), list):
        node["anyOf"] = [{**b, "maxProperties": 0, _NULL_ONLY: True} if b == {"type": "object", "nullable": True}
                         else b for b in node["anyOf"]]  # fmt: skip
    if node.get("type") == "string" and isinstance(node.get("enum"), list):
        members = node.pop("enum")
        node["pattern"] = "(?i)^(" + "|".join(re.escape(str(m)) for m in members) + ")$"
    if node.get("format") == "time" and "pattern" in node:
        del node["format"]
    return node


@functools.cache
def _raw_operations() -> list[tuple[re.Pattern[str], str, dict[str, Any]]]:
    document = json.loads(DESCRIPTION.read_text(encoding="utf-8"))
    operations = []
    for template, item in document["paths"].items():
        pattern = re.compile("/v1.0" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)))
        operations += [(pattern, method, op) for method, op in item.items() if isinstance(op, dict)]
    return operations


def _action_body(method: str, path: str, body: Any) -> Any:
    """An action's body with its parameter names in the described case (destinationId -> DestinationId)."""
    if not isinstance(body, dict):
        return body
    for pattern, verb, operation in _raw_operations():
        if verb == method and pattern.fullmatch(path) and operation.get("x-ms-docs-operation-type") == "action":
            schema = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
            names = {name.lower(): name for name in schema.get("properties", {})}
            return {names.get(k.lower(), k): copy.deepcopy(v) for k, v in body.items()}
    return body


def _described(error: OpenAPIError) -> str:
    cause = error.__cause__
    leaves = list(_leaves(getattr(cause, "schema_errors", None) or ()))
    if leaves:
        return "; ".join(dict.fromkeys(f"{_where(e)}: {e.message}" for e in leaves))
    return f"{error}" + (f" ({cause})" if cause is not None else "")


def _leaves(errors: Any) -> Iterator[Any]:
    """The innermost schema errors, leaving out those of the null branches."""
    for e in errors:
        if isinstance(e.schema, dict) and e.schema.get(_NULL_ONLY):
            continue
        inner = list(_leaves(e.context or ()))
        yield from inner or [e]


def _where(error: Any) -> str:
    return ".".join(["body", *(str(p) for p in error.absolute_path)])
