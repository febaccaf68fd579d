"""Who is due for an M+3 follow-up on a given day: due dates, contact windows, grouping, exclusions, priority.

Pure functions of the export's records, the state's past follow-ups and a day: no I/O, no clock.

Public: ``SelectionRules``, ``add_months``, ``due_date``, ``contact_window``, ``DateRelevance``, ``select``,
``Selection``.
"""

from __future__ import annotations

import calendar
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, timedelta

from m3mail.models import Client, Contract, ContractType, DueFollowUp, PastFollowUp, Record

DEFAULT_TYPE_WEIGHTS: Mapping[ContractType, int] = {
    ContractType.IARD: 1,
    ContractType.SANTE: 2,
    ContractType.PREVOYANCE: 3,
    ContractType.EPARGNE: 4,
}


@dataclass(frozen=True)
class SelectionRules:
    """The selection settings, as plain values."""

    months_after: int = 3
    days_before: int = 7
    days_after: int = 7
    cooldown_days: int = 60
    type_weights: Mapping[ContractType, int] = field(default_factory=lambda: dict(DEFAULT_TYPE_WEIGHTS))
    vip_weight: int = 5
    missed_since: date | None = None  # windows that closed before this day are not reported as missed


def add_months(day: date, months: int) -> date:
    """``day`` plus calendar months, clamped to the month's end (31 January + 3 months = 30 April)."""
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def due_date(effect: date, rules: SelectionRules) -> date:
    return add_months(effect, rules.months_after)


def contact_window(due: date, rules: SelectionRules) -> tuple[date, date]:
    return due - timedelta(days=rules.days_before), due + timedelta(days=rules.days_after)


class DateRelevance:
    """Tells, from an effect date alone, whether a row can matter for ``today``.

    The reader asks this before validating a row in full, so that a large export costs little more than
    reading it: rows whose window is far from today are counted and skipped. Windows closed before today
    matter only when missed follow-ups are wanted.
    """

    def __init__(self, today: date, rules: SelectionRules, *, missed: bool = False):
        self.today = today
        self.rules = rules
        self.missed = missed

    def __call__(self, effect: date) -> bool:
        start, end = contact_window(due_date(effect, self.rules), self.rules)
        if start <= self.today <= end:
            return True
        if not self.missed or end >= self.today:
            return False
        return self.rules.missed_since is None or end >= self.rules.missed_since


@dataclass(frozen=True)
class Selection:
    due: list[DueFollowUp]
    missed: list[DueFollowUp]
    objected: int = 0  # clients whose window is open today, left out: they objected (opposition, STOP, erasure)


def select(
    records: Iterable[Record],
    today: date,
    rules: SelectionRules,
    history: Iterable[PastFollowUp] = (),
    opted_out: Collection[str] = (),
) -> Selection:
    """The follow-ups due ``today``, highest priority first, and those whose window closed unattended.

    A client who opted out on any row is left out, as is one in ``opted_out`` (ids known to have opted out
    from rows that were not read in full).
    """
    past: dict[str, list[PastFollowUp]] = {}
    for f in history:
        past.setdefault(f.client_id, []).append(f)

    refused = set(opted_out)
    current: dict[str, list[Record]] = {}
    closed: dict[str, list[Record]] = {}
    for record in records:
        client, contract = record.client, record.contract
        if client.opted_out:
            refused.add(client.id)
        if contract.cancelled:
            continue
        start, end = contact_window(due_date(contract.effect_date, rules), rules)
        if start <= today <= end:
            current.setdefault(client.id, []).append(record)
        elif end < today and (rules.missed_since is None or end >= rules.missed_since):
            closed.setdefault(client.id, []).append(record)

    due = []
    for client_id, group in current.items():
        if client_id not in refused:
            candidate = _follow_up(group, today, rules)
            if not _excluded_today(past.get(client_id, ()), candidate, today, rules):
                due.append(candidate)
    due.sort(key=lambda f: (-f.priority, f.days_left, f.due_date, f.client.id))

    missed = []
    for client_id, group in closed.items():
        if client_id in refused:
            continue
        for cluster in _clusters(group, rules):
            candidate = _follow_up(cluster, today, rules, missed=True)
            if not _covered(past.get(client_id, ()), candidate, rules):
                missed.append(candidate)
    missed.sort(key=lambda f: (-f.window_end.toordinal(), -f.priority, f.client.id))
    return Selection(due=due, missed=missed, objected=sum(1 for client_id in current if client_id in refused))


