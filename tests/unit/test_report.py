"""The report: ``result_of``, the CSV (header, totals, BOM, atomic write) and the HTML page (well formed,
self-contained, escaped, the chart's bars and legend, no client data beyond ids).

Statuses and follow-ups are built by hand; every expected count below is counted by hand from them.
"""

from __future__ import annotations

import csv
import re
import stat
import xml.etree.ElementTree as ET
from datetime import date, datetime, timedelta
from html.parser import HTMLParser

import pytest

from m3mail.models import Client, Contract, ContractType, FollowUp, Outcome, State
from m3mail.report.csv_out import COLUMNS, write_csv
from m3mail.report.html import HEADERS, RESULTS, nice_ticks, render_html, result_of, write_html
from m3mail.report.status import AdviserStatus

NOW = datetime(2026, 11, 25, 14, 5)
AT = datetime(2026, 11, 20, 10, 0)
AGENCY = "Agence Durand & Fils"
# What a client's snapshot carries and the report must never show.
SECRETS = ("MARTINEZ", "Solène", "solene.martinez@exemple.fr", "+33612345678", "12 rue des Lilas", "Quimper",
           "Hospitalisation", "Mutuelle Confort", "traitement en cours")  # fmt: skip


def d(iso: str) -> date:
    return date.fromisoformat(iso)


def fu(id: str = "F1", state: State = State.DONE, due: str = "2026-11-18", adviser: str = "a@agence.fr",
       **changes) -> FollowUp:  # fmt: skip
    client = Client(id=f"C-{id}", civility="Mme", last_name="Martinez", first_name="Solène",
                    email="solene.martinez@exemple.fr", phone="+33612345678", street="12 rue des Lilas",
                    postal_code="29000", city="Quimper")  # fmt: skip
    contract = Contract(id=f"K-{id}", client_id=client.id, adviser=adviser, type=ContractType.SANTE,
                        effect_date=d(due) - timedelta(days=92), product="Mutuelle Confort",
                        guarantees=("Hospitalisation",))  # fmt: skip
    day = d(due)
    return FollowUp(id=id, client=client, adviser=adviser, contracts=(contract,), due_date=day,
                    window_start=day - timedelta(days=7), window_end=day + timedelta(days=21), priority=1,
                    created_at=datetime(2026, 11, 2, 8, 0), state=state, notes="traitement en cours",
                    **changes)  # fmt: skip


def status(adviser: str = "a@agence.fr", done: dict[str, int] | None = None, **counts: int) -> AdviserStatus:
    s = AdviserStatus(adviser, **counts)
    s.done.update(done or {})
    return s


# --- result_of ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("follow_up", "expected"), [
    pytest.param(fu(state=State.PLANNED), "En cours", id="planned"),
    pytest.param(fu(state=State.BOOKED, attempts=(AT,), call_at=AT), "En cours", id="booked"),
    pytest.param(fu(state=State.UNREACHED, attempts=(AT,)), "En cours", id="unreached"),
    pytest.param(fu(state=State.EMAILED, emailed_at=AT), "En cours", id="emailed-waiting"),
    pytest.param(fu(outcome=Outcome.SATISFAIT, call_at=AT), "Satisfait", id="satisfait"),
    pytest.param(fu(outcome=Outcome.BESOIN, call_at=AT), "Besoin", id="besoin"),
    pytest.param(fu(outcome=Outcome.QUESTION, call_at=AT), "Question", id="question"),
    pytest.param(fu(outcome=Outcome.CHANGEMENT, call_at=AT), "Changement", id="changement"),
    pytest.param(fu(outcome=Outcome.RECLAMATION, call_at=AT), "Réclamation", id="reclamation"),
    pytest.param(fu(emailed_at=AT, replied_at=AT + timedelta(days=1)), "Réponse reçue", id="replied"),
    pytest.param(fu(emailed_at=AT), "E-mail sans réponse", id="no-reply"),
    pytest.param(fu(letter_at=AT), "Courrier", id="letter"),
    pytest.param(fu(emailed_at=AT, bounced_at=AT, letter_at=AT + timedelta(days=1)), "Courrier",
                 id="bounced-then-letter"),
    pytest.param(fu(state=State.MISSED), "Manqué", id="missed"),
    pytest.param(fu(state=State.CANCELLED, attempts=(AT,)), "Annulé", id="cancelled"),
    pytest.param(fu(state=State.OPTED_OUT, emailed_at=AT, replied_at=AT), "Refus (STOP)", id="stop"),
])  # fmt: skip
def test_result_of(follow_up, expected):
    assert result_of(follow_up) == expected
    assert expected in RESULTS


