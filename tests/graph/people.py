"""Advisers and clients, acting on the Graph emulator's mailboxes as they would in Outlook and their mail apps.

``GraphAdviser`` is the ``tests.people.Desk`` of one adviser on the Microsoft 365 backend: the adviser sets a
category on a call and types notes under the brief's marker (the HTML body Outlook edits), drags it to another
time (Outlook writes the wall-clock time with the Windows zone name) or deletes it; a client answers in the
same conversation, or Exchange returns a non-delivery report. It changes the emulator's state directly, as
the changes made in Outlook reach Exchange, never through m3mail.
"""

from __future__ import annotations

import html
import re
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

from m3mail.backends.microsoft365.backend import KEY_PROPERTY
from tests.graph.emulator import GraphEmulator
from tests.people import Call, Sent

WELL_KNOWN = {"Sent": "sentitems", "Inbox": "inbox"}


def _windows_name(iana: str) -> str:
    """The Windows name Outlook writes for a zone (CLDR windowsZones' "001" zones); the IANA name, which Graph
    takes too, for a zone that is no Windows zone's first."""
    return next((name for name, zone in WINDOWS_TO_OLSON.items() if zone == iana), iana)


def _key(item: dict[str, Any]) -> str:
    return next((str(p.get("value", "")) for p in item.get("singleValueExtendedProperties", [])
                 if p.get("id") == KEY_PROPERTY), "")  # fmt: skip


class GraphAdviser:
    """One adviser's Outlook calendar and mailbox in the emulator; ``timezone``: the zone Outlook runs in."""

    def __init__(self, graph: GraphEmulator, email: str, timezone: str = "Europe/Paris"):
        self.graph, self.email = graph, email.lower()
        self.zone = ZoneInfo(timezone)

    @property
    def _box(self):
        return self.graph.mailbox(self.email)

    @contextmanager
    def editing(self) -> Iterator[None]:
        """Outlook saves every change as it is made: nothing to open or save."""
        with self.graph.lock:
            yield None

    # --- the calendar ------------------------------------------------------------------------------------

    def calls(self, cal: Any = None) -> list[Call]:
        with self.graph.lock:
            events = list(self._box.events.values())
        return [Call(e["id"], key, e["_start"], e["_end"], tuple(e.get("categories") or ()),
                     str((e.get("body") or {}).get("content", ""))) for e in events if (key := _key(e))]  # fmt: skip

    def events(self) -> list[tuple[datetime, datetime, str]]:
        with self.graph.lock:
            return [(e["_start"], e["_end"], e["id"]) for e in self._box.events.values()]

    def _event(self, key: str) -> dict[str, Any]:
        return next(e for e in self._box.events.values() if _key(e) == key)

    def set_outcome(self, key: str, category: str, notes: str = "", cal: Any = None) -> None:
        """The outcome replaces the pending category; the notes are a paragraph typed under the marker."""
        with self.graph.lock:
            event = self._event(key)
            change: dict[str, Any] = {"categories": [category]}
            if notes:
                body = event.get("body") or {"contentType": "text", "content": ""}
                if str(body.get("contentType", "")).lower() == "html":
                    typed = f"<p>{html.escape(notes)}</p>\n"
                    content = str(body["content"])
                    content = content.replace("</body>", typed + "</body>") if "</body>" in content else content + typed
                else:
                    content = f"{body['content']}\n{notes}"
                change["body"] = {"contentType": body.get("contentType", "text"), "content": content}
            self.graph.update_event(self.email, event["id"], change)

    def move(self, key: str, delta: timedelta, cal: Any = None) -> None:
        with self.graph.lock:
            event = self._event(key)
            change = {name: self._outlook_time(event[f"_{name}"] + delta) for name in ("start", "end")}
            self.graph.update_event(self.email, event["id"], change)

    def delete(self, key: str, cal: Any = None) -> None:
        with self.graph.lock:
            self.graph.delete_event(self.email, self._event(key)["id"])

    def _outlook_time(self, moment: datetime) -> dict[str, str]:
        local = moment.astimezone(self.zone).replace(tzinfo=None)
        return {"dateTime": local.isoformat(timespec="seconds"), "timeZone": _windows_name(self.zone.key)}

    # --- the mailbox -------------------------------------------------------------------------------------

    def _folder_id(self, *names: str) -> str | None:
        box = self._box
        if names and names[0] in WELL_KNOWN:
            return box.folder(WELL_KNOWN[names[0]])["id"]
        folder_id = box.folder("msgfolderroot")["id"]
        for name in names:
            found = [f["id"] for f in box.folders.values()
                     if f["parentFolderId"] == folder_id and f["displayName"] == name]  # fmt: skip
            if not found:
                return None
            folder_id = found[0]
        return folder_id

    def _messages(self, *names: str) -> list[dict[str, Any]]:
        with self.graph.lock:
            folder_id = self._folder_id(*names)
            return [m for m in self._box.messages.values() if m["_folder"] == folder_id]

    def sent(self, skip: Collection[str] = ()) -> list[Sent]:
        return [Sent(m["id"], key, m) for m in self._messages("Sent") if m["id"] not in skip and (key := _key(m))]

    def reply_to(self, sent: Sent, text: str, when: datetime) -> None:
        """The client's mail app answers above the quoted message."""
        original = re.sub(r"<[^>]+>", "", str((sent.item.get("body") or {}).get("content", "")))
        quoted = "\n".join("> " + line.strip() for line in html.unescape(original).splitlines() if line.strip())
        with self.graph.lock:
            self.graph.client_reply(self.email, sent.id, f"{text}\n\nLe {when:%d/%m/%Y}, {self.email} a écrit :\n"
                                    f"{chr(10).join(quoted.splitlines()[:5])}\n", when=when)  # fmt: skip

    def bounce(self, sent: Sent, when: datetime) -> None:
        with self.graph.lock:
            self.graph.bounce(self.email, sent.id, when=when)

    def keys(self, *folder: str) -> list[str]:
        return [_key(m) for m in self._messages(*folder)]

    def client_folders(self) -> list[str]:
        with self.graph.lock:
            parent = self._folder_id("Clients")
            folders = self._box.folders.values()
            return sorted(f["displayName"] for f in folders if parent and f["parentFolderId"] == parent)
