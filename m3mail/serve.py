"""``m3mail serve``: a pass now, then one at each interval, until asked to stop."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import timedelta

from m3mail.errors import LockBusy, M3MailError

log = logging.getLogger("m3mail")


def serve(every: timedelta, stop: threading.Event, *, run: Callable[[], object]) -> None:
    """A pass now, then one at each interval until ``stop`` is set (SIGTERM, Ctrl-C)."""
    while not stop.is_set():
        started = time.monotonic()
        try:
            run()
        except LockBusy as e:
            log.warning("%s", e)
        except M3MailError as e:
            log.error("pass failed: %s", e)
        stop.wait(max(0.0, every.total_seconds() - (time.monotonic() - started)))
