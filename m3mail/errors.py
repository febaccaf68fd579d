"""The exception tree. Every error a user can meet is an M3MailError: the CLI prints its message, never a
traceback, and exits with its ``exit_code``.

    M3MailError                 exit 1 unless a subclass says otherwise
    ├── SettingsError           exit 3: the settings file is missing or invalid; carries every problem at once
    ├── PortfolioError          exit 4: the export cannot be read at all (file, format, missing column)
    ├── StateError              exit 5: the state database cannot be opened or has an unknown schema
    ├── InitError               exit 6: ``m3mail init`` would overwrite files
    ├── LockBusy                exit 7: another run holds the lock
    ├── RunIncomplete           exit 8: the run finished, but some actions failed or the export was unreadable
    │                           (each listed; the follow-ups under way went on; the next run tries again)
    ├── TenantProblems          exit 10: ``doctor`` found something to fix in the tenant (each check printed)
    ├── TemplateError           a template cannot be rendered: names the template and line; that follow-up waits
    └── BackendError            a calendar or mailbox operation failed: names the mailbox and the operation;
        │                       ``retryable`` when trying again later may succeed (throttling, 5xx, a reset);
        │                       ``maybe_done`` when the request may have been carried out all the same (a 504,
        │                       an answer lost with its connection): look before writing again
        ├── MailboxUnavailable  the mailbox or calendar does not exist or cannot be written
        └── Pending             not a failure: the write was accepted and its result is not visible yet (an
                                email sent, its copy not yet in Sent Items); the next run looks again

A bad *row* of the export is not an exception: it is a ``RowIssue`` value, reported and skipped.
"""

from __future__ import annotations

from dataclasses import dataclass


class M3MailError(Exception):
    """An error the user can act on; ``str(error)`` says what and where."""

    exit_code = 1


@dataclass(frozen=True)
class SettingsProblem:
    """One problem of the settings: the dotted key (``advisers[1].timezone``) and the reason."""

    key: str
    reason: str

    def __str__(self) -> str:
        return f"{self.key}: {self.reason}"


class SettingsError(M3MailError):
    exit_code = 3

    def __init__(self, path: str, problems: list[SettingsProblem]):
        self.path = path
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{path}: {len(problems)} settings problem(s):\n{lines}")


class PortfolioError(M3MailError):
    exit_code = 4


class StateError(M3MailError):
    exit_code = 5


class InitError(M3MailError):
    exit_code = 6


class LockBusy(M3MailError):
    exit_code = 7


class RunIncomplete(M3MailError):
    exit_code = 8


class TenantProblems(M3MailError):
    exit_code = 10


class TemplateError(M3MailError):
    """A template that cannot be rendered: ``str()`` names the template, the line and the reason."""


class BackendError(M3MailError):
    """A failed operation on a calendar or mailbox."""

    def __init__(self, mailbox: str, operation: str, detail: str, *, retryable: bool = False,
                 status: int | None = None, code: str = "", retry_after: float | None = None,
                 maybe_done: bool = False):  # fmt: skip
        self.mailbox, self.operation, self.detail = mailbox, operation, detail
        self.retryable, self.status, self.code = retryable, status, code
        self.retry_after = retry_after  # seconds the server asked to wait (Retry-After), if it said
        self.maybe_done = maybe_done  # the request may have been carried out: what it wrote is looked for first
        where = f" (HTTP {status}{' ' + code if code else ''})" if status else (f" ({code})" if code else "")
        super().__init__(f"{mailbox}: {operation} failed{where}: {detail}")


class MailboxUnavailable(BackendError):
    pass


class Pending(BackendError):
    """The write was accepted and what it made cannot be seen yet: the action is neither done nor failed, and
    the next run looks again (never writes again)."""

    def __init__(self, mailbox: str, operation: str, detail: str):
        super().__init__(mailbox, operation, detail)
        self.args = (f"{mailbox}: {operation}: {detail}",)
