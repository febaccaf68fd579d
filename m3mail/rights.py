"""A client's rights over what m3mail holds on them (RGPD articles 15, 17 and 21), and the retention purge.

    client_file(settings, id)      access: everything the state holds on the client, and where m3mail filed
                                   their exchanges (the mailboxes and calendars are the agency's, not m3mail's)
    forget_client(settings, id)    erasure and objection: the client erased from the state and its backups,
                                   keyed fingerprints kept so that m3mail never contacts them again
    purge_state(settings, today)   retention: the closed follow-ups minimised, what is past its retention deleted

Nothing here reads or writes a mailbox: what lives there is the agency's to keep or delete under its own rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from m3mail.actions import call_key
from m3mail.errors import PortfolioError
from m3mail.models import Client, FollowUp, State
from m3mail.plan import client_folder
from m3mail.portfolio import PortfolioReader
from m3mail.rules import retention_cutoffs
from m3mail.settings import Settings
from m3mail.state import Purged, StateStore, follow_up_data
from m3mail.state.backups import backups, erase_client


@dataclass(frozen=True)
class Where:
    """Where a follow-up's exchanges are, outside the state."""

    mailbox: str  # the mailbox of the client folder (the adviser's, or the shared filing mailbox)
    folder: str  # the client folder, under the filing root
    calendar: str  # the adviser whose calendar holds the call events
    calls: tuple[str, ...]  # the call events' keys (X-M3MAIL-KEY, or Outlook's transactionId)
    emailed_from: str  # the mailbox the email to the client left from ("" when none was sent)
    call_pending: str = ""  # a call still booked, not made yet: when (the adviser would still call)


@dataclass(frozen=True)
class ClientFile:
    """What m3mail holds on one client, for an access request."""

    client_id: str
    follow_ups: list[dict[str, Any]] = field(default_factory=list)
    opted_out_on: str | None = None  # when their opt-out (or erasure) was recorded
    backups: list[str] = field(default_factory=list)  # the state's dated copies, which may hold older data

    def as_dict(self) -> dict[str, Any]:
        return {"client_id": self.client_id, "follow_ups": self.follow_ups, "opted_out_on": self.opted_out_on,
                "backups": self.backups}  # fmt: skip

    def lines(self) -> list[str]:
        """The file as ``m3mail client`` prints it."""
        out = [] if self.follow_ups else [f"the state holds no follow-up of client {self.client_id}"]
        for f in self.follow_ups:
            out += _follow_up_lines(f)
        out.append(f"opt-out: recorded on {self.opted_out_on}" if self.opted_out_on else "opt-out: none recorded")
        if self.backups:
            out.append(f"older copies of the state: {len(self.backups)} backup(s) in {Path(self.backups[0]).parent}")
        return out


def _follow_up_lines(f: dict[str, Any]) -> list[str]:
    held = [f"{k}: {v}" for k, v in f["client"].items() if v and k not in ("id", "vip", "opted_out")]
    out = [f"follow-up {f['id']} ({f['state']}), adviser {f['adviser']}, window {f['window_start']} to "
           f"{f['window_end']}" + (f", outcome {f['outcome']}" if f["outcome"] else ""),
           "  client data held: " + ("; ".join(held) or "none (erased once the follow-up closed)")]  # fmt: skip
    for contract in f["contracts"]:
        details = "; ".join(f"{k}: {', '.join(v) if isinstance(v, list) else v}"
                            for k in ("product", "guarantees", "claims", "questions") if (v := contract[k]))
        out.append(f"  contract {contract['id']} ({contract['type']})" + (f": {details}" if details else ""))
    if f["notes"]:
        out.append(f"  adviser's notes: {f['notes']}")
    out += [f"  {h['at']}  {h['event']}" + (f": {h['detail']}" if h["detail"] else "") for h in f["history"]]
    filed = f["filed"]
    out.append(f"  filed in the mailbox {filed['mailbox']}, folder {filed['folder']}")
    if filed["calls"]:
        out.append(f"  call events in {filed['calendar']}'s calendar: {', '.join(filed['calls'])}")
    if filed["emailed_from"]:
        out.append(f"  emailed from {filed['emailed_from']} (Sent Items)")
    return [*out, f"  actions: {len(f['actions'])} in the action log"]


def where(settings: Settings, f: FollowUp) -> Where:
    """The client folder, as m3mail named it: the name the template gives while the follow-up holds the client's
    name; once minimised, the folder is known by the client id it always ends with."""
    root, name = client_folder(settings.filing.folder, settings.filing.root, f)
    pending = f.call_at.isoformat(timespec="minutes") if f.state is State.BOOKED and f.call_at else ""
    shown = f"… ({f.client.id})" if f.minimised else name
    return Where(mailbox=settings.filing.mailbox or f.adviser, folder=f"{root}/{shown}", calendar=f.adviser,
                 calls=tuple(call_key(f.id, n) for n in range(1, len(f.attempts) + 1)),
                 emailed_from=f.adviser if f.emailed_at else "",
                 call_pending=pending)  # fmt: skip


