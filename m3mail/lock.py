"""One run at a time: the lock beside the state (``m3mail.db.lock``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from filelock import FileLock, Timeout

from m3mail.errors import LockBusy
from m3mail.settings import Settings


@contextmanager
def locked(settings: Settings) -> Iterator[None]:
    """One run at a time: a second one stops at once with LockBusy (its own exit code)."""
    lock = FileLock(str(settings.state) + ".lock", timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise LockBusy(f"another m3mail run holds {lock.lock_file}; this one stops without acting") from None
    try:
        yield
    finally:
        lock.release()
