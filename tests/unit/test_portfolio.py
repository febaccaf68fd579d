"""PortfolioReader on realistic exports: tests/data/README.md lists each file and the traps it holds.

Every expected value below was worked out by hand from the data files, line by line (header = line 1).
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from m3mail.errors import PortfolioError
from m3mail.models import ContractType
from m3mail.portfolio import PortfolioReader
from m3mail.settings import ColumnSettings, PortfolioSettings

DATA = Path(__file__).resolve().parents[1] / "data"
CP1252 = "export_cp1252_crlf.csv"
BOM_COMMA = "export_utf8_bom_comma.csv"
TAB = "export_utf8_tab.tsv"
RENAMED = "export_renamed_columns.csv"
MISSING = "export_missing_column.csv"
UNCLOSED = "export_unclosed_quote.csv"
XLSX = "export.xlsx"
ADVISERS = ("a.durand@agence.fr", "b.petit@agence.fr")
AGENCY_COLUMNS = ColumnSettings(
    client_id="N° client", contrat="N° contrat", type="Type de contrat", date_effet="Date d'effet",
    code_postal="CP", telephone="Tél. portable",
)  # fmt: skip


def read(name, relevant=None, **settings):
    """The records read from a data file, and the report."""
    reader = PortfolioReader(DATA / name, PortfolioSettings(**settings), ADVISERS)
    records = list(reader.records(relevant))
    return records, reader.report


def pairs(issues):
    return [(i.row, i.field) for i in issues]


def by_contract(records):
    return {r.contract.id: r for r in records}


# ---- cp1252, CRLF, ';' -------------------------------------------------------------------------------------


def test_cp1252_export_report():
    records, report = read(CP1252)
    assert report.description == "CSV, cp1252, separator ';'"
    assert report.accepted == len(records) == 12
    # line 5 repeats line 3; the address on line 14 runs onto line 15, so the next row is line 16
    assert [r.contract.line for r in records] == [2, 3, 4, 6, 7, 10, 12, 13, 14, 17, 18, 19]
    assert report.duplicates == [(5, 3)]
    assert pairs(report.rejected) == [
        (8, "conseiller"),  # c.roux@agence.fr is not an adviser
        (9, "date_effet"),  # 31/02/2026
        (11, "date_effet"),  # 29/02/2027
        (16, "type"),  # "Auto"
        (20, "conseiller"),  # d.martin@agence.fr
    ]
    assert sorted(pairs(report.warnings)) == [
        (12, "email"), (13, "prime_annuelle"), (17, "email"),
        (18, "code_postal"), (18, "opposition"), (18, "telephone"), (18, "vip"),
    ]  # fmt: skip
    assert report.skipped == 0
    assert report.missing_columns == []
    # C003 wrote "oui", C013 an unreadable "?"; C014 is test_an_opt_out_on_a_rejected_row_is_honoured
    assert report.opted_out - {"C014"} == {"C003", "C013"}


def test_cp1252_rejection_reasons():
    _, report = read(CP1252)
    reasons = {(i.row, i.field): i.reason for i in report.rejected}
    assert "February 2026 has no day 31" in reasons[9, "date_effet"]
    assert "February 2027 has no day 29" in reasons[11, "date_effet"]
    assert "'c.roux@agence.fr'" in reasons[8, "conseiller"]
    assert reasons[16, "type"] == "'Auto' is not a contract type (IARD, Santé, Prévoyance, Épargne)"


def test_cp1252_values_are_kept_as_written_and_normalised():
    records = by_contract(read(CP1252)[0])
    helene = records["CT-1001"].client
    assert (helene.civility, helene.last_name, helene.first_name) == ("Mme", "Lefèvre", "Hélène")
    assert helene.email == "helene.lefevre@example.com"
    assert helene.phone == "+33612345678"
    assert [r.contract.id for r in records.values() if r.client.id == "C001"] == ["CT-1001", "CT-1002", "CT-1003"]
    assert records["CT-1001"].contract.premium == Decimal("1234.56")  # "1 234,56"
    assert records["CT-1003"].contract.premium == Decimal("2400.00")  # "2\xa0400,00 €"
    assert isinstance(records["CT-1002"].contract.premium, Decimal)
    assert records["CT-1001"].contract.effect_date == date(2026, 1, 15)
    assert records["CT-6001"].contract.effect_date == date(2028, 2, 29)
    assert records["CT-1003"].contract.type is ContractType.EPARGNE  # "Epargne"
    assert records["CT-3001"].contract.type is ContractType.SANTE  # "SANTE"
    assert records["CT-1001"].contract.guarantees == ("Bris de glace", "Assistance 0 km")
    assert records["CT-1002"].contract.questions == ("Remboursement orthodontie ?",)
    francoise = records["CT-3001"].client
    assert (francoise.first_name, francoise.phone, francoise.opted_out) == ("Françoise", "+33698765432", True)
    dupont = records["CT-2001"]
    assert dupont.contract.status == "Résilié" and dupont.contract.cancelled
    assert not any(r.contract.cancelled for r in records.values() if r is not dupont)
    assert dupont.contract.adviser == "b.petit@agence.fr"  # written B.Petit@Agence.fr
    assert dupont.client.street == "Bât. A ; 5 place Bellecour"  # quoted separator
    assert dupont.client.vip
    etienne = records["CT-1010"]
    assert etienne.contract.line == 14
    assert etienne.client.first_name == "Étienne"
    assert etienne.client.street == "Résidence Les Pins Bât. B, 4 allée des Cèdres"
    assert etienne.contract.claims == ("Bris de glace 2025",)
    assert records["CT-1014"].client.street == "3 rue du Sacré-Cœur"  # œ exists in cp1252, not in latin-1
    assert (records["CT-1012"].client.first_name, records["CT-9001"].client.first_name) == ("Noël", "Zoé")


def test_bad_optional_values_are_dropped_and_the_row_kept():
    records = by_contract(read(CP1252)[0])
    assert records["CT-8001"].client.email == ""  # theo.mercier@@example.com
    assert records["CT-8001"].client.phone == "+33644556677"
    assert records["CT-9001"].contract.premium is None  # "12O,00"
    remi = records["CT-1013"].client  # phone "06 12 34", postal code "F-69002", vip "peut-être", opposition "?"
    assert (remi.phone, remi.postal_code, remi.vip, remi.opted_out) == ("", "", False, True)
    assert remi.city == "Lyon"


# ---- a `relevant` predicate: only relevant rows are validated ------------------------------------------------


def test_rows_skipped_by_the_predicate_still_give_their_opt_outs():
    records, report = read(CP1252, relevant=lambda d: False)
    assert records == [] and report.accepted == 0
    assert report.skipped == 16  # every row with a readable date, the duplicate on line 5 included
    assert pairs(report.rejected) == [(9, "date_effet"), (11, "date_effet")]  # unreadable dates: read in full
    assert report.warnings == [] and report.duplicates == []
    assert report.opted_out == {"C003", "C013", "C014"}  # "oui" line 7, "?" line 18, "oui" line 20


def test_predicate_read_validates_only_relevant_rows():
    records, report = read(CP1252, relevant=lambda d: d.month == 1)
    assert [r.contract.line for r in records] == [2, 3, 6, 12, 17, 18, 19]
    assert report.skipped == 7  # lines 4, 7, 8, 10, 13, 14, 16
    # line 8 (unknown adviser) and 16 (unknown type) are skipped, not rejected; bad dates are still rejected
    assert pairs(report.rejected) == [(9, "date_effet"), (11, "date_effet"), (20, "conseiller")]
    # no (13, "prime_annuelle"): the broken amount is on a row of April
    assert sorted(pairs(report.warnings)) == [
        (12, "email"), (17, "email"), (18, "code_postal"), (18, "opposition"), (18, "telephone"), (18, "vip"),
    ]  # fmt: skip
    assert report.duplicates == [(5, 3)]
    assert {"C003", "C013"} <= report.opted_out  # C003's only row (line 7, February) was skipped


def test_an_opt_out_on_a_rejected_row_is_honoured():
    _, report = read(CP1252)
    assert "C014" in report.opted_out


# ---- same rows, other encodings and separators ----------------------------------------------------------------


def test_same_rows_give_the_same_results_whatever_the_encoding_and_separator():
    bom_records, bom = read(BOM_COMMA)  # UTF-8 with BOM, ',', LF, ISO dates
    tab_records, tab = read(TAB)  # UTF-8, tab, CRLF, DD/MM/YYYY
    assert bom.description == "CSV, utf-8-sig, separator ','"
    assert tab.description == "CSV, utf-8, separator tab"
    assert bom_records == tab_records
    for report in (bom, tab):
        assert report.accepted == 4
        assert pairs(report.rejected) == [(6, "type"), (8, "date_effet")]  # "Assurance-vie"; 30 February
        assert pairs(report.warnings) == [(4, "telephone")]  # "06 1"
        assert report.duplicates == [(5, 2)]
        assert report.opted_out == {"S003"}
        assert report.missing_columns == ["garanties", "sinistres", "questions"]
    records = by_contract(bom_records)
    assert [r.contract.line for r in bom_records] == [2, 3, 4, 7]
    s1 = records["SC-1"]
    assert (s1.client.first_name, s1.client.street) == ("Françoise", "4, place Bellecour")
    assert (s1.contract.premium, s1.contract.effect_date) == (Decimal("1234.56"), date(2026, 1, 15))
    assert records["SC-2"].client.phone == "+262692123456"  # 0692 ... with a Réunion postal code
    assert records["SC-2"].client.last_name == "Léger"
    assert records["SC-3"].contract.cancelled  # "Annulé"
    assert records["SC-5"].contract.type is ContractType.EPARGNE  # "EPARGNE"


# ---- columns ----------------------------------------------------------------------------------------------


def test_renamed_columns_are_read_through_the_mapping_and_named_in_issues():
    records, report = read(RENAMED, columns=AGENCY_COLUMNS)
    assert [(r.contract.line, r.client.id) for r in records] == [(2, "R001"), (4, "R003")]
    assert pairs(report.rejected) == [(3, "Date d'effet"), (5, "Type de contrat")]  # 31/04/2026; "Vie"
    assert pairs(report.warnings) == [(4, "Tél. portable")]
    assert report.missing_columns == ["sinistres", "questions"]
    maelle = records[0]
    assert (maelle.client.civility, maelle.client.first_name) == ("Mme", "Maëlle")  # "Civilité", "Prénom"
    assert (maelle.client.phone, maelle.client.postal_code) == ("+33601020304", "69001")
    assert maelle.contract.effect_date == date(2026, 1, 14)
    assert maelle.contract.premium == Decimal("95.50")
    assert maelle.contract.guarantees == ("Hospitalisation", "Dentaire")


def test_missing_required_column_is_named_with_the_columns_found():
    with pytest.raises(PortfolioError) as caught:
        read(MISSING)
    message = str(caught.value)
    assert "required column(s) 'date_effet' not found" in message
    found = (
        "'client_id', 'civilite', 'nom', 'prenom', 'email', 'telephone', 'adresse', 'code_postal', 'ville', "
        "'conseiller', 'contrat', 'type', 'produit', 'statut', 'prime_annuelle', 'garanties', 'sinistres', "
        "'questions', 'vip', 'opposition'"
    )
    assert f"Columns found: {found}." in message
    assert caught.value.exit_code == 4


def test_every_missing_required_column_is_named_with_its_field():
    with pytest.raises(PortfolioError) as caught:
        read(RENAMED)  # the agency's names, default settings
    message = str(caught.value)
    assert "required column(s) 'client_id', 'contrat', 'type', 'date_effet' not found" in message
    assert "'N° client'" in message and '"Date d\'effet"' in message
    with pytest.raises(PortfolioError, match=r"'Date effet' \(date_effet\) not found"):
        read(MISSING, columns=ColumnSettings(date_effet="Date effet"))


def test_a_stray_quote_that_swallows_rows_is_rejected_with_the_lines_it_took():
    records, report = read(UNCLOSED)
    assert [r.client.id for r in records] == ["U001"]
    assert pairs(report.rejected) == [(3, "questions")]
    assert "lines 3-5 were read as one row" in report.rejected[0].reason
    assert "lines 4-5 were not read" in report.rejected[0].reason


def test_an_unclosed_quote_in_a_large_export_rejects_its_row_and_the_rows_after_are_read(tmp_path):
    """Past the 65,536 characters a value may hold, the stray quote's value stops: its row is rejected with the
    lines it took, and the csv module starts afresh on the next line (it used to stop the whole import)."""
    lines = (DATA / UNCLOSED).read_bytes().split(b"\r\n")  # header, U001, U002 with the stray quote, U003, U004
    big = tmp_path / "big.csv"
    big.write_bytes(b"\r\n".join(lines[:3] + [lines[4].replace(b"U004", b"V%04d" % i) for i in range(2000)]))
    reader = PortfolioReader(big, PortfolioSettings(), ADVISERS)
    records = list(reader.records())
    [issue] = reader.report.rejected
    last = int(re.search(r"lines 3-(\d+) were read as one value", issue.reason)[1])
    assert (issue.row, issue.field) == (3, "questions")
    assert f"lines 4-{last} were not read; close or remove the quote" in issue.reason
    assert [r.contract.line for r in records] == [2, *range(last + 1, 2003 + 1)]


def test_missing_file():
    with pytest.raises(PortfolioError, match="absent.csv: the export file does not exist"):
        read("absent.csv")


# ---- XLSX -------------------------------------------------------------------------------------------------


def test_xlsx_cells_become_the_values_a_csv_would_give():
    records, report = read(XLSX)
    assert report.description == "XLSX, sheet 'Portefeuille', header on row 1"
    assert [r.contract.line for r in records] == [2, 3, 5, 7]  # row 4 is blank: neither issue nor record
    assert pairs(report.rejected) == [(6, "date_effet")]  # text cell "31/02/2026"
    assert pairs(report.warnings) == [(7, "telephone")]  # number 12345
    assert report.duplicates == [] and report.skipped == 0
    x = by_contract(records)
    assert x["CT-X001"].client.phone == "+33612345678"  # number 612345678
    assert x["CT-X001"].client.postal_code == "01000"  # number 1000
    assert x["CT-X001"].client.first_name == "Émilie"
    assert x["CT-X001"].contract.effect_date == date(2026, 1, 15)  # date cell
    assert x["CT-X001"].contract.premium == Decimal("1234.56")  # float cell
    assert x["CT-X002"].contract.effect_date == date(2026, 3, 15)  # text cell "15/03/2026"
    assert x["CT-X002"].contract.premium == Decimal("89.90")  # text "89,90"
    assert x["CT-X003"].contract.effect_date == date(2026, 2, 1)  # datetime cell at 09:30
    assert x["CT-X003"].client.vip and not x["CT-X001"].client.vip  # boolean cells
    assert x["CT-X003"].contract.premium == Decimal("2400.00")  # int cell
    assert x["CT-X003"].client.street == "Résidence du Parc Bât. C"  # Alt+Enter in the cell: row number unmoved


def test_xlsx_sheet_chosen_by_name_keeps_sheet_row_numbers():
    records, report = read(XLSX, sheet="Agence Bourg")  # two empty rows, then the header on row 3
    assert report.description == "XLSX, sheet 'Agence Bourg', header on row 3"
    assert [(r.contract.line, r.client.id) for r in records] == [(4, "Y001")]
    assert records[0].client.postal_code == "01000"
    assert pairs(report.rejected) == [(5, "conseiller")]  # e.blanc@agence.fr
    assert report.opted_out == {"Y001"}


def test_xlsx_unknown_sheet():
    sheets = r"the sheets are \['Portefeuille', 'Agence Bourg'\]"
    with pytest.raises(PortfolioError, match=f"no sheet named 'Résumé'; {sheets}"):
        read(XLSX, sheet="Résumé")


# ---- privacy of reasons ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name, settings, line, field, value", [
    (CP1252, {}, 12, "email", "theo.mercier@@example.com"),
    (CP1252, {}, 18, "telephone", "06 12 34"),
    (BOM_COMMA, {}, 4, "telephone", "06 1"),
    (XLSX, {}, 7, "telephone", "12345"),
    (RENAMED, {"columns": AGENCY_COLUMNS}, 4, "Tél. portable", "06 12"),
    (CP1252, {}, 17, "email", "noel.chevalier@chevalier–famille.example.org"),  # IDNA error quoted the label
])  # fmt: skip
def test_email_and_phone_reasons_never_repeat_the_value(name, settings, line, field, value):
    _, report = read(name, **settings)
    [reason] = [w.reason for w in report.warnings if (w.row, w.field) == (line, field)]
    pieces = [value, *(p for p in re.split(r"[@.\s]+", value) if len(p) >= 4)]
    assert [p for p in pieces if p in reason] == []


# ---- the data files themselves ------------------------------------------------------------------------------


def test_data_files_keep_their_encodings():
    """An editor re-saving a file would silently remove the traps these tests rely on."""
    cp = (DATA / CP1252).read_bytes()
    assert b"H\xe9l\xe8ne" in cp and b"\x96" in cp and b"\x9c" in cp and b"2\xa0400" in cp  # é è – œ NBSP
    with pytest.raises(UnicodeDecodeError):
        cp.decode("utf-8")
    assert cp.count(b"\r\n") == 20 and cp.count(b"\n") == 21  # one bare LF: inside the quoted address
    assert cp.endswith(b"\r\n" + b";" * 20 + b"\r\n")  # line 21: empty cells, as Excel leaves them
    bom = (DATA / BOM_COMMA).read_bytes()
    assert bom.startswith(b"\xef\xbb\xbf") and b"\r" not in bom
    tab = (DATA / TAB).read_bytes()
    assert not tab.startswith(b"\xef\xbb\xbf") and b"\t" in tab and tab.count(b"\n") == tab.count(b"\r\n") == 8
    assert "Françoise" in tab.decode("utf-8")
