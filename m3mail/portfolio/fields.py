"""Parsers for the export's values, as French agency tools write them.

Each parser takes the cell's text and returns the value, or raises ``BadValue`` with a reason that names no
client data (it may be printed or logged): we say what is wrong with an email, never the email itself. A cell
in the wrong column (a row shifted by a missing separator) can hold anyone's name, email or phone, so a reason
quotes a value only when its form is known to be harmless (a date such as ``31/02/2026``); otherwise it shows
the value's ``shape`` (``06 12 34`` -> ``'99 99 99'``).
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import lru_cache

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from m3mail.models import fold


class BadValue(ValueError):
    """A cell whose value cannot be used; ``str()`` is the reason shown to the user."""


_SHAPE_MAX = 24


def shape(text: str) -> str:
    """How a value looks, never what it says: digits as 9, letters as A, other characters kept (control ones
    as ?). ``'F-69002'`` -> ``"'A-99999'"``; a longer value is described by its length alone."""
    text = text.strip()
    if len(text) > _SHAPE_MAX:
        return f"a value of {len(text)} characters"
    return "'" + "".join("9" if c.isdigit() else "A" if c.isalpha() else c if c.isprintable() else "?"
                         for c in text) + "'"  # fmt: skip


_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$")
_FRENCH = re.compile(r"^(\d{1,2})([/.-])(\d{1,2})\2(\d{4})(?: \d{1,2}:\d{2}(?::\d{2})?)?$")
_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"]  # fmt: skip


def parse_date(text: str) -> date:
    """``31/01/2026``, ``31-01-2026``, ``31.01.2026`` or ``2026-01-31`` (a time part is ignored)."""
    text = text.strip()
    if m := _ISO.match(text):
        year, month, day = int(m[1]), int(m[2]), int(m[3])
    elif m := _FRENCH.match(text):
        day, month, year = int(m[1]), int(m[3]), int(m[4])
    else:
        raise BadValue(f"{shape(text)} is not a date (expected DD/MM/YYYY or YYYY-MM-DD)" if text else "missing")
    # past this point the text is date-shaped (digits and the separators above): safe to quote
    if not 1900 <= year <= 2199:
        raise BadValue(f"{text!r}: year {year} is out of range")
    if not 1 <= month <= 12:
        raise BadValue(f"{text!r}: there is no month {month}")
    try:
        return date(year, month, day)
    except ValueError:
        raise BadValue(f"{text!r} does not exist: {_MONTHS[month - 1]} {year} has no day {day}") from None


_AMOUNT_NOISE = re.compile(r"[\s\u00a0\u202f'€]|EUR", re.IGNORECASE)


def parse_amount(text: str) -> Decimal:
    """``1 234,56``, ``1234.56``, ``1.234,56 €`` -> Decimal('1234.56'); negative amounts are refused."""
    compact = _AMOUNT_NOISE.sub("", text)
    if "," in compact and "." in compact:
        decimal_mark = "," if compact.rfind(",") > compact.rfind(".") else "."
        thousands = "." if decimal_mark == "," else ","
        compact = compact.replace(thousands, "").replace(decimal_mark, ".")
    else:
        compact = compact.replace(",", ".")
    try:
        value = Decimal(compact)
    except InvalidOperation:
        raise BadValue(f"{shape(text)} is not an amount like '1 234,56'") from None
    if not value.is_finite() or value < 0:
        raise BadValue(f"{shape(text)} is not a positive amount")
    return value.quantize(Decimal("0.01"))


_TRUE = {"oui", "o", "yes", "y", "1", "true", "vrai", "x", "vip"}
_FALSE = {"", "non", "n", "no", "0", "false", "faux", "-"}
FALSE_SPELLINGS = frozenset(_FALSE | {s.upper() for s in _FALSE} | {s.capitalize() for s in _FALSE})


def parse_flag(text: str) -> bool:
    """oui/non, 1/0, x/empty, vrai/faux, yes/no (any case)."""
    folded = fold(text)
    if folded in _TRUE:
        return True
    if folded in _FALSE:
        return False
    raise BadValue(f"{shape(text)} is not a yes/no value (oui, non, 1, 0, x or empty)")


_CIVILITIES = {
    "m": "M.", "m.": "M.", "mr": "M.", "mr.": "M.", "monsieur": "M.",
    "mme": "Mme", "mme.": "Mme", "madame": "Mme", "mrs": "Mme",
    "mlle": "Mlle", "mlle.": "Mlle", "mademoiselle": "Mlle",
}  # fmt: skip


def parse_civility(text: str) -> str:
    """The usual French forms normalised (Monsieur -> M., Madame -> Mme); anything else kept as written."""
    text = " ".join(text.split())
    return _CIVILITIES.get(fold(text), text)


def parse_name(text: str) -> str:
    """Names keep their accents and inner hyphens; only runs of spaces are collapsed."""
    return " ".join(text.split())


# RFC 5322 dot-atom, ASCII: the local parts email-validator accepts as they are, without normalising them
_DOT_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")


def parse_email(text: str) -> str:
    """A syntactically valid address (no DNS lookup: m3mail runs offline), domain in lower case.

    email-validator decides. Its per-character domain checks cost more than the rest of a row, and a
    portfolio has few distinct domains: a plain ASCII local part is matched here and its domain validated
    once per run; anything else goes through the library whole.
    """
    text = text.strip()
    local, at, domain = text.rpartition("@")
    if at and len(local) <= 64 and len(text) <= 254 and _DOT_ATOM.fullmatch(local):
        return f"{local}@{_valid_domain(domain)}"
    return _validate_email(text)


@lru_cache(maxsize=4096)
def _valid_domain(domain: str) -> str:
    return _validate_email("postmaster@" + domain).rpartition("@")[2]


def _validate_email(text: str) -> str:
    try:
        return validate_email(text, check_deliverability=False).normalized
    except EmailNotValidError as e:
        # the library may quote part of the address ('dupont...'): keep quoted single characters only
        reason = re.sub(r"'[^']{2,}'", "(part of the address)", str(e))
        raise BadValue(f"not a valid email address: {reason}") from None


# French overseas departments and collectivities by postal code prefix: their phone numbering region.
OVERSEAS_REGIONS = {
    "971": "GP", "972": "MQ", "973": "GF", "974": "RE", "975": "PM", "976": "YT",
    "977": "BL", "978": "MF", "986": "WF", "987": "PF", "988": "NC",
}  # fmt: skip
_PHONE_REGIONS = ("FR", *dict.fromkeys(OVERSEAS_REGIONS.values()))
_FRENCH_NATIONAL = re.compile(r"0[1-9](?:[ .-]?\d{2}){4}")


def parse_phone(text: str, postal_code: str = "") -> str:
    """A French (or other) phone number as E.164 (``06 12 34 56 78`` -> ``+33612345678``).

    National numbers are tried as metropolitan first, then as overseas ones (0692... is La Réunion), the
    client's postal code deciding first when it is overseas. A nine-digit number is taken as having lost its
    leading zero in a spreadsheet.
    """
    raw = text.strip()
    first = OVERSEAS_REGIONS.get(postal_code[:3])
    if first is None and _FRENCH_NATIONAL.fullmatch(raw):
        # the common spelling, 06 12 34 56 78: the library still decides, without parsing the text again
        national = re.sub(r"\D", "", raw)[1:]
        if phonenumbers.is_valid_number(phonenumbers.PhoneNumber(country_code=33, national_number=int(national))):
            return "+33" + national
    digits = re.sub(r"\D", "", raw)
    if len(digits) == 9 and raw[:1].isdigit() and digits[0] != "0":
        raw = "0" + digits
    regions = (first, *_PHONE_REGIONS) if first else _PHONE_REGIONS
    for region in regions:
        try:
            number = phonenumbers.parse(raw, region)
        except phonenumbers.NumberParseException:
            break
        if phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        if raw.startswith("+") or raw.startswith("00"):
            break  # an international number: the default region plays no part
    raise BadValue("not a valid phone number")


def parse_postal_code(text: str) -> str:
    """Five digits; a four-digit code lost its leading zero in a spreadsheet (1000 -> 01000)."""
    code = text.strip().replace(" ", "")
    if code.isdigit() and len(code) == 4:
        code = "0" + code
    if not (code.isdigit() and len(code) == 5):
        raise BadValue(f"{shape(text)} is not a French postal code (five digits)")
    return code


def split_list(text: str, separator: str) -> tuple[str, ...]:
    """``Bris de glace | Assistance`` -> ('Bris de glace', 'Assistance'); empty items are dropped."""
    return tuple(item for part in text.split(separator) if (item := part.strip()))


# Client ids go into follow-up ids (M3-<client>-<day>), folder names, log lines and idempotency keys: letters
# and digits as agency CRMs number clients (C10011, 2024-000123, AB/1234, CLI_0042, 12.345), ASCII only, with
# - _ . / inside. No space, control character (a CR/LF breaks a log line, a folder name, a header), quote or
# other punctuation. 64 characters is well past any CRM's numbering and keeps a folder name within bounds.
CLIENT_ID_MAX = 64
_CLIENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")  # no "/": a folder name holds the id as it is
# Contract ids are only shown (brief, record, report): any printable text, up to 128 characters.
CONTRACT_ID_MAX = 128
_CONTROL = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})  # control, format (bidi, zero width), unassigned


def parse_client_id(text: str) -> str:
    """The client id as written, or BadValue saying which character is wrong (the id itself is not quoted)."""
    text = text.strip()
    if not text:
        raise BadValue("missing")
    if len(text) > CLIENT_ID_MAX:
        raise BadValue(f"not a client id: {len(text)} characters long, at most {CLIENT_ID_MAX}")
    if _CLIENT_ID.fullmatch(text):
        return text
    if not (text[0].isascii() and text[0].isalnum()):
        bad, where = text[0], "starts with"
    else:
        bad, where = next(c for c in text if not (c.isascii() and (c.isalnum() or c in "._-"))), "holds"
    raise BadValue(f"not a client id: it {where} {_character(bad)}; a client id holds letters and digits, and "
                   f"- _ . after the first one (up to {CLIENT_ID_MAX} characters)")  # fmt: skip


def parse_contract_id(text: str) -> str:
    """The contract id as written: printable text, without control characters, within CONTRACT_ID_MAX."""
    text = text.strip()
    if not text:
        raise BadValue("missing")
    if len(text) > CONTRACT_ID_MAX:
        raise BadValue(f"not a contract id: {len(text)} characters long, at most {CONTRACT_ID_MAX}")
    if not text.isprintable():  # the fast path: isprintable() is False for NBSP too, which is allowed
        bad = next((c for c in text if unicodedata.category(c) in _CONTROL), None)
        if bad is not None:
            raise BadValue(f"not a contract id: it holds {_character(bad)}")
    return text


def _character(c: str) -> str:
    """A character named for a reason: a single character is no one's data."""
    if c in "\r\n":
        return "a line break"
    if c.isspace():
        return "a space"
    if unicodedata.category(c) in _CONTROL:
        return f"a control character (U+{ord(c):04X})"
    return repr(c)
