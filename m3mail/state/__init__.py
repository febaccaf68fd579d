"""The follow-up state that survives restarts: ``StateStore`` over an embedded SQLite file."""

from m3mail.state.store import SCHEMA_VERSION, Purged, StateStore, follow_up_data, follow_up_id, new_follow_up

__all__ = ["SCHEMA_VERSION", "Purged", "StateStore", "follow_up_data", "follow_up_id", "new_follow_up"]
