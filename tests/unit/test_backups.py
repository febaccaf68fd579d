"""Dated backups of the state (SQLite's online backup), and putting one back."""

from __future__ import annotations

import stat
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from m3mail.errors import StateError
from m3mail.models import Client, Contract, ContractType, DueFollowUp
from m3mail.state import StateStore, new_follow_up
from m3mail.state.backups import backups, restore, take_daily

AT = datetime(2026, 11, 25, 8, 0)


def due(client_id: str) -> DueFollowUp:
    contract = Contract("K1", client_id, "a@agence.fr", ContractType.IARD, date(2026, 8, 25))
    return DueFollowUp(Client(client_id), "a@agence.fr", (contract,), date(2026, 11, 25), date(2026, 11, 18),
                       date(2026, 12, 2), priority=1, days_left=7)  # fmt: skip


def test_one_backup_a_day_private_and_only_the_newest_kept(tmp_path: Path) -> None:
    state, folder = tmp_path / "m3mail.db", tmp_path / "backups"
    with StateStore(state) as store:
        made = [take_daily(store.db, folder, state, date(2026, 11, 1) + timedelta(days=d), keep=3) for d in range(5)]
        assert take_daily(store.db, folder, state, date(2026, 11, 5), keep=3) is None  # the day's exists
    assert all(made)
    assert [p.name for p in backups(folder, state)] == ["m3mail-2026-11-05.db", "m3mail-2026-11-04.db",
                                                         "m3mail-2026-11-03.db"]  # fmt: skip
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert {stat.S_IMODE(p.stat().st_mode) for p in folder.iterdir()} == {0o600}


def test_a_backup_holds_what_the_live_state_held_its_wal_included(tmp_path: Path) -> None:
    state, folder = tmp_path / "m3mail.db", tmp_path / "backups"
    with StateStore(state) as store:
        store.add([new_follow_up(due("C1"), AT)], AT)  # in the WAL, not yet in the main file
        copy = take_daily(store.db, folder, state, AT.date(), keep=2)
    assert copy is not None
    with StateStore(copy) as restored:
        assert [f.id for f in restored.follow_ups()] == ["M3-C1-20261118"]


def test_restore_puts_a_backup_back_and_keeps_the_damaged_state_beside_it(tmp_path: Path) -> None:
    state, folder = tmp_path / "m3mail.db", tmp_path / "backups"
    with StateStore(state) as store:
        store.add([new_follow_up(due("C1"), AT)], AT)
        copy = take_daily(store.db, folder, state, AT.date(), keep=2)
    state.write_bytes(b"\0" * 4096)  # damaged
    assert copy is not None
    aside = restore(copy, state, AT)
    assert aside is not None and aside.read_bytes() == b"\0" * 4096
    assert stat.S_IMODE(state.stat().st_mode) == 0o600
    with StateStore(state) as store:
        assert [f.id for f in store.follow_ups()] == ["M3-C1-20261118"]


def test_a_damaged_backup_is_refused_and_the_state_left_alone(tmp_path: Path) -> None:
    state = tmp_path / "m3mail.db"
    StateStore(state).close()
    before = state.read_bytes()
    bad = tmp_path / "m3mail-2026-11-24.db"
    bad.write_bytes(b"SQLite format 3\0" + b"\xff" * 2000)
    with pytest.raises(StateError, match="not a readable state database|damaged"):
        restore(bad, state, AT)
    assert state.read_bytes() == before


def test_backups_of_another_state_in_the_same_folder_are_not_listed(tmp_path: Path) -> None:
    folder = tmp_path / "backups"
    folder.mkdir()
    (folder / "autre-2026-11-24.db").write_bytes(b"")
    (folder / "m3mail-2026-11-24.db").write_bytes(b"")
    (folder / "m3mail-notes.txt").write_bytes(b"")
    assert [p.name for p in backups(folder, tmp_path / "m3mail.db")] == ["m3mail-2026-11-24.db"]
