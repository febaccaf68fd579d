"""Runs actions: records each one's intent, calls the backend, records the result with the follow-up's new state.

The executor is the only writer of the state during a pass: the follow-ups' changes, the new follow-ups, the
values the next runs read (``Remember``) and the action log all go through it. It returns a ``Tally`` of what it
did, which a dry run fills with what it would do.

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
from enum import Enum
from typing import Any, Literal

from m3mail.actions import AnyAction, Purge, Remember, SendEmail, Start, Update
from m3mail.backends.base import Backend, Progress
from m3mail.errors import BackendError, M3MailError, Pending
from m3mail.models import FollowUp
from m3mail.state import StateStore

log = logging.getLogger("m3mail")
Clock = Callable[[], datetime]


class Halted(Enum):
    """An action that failed (or is pending): the rest of its follow-up's actions wait for the next run."""

    FAILED = "failed"


Outcome = FollowUp | None | Literal[Halted.FAILED]  # an action's effect: the new follow-up, no change, or halted


@dataclass
class Tally:
    """What the executor did, by action kind, what failed, and the follow-ups it changed (by id)."""

    done: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    changed: dict[str, FollowUp] = field(default_factory=dict)

    def __iadd__(self, other: Tally) -> Tally:
        for name, n in other.done.items():
            self.done[name] = self.done.get(name, 0) + n
        self.errors += other.errors
        self.changed |= other.changed
        return self

    def count(self, kind: str, event: str = "") -> None:
        """One more action of ``kind`` done (or, in a dry run, that would be), and of ``kind:event``."""
        for name in (kind, f"{kind}:{event}") if event else (kind,):
            self.done[name] = self.done.get(name, 0) + 1

    def of(self, kind: str, *events: str) -> int:
        """Actions of ``kind`` done (with ``events``: of those events only)."""
        return sum(self.done.get(f"{kind}:{e}", 0) for e in events) if events else self.done.get(kind, 0)


