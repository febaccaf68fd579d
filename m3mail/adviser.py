"""One adviser's part of a pass: snapshot, plan, execute.

    gather    what the pass needs, read once: the booked calls, the Inbox (when an email awaits an answer),
              the opt-outs; when a follow-up needs a call, the calendar's busy times and the availability
    plan      m3mail.plan turns that snapshot, the follow-ups, the rules and the time into actions (pure)
    execute   the executor runs them, the only writer of the state, and tallies what it did
    digest    m3mail.plan.digest tells the adviser what was done; the executor sends it

Nothing here knows which backend it talks to; what the adviser's report says is the executor's tally.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from m3mail.backends.base import Backend
from m3mail.errors import BackendError
from m3mail.executor import Executor, Tally
from m3mail.models import Availability, FollowUp, MailKind, State
from m3mail.plan import (
    Calendar,
    DigestBasis,
    Snapshot,
    awaits_mail,
    calendar_horizon,
    capacity_mark,
    digest,
    digest_day,
    digest_key,
    plan,
    unreadable_mark,
)
from m3mail.render import Renderer
from m3mail.rules import PassRules, pass_rules
from m3mail.settings import AdviserSettings, Settings
from m3mail.state import StateStore

log = logging.getLogger("m3mail")


@dataclass
class AdviserReport:
    """What one pass did for one adviser: the run summary's line, counted by the executor."""

    booked: int = 0
    outcomes: int = 0
    emailed: int = 0
    letters: int = 0
    filed: int = 0
    missing_slots: dict[str, int] = field(default_factory=dict)  # day -> slots missing (capacity alert)
    errors: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, tally: Tally, problems: Sequence[str], missing_slots: dict[str, int]) -> AdviserReport:
        outcomes = tally.of("update", "outcome", "unanswered", "unreached")
        return cls(booked=tally.of("book"), emailed=tally.of("email"), filed=tally.of("file"),
                   letters=tally.of("file", "letter"), outcomes=outcomes, missing_slots=missing_slots,
                   errors=[*problems, *tally.errors])  # fmt: skip


@dataclass
class Context:
    settings: Settings
    backend: Backend
    store: StateStore
    renderer: Renderer
    executor: Executor
    now: datetime

    @property
    def today(self) -> date:
        return self.now.astimezone(ZoneInfo(self.settings.timezone)).date()


def adviser_pass(ctx: Context, adviser: AdviserSettings, follow_ups: Sequence[FollowUp]) -> AdviserReport:
    """Everything this pass does for one adviser; a failing mailbox raises and leaves the others alone."""
    rules = pass_rules(ctx.settings, adviser)
    snapshot = gather(ctx.backend, ctx.store, rules, follow_ups, ctx.now)
    work = plan(snapshot, follow_ups, rules, ctx.renderer, ctx.now)
    tally = ctx.executor.execute(*work.stages)
    current = {f.id: f for f in follow_ups} | tally.changed
    told = digest(snapshot.digest, current.values(), work.missing_slots, rules, ctx.renderer, ctx.now)
    tally += ctx.executor.execute(*told.stages)
    problems = work.problems + told.problems
    for problem in problems:
        log.error("%s: %s", adviser.email, problem)
    return AdviserReport.of(tally, problems, dict(work.missing_slots))


def gather(backend: Backend, store: StateStore, rules: PassRules, follow_ups: Sequence[FollowUp],
           now: datetime) -> Snapshot:  # fmt: skip
    """What the pass reads for one adviser, each thing once and only when a follow-up needs it."""
    email = rules.adviser.email
    booked = {f.call_key: f.call_id for f in follow_ups if f.state is State.BOOKED}
    calls = backend.calls(email, list(booked), booked) if booked else {}
    emailed = [f.emailed_at for f in follow_ups if f.emailed_at and awaits_mail(f)]
    inbox = tuple(backend.inbox(email, min(emailed) - timedelta(days=1))) if emailed else ()
    unreadable = [m for m in inbox if m.kind is MailKind.UNREADABLE]
    snapshot = Snapshot(
        calls=calls, inbox=inbox, refused=frozenset(f.id for f in follow_ups if store.refuses(f.client)),
        reported=frozenset(m.id for m in unreadable if store.get(unreadable_mark(rules, m))),
        digest=_digest_basis(store, rules, now), capacity=store.get(capacity_mark(rules), "{}"),
    )  # fmt: skip
    horizon = calendar_horizon(snapshot, follow_ups, rules, now)
    if horizon is None:
        return snapshot
    events = tuple(backend.events(email, now - timedelta(days=1), horizon))
    try:
        return replace(snapshot, calendar=Calendar(events, backend.availability(email)))
    except BackendError as e:  # booked by the settings' hours alone; the plan reports it, so that it gets fixed
        return replace(snapshot, calendar=Calendar(events, Availability(), unread=str(e)))


def _digest_basis(store: StateStore, rules: PassRules, now: datetime) -> DigestBasis | None:
    """What the digest lists besides this pass's follow-ups; None when no digest is due (not the adviser's
    working day, or today's was sent): most passes of a day, which then read nothing for it."""
    if not digest_day(rules, now) or store.action_status(digest_key(rules, now)) == "done":
        return None
    email = rules.adviser.email
    since = store.last_done(f"digest:{email}:") or now - timedelta(days=1)
    return DigestBasis(since=since, recent=tuple(store.follow_ups_since(email, since.date())))
