"""What m3mail writes for people, from Jinja2 templates: the call brief, the client email, the letter, the
follow-up record and the advisers' daily digest.

Public: ``Renderer`` (one method per document, each returning a ``Rendered`` subject, plain text and HTML),
``DigestItems``, ``NOTES_MARKER`` (the brief's line under which advisers write their notes), ``status_label``
(how a follow-up ended, in French), ``html_to_text`` and the French formatting helpers ``french_date``,
``french_amount``, ``phone_display``.

Templates never see health details: Santé and Prévoyance contracts reach them with their claims and questions
reduced to counts (``ContractView``), so a working folder's own templates cannot leak them either. Templates in
the working folder's ``templates/`` replace the shipped ones of the same name; any error in a template becomes
a ``TemplateError`` naming the file and the line.
"""

from __future__ import annotations

import os
import re
import traceback
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import css_inline
import html2text
import phonenumbers
from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateNotFound, TemplateSyntaxError, pass_context
from jinja2.runtime import Context
from markupsafe import Markup, escape

from m3mail.errors import TemplateError
from m3mail.models import Client, Contract, ContractType, FollowUp, Outcome, State
from m3mail.resources import shipped
from m3mail.settings import AdviserSettings, AgencySettings

NOTES_MARKER = "--- Notes du conseiller (écrire sous cette ligne) ---"

# --- French formatting -----------------------------------------------------------------------------------

MONTHS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
          "novembre", "décembre")  # fmt: skip
WEEKDAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
NBSP = "\u00a0"  # keeps "1 234,56 €" on one line, as French typography wants
CIVILITIES = {"M.": "Monsieur", "Mme": "Madame", "Mlle": "Mademoiselle"}


def french_date(day: date) -> str:
    """``25 novembre 2026``; the first of the month is ``1er décembre 2026``."""
    return f"{'1er' if day.day == 1 else day.day} {MONTHS[day.month - 1]} {day.year}"


def french_amount(value: Decimal | float | int) -> str:
    """``1 234,56 €`` (no-break spaces between thousands and before the euro sign)."""
    grouped = f"{Decimal(value):,.2f}".replace(",", NBSP).replace(".", ",")
    return f"{grouped}{NBSP}€"


def french_time(moment: datetime) -> str:
    return f"{moment.hour}h{moment.minute:02d}"


def phone_display(number: str) -> str:
    """``+33612345678`` -> ``06 12 34 56 78`` (French numbers in national form, others international)."""
    try:
        parsed = phonenumbers.parse(number, "FR")
    except phonenumbers.NumberParseException:
        return number
    french = phonenumbers.region_code_for_number(parsed) in _FRENCH_REGIONS
    form = phonenumbers.PhoneNumberFormat.NATIONAL if french else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    return phonenumbers.format_number(parsed, form)


def phone_href(number: str) -> str:
    """``tel:+33612345678``: E.164 where the number parses, else its digits."""
    try:
        return "tel:" + phonenumbers.format_number(phonenumbers.parse(number, "FR"),
                                                   phonenumbers.PhoneNumberFormat.E164)  # fmt: skip
    except phonenumbers.NumberParseException:
        return "tel:" + re.sub(r"[^\d+]", "", number)


_FRENCH_REGIONS = {"FR", "GP", "MQ", "GF", "RE", "YT", "PM", "BL", "MF", "NC", "PF", "WF"}


def proper_name(name: str) -> str:
    """``DUPONT`` -> ``Dupont`` for a greeting; a name written in mixed case is kept as written."""
    return name.title() if name.isupper() else name


NUMBERS = ("zéro", "un", "deux", "trois", "quatre", "cinq", "six", "sept", "huit", "neuf", "dix", "onze", "douze",
           "treize", "quatorze", "quinze", "seize", "dix-sept", "dix-huit", "dix-neuf", "vingt", "vingt et un",
           "vingt-deux", "vingt-trois", "vingt-quatre")  # fmt: skip


def in_words(n: int) -> str:
    """``3`` -> ``trois`` (up to 24, the longest delay the settings allow; digits beyond)."""
    return NUMBERS[n] if 0 <= n < len(NUMBERS) else str(n)