def test_results_are_the_twelve_labels_in_stacking_order():
    assert RESULTS == ("Satisfait", "Besoin", "Question", "Changement", "Réclamation", "Réponse reçue",
                       "E-mail sans réponse", "Courrier", "Manqué", "Annulé", "Refus (STOP)", "En cours")  # fmt: skip


@pytest.mark.parametrize(("maximum", "expected"), [
    (0, [0, 1]), (1, [0, 1]), (3, [0, 1, 2, 3]), (5, [0, 1, 2, 3, 4, 5]), (6, [0, 2, 4, 6]), (7, [0, 2, 4, 6, 8]),
    (12, [0, 5, 10, 15]), (40, [0, 10, 20, 30, 40]), (99, [0, 20, 40, 60, 80, 100]), (101, [0, 50, 100, 150]),
    (1234, [0, 500, 1000, 1500]),
])  # fmt: skip
def test_nice_ticks(maximum, expected):
    assert nice_ticks(maximum) == expected


# --- CSV ----------------------------------------------------------------------------------------------------

HEADER = ["adviser", "due", "open", "booked", "done_satisfait", "done_besoin", "done_question", "done_changement",
          "done_reclamation", "emailed", "letters", "replied", "no_reply", "missed", "cancelled", "opted_out",
          "complaints_pending", "in_window", "ended", "in_window_rate", "capacity_alerts", "rejected",
          "errors"]  # fmt: skip


def two_advisers() -> list[AdviserStatus]:
    return [
        status("hélène@agence.fr", due=6, open=2, booked=4, done={"satisfait": 2, "reclamation": 1}, emailed=1,
               no_reply=1, complaints_pending=1, in_window=3, ended=4, capacity_alerts=2, errors=1),
        status("marc@agence.fr", due=2, booked=1, done={"besoin": 1}, letters=1, in_window=1, ended=2,
               rejected=3),
        status("new@agence.fr"),
    ]  # fmt: skip


def read_csv(path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or []), list(reader)


def test_csv_header_rows_and_total(tmp_path):
    path = tmp_path / "report.csv"
    write_csv(path, two_advisers())
    header, rows = read_csv(path)
    assert header == HEADER == list(COLUMNS)
    assert [r["adviser"] for r in rows] == ["hélène@agence.fr", "marc@agence.fr", "new@agence.fr", "TOTAL"]
    helene, marc, new, total = rows
    assert helene["done_satisfait"] == "2" and helene["done_reclamation"] == "1" and helene["done_besoin"] == "0"
    assert (helene["in_window_rate"], marc["in_window_rate"], new["in_window_rate"]) == ("0.75", "0.5", "")
    assert total == {
        "adviser": "TOTAL", "due": "8", "open": "2", "booked": "5", "done_satisfait": "2", "done_besoin": "1",
        "done_question": "0", "done_changement": "0", "done_reclamation": "1", "emailed": "1", "letters": "1",
        "replied": "0", "no_reply": "1", "missed": "0", "cancelled": "0", "opted_out": "0",
        "complaints_pending": "1", "in_window": "4", "ended": "6", "in_window_rate": "0.667",
        "capacity_alerts": "2", "rejected": "3", "errors": "1",
    }  # fmt: skip


