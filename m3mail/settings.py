"""The settings file (TOML): its model, its defaults and the loader that reports every problem at once.

Public: ``load_settings(path) -> Settings``, ``Settings`` and its sections,
``check_replay_day(day)`` (the bounds of a day given on the command line).
Relative paths in the file resolve against the file's folder, so a working folder can be moved whole.
Integers and booleans are strict (``true`` is no number, ``2.5`` no count); texts are one line; no message
repeats ``microsoft365.client_secret_env``'s value, which may be a secret typed in the wrong place.
"""

from __future__ import annotations

import re
import tomllib
from datetime import date, time
from pathlib import Path
from string import Formatter
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from email_validator import EmailNotValidError, validate_email
from holidays.countries.france import France
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from m3mail.errors import SettingsError, SettingsProblem
from m3mail.models import fold

WEEKDAYS = {
    "mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6,
    "lun": 0, "mar": 1, "mer": 2, "jeu": 3, "ven": 4, "sam": 5, "dim": 6,
}  # fmt: skip
_RANGE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_TOKEN = re.compile(r"[A-Za-z0-9._-]*")  # a tenant (GUID or domain) or client id: it goes into URLs
FOLDER_PLACEHOLDERS = ("nom", "prenom", "client_id", "civilite")


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
        if isinstance(text, str):
            ZoneInfo(text)
            return text
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: "Europe" is a folder, a name too long...
        pass
    raise ValueError(f"{text!r:.60} is not a time zone name like 'Europe/Paris'")


TimeZoneName = Annotated[str, BeforeValidator(_timezone)]


def _one_line(text: str) -> str:
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise ValueError("must be one line of text, without control characters (line break, tab, NUL...)")
    return text


def _not_blank(text: str) -> str:
    if not _one_line(text).strip():
        raise ValueError("must not be empty")
    return text


Line = Annotated[str, AfterValidator(_one_line)]  # a text that may be empty
Word = Annotated[str, AfterValidator(_not_blank)]  # a name that may not


def _path(value: Any) -> Any:
    if isinstance(value, str) and "\x00" in value:
        raise ValueError("a path cannot contain a NUL character")
    return value


SettingsPath = Annotated[Path, BeforeValidator(_path)]


def _https_url(value: str) -> str:
    try:
        parts = urlsplit(value)
        ok = parts.scheme == "https" and bool(parts.hostname) and parts.port != 0
    except ValueError:  # a bad port or IPv6 address
        ok = False
    if not ok or any(c.isspace() or ord(c) < 32 for c in value):
        raise ValueError(f"{value!r} is not an https:// address like 'https://graph.microsoft.com'")
    return value


HttpsUrl = Annotated[str, AfterValidator(_https_url)]


class AgencySettings(_Section):
    """Who the agency is: signs letters and fills the address block."""

    name: Line = "Votre agence"
    address: list[Line] = Field(default_factory=list)
    phone: Line = ""
    email: str = ""

    @field_validator("email")
    @classmethod
    def _address(cls, value: str) -> str:
        return _email(value) if value else value


class ColumnSettings(_Section):
    """The export's column name for each field (compared without regard to case, accents or spaces)."""

    client_id: Word = "client_id"
    civilite: Word = "civilite"
    nom: Word = "nom"
    prenom: Word = "prenom"
    email: Word = "email"
    telephone: Word = "telephone"
    adresse: Word = "adresse"
    code_postal: Word = "code_postal"
    ville: Word = "ville"
    conseiller: Word = "conseiller"
    contrat: Word = "contrat"
    type: Word = "type"
    produit: Word = "produit"
    date_effet: Word = "date_effet"
    statut: Word = "statut"
    prime_annuelle: Word = "prime_annuelle"
    garanties: Word = "garanties"
    sinistres: Word = "sinistres"
    questions: Word = "questions"
    vip: Word = "vip"
    opposition: Word = "opposition"

    @model_validator(mode="after")
    def _distinct(self) -> ColumnSettings:
        seen: dict[str, str] = {}
        for name, column in self.model_dump().items():
            other = seen.setdefault(fold(column), name)
            if other != name:
                raise ValueError(f"{other} and {name} both read column {column!r}")
        return self


