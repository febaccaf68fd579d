"""A damaged or lost state, through the CLI as an admin meets it: refused with what to do, never replaced."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

from tests.conftest import INIT_DAY, run_cli

DAY = INIT_DAY.isoformat()


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (names and bytes), and every folder."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(folder.rglob("*"))}  # fmt: skip


def test_an_emptied_state_is_refused_by_every_command_with_the_backup_to_restore(workdir: Path) -> None:
    settings = workdir / "m3mail.toml"
    assert run_cli("run", "--settings", settings, "--today", DAY).code == 0
    (backup,) = (workdir / "backups").iterdir()
    (workdir / "m3mail.db").write_bytes(b"")  # what a full disk or a bad copy leaves
    for command in (("run", "--today", DAY), ("run", "--dry-run", "--today", DAY), ("status",),
                    ("due", "--today", DAY), ("check", "--today", DAY)):  # fmt: skip
        result = run_cli(*command, "--settings", settings)
        assert result.code == 5, (command, result.err)
        assert "empty (0 bytes)" in result.err and backup.name in result.err and "m3mail restore" in result.err
        assert "Traceback" not in result.err
    assert (workdir / "m3mail.db").stat().st_size == 0  # left as it was, for whoever looks into it


def test_a_state_with_a_broken_row_is_refused_not_a_traceback(workdir: Path) -> None:
    settings = workdir / "m3mail.toml"
    assert run_cli("run", "--settings", settings, "--today", DAY).code == 0
    db = sqlite3.connect(workdir / "m3mail.db")
    db.execute("UPDATE followups SET data = substr(data, 1, 40) WHERE rowid = (SELECT min(rowid) FROM followups)")
    db.commit()
    db.close()
    for command in (("run", "--today", DAY), ("status",)):
        result = run_cli(*command, "--settings", settings)
        assert result.code == 5 and "cannot be read" in result.err and "Traceback" not in result.err


def test_a_dry_run_leaves_the_folder_byte_for_byte_as_it_was(workdir: Path) -> None:
    settings = workdir / "m3mail.toml"
    assert run_cli("run", "--settings", settings, "--today", DAY).code == 0
    before = snapshot(workdir)
    result = run_cli("run", "--dry-run", "--settings", settings, "--today", "2026-11-26")
    assert result.code == 0, result.err
    assert "[dry-run]" in result.out
    assert snapshot(workdir) == before  # no -wal, -shm, lock, backup or ledger left behind


def test_the_first_run_of_a_day_backs_the_state_up_and_the_others_do_not(workdir: Path) -> None:
    settings = workdir / "m3mail.toml"
    for day in (DAY, DAY, "2026-11-26"):
        assert run_cli("run", "--settings", settings, "--today", day).code == 0
    assert sorted(p.name for p in (workdir / "backups").iterdir()) == ["m3mail-2026-11-25.db", "m3mail-2026-11-26.db"]


def test_restore_lists_puts_back_and_the_next_run_makes_nothing_twice(workdir: Path) -> None:
    settings = workdir / "m3mail.toml"
    assert run_cli("run", "--settings", settings, "--today", DAY).code == 0  # its backup predates the bookings
    calendars = workdir / "boites" / "calendars"
    booked = {p.name: p.read_text().count("BEGIN:VEVENT") for p in calendars.iterdir()}
    assert sum(booked.values()) > 0
    (workdir / "m3mail.db").write_bytes(b"\0" * 8192)

    listed = run_cli("restore", "--settings", settings)
    assert listed.code == 0 and listed.out.split() == ["m3mail-2026-11-25.db"]
    assert run_cli("restore", "m3mail-2020-01-01.db", "--settings", settings).code == 5  # no such backup
    restored = run_cli("restore", "m3mail-2026-11-25.db", "--settings", settings)
    assert restored.code == 0, restored.err
    (aside,) = workdir.glob("m3mail.db.replaced-*")
    assert aside.read_bytes() == b"\0" * 8192

    again = run_cli("run", "--settings", settings, "--today", DAY)
    assert again.code == 0, again.err
    assert {p.name: p.read_text().count("BEGIN:VEVENT") for p in calendars.iterdir()} == booked  # found, not re-made


def test_a_backup_that_cannot_be_written_is_reported_and_the_work_goes_on(workdir: Path) -> None:
    settings = workdir / "m3mail.toml"
    (workdir / "backups").write_text("a file where the backups folder should be")
    result = run_cli("run", "--settings", settings, "--today", DAY)
    assert result.code == 8 and "backup of the state cannot be written" in result.err
    assert "Traceback" not in result.err
    assert any(p.read_text().count("BEGIN:VEVENT") for p in (workdir / "boites" / "calendars").iterdir())
