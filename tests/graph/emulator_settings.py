"""A mailbox's Outlook settings in the Graph emulator: master categories (created, read, recoloured, deleted) and
mailboxSettings (read, and a PATCH that merges), and what an adviser sets in Outlook: automatic replies and
working hours.

``SettingsOperations`` is a part of ``GraphEmulator``; ``set_out_of_office``, ``clear_out_of_office`` and
``set_working_hours`` are for tests.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from tests.graph.emulator_mailbox import MailboxStore
from tests.graph.emulator_protocol import GraphError, Reply
from tests.graph.emulator_values import _DAYS, _WORKDAYS, _check_settings, _enum, _utc_dtz

_COLOURS = ("none", *(f"preset{n}" for n in range(25)))


class SettingsOperations(MailboxStore):
    """Categories and mailboxSettings, in the mailboxes of ``MailboxStore``."""

    category_duplicate: tuple[int, str]  # the answer to a category name that exists (undocumented: a guess)

    # --- Graph: master categories ---------------------------------------------------------------------------

    def categories(self, user: str) -> Reply:
        return Reply(200, {"value": list(self.mailbox(user).categories.values())})

    def create_category(self, user: str, body: dict[str, Any]) -> Reply:
        box = self.mailbox(user)
        name = str(body.get("displayName", ""))
        if not name:
            raise GraphError(400, "ErrorInvalidRequest", "displayName is required.")
        if any(c["displayName"].lower() == name.lower() for c in box.categories.values()):
            # outlookcategory: "The displayName value must be unique in a user's master list"; what Graph answers
            # is documented nowhere (status, code): a guess, settable, so that no client can lean on it
            status, code = self.category_duplicate
            raise GraphError(status, code, "A category with this display name already exists.")
        color = _enum(body.get("color", "none"), _COLOURS, "categoryColor")
        category = {"id": str(uuid.uuid4()), "displayName": name, "color": color}
        box.categories[category["id"]] = category
        return Reply(201, category)

    def category(self, user: str, category_id: str) -> dict[str, Any]:
        category = self.mailbox(user).categories.get(category_id)
        if category is None:
            raise GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
        return category

    def update_category(self, user: str, category_id: str, body: dict[str, Any]) -> Reply:
        """Only the colour changes: the display name is read-only once created (outlookcategory reference)."""
        category = self.category(user, category_id)
        if "displayName" in body and body["displayName"] != category["displayName"]:
            raise GraphError(400, "ErrorInvalidRequest", "The displayName of a category can't be changed.")
        if "color" in body:
            category["color"] = _enum(body["color"], _COLOURS, "categoryColor")
        return Reply(200, category)

    def delete_category(self, user: str, category_id: str) -> Reply:
        self.category(user, category_id)
        del self.mailbox(user).categories[category_id]
        return Reply(204)

    # --- Graph: mailboxSettings -------------------------------------------------------------------------------

    def mailbox_settings(self, user: str) -> Reply:
        settings = copy.deepcopy(self.mailbox(user).settings)
        context = f"{self.base_url}/v1.0/$metadata#users('{user}')/mailboxSettings"
        return Reply(200, {"@odata.context": context, **settings})

    def update_mailbox_settings(self, user: str, body: Any) -> Reply:
        """PATCH merges: a complex property sent in part keeps its other members. Answers the properties sent,
        as they now are."""
        box = self.mailbox(user)
        if not isinstance(body, dict):
            raise GraphError(400, "BadRequest", "Empty Payload. JSON content expected.")
        merged = copy.deepcopy(box.settings)
        sent = [k for k in body if not k.startswith("@odata")]
        for key in sent:
            if key not in merged:
                raise GraphError(400, "RequestBodyRead", f"The property '{key}' does not exist on type "
                                 "'microsoft.graph.mailboxSettings'. Make sure to only use property names that are "
                                 "defined by the type.")  # fmt: skip
            value, old = body[key], merged[key]
            merged[key] = {**old, **value} if isinstance(value, dict) and isinstance(old, dict) else value
        _check_settings(merged)
        box.settings = merged
        context = f"{self.base_url}/v1.0/$metadata#users('{user}')/mailboxSettings"
        return Reply(200, {"@odata.context": context, **{k: copy.deepcopy(merged[k]) for k in sent}})

    def set_out_of_office(self, user: str, start: datetime | None = None, end: datetime | None = None, *,
                          message: str = "Je suis absente du cabinet.", external_message: str | None = None,
                          audience: str = "all") -> dict[str, Any]:  # fmt: skip
        """What an adviser sets in Outlook: automatic replies between two aware datetimes (scheduled), or from
        now on (alwaysEnabled) without them. Returns the automaticRepliesSetting."""
        oof = self.mailbox(user).settings["automaticRepliesSetting"]
        oof.update(status="alwaysEnabled" if start is None else "scheduled", externalAudience=audience,
                   internalReplyMessage=message,
                   externalReplyMessage=message if external_message is None else external_message)  # fmt: skip
        if start is not None:
            if end is None or not start < end:
                raise ValueError("a scheduled absence needs an end after its start")
            oof.update(scheduledStartDateTime=_utc_dtz(start), scheduledEndDateTime=_utc_dtz(end))
        return copy.deepcopy(oof)

    def clear_out_of_office(self, user: str) -> None:
        self.mailbox(user).settings["automaticRepliesSetting"]["status"] = "disabled"

    def set_working_hours(self, user: str, days: Iterable[str] = _WORKDAYS, start: str = "08:30",
                          end: str = "17:30", zone: str | dict[str, Any] = "Romance Standard Time",
                          ) -> dict[str, Any]:  # fmt: skip
        """Working hours as Outlook keeps them ("08:30" becomes "08:30:00.0000000"), in a zone named (Windows or
        IANA) or a whole timeZone object (a custom zone, as user-get-mailboxsettings.md's third example)."""
        hours = {"daysOfWeek": [_enum(d, _DAYS, "dayOfWeek") for d in days], "startTime": f"{start}:00.0000000",
                 "endTime": f"{end}:00.0000000",
                 "timeZone": copy.deepcopy(zone) if isinstance(zone, dict) else {"name": zone}}  # fmt: skip
        self.mailbox(user).settings["workingHours"] = hours
        return copy.deepcopy(hours)