def join_fr(items: Iterable[str], last: str = " et ") -> str:
    """``a``, ``a et b``, ``a, b et c`` (``last=" ou "``: ``a, b ou c``)."""
    words = [str(i) for i in items]
    return last.join(filter(None, [", ".join(words[:-1]), words[-1] if words else ""]))


def upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]


# --- What templates see ----------------------------------------------------------------------------------

OUTCOME_LABELS = {
    Outcome.SATISFAIT: "Client satisfait, pas d'action",
    Outcome.BESOIN: "Besoin complémentaire identifié",
    Outcome.QUESTION: "Question technique, réponse apportée",
    Outcome.CHANGEMENT: "Changement de situation, contrat à adapter",
    Outcome.RECLAMATION: "Réclamation",
    Outcome.INJOIGNABLE: "Client injoignable",
}
OUTCOME_HINTS = {
    Outcome.SATISFAIT: "rien à faire", Outcome.BESOIN: "besoin complémentaire", Outcome.QUESTION: "question traitée",
    Outcome.CHANGEMENT: "situation à mettre à jour", Outcome.RECLAMATION: "client mécontent",
    Outcome.INJOIGNABLE: "pas de réponse",
}  # fmt: skip


@dataclass(frozen=True)
class ContractView:
    """A contract as templates see it: for Santé and Prévoyance, claims and questions are counts only."""

    id: str
    type: ContractType
    product: str
    effect_date: date
    premium: Decimal | None
    guarantees: tuple[str, ...]
    claims: tuple[str, ...]  # empty for health contracts: see claim_count
    questions: tuple[str, ...]
    claim_count: int
    question_count: int

    @property
    def health(self) -> bool:
        return self.type.is_health

    @property
    def label(self) -> str:
        """``Auto``: the product, or the type when the export names no product."""
        return self.product or self.type.value

    @property
    def title(self) -> str:
        """``IARD (Auto)``."""
        return f"{self.type.value} ({self.product})" if self.product else self.type.value

    @classmethod
    def of(cls, c: Contract) -> ContractView:
        shown = not c.type.is_health
        claims, questions = (c.claims, c.questions) if shown else ((), ())
        return cls(c.id, c.type, c.product, c.effect_date, c.premium, c.guarantees, claims, questions,
                   len(c.claims), len(c.questions))  # fmt: skip


def _minimised(follow_ups: tuple[FollowUp, ...]) -> tuple[FollowUp, ...]:
    return tuple(minimised(f) for f in follow_ups)


def minimised(f: FollowUp) -> FollowUp:
    """The follow-up with the claim and question texts of its health contracts removed."""
    kept = tuple(replace(c, claims=(), questions=()) if c.type.is_health else c for c in f.contracts)
    return replace(f, contracts=kept)


def months_since_subscription(f: FollowUp) -> int:
    """The "3" of "il y a 3 mois": from the first effect date to the due date (the delay is settable)."""
    first = min(c.effect_date for c in f.contracts)
    return max(1, round((f.due_date - first).days / 30.4375))  # the due date may move a few days into the window


def status_label(f: FollowUp) -> str:
    """How the follow-up ended (or stands), in French: the outcome, else what happened instead."""
    if f.outcome is not None:
        return OUTCOME_LABELS[f.outcome]
    if f.state is State.OPTED_OUT:
        return "Le client a demandé à ne plus être contacté (STOP)"
    if f.state is State.CANCELLED:
        return "Appel supprimé du calendrier par le conseiller"
    if f.state is State.MISSED:
        return "Fenêtre M+3 close sans contact"
    if f.replied_at is not None:
        return "Le client a répondu à l'email"
    if f.emailed_at is not None:
        return "Email envoyé, sans réponse du client"
    if f.letter_at is not None:
        return "Courrier envoyé"
    return {State.PLANNED: "Appel à planifier", State.BOOKED: "Appel planifié",
            State.UNREACHED: "Client non joint par téléphone"}.get(f.state, f.state.value)  # fmt: skip


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class DigestItems:
    """What an adviser's daily digest lists; each empty section is left out."""

    overdue: tuple[FollowUp, ...] = ()  # calls past their time with no outcome
    letters: tuple[FollowUp, ...] = ()  # letters to print and send
    complaints: tuple[FollowUp, ...] = ()  # open complaints, with their due dates
    bounces: tuple[FollowUp, ...] = ()  # emails that could not be delivered
    capacity: tuple[tuple[date, int], ...] = ()  # (day, calls that found no free slot)
    away: tuple[FollowUp, ...] = ()  # clients emailed whose automatic reply says they are away
    others: tuple[FollowUp, ...] = ()  # replies in the thread from another address than the client's: to judge

    def __bool__(self) -> bool:
        return any((self.overdue, self.letters, self.complaints, self.bounces, self.capacity, self.away, self.others))


