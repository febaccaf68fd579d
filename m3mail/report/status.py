"""Per-adviser counts and per-follow-up rows, computed from the follow-ups (pure)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from m3mail.models import FollowUp, Outcome, State

OUTCOME_KEYS = {o: o.name.lower() for o in Outcome if o is not Outcome.INJOIGNABLE}


@dataclass
class AdviserStatus:
    """One adviser's line of ``m3mail status`` and of the report."""

    adviser: str
    due: int = 0  # follow-ups started (their window opened)
    open: int = 0  # started and not ended yet
    booked: int = 0  # with at least one call booked
    done: dict[str, int] = field(default_factory=lambda: {k: 0 for k in OUTCOME_KEYS.values()})
    emailed: int = 0
    letters: int = 0
    replied: int = 0
    no_reply: int = 0  # emailed, and no reply came in time
    missed: int = 0
    cancelled: int = 0
    opted_out: int = 0
    complaints_pending: int = 0
    in_window: int = 0  # ended follow-ups whose client was contacted inside the window
    ended: int = 0
    capacity_alerts: int = 0  # slots missing at the last booking attempt
    rejected: int = 0  # export rows rejected at the last import
    errors: int = 0  # actions whose last try failed

    @property
    def in_window_rate(self) -> float | None:
        return self.in_window / self.ended if self.ended else None

    def as_dict(self) -> dict[str, object]:
        data = {k: v for k, v in vars(self).items() if k != "done"}
        data["done"] = dict(self.done)
        data["in_window_rate"] = None if self.in_window_rate is None else round(self.in_window_rate, 3)
        return data


@dataclass(frozen=True)
class FollowUpRow:
    id: str
    client_id: str
    adviser: str
    state: str
    call_at: str | None
    attempts: int
    outcome: str | None
    emailed_at: str | None
    complaint_ack_due: str | None
    complaint_answer_due: str | None
    due_date: str
    window_start: str
    window_end: str


def contact_moment(f: FollowUp) -> datetime | None:
    """When the client was reached: the call that got an outcome, else the email, else the letter."""
    if f.outcome is not None and f.call_at is not None:
        return f.call_at
    if f.bounced_at is not None:  # the email never arrived: the letter reached the client
        return f.letter_at
    return f.emailed_at or f.letter_at


def in_window(f: FollowUp) -> bool:
    """The client was contacted inside the window (never too early, never too late)."""
    moment = contact_moment(f)
    return moment is not None and f.window_start <= moment.date() <= f.window_end


def adviser_statuses(
    follow_ups: Iterable[FollowUp],
    advisers: Sequence[str],
    *,
    rejected: Mapping[str, int] | None = None,
    capacity: Mapping[str, int] | None = None,
    errors: Mapping[str, int] | None = None,
) -> list[AdviserStatus]:
    """One status per adviser (in settings order), plus one for follow-ups of advisers no longer set up."""
    table = {a: AdviserStatus(a) for a in advisers}
    for f in follow_ups:
        _count(table.setdefault(f.adviser, AdviserStatus(f.adviser)), f)
    rejected, capacity, errors = rejected or {}, capacity or {}, errors or {}
    for adviser, status in table.items():
        status.rejected = rejected.get(adviser, 0)
        status.capacity_alerts = capacity.get(adviser, 0)
        status.errors = errors.get(adviser, 0)
    if rejected.get(""):
        table["(unknown adviser)"] = AdviserStatus("(unknown adviser)", rejected=rejected[""])
    return list(table.values())


def _count(s: AdviserStatus, f: FollowUp) -> None:
    s.due += 1
    s.open += not f.state.ended
    s.booked += bool(f.attempts)
    if f.state is State.DONE and f.outcome in OUTCOME_KEYS:
        s.done[OUTCOME_KEYS[f.outcome]] += 1
    s.emailed += f.emailed_at is not None
    s.letters += f.letter_at is not None
    s.replied += f.replied_at is not None
    s.no_reply += f.state is State.DONE and f.emailed_at is not None and f.replied_at is None and not f.letter_at
    s.missed += f.state is State.MISSED
    s.cancelled += f.state is State.CANCELLED
    s.opted_out += f.state is State.OPTED_OUT
    s.complaints_pending += f.outcome is Outcome.RECLAMATION and (f.complaint_answered is None)
    if f.state.ended and f.state is not State.CANCELLED:
        s.ended += 1
        s.in_window += in_window(f)


def follow_up_rows(follow_ups: Iterable[FollowUp]) -> list[FollowUpRow]:
    def iso(value: date | None) -> str | None:
        return None if value is None else value.isoformat()

    return [
        FollowUpRow(
            id=f.id,
            client_id=f.client.id,
            adviser=f.adviser,
            state=f.state.value,
            call_at=iso(f.call_at),
            attempts=len(f.attempts),
            outcome=f.outcome.value if f.outcome else None,
            emailed_at=iso(f.emailed_at),
            complaint_ack_due=iso(f.complaint_ack_due) if f.complaint_acknowledged is None else None,
            complaint_answer_due=iso(f.complaint_answer_due) if f.complaint_answered is None else None,
            due_date=f.due_date.isoformat(),
            window_start=f.window_start.isoformat(),
            window_end=f.window_end.isoformat(),
        )  # fmt: skip
        for f in follow_ups
    ]