def test_csv_is_utf8_with_bom_comma_separated(tmp_path):
    path = tmp_path / "report.csv"
    write_csv(path, two_advisers())
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    assert raw[3:].decode("utf-8").startswith("adviser,due,open,")
    assert "hélène@agence.fr".encode() in raw
    assert b";" not in raw


def test_csv_without_advisers_has_a_zero_total(tmp_path):
    path = tmp_path / "report.csv"
    write_csv(path, [])
    _, rows = read_csv(path)
    assert len(rows) == 1 and rows[0]["adviser"] == "TOTAL"
    assert rows[0]["due"] == "0" and rows[0]["in_window_rate"] == ""


def test_csv_defuses_a_name_excel_would_run_as_a_formula(tmp_path):
    path = tmp_path / "report.csv"
    write_csv(path, [status('=HYPERLINK("x")')])
    _, rows = read_csv(path)
    assert rows[0]["adviser"] == '\'=HYPERLINK("x")'


def test_csv_write_replaces_the_file_and_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "report.csv"
    path.write_text("old")
    path.chmod(0o640)
    write_csv(path, two_advisers())
    assert read_csv(path)[1][0]["adviser"] == "hélène@agence.fr"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["report.csv"]


def test_csv_write_that_fails_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "report.csv"
    target.mkdir()  # os.replace cannot put a file over a folder
    with pytest.raises(OSError):
        write_csv(target, two_advisers())
    assert [p.name for p in tmp_path.iterdir()] == ["report.csv"]


