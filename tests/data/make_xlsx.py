"""Regenerate export.xlsx (run from anywhere: ``python tests/data/make_xlsx.py``).

Sheet "Portefeuille" holds what spreadsheets do to an export: real date cells, a phone and a postal code
stored as numbers (their leading 0 lost), a date typed as text, a blank row in the middle, a line
break inside a cell (Alt+Enter). Sheet "Agence Bourg" starts with two empty rows (its header is on row 3)
and is read with PortfolioSettings(sheet=...).
"""

from datetime import date, datetime
from pathlib import Path

import openpyxl

HEADER = ["client_id", "civilite", "nom", "prenom", "email", "telephone", "adresse", "code_postal", "ville",
          "conseiller", "contrat", "type", "produit", "date_effet", "statut", "prime_annuelle", "garanties",
          "sinistres", "questions", "vip", "opposition"]  # fmt: skip
FIRST = {
    2: ["X001", "Mme", "Bonnet", "Émilie", "emilie.bonnet@example.com", 612345678, "2 rue Bichat", 1000,
        "Bourg-en-Bresse", "a.durand@agence.fr", "CT-X001", "IARD", "Auto Confort", date(2026, 1, 15), "Actif",
        1234.56, "Bris de glace | Assistance", None, None, False, "non"],
    3: ["X002", "M.", "Roux", "Gaël", "gael.roux@example.org", "04 74 22 33 44", "8 avenue Alsace-Lorraine", "01000",
        "Bourg-en-Bresse", "b.petit@agence.fr", "CT-X002", "Santé", "Santé Famille", "15/03/2026", "Actif",
        "89,90", None, None, None, "non", "non"],
    # row 4 left blank
    5: ["X003", "Mme", "Garnier", "Chloé", "chloe.garnier@example.com", "06 98 76 54 32", "Résidence du Parc\nBât. C",
        "01000", "Bourg-en-Bresse", "a.durand@agence.fr", "CT-X003", "Prévoyance", "Prévoyance Pro",
        datetime(2026, 2, 1, 9, 30), "Actif", 2400, None, None, None, True, "non"],
    6: ["X004", "M.", "Faure", "Bruno", "bruno.faure@example.org", "06 33 44 55 66", "3 rue Gambetta", "01000",
        "Bourg-en-Bresse", "b.petit@agence.fr", "CT-X004", "IARD", "Habitation", "31/02/2026", "Actif",
        300, None, None, None, "non", "non"],
    7: ["X005", "Mme", "Morel", "Anaïs", "anais.morel@example.com", 12345, "9 rue Teynière", "01000",
        "Bourg-en-Bresse", "b.petit@agence.fr", "CT-X005", "Épargne", "Épargne Plus", date(2026, 4, 10), "Actif",
        1500, None, None, None, "non", "non"],
}  # fmt: skip
SECOND = {  # header on row 3
    4: ["Y001", "M.", "Perret", "Loïc", "loic.perret@example.com", "04 74 11 22 33", "5 rue Lalande", 1000,
        "Bourg-en-Bresse", "b.petit@agence.fr", "CT-Y001", "IARD", "Auto", date(2026, 5, 4), "Actif",
        700, None, None, None, "non", "oui"],
    5: ["Y002", "Mme", "Vidal", "Océane", "oceane.vidal@example.org", "06 21 43 65 87", "12 rue Bourgmayer", 1000,
        "Bourg-en-Bresse", "e.blanc@agence.fr", "CT-Y002", "Santé", "Santé Senior", date(2026, 5, 5), "Actif",
        900, None, None, None, "non", "non"],
}  # fmt: skip


def fill(ws, header_row: int, rows: dict[int, list]) -> None:
    for col, name in enumerate(HEADER, 1):
        ws.cell(header_row, col, name)
    for r, values in rows.items():
        for col, value in enumerate(values, 1):
            if value is not None:
                ws.cell(r, col, value)


def main() -> None:
    book = openpyxl.Workbook()
    first = book.active
    first.title = "Portefeuille"
    fill(first, 1, FIRST)
    fill(book.create_sheet("Agence Bourg"), 3, SECOND)
    book.properties.creator = "m3mail tests"
    book.properties.created = book.properties.modified = datetime(2026, 1, 1)
    book.save(Path(__file__).with_name("export.xlsx"))


if __name__ == "__main__":
    main()
