"""The settings file (TOML): its model, its defaults and the loader that reports every problem at once.

Public: ``load_settings(path) -> Settings``, ``Settings`` and its sections, ``selection_rules(settings)``.
Relative paths in the file resolve against the file's folder, so a working folder can be moved whole.
"""

from __future__ import annotations

import re
import tomllib
from datetime import date, time
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
from email_validator import EmailNotValidError, validate_email
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator, model_validator

from m3mail.errors import SettingsError, SettingsProblem
from m3mail.models import ContractType, fold
from m3mail.selection import SelectionRules

WEEKDAYS = {
    "mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6,
    "lun": 0, "mar": 1, "mer": 2, "jeu": 3, "ven": 4, "sam": 5, "dim": 6,
}  # fmt: skip
_RANGE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _time_range(text: Any) -> tuple[time, time]:
    """``"10:00-13:00"`` -> (10:00, 13:00); the end must come after the start."""
    if not isinstance(text, str) or not (m := _RANGE.match(text)):
        raise ValueError(f"{text!r} is not a time range like '10:00-13:00'")
    h1, m1, h2, m2 = (int(g) for g in m.groups())
    if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59 or (h2 == 24 and m2):
        raise ValueError(f"{text!r} is not a valid time range")
    start, end = time(h1, m1), (time(23, 59, 59) if h2 == 24 else time(h2, m2))
    if end <= start:
        raise ValueError(f"{text!r}: the end must come after the start")
    return start, end


TimeRange = Annotated[tuple[time, time], BeforeValidator(_time_range)]


def _weekday(text: Any) -> int:
    day = WEEKDAYS.get(fold(str(text))[:3])
    if day is None:
        raise ValueError(f"{text!r} is not a day of the week (mon..sun or lun..dim)")
    return day


Weekday = Annotated[int, BeforeValidator(_weekday)]


def _email(text: Any) -> str:
    if not isinstance(text, str):
        raise ValueError("must be an email address")
    try:
        return validate_email(text, check_deliverability=False).normalized.lower()
    except EmailNotValidError as e:
        raise ValueError(f"{text!r} is not a valid email address: {e}") from None


Email = Annotated[str, BeforeValidator(_email)]


def _timezone(text: Any) -> str:
    try:
        ZoneInfo(str(text))
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{text!r} is not a time zone name like 'Europe/Paris'") from None
    return str(text)


TimeZoneName = Annotated[str, BeforeValidator(_timezone)]


class AgencySettings(_Section):
    """Who the agency is: signs letters and fills the address block."""

    name: str = "Votre agence"
    address: list[str] = Field(default_factory=list)
    phone: str = ""
    email: str = ""


class ColumnSettings(_Section):
    """The export's column name for each field (compared without regard to case, accents or spaces)."""

    client_id: str = "client_id"
    civilite: str = "civilite"
    nom: str = "nom"
    prenom: str = "prenom"
    email: str = "email"
    telephone: str = "telephone"
    adresse: str = "adresse"
    code_postal: str = "code_postal"
    ville: str = "ville"
    conseiller: str = "conseiller"
    contrat: str = "contrat"
    type: str = "type"
    produit: str = "produit"
    date_effet: str = "date_effet"
    statut: str = "statut"
    prime_annuelle: str = "prime_annuelle"
    garanties: str = "garanties"
    sinistres: str = "sinistres"
    questions: str = "questions"
    vip: str = "vip"
    opposition: str = "opposition"

    @model_validator(mode="after")
    def _distinct(self) -> ColumnSettings:
        seen: dict[str, str] = {}
        for name, column in self.model_dump().items():
            other = seen.setdefault(fold(column), name)
            if other != name:
                raise ValueError(f"{other} and {name} both read column {column!r}")
        return self


class PortfolioSettings(_Section):
    path: Path = Path("portefeuille.csv")
    sheet: str = ""  # XLSX only: the sheet to read; empty = the first one
    list_separator: str = Field("|", min_length=1)
    cancelled_statuses: list[str] = Field(default_factory=lambda: ["résilié", "annulé", "sans effet"])
    columns: ColumnSettings = Field(default_factory=ColumnSettings)


