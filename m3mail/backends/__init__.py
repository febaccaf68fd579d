"""Where calendars and mailboxes live: one contract (``base.Backend``), several places (local, Microsoft 365)."""
