"""The opt-out ledger: a STOP outlives the state, kept as keyed fingerprints, not as a readable list."""

from __future__ import annotations

import stat
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

from m3mail.models import Client, Contract, ContractType, DueFollowUp, State
from m3mail.state import StateStore, new_follow_up

AT = datetime(2026, 11, 25, 8, 0)
CLIENT = Client("C1", last_name="Dupont", first_name="Hélène", email="helene.dupont@example.fr",
                phone="+33612345678")  # fmt: skip


def due(client: Client) -> DueFollowUp:
    contract = Contract("K1", client.id, "a@agence.fr", ContractType.IARD, date(2026, 8, 25))
    return DueFollowUp(client, "a@agence.fr", (contract,), date(2026, 11, 25), date(2026, 11, 18),
                       date(2026, 12, 2), priority=1, days_left=7)  # fmt: skip


def opt_out(path: Path, client: Client = CLIENT) -> None:
    with StateStore(path) as store:
        (f,) = store.add([new_follow_up(due(client), AT)], AT)
        store.save(replace(f, state=State.OPTED_OUT, ended_at=AT), AT, "opted out", "STOP")


def test_a_stop_outlives_a_lost_state(tmp_path: Path) -> None:
    path = tmp_path / "m3mail.db"
    opt_out(path)
    path.unlink()  # lost, and started anew
    with StateStore(path) as fresh:
        assert fresh.refused_on(CLIENT) is None  # the new database knows nothing of it
        assert fresh.refuses(CLIENT)
        assert fresh.refuses(Client("C1"))  # by the id alone
        assert fresh.refuses(Client("C77", email="Helene.Dupont@EXAMPLE.fr"))  # by the address, under a new id
        assert not fresh.refuses(Client("C2", email="autre@example.fr"))


def test_the_ledger_names_nobody_and_is_private(tmp_path: Path) -> None:
    path = tmp_path / "m3mail.db"
    opt_out(path)
    ledger, key = tmp_path / "m3mail.optouts", tmp_path / "m3mail.optouts.key"
    text = ledger.read_text()
    for secret in ("C1", "Dupont", "DUPONT", "Hélène", "helene", "example.fr", "612345678"):
        assert secret not in text
    assert len([line for line in text.splitlines() if not line.startswith("#")]) == 2  # the id and the address
    assert {stat.S_IMODE(p.stat().st_mode) for p in (ledger, key)} == {0o600}


def test_a_lost_key_is_restored_from_the_state_and_a_lost_state_keeps_the_key(tmp_path: Path) -> None:
    path = tmp_path / "m3mail.db"
    opt_out(path)
    key = tmp_path / "m3mail.optouts.key"
    original = key.read_text()
    key.unlink()
    with StateStore(path) as store:
        assert store.refuses(CLIENT)
    assert key.read_text() == original


def test_recording_twice_writes_once(tmp_path: Path) -> None:
    path = tmp_path / "m3mail.db"
    opt_out(path)
    with StateStore(path) as store:
        f = store.follow_ups()[0]
        store.save(f, AT, "record filed")
    assert len((tmp_path / "m3mail.optouts").read_text().splitlines()) == 3  # the header and two fingerprints


def test_a_dry_run_copy_knows_the_ledger_and_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "m3mail.db"
    opt_out(path)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    other = Client("C2", email="c2@example.fr")
    with StateStore.copy_of(path) as copy:
        assert copy.refuses(CLIENT)
        (f,) = copy.add([new_follow_up(due(other), AT)], AT)
        copy.save(replace(f, state=State.OPTED_OUT, ended_at=AT), AT, "opted out", "STOP")
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
