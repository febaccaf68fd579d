"""From the export's table to valid records, rejected rows and warnings.

A row with a bad required field (client id, adviser, contract id, type, effect date) is rejected with its
line, field and reason; a bad optional value is dropped with a warning and the row kept. An exact duplicate
row counts once. Nothing here stops a run but an export that cannot be read at all.

When the caller only needs rows whose effect date is relevant to one day, the reader looks at the effect
date first and skips the others without validating them (they are counted as ``skipped``): a large export
then costs little more than reading it. Opt-outs are still collected from skipped rows, since an opt-out on
any row of a client covers all of their contracts.

Rejection reasons and warnings never quote a client's name, email, phone or address (README, Privacy): a value
is quoted only when it cannot be one (an adviser's address at the advisers' own domain, a contract type that is
no personal value of its row); otherwise its ``fields.shape`` is shown.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TypeVar

from m3mail.errors import PortfolioError
from m3mail.models import Client, Contract, ContractType, Record, RowIssue, fold
from m3mail.portfolio import fields as f
from m3mail.portfolio.sources import RowFlaw, Table, open_table
from m3mail.settings import PortfolioSettings

REQUIRED = ("client_id", "conseiller", "contrat", "type", "date_effet")
_TYPE_NAMES = ", ".join(t.value for t in ContractType)
# the fields that hold a client's personal data: a reason never quotes their values, nor a value equal to one
_PERSONAL = ("civilite", "nom", "prenom", "email", "telephone", "adresse", "code_postal", "ville")
_QUOTABLE_MAX = 40
T = TypeVar("T")


@dataclass
class ReadReport:
    """What reading the export found, row by row."""

    accepted: int = 0
    rejected: list[RowIssue] = field(default_factory=list)
    warnings: list[RowIssue] = field(default_factory=list)
    duplicates: list[tuple[int, int]] = field(default_factory=list)  # (line, line of its first copy)
    skipped: int = 0  # rows not validated: their effect date makes them irrelevant to the day asked
    missing_columns: list[str] = field(default_factory=list)  # optional columns absent: fields left empty
    opted_out: set[str] = field(default_factory=set)  # client ids with an opt-out on any row
    rejected_by_adviser: dict[str, int] = field(default_factory=dict)  # "" for rows with no known adviser
    description: str = ""


def _key(name: str) -> str:
    """Header cells compare without case, accents, spaces or punctuation: "Date d'effet" = "date_d_effet"."""
    return "".join(c for c in fold(name) if c.isalnum())


class _Row:
    """Field access by name on one row; missing columns and short rows read as empty text."""

    __slots__ = ("cells", "index")

    def __init__(self, index: dict[str, int], cells: Sequence[str]):
        self.index, self.cells = index, cells

    def __getitem__(self, name: str) -> str:
        i = self.index.get(name)
        return self.cells[i].strip() if i is not None and i < len(self.cells) else ""


class PortfolioReader:
    """Reads one export against the portfolio settings and the advisers' emails."""

    def __init__(self, path: Path, settings: PortfolioSettings, advisers: Collection[str]):
        self.path = path
        self.settings = settings
        self.advisers = {a.lower() for a in advisers}
        self.cancelled = tuple(fold(s) for s in settings.cancelled_statuses if s.strip())
        self.domains = {a.rpartition("@")[2] for a in self.advisers}
        self.report = ReadReport()
        self._foreign = 0  # rows rejected for a line in another encoding than the file's

    def records(self, relevant: Callable[[date], bool] | None = None) -> Iterator[Record]:
        """Valid records, in file order; ``self.report`` is complete once the iterator is exhausted."""
        report = self.report = ReadReport()
        self._foreign = 0
        with open_table(self.path, self.settings.sheet) as table:
            report.description = table.description
            index = self._index(table, report)
            try:
                yield from self._rows(table, index, relevant)
            except UnicodeDecodeError as e:  # UTF-16 only: the other encodings never raise (see encodings)
                raise PortfolioError(f"{self.path}: the export cannot be decoded past line {table.position()} "
                                     f"({e.reason}); save it again as CSV UTF-8") from None  # fmt: skip
            if self._foreign:
                report.description += f"; {self._foreign} row(s) in another encoding rejected"

    def _rows(self, table: Table, index: dict[str, int], relevant: Callable[[date], bool] | None) -> Iterator[Record]:
        """The loop over every row: kept flat on purpose, it is the one place a large export is slow. A record
        the csv module cannot read (``csv.Error``) is reported by ``table.recover`` and the loop goes on."""
        report = self.report
        width = len(table.header)
        seen_rows: dict[int, int] = {}
        seen_contracts: dict[str, int] = {}
        date_at, client_at, optout_at = index["date_effet"], index["client_id"], index.get("opposition", -1)
        verdicts: dict[str, bool] = {}
        while True:
            try:
                for cells in table.rows:
                    # the hot path: most rows of a large export are skipped here on their effect date alone
                    if (0 <= optout_at < len(cells) and cells[optout_at] not in f.FALSE_SPELLINGS
                            and client_at < len(cells)):  # fmt: skip
                        _note_optout(cells[optout_at], cells[client_at], report)  # whatever becomes of the row
                    if relevant is not None:
                        try:
                            verdict = verdicts[cells[date_at]]
                        except KeyError:
                            verdict = _relevant(cells[date_at], relevant)
                            if len(verdicts) < 100_000:
                                verdicts[cells[date_at]] = verdict
                        except IndexError:
                            verdict = True  # a short row: read in full, so that it is reported
                        if not verdict:
                            report.skipped += 1
                            continue
                    if not any(cells):
                        continue  # blank line, or a row of empty cells as spreadsheets leave them
                    line = table.line(cells)
                    if (flaw := table.flaw(cells, line)) is not None:
                        self._flawed(flaw, table.header)
                        continue
                    # a 64-bit hash stands for the row: two different rows collide once in ~1e10 exports
                    first = seen_rows.setdefault(hash(tuple(cells)), line)
                    if first != line:
                        report.duplicates.append((line, first))
                        continue
                    if table.separator and (swallowed := _swallowed(cells, table.separator, width)) is not None:
                        last = table.position()
                        report.rejected.append(RowIssue(line, table.header[swallowed], (
                            f"a quote opened in this value is never closed: lines {line}-{last} were read as one row "
                            f"and lines {line + 1}-{last} were not read; close or remove the quote")))  # fmt: skip
                        continue
                    record = self._record(line, _Row(index, cells), table, report)
                    if record is None:
                        continue
                    contract_id = record.contract.id
                    earlier = seen_contracts.setdefault(contract_id, line)
                    if earlier != line:
                        report.rejected.append(RowIssue(line, self._column("contrat"), (
                            f"contract {contract_id!r} is already on line {earlier} with other values; "
                            "keep one line per contract")))  # fmt: skip
                        continue
                    report.accepted += 1
                    yield record
                return
            except csv.Error as e:
                self._flawed(table.recover(e), table.header)

    def _flawed(self, flaw: RowFlaw, header: Sequence[str]) -> None:
        """A row that could not be read as values: rejected under the header's name of the value at fault."""
        column = header[min(flaw.column, len(header) - 1)] if header else ""
        self.report.rejected.append(RowIssue(flaw.line, column, flaw.reason))
        self.report.rejected_by_adviser[""] = self.report.rejected_by_adviser.get("", 0) + 1
        self._foreign += flaw.kind == "encoding"

    def _index(self, table: Table, report: ReadReport) -> dict[str, int]:
        """Field name -> column position; raises PortfolioError naming every required column missing."""
        positions: dict[str, int] = {}
        for i, cell in enumerate(table.header):
            positions.setdefault(_key(cell), i)
        index: dict[str, int] = {}
        missing: list[str] = []
        for name, column in self.settings.columns.model_dump().items():
            if (at := positions.get(_key(column))) is not None:
                index[name] = at
            elif name in REQUIRED:
                missing.append(f"{column!r} ({name})" if column != name else repr(column))
            else:
                report.missing_columns.append(column)
        if missing:
            raise PortfolioError(self._missing(table, missing))
        return index

    def _missing(self, table: Table, missing: list[str]) -> str:
        """The message for required columns not found. The first line may be a client's row (an export without
        its header): its cells are quoted only when it is clearly a header, and never one that looks like an
        email, a phone, a date or a number."""
        where = f"{'line' if table.separator else 'row'} {table.header_line}"
        columns = self.settings.columns.model_dump()
        expected = {_key(c) for c in columns.values()}
        cells = [c for c in table.header if c.strip()]
        named = sum(_key(c) in expected for c in cells)
        if named < min(2, len(cells)):
            required = ", ".join(repr(columns[n]) for n in REQUIRED)
            return (f"{self.path}: {where} holds {'none' if not named else 'only one'} of the expected column "
                    f"names (required: {required}): is the header line missing? The first line must name the "
                    "columns; name them in [portfolio.columns] of the settings if they differ.")  # fmt: skip
        shown = [repr(c) for c in table.header if not _looks_like_data(c)]
        hidden = len(table.header) - len(shown)
        note = f" ({hidden} cell(s) not shown: they look like client data, not column names)" if hidden else ""
        return (f"{self.path}: required column(s) {', '.join(missing)} not found in the header ({where}). "
                f"Columns found: {', '.join(shown)}{note}. Name them in [portfolio.columns] of the settings if "
                "they differ.")  # fmt: skip

    def _record(self, line: int, row: _Row, table: Table, report: ReadReport) -> Record | None:
        """The row as a record, or None once its rejection is reported; warnings are added on the way."""

        def reject(name: str, reason: str) -> None:
            report.rejected.append(RowIssue(line, self._column(name), reason))
            adviser = row["conseiller"].lower()
            key = adviser if adviser in self.advisers else ""
            report.rejected_by_adviser[key] = report.rejected_by_adviser.get(key, 0) + 1

        width = len(table.header)
        if len(row.cells) > width and any(row.cells[width:]):
            reject("client_id", f"the row has {len(row.cells)} values for {width} columns: is a separator inside "
                                "an unquoted value?" if table.separator else
                                f"the row has values past the header's {width} columns")  # fmt: skip
            return None
        adviser, type_text = row["conseiller"].lower(), row["type"]
        try:
            client_id = f.parse_client_id(row["client_id"])
        except f.BadValue as e:
            reject("client_id", str(e))
            return None
        if not adviser:
            reject("conseiller", "missing")
            return None
        try:
            contract_id = f.parse_contract_id(row["contrat"])
        except f.BadValue as e:
            reject("contrat", str(e))
            return None
        if adviser not in self.advisers:
            reject("conseiller", self._unknown_adviser(adviser, row))
            return None
        contract_type = ContractType.parse(type_text)
        if contract_type is None:
            what = repr(type_text) if _quotable(type_text, row) else f.shape(type_text)
            reject("type", f"{what} is not a contract type ({_TYPE_NAMES})" if type_text else "missing")
            return None
        try:
            effect = f.parse_date(row["date_effet"])
        except f.BadValue as e:
            reject("date_effet", str(e))
            return None
        client = self._client(line, row, client_id, report)
        status = row["statut"]
        folded_status = fold(status)
        contract = Contract(
            id=contract_id,
            client_id=client_id,
            adviser=adviser,
            type=contract_type,
            effect_date=effect,
            product=" ".join(row["produit"].split()),
            status=status,
            cancelled=bool(folded_status) and folded_status.startswith(self.cancelled),
            premium=self._optional(line, "prime_annuelle", row, f.parse_amount, report),
            guarantees=f.split_list(row["garanties"], self.settings.list_separator),
            claims=f.split_list(row["sinistres"], self.settings.list_separator),
            questions=f.split_list(row["questions"], self.settings.list_separator),
            line=line,
        )
        return Record(client, contract)

    def _unknown_adviser(self, adviser: str, row: _Row) -> str:
        """The adviser is quoted when it is an address at the advisers' own domain (a colleague who left, a
        typo), never when it may be the client's (a row shifted by one column)."""
        domain = adviser.rpartition("@")[2]
        if domain in self.domains and _quotable(adviser, row, email=True):
            return f"adviser {adviser!r} is not in the settings' [[advisers]]"
        return f"the adviser ({f.shape(adviser)}, not shown) is not in the settings' [[advisers]]"

    def _client(self, line: int, row: _Row, client_id: str, report: ReadReport) -> Client:
        postal_code = self._optional(line, "code_postal", row, f.parse_postal_code, report) or ""
        try:
            opted_out = f.parse_flag(row["opposition"])
        except f.BadValue as e:
            opted_out = True  # an opt-out we cannot read is honoured: calling someone who refused is worse
            report.warnings.append(RowIssue(line, self._column("opposition"), f"{e}; treated as an opt-out"))
        last_name = f.parse_name(row["nom"])
        if not last_name:
            report.warnings.append(RowIssue(line, self._column("nom"), (
                "missing: the brief, the email and any letter name the client by first name or client id only; "
                "fill it in the agency's tool")))  # fmt: skip
        return Client(
            id=client_id,
            civility=f.parse_civility(row["civilite"]),
            last_name=last_name,
            first_name=f.parse_name(row["prenom"]),
            email=self._optional(line, "email", row, f.parse_email, report) or "",
            phone=self._optional(line, "telephone", row, lambda t: f.parse_phone(t, postal_code), report) or "",
            street=" ".join(row["adresse"].split()),
            postal_code=postal_code,
            city=" ".join(row["ville"].split()),
            vip=bool(self._optional(line, "vip", row, f.parse_flag, report)),
            opted_out=opted_out,
        )

    def _optional(self, line: int, name: str, row: _Row, parse: Callable[[str], T], report: ReadReport) -> T | None:
        """The parsed value of an optional field; None when empty or bad (a bad one adds a warning)."""
        text = row[name]
        if not text:
            return None
        try:
            return parse(text)
        except f.BadValue as e:
            report.warnings.append(RowIssue(line, self._column(name), f"{e}; value ignored"))
            return None

    def _column(self, name: str) -> str:
        """Issues name the field by the column the user knows."""
        return str(getattr(self.settings.columns, name))