def client_file(settings: Settings, store: StateStore, client_id: str) -> ClientFile:
    follow_ups = []
    for f in store.follow_ups_of(client_id):
        data = follow_up_data(f)
        data["history"] = [{"at": at, "event": event, "detail": detail} for at, event, detail in store.history(f.id)]
        data["actions"] = [{"key": k, "kind": kind, "status": status, "created_at": c, "updated_at": u}
                           for k, kind, status, c, u in store.actions_of(f.id)]  # fmt: skip
        filed = where(settings, f)
        data["filed"] = vars(filed) | {"calls": list(filed.calls)}
        follow_ups.append(data)
    emails = sorted({f["client"]["email"] for f in follow_ups if f["client"]["email"]}) or [""]
    days = [d for e in emails if (d := _refused_on(store, Client(client_id, email=e)))]
    found = backups(settings.backups.folder, settings.state)
    return ClientFile(client_id, follow_ups, max(days) if days else None, [str(p) for p in found])


def _refused_on(store: StateStore, client: Client) -> str | None:
    here = store.refused_on(client)
    ledger = store.ledger.recorded_on(client) if store.ledger is not None else None
    days = [d for d in (here[:10] if here else None, ledger.isoformat() if ledger else None) if d]
    return max(days) if days else None


@dataclass(frozen=True)
class Forgotten:
    client_id: str
    erased: list[Where]  # the follow-ups erased, and where their exchanges still are
    addresses: int  # addresses fingerprinted to recognise the client by
    backups: int  # backups the client was erased from
    export_unread: str = ""  # the export could not be read for the client's address: why

    def lines(self) -> list[str]:
        """What ``m3mail forget`` prints: what went, what was kept, and what it left to the agency."""
        out = [f"client {self.client_id}: {len(self.erased)} follow-up(s) erased from the state and from "
               f"{self.backups} backup(s); kept: keyed fingerprints of the id and {self.addresses} address(es), so "
               "that m3mail never contacts them again"]  # fmt: skip
        for w in self.erased:
            out.append(f"  not touched, the agency's to keep or delete: the folder {w.folder} in {w.mailbox}"
                       + (f"; the call events {', '.join(w.calls)} in {w.calendar}'s calendar" if w.calls else "")
                       + (f"; the email in {w.emailed_from}'s Sent Items" if w.emailed_from else ""))  # fmt: skip
            if w.call_pending:
                out.append(f"  a call is still booked at {w.call_pending} in {w.calendar}'s calendar: delete it, or "
                           "the adviser may still call the client")  # fmt: skip
        return out


def forget_client(settings: Settings, store: StateStore, client_id: str, now: datetime) -> Forgotten:
    """Erase the client; their address (from the export, and their follow-ups) is fingerprinted so that they are
    recognised under another id too. The caller holds the lock."""
    emails, unread = set[str](), ""
    try:
        reader = PortfolioReader(settings.portfolio.path, settings.portfolio, [a.email for a in settings.advisers])
        emails = {r.client.email for r in reader.records() if r.client.id == client_id and r.client.email}
    except PortfolioError as e:
        unread = str(e)
    erased = store.forget(client_id, emails, now)
    addresses = len(emails | {f.client.email for f in erased if f.client.email})
    found = backups(settings.backups.folder, settings.state)
    for path in found:
        erase_client(path, client_id)
    return Forgotten(client_id, [where(settings, f) for f in erased], addresses, len(found), unread)


@dataclass(frozen=True)
class PurgeResult:
    minimised: int  # closed follow-ups whose client data is (or would be) erased
    purged: Purged
    follow_ups_before: date
    opt_outs_before: date

    def lines(self, *, dry_run: bool) -> list[str]:
        """What ``m3mail purge`` prints, by count."""
        would, p = ("would be" if dry_run else "were"), self.purged
        ledger = "" if dry_run else f", {p.ledger} in the ledger"
        return [f"{self.minimised} closed follow-up(s) {would} minimised (their client data erased)",
                f"past retention (follow-ups last active before {self.follow_ups_before}): {p.follow_ups} "
                f"follow-up(s), {p.history} history line(s), {p.actions} action(s) {would} deleted",
                f"past retention (opt-outs made before {self.opt_outs_before}): {p.opt_outs} opt-out "
                f"fingerprint(s) in the state{ledger} {would} deleted"]  # fmt: skip


def purge_state(settings: Settings, store: StateStore, today: date, now: datetime, *, dry_run: bool) -> PurgeResult:
    """What each run does at its end, on demand: ``dry_run`` counts what would go."""
    follow_ups_before, opt_outs_before = retention_cutoffs(settings, today)
    minimised, purged = store.tidy(now, follow_ups_before, opt_outs_before, dry_run=dry_run)
    return PurgeResult(minimised, purged, follow_ups_before, opt_outs_before)
