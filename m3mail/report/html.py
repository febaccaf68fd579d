"""The report as one self-contained HTML page in French: summary, per-adviser table, weekly chart, complaints.

Public: ``write_html`` (atomic), ``render_html`` (the same page as a string), ``result_of`` (the chart's
classification of a follow-up), ``RESULTS`` (its labels, in stacking and legend order, with fixed colours in
``RESULT_COLOURS``), ``weekly_counts`` and ``nice_ticks`` (the chart's data and y scale).

The page needs nothing from outside: no script, no web font, no image, the chart is inline SVG and the CSS an
inline ``<style>``; it prints on A4 landscape. Every text goes through ``html.escape``. Clients appear by
their id only: no name, email, phone, contract type (health) or notes. Void elements are closed (``<meta />``)
so that the whole page also parses as XML, which is how the tests check that it is well formed.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from html import escape
from pathlib import Path

from m3mail.files import write_atomic
from m3mail.models import FollowUp, Outcome, State
from m3mail.report.csv_out import COLUMNS, DONE_COLUMNS, total
from m3mail.report.status import OUTCOME_KEYS, AdviserStatus

Period = tuple[date | None, date | None]

REPLIED, NO_REPLY, LETTER = "Réponse reçue", "E-mail sans réponse", "Courrier"
MISSED, CANCELLED, OPTED_OUT, PENDING = "Manqué", "Annulé", "Refus (STOP)", "En cours"
_PENDING_PATTERN = "m3-pending"  # "En cours" is hatched: not a result yet
RESULT_COLOURS = {  # bottom to top of a bar, and the legend's order; fixed, so that readers learn them
    Outcome.SATISFAIT.value: "#2e7d32", Outcome.BESOIN.value: "#1565c0", Outcome.QUESTION.value: "#4fc3f7",
    Outcome.CHANGEMENT.value: "#7b1fa2", Outcome.RECLAMATION.value: "#d32f2f", REPLIED: "#00897b",
    NO_REPLY: "#f9a825", LETTER: "#8d6e63", MISSED: "#37474f", CANCELLED: "#bdbdbd", OPTED_OUT: "#f06292",
    PENDING: f"url(#{_PENDING_PATTERN})",
}  # fmt: skip
RESULTS = tuple(RESULT_COLOURS)

HEADERS = {
    "adviser": "Conseiller", "due": "Dus", "open": "En cours", "booked": "Appels réservés",
    **{f"done_{key}": outcome.value for outcome, key in OUTCOME_KEYS.items()},
    "emailed": "E-mails", "letters": "Courriers", "replied": "Réponses", "no_reply": "Sans réponse",
    "missed": "Manqués", "cancelled": "Annulés", "opted_out": "Refus (STOP)",
    "complaints_pending": "Réclamations en cours", "in_window": "Dans la fenêtre", "ended": "Terminés",
    "in_window_rate": "Taux dans la fenêtre", "capacity_alerts": "Alertes de capacité",
    "rejected": "Lignes rejetées", "errors": "Erreurs",
}  # fmt: skip
_GROUPS = {  # a header over adjacent columns
    "Résultat de l'appel": DONE_COLUMNS,
    "Contact écrit": ("emailed", "letters", "replied", "no_reply"),
    "Fenêtre de contact": ("in_window", "ended", "in_window_rate"),
}
_ADVISER_LABELS = {"(unknown adviser)": "(conseiller inconnu)"}  # status.py's English placeholder


def result_of(f: FollowUp) -> str:
    """What a follow-up came to, as the chart stacks it (a label of ``RESULTS``).

    A letter is checked before an unanswered email: a bounced email falls back on a letter, and that letter
    is what ended the follow-up.
    """
    if not f.state.ended:
        return PENDING
    ended = {State.MISSED: MISSED, State.CANCELLED: CANCELLED, State.OPTED_OUT: OPTED_OUT}
    if f.state in ended:
        return ended[f.state]
    if f.outcome is not None and f.outcome is not Outcome.INJOIGNABLE:  # Injoignable never ends a follow-up
        return f.outcome.value
    if f.replied_at is not None:
        return REPLIED
    if f.letter_at is not None:
        return LETTER
    return NO_REPLY  # the wait for a reply ended it


def in_period(day: date, period: Period) -> bool:
    start, end = period
    return (start is None or start <= day) and (end is None or day <= end)


def weekly_counts(follow_ups: Iterable[FollowUp]) -> list[tuple[date, Counter[str]]]:
    """Results per ISO week of the due date: (Monday, counts), every week from the first to the last, so
    that a week without follow-ups shows as a gap."""
    weeks: dict[date, Counter[str]] = {}
    for f in follow_ups:
        monday = f.due_date - timedelta(days=f.due_date.weekday())
        weeks.setdefault(monday, Counter())[result_of(f)] += 1
    if not weeks:
        return []
    first, last = min(weeks), max(weeks)
    span = (last - first).days // 7 + 1
    return [(m, weeks.get(m, Counter())) for m in (first + timedelta(weeks=i) for i in range(span))]


def nice_ticks(maximum: int, count: int = 5) -> list[int]:
    """Tick values from 0 to at least ``maximum``, about ``count`` steps of 1, 2 or 5 times a power of ten."""
    steps = (m * 10**k for k in itertools.count() for m in (1, 2, 5))
    step = next(s for s in steps if s * count >= maximum)
    top = max(step, math.ceil(maximum / step) * step)
    return list(range(0, top + 1, step))


def write_html(path: Path, statuses: Sequence[AdviserStatus], follow_ups: Sequence[FollowUp], *, period: Period,
               generated_at: datetime, agency: str) -> None:  # fmt: skip
    """Write the report, replacing ``path`` atomically. ``statuses`` are already limited to the period; the
    follow-ups are limited here, by due date, for the chart, the complaints and the capacity alerts."""
    page = render_html(statuses, follow_ups, period=period, generated_at=generated_at, agency=agency)
    write_atomic(path, page.encode("utf-8"))


def render_html(statuses: Sequence[AdviserStatus], follow_ups: Sequence[FollowUp], *, period: Period,
                generated_at: datetime, agency: str) -> str:  # fmt: skip
    """The page ``write_html`` writes."""
    kept = [f for f in follow_ups if in_period(f.due_date, period)]
    title = f"Suivi M+3 — {agency}"
    body = "\n".join([
        f"<header><h1>{escape(title)}</h1>",
        f'<p class="meta">Période : {escape(_period_text(period))} · Généré le {escape(_moment(generated_at))}'
        "</p></header>",
        _summary(total(statuses)),
        _section("Par conseiller", _adviser_table(statuses)),
        _section("Suivis par semaine d'échéance", _chart(weekly_counts(kept)), "chart"),
        _section("Réclamations en cours", _complaints(kept, generated_at.date())),
        _capacity(statuses, kept),
        "<footer>Rapport m3mail. Les clients n'y figurent que par leur identifiant.</footer>",
    ])  # fmt: skip
    return _PAGE.format(title=escape(title), css=_CSS, body=body)


# --- header and summary -------------------------------------------------------------------------------------


def _day(d: date) -> str:
    return d.strftime("%d/%m/%Y")


def _moment(t: datetime) -> str:
    return f"{_day(t)} à {t:%H:%M}"


def _period_text(period: Period) -> str:
    start, end = period
    if start and end:
        return f"échéances du {_day(start)} au {_day(end)}"
    if start:
        return f"échéances à partir du {_day(start)}"
    return f"échéances jusqu'au {_day(end)}" if end else "toutes les échéances"


def percent(rate: float | None) -> str:
    """``0.75`` -> ``75 %`` (a plain space; the cells do not wrap), ``None`` -> an em dash."""
    return "—" if rate is None else f"{math.floor(rate * 100 + 0.5)} %"


def _summary(t: AdviserStatus) -> str:
    cards = [
        ("Suivis", str(t.due), f"dont {t.open} en cours", False),
        ("Dans la fenêtre", percent(t.in_window_rate), f"{t.in_window} sur {t.ended} terminés", False),
        ("E-mails envoyés", str(t.emailed), f"{t.replied} réponses", False),
        ("Manqués", str(t.missed), "fenêtre close sans contact", t.missed > 0),
        ("Réclamations", str(t.complaints_pending), "en cours, sans réponse envoyée", t.complaints_pending > 0),
        ("Alertes de capacité", str(t.capacity_alerts), "créneaux manquants", t.capacity_alerts > 0),
        ("Erreurs", str(t.errors), "actions en échec", t.errors > 0),
    ]
    items = "".join(
        f'<div class="card{" warn" if warn else ""}"><div class="label">{escape(label)}</div>'
        f'<div class="value">{escape(value)}</div><div class="sub">{escape(sub)}</div></div>'
        for label, value, sub, warn in cards
    )
    return f'<section class="summary" aria-label="Synthèse">{items}</section>'


def _section(heading: str, content: str, css_class: str = "") -> str:
    attribute = f' class="{css_class}"' if css_class else ""
    return f"<section{attribute}><h2>{escape(heading)}</h2>\n{content}\n</section>"


# --- the per-adviser table ----------------------------------------------------------------------------------


def _adviser_table(statuses: Sequence[AdviserStatus]) -> str:
    columns = COLUMNS[1:]
    grouped = {c: g for g, cs in _GROUPS.items() for c in cs}
    top = ['<th rowspan="2" class="name">Conseiller</th>']
    for c in columns:
        group = grouped.get(c)
        if group is None:
            top.append(f'<th rowspan="2">{escape(HEADERS[c])}</th>')
        elif _GROUPS[group][0] == c:
            top.append(f'<th colspan="{len(_GROUPS[group])}" class="group">{escape(group)}</th>')
    second = "".join(f"<th>{escape(HEADERS[c])}</th>" for c in columns if c in grouped)
    head = f"<thead><tr>{''.join(top)}</tr><tr>{second}</tr></thead>"
    rows = "".join(_adviser_row(s, columns) for s in statuses)
    if not statuses:
        rows = f'<tr><td colspan="{len(COLUMNS)}" class="none">Aucun conseiller.</td></tr>'
    foot = _adviser_row(total(statuses), columns, label="Total")
    return f'<div class="wide"><table class="advisers">{head}<tbody>{rows}</tbody><tfoot>{foot}</tfoot></table></div>'


def _adviser_row(s: AdviserStatus, columns: Sequence[str], label: str | None = None) -> str:
    name = label or _ADVISER_LABELS.get(s.adviser, s.adviser)
    cells = [f'<th scope="row" class="name">{_breakable(name)}</th>']
    for c in columns:
        if c == "in_window_rate":
            cells.append(f'<td class="num">{escape(percent(s.in_window_rate))}</td>')
            continue
        value = s.done.get(c.removeprefix("done_"), 0) if c in DONE_COLUMNS else getattr(s, c)
        cells.append(f'<td class="num{" zero" if value == 0 else ""}">{value}</td>')
    return f"<tr>{''.join(cells)}</tr>"


def _breakable(address: str) -> str:
    """An adviser's address, allowed to wrap before the ``@`` only (the table is wide; ``agence-`` would
    wrap at its hyphen)."""
    local, at, domain = address.partition("@")
    return f'{escape(local)}<wbr /><span class="nowrap">@{escape(domain)}</span>' if at else escape(address)


# --- complaints and capacity --------------------------------------------------------------------------------


def _complaints(follow_ups: Sequence[FollowUp], today: date) -> str:
    """Complaints without an answer sent (as ``complaints_pending`` counts them), the nearest deadline first."""
    pending = [f for f in follow_ups if f.outcome is Outcome.RECLAMATION and f.complaint_answered is None]
    if not pending:
        return '<p class="none">Aucune réclamation en cours.</p>'
    pending.sort(key=lambda f: (f.complaint_answer_due or date.max, f.complaint_ack_due or date.max, f.client.id))
    rows = []
    for f in pending:
        if f.complaint_acknowledged is not None:
            ack = f"envoyé le {_day(f.complaint_acknowledged)}"
        else:
            ack = _deadline(f.complaint_ack_due, today)
        rows.append(f"<tr><td>{escape(f.client.id)}</td><td>{escape(f.adviser)}</td>"
                    f"<td>{ack}</td><td>{_deadline(f.complaint_answer_due, today)}</td></tr>")  # fmt: skip
    head = ("<thead><tr><th>Client (identifiant)</th><th>Conseiller</th><th>Accusé de réception dû le</th>"
            "<th>Réponse due le</th></tr></thead>")  # fmt: skip
    return f'<table class="list">{head}<tbody>{"".join(rows)}</tbody></table>'


def _deadline(day: date | None, today: date) -> str:
    if day is None:
        return "—"
    late = ' <strong class="late">dépassé</strong>' if day < today else ""
    return f"{escape(_day(day))}{late}"


def _capacity(statuses: Sequence[AdviserStatus], follow_ups: Sequence[FollowUp]) -> str:
    """Advisers short of free slots, with the follow-ups still waiting for one; nothing when there are none."""
    waiting: dict[str, list[FollowUp]] = {}
    for f in sorted(follow_ups, key=lambda f: (f.window_end, f.client.id)):
        if f.capacity_short and not f.state.ended:
            waiting.setdefault(f.adviser, []).append(f)
    missing = {s.adviser: s.capacity_alerts for s in statuses if s.capacity_alerts}
    advisers = list(dict.fromkeys([*missing, *waiting]))
    if not advisers:
        return ""
    rows = "".join(
        f'<tr><td>{escape(a)}</td><td class="num">{missing.get(a, 0)}</td>'
        f'<td class="num">{len(waiting.get(a, []))}</td>'
        f"<td>{escape(', '.join(f.client.id for f in waiting.get(a, [])) or '—')}</td></tr>"
        for a in advisers
    )
    head = ("<thead><tr><th>Conseiller</th><th>Créneaux manquants</th><th>Suivis sans créneau</th>"
            "<th>Clients concernés (identifiants, fin de fenêtre la plus proche d'abord)</th>"
            "</tr></thead>")  # fmt: skip
    return _section("Alertes de capacité", f'<table class="list">{head}<tbody>{rows}</tbody></table>')


# --- the chart ----------------------------------------------------------------------------------------------

_W, _LEFT, _RIGHT, _TOP, _BOTTOM = 1000, 56, 990, 26, 280  # the plot area, in SVG units
_LEGEND_Y, _LEGEND_COLUMNS, _LEGEND_WIDTH = 360, 6, 156
_H = _LEGEND_Y + 22 * math.ceil(len(RESULTS) / _LEGEND_COLUMNS) + 4
_LABEL_MIN = 30  # the narrowest slot a week label fits in ("2026" on its second line)


def week_label(monday: date) -> tuple[str, str]:
    year, week, _ = monday.isocalendar()
    return f"S{week:02d}", str(year)


def _chart(weeks: list[tuple[date, Counter[str]]]) -> str:
    totals = Counter[str]()
    for _, counts in weeks:
        totals.update(counts)
    description = f"{sum(totals.values())} suivis sur {len(weeks)} semaine(s), empilés par résultat."
    parts = [
        f'<svg viewBox="0 0 {_W} {_H}" width="100%" role="img" aria-labelledby="chart-title chart-desc">',
        '<title id="chart-title">Suivis par semaine ISO de leur échéance</title>',
        f'<desc id="chart-desc">{escape(description)}</desc>',
        f'<defs><pattern id="{_PENDING_PATTERN}" width="6" height="6" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)"><rect width="6" height="6" fill="#eceff1" />'
        '<line x1="0" y1="0" x2="0" y2="6" stroke="#90a4ae" stroke-width="2.5" /></pattern></defs>',
        *(_bars(weeks) if weeks else _no_data()),
        f'<line class="axis" x1="{_LEFT}" y1="{_BOTTOM}" x2="{_RIGHT}" y2="{_BOTTOM}" />',
        f'<text class="axis-title" x="14" y="{(_TOP + _BOTTOM) / 2}" text-anchor="middle" '
        f'transform="rotate(-90 14 {(_TOP + _BOTTOM) / 2})">Suivis</text>',
        f'<text class="axis-title" x="{(_LEFT + _RIGHT) / 2}" y="{_BOTTOM + 58}" text-anchor="middle">'
        "Semaine ISO de l'échéance</text>",
        *_legend(totals),
        "</svg>",
    ]  # fmt: skip
    return "\n".join(parts)


def _no_data() -> list[str]:
    return [f'<text class="empty" x="{(_LEFT + _RIGHT) / 2}" y="{(_TOP + _BOTTOM) / 2}" text-anchor="middle">'
            "Aucun suivi dont l'échéance tombe dans la période.</text>"]  # fmt: skip


def _bars(weeks: list[tuple[date, Counter[str]]]) -> list[str]:
    ticks = nice_ticks(max(sum(c.values()) for _, c in weeks))
    scale = (_BOTTOM - _TOP) / ticks[-1]
    slot = (_RIGHT - _LEFT) / len(weeks)
    width = min(slot * 0.72, 64)
    every = math.ceil(_LABEL_MIN / slot)
    parts = []
    for t in ticks:
        y = _BOTTOM - t * scale
        parts.append(f'<line class="grid" x1="{_LEFT}" y1="{y:.1f}" x2="{_RIGHT}" y2="{y:.1f}" />')
        parts.append(f'<text class="tick" x="{_LEFT - 6}" y="{y:.1f}" dy="0.32em" text-anchor="end">{t}</text>')
    for i, (monday, counts) in enumerate(weeks):
        centre = _LEFT + slot * (i + 0.5)
        week, year = week_label(monday)
        if i % every == 0:
            parts.append(f'<text class="week" x="{centre:.1f}" y="{_BOTTOM + 16}" text-anchor="middle">'
                         f'<tspan>{week} </tspan><tspan x="{centre:.1f}" dy="1.15em">{year}</tspan>'
                         "</text>")  # fmt: skip
        if counts:
            parts.append(_bar(f"{week} {year}", monday, counts, centre - width / 2, width, scale))
    return parts


def _bar(label: str, monday: date, counts: Counter[str], x: float, width: float, scale: float) -> str:
    segments, y = [], float(_BOTTOM)
    for result in RESULTS:
        if counts[result]:
            height = counts[result] * scale
            y -= height
            segments.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" height="{height:.1f}" '
                            f'fill="{RESULT_COLOURS[result]}"><title>{escape(f"{label} — {result} : {counts[result]}")}'
                            "</title></rect>")  # fmt: skip
    n = sum(counts.values())
    segments.append(f'<text class="total" x="{x + width / 2:.1f}" y="{y - 4:.1f}" text-anchor="middle">{n}</text>')
    return f'<g class="bar" data-week="{monday.isoformat()}">{"".join(segments)}</g>'


def _legend(totals: Counter[str]) -> list[str]:
    items = []
    for i, result in enumerate(RESULTS):
        x = _LEFT + (i % _LEGEND_COLUMNS) * _LEGEND_WIDTH
        y = _LEGEND_Y + (i // _LEGEND_COLUMNS) * 22
        items.append(f'<g class="legend-item"><rect x="{x}" y="{y - 11}" width="13" height="13" '
                     f'fill="{RESULT_COLOURS[result]}" stroke="#78909c" stroke-width="0.5" />'
                     f'<text x="{x + 19}" y="{y}">{escape(f"{result} ({totals[result]})")}</text></g>')  # fmt: skip
    return items


# --- the page -----------------------------------------------------------------------------------------------

_PAGE = """<!DOCTYPE html>
<html lang="fr">
<head>
<meta charset="utf-8" />
<meta name="viewport" content="width=device-width, initial-scale=1" />
<title>{title}</title>
<style>{css}</style>
</head>
<body>
{body}
</body>
</html>
"""

_CSS = """
@page { size: A4 landscape; margin: 10mm; }
* { box-sizing: border-box; }
body { font-family: "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: #212121; margin: 24px auto;
       max-width: 1400px; padding: 0 16px; font-size: 14px; line-height: 1.35; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 24px 0 8px; border-bottom: 2px solid #1565c0; padding-bottom: 3px; }
.meta { color: #555; margin: 0 0 16px; }
.summary { display: flex; flex-wrap: wrap; gap: 10px; }
.card { flex: 1 1 120px; border: 1px solid #cfd8dc; border-left: 5px solid #1565c0; border-radius: 4px;
        padding: 8px 12px; background: #f8fafc; }
.card.warn { border-left-color: #d32f2f; background: #fff5f5; }
.card .label { font-size: 12px; color: #455a64; text-transform: uppercase; letter-spacing: .03em; }
.card .value { font-size: 26px; font-weight: 600; white-space: nowrap; }
.card .sub { font-size: 12px; color: #666; }
.wide { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-size: 12.5px; }
th, td { border: 1px solid #cfd8dc; padding: 3px 4px; vertical-align: bottom; }
thead th { background: #eceff1; font-weight: 600; text-align: center; font-size: 11px; }
thead th.group { background: #dde3e7; }
th.name { text-align: left; font-weight: normal; }
thead th.name { font-weight: 600; }
td.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
td.zero { color: #b0b8bc; }
tbody tr:nth-child(even) { background: #fafbfc; }
tfoot th, tfoot td { font-weight: 700; background: #eceff1; border-top: 2px solid #90a4ae; }
table.list { width: auto; min-width: 60%; }
table.list td, table.list th { text-align: left; padding: 4px 10px; }
.nowrap { white-space: nowrap; }
.late { color: #d32f2f; }
.none { color: #666; font-style: italic; }
.chart svg { display: block; max-width: 1150px; height: auto; }
svg text { font-size: 12px; fill: #333; }
svg .tick, svg .week { font-size: 11px; fill: #555; }
svg .total { font-size: 11px; font-weight: 600; }
svg .axis-title { font-size: 12px; font-weight: 600; fill: #455a64; }
svg .empty { font-size: 15px; fill: #888; font-style: italic; }
svg .grid { stroke: #e0e0e0; stroke-width: 1; }
svg .axis { stroke: #607d8b; stroke-width: 1.2; }
footer { margin-top: 28px; font-size: 11px; color: #777; }
@media print {
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  body { margin: 0; padding: 0; max-width: none; font-size: 10pt; }
  h1 { font-size: 16pt; }
  h2 { font-size: 12pt; margin-top: 12px; }
  .card .value { font-size: 16pt; }
  table { font-size: 7.5pt; }
  th, td { padding: 2px 3px; }
  thead { display: table-header-group; }
  tr, .chart, .summary { break-inside: avoid; }
  .wide { overflow: visible; }
  .chart svg { max-height: 165mm; }
}
"""
