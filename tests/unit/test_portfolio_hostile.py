"""Exports as they arrive broken or hostile: each is either refused with a PortfolioError naming the file and
what is wrong, or read with the bad row rejected (line, field, reason) and the other rows kept.

The files are built here, modelled on what the tools write: XLSX parts as Excel lays them out (shared
strings, a <dimension>, relationships), CSV bytes as Excel and older tools encode them.
"""

from __future__ import annotations

import csv
import io
import re
import struct
import zipfile
from datetime import date
from pathlib import Path
from xml.sax.saxutils import escape

import openpyxl
import pytest

from m3mail.errors import PortfolioError
from m3mail.portfolio import PortfolioReader
from m3mail.portfolio import xlsx as xlsx_module
from m3mail.portfolio.csvfile import MAX_FIELD_CHARS
from m3mail.sample import HEADER, sample_export
from m3mail.settings import PortfolioSettings

ADVISERS = ("a.durand@agence.fr", "b.petit@agence.fr")


def read(path: Path, relevant=None, **settings):
    reader = PortfolioReader(path, PortfolioSettings(**settings), ADVISERS)
    return list(reader.records(relevant)), reader.report


def pairs(issues):
    return [(i.row, i.field) for i in issues]


def row(
    client="C001",
    nom="DUPONT",
    prenom="Jean",
    email="jean.dupont@example.com",
    phone="06 12 34 56 78",
    adviser="a.durand@agence.fr",
    contract="CT-1",
    kind="IARD",
    effect="15/01/2026",
    **other: str,
) -> list[str]:
    """A row in the order of m3mail.sample.HEADER (the default columns)."""
    values = dict(
        client_id=client,
        civilite="M.",
        nom=nom,
        prenom=prenom,
        email=email,
        telephone=phone,
        adresse="12 rue des Lilas",
        code_postal="69003",
        ville="Lyon",
        conseiller=adviser,
        contrat=contract,
        type=kind,
        produit="Auto",
        date_effet=effect,
        statut="Actif",
        prime_annuelle="1 234,56",
        garanties="",
        sinistres="",
        questions="",
        vip="non",
        opposition="non",
    )
    values.update(other)
    return [values[h] for h in HEADER]


def csv_text(rows: list[list[str]], header: list[str] = HEADER) -> str:
    out = io.StringIO()
    csv.writer(out, delimiter=";", lineterminator="\r\n").writerows([header, *rows])
    return out.getvalue()


