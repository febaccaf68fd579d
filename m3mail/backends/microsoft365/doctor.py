"""``m3mail doctor``: is the app registration allowed to do, in each mailbox, what a run will do?

Each check does for real what a run does, on the smallest scale, and says what to fix when Graph refuses:
a token; calendar read; calendar write (a free event in the past, deleted at once); mail send (a message from
the mailbox to itself); folder creation (the client folders' root, which a run needs anyway); the outcome
categories (created when missing, as a run does); mailbox settings (automatic replies, working hours).
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial

from m3mail.backends.base import CATEGORY_COLOURS
from m3mail.backends.microsoft365.backend import Microsoft365Backend, Request
from m3mail.errors import BackendError

# The application permission each check needs (README, "Administration: Microsoft 365").
PERMISSIONS = {
    "calendar read": "Calendars.ReadWrite",
    "calendar write": "Calendars.ReadWrite",
    "mail send": "Mail.Send",
    "folder creation": "Mail.ReadWrite",
    "categories": "MailboxSettings.ReadWrite",
    "mailbox settings": "MailboxSettings.ReadWrite",
}


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str = ""  # what was found, or Graph's error message
    status: int | None = None
    code: str = ""  # Graph's error code, e.g. ErrorAccessDenied
    fix: str = ""  # what to do about it


@dataclass
class Diagnosis:
    token: Check
    roles: tuple[str, ...] = ()  # the application permissions the token carries (none with RBAC for Applications)
    mailboxes: dict[str, list[Check]] = field(default_factory=dict)

    @property
    def problems(self) -> int:
        return (not self.token.ok) + sum(not c.ok for checks in self.mailboxes.values() for c in checks)

    def as_json(self) -> dict[str, object]:
        def one(c: Check) -> dict[str, object]:
            return {"check": c.name, "ok": c.ok, "detail": c.detail, "status": c.status, "code": c.code, "fix": c.fix}

        return {"ok": not self.problems, "problems": self.problems, "token": one(self.token), "roles": list(self.roles),
                "mailboxes": {m: [one(c) for c in checks] for m, checks in self.mailboxes.items()}}  # fmt: skip


def diagnose(backend: Microsoft365Backend, advisers: Sequence[str], filing: tuple[str, str] | None = None,
             *, now: datetime | None = None, progress: Callable[[str], None] | None = None) -> Diagnosis:  # fmt: skip
    """Every check for every adviser mailbox; ``filing`` is (shared mailbox, root folder) when client folders
    live in a shared mailbox, else the root folder is checked in each adviser's."""
    now = now or datetime.now(UTC)
    try:
        token = backend.con.token()
    except PermissionError as e:
        fix = ("check tenant_id, client_id and the certificate (its thumbprint, and that its .crt is uploaded to "
               "the app registration) or the client secret (not expired, in the environment variable named by "
               "client_secret_env)")  # fmt: skip
        return Diagnosis(Check("token", False, str(e), code=str(e).split(":")[0], fix=fix))
    except Exception as e:  # noqa: BLE001 - the sign-in service unreachable: say it, whatever the library raised
        fix = "check tenant_id, authority_url and the network"
        return Diagnosis(Check("token", False, f"{type(e).__name__}: {e}", fix=fix))
    roles = _roles(token)
    diagnosis = Diagnosis(Check("token", True, "granted"), roles)
    root = filing[1] if filing else "Clients"
    for mailbox in advisers:
        if progress is not None:
            progress(mailbox)
        probes: list[tuple[str, Callable[[], str]]] = [
            ("calendar read", partial(_read_calendar, backend, mailbox, now)),
            ("calendar write", partial(_write_calendar, backend, mailbox, now)),
            ("mail send", partial(_send_to_self, backend, mailbox)),
            ("folder creation", partial(_folder, backend, mailbox, root)),
            ("categories", partial(_categories, backend, mailbox)),
            ("mailbox settings", partial(_settings, backend, mailbox)),
        ]
        checks = diagnosis.mailboxes[mailbox] = []
        for name, probe in probes:
            if name == "folder creation" and filing is not None:
                continue  # the client folders are in the shared mailbox, checked below
            checks.append(_check(name, probe))
            if checks[-1].status == 404:  # no such mailbox: the other checks would only say it again
                break
    if filing is not None:
        diagnosis.mailboxes[filing[0]] = [_check("folder creation", lambda: _folder(backend, filing[0], root))]
    return diagnosis


