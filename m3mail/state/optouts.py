"""The opt-out ledger: the clients who told m3mail to stop, kept apart from the state database.

A STOP must outlive the state: a database restored from yesterday's backup, or lost and started anew, must still
never contact a client who refused. So every opt-out m3mail records (a STOP reply, a complaint report) is also
appended to a small text file next to the state, written and fsynced before the state's own transaction, and read
by every run whatever the database holds.

It is not a readable list of clients. Each line is a keyed fingerprint, HMAC-SHA256 of the client id, and one of
the address m3mail emailed, with the date of the opt-out. CNIL's guidance on opt-out lists ("Comment utiliser une
liste repoussoir pour respecter l'opposition à la prospection commerciale ?", 27 January 2022,
https://www.cnil.fr/fr/comment-utiliser-une-liste-repoussoir-pour-respecter-lopposition-la-prospection-commerciale)
allows such a list for that purpose only, and its decision MED-2023-040 (26 June 2023) found that only the data
needed to honour the objection should be kept, "sous une forme hachée". The key is random, private to its owner
(mode 0600), in ``<ledger>.key`` and mirrored in the state's metadata, so that either one restores the other.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from datetime import date
from pathlib import Path

from m3mail.addresses import normalised
from m3mail.errors import StateError
from m3mail.models import Client

HEADER = ("# m3mail opt-outs: one keyed fingerprint (HMAC-SHA256) a line, with its date. Written by m3mail only "
          "(appended; rewritten to drop those past their retention); never edit.\n")


class OptOutLedger:
    """The fingerprints at ``path``; ``read_only`` (a dry run) never writes, not even a missing key."""

    def __init__(self, path: Path, *, read_only: bool = False):
        self.path, self.key_path, self.read_only = path, path.with_name(path.name + ".key"), read_only
        self._key: bytes | None = None
        self._known: set[str] | None = None

    # --- the key ------------------------------------------------------------------------------------------

    def stored_key(self) -> str:
        """The key file's text ("" when there is none)."""
        try:
            return self.key_path.read_text(encoding="ascii").strip()
        except FileNotFoundError:
            return ""
        except (OSError, UnicodeDecodeError) as e:
            raise StateError(f"{self.key_path}: the opt-out ledger's key cannot be read: {e}") from None

    def use_key(self, mirrored: str) -> str:
        """Settle the key with the copy the state holds (``mirrored``, maybe ""): the file wins, a lost file is
        written back from the state, and a new key is made when neither has one. Returns the key in use."""
        key = self.stored_key() or mirrored or secrets.token_hex(32)
        if not self.read_only and self.stored_key() != key:
            _write_private(self.key_path, key + "\n")
        self._key = bytes.fromhex(key)
        return key

    # --- the fingerprints ---------------------------------------------------------------------------------

    def fingerprints(self, client: Client) -> list[str]:
        """The client's id, and the address emailed when there is one."""
        if self._key is None:
            raise StateError(f"{self.path}: the opt-out ledger was read before its key was settled")
        return fingerprints(self._key, client)

    def knows(self, client: Client) -> bool:
        """Whether the client opted out through m3mail (by their id or by the address they were emailed at)."""
        return self.holds(self.fingerprints(client))

    def holds(self, prints: list[str]) -> bool:
        """Whether any of these fingerprints is in the ledger."""
        return any(fp in self._lines() for fp in prints)

    def record(self, client: Client, day: date) -> None:
        """Append the client's fingerprints (once each), durably, before the state records the opt-out."""
        new = [fp for fp in self.fingerprints(client) if fp not in self._lines()]
        if not new or self.read_only:
            return
        fresh = not self.path.exists()
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            with os.fdopen(fd, "a", encoding="ascii") as f:
                f.write((HEADER if fresh else "") + "".join(f"{day.isoformat()} {fp}\n" for fp in new))
                f.flush()
                os.fsync(f.fileno())
        except OSError as e:
            raise StateError(f"{self.path}: the opt-out cannot be recorded: {e}") from None
        self._lines().update(new)

    def forget_before(self, day: date) -> int:
        """Drop the opt-outs made before ``day`` (past their retention), the file rewritten whole; returns how
        many fingerprints went. An opt-out recorded again later is kept from its latest date."""
        if self.read_only or not self.path.exists():
            return 0
        latest: dict[str, str] = {}
        for line in self._text().splitlines():
            if len(parts := line.split()) == 2 and not line.startswith("#"):
                latest[parts[1]] = max(latest.get(parts[1], ""), parts[0])
        kept = {fp: at for fp, at in latest.items() if at >= day.isoformat()}
        if len(kept) == len(latest):
            return 0
        _write_private(self.path, HEADER + "".join(f"{at} {fp}\n" for fp, at in sorted(kept.items(), key=_by_date)))
        self._known = set(kept)
        return len(latest) - len(kept)

    def recorded_on(self, client: Client) -> date | None:
        """The day of the client's latest opt-out in the ledger, if any."""
        prints = set(self.fingerprints(client))
        days = [parts[0] for line in self._text().splitlines()
                if len(parts := line.split()) == 2 and parts[1] in prints]  # fmt: skip
        return date.fromisoformat(max(days)) if days else None

    def __len__(self) -> int:
        return len(self._lines())

    def known(self) -> frozenset[str]:
        """Every fingerprint the ledger holds."""
        return frozenset(self._lines())

    def _text(self) -> str:
        try:
            return self.path.read_text(encoding="ascii")
        except FileNotFoundError:
            return ""
        except (OSError, UnicodeDecodeError) as e:
            raise StateError(f"{self.path}: the opt-out ledger cannot be read: {e}") from None

    def _lines(self) -> set[str]:
        if self._known is None:
            self._known = {parts[1] for line in self._text().splitlines()
                           if len(parts := line.split()) == 2 and not line.startswith("#")}  # fmt: skip
        return self._known


def fingerprints(key: bytes, client: Client) -> list[str]:
    """Keyed fingerprints (HMAC-SHA256) of the client's id, and of the address emailed when there is one: enough
    to recognise the client again, never to read who they are."""
    values = [f"id:{client.id}"] + ([f"email:{normalised(client.email)}"] if client.email else [])
    return [hmac.new(key, v.encode(), hashlib.sha256).hexdigest() for v in values]


def _by_date(item: tuple[str, str]) -> tuple[str, str]:
    return item[1], item[0]


def _write_private(path: Path, text: str) -> None:
    """Written whole (a temporary file renamed over it), mode 0600."""
    temporary = path.with_name(path.name + ".tmp")
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except OSError as e:
        raise StateError(f"{path}: cannot be written: {e}") from None
