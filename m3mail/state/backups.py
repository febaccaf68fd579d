"""Dated backups of the state, taken by the runs themselves, and putting one back.

A backup is a copy made with SQLite's online backup API (Python's ``Connection.backup``,
https://docs.python.org/3/library/sqlite3.html#sqlite3.Connection.backup; https://www.sqlite.org/backup.html):
a consistent snapshot of a live database, its WAL included, that a plain file copy taken during a write is not.
The first run of each day takes one, after the state was checked, before it acts; the ``keep`` newest are kept.
Each is written under a temporary name and renamed, private to its owner like the state.
"""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
from datetime import date, datetime
from pathlib import Path

from m3mail.errors import StateError
from m3mail.state.schema import check_database

_NAME = re.compile(r"^(?P<stem>.+)-(?P<day>\d{4}-\d{2}-\d{2})\.db$")


def backup_path(folder: Path, state: Path, day: date) -> Path:
    return folder / f"{state.stem}-{day.isoformat()}.db"


def backups(folder: Path, state: Path) -> list[Path]:
    """The backups of ``state`` in ``folder``, newest first."""
    if not folder.is_dir():
        return []
    found = [(m["day"], p) for p in folder.iterdir() if (m := _NAME.match(p.name)) and m["stem"] == state.stem]
    return [p for _day, p in sorted(found, reverse=True)]


def take_daily(db: sqlite3.Connection, folder: Path, state: Path, day: date, keep: int) -> Path | None:
    """The day's backup of the open database ``db``, unless it exists; then only the ``keep`` newest remain.
    Returns the backup made, or None."""
    target = backup_path(folder, state, day)
    if keep <= 0 or target.exists():
        return None
    temporary = target.with_name(target.name + ".tmp")
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        _copy(db, temporary)
        os.replace(temporary, target)
    except (OSError, sqlite3.Error) as e:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise StateError(f"{target}: the day's backup of the state cannot be written: {e}") from None
    for old in backups(folder, state)[keep:]:
        old.unlink(missing_ok=True)
    return target


def restore(backup: Path, state: Path, now: datetime) -> Path | None:
    """Put ``backup`` in place of ``state`` (checked first: a damaged backup is refused). The state it replaces,
    when there is one, is kept beside it as ``<state>.replaced-<time>``, never deleted; returns that path."""
    source = sqlite3.connect(f"file:{backup}?mode=ro", uri=True)
    try:
        check_database(source, backup)
        temporary = state.with_name(state.name + ".restoring")
        _copy(source, temporary)
        aside = None
        if state.exists():
            aside = state.with_name(f"{state.name}.replaced-{now:%Y%m%dT%H%M%S}")
            os.replace(state, aside)
        for companion in ("-wal", "-shm"):  # they belong to the replaced file (and go with it): beside the backup
            old = Path(f"{state}{companion}")  # they would corrupt it
            if old.exists():
                if aside is None:
                    old.unlink()
                else:
                    os.replace(old, f"{aside}{companion}")
        os.replace(temporary, state)
    except (OSError, sqlite3.Error) as e:
        raise StateError(f"{backup}: cannot be restored to {state}: {e}") from None
    finally:
        source.close()
    return aside


def _copy(source: sqlite3.Connection, path: Path) -> None:
    """The database of ``source`` into a new private file at ``path`` (SQLite's online backup)."""
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600))
    target = sqlite3.connect(path)
    try:
        source.backup(target)
    finally:
        target.close()


def erase_client(backup: Path, client_id: str) -> int:
    """Erase a client from a backup as ``m3mail forget`` does from the state (their follow-ups, history and
    actions; a schema 3 backup's opt-out row, which names them: the ledger keeps their refusal), then rebuild
    the file (VACUUM, https://www.sqlite.org/lang_vacuum.html) so that no freed page keeps them. Returns the
    follow-ups erased."""
    db = sqlite3.connect(backup, isolation_level=None)
    try:
        db.execute("PRAGMA secure_delete = ON")
        db.execute("BEGIN IMMEDIATE")
        ids = [(row[0],) for row in db.execute("SELECT id FROM followups WHERE client_id = ?", (client_id,))]
        for table, column in (("history", "followup_id"), ("actions", "followup_id"), ("followups", "id")):
            db.executemany(f"DELETE FROM {table} WHERE {column} = ?", ids)
        if "client_id" in {row[1] for row in db.execute("PRAGMA table_info(optouts)")}:
            db.execute("DELETE FROM optouts WHERE client_id = ?", (client_id,))
        db.execute("COMMIT")
        db.execute("VACUUM")
    except sqlite3.Error as e:
        raise StateError(f"{backup}: the client cannot be erased from this backup: {e}") from None
    finally:
        db.close()
    return len(ids)