# ---- XLSX as Excel writes it --------------------------------------------------------------------------------

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
DECLARATION = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n'
CONTENT_TYPES = (
    DECLARATION + '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/styles.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
    '<Override PartName="/xl/sharedStrings.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>'
)
RELS = (
    DECLARATION + '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Target="xl/workbook.xml" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"/></Relationships>'
)
WORKBOOK = (
    DECLARATION + f'<workbook xmlns="{MAIN}" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="Feuil1" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
WORKBOOK_RELS = (
    DECLARATION + '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Target="worksheets/sheet1.xml" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet"/>'
    '<Relationship Id="rId2" Target="styles.xml" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles"/>'
    '<Relationship Id="rId3" Target="sharedStrings.xml" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings"/></Relationships>'
)
STYLES = (
    DECLARATION + f'<styleSheet xmlns="{MAIN}"><fonts count="1"><font><sz val="11"/><name val="Calibri"/></font>'
    '</fonts><fills count="1"><fill><patternFill patternType="none"/></fill></fills><borders count="1"><border/>'
    '</borders><cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="14" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>'
)


def column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def excel_parts(rows: list[list[object]], dimension: str = "", extra_cells: str = "") -> dict[str, str]:
    """The parts of a workbook as Excel writes them: text in the shared strings, numbers inline, a dimension.
    ``extra_cells`` is appended to every data row's cells (raw XML, ``{r}`` standing for the row number)."""
    strings: dict[str, int] = {}
    xml_rows = []
    for r, values in enumerate(rows, 1):
        cells = []
        for c, value in enumerate(values):
            ref = f"{column_letter(c)}{r}"
            if value in (None, ""):
                continue
            if isinstance(value, int | float):
                cells.append(f'<c r="{ref}"><v>{value}</v></c>')
            else:
                index = strings.setdefault(str(value), len(strings))
                cells.append(f'<c r="{ref}" t="s"><v>{index}</v></c>')
        tail = extra_cells.format(r=r) if r > 1 else ""
        xml_rows.append(f'<row r="{r}" spans="1:{len(values)}">{"".join(cells)}{tail}</row>')
    dimension = dimension or f"A1:{column_letter(max(len(v) for v in rows) - 1)}{len(rows)}"
    sheet = (DECLARATION + f'<worksheet xmlns="{MAIN}"><dimension ref="{dimension}"/>'
             '<sheetViews><sheetView workbookViewId="0"/></sheetViews><sheetFormatPr defaultRowHeight="15"/>'
             f'<sheetData>{"".join(xml_rows)}</sheetData></worksheet>')  # fmt: skip
    shared = (DECLARATION + f'<sst xmlns="{MAIN}" count="{len(strings)}" uniqueCount="{len(strings)}">'
              + "".join(f"<si><t>{escape(s)}</t></si>" for s in strings) + "</sst>")  # fmt: skip
    return {"[Content_Types].xml": CONTENT_TYPES, "_rels/.rels": RELS, "xl/workbook.xml": WORKBOOK,
            "xl/_rels/workbook.xml.rels": WORKBOOK_RELS, "xl/styles.xml": STYLES,
            "xl/worksheets/sheet1.xml": sheet, "xl/sharedStrings.xml": shared}  # fmt: skip


def write_zip(path: Path, parts: dict[str, str | bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in parts.items():
            z.writestr(name, data)
    return path


def sheet_rows(n: int) -> list[list[object]]:
    return [HEADER] + [row(client=f"C{i:04d}", contract=f"CT-{i}", email=f"client{i}@example.com")
                       for i in range(n)]  # fmt: skip


def test_an_excel_like_workbook_is_read(tmp_path):
    """The writer below is sound: what it writes, the reader reads (rows, numbers, shared strings)."""
    path = write_zip(tmp_path / "export.xlsx", excel_parts(sheet_rows(3)))
    records, report = read(path)
    assert [(r.contract.line, r.client.id, r.client.email) for r in records] == [
        (2, "C0000", "client0@example.com"),
        (3, "C0001", "client1@example.com"),
        (4, "C0002", "client2@example.com"),
    ]
    assert report.description == "XLSX, sheet 'Feuil1', header on row 1"


# ---- 1. XLSX that openpyxl cannot read: a PortfolioError naming the file, never a traceback --------------------


def test_a_truncated_xlsx_is_a_portfolio_error(tmp_path):
    good = write_zip(tmp_path / "good.xlsx", excel_parts(sheet_rows(50))).read_bytes()
    for cut in (len(good) // 2, len(good) - 10, 100):
        path = tmp_path / f"cut{cut}.xlsx"
        path.write_bytes(good[:cut])  # a download that stopped: the zip's directory, at its end, is gone
        with pytest.raises(PortfolioError, match=rf"^{re.escape(str(path))}: not a readable XLSX file \(not a zip"):
            read(path)


def test_files_that_are_no_xlsx_are_portfolio_errors(tmp_path):
    csv_named_xlsx = tmp_path / "csv.xlsx"
    csv_named_xlsx.write_text(csv_text([row()]), encoding="utf-8")
    with pytest.raises(PortfolioError, match="csv.xlsx: not a readable XLSX file .not a zip archive"):
        read(csv_named_xlsx)
    ole = tmp_path / "protected.xlsx"  # what Excel writes for a workbook saved with a password (and .xls files)
    ole.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504))
    with pytest.raises(PortfolioError, match="protected.xlsx: .*password-protected workbook, or an .xls"):
        read(ole)
    empty = tmp_path / "empty.xlsx"
    empty.write_bytes(b"")
    with pytest.raises(PortfolioError, match="empty.xlsx: not a readable XLSX file"):
        read(empty)


def test_a_zip_that_is_not_a_workbook_is_a_portfolio_error(tmp_path):
    path = write_zip(tmp_path / "archive.xlsx", {"export.csv": csv_text([row()])})
    with pytest.raises(PortfolioError, match=r"archive.xlsx: not a readable XLSX file \(a part is missing: There is "
                                             r"no item named '\[Content_Types\].xml' in the archive\)"):  # fmt: skip
        read(path)


@pytest.mark.parametrize("part, damage", [
    ("xl/sharedStrings.xml", lambda x: x[: len(x) // 2]),  # cut short
    ("xl/sharedStrings.xml", lambda x: x.replace("<si>", "<si><si>", 1)),
    ("xl/workbook.xml", lambda x: x.replace("<sheets>", "<sheets")),
    ("xl/styles.xml", lambda x: x.replace("</fonts>", "")),
    ("[Content_Types].xml", lambda x: x[:-10]),
    ("xl/worksheets/sheet1.xml", lambda x: x[:200]),  # cut inside the sheet's head: the dimension is read at open
])  # fmt: skip
def test_malformed_xml_parts_are_portfolio_errors(tmp_path, part, damage):
    parts = excel_parts(sheet_rows(5))
    parts[part] = damage(parts[part])
    path = write_zip(tmp_path / "damaged.xlsx", parts)
    with pytest.raises(PortfolioError, match=r"damaged.xlsx: not a readable XLSX file .*(malformed XML|openpyxl)"):
        read(path)


def test_a_sheet_malformed_half_way_stops_with_the_row_reached(tmp_path):
    parts = excel_parts(sheet_rows(300))
    sheet = parts["xl/worksheets/sheet1.xml"]
    parts["xl/worksheets/sheet1.xml"] = sheet[: sheet.index('<row r="201"')] + '<row r="201"><c r="A201" t="s">'
    path = write_zip(tmp_path / "half.xlsx", parts)
    with pytest.raises(PortfolioError, match=r"half.xlsx: not a readable XLSX file past row 200 \(malformed XML"):
        read(path)


def test_damaged_compressed_data_in_the_middle_of_the_sheet_is_a_portfolio_error(tmp_path):
    """A byte changed in the deflated sheet: zlib.error, a CRC mismatch (BadZipFile) or XML gone wrong, mid-way."""
    path = write_zip(tmp_path / "flipped.xlsx", excel_parts(sheet_rows(2000)))
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as z:
        info = z.getinfo("xl/worksheets/sheet1.xml")
    name_len, extra_len = struct.unpack("<HH", data[info.header_offset + 26 : info.header_offset + 30])
    start = info.header_offset + 30 + name_len + extra_len
    for k in range(8):
        data[start + info.compress_size // 2 + k] ^= 0x55
    path.write_bytes(bytes(data))
    with pytest.raises(PortfolioError, match=r"flipped.xlsx: not a readable XLSX file past row \d+ \("):
        read(path)


def test_openpyxl_errors_quoting_a_cell_are_not_repeated(tmp_path):
    """A number cell holding an address: openpyxl's ValueError quotes it ("could not convert string to float")."""
    parts = excel_parts(sheet_rows(3))
    sheet = parts["xl/worksheets/sheet1.xml"]
    number_cell = '<c r="V3"><v>jean.secret@example.com</v></c>'
    parts["xl/worksheets/sheet1.xml"] = sheet.replace(
        '<row r="3" spans="1:21">', '<row r="3" spans="1:21">' + number_cell
    )
    path = write_zip(tmp_path / "cast.xlsx", parts)
    with pytest.raises(PortfolioError) as caught:
        read(path)
    assert "past row 2 (content openpyxl cannot read: ValueError)" in str(caught.value)
    assert "secret" not in str(caught.value)


def test_a_shared_string_index_out_of_range_is_a_portfolio_error(tmp_path):
    parts = excel_parts(sheet_rows(3))
    parts["xl/worksheets/sheet1.xml"] = parts["xl/worksheets/sheet1.xml"].replace(
        '<c r="A3" t="s"><v>', '<c r="A3" t="s"><v>9999'
    )
    with pytest.raises(PortfolioError, match=r"not a readable XLSX file past row 2 \(content openpyxl cannot read: "
                                             r"IndexError\)"):  # fmt: skip
        read(write_zip(tmp_path / "index.xlsx", parts))


def test_a_workbook_written_by_openpyxl_then_cut_in_its_sheet_is_a_portfolio_error(tmp_path):
    """openpyxl's own output (inline strings, no shared strings), its sheet cut short in a rebuilt zip."""
    book = openpyxl.Workbook()
    sheet = book.active
    for values in sheet_rows(100):
        sheet.append(values)
    book.save(tmp_path / "openpyxl.xlsx")
    with zipfile.ZipFile(tmp_path / "openpyxl.xlsx") as z:
        parts = {n: z.read(n) for n in z.namelist()}
    parts["xl/worksheets/sheet1.xml"] = parts["xl/worksheets/sheet1.xml"][:-3000]
    with pytest.raises(PortfolioError, match=r"cut.xlsx: not a readable XLSX file past row \d+ \(malformed XML"):
        read(write_zip(tmp_path / "cut.xlsx", parts))


# ---- 2. bounded XLSX ----------------------------------------------------------------------------------------


def test_a_lying_dimension_costs_the_real_cells_only(tmp_path, monkeypatch):
    """<dimension ref="A1:XFD1048576"/> made read-only mode pad every row to 16,384 cells; A1:B2 hid the rest."""
    converted = []
    real = xlsx_module._cell_text
    monkeypatch.setattr(xlsx_module, "_cell_text", lambda v: converted.append(v) or real(v))
    for dimension in ("A1:XFD1048576", "A1:B2"):
        converted.clear()
        path = write_zip(tmp_path / "dimension.xlsx", excel_parts(sheet_rows(500), dimension=dimension))
        records, report = read(path)
        assert len(records) == 500 and report.rejected == []
        assert len(converted) <= 501 * len(HEADER)


def test_empty_cells_far_right_cost_nothing_and_a_value_there_rejects_its_row(tmp_path, monkeypatch):
    """A tool that leaves a formatted empty cell at XFD on every row; one row with a value there."""
    converted = []
    real = xlsx_module._cell_text
    monkeypatch.setattr(xlsx_module, "_cell_text", lambda v: converted.append(v) or real(v))
    parts = excel_parts(sheet_rows(200), extra_cells='<c r="XFD{r}" s="1"/>')
    parts["xl/worksheets/sheet1.xml"] = parts["xl/worksheets/sheet1.xml"].replace(
        '<c r="XFD5" s="1"/>', '<c r="XFD5"><v>1</v></c>'
    )
    records, report = read(write_zip(tmp_path / "far.xlsx", parts))
    assert len(records) == 199
    assert [(i.row, i.field, i.reason) for i in report.rejected] == [
        (5, "client_id", "the row has values past the header's 21 columns")
    ]
    assert len(converted) <= 201 * len(HEADER) + 16_384  # the one row with a value far right is looked at


def test_a_row_number_past_excels_last_row_stops_the_reading(tmp_path):
    parts = excel_parts(sheet_rows(3))
    parts["xl/worksheets/sheet1.xml"] = parts["xl/worksheets/sheet1.xml"].replace('<row r="4"', '<row r="99999999"')
    with pytest.raises(PortfolioError, match=r"its rows go past row 1,048,576, the last one Excel has"):
        read(write_zip(tmp_path / "far-row.xlsx", parts))


def test_a_shared_strings_bomb_is_refused_before_openpyxl_reads_it(tmp_path):
    """A 24 MB shared strings part in a file of a few tens of KB (what made openpyxl take gigabytes)."""
    parts = excel_parts(sheet_rows(3))
    parts["xl/sharedStrings.xml"] = (DECLARATION + f'<sst xmlns="{MAIN}">' + "<si><t>a</t></si>" * 1_500_000
                                     + "</sst>")  # fmt: skip
    path = write_zip(tmp_path / "bomb.xlsx", parts)
    assert path.stat().st_size < 200_000
    with pytest.raises(PortfolioError, match=r"bomb.xlsx: refused: its part xl/sharedStrings.xml expands [\d,]+ times "
                                             r"\(to 24 MiB\), more than the 100:1 that marks a zip bomb"):  # fmt: skip
        read(path)


def test_shared_strings_over_the_limit_are_refused_with_the_limit(tmp_path, monkeypatch):
    assert xlsx_module.MAX_SHARED_STRINGS == 128 << 20
    monkeypatch.setattr(xlsx_module, "LIMITS", xlsx_module.ZipLimits(shared_strings=1 << 20))
    rows = sheet_rows(3)  # two long texts of numbers: 1.3 MiB that compress about 3 times, as text does
    rows[1][HEADER.index("questions")] = " ".join(str(i * 7919 % 1_000_003) for i in range(100_000))
    rows[2][HEADER.index("questions")] = " ".join(str(i * 7907 % 1_000_033) for i in range(100_000))
    path = write_zip(tmp_path / "big.xlsx", excel_parts(rows))
    with pytest.raises(PortfolioError, match=r"big.xlsx: refused: its shared strings \(xl/sharedStrings.xml\) "
                                             r"expand to \d MiB, over the 1 MiB m3mail reads"):  # fmt: skip
        read(path)


def test_members_past_the_total_or_part_limit_are_refused(tmp_path, monkeypatch):
    path = write_zip(tmp_path / "parts.xlsx", excel_parts(sheet_rows(50)))
    monkeypatch.setattr(xlsx_module, "LIMITS", xlsx_module.ZipLimits(part=800))
    with pytest.raises(PortfolioError, match=r"parts.xlsx: refused: its part \S+ expands to 1 KiB, over the 1 KiB a "
                                             r"workbook part may hold"):  # fmt: skip
        read(path)
    monkeypatch.setattr(xlsx_module, "LIMITS", xlsx_module.ZipLimits(total=20_000))
    with pytest.raises(PortfolioError, match=r"parts.xlsx: refused: its contents expand to \d+ KiB, over the 20 KiB "
                                             r"m3mail reads from one workbook"):  # fmt: skip
        read(path)


def central_entry(data: bytes, name: str) -> int:
    """The offset of ``name``'s entry in the zip's central directory (APPNOTE 4.3.12: 46 fixed bytes, then the
    name; the uncompressed size at offset 24)."""
    at = data.index(b"PK\x01\x02")
    while True:
        name_len, extra_len, comment_len = struct.unpack("<HHH", data[at + 28 : at + 34])
        if data[at + 46 : at + 46 + name_len] == name.encode():
            return at
        at += 46 + name_len + extra_len + comment_len


def test_a_part_whose_data_exceeds_its_declared_size_fails_its_crc(tmp_path):
    """The zip says styles.xml is 600 bytes; its data inflates to more. zipfile stops at the declared size and
    the CRC (of the whole data) no longer matches: refused before openpyxl reads it whole."""
    parts = excel_parts(sheet_rows(3))
    parts["xl/styles.xml"] = STYLES.replace("</styleSheet>", "<!--" + "x" * 50_000 + "--></styleSheet>")
    path = write_zip(tmp_path / "liar.xlsx", parts)
    data = bytearray(path.read_bytes())
    entry = central_entry(bytes(data), "xl/styles.xml")
    with zipfile.ZipFile(path) as z:
        assert struct.unpack("<I", data[entry + 24 : entry + 28])[0] == z.getinfo("xl/styles.xml").file_size
    data[entry + 24 : entry + 28] = struct.pack("<I", 600)
    path.write_bytes(bytes(data))
    with pytest.raises(PortfolioError, match=r"liar.xlsx: not a readable XLSX file \(not a zip archive, or a damaged "
                                             r"one: Bad CRC-32 for file 'xl/styles.xml'\)"):  # fmt: skip
        read(path)


def test_a_sheet_cell_over_the_value_limit_rejects_its_row(tmp_path):
    rows = sheet_rows(3)
    rows[2][HEADER.index("questions")] = "z" * (MAX_FIELD_CHARS + 1)
    records, report = read(write_zip(tmp_path / "long.xlsx", excel_parts(rows)))
    assert [r.client.id for r in records] == ["C0000", "C0002"]
    assert [(i.row, i.field) for i in report.rejected] == [(3, "questions")]
    assert "over the 65,536 characters a value may hold" in report.rejected[0].reason


# ---- 3. a CSV value over the limit: its row rejected, the others read ------------------------------------------


def write_csv(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def test_a_value_over_the_limit_rejects_its_row_and_the_next_rows_are_read(tmp_path):
    limit_before = csv.field_size_limit()
    rows = [
        row(client="C1", contract="CT-1"),
        row(client="C2", contract="CT-2", questions="x" * 200_000),
        row(client="C3", contract="CT-3"),
        row(client="C4", contract="CT-4", questions="y" * MAX_FIELD_CHARS),
    ]
    records, report = read(write_csv(tmp_path / "long.csv", csv_text(rows)))
    assert [(r.contract.line, r.client.id) for r in records] == [(2, "C1"), (4, "C3"), (5, "C4")]
    assert [(i.row, i.field, i.reason) for i in report.rejected] == [(3, "questions", (
        "a value of the row is over the 65,536 characters a value may hold (no export's value is that long: a "
        "document pasted in a cell?); the row is not read"))]  # fmt: skip
    assert records[2].contract.questions == ("y" * MAX_FIELD_CHARS,)  # exactly the limit: read (Modules/_csv.c)
    assert csv.field_size_limit() == limit_before  # the module's limit is put back


def test_a_long_quoted_value_over_several_lines_is_skipped_to_its_end(tmp_path):
    letter = "\n".join(["Bonjour, je vous écris au sujet de mon contrat. " * 40] * 50)  # ~100 KB of prose
    rows = [
        row(client="C1", contract="CT-1"),
        row(client="C2", contract="CT-2", questions=letter),
        row(client="C3", contract="CT-3"),
    ]
    records, report = read(write_csv(tmp_path / "letter.csv", csv_text(rows)))
    assert [(r.contract.line, r.client.id) for r in records] == [(2, "C1"), (53, "C3")]
    assert pairs(report.rejected) == [(3, "questions")]
    assert "(lines 3-52)" in report.rejected[0].reason


def test_a_huge_unterminated_quote_at_the_end_says_so(tmp_path):
    text = csv_text([row(client="C1", contract="CT-1")]) + 'C2;M.;"Martin\n' + "et encore du texte\n" * 5000
    records, report = read(write_csv(tmp_path / "open.csv", text))
    assert [r.client.id for r in records] == ["C1"]
    [issue] = report.rejected
    assert (issue.row, issue.field) == (3, "nom")
    assert issue.reason == (
        "a quote opened in this value on line 3 is never closed: lines 3-5003 (the end of the "
        "file) were read as one value and are not read; close or remove the quote"
    )


def test_a_nul_character_rejects_its_row_only(tmp_path):
    """Python 3.11's csv module reads a NUL as any character (older ones raised "line contains NUL", which the
    reader also survives): the row is rejected either way, never read with a NUL in a name."""
    text = csv_text(
        [
            row(client="C1", contract="CT-1"),
            row(client="C2", contract="CT-2", nom="DU\x00PONT"),
            row(client="C3", contract="CT-3"),
        ]
    )
    records, report = read(write_csv(tmp_path / "nul.csv", text))
    assert [r.client.id for r in records] == ["C1", "C3"]
    assert [(i.row, i.field) for i in report.rejected] == [(3, "nom")]
    assert "NUL character" in report.rejected[0].reason


def test_a_header_with_nul_characters_is_a_portfolio_error(tmp_path):
    with pytest.raises(PortfolioError, match="nul.csv: the header line holds NUL characters"):
        read(write_csv(tmp_path / "nul.csv", "client_id\x00;nom\r\nC1;X\r\n"))
    with pytest.raises(PortfolioError, match="utf16.csv: the header line holds NUL characters .* UTF-16 saved without"):
        read(write_csv(tmp_path / "utf16.csv", csv_text([row()]), "utf-16-le"))  # UTF-16 without its BOM


# ---- 4. mixed encodings: the file's is its majority's, the other lines rejected ---------------------------------


def names(records):
    return [(r.contract.line, r.client.last_name, r.client.first_name) for r in records]


def mixed(rows: list[list[str]], encodings: list[str], bom: bool = False) -> bytes:
    """Each row (after the header, written in the first encoding) in its own encoding."""
    lines = csv_text(rows).split("\r\n")
    data = [lines[0].encode(encodings[0])] + [ln.encode(e) for ln, e in zip(lines[1:], encodings, strict=False)]
    return (b"\xef\xbb\xbf" if bom else b"") + b"\r\n".join(data) + b"\r\n"


HELENE = [row(client=f"C{i}", contract=f"CT-{i}", nom="LEFÈVRE", prenom="Hélène") for i in range(1, 6)]


def test_a_cp1252_file_with_a_utf8_line_rejects_that_line(tmp_path):
    path = tmp_path / "mixed.csv"
    path.write_bytes(mixed(HELENE, ["cp1252", "cp1252", "utf-8", "cp1252", "cp1252"]))
    records, report = read(path)
    assert names(records) == [(n, "LEFÈVRE", "Hélène") for n in (2, 3, 5, 6)]  # never "LEFÃˆVRE"
    assert pairs(report.rejected) == [(4, "nom")]
    assert "line 4 is UTF-8 while this file is cp1252" in report.rejected[0].reason
    assert report.description == ("CSV, cp1252 (1 of its 5 non-ASCII lines are UTF-8), separator ';'; 1 row(s) in "
                                  "another encoding rejected")  # fmt: skip


def test_a_utf8_file_with_cp1252_lines_rejects_them(tmp_path):
    path = tmp_path / "mixed.csv"
    path.write_bytes(mixed(HELENE, ["utf-8", "cp1252", "utf-8", "utf-8", "cp1252"]))
    records, report = read(path)
    assert names(records) == [(n, "LEFÈVRE", "Hélène") for n in (2, 4, 5)]
    assert pairs(report.rejected) == [(3, "nom"), (6, "nom")]
    assert all("is not valid UTF-8, the encoding of this file (most of its lines)" in i.reason
               for i in report.rejected)  # fmt: skip
    assert report.description.startswith("CSV, utf-8 (2 of its 5 non-ASCII lines are cp1252)")


def test_a_file_with_a_utf8_bom_and_cp1252_lines_rejects_them(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes(mixed(HELENE, ["utf-8", "utf-8", "cp1252", "utf-8", "utf-8"], bom=True))
    records, report = read(path)
    assert names(records) == [(n, "LEFÈVRE", "Hélène") for n in (2, 3, 5, 6)]
    assert pairs(report.rejected) == [(4, "nom")]
    assert "(its byte order mark says so)" in report.rejected[0].reason
    assert report.description == "CSV, utf-8-sig, separator ';'; 1 row(s) in another encoding rejected"


def test_a_header_in_the_other_encoding_still_names_its_columns(tmp_path):
    header = [("Prénom" if h == "prenom" else h) for h in HEADER]
    lines = csv_text(HELENE[:3], header).split("\r\n")
    path = tmp_path / "header.csv"
    path.write_bytes(b"\r\n".join([lines[0].encode("cp1252")] + [ln.encode("utf-8") for ln in lines[1:]]))
    records, report = read(path, columns={"prenom": "Prénom"})
    assert names(records) == [(n, "LEFÈVRE", "Hélène") for n in (2, 3, 4)]
    assert report.rejected == []


def test_a_foreign_line_inside_a_quoted_value_rejects_its_record(tmp_path):
    rows = [
        HELENE[0],
        row(client="C9", contract="CT-9", nom="LEFÈVRE", adresse="Bât. A\nRésidence du Parc"),
        row(client="C10", contract="CT-10"),
    ]
    lines = csv_text(rows).encode("cp1252").split(b"\n")  # the address's LF splits the record's two lines
    lines[3] = lines[3].decode("cp1252").encode("utf-8")  # its second line pasted from a UTF-8 tool
    path = tmp_path / "quoted.csv"
    path.write_bytes(b"\n".join(lines))
    records, report = read(path)
    assert [(r.contract.line, r.client.id) for r in records] == [(2, "C1"), (5, "C10")]
    assert [(i.row, i.field) for i in report.rejected] == [(3, "nom")]
    assert "line 4 is UTF-8" in report.rejected[0].reason


def test_a_cp1252_header_after_a_utf8_bom_still_names_its_columns(tmp_path):
    header = [("Prénom" if h == "prenom" else h) for h in HEADER]
    lines = csv_text(HELENE[:2], header).split("\r\n")
    path = tmp_path / "header.csv"
    path.write_bytes(b"\xef\xbb\xbf" + b"\r\n".join([lines[0].encode("cp1252")] + [ln.encode() for ln in lines[1:]]))
    records, report = read(path, columns={"prenom": "Prénom"})
    assert names(records) == [(2, "LEFÈVRE", "Hélène"), (3, "LEFÈVRE", "Hélène")]


def test_a_utf8_header_on_a_cp1252_file_still_names_its_columns(tmp_path):
    header = [("Prénom" if h == "prenom" else h) for h in HEADER]
    lines = csv_text(HELENE[:3], header).split("\r\n")
    path = tmp_path / "header.csv"
    path.write_bytes(b"\r\n".join([lines[0].encode("utf-8")] + [ln.encode("cp1252") for ln in lines[1:]]))
    records, report = read(path, columns={"prenom": "Prénom"})
    assert names(records) == [(n, "LEFÈVRE", "Hélène") for n in (2, 3, 4)]
    assert report.description.startswith("CSV, cp1252 (1 of its 4 non-ASCII lines are UTF-8)")


def test_wholly_utf8_and_cp1252_files_read_as_before(tmp_path):
    for encoding, described in (("utf-8", "utf-8"), ("cp1252", "cp1252"), ("utf-8-sig", "utf-8-sig")):
        path = write_csv(tmp_path / f"{encoding}.csv", csv_text(HELENE), encoding)
        records, report = read(path)
        assert names(records) == [(n, "LEFÈVRE", "Hélène") for n in range(2, 7)]
        assert report.description == f"CSV, {described}, separator ';'" and report.rejected == []


def test_skipped_rows_in_another_encoding_are_not_reported(tmp_path):
    """Rows the day does not need are not validated (README: "not relevant today"): nor checked for encoding."""
    path = tmp_path / "mixed.csv"
    path.write_bytes(mixed(HELENE, ["utf-8", "cp1252", "utf-8", "utf-8", "utf-8"]))
    records, report = read(path, relevant=lambda d: False)
    assert records == [] and report.rejected == [] and report.skipped == 5


# ---- 5. ids: what an id may hold -------------------------------------------------------------------------------


@pytest.mark.parametrize("client_id, reason", [
    ("C001\r\nX", "it holds a line break"),
    ("C 001", "it holds a space"),
    ("C\t001", "it holds a space"),
    ("C\x07001", "it holds a control character (U+0007)"),
    ("C\u202e100", "it holds a control character (U+202E)"),  # a right-to-left override: log lines lie
    ("../../etc", "it starts with '.'"),
    ("C<001>", "it holds '<'"),
    ("Éric01", "it starts with 'É'"),
    ("C" * 65, "65 characters long, at most 64"),
])  # fmt: skip
def test_a_bad_client_id_rejects_its_row(tmp_path, client_id, reason):
    rows = [row(client=client_id, contract="CT-1"), row(client="C2", contract="CT-2")]
    records, report = read(write_csv(tmp_path / "ids.csv", csv_text(rows)))
    assert [r.client.id for r in records] == ["C2"]
    [issue] = report.rejected
    assert (issue.row, issue.field) == (2, "client_id")
    assert issue.reason.startswith(f"not a client id: {reason}")
    assert report.opted_out == set()


@pytest.mark.parametrize("client_id", ["C10011", "2024-000123", "AB-1234", "CLI_0042", "12.345", "c-1"])
def test_client_ids_as_crms_write_them_are_kept(tmp_path, client_id):
    records, report = read(write_csv(tmp_path / "ids.csv", csv_text([row(client=client_id)])))
    assert [r.client.id for r in records] == [client_id] and report.rejected == []


def test_a_contract_id_with_a_control_character_rejects_its_row(tmp_path):
    rows = [
        row(contract="CT\x1b[31m1"),
        row(client="C2", contract="CT-2\u200b"),
        row(client="C3", contract="AU/2024 1"),
    ]
    records, report = read(write_csv(tmp_path / "contracts.csv", csv_text(rows)))
    assert [r.contract.id for r in records] == ["AU/2024 1"]
    assert [(i.row, i.field, i.reason) for i in report.rejected] == [
        (2, "contrat", "not a contract id: it holds a control character (U+001B)"),
        (3, "contrat", "not a contract id: it holds a control character (U+200B)"),
    ]


# ---- 6. no header line: never quote what may be a client's row ---------------------------------------------------


def test_an_export_without_its_header_line_quotes_none_of_its_first_row(tmp_path):
    sample = sample_export(date(2026, 11, 25)).split("\r\n")
    path = tmp_path / "no-header.csv"
    path.write_text("\r\n".join(sample[1:]), encoding="utf-8-sig")
    with pytest.raises(PortfolioError) as caught:
        read(path)
    message = str(caught.value)
    assert "line 1 holds none of the expected column names" in message
    assert "is the header line missing?" in message
    first = dict(zip(HEADER, sample[1].split(";"), strict=True))
    for name in ("client_id", "nom", "prenom", "email", "telephone", "adresse", "code_postal", "ville", "contrat"):
        assert not first[name] or first[name] not in message, name
    xlsx = write_zip(tmp_path / "no-header.xlsx", excel_parts([line.split(";") for line in sample[1:20]]))
    with pytest.raises(PortfolioError, match=r"row 1 holds none of the expected column names"):
        read(xlsx)


def test_a_header_with_cells_that_look_like_data_does_not_quote_them(tmp_path):
    header = ["client_id", "nom", "jean.dupont@example.com", "06 12 34 56 78", "15/01/2026", "Ville"]
    path = write_csv(tmp_path / "odd.csv", ";".join(header) + "\r\nC1;DUPONT;x;y;z;Lyon\r\n")
    with pytest.raises(PortfolioError) as caught:
        read(path)
    message = str(caught.value)
    assert "Columns found: 'client_id', 'nom', 'Ville' (3 cell(s) not shown: they look like client data" in message
    assert "dupont@" not in message and "56 78" not in message and "2026" not in message


# ---- 7. reasons never quote a client's name, email, phone or address ---------------------------------------------


PRIVATE = {"nom": "DUPONTEL", "prenom": "Jeanne", "email": "jeanne.dupontel@example.com",
           "telephone": "06 12 34 56 78", "adresse": "12 rue des Lilas", "ville": "Villeurbanne"}  # fmt: skip
BAD_ROWS = [
    dict(email="jeanne.dupontel@@example.com"),
    dict(telephone="06 12 34"),
    dict(code_postal="F-69002"),
    dict(prime_annuelle="06.12.34.56.78"),  # a phone in the amount's column
    dict(vip="DUPONTEL"), dict(opposition="Jeanne"),
    dict(date_effet="jeanne.dupontel@example.com"), dict(date_effet="06 12 34 56 78"), dict(date_effet="Villeurbanne"),
    dict(type="DUPONTEL"), dict(type="06 12 34 56 78"), dict(type="12 rue des Lilas"),
    dict(conseiller="jeanne.dupontel@example.com"),  # the client's email where the adviser's should be
    dict(client_id="jeanne.dupontel@example.com"), dict(client_id="DUPONTEL Jeanne"),
    dict(contrat="CT-1\x07jeanne.dupontel@example.com"),
]  # fmt: skip


def test_no_reason_or_warning_quotes_a_clients_value(tmp_path):
    rows = []
    for n, bad in enumerate(BAD_ROWS):
        values = dict(zip(HEADER, row(client=f"C{n}", contract=f"CT-{n}"), strict=True)) | PRIVATE | bad
        rows.append([values[h] for h in HEADER])
    shifted = dict(zip(HEADER, row(client="C99", contract="CT-99"), strict=True)) | PRIVATE
    rows.append([shifted[h] for h in HEADER if h != "civilite"])  # a row missing one separator: all shifted
    records, report = read(write_csv(tmp_path / "private.csv", csv_text(rows)))
    issues = report.rejected + report.warnings
    assert len(issues) >= len(BAD_ROWS)
    private = set(PRIVATE.values()) | {v for bad in BAD_ROWS for v in bad.values()}
    pieces = {p for v in private for p in re.split(r"[@.\s\x07-]+", v) if len(p) >= 4} | private
    quoted = sorted({(i.row, i.field, p) for i in issues for p in pieces if p in i.reason})
    assert quoted == []


def test_safe_values_are_still_quoted(tmp_path):
    rows = [
        row(kind="Auto"),
        row(client="C2", contract="CT-2", adviser="c.roux@agence.fr"),
        row(client="C3", contract="CT-3", effect="31/02/2026"),
        row(client="C4", contract="CT-4", effect="demain"),
    ]
    _, report = read(write_csv(tmp_path / "safe.csv", csv_text(rows)))
    assert [i.reason for i in report.rejected] == [
        "'Auto' is not a contract type (IARD, Santé, Prévoyance, Épargne)",
        "adviser 'c.roux@agence.fr' is not in the settings' [[advisers]]",
        "'31/02/2026' does not exist: February 2026 has no day 31",
        "'AAAAAA' is not a date (expected DD/MM/YYYY or YYYY-MM-DD)",
    ]


# ---- 8. an empty name --------------------------------------------------------------------------------------------


def test_a_row_without_a_name_is_kept_with_a_warning(tmp_path):
    records, report = read(write_csv(tmp_path / "noname.csv", csv_text([row(nom="", prenom="")])))
    assert [(r.client.id, r.client.last_name, r.client.display_name) for r in records] == [("C001", "", "")]
    assert [(i.row, i.field) for i in report.warnings] == [(2, "nom")]
    assert report.warnings[0].reason.startswith("missing")
