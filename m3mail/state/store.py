"""SQLite state: every follow-up with its history, the action log, opt-outs and run metadata.

The file is created private to its owner (mode 0600): it names the clients whose follow-ups are under way. Every
change runs in an explicit transaction. ``PRAGMA user_version`` holds the schema version; older files are
migrated, a newer one is refused rather than guessed at.

Client data is kept only while a follow-up needs it: once closed, a follow-up is minimised (followup.minimised)
and, past its retention, deleted with its history and actions (``purge``); ``forget`` erases a client at once.
Deleted data leaves no trace in the file: ``secure_delete`` overwrites freed content with zeros
(https://www.sqlite.org/pragma.html#pragma_secure_delete), and the WAL, which holds earlier page images, is
truncated after an erasure and removed when the last connection closes (https://www.sqlite.org/wal.html).

The action log is what makes runs safe to kill: an action on a calendar or mailbox is recorded (its key, its
intent) before it is made and marked done after, in the same transaction as the follow-up's new state.
"""

from __future__ import annotations

import functools
import json
import os
import secrets
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar

from pydantic import TypeAdapter

from m3mail.errors import StateError
from m3mail.followup import closed, minimised
from m3mail.models import Client, DueFollowUp, FollowUp, Outcome, PastFollowUp, State
from m3mail.state.optouts import OptOutLedger, fingerprints
from m3mail.state.schema import (
    SCHEMA,
    SCHEMA_VERSION,
    check_database,
    columns,
    create,
    first_line,
    from_v1,
    refuse_empty,
)

T = TypeVar("T")

_FOLLOW_UP = TypeAdapter(FollowUp)




def follow_up_id(client_id: str, window_start: date) -> str:
    """Stable across runs: the same client and window always give the same id."""
    return f"M3-{client_id}-{window_start:%Y%m%d}"


def new_follow_up(due: DueFollowUp, at: datetime) -> FollowUp:
    return FollowUp(
        id=follow_up_id(due.client.id, due.window_start),
        client=due.client,
        adviser=due.adviser,
        contracts=due.contracts,
        due_date=due.due_date,
        window_start=due.window_start,
        window_end=due.window_end,
        priority=due.priority,
        created_at=at,
    )


def _serialised(method: Callable[..., T]) -> Callable[..., T]:
    """A read under the store's lock: threads share one connection, and a read must not land inside
    another thread's transaction."""

    @functools.wraps(method)
    def locked(self: StateStore, *args: Any, **kwargs: Any) -> T:
        with self._lock:
            return method(self, *args, **kwargs)

    return locked