class SendingLimit:
    """Exchange accepts 30 messages a minute per mailbox; past that it queues them. We wait instead."""

    def __init__(self, per_minute: int, clock: Clock, sleep: Callable[[float], None]):
        self.per_minute, self.clock, self.sleep = per_minute, clock, sleep
        self.sent: dict[str, deque[datetime]] = {}
        self._lock = threading.Lock()

    def wait(self, mailbox: str) -> None:
        with self._lock:  # a mailbox's emails are sent by one thread; the threads share the dict
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

    def execute(self, *stages: Iterable[AnyAction]) -> Tally:
        """Run the stages' actions, stage after stage; returns what was done (and the follow-ups changed).

        Each follow-up's actions run in their order, each acting for the follow-up as the ones before it left it
        (``Action.on``), and after one fails the rest of that follow-up's wait for the next run, in this stage
        and the later ones (a record is not filed over an email copy that failed). Within a stage, actions of
        different follow-ups go in rounds, one per follow-up, so that those of a kind and mailbox go to the
        backend together (perform_many: Graph $batch). Stops between two groups when asked to (SIGTERM): what
        is left is planned again by the next run. Safe to call from several threads (one adviser each)."""
        tally, failed = Tally(), set[str]()
        for stage, actions in enumerate(stages):
            queues: dict[str, deque[AnyAction]] = {}
            for n, action in enumerate(actions):  # an action for no follow-up: a queue of its own in its stage
                fid = action.follow_up.id if action.follow_up else f"#{stage}.{n}"
                if fid not in failed:
                    queues.setdefault(fid, deque()).append(action)
            while queues:
                heads = [(fid, self._rebased(queue.popleft(), tally)) for fid, queue in queues.items()]
                for group in _groups(heads):
                    if self.stop is not None and self.stop.is_set():
                        return tally
                    for (fid, _a), outcome in zip(group, self._perform([a for _f, a in group], tally), strict=True):
                        if outcome is Halted.FAILED:
                            failed.add(fid)
                        elif isinstance(outcome, FollowUp):
                            tally.changed[outcome.id] = outcome
                queues = {fid: queue for fid, queue in queues.items() if queue and fid not in failed}
        return tally

    @staticmethod
    def _rebased(action: AnyAction, tally: Tally) -> AnyAction:
        latest = tally.changed.get(action.follow_up.id) if action.follow_up else None
        return action.on(latest) if latest is not None else action

    def _perform(self, group: list[AnyAction], tally: Tally) -> list[Outcome]:
        """Run one group (one action, or several of a batched kind for one mailbox): each one's new
        follow-up, None (nothing changes) or Halted.FAILED."""
        if isinstance(group[0], Start):  # a dry run too: its in-memory state holds them for the passes to plan
            return self._start([a for a in group if isinstance(a, Start)], tally)
        if self.dry_run:
            return self._pretend(group, tally)
        if isinstance(group[0], Update):
            return [self._update(a, tally) for a in group if isinstance(a, Update)]
        if isinstance(group[0], Remember):
            return [self._remember(a, tally) for a in group if isinstance(a, Remember)]
        if isinstance(group[0], Purge):
            return [self._purge(a, tally) for a in group if isinstance(a, Purge)]
        outcomes: list[Outcome] = [None] * len(group)
        todo: list[tuple[int, AnyAction, bool]] = []
        for i, action in enumerate(group):
            prior = self.store.action_status(action.key)
            if prior == "done":
                continue  # made by an earlier run; its follow-up was saved with it
            fid = action.follow_up.id if action.follow_up else None
            self.store.intend(action.key, fid, action.kind, action.mailbox, self.clock())
            todo.append((i, action, prior is not None))  # tried before: the backend looks first
        if not todo:
            return outcomes
        for _i, action, _again in todo:
            if isinstance(action, SendEmail) and self.limit is not None:
                self.limit.wait(action.mailbox)
        results = self._call([a for _i, a, _r in todo], [again for _i, _a, again in todo])
        for (i, action, _again), result in zip(todo, results, strict=True):
            outcomes[i] = self._record(action, result, tally)
        return outcomes

    def _pretend(self, group: list[AnyAction], tally: Tally) -> list[Outcome]:
        """A dry run: what a real run would do, printed and counted as done, so that the summary says the same;
        the backend is taken to answer as it would (AnyAction.simulated). What only the next runs read
        (``Remember``) and the state's tidying (``Purge``: ``m3mail purge --dry-run`` shows it) are left out."""
        outcomes: list[Outcome] = []
        for action in group:
            if isinstance(action, Remember | Purge) or (not isinstance(action, Update)
                                                and self.store.action_status(action.key) == "done"):  # fmt: skip
                outcomes.append(None)
                continue
            self.echo(f"[dry-run] {action.describe()}")
            tally.count(action.kind, action.event)
            outcomes.append(action.after(action.simulated(self.clock()), self.clock()))
        return outcomes

    def _start(self, group: list[Start], tally: Tally) -> list[Outcome]:
        """New follow-ups, added in one transaction; one already in the state is left as it is."""
        added = {f.id for f in self.store.add([a.follow_up for a in group], self.clock())}
        for action in group:
            if action.follow_up.id in added:
                if self.dry_run:
                    self.echo(f"[dry-run] {action.describe()}")
                tally.count(action.kind, action.event)
        return [None] * len(group)

    def _purge(self, action: Purge, tally: Tally) -> Outcome:
        """Minimise the closed follow-ups, then delete what is past its retention; counted by what went."""
        tally.done["minimised"], purged = self.store.tidy(self.clock(), action.follow_ups_before,
                                                          action.opt_outs_before)  # fmt: skip
        tally.done |= {f"purged:{name}": n for name, n in vars(purged).items()}
        return None

    def _remember(self, action: Remember, tally: Tally) -> Outcome:
        self.store.put(action.key, action.value)
        tally.count(action.kind)
        return None

    def _call(self, actions: list[AnyAction], resume: list[bool]) -> list[Any]:
        """What the backend returned for each action, or the M3MailError it raised."""
        progress = [self._progress(a.key) for a in actions]
        try:
            if len(actions) == 1:
                return [actions[0].perform(self.backend, resume=resume[0], progress=progress[0])]
            return type(actions[0]).perform_many(self.backend, actions, resume, progress)
        except M3MailError as e:
            return [e] * len(actions)

    def _progress(self, key: str) -> Progress:
        """The action's notes in the action log: what earlier tries noted, and where this one notes."""
        return Progress(self.store.progress(key), lambda text: self.store.note(key, text))

    def _record(self, action: AnyAction, result: Any, tally: Tally) -> Outcome:
        fid = action.follow_up.id if action.follow_up else None
        new = None
        if not isinstance(result, M3MailError):
            try:
                new = action.after(result, self.clock())
            except M3MailError as e:
                result = e
        if isinstance(result, Pending):  # accepted, not visible yet: the next run looks again, quietly
            self.store.pending(action.key, self.clock(), str(result))
            tally.count(f"pending:{action.kind}")
            log.debug("%s pending: %s", action.describe(), result.detail, extra={"followup": fid})
            return Halted.FAILED
        if isinstance(result, M3MailError):
            self.store.failed(action.key, self.clock(), str(result))
            tally.errors.append(f"{action.describe()}: {result}")
            log.error("%s failed: %s", action.describe(), result,
                      extra={"followup": fid, "retryable": _retryable(result)})  # fmt: skip
            return Halted.FAILED
        self.store.done(action.key, self.clock(), _summary(result), new, action.event, action.describe())
        tally.count(action.kind, action.event)
        log.debug("%s done", action.describe(), extra={"followup": fid})
        return new

    def _update(self, action: Update, tally: Tally) -> FollowUp | None:
        self.store.save(action.new, self.clock(), action.event, action.detail)
        tally.count(action.kind, action.event)
        log.debug("%s", action.describe(), extra={"followup": action.new.id})
        return action.new


BATCH = 20  # actions sent to the backend together at most (Graph's $batch takes 20 requests)


def _groups(heads: list[tuple[str, AnyAction]]) -> list[list[tuple[str, AnyAction]]]:
    """The round's actions in groups: those of a batched kind by kind and mailbox (at most BATCH), the
    others alone; in the order they came."""
    groups: list[list[tuple[str, AnyAction]]] = []
    open_: dict[tuple[type, str], list[tuple[str, AnyAction]]] = {}
    for fid, action in heads:
        if not action.batched:
            groups.append([(fid, action)])
            continue
        group = open_.get((type(action), action.mailbox))
        if group is None or len(group) >= BATCH:
            group = open_[(type(action), action.mailbox)] = []
            groups.append(group)
        group.append((fid, action))
    return groups


def _retryable(error: Exception) -> bool:
    return isinstance(error, BackendError) and error.retryable


def _summary(result: object) -> str:
    """What the backend answered, for the action log: ids only."""
    for name in ("id", "message_id"):
        if (value := getattr(result, name, None)) is not None:
            return f"{name}={value}"
    return str(result) if isinstance(result, str) else ""
