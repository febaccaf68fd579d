"""SQLite state: one row per follow-up, with its history, under a schema version.

The file is created private to its owner (mode 0600): it names clients. Every change runs in an explicit
transaction. ``PRAGMA user_version`` holds the schema version; a newer file than this code knows is refused
rather than guessed at.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path

from m3mail.errors import StateError
from m3mail.models import DueFollowUp, PastFollowUp

SCHEMA_VERSION = 1
ENDED_STATES = ("done", "missed", "cancelled", "opted_out")

_SCHEMA = """
CREATE TABLE followups (
    id            TEXT PRIMARY KEY,
    client_id     TEXT NOT NULL,
    adviser       TEXT NOT NULL,
    contracts     TEXT NOT NULL,          -- JSON list of contract ids
    due_date      TEXT NOT NULL,          -- ISO dates
    window_start  TEXT NOT NULL,
    window_end    TEXT NOT NULL,
    priority      INTEGER NOT NULL,
    state         TEXT NOT NULL,
    created_at    TEXT NOT NULL,          -- ISO date-time
    last_activity TEXT NOT NULL           -- ISO date: the cool-down runs from it
);
CREATE INDEX followups_client ON followups (client_id);
CREATE TABLE history (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    followup_id TEXT NOT NULL REFERENCES followups (id),
    at          TEXT NOT NULL,
    event       TEXT NOT NULL,
    detail      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX history_followup ON history (followup_id);
"""


def follow_up_id(client_id: str, window_start: date) -> str:
    """Stable across runs: the same client and window always give the same id."""
    return f"M3-{client_id}-{window_start:%Y%m%d}"


class StateStore:
    """Open (creating when missing) the state file at ``path``; use as a context manager or ``close()``."""

    def __init__(self, path: Path):
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
            os.chmod(path, 0o600)
            self.db = sqlite3.connect(path, isolation_level=None)
            self.db.execute("PRAGMA foreign_keys = ON")
            self._migrate()
        except (OSError, sqlite3.Error) as e:
            raise StateError(f"{path}: cannot open the state database: {e}") from None

    def __enter__(self) -> StateStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def _migrate(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StateError(
                f"{self.path}: schema version {version} is newer than this m3mail knows ({SCHEMA_VERSION}); "
                "upgrade m3mail"
            )
        if version == 0:
            # one statement at a time: executescript() would commit the transaction half-way
            with self.transaction() as db:
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        db.execute(statement)
                db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def start_follow_up(self, due: DueFollowUp, state: str, at: datetime) -> str:
        """Record a follow-up as started (idempotent: starting it again changes nothing); returns its id."""
        fid = follow_up_id(due.client.id, due.window_start)
        with self.transaction() as db:
            inserted = db.execute(
                "INSERT OR IGNORE INTO followups VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (fid, due.client.id, due.adviser, json.dumps([c.id for c in due.contracts]),
                 due.due_date.isoformat(), due.window_start.isoformat(), due.window_end.isoformat(),
                 due.priority, state, at.isoformat(timespec="seconds"), at.date().isoformat()),
            ).rowcount  # fmt: skip
            if inserted:
                db.execute("INSERT INTO history (followup_id, at, event) VALUES (?,?,?)",
                           (fid, at.isoformat(timespec="seconds"), state))  # fmt: skip
        return fid

    def past_follow_ups(self) -> list[PastFollowUp]:
        """Every follow-up ever started, as selection needs them."""
        rows = self.db.execute(
            "SELECT client_id, window_start, window_end, last_activity, state FROM followups"
        ).fetchall()
        return [
            PastFollowUp(
                client_id=client_id,
                window_start=date.fromisoformat(start),
                window_end=date.fromisoformat(end),
                last_activity=date.fromisoformat(last),
                open=state not in ENDED_STATES,
            )
            for client_id, start, end, last, state in rows
        ]
