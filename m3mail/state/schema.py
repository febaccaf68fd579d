"""The state's schema: its tables, its version, and the checks every opening makes.

``PRAGMA user_version`` holds the version; store.py migrates older files (schema 1: ids only; 2: no progress
notes; 3: opt-outs and closed follow-ups in clear) and refuses a newer one.
"""

from __future__ import annotations

import os
import sqlite3
from datetime import date, datetime
from pathlib import Path
from typing import Any

from m3mail.errors import StateError
from m3mail.models import Client, FollowUp, State

SCHEMA_VERSION = 4

SCHEMA = """
CREATE TABLE followups (
    id            TEXT PRIMARY KEY,
    client_id     TEXT NOT NULL,
    adviser       TEXT NOT NULL,
    state         TEXT NOT NULL,
    window_start  TEXT NOT NULL,
    window_end    TEXT NOT NULL,
    last_activity TEXT NOT NULL,
    active        INTEGER NOT NULL,       -- not ended, or its record not yet filed
    data          TEXT NOT NULL,          -- the FollowUp as JSON
    personal      INTEGER NOT NULL DEFAULT 1  -- still holds the client's data (0: minimised)
);
CREATE INDEX followups_client ON followups (client_id);
CREATE INDEX followups_active ON followups (active);
CREATE INDEX followups_personal ON followups (personal, active);
CREATE TABLE history (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    followup_id TEXT NOT NULL,
    at          TEXT NOT NULL,
    event       TEXT NOT NULL,
    detail      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX history_followup ON history (followup_id);
CREATE TABLE actions (
    key         TEXT PRIMARY KEY,
    followup_id TEXT,
    kind        TEXT NOT NULL,
    mailbox     TEXT NOT NULL,
    status      TEXT NOT NULL,
    tries       INTEGER NOT NULL DEFAULT 0,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    result      TEXT NOT NULL DEFAULT '',
    error       TEXT NOT NULL DEFAULT '',
    progress    TEXT NOT NULL DEFAULT ''  -- what a try noted before its next write (a draft's id, before sending)
);
CREATE TABLE optouts (
    fingerprint TEXT PRIMARY KEY,         -- keyed, as in the opt-out ledger (optouts.py): no id or address in clear
    at          TEXT NOT NULL,
    source      TEXT NOT NULL             -- "stop", "complaint report", "forget"
);
CREATE TABLE meta (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
)
"""

TABLES = {"followups", "history", "actions", "optouts", "meta"}


def refuse_empty(path: Path, advice: str) -> None:
    """m3mail never leaves an empty state file (a new one is built aside and renamed): an empty one was emptied,
    and taking it as new would forget every follow-up and opt-out."""
    if path.exists() and path.is_file() and path.stat().st_size == 0:
        raise StateError(f"{path}: the state file is empty (0 bytes); m3mail will not start anew over it, which "
                         f"would forget every follow-up. Nothing was done.{advice}")  # fmt: skip


def create(path: Path) -> None:
    """A new, empty state of the current schema: built under a temporary name, then renamed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".new")
    temporary.unlink(missing_ok=True)
    os.close(os.open(temporary, os.O_CREAT | os.O_RDWR, 0o600))
    db = sqlite3.connect(temporary, isolation_level=None)
    try:
        db.execute("BEGIN")
        for statement in SCHEMA.split(";"):
            if statement.strip():
                db.execute(statement)
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        db.execute("COMMIT")
    finally:
        db.close()
    os.chmod(temporary, 0o600)
    os.replace(temporary, path)


def check_database(db: sqlite3.Connection, path: Path, advice: str = "") -> None:
    """Refuse (StateError) a file that is not m3mail's state or is damaged: SQLite's quick_check (b-trees, pages;
    https://www.sqlite.org/pragma.html#pragma_quick_check), the schema version, the tables, every follow-up's
    JSON."""
    try:
        problems = [row[0] for row in db.execute("PRAGMA quick_check(5)")]
        version = db.execute("PRAGMA user_version").fetchone()[0]
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError as e:
        raise StateError(f"{path}: not a readable state database ({e}). Nothing was done.{advice}") from None
    if problems != ["ok"]:
        raise StateError(f"{path}: the state database is damaged (SQLite: {'; '.join(problems)}). "
                         f"Nothing was done.{advice}")  # fmt: skip
    if version > SCHEMA_VERSION:
        return  # refused by _migrate, with its own message
    if version == 0:
        raise StateError(f"{path}: not an m3mail state (no schema version). Nothing was done.{advice}")
    needed = {"followups", "history"} if version == 1 else TABLES
    if missing := sorted(needed - tables):
        raise StateError(f"{path}: the state database is damaged: table(s) {', '.join(missing)} missing. "
                         f"Nothing was done.{advice}")  # fmt: skip
    if version >= 2:
        broken = [row[0] for row in db.execute("SELECT id FROM followups WHERE NOT json_valid(data) LIMIT 3")]
        if broken:
            raise StateError(f"{path}: the state database is damaged: follow-up(s) {', '.join(broken)} cannot be "
                             f"read. Nothing was done.{advice}")  # fmt: skip


def columns(db: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in db.execute(f"PRAGMA table_info({table})")}


def first_line(error: Exception) -> str:
    return str(error).splitlines()[0] if str(error) else type(error).__name__



def from_v1(row: tuple[Any, ...]) -> FollowUp:
    """A schema 1 follow-up (ids and dates only) as a schema 2 one."""
    fid, client_id, adviser, _contracts, due, start, end, priority, state, created, _last = row
    v1_states = {"done": State.DONE, "missed": State.MISSED, "cancelled": State.CANCELLED, "opted_out": State.OPTED_OUT}
    return FollowUp(
        id=fid, client=Client(client_id), adviser=adviser, contracts=(), due_date=date.fromisoformat(due),
        window_start=date.fromisoformat(start), window_end=date.fromisoformat(end), priority=priority,
        created_at=datetime.fromisoformat(created), state=v1_states.get(state, State.PLANNED),
        record_filed=state in v1_states,  # schema 1 filed nothing: no record to make for what ended then
    )  # fmt: skip

