"""Files m3mail writes for people: written whole or not at all."""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def private_files() -> Iterator[None]:
    """What is made inside is private to its owner (umask 077): folders 0700, files 0600, like the state.
    Python's mailbox module makes a Maildir's own folders 0700 but writes messages with 0666 under the umask
    (``_create_carefully``, CPython Lib/mailbox.py), and ``Path.mkdir(parents=True)`` makes parents with the
    default mode whatever ``mode`` says (pathlib's documentation): only the umask covers both. The umask is the
    process's; the local backend, which uses this, is served on one thread."""
    old = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(old)


def write_atomic(path: Path, data: bytes) -> None:
    """Write a sibling temporary file, flush it to the disk, then rename it over ``path``: readers see the old
    file or the new one, never half of one. A new file is private (0600): calendars name clients."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if path.exists():
            os.chmod(tmp, stat.S_IMODE(path.stat().st_mode))
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # the rename itself lasts once the folder is synced (not on Windows)
        folder = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)
