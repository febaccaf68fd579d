"""Runs actions: records each one's intent, calls the backend, records the result with the follow-up's new state.

A run killed at any point leaves at worst an action recorded as intended and not done; the next run plans the
same work under the same key, the backend finds what was already made, and nothing is duplicated or lost.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from m3mail.actions import Action, SendEmail, Update
from m3mail.backends.base import Backend
from m3mail.errors import BackendError, M3MailError
from m3mail.models import FollowUp
from m3mail.state import StateStore

log = logging.getLogger("m3mail")
Clock = Callable[[], datetime]


@dataclass
class Tally:
    """What the executor did, by action kind, and what failed."""

    done: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def count(self, kind: str) -> None:
        self.done[kind] = self.done.get(kind, 0) + 1


class SendingLimit:
    """Exchange accepts 30 messages a minute per mailbox; past that it queues them. We wait instead."""

    def __init__(self, per_minute: int, clock: Clock, sleep: Callable[[float], None]):
        self.per_minute, self.clock, self.sleep = per_minute, clock, sleep
        self.sent: dict[str, deque[datetime]] = {}

    def wait(self, mailbox: str) -> None:
        recent = self.sent.setdefault(mailbox, deque())
        now = self.clock()
        while recent and now - recent[0] >= timedelta(minutes=1):
            recent.popleft()
        if len(recent) >= self.per_minute:
            self.sleep((recent[0] + timedelta(minutes=1) - now).total_seconds())
            recent.popleft()
        recent.append(self.clock())


class Executor:
    """Executes actions against one backend and one state store."""

    def __init__(self, backend: Backend, store: StateStore, clock: Clock, *, dry_run: bool = False,
                 limit: SendingLimit | None = None, stop: threading.Event | None = None,
                 echo: Callable[[str], None] = print):  # fmt: skip
        self.backend, self.store, self.clock = backend, store, clock
        self.dry_run, self.limit, self.stop, self.echo = dry_run, limit, stop, echo
        self.tally = Tally()

    def execute(self, actions: Iterable[Action]) -> dict[str, FollowUp]:
        """Run the actions in order; returns the follow-ups they changed, by id. Stops between two actions
        when asked to (SIGTERM): what is left is planned again by the next run."""
        changed: dict[str, FollowUp] = {}
        for action in actions:
            if self.stop is not None and self.stop.is_set():
                break
            if (new := self._one(action)) is not None:
                changed[new.id] = new
        return changed

    def _one(self, action: Action) -> FollowUp | None:
        if self.dry_run:
            self.echo(f"[dry-run] {action.describe()}")
            return action.after(None, self.clock()) if isinstance(action, Update) else None
        fid = action.follow_up.id if action.follow_up else None
        if isinstance(action, Update):
            return self._update(action)
        prior = self.store.action_status(action.key)
        if prior == "done":
            return None  # made by an earlier run; its follow-up was saved with it
        self.store.intend(action.key, fid, action.kind, action.mailbox, self.clock())
        try:
            if isinstance(action, SendEmail) and self.limit is not None:
                self.limit.wait(action.mailbox)
            result = action.perform(self.backend, resume=prior is not None)  # tried before: look first
            new = action.after(result, self.clock())
        except M3MailError as e:
            self.store.failed(action.key, self.clock(), str(e))
            self.tally.errors.append(f"{action.describe()}: {e}")
            log.error("%s failed: %s", action.describe(), e, extra={"followup": fid, "retryable": _retryable(e)})
            return None
        self.store.done(action.key, self.clock(), _summary(result), new, action.event, action.describe())
        self.tally.count(action.kind)
        log.info("%s done", action.describe(), extra={"followup": fid})
        return new

    def _update(self, action: Update) -> FollowUp | None:
        assert action.new is not None
        self.store.save(action.new, self.clock(), action.event, action.detail)
        self.tally.count(f"update:{action.event}")
        log.info("%s", action.describe(), extra={"followup": action.new.id})
        return action.new


def _retryable(error: Exception) -> bool:
    return isinstance(error, BackendError) and error.retryable


def _summary(result: object) -> str:
    """What the backend answered, for the action log: ids only."""
    for name in ("id", "message_id"):
        if (value := getattr(result, name, None)) is not None:
            return f"{name}={value}"
    return str(result) if isinstance(result, str) else ""