class SelectionSettings(_Section):
    months_after: int = Field(3, ge=1, le=24)
    days_before: int = Field(7, ge=0, le=60)
    days_after: int = Field(7, ge=0, le=60)
    cooldown_days: int = Field(60, ge=0, le=730)
    missed_since: date | None = None

    @field_validator("missed_since", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        return None if value == "" else value


class PrioritySettings(_Section):
    iard: int = 1
    sante: int = 2
    prevoyance: int = 3
    epargne: int = 4
    vip: int = 5


class CallSettings(_Section):
    slot_minutes: int = Field(20, ge=5, le=240)
    max_per_day: int = Field(8, ge=1, le=100)
    reminder_minutes: int = Field(15, ge=0, le=1440)
    attempts: int = Field(2, ge=1, le=4)  # call attempts before the client is emailed
    attempts_per_30_days: int = Field(4, ge=1, le=4)  # décret 2022-1313: at most 4 in 30 days
    lead_minutes: int = Field(60, ge=0, le=1440)  # never book sooner than this after the run


class EmailSettings(_Section):
    send_hours: list[TimeRange] = Field(default_factory=lambda: [_time_range("08:00-19:00")], min_length=1)
    reply_wait_days: int = Field(14, ge=1, le=90)
    per_minute: int = Field(30, ge=1, le=30)  # Exchange Online: 30 messages a minute per mailbox


class FilingSettings(_Section):
    mailbox: str = ""  # empty: each adviser's own mailbox; else a shared mailbox's address
    root: str = "Clients"
    folder: str = "{nom} {prenom} ({client_id})"

    @field_validator("mailbox")
    @classmethod
    def _mailbox(cls, value: str) -> str:
        return _email(value) if value else value

    @field_validator("folder")
    @classmethod
    def _pattern(cls, value: str) -> str:
        try:
            value.format(nom="N", prenom="P", client_id="C", civilite="M.")
        except (KeyError, IndexError, ValueError) as e:
            raise ValueError(
                f"{value!r}: unknown placeholder {e}; use {{nom}} {{prenom}} {{client_id}} {{civilite}}"
            ) from None
        return value


class ComplaintSettings(_Section):
    acknowledge_business_days: int = Field(10, ge=1, le=60)
    answer_months: int = Field(2, ge=1, le=12)


class BackupSettings(_Section):
    folder: Path = Path("backups")  # dated copies of the state, one a day
    keep: int = Field(14, ge=1, le=3660)


class LocalSettings(_Section):
    root: Path = Path("boites")


class Microsoft365Settings(_Section):
    """The app registration m3mail signs in as (app-only). Secrets never live in this file: a certificate's
    private key file, or the name of the environment variable holding a client secret."""

    tenant_id: str = ""
    client_id: str = ""
    certificate_key: Path | None = None  # PEM private key of the certificate registered on the app
    certificate_thumbprint: str = ""  # its SHA-1 thumbprint, hex
    client_secret_env: str = "M3MAIL_CLIENT_SECRET"  # used when no certificate is set
    graph_url: str = "https://graph.microsoft.com"
    authority_url: str = "https://login.microsoftonline.com"
    ca_bundle: Path | None = None  # a CA file to trust instead of the system's (a proxy's, an emulator's)
    concurrent_advisers: int = Field(16, ge=1, le=64)  # advisers served at once
    requests_per_mailbox: int = Field(4, ge=1, le=4)  # Exchange serves an app at most 4 requests at once per mailbox
    batching: bool = True  # a mailbox's requests of a round go together in fully parallel JSON $batch requests

    @field_validator("certificate_key", "ca_bundle", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        return None if value == "" else value


class AdviserSettings(_Section):
    email: Email
    name: str = Field(min_length=1)
    timezone: TimeZoneName = "Europe/Paris"
    holidays: str = ""  # a subdivision of France in the `holidays` package: "57", "6AE", "974", ...
    phone: str = ""  # signs the client emails
    max_calls_per_day: int = Field(0, ge=0, le=100)  # 0: calls.max_per_day
    working_days: list[Weekday] = Field(default_factory=lambda: [0, 1, 2, 3, 4], min_length=1)
    working_hours: list[TimeRange] = Field(default_factory=lambda: [_time_range("09:00-18:00")], min_length=1)
    call_hours: list[TimeRange] = Field(
        default_factory=lambda: [_time_range("10:00-13:00"), _time_range("14:00-20:00")], min_length=1
    )

    @field_validator("holidays")
    @classmethod
    def _subdivision(cls, value: str) -> str:
        if not value:
            return value
        known = set(holidays.France.subdivisions) | set(getattr(holidays.France, "subdivisions_aliases", {}))
        if value not in known:
            raise ValueError(f"{value!r} is not a French subdivision; use '' (metropolitan France), '57' (Moselle), "
                             "'6AE' (Alsace), '971', '972', '973', '974', '976' (overseas departments)...")
        return value


class Settings(_Section):
    backend: Literal["local", "microsoft365"] = "local"
    timezone: TimeZoneName = "Europe/Paris"
    state: Path = Path("m3mail.db")
    backups: BackupSettings = Field(default_factory=BackupSettings)
    agency: AgencySettings = Field(default_factory=AgencySettings)
    portfolio: PortfolioSettings = Field(default_factory=PortfolioSettings)
    selection: SelectionSettings = Field(default_factory=SelectionSettings)
    priority: PrioritySettings = Field(default_factory=PrioritySettings)
    calls: CallSettings = Field(default_factory=CallSettings)
    email: EmailSettings = Field(default_factory=EmailSettings)
    filing: FilingSettings = Field(default_factory=FilingSettings)
    complaints: ComplaintSettings = Field(default_factory=ComplaintSettings)
    local: LocalSettings = Field(default_factory=LocalSettings)
    microsoft365: Microsoft365Settings = Field(default_factory=Microsoft365Settings)
    templates: Path = Path("templates")  # a folder whose templates replace the shipped ones of the same name
    advisers: list[AdviserSettings] = Field(min_length=1)

    @model_validator(mode="after")
    def _microsoft365_complete(self) -> Settings:
        m = self.microsoft365
        if self.backend == "microsoft365":
            missing = [k for k in ("tenant_id", "client_id") if not getattr(m, k)]
            if missing:
                raise ValueError(f"backend = 'microsoft365' needs microsoft365.{' and microsoft365.'.join(missing)}")
            if bool(m.certificate_key) != bool(m.certificate_thumbprint):
                raise ValueError("microsoft365: a certificate needs both certificate_key and certificate_thumbprint")
        return self

    @model_validator(mode="after")
    def _unique_advisers(self) -> Settings:
        emails = [a.email for a in self.advisers]
        doubles = sorted({e for e in emails if emails.count(e) > 1})
        if doubles:
            raise ValueError(f"advisers listed twice: {', '.join(doubles)}")
        return self

    def adviser(self, email: str) -> AdviserSettings | None:
        return next((a for a in self.advisers if a.email == email.lower()), None)


def load_settings(path: Path) -> Settings:
    """Read and validate the settings file, raising SettingsError with every problem found."""
    where = str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        missing = SettingsProblem("(file)", "not found; create one with 'm3mail init DIR'")
        raise SettingsError(where, [missing]) from None
    except (OSError, UnicodeDecodeError) as e:
        raise SettingsError(where, [SettingsProblem("(file)", f"cannot be read: {e}")]) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise SettingsError(where, [SettingsProblem("(file)", f"not valid TOML: {e}")]) from None
    try:
        settings = Settings.model_validate(data)
    except ValidationError as e:
        raise SettingsError(where, [_problem(err) for err in e.errors()]) from None
    base = path.resolve().parent
    return settings.model_copy(
        update={
            "state": base / settings.state,
            "backups": settings.backups.model_copy(update={"folder": base / settings.backups.folder}),
            "templates": base / settings.templates,
            "portfolio": settings.portfolio.model_copy(update={"path": base / settings.portfolio.path}),
            "local": settings.local.model_copy(update={"root": base / settings.local.root}),
            "microsoft365": settings.microsoft365.model_copy(update={
                name: base / value for name in ("certificate_key", "ca_bundle")
                if (value := getattr(settings.microsoft365, name)) is not None
            }),
        }
    )  # fmt: skip


def _problem(error: Any) -> SettingsProblem:
    key = ""
    for part in error["loc"]:
        key += f"[{part}]" if isinstance(part, int) else (f".{part}" if key else str(part))
    reason = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        reason = "unknown setting (check its spelling and section)"
    elif error["type"] == "missing":
        reason = "required setting is missing"
    return SettingsProblem(key or "(top level)", reason)


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
