"""The classifier's rules one by one, on views as the backends make them (the corpus of tests/data/mail/ holds
whole messages as real systems write them; tests/backends/test_mail_corpus.py runs it)."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from m3mail.classify import classify, own_words, return_date, says_stop
from m3mail.models import MailKind, MailPart, MailView

CLIENT = "jean.dupont@example.fr"
SENT = "<M3-C1-20261130.email@m3mail.local>"


def view(*headers: tuple[str, str], sender: str = CLIENT, subject: str = "Re: Votre contrat", text: str = "",
         content_type: str = "text/plain", report_type: str = "", parts: tuple[MailPart, ...] = ()) -> MailView:
    fields = (("From", sender), ("Subject", subject), *headers)
    return MailView(fields, sender, subject, content_type, report_type, text, parts)


def dsn(action: str, status: str) -> MailPart:
    return MailPart("message/delivery-status", f"Reporting-MTA: dns; mx.example.fr\n\nFinal-Recipient: rfc822; "
                                               f"{CLIENT}\nAction: {action}\nStatus: {status}\n")  # fmt: skip


DAEMON = "mailer-daemon@mx.example.fr"


@pytest.mark.parametrize(
    "message, kind",
    [
        # RFC 3464: the fields decide, report-type in any case or missing
        (view(sender=DAEMON, content_type="multipart/report", report_type="delivery-status",
              parts=(dsn("failed", "5.1.1"),)), MailKind.BOUNCE),
        (view(sender=DAEMON, content_type="multipart/report", report_type="delivery-status",
              parts=(dsn("delayed", "4.4.7"),)), MailKind.DELAY),
        (view(sender=DAEMON, content_type="multipart/report", parts=(dsn("failed", "5.2.2"),)), MailKind.BOUNCE),
        (view(sender=DAEMON, content_type="multipart/mixed", parts=(dsn("delayed", "4.4.1"),)), MailKind.DELAY),
        (view(sender=DAEMON, parts=(dsn("failed", "4.4.7"),)), MailKind.BOUNCE),  # Hotmail: gave up, 4.4.7
        (view(sender=DAEMON, parts=(dsn("expired", ""),)), MailKind.BOUNCE),  # SendGrid's word for it
        (view(sender=DAEMON, parts=(dsn("delivered", "2.0.0"),)), MailKind.AUTO),  # a positive notice
        # reports with no fields: the sender and the words
        (view(("X-MS-Exchange-Message-Is-Ndr", ""), sender="microsoftexchange329e71ec88ae4615bbc36ab6ce41109e@x.fr",
              subject="Undeliverable: Votre contrat"), MailKind.BOUNCE),
        (view(sender="microsoftexchange329e71ec88ae4615bbc36ab6ce41109e@x.fr", subject="Delivery delayed: Votre"),
         MailKind.DELAY),
        (view(sender="", subject="failure notice", text="I'm afraid I wasn't able to deliver"), MailKind.BOUNCE),
        (view(("X-Failed-Recipients", CLIENT), sender="mailer-daemon@mx.example.fr",
              subject="Mail delivery failed: returning message to sender"), MailKind.BOUNCE),
        (view(sender=DAEMON, subject="Warning: message 1abc-00 delayed 24 hours"), MailKind.DELAY),
        (view(sender="", subject="Réponse automatique : Votre contrat"), MailKind.AUTO),  # empty sender, no report
        # complaints
        (view(sender="feedback@arf.mail.yahoo.com", content_type="multipart/report", report_type="feedback-report",
              parts=(MailPart("message/feedback-report", f"Feedback-Type: abuse\nOriginal-Rcpt-To: {CLIENT}"),)),
         MailKind.FEEDBACK),
        (view(sender="staff@hotmail.com", subject="complaint about message from 192.0.2.1"), MailKind.FEEDBACK),
        # automatic replies
        (view(("Auto-Submitted", "auto-replied (vacation)")), MailKind.AUTO),
        (view(("Auto-Submitted", "no")), MailKind.REPLY),
        (view(("X-Apple-Action", "VACATION"), subject="Auto reply: Votre contrat"), MailKind.AUTO),
        (view(("Precedence", "auto_reply")), MailKind.AUTO),
        (view(subject="Absence du bureau"), MailKind.AUTO),
        (view(subject="AUTO: Sylvie Garnier is out of the office (returning 15/12/2026)"), MailKind.AUTO),
        (view(("Return-Path", "<>")), MailKind.AUTO),
        (view(("X-Auto-Response-Suppress", "All"), text="Bonjour, tout va bien."), MailKind.REPLY),  # a person's
        (view(sender="no-reply@notifications.example.fr", subject="Votre demande"), MailKind.AUTO),
        # people
        (view(text="Bonjour, tout va bien, merci."), MailKind.REPLY),
        (view(text="STOP"), MailKind.STOP),
    ],
)  # fmt: skip
def test_what_a_message_is(message: MailView, kind: MailKind) -> None:
    assert classify(message).kind is kind, classify(message).reason


def test_a_report_is_about_the_recipients_it_names_and_the_message_it_returns() -> None:
    returned = MailPart("text/rfc822-headers", f"From: claire@x.fr\nTo: {CLIENT}\nMessage-ID: {SENT}\n")
    found = classify(view(sender=DAEMON, content_type="multipart/report", report_type="delivery-status",
                          parts=(dsn("failed", "5.1.1"), returned)))  # fmt: skip
    assert found.refs == (SENT,) and found.recipients == (CLIENT,)
    qmail = classify(view(sender=DAEMON, subject="failure notice", text=f"<{CLIENT.upper()}>:\nUser unknown\n"))
    assert qmail.kind is MailKind.BOUNCE and qmail.recipients == (CLIENT,) and qmail.refs == ()
    idna = classify(view(sender=DAEMON, parts=(MailPart("message/delivery-status", "Final-Recipient: rfc822; "
                                                         "jean@xn--exmple-cua.fr\nAction: failed"),)))  # fmt: skip
    assert idna.recipients == ("jean@xn--exmple-cua.fr",)


@pytest.mark.parametrize(
    "text, stop",
    [
        ("STOP", True),
        ("Stop merci", True),
        ("stop.", True),
        ("Bonjour, STOP", True),
        ("Bonjour,\n\nSTOP\n\nJean", True),
        ("Merci de ne plus me contacter.", True),
        ("Je souhaite me désinscrire", True),
        ("Veuillez ne plus m'envoyer de messages", True),
        ("Désabonnez-moi", True),
        ("Stop, merci de ne plus m'écrire", True),
        ("   stop.", True),
        ("Merci, je ne veux pas que ça s'arrête", False),
        ("Je voudrais stopper le prélèvement", False),
        ("Bonjour,\n\nLe 24/11/2026, Claire a écrit :\nSTOP", False),
        ("Je voulais savoir si je peux stopper l'option assistance", False),
        ("Le prélèvement ne s'est jamais arrêté", False),
        ("Tout va bien, merci.\n\nLe lun. 7 déc. 2026 à 10:12, Claire Martin <claire@x.fr> a écrit :\n> répondez "
         "simplement STOP à cet email", False),
        ("Tout va bien.\n\nDe : Claire Martin\nEnvoyé : lundi 7 décembre 2026 10:12\nÀ : Jean\nObjet : Votre contrat"
         "\n\nSi vous ne souhaitez plus recevoir ce type de message, répondez simplement STOP", False),
        ("Tout va bien\n> STOP", False),
    ],
)  # fmt: skip
def test_stop_is_the_writer_s_own_word(text: str, stop: bool) -> None:
    assert says_stop(own_words(text)) is stop


RECEIVED = datetime(2026, 12, 7, 10, tzinfo=ZoneInfo("Europe/Paris"))


@pytest.mark.parametrize(
    "text, back",
    [
        ("Je suis absente, de retour le lundi 14 décembre 2026.", date(2026, 12, 14)),
        ("Absente jusqu'au vendredi 11 décembre inclus, de retour le lundi 14 décembre.", date(2026, 12, 14)),
        ("De retour le 21/12.", date(2026, 12, 21)),
        ("I will be back on 14 December 2026.", date(2026, 12, 14)),
        ("Je serai de retour le 4 janvier.", date(2027, 1, 4)),  # the next 4 January
        ("Merci pour votre message.", None),
    ],
)
def test_an_out_of_office_reply_s_return_date(text: str, back: date | None) -> None:
    assert return_date(text, RECEIVED) == back