class PortfolioSettings(_Section):
    path: SettingsPath = Path("portefeuille.csv")
    sheet: Line = ""  # XLSX only: the sheet to read; empty = the first one
    list_separator: str = Field("|", min_length=1)
    cancelled_statuses: list[Word] = Field(default_factory=lambda: ["résilié", "annulé", "sans effet"])
    columns: ColumnSettings = Field(default_factory=ColumnSettings)


class SelectionSettings(_Section):
    months_after: StrictInt = Field(3, ge=1, le=24)
    days_before: StrictInt = Field(7, ge=0, le=60)
    days_after: StrictInt = Field(7, ge=0, le=60)
    cooldown_days: StrictInt = Field(60, ge=0, le=730)
    missed_since: date | None = None

    @field_validator("missed_since", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        if isinstance(value, int | float):  # pydantic would read a number as a Unix time
            raise ValueError("must be a date like 2026-01-01, or empty")
        return None if value == "" else value


class PrioritySettings(_Section):
    iard: StrictInt = Field(1, ge=0, le=100)
    sante: StrictInt = Field(2, ge=0, le=100)
    prevoyance: StrictInt = Field(3, ge=0, le=100)
    epargne: StrictInt = Field(4, ge=0, le=100)
    vip: StrictInt = Field(5, ge=0, le=100)


class CallSettings(_Section):
    slot_minutes: StrictInt = Field(20, ge=5, le=240)
    max_per_day: StrictInt = Field(8, ge=1, le=100)
    reminder_minutes: StrictInt = Field(15, ge=0, le=1440)
    attempts: StrictInt = Field(2, ge=1, le=4)  # call attempts before the client is emailed
    attempts_per_30_days: StrictInt = Field(4, ge=1, le=4)  # décret 2022-1313: at most 4 in 30 days
    lead_minutes: StrictInt = Field(60, ge=0, le=1440)  # never book sooner than this after the run


class EmailSettings(_Section):
    send_hours: list[TimeRange] = Field(default_factory=lambda: [_time_range("08:00-19:00")], min_length=1)
    reply_wait_days: StrictInt = Field(14, ge=1, le=90)
    per_minute: StrictInt = Field(30, ge=1, le=30)  # Exchange Online: 30 messages a minute per mailbox


class FilingSettings(_Section):
    mailbox: str = ""  # empty: each adviser's own mailbox; else a shared mailbox's address
    root: Word = "Clients"
    folder: Line = "{nom} {prenom} ({client_id})"

    @field_validator("mailbox")
    @classmethod
    def _mailbox(cls, value: str) -> str:
        return _email(value) if value else value

    @field_validator("folder")
    @classmethod
    def _pattern(cls, value: str) -> str:
        """Only the plain placeholders: no attribute or index ({nom.x}, {nom[0]}), conversion ({nom!r}) or
        format ({nom:>99999999}), which would fail, or build a huge name, once a client is filed."""
        use = "use {nom}, {prenom}, {client_id} and {civilite} as they are, and {{ }} for a brace"
        try:
            fields = [(f, spec, conv) for _, f, spec, conv in Formatter().parse(value) if f is not None]
        except ValueError as e:  # a lone brace
            raise ValueError(f"{value!r}: {e}; {use}") from None
        for field, spec, conversion in fields:
            if field not in FOLDER_PLACEHOLDERS or spec or conversion:
                whole = field + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "")
                raise ValueError(f"{value!r}: {{{whole}}} is not a placeholder; {use}")
        return value


class ComplaintSettings(_Section):
    acknowledge_business_days: StrictInt = Field(10, ge=1, le=60)
    answer_months: StrictInt = Field(2, ge=1, le=12)


class BackupSettings(_Section):
    folder: SettingsPath = Path("backups")  # dated copies of the state, one a day
    keep: StrictInt = Field(14, ge=1, le=3660)


class RetentionSettings(_Section):
    """How long the state keeps what it no longer needs to act (CNIL, référentiel "gestion des activités
    commerciales": client data at most three years from the last contact; what honours an objection at least
    three years, as keyed fingerprints)."""

    follow_ups_years: StrictInt = Field(3, ge=1, le=10)  # a closed follow-up (minimised), its history and actions
    opt_outs_years: StrictInt = Field(3, ge=3, le=10)  # an opt-out or an erasure, as fingerprints


class LocalSettings(_Section):
    root: SettingsPath = Path("boites")