def _check(name: str, probe: Callable[[], str]) -> Check:
    try:
        return Check(name, True, probe())
    except BackendError as e:
        return Check(name, False, e.detail, e.status, e.code or "", _fix(name, e))


def _fix(name: str, e: BackendError) -> str:
    permission = PERMISSIONS.get(name, "")
    if e.code in ("ErrorInvalidUser", "MailboxNotEnabledForRESTAPI", "ResourceNotFound") or e.status == 404:
        return "no such mailbox in the tenant, or one without Exchange Online: check the address in [[advisers]]"
    if e.code == "ErrorAccessDenied" and "OData is disabled" in e.detail:
        return ("the mailbox is outside the app's scope: add it to the mail-enabled security group of the "
                "management scope (RBAC for Applications) or of the application access policy")  # fmt: skip
    if e.status in (401, 403):
        return (f"grant the application permission {permission} on Microsoft Graph with admin consent, or assign "
                f"the role \"Application {permission}\" to the app in Exchange Online (RBAC for Applications)")
    if e.retryable:
        return "Graph is throttling or unavailable: run doctor again in a few minutes"
    return "see Graph's error code above"


def _read_calendar(backend: Microsoft365Backend, mailbox: str, now: datetime) -> str:
    events = backend.events(mailbox, now, now + timedelta(days=1))
    return f"{len(events)} event(s) in the next 24 hours"


def _write_calendar(backend: Microsoft365Backend, mailbox: str, now: datetime) -> str:
    """A free event, in the past (no reminder, nothing in the adviser's way), deleted at once."""
    start = (now - timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    body = {"subject": "m3mail doctor (test, deleted at once)", "showAs": "free", "isReminderOn": False,
            "transactionId": f"m3mail-doctor-{uuid.uuid4()}",
            "start": {"dateTime": start.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
            "end": {"dateTime": (start + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"}}
    made = backend.call(mailbox, Request("create test event", "post", backend.url(mailbox, "/events"), body=body))
    backend.call(mailbox, Request("delete test event", "delete", backend.url(mailbox, f"/events/{made['id']}")))
    return "test event created and deleted"


def _send_to_self(backend: Microsoft365Backend, mailbox: str) -> str:
    body = {"subject": "m3mail doctor: test message, to delete",
            "body": {"contentType": "text", "content": "m3mail doctor checked that this mailbox may send."},
            "toRecipients": [{"emailAddress": {"address": mailbox}}]}  # fmt: skip
    draft = backend.call(mailbox, Request("create test message", "post", backend.url(mailbox, "/messages"), body=body))
    backend.call(mailbox, Request("send test message", "post", backend.url(mailbox, f"/messages/{draft['id']}/send")))
    return "a test message sent to the mailbox itself"


def _folder(backend: Microsoft365Backend, mailbox: str, root: str) -> str:
    backend.folder(mailbox, (root,))
    return f"folder {root!r} present"


def _categories(backend: Microsoft365Backend, mailbox: str) -> str:
    backend.ensure_categories(mailbox, CATEGORY_COLOURS)
    return f"{len(CATEGORY_COLOURS)} outcome categories present"


def _settings(backend: Microsoft365Backend, mailbox: str) -> str:
    found = backend.availability(mailbox)
    away = "automatic replies on" if found.away else "automatic replies off"
    hours = (f"working hours {found.working_hours[0]:%H:%M}-{found.working_hours[1]:%H:%M} {found.timezone}"
             if found.working_hours else "no working hours")  # fmt: skip
    return f"{away}, {hours}"


def _roles(token: str) -> tuple[str, ...]:
    """The ``roles`` claim of an access token (read, not verified: it only informs)."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return tuple(sorted(claims.get("roles") or ()))
    except (IndexError, ValueError, AttributeError):
        return ()

