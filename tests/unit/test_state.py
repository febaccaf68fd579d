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


# --- a damaged state is refused, never taken as new ------------------------------------------------------


def a_state_with_one_follow_up(path: Path, damage: str = "") -> None:
    """A state holding one follow-up, then ``damage`` (SQL) done to it behind m3mail's back."""
    at = datetime(2026, 11, 25, 8, 0)
    with StateStore(path) as state:
        state.add([new_follow_up(follow_up(), at)], at)
    if damage:
        db = sqlite3.connect(path)
        db.execute(damage)
        db.commit()
        db.close()


def test_an_empty_state_file_is_refused_and_left_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "m3mail.db"
    path.touch()
    with pytest.raises(StateError, match="empty \\(0 bytes\\).*Nothing was done") as refused:
        StateStore(path)
    assert refused.value.exit_code == 5
    assert path.stat().st_size == 0 and not (tmp_path / "m3mail.db-wal").exists()


def test_a_file_that_is_not_a_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "m3mail.db"
    path.write_bytes(b"client_id;nom\nC1;DUPONT\n" * 50)
    with pytest.raises(StateError, match="not a readable state database"):
        StateStore(path)


def test_a_follow_up_row_with_broken_json_is_refused_with_its_id(tmp_path: Path) -> None:
    path = tmp_path / "m3mail.db"
    a_state_with_one_follow_up(path, "UPDATE followups SET data = '{\"id\": \"M3-C1-2026' WHERE id = 'M3-C1-20261118'")
    with pytest.raises(StateError, match="follow-up\\(s\\) M3-C1-20261118 cannot be read"):
        StateStore(path)


def test_a_follow_up_of_the_wrong_shape_is_a_state_error_not_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "m3mail.db"
    a_state_with_one_follow_up(path, "UPDATE followups SET data = '{\"id\": 3}'")
    with StateStore(path) as state, pytest.raises(StateError, match="a follow-up cannot be read"):
        state.follow_ups()


def test_a_missing_table_is_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "m3mail.db"
    a_state_with_one_follow_up(path, "DROP TABLE actions")
    with pytest.raises(StateError, match="table\\(s\\) actions missing"):
        StateStore(path)


def test_a_zeroed_page_is_found_by_the_integrity_check(tmp_path: Path) -> None:
    path = tmp_path / "m3mail.db"
    at = datetime(2026, 11, 25, 8, 0)
    with StateStore(path) as state:  # enough follow-ups for several pages of the followups table
        state.add([new_follow_up(follow_up(f"C{i}"), at) for i in range(300)], at)
    page = sqlite3.connect(path).execute("PRAGMA page_size").fetchone()[0]
    data = bytearray(path.read_bytes())
    assert len(data) > 8 * page
    data[3 * page : 4 * page] = bytes(page)  # what a failing disk or a bad copy leaves
    path.write_bytes(bytes(data))
    with pytest.raises(StateError, match="damaged|not a readable"):
        StateStore(path)


def test_a_file_of_another_program_is_not_taken_for_a_state(tmp_path: Path) -> None:
    path = tmp_path / "m3mail.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE contacts (name TEXT)")
    db.commit()
    db.close()
    with pytest.raises(StateError, match="not an m3mail state"):
        StateStore(path)


def test_a_new_state_is_never_left_empty_by_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "m3mail.db"
    StateStore(path).close()
    assert path.stat().st_size > 0 and not list(tmp_path.glob("*.new"))
