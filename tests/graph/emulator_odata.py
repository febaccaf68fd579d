"""OData as the Graph emulator reads and writes it: the ``$filter`` expressions the backend sends, paging with
``$top``/``$skip`` and ``@odata.nextLink``, and how an item is shown: the ``Prefer`` preferences (time zone, body
content type, immutable ids) echoed in ``Preference-Applied``, ``$expand`` of extended properties, ``$select``.

Pure functions. Public, and importable from ``tests.graph.emulator``: ``PAGE_SIZE``, the default page size.
Names with a leading underscore are shared by the emulator's own modules only.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from tests.graph.emulator_protocol import GraphError, Reply
from tests.graph.emulator_values import _wall, _zone

PAGE_SIZE = 3  # the tests' small pages, so that every client follows @odata.nextLink
# As Graph pages (page_size=None): "The default page size is 10 messages. Use $top to customize the page size,
# within the range of 1 and 1000" (user-list-messages.md); events and calendarView state no figure: the same
# assumed (a guess, PROVENANCE.md)
GRAPH_DEFAULT_PAGE, GRAPH_MAX_PAGE = 10, 1000


# --- $filter: what the backend sends ----------------------------------------------------------------------------


_EXT_FILTER = re.compile(
    r"singleValueExtendedProperties/Any\(\s*(\w+)\s*:\s*\1/id\s+eq\s+'([^']*)'\s+and\s+"
    r"(?:\1/value\s+(?P<op>eq|ne)\s+'(?P<eq>(?:[^']|'')*)'|startswith\(\s*\1/value\s*,\s*'(?P<prefix>[^']*)'\s*\))"
    r"\s*\)",
    re.IGNORECASE,
)


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


# --- paging ------------------------------------------------------------------------------------------------------


def _paged(items: list[dict[str, Any]], query: dict[str, str], path: str, page_size: int | None,
           base_url: str) -> Reply:  # fmt: skip
    """One page of a collection, with ``@odata.nextLink`` to the next one: at most ``page_size`` items whatever
    ``$top`` asks, or, with None, as Graph pages (10 by default, ``$top`` up to 1000)."""
    if page_size is None:
        top = max(1, min(int(query.get("$top", GRAPH_DEFAULT_PAGE)), GRAPH_MAX_PAGE))
    else:
        top = min(int(query.get("$top", page_size)), page_size)
    skip = int(query.get("$skip", 0))
    page = items[skip : skip + top]
    body: dict[str, Any] = {"@odata.context": f"{base_url}/v1.0/$metadata", "value": page}
    if skip + top < len(items):
        following = dict(query, **{"$skip": str(skip + top), "$top": str(top)})
        body["@odata.nextLink"] = f"{base_url}{path}?{urlencode(following)}"
    return Reply(200, body)


# --- answers: presentation ---------------------------------------------------------------------------------------


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