class StateStore:
    """Open (creating when missing) the state file at ``path``; use as a context manager or ``close()``.

    Opening checks the file (SQLite's quick_check, the schema, every follow-up readable) and refuses a damaged or
    empty one with StateError, whose message says what to do: a state is never silently replaced. ``advice``
    is added to that message (where the backups are, how to restore one)."""

    def __init__(self, path: Path, *, ledger: OptOutLedger | None = None, advice: str = ""):
        """``Path(":memory:")`` gives a store with no file (a dry run works on such a copy: ``copy_of``)."""
        self.path, self.advice = path, advice
        self._lock = threading.RLock()
        memory = str(path) == ":memory:"
        self.ledger = ledger if ledger is not None or memory else OptOutLedger(path.with_suffix(".optouts"))
        try:
            if not memory:
                refuse_empty(path, advice)
                if not path.exists():
                    create(path)
            # advisers are served on several threads: one connection, each use of it under self._lock
            self.db = sqlite3.connect(path, isolation_level=None, timeout=30, check_same_thread=False)
            self.db.execute("PRAGMA secure_delete = ON")  # what is deleted is overwritten, free pages included
            self._key: bytes | None = None
            if not memory:
                check_database(self.db, path, advice)
                os.chmod(path, 0o600)
                # one fsync per commit instead of several; still durable (synchronous FULL)
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.execute("PRAGMA synchronous=FULL")
            self._migrate()
        except (OSError, sqlite3.Error) as e:
            raise StateError(f"{path}: cannot open the state database: {e}{advice}") from None
        if not memory:
            self._settle_key()

    @classmethod
    def copy_of(cls, path: Path, *, advice: str = "") -> StateStore:
        """An in-memory copy of the state at ``path`` (checked as opening it would), for a dry run: the folder
        is left as it was, byte for byte. With no WAL file left by a run, the file is opened ``immutable``
        (https://www.sqlite.org/uri.html#uriimmutable): a read-only connection to a WAL database would still
        create its -wal and -shm files, and leave them."""
        ledger = OptOutLedger(path.with_suffix(".optouts"), read_only=True)
        store = cls(Path(":memory:"), ledger=ledger, advice=advice)
        if path.exists():
            refuse_empty(path, advice)
            wal = Path(f"{path}-wal").exists()
            try:
                source = sqlite3.connect(f"file:{path}?{'mode=ro' if wal else 'immutable=1'}", uri=True)
                try:
                    check_database(source, path, advice)
                    source.backup(store.db)
                finally:
                    source.close()
                store._migrate()
            except sqlite3.Error as e:
                raise StateError(f"{path}: cannot open the state database: {e}{advice}") from None
        store._settle_key()
        return store

    def _settle_key(self) -> None:
        """The opt-out ledger's key, and its mirror in the state (either restores the other)."""
        key = self._fingerprint_key().hex()
        if (self.ledger is None or not self.ledger.read_only) and self.get("optouts.key") != key:
            self.put("optouts.key", key)

    def _fingerprint_key(self) -> bytes:
        """The key of the opt-outs' fingerprints: the ledger's (settled with the state's mirror of it)."""
        if self._key is None:
            has_meta = self.db.execute("SELECT 1 FROM sqlite_master WHERE name = 'meta'").fetchone() is not None
            row = self.db.execute("SELECT value FROM meta WHERE name = 'optouts.key'").fetchone() if has_meta else None
            mirrored = row[0] if row else ""
            key = self.ledger.use_key(mirrored) if self.ledger is not None else mirrored or secrets.token_hex(32)
            self._key = bytes.fromhex(key)
        return self._key

    def fingerprints(self, client: Client) -> list[str]:
        return fingerprints(self._fingerprint_key(), client)

    def __enter__(self) -> StateStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")

    # --- schema ------------------------------------------------------------------------------------------

    def _migrate(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StateError(
                f"{self.path}: schema version {version} is newer than this m3mail knows ({SCHEMA_VERSION}); "
                "upgrade m3mail"
            )
        if version == SCHEMA_VERSION:
            return
        if version == 2:  # schema 3 adds the actions' progress notes
            with self.transaction() as db:
                db.execute("ALTER TABLE actions ADD COLUMN progress TEXT NOT NULL DEFAULT ''")
                db.execute("PRAGMA user_version = 3")
            version = 3
        if version == 3:
            self._to_v4()
            return
        # one statement at a time: executescript() would commit the transaction half-way
        with self.transaction() as db:
            old = db.execute("SELECT * FROM followups").fetchall() if version == 1 else []
            if version == 1:
                db.execute("ALTER TABLE followups RENAME TO followups_v1")
                db.execute("ALTER TABLE history RENAME TO history_v1")
                db.execute("DROP INDEX IF EXISTS followups_client")
                db.execute("DROP INDEX IF EXISTS history_followup")
            for statement in SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)
            for row in old:
                self._save(db, from_v1(row))
            if version == 1:
                db.execute("INSERT INTO history (followup_id, at, event, detail) "
                           "SELECT followup_id, at, event, detail FROM history_v1")  # fmt: skip
                db.execute("DROP TABLE history_v1")
                db.execute("DROP TABLE followups_v1")
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _to_v4(self) -> None:
        """Schema 4 keeps client data only while a follow-up needs it: the opt-outs become keyed fingerprints (of
        the id, and of the address the client was emailed at, which their follow-ups say), the closed follow-ups
        are minimised, and the file is rebuilt (VACUUM, https://www.sqlite.org/lang_vacuum.html: it copies the
        content to a new file and back, leaving no free page) so that no page keeps what was erased."""
        with self.transaction() as db:
            emails: dict[str, set[str]] = {}
            for client_id, data in db.execute("SELECT client_id, data FROM followups"):
                if email := json.loads(data).get("client", {}).get("email"):
                    emails.setdefault(client_id, set()).add(email)
            refusals = []
            if "client_id" in columns(db, "optouts"):  # schema 3's: the ids in clear
                refusals = db.execute("SELECT client_id, at, source FROM optouts").fetchall()
                db.execute("DROP TABLE optouts")
            if "personal" not in columns(db, "followups"):
                db.execute("ALTER TABLE followups ADD COLUMN personal INTEGER NOT NULL DEFAULT 1")
            for statement in SCHEMA.split(";"):
                if "optouts" in statement or "followups_personal" in statement:
                    db.execute(statement.replace("CREATE TABLE", "CREATE TABLE IF NOT EXISTS")
                               .replace("CREATE INDEX", "CREATE INDEX IF NOT EXISTS"))  # fmt: skip
            for client_id, at, _source in refusals:
                for email in emails.get(client_id) or {""}:
                    for fp in self.fingerprints(Client(client_id, email=email)):
                        db.execute("INSERT OR IGNORE INTO optouts VALUES (?,?,?)", (fp, at, "stop"))
            db.execute("PRAGMA user_version = 4")
        self.minimise_closed(datetime.now().astimezone())
        if str(self.path) != ":memory:":
            self.db.execute("VACUUM")

    # --- follow-ups --------------------------------------------------------------------------------------

    @_serialised
    def follow_ups(self, *, active_only: bool = False) -> list[FollowUp]:
        """All follow-ups, or only those with work left (not ended, or their record not yet filed)."""
        query = "SELECT data FROM followups" + (" WHERE active = 1" if active_only else "") + " ORDER BY id"
        return [self._load(row[0]) for row in self.db.execute(query)]

    @_serialised
    def follow_ups_since(self, adviser: str, day: date) -> list[FollowUp]:
        """An adviser's follow-ups with work left, active since ``day``, or ended as a complaint (the digest
        shows complaints until they are answered)."""
        rows = self.db.execute(
            "SELECT data FROM followups WHERE adviser = ? AND (active = 1 OR last_activity >= ? "
            "OR json_extract(data, '$.outcome') = ?) ORDER BY id",
            (adviser, day.isoformat(), Outcome.RECLAMATION.value),
        )
        return [self._load(row[0]) for row in rows]

    @_serialised
    def follow_up(self, fid: str) -> FollowUp | None:
        row = self.db.execute("SELECT data FROM followups WHERE id = ?", (fid,)).fetchone()
        return self._load(row[0]) if row else None

    def _load(self, data: str) -> FollowUp:
        """A follow-up's row; one that cannot be read is a damaged state (checked at opening, so unexpected)."""
        try:
            return _FOLLOW_UP.validate_json(data)
        except ValueError as e:
            raise StateError(f"{self.path}: a follow-up cannot be read ({first_line(e)}){self.advice}") from None

    def add(self, follow_ups: Iterable[FollowUp], at: datetime) -> list[FollowUp]:
        """Record new follow-ups (those already known are left as they are); returns the ones added."""
        added = []
        with self.transaction() as db:
            for f in follow_ups:
                if db.execute("SELECT 1 FROM followups WHERE id = ?", (f.id,)).fetchone() is None:
                    self._save(db, f)
                    _history(db, f.id, at, "selected", f"{len(f.contracts)} contract(s), priority {f.priority}")
                    added.append(f)
        return added

    def save(self, f: FollowUp, at: datetime, event: str, detail: str = "") -> None:
        with self.transaction() as db:
            self._save(db, f)
            _history(db, f.id, at, event, detail)

    def _save(self, db: sqlite3.Connection, f: FollowUp) -> None:
        if f.state is State.OPTED_OUT and not f.minimised:  # a STOP: the client is never selected again
            self._refuse(db, f.client, f.ended_at or f.created_at, "stop")
        db.execute(
            "INSERT OR REPLACE INTO followups (id, client_id, adviser, state, window_start, window_end, "
            "last_activity, active, data, personal) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (f.id, f.client.id, f.adviser, f.state.value, f.window_start.isoformat(), f.window_end.isoformat(),
             f.last_activity.isoformat(), int(not (f.state.ended and f.record_filed)),
             _FOLLOW_UP.dump_json(f).decode(), int(not f.minimised)),
        )  # fmt: skip

    def _refuse(self, db: sqlite3.Connection, client: Client, at: datetime, source: str) -> None:
        """Record an opt-out: first in the ledger, which outlives the database, then here; fingerprints only."""
        if self.ledger is not None:
            self.ledger.record(client, at.date())
        for fp in self.fingerprints(client):
            db.execute("INSERT OR REPLACE INTO optouts VALUES (?,?,?)", (fp, at.isoformat(), source))

    @_serialised
    def history(self, fid: str) -> list[tuple[str, str, str]]:
        rows = self.db.execute("SELECT at, event, detail FROM history WHERE followup_id = ? ORDER BY seq", (fid,))
        return list(rows)

    @_serialised
    def past_follow_ups(self) -> list[PastFollowUp]:
        """Every follow-up ever started, as selection needs them."""
        rows = self.db.execute("SELECT client_id, window_start, window_end, last_activity, state FROM followups")
        return [
            PastFollowUp(client_id, date.fromisoformat(start), date.fromisoformat(end), date.fromisoformat(last),
                         open=not State(state).ended)  # fmt: skip
            for client_id, start, end, last, state in rows
        ]

    # --- the action log ----------------------------------------------------------------------------------

    @_serialised
    def action_status(self, key: str) -> str | None:
        row = self.db.execute("SELECT status FROM actions WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def intend(self, key: str, followup_id: str | None, kind: str, mailbox: str, at: datetime) -> None:
        """Record that the action is about to be made (before any call to a backend)."""
        stamp = at.isoformat(timespec="seconds")
        with self.transaction() as db:
            db.execute(
                "INSERT INTO actions (key, followup_id, kind, mailbox, status, tries, created_at, updated_at) "
                "VALUES (?,?,?,?, 'intent', 1, ?, ?) ON CONFLICT (key) DO UPDATE SET tries = tries + 1, "
                "status = 'intent', updated_at = excluded.updated_at",
                (key, followup_id, kind, mailbox, stamp, stamp),
            )

    def done(self, key: str, at: datetime, result: str, follow_up: FollowUp | None, event: str, detail: str) -> None:
        """Mark the action done and save the follow-up's new state, in one transaction."""
        with self.transaction() as db:
            db.execute("UPDATE actions SET status = 'done', updated_at = ?, result = ?, error = '' WHERE key = ?",
                       (at.isoformat(timespec="seconds"), result, key))  # fmt: skip
            if follow_up is not None:
                self._save(db, follow_up)
                _history(db, follow_up.id, at, event, detail)

    def failed(self, key: str, at: datetime, error: str) -> None:
        with self.transaction() as db:
            db.execute("UPDATE actions SET status = 'failed', updated_at = ?, error = ? WHERE key = ?",
                       (at.isoformat(timespec="seconds"), error, key))  # fmt: skip

    def pending(self, key: str, at: datetime, detail: str) -> None:
        """The action was accepted and its result cannot be seen yet: neither done nor failed."""
        with self.transaction() as db:
            db.execute("UPDATE actions SET status = 'pending', updated_at = ?, error = ? WHERE key = ?",
                       (at.isoformat(timespec="seconds"), detail, key))  # fmt: skip

    @_serialised
    def progress(self, key: str) -> str:
        """What an earlier try of the action noted ("" when none did)."""
        row = self.db.execute("SELECT progress FROM actions WHERE key = ?", (key,)).fetchone()
        return str(row[0]) if row else ""

    def note(self, key: str, text: str) -> None:
        """Record, durably, what a try of the action made so far (before its next write)."""
        with self.transaction() as db:
            db.execute("UPDATE actions SET progress = ? WHERE key = ?", (text, key))

    @_serialised
    def last_done(self, prefix: str) -> datetime | None:
        """When the latest action whose key starts with ``prefix`` was done."""
        row = self.db.execute("SELECT max(updated_at) FROM actions WHERE key >= ? AND key < ? AND status = 'done'",
                              (prefix, prefix + "\uffff")).fetchone()  # fmt: skip
        return datetime.fromisoformat(row[0]) if row and row[0] else None

    @_serialised
    def failures(self) -> list[tuple[str, str | None, str, str]]:
        """Actions whose last try failed: (key, follow-up id, mailbox, error)."""
        rows = self.db.execute("SELECT key, followup_id, mailbox, error FROM actions WHERE status = 'failed'")
        return list(rows)

    # --- opt-outs and metadata ---------------------------------------------------------------------------

    def refuses(self, client: Client) -> bool:
        """Whether the client opted out through m3mail (or was forgotten), by their id or by their address: in
        this database, or in the opt-out ledger (which a restored or new database does not lose)."""
        prints = self.fingerprints(client)
        if self.ledger is not None and self.ledger.holds(prints):
            return True
        return self._recorded_at(prints) is not None

    def refusals(self) -> Callable[[Client], bool]:
        """``refuses`` for many clients at once (an export's): the opt-outs read once, each client's fingerprints
        computed once."""
        with self._lock:
            known = {row[0] for row in self.db.execute("SELECT fingerprint FROM optouts")}
        if self.ledger is not None:
            known |= self.ledger.known()
        key = self._fingerprint_key()
        return lambda client: any(fp in known for fp in fingerprints(key, client))

    def refused_on(self, client: Client) -> str | None:
        """When this database recorded the client's opt-out (its latest), or None."""
        return self._recorded_at(self.fingerprints(client))

    def _recorded_at(self, prints: list[str]) -> str | None:
        with self._lock:  # indexed look-ups: this is asked for every follow-up of every pass
            rows = [self.db.execute("SELECT at FROM optouts WHERE fingerprint = ?", (fp,)).fetchone() for fp in prints]
        return max((row[0] for row in rows if row), default=None)

    # --- minimisation, retention, erasure ----------------------------------------------------------------

    def minimise_closed(self, at: datetime, *, dry_run: bool = False) -> int:
        """Minimise every closed follow-up that still holds client data, with its actions' error texts and
        notes (which may quote an address); returns how many (``dry_run``: would be)."""
        with self._lock:
            rows = self.db.execute("SELECT data FROM followups WHERE personal = 1 AND active = 0").fetchall()
        done = 0
        for (data,) in rows:
            f = self._load(data)
            if not closed(f):
                continue  # a reply still to file
            done += 1
            if dry_run:
                continue
            with self.transaction() as db:
                self._save(db, minimised(f))
                db.execute("UPDATE actions SET error = '', progress = '' WHERE followup_id = ?", (f.id,))
                _history(db, f.id, at, "minimised", "closed: the client's data erased from the state")
        return done

    def tidy(self, at: datetime, follow_ups_before: date, opt_outs_before: date, *,
             dry_run: bool = False) -> tuple[int, Purged]:  # fmt: skip
        """What each run does at its end: minimise the closed follow-ups, then purge what is past its retention;
        returns how many were minimised and what was purged (``dry_run``: would be)."""
        minimised = self.minimise_closed(at, dry_run=dry_run)
        return minimised, self.purge(follow_ups_before, opt_outs_before, dry_run=dry_run)

    def purge(self, follow_ups_before: date, opt_outs_before: date, *, dry_run: bool = False) -> Purged:
        """Delete what is past its retention: the minimised follow-ups last active before ``follow_ups_before``
        with their history and actions, the adviser's actions (digests) last updated before it, and the
        opt-outs made before ``opt_outs_before`` (here and in the ledger). ``dry_run``: count only."""
        cut, refused = follow_ups_before.isoformat(), opt_outs_before.isoformat()
        old = "SELECT id FROM followups WHERE personal = 0 AND active = 0 AND last_activity < ?"
        queries = {
            "follow_ups": ("followups WHERE id IN (" + old + ")", (cut,)),
            "history": ("history WHERE followup_id IN (" + old + ")", (cut,)),
            "actions": ("actions WHERE followup_id IN (" + old + ") OR (followup_id IS NULL AND updated_at < ?)",
                        (cut, cut)),
            "opt_outs": ("optouts WHERE at < ?", (refused,)),
        }  # fmt: skip
        with self.transaction() as db:
            counts = {name: db.execute(f"SELECT count(*) FROM {q}", args).fetchone()[0]
                      for name, (q, args) in queries.items()}  # fmt: skip
            if not dry_run:
                for name in ("history", "actions", "follow_ups", "opt_outs"):
                    q, args = queries[name]
                    db.execute(f"DELETE FROM {q}", args)
        ledger = 0
        if not dry_run and self.ledger is not None:
            ledger = self.ledger.forget_before(opt_outs_before)
        if not dry_run and any(counts.values()):
            self._truncate_wal()
        return Purged(**counts, ledger=ledger)

    def forget(self, client_id: str, emails: Iterable[str], at: datetime) -> list[FollowUp]:
        """Erase the client from the state (follow-ups, history, actions) and keep only the fingerprints that
        refuse them from now on: of their id, and of each address they are known by (``emails``, and those their
        follow-ups hold); returns the follow-ups erased, for the message that says where the mailboxes and
        calendars still hold their exchanges."""
        with self.transaction() as db:
            rows = db.execute("SELECT data FROM followups WHERE client_id = ?", (client_id,)).fetchall()
            erased = [self._load(data) for (data,) in rows]
            known = {e for e in emails if e} | {f.client.email for f in erased if f.client.email}
            for email in sorted(known) or [""]:
                self._refuse(db, Client(client_id, email=email), at, "forget")
            ids = [(f.id,) for f in erased]
            for table, column in (("history", "followup_id"), ("actions", "followup_id"), ("followups", "id")):
                db.executemany(f"DELETE FROM {table} WHERE {column} = ?", ids)
        self._truncate_wal()
        return erased

    @_serialised
    def actions_of(self, fid: str) -> list[tuple[str, str, str, str, str]]:
        """A follow-up's actions: (key, kind, status, created_at, updated_at)."""
        rows = self.db.execute("SELECT key, kind, status, created_at, updated_at FROM actions WHERE followup_id = ? "
                               "ORDER BY created_at, key", (fid,))  # fmt: skip
        return list(rows)

    @_serialised
    def follow_ups_of(self, client_id: str) -> list[FollowUp]:
        rows = self.db.execute("SELECT data FROM followups WHERE client_id = ? ORDER BY id", (client_id,))
        return [self._load(data) for (data,) in rows]

    def _truncate_wal(self) -> None:
        """The WAL still holds the pages as they were before an erasure: write them back and empty it."""
        if str(self.path) != ":memory:":
            with self._lock:
                self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    @_serialised
    def get(self, name: str, default: str = "") -> str:
        row = self.db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return row[0] if row else default

    def put(self, name: str, value: str) -> None:
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO meta VALUES (?,?)", (name, value))


@dataclass(frozen=True)
class Purged:
    """What a purge deleted (or, in a dry run, would): rows of each table, and fingerprints of the ledger."""

    follow_ups: int = 0
    history: int = 0
    actions: int = 0
    opt_outs: int = 0
    ledger: int = 0


def follow_up_data(f: FollowUp) -> dict[str, Any]:
    """The follow-up as the state stores it, as plain JSON values."""
    data: dict[str, Any] = _FOLLOW_UP.dump_python(f, mode="json")
    return data


def _history(db: sqlite3.Connection, fid: str, at: datetime, event: str, detail: str) -> None:
    db.execute("INSERT INTO history (followup_id, at, event, detail) VALUES (?,?,?,?)",
               (fid, at.isoformat(timespec="seconds"), event, detail))  # fmt: skip




__all__ = ["SCHEMA_VERSION", "Purged", "StateStore", "follow_up_data", "follow_up_id", "new_follow_up"]
