"""Client data in the state: kept while a follow-up needs it, erased from the file's bytes once it is closed,
deleted past its retention, and erased at once on request; an objection outlives all of it."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from m3mail.models import Client, Contract, ContractType, DueFollowUp, FollowUp, Outcome, State
from m3mail.state import StateStore, new_follow_up
from m3mail.state.backups import erase_client

AT = datetime(2026, 11, 25, 8, 0).astimezone()
CLIENT = Client("C1", civility="Mme", last_name="Quillard", first_name="Hortense", email="hortense.q@exemple.fr",
                phone="+33611223344", street="12 impasse des Lilas", postal_code="69100",
                city="Villeurbanne")  # fmt: skip
SECRETS = ["Quillard", "Hortense", "hortense.q@exemple.fr", "+33611223344", "impasse des Lilas", "Villeurbanne",
           "Hospitalisation cardiologie", "Question sur la franchise", "Rappeler après 18 h", "Bonjour Hortense"]
# what the client is (names, contact, address), what their contracts say (a health claim, a question), what the
# adviser wrote, the subject of the email sent: none of it may stay in the file once the follow-up is closed


def due(client: Client = CLIENT) -> DueFollowUp:
    """The client's follow-up as selection makes it; CLIENT's contract says the most (a health claim)."""
    said = dict(product="Santé plus", premium=Decimal("80"), guarantees=("Hospitalisation",),
                claims=("Hospitalisation cardiologie",), questions=("Question sur la franchise",))  # fmt: skip
    contract = Contract("K1", client.id, "a@agence.fr", ContractType.SANTE, date(2026, 8, 25),
                        **(said if client.id == CLIENT.id else {}))  # fmt: skip
    return DueFollowUp(client, "a@agence.fr", (contract,), date(2026, 11, 25), date(2026, 11, 18),
                       date(2026, 12, 2), priority=1, days_left=7)  # fmt: skip


def ended(f: FollowUp, **changes) -> FollowUp:
    """The follow-up as a run leaves it once its call was answered and its record filed."""
    values = dict(state=State.DONE, outcome=Outcome.SATISFAIT, outcome_at=AT, ended_at=AT, notes="Rappeler après 18 h",
                  emailed_at=AT, email_subject="Bonjour Hortense", email_filed=True, record_filed=True)  # fmt: skip
    return replace(f, **(values | changes))


def file_bytes(path: Path) -> bytes:
    """Every byte m3mail leaves on disk for the state: the database, and its WAL if one is left."""
    wal = Path(f"{path}-wal")
    return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


def leaks(path: Path, secrets: list[str] = SECRETS) -> list[str]:
    raw = file_bytes(path)
    return [s for s in secrets if s.encode() in raw]


def test_a_closed_follow_up_keeps_no_client_data_in_the_file_and_still_counts(tmp_path: Path) -> None:
    path = tmp_path / "m3mail.db"
    with StateStore(path) as store:
        (f,) = store.add([new_follow_up(due(), AT)], AT)
        store.save(ended(f), AT, "record filed")
        assert leaks(path) != []  # held while the run was at it: the check below is not vacuous
        assert store.minimise_closed(AT) == 1
        kept = store.follow_up(f.id)
        past = store.past_follow_ups()
    assert leaks(path) == []  # tables, JSON and free pages alike
    assert kept is not None and kept.minimised and kept.client == Client("C1")
    assert (kept.state, kept.outcome, kept.ended_at, kept.emailed_at) == (State.DONE, Outcome.SATISFAIT, AT, AT)
    assert [(c.id, c.type) for c in kept.contracts] == [("K1", ContractType.SANTE)]
    assert [(p.client_id, p.last_activity) for p in past] == [("C1", AT.date())]  # the cool-down still sees it


def test_a_complaint_under_way_is_minimised_too_and_keeps_its_deadlines(tmp_path: Path) -> None:
    path = tmp_path / "m3mail.db"
    with StateStore(path) as store:
        (f,) = store.add([new_follow_up(due(), AT)], AT)
        complaint = ended(f, outcome=Outcome.RECLAMATION, complaint_ack_due=date(2026, 12, 9),
                          complaint_answer_due=date(2027, 1, 25))  # fmt: skip
        store.save(complaint, AT, "outcome")
        assert store.minimise_closed(AT) == 1
        kept = store.follow_up(f.id)
        reminded = store.follow_ups_since("a@agence.fr", date(2027, 1, 1))  # what the digest lists, weeks later
    assert leaks(path) == []
    assert kept is not None and (kept.complaint_ack_due, kept.complaint_answer_due) == (date(2026, 12, 9),
                                                                                        date(2027, 1, 25))  # fmt: skip
    assert [r.id for r in reminded] == [f.id]


def test_the_purge_deletes_what_is_past_retention_and_keeps_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "m3mail.db"
    with StateStore(path) as store:
        long_ago = AT - timedelta(days=1200)
        (old,) = store.add([new_follow_up(due(Client("C1")), long_ago)], long_ago)
        (recent,) = store.add([new_follow_up(due(Client("C2")), AT)], AT)
        store.save(ended(old, ended_at=long_ago, emailed_at=long_ago, outcome_at=long_ago), AT, "record filed")
        store.save(ended(recent), AT, "record filed")
        store.intend(f"{old.id}#email", old.id, "email", "a@agence.fr", AT)
        store.minimise_closed(AT)
        cutoff = date(2026, 1, 1)
        counted = store.purge(cutoff, cutoff, dry_run=True)
        assert (counted.follow_ups, counted.actions) == (1, 1) and counted.history >= 2
        assert {f.id for f in store.follow_ups()} == {old.id, recent.id}  # a dry run deletes nothing
        assert store.purge(cutoff, cutoff) == counted
        assert [f.id for f in store.follow_ups()] == [recent.id]
        assert store.history(old.id) == [] and store.action_status(f"{old.id}#email") is None


def test_an_opt_out_outlives_the_purge_of_its_follow_up_and_ends_with_its_own_retention(tmp_path: Path) -> None:
    path = tmp_path / "m3mail.db"
    stopped = AT - timedelta(days=4 * 365)
    with StateStore(path) as store:
        (f,) = store.add([new_follow_up(due(), stopped)], stopped)
        store.save(ended(f, state=State.OPTED_OUT, outcome=None, ended_at=stopped, emailed_at=stopped), stopped,
                   "opted out")  # fmt: skip
        store.minimise_closed(stopped)
        store.purge(date(2026, 1, 1), date(2020, 1, 1))  # the follow-up is past its 3 years, the opt-out not
        assert store.follow_ups() == []
        assert store.refuses(Client("C1")) and store.refuses(Client("C9", email="Hortense.Q@exemple.fr"))
        purged = store.purge(date(2026, 1, 1), date(2026, 1, 1))  # and now the opt-out is past its own
        assert purged.opt_outs == 2 and purged.ledger == 2
        assert not store.refuses(Client("C1")) and not store.refuses(Client("C9", email="hortense.q@exemple.fr"))
    assert leaks(path) == []
    assert (tmp_path / "m3mail.optouts").read_text().count("\n") == 1  # the header alone


def test_a_forgotten_client_is_erased_and_never_contacted_again(tmp_path: Path) -> None:
    path = tmp_path / "m3mail.db"
    with StateStore(path) as store:
        (f,) = store.add([new_follow_up(due(), AT)], AT)
        store.save(replace(f, state=State.BOOKED, notes="Rappeler après 18 h"), AT, "booked")  # under way
        store.intend(f"{f.id}#call1", f.id, "book", "a@agence.fr", AT)
        erased = store.forget("C1", ["ancienne.adresse@exemple.fr"], AT)
        assert [e.id for e in erased] == [f.id] and store.follow_ups() == [] and store.history(f.id) == []
        assert store.refuses(Client("C1"))
        assert store.refuses(Client("C7", email="hortense.q@exemple.fr"))  # the address emailed, under a new id
        assert store.refuses(Client("C8", email="ancienne.adresse@exemple.fr"))  # the export's address
    assert leaks(path) == [] and b"ancienne.adresse" not in file_bytes(path)
    assert "C1" not in sqlite3.connect(path).execute("SELECT group_concat(fingerprint) FROM optouts").fetchone()[0]


def test_a_backup_loses_the_forgotten_client_too(tmp_path: Path) -> None:
    path, backup = tmp_path / "m3mail.db", tmp_path / "m3mail-2026-11-25.db"
    with StateStore(path) as store:
        store.add([new_follow_up(due(), AT), new_follow_up(due(Client("C2", last_name="Garnier")), AT)], AT)
        source = sqlite3.connect(path)
        source.backup(target := sqlite3.connect(backup))
        source.close(), target.close()
    assert leaks(backup) != []
    assert erase_client(backup, "C1") == 1
    assert leaks(backup) == [] and b"Garnier" in backup.read_bytes()  # the others stay


def test_a_schema_3_state_is_migrated_its_opt_outs_fingerprinted_and_its_closed_follow_ups_minimised(
    tmp_path: Path,
) -> None:
    path = tmp_path / "m3mail.db"
    with StateStore(path) as store:
        done, stopped = store.add([new_follow_up(due(), AT), new_follow_up(due(Client("C2", email="c2@exemple.fr")),
                                                                          AT)], AT)  # fmt: skip
        store.save(ended(done), AT, "record filed")
        store.save(replace(stopped, state=State.BOOKED), AT, "booked")
    db = sqlite3.connect(path, isolation_level=None)  # back to schema 3, as m3mail 0.x wrote it: ids in clear
    for statement in ("DROP INDEX followups_personal", "ALTER TABLE followups DROP COLUMN personal",
                      "DROP TABLE optouts",
                      "CREATE TABLE optouts (client_id TEXT PRIMARY KEY, at TEXT NOT NULL, source TEXT NOT NULL)",
                      f"INSERT INTO optouts VALUES ('C2', '{AT.isoformat()}', 'reply to M3-C2-20261118')",
                      "PRAGMA user_version = 3", "VACUUM"):  # fmt: skip
        db.execute(statement)
    db.close()
    (tmp_path / "m3mail.optouts").unlink(missing_ok=True)  # and no ledger yet: the state's opt-out is all there is
    assert leaks(path) != []
    with StateStore(path) as store:
        assert store.refuses(Client("C2")) and store.refuses(Client("C5", email="c2@exemple.fr"))
        f = store.follow_up(done.id)
        assert f is not None and f.minimised and f.outcome is Outcome.SATISFAIT
    assert leaks(path) == []
    prints = sqlite3.connect(path).execute("SELECT fingerprint FROM optouts").fetchall()
    assert len(prints) == 2 and not [p for (p,) in prints if "C2" in p or "@" in p]  # id and address, keyed