# --- The renderer ----------------------------------------------------------------------------------------


class Renderer:
    """Renders the documents from the templates of ``override`` (a working folder's ``templates/``), falling
    back on the shipped ones. Every method raises TemplateError when a template is broken."""

    def __init__(self, agency: AgencySettings, override: Path | None = None):
        self._agency = agency
        folders = [override, shipped("templates")]
        self._roots = [Path(os.path.normpath(p)) for p in folders if p is not None and p.is_dir()]
        self._env = Environment(
            loader=FileSystemLoader(self._roots), undefined=StrictUndefined, autoescape=_autoescape,
            trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
        )  # fmt: skip
        self._env.filters.update(_FILTERS)
        self._env.globals.update(NOTES_MARKER=NOTES_MARKER, french_date=french_date)
        self._inliner = css_inline.CSSInliner(load_remote_stylesheets=False)
        # Hand-written plain-text versions (``email/sante.txt.j2``) replace the one derived from the HTML.
        self._texts = {n for n in self._env.list_templates() if n.endswith(".txt.j2")}

    def call_subject(self, f: FollowUp) -> str:
        """``M+3 · Mme DUPONT · IARD, Santé``: who, and which contract types, at a glance in the calendar."""
        c = f.client
        who = " ".join(p for p in (c.civility, c.last_name.upper() or c.first_name or c.id) if p)
        return f"M+3 · {who} · {', '.join(t.value for t in f.types)}"

    def brief(self, f: FollowUp, adviser: AdviserSettings) -> Rendered:
        subject = self.call_subject(f)
        return self._document("brief.html.j2", self._context(f, adviser, subject=subject), subject)

    def client_email(self, f: FollowUp, adviser: AdviserSettings) -> Rendered:
        return self._document(_variant(f), self._context(f, adviser, medium="email"))

    def letter(self, f: FollowUp, adviser: AdviserSettings, today: date) -> Rendered:
        """The client email as a printed letter: a complete A4 page, its CSS left in place for printing."""
        context = self._context(f, adviser, medium="letter")
        _, blocks = self._page(_variant(f), context)
        context.update(subject=_plain(blocks.get("subject", "")), message=Markup(blocks.get("message", "")),
                       today=today, place=_city(self._agency.address))  # fmt: skip
        return self._document("letter.html.j2", context, inline=False)

    def record(self, f: FollowUp, adviser: AdviserSettings, now: datetime) -> Rendered:
        return self._document("record.html.j2", self._context(f, adviser, now=now, status=status_label(f)))

    def digest(self, adviser: AdviserSettings, day: date, items: DigestItems) -> Rendered:
        safe = replace(items, overdue=_minimised(items.overdue), letters=_minimised(items.letters),
                       complaints=_minimised(items.complaints), bounces=_minimised(items.bounces),
                       others=_minimised(items.others))  # fmt: skip
        context = {**self._common(adviser), "day": day, "items": safe}
        return self._document("digest.html.j2", context)

    # --- the machinery ---------------------------------------------------------------------------------

    def _common(self, adviser: AdviserSettings) -> dict[str, Any]:
        return {"agency": self._agency, "adviser": adviser, "tz": adviser.timezone,
                "contact_phone": adviser.phone or self._agency.phone,
                "outcome_hints": [f"{o.category} ({OUTCOME_HINTS[o]})" for o in Outcome]}  # fmt: skip

    def _context(self, f: FollowUp, adviser: AdviserSettings, **extra: Any) -> dict[str, Any]:
        return {
            **self._common(adviser),
            "client": f.client,
            "followup": minimised(f),
            "contracts": tuple(ContractView.of(c) for c in f.contracts),
            "types": ", ".join(t.value for t in f.types),
            "months": months_since_subscription(f),
            **extra,
        }

    def _document(self, name: str, context: dict[str, Any], subject: str = "", *, inline: bool = True) -> Rendered:
        html, blocks = self._page(name, context)
        subject = subject or _plain(blocks.get("subject", ""))
        text_name = name.removesuffix(".html.j2") + ".txt.j2"
        text = self._page(text_name, context)[0] if text_name in self._texts else html_to_text(html)
        if inline:
            try:
                html = self._inliner.inline(html)
            except css_inline.InlineError as e:
                raise TemplateError(f"{self._filename(name)}: its CSS cannot be inlined: {e}") from e
        return Rendered(subject=subject, text=text, html=html)

    def _page(self, name: str, context: Mapping[str, Any]) -> tuple[str, dict[str, str]]:
        """The rendered template, and each of its blocks rendered alone (``subject``, ``message``)."""
        try:
            template = self._env.get_template(name)
            ctx = template.new_context(dict(context))
            try:
                html = self._env.concat(template.root_render_func(ctx))
                blocks: dict[str, str] = {b: self._env.concat(ctx.blocks[b][0](ctx))
                                          for b in ("subject", "message") if b in ctx.blocks}  # fmt: skip
            except Exception:
                # As Template.render does: give the traceback the templates' own file names and lines.
                self._env.handle_exception()
        except Exception as e:  # a template is code the user may write: any failure of it is a TemplateError
            raise TemplateError(self._describe(name, e)) from e
        return html, blocks

    def _describe(self, name: str, e: Exception) -> str:
        if isinstance(e, TemplateSyntaxError):
            return f"{e.filename or self._filename(name)}, line {e.lineno}: {e.message}"
        reason = f"template {e.name!r} not found" if isinstance(e, TemplateNotFound) else str(e)
        frames = [fs for fs in traceback.extract_tb(e.__traceback__) if self._is_template(fs.filename)]
        if frames:
            return f"{frames[-1].filename}, line {frames[-1].lineno}: {reason}"
        return f"{self._filename(name)}: {reason}"

    def _is_template(self, filename: str) -> bool:
        return any(Path(filename).is_relative_to(root) for root in self._roots)

    def _filename(self, name: str) -> str:
        found = next((root / name for root in self._roots if (root / name).is_file()), None)
        return str(found or Path("templates") / name)


