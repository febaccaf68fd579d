"""The mail half of the Graph emulator: folders (by id or well-known name; ErrorFolderExists), drafts and messages
(draft or not from the message flags property), sending (a draft, or sendMail), copy and move with ids that
change unless immutable ids are asked for, conversations and the message filters; and what clients and their
mail servers do, for the tests: ``client_reply`` and ``bounce``.

``MailOperations`` is a part of ``GraphEmulator``.
"""

from __future__ import annotations

import math
import re
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from tests.graph.emulator_mailbox import Mailbox, MailboxStore, _settle
from tests.graph.emulator_mime import graph_message
from tests.graph.emulator_odata import _message_matches
from tests.graph.emulator_protocol import GraphError, Reply
from tests.graph.emulator_values import _now


class MailOperations(MailboxStore):
    """Folders and messages, in the mailboxes of ``MailboxStore``."""

    sent_items_delay: float  # seconds from a send's 202 to its copy in Sent Items
    folder_exists_status: int  # the status of ErrorFolderExists (undocumented: 409 here, 400 also reported)
    lock: threading.RLock

    # --- Graph: mail folders and messages ---------------------------------------------------------------------

    def child_folders(self, user: str, parent: str, query: dict[str, str], path: str) -> Reply:
        box = self.mailbox(user)
        parent_id = box.folder(parent)["id"]
        folders = [f for f in box.folders.values() if f["parentFolderId"] == parent_id]
        if flt := query.get("$filter"):
            m = re.fullmatch(r"displayName eq '((?:[^']|'')*)'", flt.strip())
            if not m:
                raise GraphError(400, "ErrorInvalidUrlQueryFilter", f"The filter is not supported: {flt}")
            folders = [f for f in folders if f["displayName"].lower() == m[1].replace("''", "'").lower()]
        return self._page(folders, query, path)

    def create_folder(self, user: str, parent: str, body: dict[str, Any]) -> Reply:
        box = self.mailbox(user)
        parent_id = box.folder(parent)["id"]
        name = str((body or {}).get("displayName", ""))
        if any(f["parentFolderId"] == parent_id and f["displayName"].lower() == name.lower()
               for f in box.folders.values()):  # fmt: skip
            # the code is documented (EWS ResponseCode); the status is not (400 and 409 both reported): settable
            raise GraphError(self.folder_exists_status, "ErrorFolderExists",
                             "A folder with the specified name already exists.")  # fmt: skip
        folder = {"id": self._new_id("AAMkFo"), "displayName": name, "parentFolderId": parent_id}
        box.folders[folder["id"]] = folder
        return Reply(201, folder)

    def create_message(self, user: str, folder: str | None, body: dict[str, Any], prefer: str) -> Reply:
        """A draft in Drafts (POST /messages), or a message in a folder: a draft too, unless the message flags
        property (PR_MESSAGE_FLAGS, "Integer 0x0E07") says read (1), which makes it a sent-looking item."""
        box = self.mailbox(user)
        flags = next((p.get("value") for p in body.get("singleValueExtendedProperties", [])
                      if p.get("id", "").lower() == "integer 0x0e07"), None)  # fmt: skip
        bits = None if flags is None else int(flags)  # MSGFLAG_READ = 1, MSGFLAG_UNSENT = 8
        message = {"id": self._new_id("AAMkMs"), "internetMessageId": f"<{uuid.uuid4().hex}@emulator.example>",
                   "conversationId": self._new_id("AAQkCv"), "isDraft": bits is None or bool(bits & 8),
                   "isRead": bits is None or bool(bits & 1), "createdDateTime": _now(), "receivedDateTime": _now(),
                   **body}  # fmt: skip
        message["_folder"] = box.folder(folder or "drafts")["id"]
        box.messages[message["id"]] = message
        return Reply(201, self._shown(message, prefer))

    def send_draft(self, user: str, message_id: str) -> Reply:
        """202: accepted. The draft leaves Drafts at once; its copy reaches Sent Items, under the same immutable
        id, only once it has really gone, ``sent_items_delay`` seconds later (math.inf: when a test calls
        ``complete_sends``); meanwhile it is nowhere to be seen and a GET of its id answers 404 (message-send,
        outlook-immutable-id: "The copy of the message is not created until the message successfully sends,
        which may take time"). How long is not documented: the delay is the tests' to set."""
        box = self.mailbox(user)
        message = self._message(box, message_id)
        if not message.get("isDraft"):
            raise GraphError(400, "ErrorInvalidOperation", "Only a draft can be sent.")
        message.update(isDraft=False, isRead=True, sentDateTime=_now(), _folder=box.folder("sentitems")["id"],
                       _sends=message.get("_sends", 0) + 1)  # fmt: skip
        if self.sent_items_delay > 0:
            message.update(_folder=box.folder("outbox")["id"], _appears_at=time.monotonic() + self.sent_items_delay)
        self._moved(message)
        return Reply(202)

    def complete_sends(self) -> int:
        """Every message on its way reaches Sent Items now; returns how many did."""
        done = 0
        with self.lock:
            for box in self.mailboxes.values():
                for message in box.messages.values():
                    if "_appears_at" in message:
                        message["_appears_at"] = -math.inf
                        done += 1
                _settle(box)
        return done

    def send_mail(self, user: str, body: Any) -> Reply:
        """sendMail: 202 and no id; a copy in Sent Items unless saveToSentItems is false (either case of the
        parameter names, as for every action)."""
        box = self.mailbox(user)
        args = {str(k).lower(): v for k, v in (body if isinstance(body, dict) else {}).items()}
        message = args.get("message")
        if not isinstance(message, dict):
            raise GraphError(400, "ErrorInvalidRequest", "The message parameter is required.")
        if not any(message.get(k) for k in ("toRecipients", "ccRecipients", "bccRecipients")):
            raise GraphError(400, "ErrorInvalidRecipients", "At least one recipient isn't valid., A message can't "
                             "be sent because it contains no recipients.")  # fmt: skip
        if str(args.get("savetosentitems", True)).lower() != "false":
            sent = {"id": self._new_id("AAMkMs"), "internetMessageId": f"<{uuid.uuid4().hex}@emulator.example>",
                    "conversationId": self._new_id("AAQkCv"), "createdDateTime": _now(), "receivedDateTime": _now(),
                    **message, "isDraft": False, "isRead": True, "sentDateTime": _now(),
                    "_folder": box.folder("sentitems")["id"]}  # fmt: skip
            box.messages[sent["id"]] = sent
        return Reply(202)

    def copy_or_move(self, user: str, message_id: str, body: dict[str, Any], prefer: str, move: bool) -> Reply:
        box = self.mailbox(user)
        message = self._message(box, message_id)
        target = box.folder(str(body.get("destinationId") or body.get("DestinationId") or ""))["id"]
        if move:
            message["_folder"] = target
            self._moved(message)
            return Reply(201, self._shown(message, prefer))
        duplicate = {**message, "id": self._new_id("AAMkMs"), "_folder": target}
        duplicate.pop("_rest", None)
        box.messages[duplicate["id"]] = duplicate
        return Reply(201, self._shown(duplicate, prefer))

    def list_messages(self, user: str, folder: str | None, query: dict[str, str], path: str, prefer: str) -> Reply:
        box = self.mailbox(user)
        items = [m for m in box.messages.values() if "_appears_at" not in m]  # on their way: nowhere yet
        if folder is not None:
            folder_id = box.folder(folder)["id"]
            items = [m for m in items if m["_folder"] == folder_id]
        if flt := query.get("$filter"):
            items = [m for m in items if _message_matches(m, flt)]
        page = self._page(sorted(items, key=lambda m: m["receivedDateTime"]), query, path)
        page.body["value"] = [self._shown(m, prefer) for m in page.body["value"]]
        return page

    def get_message(self, user: str, message_id: str, prefer: str) -> Reply:
        return Reply(200, self._shown(self._message(self.mailbox(user), message_id), prefer))

    # --- what clients and their mail servers do, for the tests ---------------------------------------------

    def client_reply(self, user: str, message_id: str, text: str, *, subject: str = "",
                     when: datetime | None = None) -> dict[str, Any]:  # fmt: skip
        """The client answers a message: a new message in the Inbox, in the same conversation, its headers
        pointing at the original (In-Reply-To, References) as mail clients write them."""
        box = self.mailbox(user)
        original = self._message(box, message_id)
        received = (when or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        to = (original.get("toRecipients") or [{"emailAddress": {"address": "client@example.com"}}])[0]
        reply = {"id": self._new_id("AAMkMs"), "internetMessageId": f"<{uuid.uuid4().hex}@client.example>",
                 "conversationId": original["conversationId"], "subject": "RE: " + original.get("subject", ""),
                 "from": to, "toRecipients": [{"emailAddress": {"address": user}}], "isDraft": False,
                 "isRead": False, "body": {"contentType": "text", "content": text},
                 "receivedDateTime": received, "_folder": box.folder("inbox")["id"],
                 "internetMessageHeaders": [{"name": name, "value": original["internetMessageId"]}
                                            for name in ("In-Reply-To", "References")]}  # fmt: skip
        if subject:
            reply["subject"] = subject
        box.messages[reply["id"]] = reply
        return reply

    def deliver_mime(self, user: str, raw: bytes, *, when: datetime | None = None) -> dict[str, Any]:
        """A message from the internet reaches the user's Inbox, stored as Exchange stores it (emulator_mime)."""
        box = self.mailbox(user)
        message = graph_message(box, raw, when or datetime.now(UTC), self._new_id("AAMkMs"))
        message["_folder"] = box.folder("inbox")["id"]
        box.messages[message["id"]] = message
        return message

    def attachments(self, user: str, message_id: str, query: dict[str, str], path: str) -> Reply:
        """A message's attachments (message-list-attachments.md); an attached message without its item."""
        message = self._message(self.mailbox(user), message_id)
        listed = [{k: v for k, v in a.items() if not k.startswith("_")} for a in message.get("_attachments", [])]
        return self._page(listed, query, path)

    def attachment(self, user: str, message_id: str, attachment_id: str, query: dict[str, str]) -> Reply:
        """One attachment; an attached message's ``item`` with ``$expand=microsoft.graph.itemattachment/item``
        (attachment-get.md)."""
        message = self._message(self.mailbox(user), message_id)
        for found in message.get("_attachments", []):
            if found["id"] == attachment_id:
                shown = {k: v for k, v in found.items() if not k.startswith("_")}
                if "itemattachment/item" in query.get("$expand", "").lower() and "_item" in found:
                    shown["item"] = found["_item"]
                return Reply(200, shown)
        raise GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")

    def bounce(self, user: str, message_id: str, *, when: datetime | None = None) -> dict[str, Any]:
        """Exchange's non-delivery report: in the Inbox, threaded into the original's conversation (it has no
        In-Reply-To of its own)."""
        reply = self.client_reply(user, message_id, "Delivery has failed to these recipients or groups.", when=when)
        reply["internetMessageHeaders"] = []
        sender = f"MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e@{user.split('@')[-1]}"
        reply["subject"] = "Undeliverable: " + reply["subject"].removeprefix("RE: ")
        reply["from"] = {"emailAddress": {"name": "Microsoft Outlook", "address": sender}}
        return reply

    def _message(self, box: Mailbox, message_id: str) -> dict[str, Any]:
        for message in box.messages.values():
            if message_id in (message["id"], message.get("_rest")) and "_appears_at" not in message:
                return message
        raise GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")

    @staticmethod
    def _moved(message: dict[str, Any]) -> None:
        """Without immutable ids, an item gets a new id when it changes folder (shared/graph README)."""
        message["_rest"] = f"AAMkMv{uuid.uuid4().hex}"

    @staticmethod
    def _shown(message: dict[str, Any], prefer: str) -> dict[str, Any]:
        shown = dict(message)
        if "_rest" in message and 'IdType="ImmutableId"' not in prefer:
            shown["id"] = message["_rest"]
        shown["parentFolderId"] = message["_folder"]
        return shown
