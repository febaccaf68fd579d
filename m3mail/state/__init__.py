"""The follow-up state that survives restarts: ``StateStore`` over an embedded SQLite file."""

from m3mail.state.store import SCHEMA_VERSION, StateStore

__all__ = ["SCHEMA_VERSION", "StateStore"]
