"""The Graph operations the emulator serves: each one's method and path, the application permissions that allow
it (any one is enough), and the kind of resource, which says which Prefer preferences it honours.

Public, and importable from ``tests.graph.emulator``: ``Route`` and ``ROUTES`` (which operation needs which
permission).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tests.graph.emulator_odata import _preferences
from tests.graph.emulator_protocol import Reply, Request

if TYPE_CHECKING:
    from tests.graph.emulator import GraphEmulator


@dataclass(frozen=True)
class Route:
    """One Graph operation: the application permissions that allow it (any one is enough), and the kind of
    resource, which says which Prefer preferences it honours."""

    method: str
    pattern: str  # matched on Request.route_path; group 1 is the mailbox
    roles: frozenset[str]
    kind: str  # "calendar", "mail" or "settings"
    action: Callable[[GraphEmulator, re.Match[str], Request], Reply]


# --- the routes: each Graph operation, the application permissions it needs ----------------------------------

_USER = r"/users/([^/]+)"
_CALENDAR_READ = frozenset({"Calendars.Read", "Calendars.ReadWrite"})
_CALENDAR_WRITE = frozenset({"Calendars.ReadWrite"})
_FREE_BUSY = _CALENDAR_READ | {"Calendars.ReadBasic"}  # getSchedule's least privilege is Calendars.ReadBasic
_MAIL_READ = frozenset({"Mail.Read", "Mail.ReadWrite"})
_MAIL_WRITE = frozenset({"Mail.ReadWrite"})
_MAIL_SEND = frozenset({"Mail.Send"})
_SETTINGS_READ = frozenset({"MailboxSettings.Read", "MailboxSettings.ReadWrite"})
_SETTINGS_WRITE = frozenset({"MailboxSettings.ReadWrite"})


def _prefer(r: Request) -> str:
    return r.headers.get("Prefer", "")


ROUTES: tuple[Route, ...] = (
    Route("POST", _USER + r"/(?:calendar/)?events", _CALENDAR_WRITE, "calendar",
          lambda g, m, r: g.create_event(m[1], r.body or {})),
    Route("GET", _USER + r"/(?:calendar/)?events", _CALENDAR_READ, "calendar",
          lambda g, m, r: g.list_events(m[1], r.query, r.link_path)),
    Route("GET", _USER + r"/(?:calendar/)?events/([^/]+)", _CALENDAR_READ, "calendar",
          lambda g, m, r: Reply(200, g.event(m[1], m[2]))),
    Route("PATCH", _USER + r"/(?:calendar/)?events/([^/]+)", _CALENDAR_WRITE, "calendar",
          lambda g, m, r: g.update_event(m[1], m[2], r.body or {})),
    Route("DELETE", _USER + r"/(?:calendar/)?events/([^/]+)", _CALENDAR_WRITE, "calendar",
          lambda g, m, r: g.delete_event(m[1], m[2])),
    Route("GET", _USER + r"/(?:calendar/)?calendarView", _CALENDAR_READ, "calendar",
          lambda g, m, r: g.calendar_view(m[1], r.query, r.link_path)),
    Route("POST", _USER + r"/calendar/getSchedule", _FREE_BUSY, "calendar",
          lambda g, m, r: g.get_schedule(m[1], r.body, _preferences(r.headers).get("outlook.timezone", "UTC"))),
    Route("GET", _USER + r"/mailFolders", _MAIL_READ, "mail",
          lambda g, m, r: g.child_folders(m[1], "msgfolderroot", r.query, r.link_path)),
    Route("POST", _USER + r"/mailFolders", _MAIL_WRITE, "mail",
          lambda g, m, r: g.create_folder(m[1], "msgfolderroot", r.body or {})),
    Route("GET", _USER + r"/mailFolders/([^/]+)/childFolders", _MAIL_READ, "mail",
          lambda g, m, r: g.child_folders(m[1], m[2], r.query, r.link_path)),
    Route("POST", _USER + r"/mailFolders/([^/]+)/childFolders", _MAIL_WRITE, "mail",
          lambda g, m, r: g.create_folder(m[1], m[2], r.body or {})),
    Route("POST", _USER + r"/messages", _MAIL_WRITE, "mail",
          lambda g, m, r: g.create_message(m[1], None, r.body or {}, _prefer(r))),
    Route("POST", _USER + r"/mailFolders/([^/]+)/messages", _MAIL_WRITE, "mail",
          lambda g, m, r: g.create_message(m[1], m[2], r.body or {}, _prefer(r))),
    Route("GET", _USER + r"/messages", _MAIL_READ, "mail",
          lambda g, m, r: g.list_messages(m[1], None, r.query, r.link_path, _prefer(r))),
    Route("GET", _USER + r"/mailFolders/([^/]+)/messages", _MAIL_READ, "mail",
          lambda g, m, r: g.list_messages(m[1], m[2], r.query, r.link_path, _prefer(r))),
    Route("GET", _USER + r"/messages/([^/]+)", _MAIL_READ, "mail",
          lambda g, m, r: g.get_message(m[1], m[2], _prefer(r))),
    Route("GET", _USER + r"/messages/([^/]+)/attachments", _MAIL_READ, "mail",
          lambda g, m, r: g.attachments(m[1], m[2], r.query, r.link_path)),
    Route("GET", _USER + r"/messages/([^/]+)/attachments/([^/]+)", _MAIL_READ, "mail",
          lambda g, m, r: g.attachment(m[1], m[2], m[3], r.query)),
    Route("POST", _USER + r"/messages/([^/]+)/send", _MAIL_SEND, "mail",
          lambda g, m, r: g.send_draft(m[1], m[2])),
    Route("POST", _USER + r"/messages/([^/]+)/(copy|move)", _MAIL_WRITE, "mail",
          lambda g, m, r: g.copy_or_move(m[1], m[2], r.body or {}, _prefer(r), move=m[3] == "move")),
    Route("POST", _USER + r"/sendMail", _MAIL_SEND, "mail",
          lambda g, m, r: g.send_mail(m[1], r.body)),
    Route("GET", _USER + r"/outlook/masterCategories", _SETTINGS_READ, "settings",
          lambda g, m, r: g.categories(m[1])),
    Route("POST", _USER + r"/outlook/masterCategories", _SETTINGS_WRITE, "settings",
          lambda g, m, r: g.create_category(m[1], r.body or {})),
    Route("GET", _USER + r"/outlook/masterCategories/([^/]+)", _SETTINGS_READ, "settings",
          lambda g, m, r: Reply(200, g.category(m[1], m[2]))),
    Route("PATCH", _USER + r"/outlook/masterCategories/([^/]+)", _SETTINGS_WRITE, "settings",
          lambda g, m, r: g.update_category(m[1], m[2], r.body or {})),
    Route("DELETE", _USER + r"/outlook/masterCategories/([^/]+)", _SETTINGS_WRITE, "settings",
          lambda g, m, r: g.delete_category(m[1], m[2])),
    Route("GET", _USER + r"/mailboxSettings", _SETTINGS_READ, "settings",
          lambda g, m, r: g.mailbox_settings(m[1])),
    Route("PATCH", _USER + r"/mailboxSettings", _SETTINGS_WRITE, "settings",
          lambda g, m, r: g.update_mailbox_settings(m[1], r.body)),
)  # fmt: skip