def _relevant(raw: str, relevant: Callable[[date], bool]) -> bool:
    """Rows with an unreadable date are read in full, so that their rejection is reported."""
    try:
        return relevant(f.parse_date(raw))
    except f.BadValue:
        return True


def _swallowed(cells: Sequence[str], separator: str, width: int) -> int | None:
    """The index of a value that holds whole rows: an unclosed quote took the lines after it."""
    threshold = max(2, width // 2)
    for i, cell in enumerate(cells):
        if "\n" in cell or "\r" in cell:
            following = cell.splitlines()[1:]
            if any(line.count(separator) >= threshold for line in following):
                return i
    return None


def _note_optout(value: str, client_id: str, report: ReadReport) -> None:
    try:
        client_id = f.parse_client_id(client_id)  # a row with a bad id makes no record: its opt-out matches none
    except f.BadValue:
        return
    try:
        if not f.parse_flag(value):
            return
    except f.BadValue:
        pass  # unreadable opt-outs are honoured, as in full validation
    report.opted_out.add(client_id)


def _quotable(value: str, row: _Row, *, email: bool = False) -> bool:
    """Whether a reason may quote ``value``: short, no email (unless ``email``), no run of digits (a phone, a
    postal code), and not one of the row's personal values (a shifted column brings them in)."""
    if not value or len(value) > _QUOTABLE_MAX or ("@" in value and not email):
        return False
    if re.search(r"\d{4}|\d\d[ .-]\d\d", value):
        return False
    folded = fold(value)
    return all(fold(row[name]) != folded for name in _PERSONAL)


def _looks_like_data(cell: str) -> bool:
    """A header cell that may be a client's value: an email, a phone, a date, a number."""
    text = cell.strip()
    if "@" in text or sum(c.isdigit() for c in text) >= 4:
        return True
    try:
        f.parse_date(text)
    except f.BadValue:
        return False
    return True