# --- HTML ---------------------------------------------------------------------------------------------------

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class TagBalance(HTMLParser):
    """Every element closed, in order (the HTML parser is lenient: it never complains on its own)."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.problems: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        pass  # <meta />, <rect />: opened and closed at once

    def handle_endtag(self, tag):
        if not self.stack or self.stack.pop() != tag:
            self.problems.append(f"</{tag}> at {self.getpos()}")


def parse(page: str) -> ET.Element:
    """The page as XML (it is written to parse as such), after checking it with the HTML parser too."""
    checker = TagBalance()
    checker.feed(page)
    checker.close()
    assert checker.problems == [] and checker.stack == []
    return ET.fromstring(page)


def text(element: ET.Element) -> str:
    return "".join(element.itertext())


def section(root: ET.Element, heading: str) -> ET.Element:
    return next(s for s in root.iter("section") if s.find("h2") is not None and text(s.find("h2")) == heading)


def render(statuses=None, follow_ups=(), period=(None, None), agency=AGENCY) -> str:
    statuses = two_advisers() if statuses is None else statuses
    return render_html(statuses, list(follow_ups), period=period, generated_at=NOW, agency=agency)


def svg_of(page: str) -> ET.Element:
    svg = parse(page).find(".//svg")
    assert svg is not None
    return svg


def bars(svg: ET.Element) -> list[ET.Element]:
    return svg.findall(".//g[@class='bar']")


def sample_follow_ups() -> list[FollowUp]:
    """Weeks 47 (3), 48 (2) and 50 (1) of 2026: week 49 has none."""
    return [
        fu("F1", due="2026-11-16", outcome=Outcome.SATISFAIT, call_at=AT),
        fu("F2", due="2026-11-18", outcome=Outcome.SATISFAIT, call_at=AT),
        fu("F3", due="2026-11-22", emailed_at=AT),
        fu("F4", due="2026-11-23", state=State.BOOKED, attempts=(AT,), call_at=AT),
        fu("F5", due="2026-11-27", state=State.MISSED),
        fu("F6", due="2026-12-09", outcome=Outcome.RECLAMATION, call_at=AT, complaint_ack_due=d("2026-11-20"),
           complaint_answer_due=d("2027-01-20")),
    ]  # fmt: skip


def test_page_is_well_formed_french_and_titled():
    page = render(follow_ups=sample_follow_ups())
    root = parse(page)
    assert page.startswith("<!DOCTYPE html>")
    assert root.tag == "html" and root.get("lang") == "fr"
    assert text(root.find("head/title")) == "Suivi M+3 — Agence Durand & Fils"
    assert text(root.find(".//h1")) == "Suivi M+3 — Agence Durand & Fils"
    assert "Agence Durand &amp; Fils" in page
    assert "Généré le 25/11/2026 à 14:05" in text(root)


def test_page_needs_nothing_from_outside():
    page = render(follow_ups=sample_follow_ups())
    root = parse(page)
    assert "http" not in page
    assert root.findall(".//script") == [] and root.findall(".//link") == [] and root.findall(".//img") == []
    assert not re.search(r"\b(src|href)\s*=", page)
    assert "@import" not in page and "@font-face" not in page
    assert all(u.startswith("url(#") for u in re.findall(r"url\([^)]*\)", page))
    assert len(root.findall(".//style")) == 1


def test_summary_shows_the_in_window_rate_as_a_percentage():
    statuses = [status(due=5, in_window=3, ended=4, emailed=2, missed=1, capacity_alerts=2, errors=1)]
    root = parse(render(statuses))
    cards = {text(c.find("div[@class='label']")): text(c.find("div[@class='value']"))
             for c in root.findall(".//section[@class='summary']/div")}  # fmt: skip
    assert cards == {"Suivis": "5", "Dans la fenêtre": "75 %", "E-mails envoyés": "2", "Manqués": "1",
                     "Réclamations": "0", "Alertes de capacité": "2", "Erreurs": "1"}  # fmt: skip


def test_adviser_table_has_a_french_header_per_csv_column_and_a_total_row():
    assert list(HEADERS) == list(COLUMNS)
    table = parse(render()).find(".//table[@class='advisers']")
    headers = [text(th) for th in table.findall("thead/tr/th")]
    assert set(HEADERS.values()) <= set(headers)
    body = [[text(c) for c in tr] for tr in table.findall("tbody/tr")]
    assert [r[0] for r in body] == ["hélène@agence.fr", "marc@agence.fr", "new@agence.fr"]
    assert len(body[0]) == len(COLUMNS)
    total = [text(c) for c in table.find("tfoot/tr")]
    by_column = dict(zip(COLUMNS, total, strict=True))
    assert by_column["adviser"] == "Total" and by_column["due"] == "8" and by_column["done_satisfait"] == "2"
    assert by_column["in_window_rate"] == "67 %" and by_column["rejected"] == "3"
    assert dict(zip(COLUMNS, body[2], strict=True))["in_window_rate"] == "—"


def test_unknown_adviser_is_named_in_french():
    table = parse(render([status("(unknown adviser)", rejected=2)])).find(".//table[@class='advisers']")
    assert text(table.find("tbody/tr/th")) == "(conseiller inconnu)"


def test_every_text_is_escaped():
    page = render([status("<b>x</b>@agence.fr", due=1)], [fu(adviser="<b>x</b>@agence.fr", state=State.MISSED)],
                  agency="<i>Agence</i>")  # fmt: skip
    root = parse(page)
    assert "<b>" not in page and "<i>" not in page
    assert "&lt;b&gt;x&lt;/b&gt;" in page and "&lt;i&gt;Agence&lt;/i&gt;" in page
    assert text(root.find(".//table[@class='advisers']/tbody/tr/th")) == "<b>x</b>@agence.fr"
    assert root.findall(".//b") == [] and root.findall(".//i") == []


def test_no_client_data_but_ids():
    follow_ups = sample_follow_ups()
    page = render([status(capacity_alerts=1)], [*follow_ups, fu("F7", state=State.PLANNED, capacity_short=True)])
    for secret in SECRETS:
        assert secret.casefold() not in page.casefold(), secret
    assert "C-F6" in page and "C-F7" in page  # complaint and capacity tables: by id
    assert "Santé" not in page  # contract types would tell health cover


def test_chart_has_one_bar_per_week_with_data_and_a_gap_for_the_others():
    svg = svg_of(render(follow_ups=sample_follow_ups()))
    assert [b.get("data-week") for b in bars(svg)] == ["2026-11-16", "2026-11-23", "2026-12-07"]
    labels = [text(t) for t in svg.findall(".//text[@class='week']")]
    assert labels == ["S47 2026", "S48 2026", "S49 2026", "S50 2026"]
    titles = [text(t) for t in bars(svg)[0].findall("rect/title")]
    assert titles == ["S47 2026 — Satisfait : 2", "S47 2026 — E-mail sans réponse : 1"]
    assert [text(t) for t in svg.findall(".//g[@class='bar']/text")] == ["3", "2", "1"]


def test_chart_segments_stack_in_order_and_scale_to_the_tallest_bar():
    svg = svg_of(render(follow_ups=sample_follow_ups()))
    first = bars(svg)[0].findall("rect")
    heights = [float(r.get("height")) for r in first]
    assert heights[0] == pytest.approx(2 * heights[1], abs=0.2)
    assert float(first[0].get("y")) == pytest.approx(float(first[1].get("y")) + heights[1], abs=0.2)
    ticks = [text(t) for t in svg.findall(".//text[@class='tick']")]
    assert ticks == ["0", "1", "2", "3"]


def test_chart_legend_has_an_entry_per_result_with_its_count():
    svg = svg_of(render(follow_ups=sample_follow_ups()))
    legend = [text(g) for g in svg.findall(".//g[@class='legend-item']")]
    assert legend == [f"{r} ({n})" for r, n in zip(RESULTS, [2, 0, 0, 0, 1, 0, 1, 0, 1, 0, 0, 1], strict=True)]
    fills = [g.find("rect").get("fill") for g in svg.findall(".//g[@class='legend-item']")]
    assert len(set(fills)) == len(RESULTS)


def test_chart_axis_titles():
    titles = [text(t) for t in svg_of(render(follow_ups=sample_follow_ups())).findall(".//text[@class='axis-title']")]
    assert titles == ["Suivis", "Semaine ISO de l'échéance"]


def test_chart_without_follow_ups():
    page = render(follow_ups=[])
    svg = svg_of(page)
    assert bars(svg) == []
    assert "Aucun suivi dont l'échéance tombe dans la période." in text(svg)
    assert len(svg.findall(".//g[@class='legend-item']")) == len(RESULTS)
    assert "Aucune réclamation en cours." in page


def test_chart_with_one_week():
    svg = svg_of(render(follow_ups=[fu(due="2026-11-18", state=State.MISSED)]))
    (bar,) = bars(svg)
    (rect,) = bar.findall("rect")
    assert float(rect.get("width")) <= 64
    assert [text(t) for t in svg.findall(".//text[@class='week']")] == ["S47 2026"]


def test_chart_with_thirty_weeks_stays_inside_the_plot():
    start = d("2026-06-01")
    follow_ups = [fu(f"F{w}-{i}", due=(start + timedelta(weeks=w)).isoformat(), state=State.MISSED)
                  for w in range(30) for i in range(w % 7 + 1)]  # fmt: skip
    svg = svg_of(render(follow_ups=follow_ups))
    assert len(bars(svg)) == 30
    assert [text(t) for t in svg.findall(".//text[@class='tick']")] == ["0", "2", "4", "6", "8"]
    top = min(float(r.get("y")) for r in svg.findall(".//g[@class='bar']/rect"))
    assert top >= 0
    xs = [float(r.get("x")) for r in svg.findall(".//g[@class='bar']/rect")]
    widths = [float(r.get("width")) for r in svg.findall(".//g[@class='bar']/rect")]
    assert max(x + w for x, w in zip(xs, widths, strict=True)) <= 1000
    assert all(b - a > w for a, b, w in zip(xs, xs[1:], widths, strict=False))  # no overlap


def test_chart_across_a_new_year():
    follow_ups = [fu("F1", due="2026-12-31", state=State.MISSED), fu("F2", due="2027-01-04", state=State.MISSED)]
    svg = svg_of(render(follow_ups=follow_ups))
    assert [text(t) for t in svg.findall(".//text[@class='week']")] == ["S53 2026", "S01 2027"]
    assert len(bars(svg)) == 2


def test_period_limits_the_chart_and_the_complaints():
    page = render(follow_ups=sample_follow_ups(), period=(d("2026-11-16"), d("2026-11-22")))
    svg = svg_of(page)
    assert [b.get("data-week") for b in bars(svg)] == ["2026-11-16"]
    assert "C-F6" not in page and "Aucune réclamation en cours." in page
    assert "échéances du 16/11/2026 au 22/11/2026" in page
    assert "échéances à partir du 09/12/2026" in text(parse(render(period=(d("2026-12-09"), None))))
    assert "échéances jusqu'au 09/12/2026" in text(parse(render(period=(None, d("2026-12-09")))))


def test_complaints_table_lists_unanswered_complaints_with_their_deadlines():
    follow_ups = [
        fu("F1", outcome=Outcome.RECLAMATION, call_at=AT, complaint_ack_due=d("2026-12-04"),
           complaint_answer_due=d("2027-01-20")),
        fu("F2", outcome=Outcome.RECLAMATION, call_at=AT, complaint_ack_due=d("2026-11-20"),
           complaint_answer_due=d("2027-01-10"), adviser="marc@agence.fr"),
        fu("F3", outcome=Outcome.RECLAMATION, call_at=AT, complaint_ack_due=d("2026-11-20"),
           complaint_acknowledged=d("2026-11-19"), complaint_answer_due=d("2027-01-15")),
        fu("F4", outcome=Outcome.RECLAMATION, call_at=AT, complaint_acknowledged=d("2026-11-19"),
           complaint_answered=d("2026-11-24")),
    ]  # fmt: skip
    root = parse(render(follow_ups=follow_ups))
    rows = [[text(c) for c in tr] for tr in section(root, "Réclamations en cours").findall(".//tbody/tr")]
    assert rows == [
        ["C-F2", "marc@agence.fr", "20/11/2026 dépassé", "10/01/2027"],
        ["C-F3", "a@agence.fr", "envoyé le 19/11/2026", "15/01/2027"],
        ["C-F1", "a@agence.fr", "04/12/2026", "20/01/2027"],
    ]


def test_capacity_table_only_when_there_are_alerts():
    assert "<h2>Alertes de capacité</h2>" not in render(follow_ups=[fu(state=State.PLANNED)], statuses=[status()])
    follow_ups = [fu("F1", state=State.PLANNED, capacity_short=True),
                  fu("F2", state=State.MISSED, capacity_short=True)]  # fmt: skip
    root = parse(render([status(capacity_alerts=3), status("b@agence.fr")], follow_ups))
    rows = [[text(c) for c in tr] for tr in section(root, "Alertes de capacité").findall(".//tbody/tr")]
    assert rows == [["a@agence.fr", "3", "1", "C-F1"]]


def test_write_html_writes_the_page(tmp_path):
    path = tmp_path / "rapport.html"
    write_html(path, two_advisers(), sample_follow_ups(), period=(None, None), generated_at=NOW, agency=AGENCY)
    page = path.read_text(encoding="utf-8")
    assert page == render(follow_ups=sample_follow_ups())
    assert '<meta charset="utf-8" />' in page
    assert [p.name for p in tmp_path.iterdir()] == ["rapport.html"]


def test_page_without_advisers_or_follow_ups():
    root = parse(render([], []))
    assert "Aucun conseiller." in text(root.find(".//table[@class='advisers']/tbody"))
    assert text(root.find(".//table[@class='advisers']/tfoot/tr/td")) == "0"