def _variant(f: FollowUp) -> str:
    """The client email template: one per contract type, chosen by the follow-up's first type."""
    return f"email/{f.types[0].key}.html.j2"


def _autoescape(name: str | None) -> bool:
    return name is None or not name.endswith(".txt.j2")


def _plain(markup: str) -> str:
    """A rendered (escaped) block as plain text on one line: a subject."""
    return Markup(markup).striptags()


def _city(address: list[str]) -> str:
    """``69002 Lyon`` or ``69433 Lyon Cedex 02`` -> ``Lyon``: the place in "Lyon, le 25 novembre 2026"."""
    if not address:
        return ""
    m = re.match(r"^\s*(?:\d{4,5}\s+)?(.*?)(?:\s+cedex\b.*)?\s*$", address[-1], re.IGNORECASE)
    return m[1] if m else address[-1].strip()


# --- Plain text from HTML --------------------------------------------------------------------------------

_MD_LINK = re.compile(r"\[((?:\\.|[^\]\\])*)\]\(((?:\\.|[^)\\])*)\)")
_AUTO_LINK = re.compile(r"<((?:https?|mailto|tel):[^>\s]+)>")
_HEADING = re.compile(r"^#{1,6} ", re.MULTILINE)
_MD_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!])")


def _readable_link(m: re.Match[str]) -> str:
    text, url = m[1], m[2]
    if url.startswith("tel:"):  # calendar apps make a tel: URI in a plain-text description clickable
        return f"{text} ({url})"
    if url.startswith("mailto:") or text == url or text == url.split(":", 1)[-1]:
        return text
    return f"{text} ({url})"


