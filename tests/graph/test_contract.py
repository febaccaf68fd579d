"""The Microsoft 365 backend passes the backend contract, acted on through the emulator as Outlook users would."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from m3mail.backends.microsoft365.backend import KEY_PROPERTY, Microsoft365Backend
from m3mail.backends.microsoft365.connection import GraphAccess
from m3mail.models import SentMail
from tests.backends.contract import ADVISER, FILING, BackendContract
from tests.graph.emulator import GraphEmulator

WELL_KNOWN = {"Sent": "sentitems", "Inbox": "inbox"}


def _local(moment: datetime) -> dict[str, str]:
    paris = moment.astimezone(ZoneInfo("Europe/Paris")).replace(tzinfo=None)
    return {"dateTime": paris.isoformat(timespec="seconds"), "timeZone": "Romance Standard Time"}  # as Outlook


class TestMicrosoft365(BackendContract):
    @pytest.fixture
    def emulator(self, tmp_path) -> GraphEmulator:
        graph = GraphEmulator(mailboxes=(ADVISER, FILING))
        graph.start(folder=tmp_path / "tls")
        yield graph
        graph.stop()

    @pytest.fixture
    def backend(self, emulator: GraphEmulator) -> Microsoft365Backend:
        base = emulator.base_url
        return Microsoft365Backend(GraphAccess(emulator.tenant, "m3mail-app", "a-secret", graph_url=base,
                                               authority_url=base, ca_bundle=str(emulator.ca_file)))  # fmt: skip

    def _graph(self, backend: Microsoft365Backend) -> GraphEmulator:
        return self._emulator

    @pytest.fixture(autouse=True)
    def _keep(self, emulator: GraphEmulator) -> None:
        self._emulator = emulator

    def _event_id(self, adviser: str, key: str) -> str:
        for event in self._emulator.mailbox(adviser).events.values():
            if any(p.get("id") == KEY_PROPERTY and p.get("value") == key
                   for p in event.get("singleValueExtendedProperties", [])):  # fmt: skip
                return event["id"]
        raise KeyError(key)

    def move(self, backend, adviser: str, key: str, start: datetime, end: datetime) -> None:
        self._emulator.update_event(adviser, self._event_id(adviser, key), {"start": _local(start), "end": _local(end)})

    def delete(self, backend, adviser: str, key: str) -> None:
        self._emulator.delete_event(adviser, self._event_id(adviser, key))

    def categorise(self, backend, adviser: str, key: str, categories: tuple[str, ...], notes: str) -> None:
        body = {"categories": list(categories), "body": {"contentType": "text", "content": f"brief\n{notes}"}}
        self._emulator.update_event(adviser, self._event_id(adviser, key), body)

    def add_busy(self, backend, adviser: str, start: datetime, end: datetime, subject: str, *,
                 free: bool = False, weeks: int = 1) -> None:  # fmt: skip
        for week in range(weeks):  # the occurrences of a weekly series, as calendarView lists them
            shift = timedelta(weeks=week)
            event = {"subject": subject, "showAs": "free" if free else "busy", "start": _local(start + shift),
                     "end": _local(end + shift)}  # fmt: skip
            self._emulator.create_event(adviser, event)

    def reply(self, backend, adviser: str, sent: SentMail, subject: str, text: str, when: datetime) -> None:
        self._emulator.client_reply(adviser, sent.id, text, subject=subject, when=when)

    def bounce(self, backend, adviser: str, sent: SentMail, when: datetime) -> None:
        self._emulator.bounce(adviser, sent.id, when=when)

    def category_names(self, backend, adviser: str) -> list[str]:
        return [c["displayName"] for c in self._emulator.mailbox(adviser).categories.values()]

    def messages(self, backend, mailbox: str, folder: tuple[str, ...]) -> list[tuple[str, bool]]:
        box = self._emulator.mailbox(mailbox)
        if folder[0] in WELL_KNOWN:
            folder_id = box.folder(WELL_KNOWN[folder[0]])["id"]
        else:
            folder_id = box.folder("msgfolderroot")["id"]
            for name in folder:
                folder_id = next(f["id"] for f in box.folders.values()
                                 if f["parentFolderId"] == folder_id and f["displayName"] == name)  # fmt: skip
        return [(m["subject"], m["isRead"]) for m in box.messages.values() if m["_folder"] == folder_id]
