"""Frozen values passed between the stages: the export's clients and contracts, row issues, follow-ups.

Nothing here does I/O; every stage can build and compare these values in tests.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from functools import lru_cache


@lru_cache(maxsize=8192)  # statuses, types, flags and civilities repeat on every row
def fold(text: str) -> str:
    """Lower case without accents or surrounding spaces: how we compare words users type ("Santé" = "SANTE")."""
    decomposed = unicodedata.normalize("NFKD", text.strip().casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


class ContractType(StrEnum):
    """The four families of contracts of the agency; the value is the French label shown to people."""

    IARD = "IARD"
    SANTE = "Santé"
    PREVOYANCE = "Prévoyance"
    EPARGNE = "Épargne"

    @property
    def key(self) -> str:
        """The settings key of this type (``[priority] sante = 2``)."""
        return fold(self.value)

    @property
    def is_health(self) -> bool:
        """Health data (Santé, Prévoyance) is minimised wherever it leaves the state: counts, never details."""
        return self in (ContractType.SANTE, ContractType.PREVOYANCE)

    @classmethod
    def parse(cls, text: str) -> ContractType | None:
        return _TYPES_BY_KEY.get(fold(text))


_TYPES_BY_KEY = {t.key: t for t in ContractType}


@dataclass(frozen=True, slots=True)
class Client:
    """A client as the export describes them. Optional fields are empty strings when absent or invalid."""

    id: str
    civility: str = ""
    last_name: str = ""
    first_name: str = ""
    email: str = ""
    phone: str = ""  # E.164 where it could be normalised
    street: str = ""
    postal_code: str = ""
    city: str = ""
    vip: bool = False
    opted_out: bool = False

    @property
    def display_name(self) -> str:
        """``DUPONT Jean``: the French administrative order, family name in capitals."""
        return " ".join(p for p in (self.last_name.upper(), self.first_name) if p)


@dataclass(frozen=True, slots=True)
class Contract:
    """One contract line of the export. ``line`` is where it was read (header = line 1)."""

    id: str
    client_id: str
    adviser: str  # the adviser's email, lower case
    type: ContractType
    effect_date: date
    product: str = ""
    status: str = ""
    cancelled: bool = False
    premium: Decimal | None = None
    guarantees: tuple[str, ...] = ()
    claims: tuple[str, ...] = ()
    questions: tuple[str, ...] = ()
    line: int = 0


@dataclass(frozen=True, slots=True)
class RowIssue:
    """A rejected row, or a kept row with a dropped value: line number, field name, reason."""

    row: int
    field: str
    reason: str

    def as_dict(self) -> dict[str, object]:
        return {"row": self.row, "field": self.field, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class Record:
    """A valid row: the contract and the client it belongs to."""

    client: Client
    contract: Contract


@dataclass(frozen=True, slots=True)
class PastFollowUp:
    """What the state knows of a follow-up already started, as selection needs it.

    ``last_activity`` is the latest day something happened (created, called, emailed): the cool-down runs
    from it. ``open`` follow-ups are still under way.
    """

    client_id: str
    window_start: date
    window_end: date
    last_activity: date
    open: bool = False


@dataclass(frozen=True, slots=True)
class DueFollowUp:
    """A client to follow up now (or one whose window closed without a follow-up, when ``missed``).

    The window is the days on which contacting the client is in time for every covered contract; the due
    date is the earliest M+3 date of those contracts, brought into the window.
    """

    client: Client
    adviser: str
    contracts: tuple[Contract, ...]
    due_date: date
    window_start: date
    window_end: date
    priority: int
    days_left: int
    missed: bool = False

    @property
    def types(self) -> tuple[ContractType, ...]:
        seen: dict[ContractType, None] = {}
        for c in self.contracts:
            seen.setdefault(c.type)
        return tuple(seen)
