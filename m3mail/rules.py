"""The rules each stage decides by, built from the settings in this one place: the selection's (who is due),
the follow-up's (attempts, reply wait, complaint deadlines) and an adviser's calendar rules (hours, holidays,
capacity), and all of those an adviser's pass plans by (PassRules). The deciding stages take these values,
never the settings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time, timedelta

from m3mail import followup as fu
from m3mail.models import ContractType
from m3mail.planning import AdviserRules
from m3mail.selection import SelectionRules
from m3mail.settings import AdviserSettings, Settings


def selection_rules(settings: Settings) -> SelectionRules:
    p = settings.priority
    weights = {t: getattr(p, t.key) for t in ContractType}
    s = settings.selection
    return SelectionRules(
        months_after=s.months_after,
        days_before=s.days_before,
        days_after=s.days_after,
        cooldown_days=s.cooldown_days,
        type_weights=weights,
        vip_weight=p.vip,
        missed_since=s.missed_since,
    )


def process_rules(settings: Settings, adviser: AdviserSettings) -> fu.Rules:
    return fu.Rules(
        attempts=settings.calls.attempts,
        reply_wait=timedelta(days=settings.email.reply_wait_days),
        ack_business_days=settings.complaints.acknowledge_business_days,
        answer_months=settings.complaints.answer_months,
        subdivisions=subdivisions(adviser),
    )


def adviser_rules(settings: Settings, adviser: AdviserSettings) -> AdviserRules:
    calls = settings.calls
    return AdviserRules(
        timezone=adviser.timezone,
        working_days=frozenset(adviser.working_days),
        working_hours=tuple(adviser.working_hours),
        call_hours=tuple(adviser.call_hours),
        subdivision=adviser.holidays,
        max_per_day=adviser.max_calls_per_day or calls.max_per_day,
        slot=timedelta(minutes=calls.slot_minutes),
        lead=timedelta(minutes=calls.lead_minutes),
        attempts_per_30_days=calls.attempts_per_30_days,
    )


def subdivisions(adviser: AdviserSettings) -> tuple[str, ...]:
    """The holiday areas of the adviser (none: metropolitan France)."""
    return (adviser.holidays,) if adviser.holidays else ()


@dataclass(frozen=True)
class PassRules:
    """What one adviser's pass plans by. ``adviser`` is there for the texts (the renderer signs with it) and
    for which of its hours the settings table set (Outlook's working hours fill the others)."""

    adviser: AdviserSettings
    process: fu.Rules
    calendar: AdviserRules
    subdivisions: tuple[str, ...]
    agency_timezone: str  # the agency's day: the digest's, the letter's date
    send_hours: tuple[tuple[time, time], ...]  # when a client email may leave
    reminder_minutes: int
    filing_mailbox: str  # empty: the adviser's own
    filing_root: str
    folder_template: str  # the client folder's name: {nom} {prenom} {client_id} {civilite}

    @property
    def filing_box(self) -> str:
        return self.filing_mailbox or self.adviser.email


def pass_rules(settings: Settings, adviser: AdviserSettings) -> PassRules:
    return PassRules(
        adviser=adviser,
        process=process_rules(settings, adviser),
        calendar=adviser_rules(settings, adviser),
        subdivisions=subdivisions(adviser),
        agency_timezone=settings.timezone,
        send_hours=tuple(settings.email.send_hours),
        reminder_minutes=settings.calls.reminder_minutes,
        filing_mailbox=settings.filing.mailbox,
        filing_root=settings.filing.root,
        folder_template=settings.filing.folder,
    )


def retention_cutoffs(settings: Settings, today: date) -> tuple[date, date]:
    """The days before which closed follow-ups, and opt-outs, are past their retention."""
    r = settings.retention
    return years_before(today, r.follow_ups_years), years_before(today, r.opt_outs_years)


def years_before(day: date, years: int) -> date:
    """The same day ``years`` earlier (29 February: the 28th)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)