class Microsoft365Settings(_Section):
    """The app registration m3mail signs in as (app-only). Secrets never live in this file: a certificate's
    private key file, or the name of the environment variable holding a client secret."""

    tenant_id: str = ""
    client_id: str = ""
    certificate_key: SettingsPath | None = None  # PEM private key of the certificate registered on the app
    certificate_thumbprint: str = ""  # its SHA-1 thumbprint, 40 hex digits
    client_secret_env: str = "M3MAIL_CLIENT_SECRET"  # used when no certificate is set
    graph_url: HttpsUrl = "https://graph.microsoft.com"
    authority_url: HttpsUrl = "https://login.microsoftonline.com"
    ca_bundle: SettingsPath | None = None  # a CA file to trust instead of the system's (a proxy's, an emulator's)
    concurrent_advisers: StrictInt = Field(16, ge=1, le=64)  # advisers served at once
    requests_per_mailbox: StrictInt = Field(4, ge=1, le=4)  # Exchange: at most 4 requests at once per mailbox
    batching: StrictBool = True  # a mailbox's requests of a round go together in fully parallel JSON $batch requests

    @field_validator("certificate_key", "ca_bundle", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        return None if value == "" else value

    @field_validator("tenant_id", "client_id")
    @classmethod
    def _token(cls, value: str) -> str:
        if not _TOKEN.fullmatch(value):
            raise ValueError(f"{value!r:.60} is not an id: letters, digits, '.', '-' and '_' only")
        return value

    @field_validator("certificate_thumbprint")
    @classmethod
    def _thumbprint(cls, value: str) -> str:
        if value and not re.fullmatch(r"[0-9A-Fa-f]{40}", value):
            raise ValueError("must be the certificate's SHA-1 thumbprint: 40 hex digits, as Entra shows it")
        return value

    @field_validator("client_secret_env", mode="before")
    @classmethod
    def _env_name(cls, value: Any) -> str:
        """The NAME of a variable; the value is never repeated, as it may be the secret typed here by mistake."""
        if not isinstance(value, str) or not _ENV_NAME.fullmatch(value):
            raise ValueError("must be the name of the environment variable holding the client secret (letters, "
                             "digits and _, not starting with a digit, like M3MAIL_CLIENT_SECRET), never the "
                             "secret itself; the value is not shown, as it may be one")  # fmt: skip
        return value


class AdviserSettings(_Section):
    email: Email
    name: Word
    timezone: TimeZoneName = "Europe/Paris"
    holidays: str = ""  # a subdivision of France in the `holidays` package: "57", "6AE", "974", ...
    phone: Line = ""  # signs the client emails
    max_calls_per_day: StrictInt = Field(0, ge=0, le=100)  # 0: calls.max_per_day
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
        known = set(France.subdivisions) | set(getattr(France, "subdivisions_aliases", {}))
        if value not in known:
            raise ValueError(f"{value!r} is not a French subdivision; use '' (metropolitan France), '57' (Moselle), "
                             "'6AE' (Alsace), '971', '972', '973', '974', '976' (overseas departments)...")
        return value

    @field_validator("working_days")
    @classmethod
    def _a_weekday(cls, value: list[int]) -> list[int]:
        if not set(value) & {0, 1, 2, 3, 4}:
            raise ValueError("calls are booked Monday to Friday only: name at least one of mon..fri (lun..ven)")
        return value

    @model_validator(mode="after")  # after: the default call hours too; unset working hours may be Outlook's
    def _hours_meet(self) -> AdviserSettings:
        meet = any(s1 < e2 and s2 < e1 for s1, e1 in self.call_hours for s2, e2 in self.working_hours)
        if not meet and "working_hours" in self.model_fields_set:
            raise ValueError("call_hours and working_hours never meet: no call could ever be booked")
        return self


class Settings(_Section):
    backend: Literal["local", "microsoft365"] = "local"
    timezone: TimeZoneName = "Europe/Paris"
    state: SettingsPath = Path("m3mail.db")
    backups: BackupSettings = Field(default_factory=BackupSettings)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    agency: AgencySettings = Field(default_factory=AgencySettings)
    portfolio: PortfolioSettings = Field(default_factory=PortfolioSettings)
    selection: SelectionSettings = Field(default_factory=SelectionSettings)
    priority: PrioritySettings = Field(default_factory=PrioritySettings)
    calls: CallSettings = Field(default_factory=CallSettings)
    email: EmailSettings = Field(default_factory=EmailSettings)
    filing: FilingSettings = Field(default_factory=FilingSettings)
    complaints: ComplaintSettings = Field(default_factory=ComplaintSettings)
    local: LocalSettings = Field(default_factory=LocalSettings)
    microsoft365: Microsoft365Settings = Field(default_factory=Microsoft365Settings, validate_default=True)
    templates: SettingsPath = Path("templates")  # a folder whose templates replace the shipped ones of the same name
    advisers: list[AdviserSettings] = Field(min_length=1)

    @field_validator("state")
    @classmethod
    def _a_file(cls, value: Path) -> Path:
        if value.name in ("", ".", ".."):
            raise ValueError(f"'{value}' is a folder: name the state's file, like 'm3mail.db'")
        return value

    @field_validator("microsoft365")  # keyed "microsoft365", not "(top level)"; backend is validated before it
    @classmethod
    def _microsoft365_complete(cls, m: Microsoft365Settings, info: ValidationInfo) -> Microsoft365Settings:
        if info.data.get("backend") == "microsoft365":
            missing = [k for k in ("tenant_id", "client_id") if not getattr(m, k)]
            if missing:
                raise ValueError(f"backend = 'microsoft365' needs microsoft365.{' and microsoft365.'.join(missing)}")
            if bool(m.certificate_key) != bool(m.certificate_thumbprint):
                raise ValueError("a certificate needs both certificate_key and certificate_thumbprint")
        return m

    @model_validator(mode="after")
    def _cool_down_within_retention(self) -> Settings:
        kept, cool = self.retention.follow_ups_years * 365, self.selection.cooldown_days
        if kept < cool:  # the cool-down reads the past follow-ups: purged sooner, a client would be called again
            raise ValueError(f"retention.follow_ups_years = {self.retention.follow_ups_years} keeps the follow-ups "
                             f"less than selection.cooldown_days = {cool}: keep them at least as long")  # fmt: skip
        return self

    @field_validator("advisers")
    @classmethod
    def _unique_advisers(cls, advisers: list[AdviserSettings]) -> list[AdviserSettings]:
        emails = [a.email for a in advisers]
        doubles = sorted({e for e in emails if emails.count(e) > 1})
        if doubles:
            raise ValueError(f"advisers listed twice: {', '.join(doubles)}")
        return advisers

    def adviser(self, email: str) -> AdviserSettings | None:
        return next((a for a in self.advisers if a.email == email.lower()), None)


def load_settings(path: Path) -> Settings:
    """Read and validate the settings file, raising SettingsError with every problem found."""
    where = str(path)
    try:
        if path.exists() and not path.is_file():  # a folder, or /dev/zero that would be read forever
            raise SettingsError(where, [SettingsProblem("(file)", "is not a file: name the settings file")])
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        missing = SettingsProblem("(file)", "not found; create one with 'm3mail init DIR'")
        raise SettingsError(where, [missing]) from None
    except UnicodeDecodeError as e:
        line = e.object[: e.start].count(b"\n") + 1
        reason = f"not UTF-8 text (byte {e.object[e.start]:#04x} on line {line}): save it as UTF-8"
        raise SettingsError(where, [SettingsProblem("(file)", reason)]) from None
    except OSError as e:
        raise SettingsError(where, [SettingsProblem("(file)", f"cannot be read: {e}")]) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise SettingsError(where, [SettingsProblem("(file)", f"not valid TOML: {e}")]) from None
    except RecursionError:  # tomllib reads nested arrays and tables recursively
        raise SettingsError(where, [SettingsProblem("(file)", "not valid TOML: nested too deeply")]) from None
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
    kind = _KINDS.get(type(error.get("input")))
    if error["type"] == "extra_forbidden":
        reason = "unknown setting (check its spelling and section)"
    elif error["type"] == "missing":
        reason = "required setting is missing"
    elif error["type"] == "model_type":
        table = f"[[{key.rsplit('[', 1)[0]}]]" if key.endswith("]") else f"[{key}]"
        reason = f"must be a table ({table}), not {kind or 'this'}"
    elif error["type"] == "path_type":
        reason = f"must be a path, in quotes, not {kind or 'this'}"
    elif error["type"].endswith("_type") and kind:  # what TOML read, never the value: it may be a secret
        reason += f", not {kind}"
    return SettingsProblem(key or "(top level)", reason)


_KINDS = {bool: "true/false", int: "an integer", float: "a decimal number", str: "a string", list: "a list",
          dict: "a table", date: "a date", time: "a time"}  # fmt: skip
