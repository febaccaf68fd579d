"""Logging: readable lines by default, one JSON object per line for a service's journal.

Log records carry ids (follow-up ids, which embed the client id), never a client's name, email or phone:
call sites pass ``extra={"followup": id}`` and keep client data out of messages.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

_EXTRA = ("followup", "retryable", "mailbox")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "message": record.getMessage(),
        }
        data |= {k: getattr(record, k) for k in _EXTRA if hasattr(record, k)}
        return json.dumps(data, ensure_ascii=False)


class LineFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        ids = " ".join(f"{k}={getattr(record, k)}" for k in _EXTRA if hasattr(record, k))
        return f"m3mail: {record.levelname}: {record.getMessage()}" + (f" [{ids}]" if ids else "")


def setup_logging(level: int, *, as_json: bool = False) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if as_json else LineFormatter())
    log = logging.getLogger("m3mail")
    log.handlers[:] = [handler]
    log.setLevel(level)
    log.propagate = False