def _overlaps(f: PastFollowUp, candidate: DueFollowUp) -> bool:
    return f.window_start <= candidate.window_end and candidate.window_start <= f.window_end


def _in_cooldown(f: PastFollowUp, day: date, rules: SelectionRules) -> bool:
    return f.last_activity <= day < f.last_activity + timedelta(days=rules.cooldown_days)


def _excluded_today(past: Iterable[PastFollowUp], candidate: DueFollowUp, today: date, rules: SelectionRules) -> bool:
    """Already followed up (under way, or in an overlapping window), or inside a past follow-up's cool-down."""
    return any(f.open or _overlaps(f, candidate) or _in_cooldown(f, today, rules) for f in past)


def _covered(past: Iterable[PastFollowUp], closed: DueFollowUp, rules: SelectionRules) -> bool:
    """A closed window was not missed when a follow-up overlapped it or a cool-down lasted to its last day."""
    return any(_overlaps(f, closed) or _in_cooldown(f, closed.window_end, rules) for f in past)


def _clusters(records: list[Record], rules: SelectionRules) -> list[list[Record]]:
    """Group one client's closed contracts whose windows overlap: each group was one follow-up to make."""
    spans = sorted(
        ((*contact_window(due_date(r.contract.effect_date, rules), rules), r) for r in records),
        key=lambda s: (s[0], s[2].contract.id),
    )
    clusters: list[list[Record]] = []
    cluster_end = date.min
    for start, end, record in spans:
        if clusters and start <= cluster_end:
            clusters[-1].append(record)
            cluster_end = max(cluster_end, end)
        else:
            clusters.append([record])
            cluster_end = end
    return clusters


def _follow_up(group: list[Record], today: date, rules: SelectionRules, *, missed: bool = False) -> DueFollowUp:
    """One follow-up covering the group's contracts: the window every one of them allows, the due date, the
    adviser of the most important contract, the priority."""
    weights = rules.type_weights
    contracts = _unique_contracts(group)
    dues = {c.id: due_date(c.effect_date, rules) for c in contracts}
    windows = [contact_window(dues[c.id], rules) for c in contracts]
    start = max(w[0] for w in windows)
    end = min(w[1] for w in windows)
    if start > end:  # closed clusters chain windows that overlap pairwise only: keep the span they cover
        start, end = min(w[0] for w in windows), max(w[1] for w in windows)
    due = min(max(min(dues.values()), start), end)
    lead = max(contracts, key=lambda c: (weights.get(c.type, 0), -dues[c.id].toordinal(), -c.line))
    client = _best_client(group)
    priority = max(weights.get(c.type, 0) for c in contracts) + (rules.vip_weight if client.vip else 0)
    return DueFollowUp(
        client=client,
        adviser=lead.adviser,
        contracts=tuple(sorted(contracts, key=lambda c: (dues[c.id], c.id))),
        due_date=due,
        window_start=start,
        window_end=end,
        priority=priority,
        days_left=(end - today).days,
        missed=missed,
    )


def _unique_contracts(group: list[Record]) -> list[Contract]:
    seen: dict[str, Contract] = {}
    for r in group:
        seen.setdefault(r.contract.id, r.contract)
    return list(seen.values())


def _best_client(group: list[Record]) -> Client:
    """The client as the most complete of their rows describes them; VIP if any row says so."""
    best = max(group, key=lambda r: (bool(r.client.email), bool(r.client.phone), -r.contract.line)).client
    if not best.vip and any(r.client.vip for r in group):
        best = replace(best, vip=True)
    return best
