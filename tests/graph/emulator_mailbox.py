"""A mailbox as Exchange keeps it (``Mailbox``: events, categories, folders, messages, settings), and
``MailboxStore``, the base of the emulator's Graph operations: the mailboxes by address, one found as Graph finds
it (404 ErrorInvalidUser otherwise), new ids, a page of a collection.

Public, and importable from ``tests.graph.emulator``: ``Mailbox``. Tests read and change a mailbox directly
(``GraphEmulator.mailbox(user)``), as an adviser or an admin would.
"""

from __future__ import annotations

import itertools
import math
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from tests.graph.emulator_odata import _paged
from tests.graph.emulator_protocol import GraphError, Reply
from tests.graph.emulator_values import _default_settings


@dataclass
class Mailbox:
    """One user's calendar, mail and settings, as Exchange keeps them."""

    address: str
    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    transactions: dict[str, str] = field(default_factory=dict)  # transactionId -> event id
    categories: dict[str, dict[str, Any]] = field(default_factory=dict)
    folders: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> folder (parentFolderId links)
    messages: dict[str, dict[str, Any]] = field(default_factory=dict)  # immutable id -> message
    settings: dict[str, Any] = field(default_factory=lambda: _default_settings())  # mailboxSettings

    def __post_init__(self) -> None:
        root = {"id": "msgfolderroot-" + uuid.uuid4().hex[:8], "displayName": "Top of Information Store",
                "parentFolderId": None, "_wellknown": "msgfolderroot"}  # fmt: skip
        self.folders[root["id"]] = root
        for wellknown, name in (("inbox", "Inbox"), ("sentitems", "Sent Items"), ("drafts", "Drafts"),
                                ("outbox", "Outbox")):  # fmt: skip
            folder_id = f"{wellknown}-{uuid.uuid4().hex[:8]}"
            self.folders[folder_id] = {"id": folder_id, "displayName": name, "parentFolderId": root["id"],
                                       "_wellknown": wellknown}  # fmt: skip

    def folder(self, ref: str) -> dict[str, Any]:
        """A folder by id or by well-known name (inbox, sentitems, drafts, msgfolderroot)."""
        for folder in self.folders.values():
            if folder["id"] == ref or folder.get("_wellknown") == ref.lower():
                return folder
        raise GraphError(404, "ErrorInvalidIdMalformed", "Id is malformed.")


class MailboxStore:
    """The state the Graph operations share; ``GraphEmulator.__init__`` sets it."""

    page_size: int | None  # None: as Graph pages
    base_url: str
    mailboxes: dict[str, Mailbox]
    _ids: itertools.count[int]  # etags

    def mailbox(self, user: str) -> Mailbox:
        box = self.mailboxes.get(user.lower())
        if box is None:
            raise GraphError(404, "ErrorInvalidUser", f"The requested user '{user}' is invalid.")
        _settle(box)
        return box

    def _page(self, items: list[dict[str, Any]], query: dict[str, str], path: str) -> Reply:
        return _paged(items, query, path, self.page_size, self.base_url)

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}{uuid.uuid4().hex}"


def _settle(box: Mailbox, *, now: float | None = None) -> None:
    """Messages whose sending has completed reach Sent Items (see ``MailOperations.send_draft``)."""
    moment = time.monotonic() if now is None else now
    for message in box.messages.values():
        if message.get("_appears_at", math.inf) <= moment:
            del message["_appears_at"]
            message["_folder"] = box.folder("sentitems")["id"]
