"""Parsers of the export's cells: dates, amounts, phones, emails, flags, civilities, postal codes, lists.

Expected values are written by hand. A reason for a bad email or phone must never repeat the client's data.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from m3mail.portfolio.fields import (
    BadValue,
    parse_amount,
    parse_civility,
    parse_client_id,
    parse_contract_id,
    parse_date,
    parse_email,
    parse_flag,
    parse_phone,
    parse_postal_code,
    shape,
    split_list,
)

# --- parse_date ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    pytest.param("31/01/2026", date(2026, 1, 31), id="dd/mm/yyyy"),
    pytest.param("1/2/2026", date(2026, 2, 1), id="d/m/yyyy"),
    pytest.param("31-01-2026", date(2026, 1, 31), id="dashes"),
    pytest.param("31.01.2026", date(2026, 1, 31), id="dots"),
    pytest.param("  31/01/2026 ", date(2026, 1, 31), id="surrounding-spaces"),
    pytest.param("31/01/2026 10:30", date(2026, 1, 31), id="french-with-time"),
    pytest.param("2026-01-31", date(2026, 1, 31), id="iso"),
    pytest.param("2026-1-5", date(2026, 1, 5), id="iso-short"),
    pytest.param("2026-01-31T10:30:00", date(2026, 1, 31), id="iso-T-time"),
    pytest.param("2026-01-31 10:30", date(2026, 1, 31), id="iso-space-time"),
    pytest.param("2026-01-31 10:30:00.123", date(2026, 1, 31), id="iso-fractional-seconds"),
    pytest.param("29/02/2028", date(2028, 2, 29), id="leap-day"),
    pytest.param("29/02/2000", date(2000, 2, 29), id="leap-day-2000"),
])  # fmt: skip
def test_parse_date(text, expected):
    assert parse_date(text) == expected


@pytest.mark.parametrize(("text", "reason"), [
    pytest.param("31/02/2026", "February 2026 has no day 31", id="31-february"),
    pytest.param("29/02/2027", "February 2027 has no day 29", id="29-february-common-year"),
    pytest.param("29/02/1900", "February 1900 has no day 29", id="29-february-1900"),
    pytest.param("2026-02-30", "February 2026 has no day 30", id="iso-30-february"),
    pytest.param("31/04/2026", "April 2026 has no day 31", id="31-april"),
    pytest.param("00/01/2026", "January 2026 has no day 0", id="day-zero"),
    pytest.param("15/13/2026", "there is no month 13", id="month-13"),
    pytest.param("01/01/1850", "year 1850 is out of range", id="year-too-old"),
    pytest.param("", "missing", id="empty"),
    pytest.param("demain", "is not a date", id="word"),
    pytest.param("31/01/26", "is not a date", id="two-digit-year"),
    pytest.param("2026/01/31", "is not a date", id="iso-with-slashes"),
    pytest.param("31/01-2026", "is not a date", id="mixed-separators"),
    pytest.param("31012026", "is not a date", id="no-separators"),
])  # fmt: skip
def test_parse_date_rejects(text, reason):
    with pytest.raises(BadValue, match=reason):
        parse_date(text)


# --- parse_amount -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    pytest.param("1 234,56", "1234.56", id="french-space-comma"),
    pytest.param("1\u00a0234,56", "1234.56", id="nbsp-U+00A0"),
    pytest.param("1\u202f234,56", "1234.56", id="narrow-nbsp-U+202F"),
    pytest.param("1.234,56 €", "1234.56", id="dot-thousands-euro-sign"),
    pytest.param("1234.56", "1234.56", id="plain-dot"),
    pytest.param("1,234.56", "1234.56", id="english-comma-thousands"),
    pytest.param("1 234 567,8", "1234567.80", id="millions"),
    pytest.param("12", "12.00", id="integer"),
    pytest.param("0", "0.00", id="zero"),
    pytest.param("12 EUR", "12.00", id="EUR-suffix"),
    pytest.param("1'234.50", "1234.50", id="swiss-apostrophe"),
])  # fmt: skip
def test_parse_amount(text, expected):
    value = parse_amount(text)
    assert value == Decimal(expected)
    assert str(value) == expected  # always two decimals


@pytest.mark.parametrize(("text", "reason"), [
    pytest.param("abc", "is not an amount", id="word"),
    pytest.param("", "is not an amount", id="empty"),
    pytest.param("12,34,56", "is not an amount", id="two-commas"),
    pytest.param("-12", "is not a positive amount", id="negative"),
    pytest.param("-1 234,56", "is not a positive amount", id="negative-french"),
    pytest.param("NaN", "is not a positive amount", id="nan"),
])  # fmt: skip
def test_parse_amount_rejects(text, reason):
    with pytest.raises(BadValue, match=reason):
        parse_amount(text)


# --- parse_phone ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "postal_code", "expected"), [
    pytest.param("06 12 34 56 78", "", "+33612345678", id="mobile-spaced"),
    pytest.param("06.12.34.56.78", "", "+33612345678", id="mobile-dots"),
    pytest.param("06-12-34-56-78", "", "+33612345678", id="mobile-dashes"),
    pytest.param("0612345678", "", "+33612345678", id="mobile-compact"),
    pytest.param("(06) 12 34 56 78", "", "+33612345678", id="mobile-parentheses"),
    pytest.param("+33 6 12 34 56 78", "", "+33612345678", id="mobile-plus33"),
    pytest.param("+33 (0)6 12 34 56 78", "", "+33612345678", id="mobile-plus33-(0)"),
    pytest.param("0033612345678", "", "+33612345678", id="mobile-0033"),
    pytest.param("07 56 12 34 56", "", "+33756123456", id="mobile-07"),
    pytest.param("01 42 68 53 00", "", "+33142685300", id="landline-paris"),
    pytest.param("0033 1 42 68 53 00", "", "+33142685300", id="landline-0033"),
    pytest.param("09 70 12 34 56", "", "+33970123456", id="landline-09"),
    pytest.param("612345678", "", "+33612345678", id="9-digits-mobile-lost-zero"),
    pytest.param("6 12 34 56 78", "", "+33612345678", id="9-digits-spaced-lost-zero"),
    pytest.param("142685300", "", "+33142685300", id="9-digits-landline-lost-zero"),
    pytest.param("0692 12 34 56", "", "+262692123456", id="reunion-mobile"),
    pytest.param("0692 12 34 56", "97400", "+262692123456", id="reunion-mobile-with-postal-code"),
    pytest.param("692123456", "", "+262692123456", id="reunion-mobile-lost-zero"),
    pytest.param("0262 21 34 56", "97400", "+262262213456", id="reunion-landline"),
    pytest.param("0590 12 34 56", "97100", "+590590123456", id="guadeloupe-landline"),
    pytest.param("+262 692 12 34 56", "", "+262692123456", id="reunion-international"),
    pytest.param("+32 470 12 34 56", "", "+32470123456", id="belgium-mobile"),
    pytest.param("0032 470 12 34 56", "", "+32470123456", id="belgium-0032"),
    pytest.param("+41 44 668 18 00", "", "+41446681800", id="switzerland"),
    pytest.param("06 12 34 56 78", "97400", "+33612345678", id="metropolitan-mobile-overseas-client"),
])  # fmt: skip
def test_parse_phone(text, postal_code, expected):
    assert parse_phone(text, postal_code) == expected


BAD_PHONES = [
    pytest.param("12345", id="too-short"),
    pytest.param("06 12 34 56 7", id="nine-digits-with-zero"),
    pytest.param("06 12 34 56 78 9", id="eleven-digits"),
    pytest.param("07 12 34 56 78", id="unallocated-07-12"),
    pytest.param("+33 1 23", id="international-too-short"),
    pytest.param("+999 12345", id="unknown-country"),
    pytest.param("00 00 00 00 00", id="zeros"),
    pytest.param("abc", id="letters"),
    pytest.param("", id="empty"),
]


@pytest.mark.parametrize("text", BAD_PHONES)
def test_parse_phone_rejects_without_echoing_the_number(text):
    with pytest.raises(BadValue) as caught:
        parse_phone(text)
    reason = str(caught.value)
    assert reason == "not a valid phone number"
    assert not text or text not in reason


# --- parse_email ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    pytest.param("jean.dupont@example.fr", "jean.dupont@example.fr", id="plain"),
    pytest.param(" jean.dupont@example.fr ", "jean.dupont@example.fr", id="surrounding-spaces"),
    pytest.param("Jean.Dupont@EXAMPLE.FR", "Jean.Dupont@example.fr", id="domain-lowered-local-kept"),
    pytest.param("jean+m3@example.co.uk", "jean+m3@example.co.uk", id="plus-and-subdomain"),
    pytest.param("jéan@exàmple.fr", "jéan@exàmple.fr", id="international"),
])  # fmt: skip
def test_parse_email(text, expected):
    assert parse_email(text) == expected


BAD_EMAILS = [
    pytest.param("jean.dupont.example.fr", id="no-at"),
    pytest.param("jean.dupont@@example.fr", id="two-ats"),
    pytest.param("@example.fr", id="nothing-before-at"),
    pytest.param("jean.dupont@", id="nothing-after-at"),
    pytest.param("jean.dupont@example", id="no-dot-in-domain"),
    pytest.param("jean dupont@example.fr", id="space-in-local-part"),
    pytest.param("jean.dupont@exa mple.fr", id="space-in-domain"),
    pytest.param("jean..dupont@example.fr", id="double-dot"),
    pytest.param("jean.dupont@example.fr.", id="trailing-dot"),
    pytest.param("jean.dupont@-example.fr", id="hyphen-after-at"),
    pytest.param("jean.dupont@example.fr,", id="trailing-comma"),
    pytest.param("jean.dupont@example.fr;paul.martin@example.fr", id="two-addresses"),
    pytest.param("jean.dupont<x>@example.fr", id="angle-brackets"),
    pytest.param("jean.dupont@example.invalid", id="reserved-tld"),
    pytest.param("jean.dupont@ex_ample.fr", id="underscore-in-domain"),
    pytest.param("jean.dupont@xn--zz.fr", id="bad-punycode"),
]


@pytest.mark.parametrize("text", BAD_EMAILS)
def test_parse_email_rejects_without_echoing_the_address(text):
    with pytest.raises(BadValue) as caught:
        parse_email(text)
    reason = str(caught.value)
    assert reason.startswith("not a valid email address")
    assert text not in reason
    assert "dupont" not in reason.lower()  # not even the local part or a piece of it


def test_parse_email_reason_never_quotes_a_decoded_domain_label():
    # xn--dupont-nx54e is the Punycode of "dupont💩": the emoji is not allowed in a domain name
    with pytest.raises(BadValue) as caught:
        parse_email("jean@xn--dupont-nx54e.fr")
    assert "dupont" not in str(caught.value)


# --- parse_flag, parse_civility, parse_postal_code, split_list -----------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    *[pytest.param(t, True, id=f"true-{t}") for t in ["oui", "OUI", "Oui", "o", "1", "x", "X", "vrai", "Vrai",
                                                       "yes", "Y", "true", "VIP", " oui "]],
    *[pytest.param(t, False, id=f"false-{t!r}") for t in ["", "   ", "non", "NON", "n", "0", "faux", "Faux", "-",
                                                           "no", "false"]],
])  # fmt: skip
def test_parse_flag(text, expected):
    assert parse_flag(text) is expected


@pytest.mark.parametrize("text", ["peut-être", "2", "oui!", "ouinon"])
def test_parse_flag_rejects(text):
    with pytest.raises(BadValue, match="is not a yes/no value"):
        parse_flag(text)


@pytest.mark.parametrize(("text", "expected"), [
    pytest.param("Monsieur", "M.", id="monsieur"),
    pytest.param("M", "M.", id="M"),
    pytest.param("m.", "M.", id="m."),
    pytest.param("MR", "M.", id="MR"),
    pytest.param("Madame", "Mme", id="madame"),
    pytest.param(" MME ", "Mme", id="MME-spaces"),
    pytest.param("Mrs", "Mme", id="mrs"),
    pytest.param("Mademoiselle", "Mlle", id="mademoiselle"),
    pytest.param("Mlle.", "Mlle", id="mlle."),
    pytest.param("Dr", "Dr", id="unknown-kept"),
    pytest.param("  Maître   et  Madame ", "Maître et Madame", id="unknown-spaces-collapsed"),
    pytest.param("", "", id="empty"),
])  # fmt: skip
def test_parse_civility(text, expected):
    assert parse_civility(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    pytest.param("75001", "75001", id="five-digits"),
    pytest.param("1000", "01000", id="four-digits-lost-zero"),
    pytest.param("06000", "06000", id="leading-zero-kept"),
    pytest.param("75 001", "75001", id="inner-space"),
    pytest.param(" 97400 ", "97400", id="overseas-spaces"),
])  # fmt: skip
def test_parse_postal_code(text, expected):
    assert parse_postal_code(text) == expected


@pytest.mark.parametrize("text", ["123", "750011", "75O01", "2A004", "", "abcde"])
def test_parse_postal_code_rejects(text):
    with pytest.raises(BadValue, match="is not a French postal code"):
        parse_postal_code(text)


@pytest.mark.parametrize(("text", "separator", "expected"), [
    pytest.param("Bris de glace | Assistance", "|", ("Bris de glace", "Assistance"), id="pipe"),
    pytest.param(" a ;; b ; ", ";", ("a", "b"), id="empty-items-dropped"),
    pytest.param("seul", "|", ("seul",), id="single"),
    pytest.param("", "|", (), id="empty"),
    pytest.param("a|b", ",", ("a|b",), id="other-separator-untouched"),
])  # fmt: skip
def test_split_list(text, separator, expected):
    assert split_list(text, separator) == expected


# --- reasons show a value's shape, never the value -----------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    pytest.param("06 12 34", "'99 99 99'", id="phone"),
    pytest.param("F-69002", "'A-99999'", id="postal-code"),
    pytest.param("Hélène", "'AAAAAA'", id="accented-name"),
    pytest.param("a\tb", "'A?A'", id="control-character"),
    pytest.param("jean.dupont@example.com", "'AAAA.AAAAAA@AAAAAAA.AAA'", id="email"),
    pytest.param("x" * 25, "a value of 25 characters", id="long"),
])  # fmt: skip
def test_shape(text, expected):
    assert shape(text) == expected


@pytest.mark.parametrize(("parse", "text", "reason"), [
    pytest.param(parse_date, "06 12 34 56 78", "'99 99 99 99 99' is not a date", id="date-phone"),
    pytest.param(parse_date, "Dupont", "'AAAAAA' is not a date", id="date-name"),
    pytest.param(parse_amount, "06.12.34.56.78", "'99.99.99.99.99' is not an amount", id="amount-phone"),
    pytest.param(parse_amount, "-12", "'-99' is not a positive amount", id="amount-negative"),
    pytest.param(parse_flag, "Dupont", "'AAAAAA' is not a yes/no value", id="flag-name"),
    pytest.param(parse_postal_code, "Villeurbanne", "'AAAAAAAAAAAA' is not a French postal code", id="postal-city"),
])  # fmt: skip
def test_reasons_show_the_shape_of_a_value_never_the_value(parse, text, reason):
    with pytest.raises(BadValue) as caught:
        parse(text)
    assert str(caught.value).startswith(reason)
    assert text not in str(caught.value)


def test_a_date_shaped_value_is_quoted():
    with pytest.raises(BadValue, match=r"^'31/02/2026' does not exist: February 2026 has no day 31$"):
        parse_date("31/02/2026")


# --- parse_client_id, parse_contract_id -----------------------------------------------------------------------


@pytest.mark.parametrize("text", ["C10011", "2024-000123", "AB-1234", "CLI_0042", "12.345", "7", "x" * 64])
def test_parse_client_id(text):
    assert parse_client_id(f" {text} ") == text


@pytest.mark.parametrize(("text", "reason"), [
    pytest.param("", "missing", id="empty"),
    pytest.param("C\n1", "it holds a line break", id="LF"),
    pytest.param("C\r1", "it holds a line break", id="CR"),
    pytest.param("C 1", "it holds a space", id="space"),
    pytest.param("C\u00a01", "it holds a space", id="NBSP"),
    pytest.param("C\x001", "it holds a control character (U+0000)", id="NUL"),
    pytest.param("C\u200b1", "it holds a control character (U+200B)", id="zero-width-space"),
    pytest.param("-C1", "it starts with '-'", id="leading-dash"),
    pytest.param("/etc", "it starts with '/'", id="leading-slash"),
    pytest.param("AB/1234", "it holds '/'", id="slash"),
    pytest.param("C;1", "it holds ';'", id="semicolon"),
    pytest.param("C\\1", "it holds '\\\\'", id="backslash"),
    pytest.param("Zoé1", "it holds 'é'", id="accent"),
    pytest.param("x" * 65, "65 characters long, at most 64", id="too-long"),
])  # fmt: skip
def test_parse_client_id_rejects(text, reason):
    with pytest.raises(BadValue) as caught:
        parse_client_id(text)
    assert reason in str(caught.value)


@pytest.mark.parametrize("text", ["CT-1001", "AU/2024/000123", "Contrat n° 12", "12\u00a0345"])
def test_parse_contract_id(text):
    assert parse_contract_id(text) == text


@pytest.mark.parametrize(("text", "reason"), [
    pytest.param("", "missing", id="empty"),
    pytest.param("CT\n1", "a line break", id="LF"),
    pytest.param("CT\x1b[0m", "a control character (U+001B)", id="escape"),
    pytest.param("CT\u202e1", "a control character (U+202E)", id="bidi-override"),
    pytest.param("C" * 129, "129 characters long, at most 128", id="too-long"),
])  # fmt: skip
def test_parse_contract_id_rejects(text, reason):
    with pytest.raises(BadValue) as caught:
        parse_contract_id(text)
    assert reason in str(caught.value)
