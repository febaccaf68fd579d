"""What a message in an adviser's Inbox is, and what it is about: one decision for every backend.

Pure: a ``MailView`` (what a backend translated the message into: header fields, sender, subject, parts, text)
goes in, a ``Verdict`` comes out. The rules, strongest first, each from a standard or from what real systems
write (tests/data/mail/ holds a message modelled on each):

1. Feedback report (RFC 5965): ``multipart/report; report-type=feedback-report``, or a message/feedback-report
   part, or Microsoft's JMRP report ("complaint about message from …", ``X-HmXmrOriginalRecipient``): a spam
   complaint about m3mail's email. Never a reply; the domain records an opt-out. So does Apple Mail's own
   unsubscribe message (``X-Apple-Unsubscribe: true``).
2. Delivery status notification (RFC 3464): ``report-type=delivery-status`` in any case, or a
   message/(global-)delivery-status part even where report-type is missing (RFC 6533 for the global one). Per
   recipient, ``Action: failed`` or a ``Status: 5.x.x`` is a failure; ``Action: delayed`` or 4.x.x a delay
   (RFC 3464 §2.3.3, RFC 3463 classes: 4 persistent transient, 5 permanent); delivered, relayed or expanded
   only is a positive notice (automatic).
3. A report with no machine-readable part: sent from the empty address (``From: <>``, ``MAILER-DAEMON <>``),
   from a mailer-daemon or postmaster, from Exchange (``MicrosoftExchange…@``, ``X-MS-Exchange-Message-Is-Ndr``),
   or naming ``X-Failed-Recipients`` (Exim), with a report's subject or wording: a delay when it says so
   ("Delivery Status Notification (Delay)", "Delayed Mail (still being retried)", "Warning: message … delayed",
   "could not send message for past", "Remise différée"), else a failure.
4. Automatic reply (RFC 3834 ``Auto-Submitted`` other than ``no``; ``Precedence: auto_reply``, bulk, junk, list;
   ``X-Autoreply``, ``X-Autorespond``; Microsoft's ``X-MS-Exchange-Generated-Message-Source`` and
   ``X-MS-Exchange-Inbox-Rules-Loop`` (not ``X-Auto-Response-Suppress``, which people's mail carries too: see
   ``_AUTO_HEADERS``); Apple's ``X-Apple-Action: VACATION``, which iCloud writes without
   Auto-Submitted; subject prefixes in French and English: Réponse automatique, Absence du bureau, Automatic
   reply, Auto reply, Out of Office, AUTO: …), a read receipt (RFC 8098 disposition-notification), or a message
   from the empty return path (RFC 3834 §3.3: automatic responses are sent from it; people's mail never is).
5. Otherwise a person's reply; an opt-out (``STOP``) when the writer's own words, above the quoted original,
   begin with STOP or plainly ask to hear no more in French ("ne plus me contacter", "désinscrire", ...).

What it is about: the Message-IDs it carries (In-Reply-To, References, the returned message or headers, a
``Message-ID:`` line quoted in any text part), and the recipients a report names (Final-Recipient,
Original-Recipient, X-Failed-Recipients, a complaint's Original-Rcpt-To), lower case with IDNA domains.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from email.utils import parseaddr

from m3mail.addresses import normalised
from m3mail.models import MailKind, MailView

__all__ = ["Verdict", "classify", "ids", "may_be_report", "own_words", "return_date", "says_stop"]


@dataclass(frozen=True, slots=True)
class Verdict:
    kind: MailKind
    refs: tuple[str, ...] = ()  # the Message-IDs the message is about
    recipients: tuple[str, ...] = ()  # the addresses a report names
    own_text: str = ""  # a person's own words, without the quoted original
    back_on: date | None = None  # the day an out-of-office reply says its writer is back
    reason: str = ""  # which rule decided (for logs and tests: no client data)


def classify(view: MailView, received: datetime | None = None) -> Verdict:
    """What the message is. ``received`` (when it arrived) places a return date given without its year."""
    refs = _refs(view)
    if (feedback := _feedback(view)) is not None:
        return Verdict(MailKind.FEEDBACK, refs, feedback, reason="a complaint (a feedback report)")
    if (dsn := _delivery_status(view)) is not None:
        kind, recipients, reason = dsn
        return Verdict(kind, refs, recipients or _named_in_text(view), reason=reason)
    if (report := _plain_report(view)) is not None:
        kind, reason = report
        return Verdict(kind, refs, _failed_recipients(view) or _named_in_text(view), reason=reason)
    if view.header("X-Apple-Unsubscribe").strip().lower() == "true":  # Apple Mail's own unsubscribe message
        return Verdict(MailKind.FEEDBACK, refs, reason="an unsubscribe request sent by the client's mail app")
    if (automatic := _automatic(view)) is not None:
        return Verdict(MailKind.AUTO, refs, back_on=return_date(view.text, received), reason=automatic)
    own = own_words(view.text)
    if says_stop(own):
        return Verdict(MailKind.STOP, refs, own_text=own, reason="the writer asks to hear no more")
    return Verdict(MailKind.REPLY, refs, own_text=own, reason="a person's reply")


# --- what it is about -------------------------------------------------------------------------------------------

_ID = re.compile(r"<[^<>\s]+@[^<>\s]+>")
_QUOTED_ID = re.compile(r"^[ \t>]*(?:Message-ID|Message-Id|In-Reply-To|References)[ \t]*:[ \t]*((?:<[^<>\s]+>[ \t]*)+)",
                        re.IGNORECASE | re.MULTILINE)  # fmt: skip
_RETURNED = ("message/rfc822", "message/global", "text/rfc822-headers", "message/global-headers")


def ids(text: str) -> list[str]:
    """The ``<...@...>`` message ids in a header such as References, in order, once each."""
    return list(dict.fromkeys(_ID.findall(text)))


def _refs(view: MailView) -> tuple[str, ...]:
    found = ids(f"{view.header('In-Reply-To')} {view.header('References')}")
    for part in view.parts:
        if part.content_type in _RETURNED:
            found += ids(" ".join(m.group(1) for m in _QUOTED_ID.finditer(part.text)))
    for text in (view.text, *(p.text for p in view.parts if p.content_type.startswith("text/"))):
        found += ids(" ".join(m.group(1) for m in _QUOTED_ID.finditer(text)))
    return tuple(dict.fromkeys(found))


def _typed_addresses(values: list[str]) -> tuple[str, ...]:
    """``rfc822;jean@example.fr`` (RFC 3464 §2.3.2, RFC 6533 utf-8;) as the address, once each."""
    found = []
    for value in values:
        address = value.partition(";")[2] if ";" in value else value
        address = re.sub(r"\(.*?\)", "", address).strip()
        if "@" in address:
            found.append(normalised(address))
    return tuple(dict.fromkeys(found))


_ADDRESS = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)


def _named_in_text(view: MailView) -> tuple[str, ...]:
    """The addresses a report without recipient fields names in its words ("Your message to … couldn't be
    delivered", qmail's "<…>:" lines): a failed recipient is among them (the domain keeps the one emailed)."""
    texts = [view.text, *(p.text for p in view.parts if p.content_type == "text/plain")]
    return _typed_addresses([a for text in texts for a in _ADDRESS.findall(text[:5000])])


def _failed_recipients(view: MailView) -> tuple[str, ...]:
    values = [a for k, v in view.headers if k.lower() == "x-failed-recipients" for a in v.split(",")]
    return _typed_addresses(values)


# --- reports ----------------------------------------------------------------------------------------------------


def _fields(text: str) -> list[dict[str, str]]:
    """The field groups of a message/delivery-status or feedback-report part: blank lines separate them,
    folded lines continue (RFC 3464 §2.1)."""
    groups: list[dict[str, str]] = []
    current: dict[str, str] = {}
    last = ""
    for line in text.replace("\r\n", "\n").split("\n"):
        if not line.strip():
            if current:
                groups.append(current)
            current, last = {}, ""
            continue
        if line[:1] in " \t" and last:
            current[last] += " " + line.strip()
            continue
        name, colon, value = line.partition(":")
        if colon and name.strip() and " " not in name.strip():
            last = name.strip().lower()
            current[last] = f"{current[last]}, {value.strip()}" if last in current else value.strip()
    if current:
        groups.append(current)
    return groups


_JMRP = re.compile(r"^\s*complaint about message from\b", re.IGNORECASE)
_JMRP_RECIPIENT = re.compile(r"^X-HmXmrOriginalRecipient:\s*(\S+)", re.IGNORECASE | re.MULTILINE)


def _feedback(view: MailView) -> tuple[str, ...] | None:
    """A complaint: an RFC 5965 report, or Microsoft's JMRP one (Outlook.com's "complaint about message from …",
    the original attached, its recipient named by X-HmXmrOriginalRecipient)."""
    parts = [p for p in view.parts if p.content_type == "message/feedback-report"]
    jmrp = [m.group(1) for p in view.parts for m in _JMRP_RECIPIENT.finditer(p.text)]
    if view.report_type != "feedback-report" and not parts and not jmrp and not _JMRP.match(view.subject):
        return None
    fields = [g for p in parts for g in _fields(p.text)]
    named = [g[k] for g in fields for k in ("original-rcpt-to", "removal-recipient") if k in g]
    return _typed_addresses(named + jmrp)


def _delivery_status(view: MailView) -> tuple[MailKind, tuple[str, ...], str] | None:
    parts = [p for p in view.parts if p.content_type in ("message/delivery-status", "message/global-delivery-status")]
    bare_report = view.content_type == "multipart/report" and not view.report_type  # RFC 6522 wants one: some omit it
    if not parts and view.report_type != "delivery-status" and not (bare_report and _reporter(view)):
        return None
    groups = [g for p in parts for g in _fields(p.text)]
    recipients = [g for g in groups if "final-recipient" in g or "original-recipient" in g or "action" in g]
    failed = [g for g in recipients if _action(g) == "failed" or _status(g).startswith("5")]
    delayed = [g for g in recipients if _action(g) == "delayed" or _status(g).startswith("4")]
    if failed:
        return MailKind.BOUNCE, _addresses_of(failed) or _failed_recipients(view), "RFC 3464: Action failed / 5.x.x"
    if delayed:
        return MailKind.DELAY, _addresses_of(delayed), "RFC 3464: Action delayed / 4.x.x"
    if recipients:
        return MailKind.AUTO, (), "RFC 3464: delivered, relayed or expanded"
    # a report without its machine-readable fields: its wording decides (rule 3), failure by default
    kind = MailKind.DELAY if _says_delay(view) else MailKind.BOUNCE
    return kind, _failed_recipients(view), "RFC 3464 report without recipient fields"


_FAILED_ACTIONS = ("failed", "failure", "expired", "bounced", "undeliverable", "error", "rejected")


def _action(group: dict[str, str]) -> str:
    """The Action of a recipient's fields; the non-standard words some systems write for a failure (SendGrid's
    "expired", others' "bounced") read as "failed"."""
    words = group.get("action", "").split()
    action = words[0].lower().strip(";,") if words else ""
    return "failed" if action in _FAILED_ACTIONS else action


def _status(group: dict[str, str]) -> str:
    match = re.search(r"\b([245])\.\d{1,3}\.\d{1,3}\b", group.get("status", ""))
    return match.group(0) if match else ""


def _addresses_of(groups: list[dict[str, str]]) -> tuple[str, ...]:
    return _typed_addresses([g[k] for g in groups for k in ("final-recipient", "original-recipient") if k in g])


_DAEMONS = ("mailer-daemon", "mailer_daemon", "postmaster", "post_master", "post-master", "mail-daemon", "maildaemon",
            "mailerdaemon", "mdaemon", "mail.delivery.system", "mail-delivery-system", "maildeliverysystem",
            "mail.delivery.subsystem", "mail-delivery-subsystem")  # fmt: skip
_DAEMON_NAMES = re.compile(r"^\W*(mailer[- _]?daemon|mail delivery (system|subsystem|service)|delivery status "
                           r"notification|postmaster|syst[eè]me de (distribution|remise) du courrier)\W*$",
                           re.IGNORECASE)  # fmt: skip
_NO_REPLY = re.compile(r"^(no[-_.]?reply|do[-_.]?not[-_.]?reply|ne[-_.]?pas[-_.]?repondre)", re.IGNORECASE)
_REPORT_WORDS = re.compile(
    r"undeliver|undelivered|non remis|non délivr|non distribu|échec de (la )?(remise|distribution)|delivery "
    r"(status notification|failure|has failed|failed|problem|notification)|mail delivery (failed|failure|system|"
    r"subsystem)|failure notice|returned mail|returned to sender|could ?n[o']t be delivered|was not delivered|"
    r"wasn't able to deliver|unable to deliver|permanent error|n'a pas (pu être|été) (remis|distribu|délivr)|"
    r"impossible de (remettre|distribuer|délivrer)|remise (différée|retardée)|delivery delayed|delayed mail|"
    r"warning: (message|could not)|message (non|pas) (remis|distribué)|erreur de distribution|rejected|"
    r"\bbounced?\b|notificationtype\W+bounce|エラー|不達|配信できません",
    re.IGNORECASE,
)  # fmt: skip
_DELAY_WORDS = re.compile(
    r"\(delay\)|delivery delayed|delayed mail|still being retried|delayed \d+ (hours?|minutes?|days?)|message "
    r"\S+ delayed|could not send message for past|will (continue|keep) (trying|to try|retrying)|will retry|"
    r"not (yet )?been delivered|has not been delivered yet|remise (différée|retardée)|retard(é|e)? de (remise|"
    r"distribution)|n'a pas encore (pu être|été) (remis|distribué)|nouvelle tentative|tentatives? de remise se "
    r"poursuiv|avertissement ?: message|delivery status notification \(delay\)",
    re.IGNORECASE,
)  # fmt: skip


def _says_delay(view: MailView) -> bool:
    head = "\n".join(view.text.splitlines()[:40])
    return bool(_DELAY_WORDS.search(view.subject) or _DELAY_WORDS.search(head))


def _reporter(view: MailView) -> str:
    """Why the sender looks like a mail system rather than a person, or ""."""
    if view.has("X-MS-Exchange-Message-Is-Ndr"):
        return "Exchange non-delivery report (X-MS-Exchange-Message-Is-Ndr)"
    if view.has("X-Failed-Recipients"):
        return "X-Failed-Recipients"
    local = view.sender.partition("@")[0]
    if not view.sender:
        return "sent from the empty address"
    if local.startswith(_DAEMONS):
        return f"sent by {local.split('+')[0]}"
    if local.startswith("microsoftexchange") and len(local) > len("microsoftexchange") + 8:
        return "sent by Exchange (MicrosoftExchange…)"
    name = parseaddr(view.header("From"))[0]
    if name and _DAEMON_NAMES.match(name):
        return f"sent by {name}"
    if view.header("Return-Path").strip() in ("<>", "< >"):
        return "sent from the empty return path"
    if _NO_REPLY.match(local):
        return "sent from a no-reply address"
    return ""


def may_be_report(view: MailView) -> bool:
    """Whether the message may be a report, whose parts (its fields, the returned message) the classifier
    reads: for a backend that fetches parts apart (Microsoft Graph's attachments)."""
    return view.content_type == "multipart/report" or bool(view.report_type) or bool(_reporter(view))


_FORWARD = re.compile(r"^\s*((fwd?|tr|wg|fw)\s*:\s*)+", re.IGNORECASE)


def _plain_report(view: MailView) -> tuple[MailKind, str] | None:
    who = _reporter(view)
    forwarded = _FORWARD.match(view.subject)
    if not who and forwarded and _REPORT_WORDS.search(view.subject[forwarded.end() :]):
        who = "a failure report forwarded"
    if not who:
        return None
    weak = who in ("sent from the empty address", "sent from the empty return path", "sent from a no-reply address")
    if weak and not _REPORT_WORDS.search(f"{view.subject}\n{view.text[:3000]}"):
        return None  # automatic replies come from these too (RFC 3834 §3.3): rule 4 decides
    if _says_delay(view):
        return MailKind.DELAY, f"{who}: a delay notice"
    return MailKind.BOUNCE, f"{who}: a failure report"


# --- automatic replies ------------------------------------------------------------------------------------------

_AUTO_SUBJECT = re.compile(
    r"^\s*(\[?auto(matic)?[ -]?(reply|response|répons\w*)\]?|autoreply|auto[ -]?antwort|automatische antwort|"
    r"réponse automatique|reponse automatique|r[ée]ponse auto\b|absence du bureau|absent(e)? du bureau|"
    r"message d'absence|notification d'absence|absence\s*:|absent\s*:|out of (the )?office|ooo\b|auto\s*:|"
    r"autorépondeur|répondeur automatique|vacation|en congés?\b|congés?\s*:)",
    re.IGNORECASE,
)  # fmt: skip
# Not X-Auto-Response-Suppress: it asks others not to answer automatically ([MS-OXCMAIL] 2.2.3.2.14), and
# Exchange and Outlook put it on people's mail too (discourse/discourse#21367, sisimai/p5-sisimai#491,
# glpi-project/glpi#2170). X-MS-Exchange-Inbox-Rules-Loop: Exchange's mark on what an inbox rule sends (its
# out-of-office replies among them). The last three: a mailing list's message.
_AUTO_HEADERS = ("X-Autoreply", "X-Autorespond", "X-Autoresponder", "X-MS-Exchange-Generated-Message-Source",
                 "X-MS-Exchange-Inbox-Rules-Loop", "X-Apple-Action", "X-Vacation", "X-MLServer", "Mailing-List",
                 "List-Id")  # fmt: skip


def _automatic(view: MailView) -> str | None:
    submitted = view.header("Auto-Submitted").strip().lower()
    if submitted and not submitted.startswith("no"):
        return f"RFC 3834 Auto-Submitted: {submitted.split(';')[0]}"
    precedence = view.header("Precedence").strip().lower()
    if precedence in ("auto_reply", "auto-reply", "bulk", "junk", "list"):
        return f"Precedence: {precedence}"
    for name in _AUTO_HEADERS:
        if view.has(name):
            return f"{name} (automatic reply)"
    if view.report_type == "disposition-notification" or any(
        p.content_type == "message/disposition-notification" for p in view.parts
    ):
        return "RFC 8098 read receipt"
    subject = re.sub(r"^\s*((re|tr|fw|fwd|aw|wg)\s*:\s*)+", "", view.subject, flags=re.IGNORECASE)
    if _AUTO_SUBJECT.match(view.subject) or _AUTO_SUBJECT.match(subject):
        return "an automatic reply's subject"
    if view.header("Return-Path").strip() in ("<>", "< >"):
        return "sent from the empty return path (RFC 3834 §3.3)"
    if _NO_REPLY.match(view.sender.partition("@")[0]):
        return "sent from a no-reply address: not a person"
    return None


# --- a person's own words ---------------------------------------------------------------------------------------

_QUOTE_START = re.compile(
    r"^\s*(>|"
    r"(le|on)\b.{0,200}\b(a écrit|a ecrit|wrote|schrieb)\s*:?\s*$|"  # Gmail, Apple Mail, Thunderbird
    r"-{2,}\s*(original message|message d'origine|message original|mail original|forwarded message|message transféré)"
    r"\s*-{2,}|"
    r"_{10,}\s*$)",  # Outlook's rule above its quoted header block
    re.IGNORECASE,
)  # fmt: skip
_HEADER_FROM = re.compile(r"^\s*\*?(de|from)\s*:\s*\S", re.IGNORECASE)
_HEADER_NEXT = re.compile(r"^\s*\*?(envoyé|envoye|sent|date|à|a|to|objet|subject|cc)\s*:", re.IGNORECASE)
_SIGNATURE = re.compile(r"^\s*(--\s*|envoyé de mon \w+.*|sent from my \w+.*|obtenir outlook pour \w+.*|"
                        r"get outlook for \w+.*)$", re.IGNORECASE)  # fmt: skip


def own_words(text: str) -> str:
    """The writer's own words: the text above the quoted original (``>`` lines, "Le … a écrit :", Outlook's
    "De : … Envoyé : …" block and its rule, "-----Original Message-----"), without a signature."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    own: list[str] = []
    for n, line in enumerate(lines):
        # Gmail wraps a long "Le … <address> a écrit :" over two lines
        joined = f"{line} {lines[n + 1]}" if n + 1 < len(lines) else line
        if _QUOTE_START.match(line) or (re.match(r"^\s*(le|on)\b", line, re.I) and _QUOTE_START.match(joined)):
            break
        # Outlook's quoted header block: "De : …" followed by "Envoyé : …", "À : …", "Objet : …"
        if _HEADER_FROM.match(line) and any(_HEADER_NEXT.match(li) for li in lines[n + 1 : n + 5]):
            break
        if _SIGNATURE.match(line):
            break
        own.append(line)
    return "\n".join(own).strip()


def _plain(text: str) -> str:
    """Lower case, no accents, one kind of apostrophe: what the opt-out phrases are matched on."""
    folded = unicodedata.normalize("NFKD", text.lower().replace("’", "'").replace("`", "'"))
    return "".join(c for c in folded if not unicodedata.combining(c))


_GREETING = re.compile(r"^(bonjour|bonsoir|salut|hello|hi|madame|monsieur|cher|chere)\b[^,.!;:\n]{0,40}[,.!;:]?\s*")
_STOP_FIRST = re.compile(r"^\W*(stop|stopp|arret)\b\W*(merci\b.*)?$|^\W*stop\b")
_NO_MORE = re.compile(
    r"ne (plus|jamais plus) (me )?(contacter|recontacter|joindre|solliciter|relancer|deranger|ecrire|appeler)|"
    r"ne me (contactez|recontactez|relancez|sollicitez|derangez|ecrivez|appelez) plus|"
    r"ne plus (etre|être) (contacte|recontacte|sollicite|relance|derange)|"
    r"ne (plus|pas) (recevoir|m'envoyer|envoyer)|n'envoyez plus|ne m'envoyez plus|"
    r"(me |vous )?desinscri(re|vez|ption|s-moi|vez-moi)|desinscrivez|"
    r"(me )?desabonn(er|ez|ement|e-moi|ez-moi)|"
    r"(retirez|supprimez|enlevez|rayez)[- ]moi|"
    r"arretez de m'(envoyer|ecrire|contacter|appeler|relancer)|"
    r"unsubscribe|remove me|stop (contacting|emailing|writing)|do not contact me|don't contact me",
)  # fmt: skip


def says_stop(own: str) -> bool:
    """An opt-out in the writer's own words: they begin with STOP (a greeting before is allowed), or plainly
    ask to hear no more in French ("Merci de ne plus me contacter", "Je souhaite me désinscrire")."""
    plain = _plain(own)
    lines = [line.strip() for line in plain.split("\n") if line.strip()]
    if lines:
        lines[0] = _GREETING.sub("", lines[0], count=1).strip()  # "Bonjour, STOP" or "Bonjour,\nSTOP"
        first = lines[0] or (lines[1] if len(lines) > 1 else "")
        if _STOP_FIRST.match(first):
            return True
    return bool(_NO_MORE.search(" ".join(plain.split())))


# --- an out-of-office reply's return date ------------------------------------------------------------------------

_MONTHS = {
    "janvier": 1, "janv": 1, "january": 1, "jan": 1, "fevrier": 2, "fevr": 2, "fev": 2, "february": 2, "feb": 2,
    "mars": 3, "march": 3, "mar": 3, "avril": 4, "avr": 4, "april": 4, "apr": 4, "mai": 5, "may": 5, "juin": 6,
    "june": 6, "jun": 6, "juillet": 7, "juil": 7, "july": 7, "jul": 7, "aout": 8, "august": 8, "aug": 8,
    "septembre": 9, "sept": 9, "september": 9, "sep": 9, "octobre": 10, "oct": 10, "october": 10,
    "novembre": 11, "nov": 11, "november": 11, "decembre": 12, "dec": 12, "december": 12,
}  # fmt: skip
_BACK = re.compile(
    r"(de retour|retour (prevu )?(le|au)|je reviens|je serai (de retour|present|presente|disponible)|absente? "
    r"jusqu'(au|a)|jusqu'au|back (on|in the office on)|return(ing)? (on|to the office on)|until|returning)\s+"
    r"(?:le |on |the )?(?:(?:lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche|monday|tuesday|wednesday|thursday|"
    r"friday|saturday|sunday),?\s+)?(?=(?P<rest>[^\n]{0,40}))",  # a look-ahead: the next phrase is searched too
)  # fmt: skip
_DAY_MONTH = re.compile(r"^(?P<d>\d{1,2})(?:er|st|nd|rd|th)?\s+(?P<m>[a-z]+)\.?(?:\s+(?P<y>\d{4}))?")
_MONTH_DAY = re.compile(r"^(?P<m>[a-z]+)\.?\s+(?P<d>\d{1,2})(?:st|nd|rd|th)?,?(?:\s+(?P<y>\d{4}))?")
_NUMERIC = re.compile(r"^(?P<d>\d{1,2})[/.](?P<m>\d{1,2})(?:[/.](?P<y>\d{2,4}))?")


def return_date(text: str, received: datetime | None = None) -> date | None:
    """The day an out-of-office reply says its writer is back ("de retour le lundi 14 décembre 2026",
    "absente jusqu'au 11/12", "back on 14 December"); a date without its year is the next one after
    ``received``. "Jusqu'au"/"until" a day: back the day after is not assumed, the day is given as written."""
    plain = _plain(text)
    # "de retour le 14" wins over "absent jusqu'au 11" in the same text: the return is what the adviser needs
    matches = sorted(_BACK.finditer(plain), key=lambda m: bool(re.match(r"(absente? )?jusqu|until", m.group(1))))
    for match in matches:
        rest = match.group("rest").strip()
        for pattern in (_DAY_MONTH, _MONTH_DAY, _NUMERIC):
            if not (found := pattern.match(rest)):
                continue
            month_text = found.group("m")
            month = int(month_text) if month_text.isdigit() else _MONTHS.get(month_text)
            if month is None:
                continue
            day, year_text = int(found.group("d")), found.group("y")
            year = int(year_text) + (2000 if year_text and len(year_text) == 2 else 0) if year_text else None
            try:
                if year is not None:
                    return date(year, month, day)
                base = (received or datetime.now()).date()
                candidate = date(base.year, month, day)
                return candidate if candidate >= base else date(base.year + 1, month, day)
            except ValueError:
                continue
    return None