def html_to_text(html: str) -> str:
    """The plain-text alternative of an HTML page: no line wrapping, no Markdown marks, links as
    ``text (https://...)`` and ``06 12 34 56 78 (tel:+33612345678)`` (an email link shows just its text)."""
    converter = html2text.HTML2Text(bodywidth=0)
    converter.unicode_snob = True  # keep "é" and "€" (not "e" and "EUR")
    converter.ignore_images = True
    converter.ignore_emphasis = True
    converter.ul_item_mark = "-"
    # html2text turns every run of white space into one space, no-break ones included, except "&nbsp;".
    text = converter.handle(html.replace(NBSP, "&nbsp;"))
    text = _AUTO_LINK.sub(r"\1", _MD_LINK.sub(_readable_link, text))
    text = _MD_ESCAPE.sub(r"\1", _HEADING.sub("", text))
    text = re.sub(r"[ \t]+\n", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


# --- Filters ---------------------------------------------------------------------------------------------


def _local(ctx: Context, moment: datetime) -> datetime:
    """A moment in the adviser's time zone (``tz`` of the context); naive moments are taken as they are."""
    return moment.astimezone(ZoneInfo(ctx["tz"])) if moment.tzinfo else moment


@pass_context
def _datetime_filter(ctx: Context, moment: datetime) -> str:
    local = _local(ctx, moment)
    return f"{WEEKDAYS[local.weekday()]} {french_date(local.date())} à {french_time(local)}"


@pass_context
def _time_filter(ctx: Context, moment: datetime) -> str:
    return french_time(_local(ctx, moment))


def _long_date(day: date | datetime) -> str:
    return f"{WEEKDAYS[day.weekday()]} {french_date(day.date() if isinstance(day, datetime) else day)}"


def _count(n: int, singular: str, plural: str = "") -> str:
    """``{{ 2|count("sinistre") }}`` -> ``2 sinistres``."""
    return f"{n} {singular if n <= 1 else (plural or singular + 's')}"


def _your_contracts(contracts: Iterable[ContractView], detailed: bool = False) -> str:
    """``votre contrat Auto``, ``vos contrats Auto et Complémentaire santé`` (``detailed``: ``IARD (Auto)``)."""
    labels = list(dict.fromkeys(c.title if detailed else c.label for c in contracts))
    return f"{'vos contrats' if len(labels) > 1 else 'votre contrat'} {join_fr(labels)}"


def _nl2br(text: str) -> Markup:
    return Markup("<br>\n").join(escape(line) for line in text.splitlines())


def _addressee(c: Client) -> str:
    """``Madame Dupont``: how the client is greeted (first and last name when the civility is unknown)."""
    if c.civility in CIVILITIES and c.last_name:
        return f"{CIVILITIES[c.civility]} {proper_name(c.last_name)}"
    return " ".join(p for p in (c.first_name, proper_name(c.last_name)) if p)


def _formal(c: Client) -> str:
    """``Madame``: the salutation of a letter."""
    return CIVILITIES.get(c.civility, "Madame, Monsieur")


def _full_name(c: Client) -> str:
    """``Mme Marie DUPONT``: the address block and the records."""
    return " ".join(p for p in (c.civility, c.first_name, c.last_name.upper()) if p)


_FILTERS: dict[str, Any] = {
    "date": french_date, "long_date": _long_date, "weekday": lambda d: WEEKDAYS[d.weekday()],
    "datetime": _datetime_filter, "time": _time_filter, "amount": french_amount, "phone": phone_display,
    "tel": phone_href, "in_words": in_words, "join_fr": join_fr, "upper_first": upper_first,
    "your_contracts": _your_contracts, "count": _count, "nl2br": _nl2br, "addressee": _addressee,
    "formal": _formal, "full_name": _full_name,
}  # fmt: skip

__all__ = ["NOTES_MARKER", "ContractView", "DigestItems", "Rendered", "Renderer", "french_amount",
           "french_date", "html_to_text", "phone_display", "status_label"]  # fmt: skip
