"""The state database: private to its owner, versioned, and remembering follow-ups across restarts."""

from __future__ import annotations

import sqlite3
import stat
from datetime import date, datetime
from pathlib import Path

import pytest

from m3mail.errors import StateError
from m3mail.models import Client, Contract, ContractType, DueFollowUp
from m3mail.state import SCHEMA_VERSION, StateStore, new_follow_up


def follow_up(client_id: str = "C1") -> DueFollowUp:
    contract = Contract("K1", client_id, "a@agence.fr", ContractType.IARD, date(2026, 8, 25))
    return DueFollowUp(Client(client_id), "a@agence.fr", (contract,), date(2026, 11, 25), date(2026, 11, 18),
                       date(2026, 12, 2), priority=1, days_left=7)  # fmt: skip


def test_the_file_is_private_and_carries_a_schema_version(tmp_path: Path) -> None:
    path = tmp_path / "state" / "m3mail.db"
    StateStore(path).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_follow_ups_survive_a_restart_and_adding_twice_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "m3mail.db"
    at = datetime(2026, 11, 25, 8, 0)
    with StateStore(path) as state:
        assert [f.id for f in state.add([new_follow_up(follow_up(), at)], at)] == ["M3-C1-20261118"]
        assert state.add([new_follow_up(follow_up(), at)], at) == []
    with StateStore(path) as state:
        past = state.past_follow_ups()
        assert state.follow_up("M3-C1-20261118") == new_follow_up(follow_up(), at)
    assert len(past) == 1
    assert (past[0].client_id, past[0].window_start, past[0].last_activity, past[0].open) == (
        "C1", date(2026, 11, 18), date(2026, 11, 25), True)  # fmt: skip


def test_a_schema_1_file_is_migrated_with_its_follow_ups(tmp_path: Path) -> None:
    path = tmp_path / "m3mail.db"
    db = sqlite3.connect(path)
    db.executescript(
        "CREATE TABLE followups (id TEXT PRIMARY KEY, client_id TEXT, adviser TEXT, contracts TEXT, due_date TEXT,"
        " window_start TEXT, window_end TEXT, priority INTEGER, state TEXT, created_at TEXT, last_activity TEXT);"
        "CREATE TABLE history (seq INTEGER PRIMARY KEY, followup_id TEXT, at TEXT, event TEXT, detail TEXT);"
        "INSERT INTO followups VALUES ('M3-C9-20260101', 'C9', 'a@agence.fr', '[\"K9\"]', '2026-01-08',"
        " '2026-01-01', '2026-01-15', 2, 'done', '2026-01-05T08:00:00', '2026-01-05');"
        "INSERT INTO history VALUES (1, 'M3-C9-20260101', '2026-01-05T08:00:00', 'planned', '');"
        "PRAGMA user_version = 1;"
    )
    db.close()
    with StateStore(path) as state:
        (past,) = state.past_follow_ups()
        assert (past.client_id, past.window_end, past.open) == ("C9", date(2026, 1, 15), False)
        assert state.history("M3-C9-20260101") == [("2026-01-05T08:00:00", "planned", "")]
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_a_schema_2_file_keeps_its_action_log_and_gains_the_progress_notes(tmp_path: Path) -> None:
    path = tmp_path / "m3mail.db"
    at = datetime(2026, 11, 25, 8, 0)
    with StateStore(path) as state:
        state.add([new_follow_up(follow_up(), at)], at)
        state.intend("M3-C1-20261118#email", "M3-C1-20261118", "email", "a@agence.fr", at)
    db = sqlite3.connect(path)  # back to schema 2: the actions table without its progress column
    db.executescript("ALTER TABLE actions DROP COLUMN progress; PRAGMA user_version = 2;")
    db.close()
    with StateStore(path) as state:
        assert state.action_status("M3-C1-20261118#email") == "intent" and state.progress("M3-C1-20261118#email") == ""
        state.note("M3-C1-20261118#email", "AAMkDraft1")
        assert state.progress("M3-C1-20261118#email") == "AAMkDraft1"
        assert [f.id for f in state.follow_ups()] == ["M3-C1-20261118"]
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_a_newer_schema_is_refused_rather_than_guessed_at(tmp_path: Path) -> None:
    path = tmp_path / "m3mail.db"
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(StateError, match="newer than this m3mail"):
        StateStore(path)
