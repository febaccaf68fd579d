"""Selection of the clients due for an M+3 follow-up: due dates, windows, grouping, exclusions, priority, missed.

Every expected value below was computed by hand from the calendar; none is produced by the code under test.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from m3mail.models import Client, Contract, ContractType, PastFollowUp, Record
from m3mail.selection import DateRelevance, SelectionRules, add_months, contact_window, due_date, select

IARD, SANTE, PREV, EPARGNE = ContractType.IARD, ContractType.SANTE, ContractType.PREVOYANCE, ContractType.EPARGNE
RULES = SelectionRules()


def d(iso: str) -> date:
    return date.fromisoformat(iso)


def rec(client="C1", contract="K1", effect="2026-01-10", type=IARD, adviser="a@agence.fr", *, vip=False,
        opted_out=False, cancelled=False, line=2) -> Record:  # fmt: skip
    return Record(
        Client(id=client, vip=vip, opted_out=opted_out),
        Contract(id=contract, client_id=client, adviser=adviser, type=type, effect_date=d(effect),
                 cancelled=cancelled, line=line),
    )  # fmt: skip


def past(start, end, last, client="C1", open=False) -> PastFollowUp:
    return PastFollowUp(client, d(start), d(end), d(last), open=open)


def due_ids(records, today, rules=RULES, **kw) -> list[str]:
    return [f.client.id for f in select(records, d(today), rules, **kw).due]


# --- add_months / due_date / contact_window -------------------------------------------------------------


@pytest.mark.parametrize(("day", "months", "expected"), [
    pytest.param("2026-01-31", 3, "2026-04-30", id="31jan+3=30apr"),
    pytest.param("2026-03-31", 3, "2026-06-30", id="31mar+3=30jun"),
    pytest.param("2027-11-30", 3, "2028-02-29", id="30nov2027+3=29feb2028-leap"),
    pytest.param("2026-11-30", 3, "2027-02-28", id="30nov2026+3=28feb2027"),
    pytest.param("2028-02-29", 3, "2028-05-29", id="29feb2028+3=29may"),
    pytest.param("2026-10-15", 3, "2027-01-15", id="15oct+3=15jan-next-year"),
    pytest.param("2026-12-31", 3, "2027-03-31", id="31dec+3=31mar-next-year"),
    pytest.param("2026-01-15", 0, "2026-01-15", id="zero-months"),
    pytest.param("2028-02-29", 12, "2029-02-28", id="29feb+12=28feb-non-leap"),
    pytest.param("2026-01-15", -1, "2025-12-15", id="minus1-across-year"),
    pytest.param("2026-03-31", -1, "2026-02-28", id="31mar-1=28feb"),
    pytest.param("2028-05-31", -3, "2028-02-29", id="31may2028-3=29feb"),
    pytest.param("2026-01-31", -13, "2024-12-31", id="minus13"),
])  # fmt: skip
def test_add_months(day, months, expected):
    assert add_months(d(day), months) == d(expected)


@pytest.mark.parametrize(("effect", "rules", "expected"), [
    pytest.param("2026-01-31", RULES, "2026-04-30", id="default-m+3"),
    pytest.param("2027-11-30", RULES, "2028-02-29", id="default-leap"),
    pytest.param("2026-08-31", SelectionRules(months_after=6), "2027-02-28", id="m+6"),
])  # fmt: skip
def test_due_date(effect, rules, expected):
    assert due_date(d(effect), rules) == d(expected)


@pytest.mark.parametrize(("due", "rules", "start", "end"), [
    pytest.param("2026-04-30", RULES, "2026-04-23", "2026-05-07", id="default-7-7"),
    pytest.param("2026-01-03", RULES, "2025-12-27", "2026-01-10", id="across-year-end"),
    pytest.param("2028-03-01", RULES, "2028-02-23", "2028-03-08", id="across-leap-february"),
    pytest.param("2027-03-01", RULES, "2027-02-22", "2027-03-08", id="across-common-february"),
    pytest.param("2026-04-30", SelectionRules(days_before=3, days_after=10), "2026-04-27", "2026-05-10",
                 id="custom-3-10"),
    pytest.param("2026-04-30", SelectionRules(days_before=0, days_after=0), "2026-04-30", "2026-04-30",
                 id="zero-width"),
])  # fmt: skip
def test_contact_window(due, rules, start, end):
    assert contact_window(d(due), rules) == (d(start), d(end))


# --- select: window boundaries, grouping, exclusions ----------------------------------------------------


@pytest.mark.parametrize(("effect", "today", "is_due"), [
    # effect 31/01/2026 -> due 30/04 -> window 23/04 .. 07/05
    pytest.param("2026-01-31", "2026-04-22", False, id="day-before-start"),
    pytest.param("2026-01-31", "2026-04-23", True, id="window-start"),
    pytest.param("2026-01-31", "2026-05-07", True, id="window-end"),
    pytest.param("2026-01-31", "2026-05-08", False, id="day-after-end"),
    # effect 03/10/2025 -> due 03/01/2026 -> window 27/12/2025 .. 10/01/2026
    pytest.param("2025-10-03", "2025-12-26", False, id="year-end-before"),
    pytest.param("2025-10-03", "2025-12-27", True, id="year-end-start"),
    pytest.param("2025-10-03", "2026-01-10", True, id="year-end-end"),
    pytest.param("2025-10-03", "2026-01-11", False, id="year-end-after"),
    # effect 30/11/2027 -> due 29/02/2028 -> window 22/02 .. 07/03
    pytest.param("2027-11-30", "2028-02-22", True, id="leap-start"),
    pytest.param("2027-11-30", "2028-03-07", True, id="leap-end"),
    pytest.param("2027-11-30", "2028-03-08", False, id="leap-after"),
])  # fmt: skip
def test_window_boundaries(effect, today, is_due):
    assert due_ids([rec(effect=effect)], today) == (["C1"] if is_due else [])


# K1: effect 10/01 -> due 10/04, window 03/04..17/04.  K2: effect 14/01 -> due 14/04, window 07/04..21/04.
@pytest.mark.parametrize(("today", "contracts", "start", "end", "due", "days_left"), [
    pytest.param("2026-04-10", ["K1", "K2"], "2026-04-07", "2026-04-17", "2026-04-10", 7, id="both-intersection"),
    pytest.param("2026-04-05", ["K1"], "2026-04-03", "2026-04-17", "2026-04-10", 12, id="only-first"),
    pytest.param("2026-04-19", ["K2"], "2026-04-07", "2026-04-21", "2026-04-14", 2, id="only-second"),
])  # fmt: skip
def test_one_follow_up_per_client_covering_contracts_in_window(today, contracts, start, end, due, days_left):
    records = [rec(contract="K1", effect="2026-01-10"), rec(contract="K2", effect="2026-01-14")]
    [f] = select(records, d(today), RULES).due
    assert [c.id for c in f.contracts] == contracts
    assert (f.window_start, f.window_end, f.due_date, f.days_left) == (d(start), d(end), d(due), days_left)
    assert not f.missed


def test_contracts_due_apart_only_the_one_in_window():
    records = [rec(contract="K1", effect="2026-01-10"), rec(contract="K2", effect="2026-03-10")]
    [f] = select(records, d("2026-04-10"), RULES).due
    assert [c.id for c in f.contracts] == ["K1"]


@pytest.mark.parametrize(("cancelled", "expected"), [
    pytest.param({"K1"}, ["K2"], id="one-cancelled-other-kept"),
    pytest.param({"K1", "K2"}, None, id="all-cancelled-no-follow-up"),
    pytest.param(set(), ["K1", "K2"], id="none-cancelled"),
])  # fmt: skip
def test_cancelled_contracts_excluded(cancelled, expected):
    records = [rec(contract=k, cancelled=k in cancelled) for k in ("K1", "K2")]
    sel = select(records, d("2026-04-10"), RULES)
    assert [[c.id for c in f.contracts] for f in sel.due] == ([expected] if expected else [])


@pytest.mark.parametrize(("records", "opted_out"), [
    pytest.param([rec(opted_out=True)], (), id="row-in-window"),
    pytest.param([rec(), rec(contract="K2", effect="2025-06-01", opted_out=True)], (), id="other-row-out-of-window"),
    pytest.param([rec(), rec(contract="K2", cancelled=True, opted_out=True)], (), id="on-cancelled-row"),
    pytest.param([rec()], {"C1"}, id="opted-out-argument"),
])  # fmt: skip
def test_opt_out_excludes_the_client_entirely(records, opted_out):
    records = [*records, rec(client="C2")]
    assert due_ids(records, "2026-04-10", opted_out=opted_out) == ["C2"]


# today 10/04/2026; C1's contract window is 03/04 .. 17/04
@pytest.mark.parametrize(("history", "rules", "is_due"), [
    pytest.param([past("2026-04-03", "2026-04-17", "2026-04-04")], SelectionRules(cooldown_days=0), False,
                 id="same-window-already-followed"),
    pytest.param([past("2026-04-07", "2026-04-21", "2026-04-07")], SelectionRules(cooldown_days=0), False,
                 id="overlapping-window-containing-today"),
    pytest.param([past("2025-01-01", "2025-01-15", "2025-01-02", open=True)], RULES, False, id="open-follow-up"),
    pytest.param([past("2026-04-03", "2026-04-17", "2026-04-04", client="C9")], RULES, True, id="other-client"),
    pytest.param([past("2025-01-01", "2025-01-15", "2025-01-02")], RULES, True, id="old-closed-follow-up"),
    # cool-down: excluded while last_activity <= today < last_activity + cooldown_days
    pytest.param([past("2026-01-01", "2026-01-15", "2026-02-10")], RULES, False, id="cooldown60-last-day"),
    pytest.param([past("2026-01-01", "2026-01-15", "2026-02-09")], RULES, True, id="cooldown60-over"),
    pytest.param([past("2026-01-01", "2026-01-15", "2026-03-12")], SelectionRules(cooldown_days=30), False,
                 id="cooldown30-last-day"),
    pytest.param([past("2026-01-01", "2026-01-15", "2026-03-11")], SelectionRules(cooldown_days=30), True,
                 id="cooldown30-over"),
    pytest.param([past("2026-01-01", "2026-01-15", "2026-04-09")], SelectionRules(cooldown_days=0), True,
                 id="cooldown0-yesterday"),
])  # fmt: skip
def test_history_and_cooldown(history, rules, is_due):
    assert due_ids([rec()], "2026-04-10", rules, history=history) == (["C1"] if is_due else [])


# --- select: priority, urgency, adviser ------------------------------------------------------------------

CLIENTS = [rec("A", "KA", type=IARD), rec("B", "KB", type=SANTE), rec("C", "KC", type=EPARGNE),
           rec("D", "KD", type=IARD, vip=True), rec("E", "KE", type=PREV)]  # fmt: skip


@pytest.mark.parametrize(("rules", "expected"), [
    pytest.param(RULES, [("D", 6), ("C", 4), ("E", 3), ("B", 2), ("A", 1)], id="default-weights"),
    pytest.param(SelectionRules(type_weights={IARD: 10, SANTE: 1, PREV: 2, EPARGNE: 1}, vip_weight=0),
                 [("A", 10), ("D", 10), ("E", 2), ("B", 1), ("C", 1)], id="custom-weights-no-vip-bonus"),
    pytest.param(SelectionRules(type_weights={EPARGNE: 3}, vip_weight=2),
                 [("C", 3), ("D", 2), ("A", 0), ("B", 0), ("E", 0)], id="missing-type-weighs-zero"),
])  # fmt: skip
def test_priority_ordering(rules, expected):
    due = select(CLIENTS, d("2026-04-10"), rules).due
    assert [(f.client.id, f.priority) for f in due] == expected


def test_priority_is_max_of_covered_types_plus_vip_from_any_row():
    records = [rec(contract="K1", type=IARD), rec(contract="K2", type=EPARGNE, vip=True),
               rec(contract="K3", type=SANTE)]  # fmt: skip
    [f] = select(records, d("2026-04-10"), RULES).due
    assert f.priority == 4 + 5
    assert f.client.vip


@pytest.mark.parametrize(("records", "expected"), [
    # A: effect 13/01 -> window 06/04..20/04 (10 days left); B: effect 05/01 -> window 29/03..12/04 (2 left)
    pytest.param([rec("A", effect="2026-01-13"), rec("B", effect="2026-01-05")], [("B", 2), ("A", 10)],
                 id="fewer-days-left-first"),
    pytest.param([rec("A", effect="2026-01-13", type=SANTE), rec("B", effect="2026-01-05")], [("A", 10), ("B", 2)],
                 id="priority-beats-urgency"),
])  # fmt: skip
def test_urgency_tie_break(records, expected):
    assert [(f.client.id, f.days_left) for f in select(records, d("2026-04-10"), RULES).due] == expected


@pytest.mark.parametrize(("records", "rules", "adviser"), [
    pytest.param([rec(contract="K1", type=IARD, adviser="iard@a.fr"),
                  rec(contract="K2", type=PREV, adviser="prev@a.fr")], RULES, "prev@a.fr", id="heaviest-type"),
    pytest.param([rec(contract="K1", type=IARD, adviser="iard@a.fr"),
                  rec(contract="K2", type=PREV, adviser="prev@a.fr")],
                 SelectionRules(type_weights={IARD: 9, PREV: 1}), "iard@a.fr", id="custom-weights"),
    pytest.param([rec(contract="K1", effect="2026-01-12", adviser="late@a.fr"),
                  rec(contract="K2", effect="2026-01-10", adviser="early@a.fr")], RULES, "early@a.fr",
                 id="same-weight-earliest-due"),
])  # fmt: skip
def test_adviser_is_that_of_most_heavily_weighted_contract(records, rules, adviser):
    [f] = select(records, d("2026-04-10"), rules).due
    assert f.adviser == adviser


# --- select: missed ----------------------------------------------------------------------------------------

# today 20/05/2026. K1 effect 31/01 -> window 23/04..07/05 (closed); K2 effect 10/01 -> window 03/04..17/04.
TODAY_M = "2026-05-20"


@pytest.mark.parametrize(("records", "expected"), [
    pytest.param([rec(effect="2026-01-31")], [(["K1"], "2026-04-23", "2026-05-07", -13)], id="one-missed"),
    pytest.param([rec(effect="2026-01-31"), rec(effect="2026-01-31")], [(["K1"], "2026-04-23", "2026-05-07", -13)],
                 id="duplicate-rows-reported-once"),
    pytest.param([rec(effect="2026-01-31"), rec(contract="K2", effect="2026-01-31")],
                 [(["K1", "K2"], "2026-04-23", "2026-05-07", -13)], id="same-window-one-entry"),
    pytest.param([rec(effect="2026-01-31"), rec(contract="K2", effect="2026-01-10")],
                 [(["K1"], "2026-04-23", "2026-05-07", -13), (["K2"], "2026-04-03", "2026-04-17", -33)],
                 id="two-windows-two-entries-latest-first"),
    pytest.param([rec(effect="2026-01-31", cancelled=True)], [], id="cancelled-not-missed"),
    pytest.param([rec(effect="2026-01-31", opted_out=True)], [], id="opted-out-not-missed"),
    pytest.param([rec(effect="2026-02-15")], [], id="window-still-open-is-due-not-missed"),
])  # fmt: skip
def test_missed(records, expected):
    missed = select(records, d(TODAY_M), RULES).missed
    got = [([c.id for c in f.contracts], f.window_start, f.window_end, f.days_left) for f in missed]
    assert got == [(k, d(s), d(e), left) for k, s, e, left in expected]
    assert all(f.missed for f in missed)


@pytest.mark.parametrize(("history", "rules", "opted_out", "reported"), [
    pytest.param([], RULES, (), True, id="no-history"),
    pytest.param([past("2026-04-23", "2026-05-07", "2026-04-24")], RULES, (), False, id="followed-up-in-window"),
    pytest.param([past("2026-04-30", "2026-05-14", "2026-05-01")], SelectionRules(cooldown_days=0), (), False,
                 id="overlapping-follow-up"),
    pytest.param([past("2026-04-23", "2026-05-07", "2026-04-24", client="C9")], RULES, (), True,
                 id="other-clients-follow-up"),
    # cool-down from 09/03 runs to 07/05 inclusive (09/03 + 60 days = 08/05), so it covers the window's end
    pytest.param([past("2026-03-02", "2026-03-16", "2026-03-09")], RULES, (), False, id="cooldown-covers-end"),
    pytest.param([past("2026-03-01", "2026-03-15", "2026-03-08")], RULES, (), True, id="cooldown-ends-on-end"),
    pytest.param([], RULES, {"C1"}, False, id="opted-out-argument"),
    pytest.param([], SelectionRules(missed_since=d("2026-05-07")), (), True, id="missed-since-window-end"),
    pytest.param([], SelectionRules(missed_since=d("2026-05-08")), (), False, id="missed-since-after-end"),
])  # fmt: skip
def test_missed_exclusions(history, rules, opted_out, reported):
    sel = select([rec(effect="2026-01-31")], d(TODAY_M), rules, history=history, opted_out=opted_out)
    assert [f.client.id for f in sel.missed] == (["C1"] if reported else [])
    assert sel.due == []


# --- DateRelevance agrees with select ---------------------------------------------------------------------


@pytest.mark.parametrize(("today", "rules"), [
    pytest.param("2026-04-30", RULES, id="month-end"),
    pytest.param("2026-01-03", RULES, id="year-start"),
    pytest.param("2028-02-29", SelectionRules(days_before=3, days_after=10), id="leap-day-custom-window"),
    pytest.param("2026-05-20", SelectionRules(missed_since=d("2026-04-01")), id="missed-since"),
])  # fmt: skip
@pytest.mark.parametrize("missed", [False, True], ids=["due-only", "with-missed"])
def test_date_relevance_agrees_with_select(today, rules, missed):
    relevant = DateRelevance(d(today), rules, missed=missed)
    effect = d(today) - timedelta(days=200)
    for _ in range(170):  # 200 .. 31 days before today: every window near today, and many month ends
        sel = select([rec(effect=effect.isoformat())], d(today), rules)
        selected = bool(sel.due) or (missed and bool(sel.missed))
        assert relevant(effect) == selected, effect
        effect += timedelta(days=1)
