"""The exception tree. Every error a user can meet is an M3MailError: the CLI prints its message, never a
traceback, and exits with its ``exit_code``.

    M3MailError                 exit 1 unless a subclass says otherwise
    ├── SettingsError           exit 3: the settings file is missing or invalid; carries every problem at once
    ├── PortfolioError          exit 4: the export cannot be read at all (file, format, missing column)
    ├── StateError              exit 5: the state database cannot be opened or has an unknown schema
    └── InitError               exit 6: ``m3mail init`` would overwrite files

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
