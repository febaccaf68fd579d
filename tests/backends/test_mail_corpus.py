"""Real mail through both backends: the corpus of tests/data/mail/ (failure reports, delays, automatic replies,
feedback reports, people's replies, as each mail system writes them; corpus.json says what each one is).

Each message is rewritten to be about an email m3mail just sent (its Message-ID, the client's and the adviser's
addresses, its subject), then dropped in the adviser's Inbox: a Maildir file for the local backend, a message
delivered to the Graph emulator's mailbox (stored as Exchange stores it) for Microsoft 365. Both backends must
classify it as the corpus says, and lead the follow-up to the same change: a failure to the letter, a complaint
or a STOP to an opt-out, a reply to its end, a delay and an automatic reply to nothing. A reply is filed.
"""

from __future__ import annotations

import json
import mailbox
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest

from m3mail.backends.base import Backend
from m3mail.backends.local import LocalBackend
from m3mail.backends.microsoft365.backend import Microsoft365Backend
from m3mail.backends.microsoft365.connection import GraphAccess
from m3mail.followup import Rules, read_mail
from m3mail.models import Client, FollowUp, InboundMail, MailKind, MailSpec, SentMail, State
from tests.graph.emulator import GraphEmulator, Mailbox

CORPUS = Path(__file__).parents[1] / "data" / "mail"
ADVISER = "claire.martin@cabinet-exemple.fr"
CLIENT = "jean.dupont@example.fr"
SUBJECT = "Votre contrat Auto : tout se passe bien ?"
SENT_AT = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
ARRIVED = SENT_AT + timedelta(hours=1)
EXPECTED = {"bounce": "bounced", "feedback": "opted out", "reply": "replied", "stop": "opted out", "delay": None,
            "auto": "automatic reply", "unreadable": None}  # fmt: skip  # an automatic reply is noted, nothing more


def entries() -> list[dict[str, Any]]:
    return json.loads((CORPUS / "corpus.json").read_text(encoding="utf-8"))


def email_of() -> MailSpec:
    text = ("Bonjour Monsieur Dupont,\n\nJe reviens vers vous trois mois après la souscription de votre contrat Auto."
            "\n\nSi vous ne souhaitez plus recevoir ce type de message de ma part, répondez simplement STOP à cet "
            "email.\n\nClaire Martin")  # fmt: skip
    return MailSpec("M3-C1-20261130#email", ADVISER, (CLIENT,), SUBJECT, text, "", sender_name="Claire Martin",
                    when=SENT_AT)  # fmt: skip


def rewritten(raw: bytes, sent: SentMail) -> bytes:
    """The corpus message made about ``sent``."""
    for name, value in (("{{MESSAGE_ID}}", sent.message_id.strip("<>")), ("{{CLIENT}}", CLIENT),
                        ("{{ADVISER}}", ADVISER), ("{{SUBJECT}}", SUBJECT), ("{{DATE}}", format_datetime(ARRIVED))):
        raw = raw.replace(name.encode(), value.encode("utf-8"))
    return raw


def follow_up(sent: SentMail) -> FollowUp:
    return FollowUp("M3-C1-20261130", Client("C1", email=CLIENT), ADVISER, (), SENT_AT.date(), SENT_AT.date(),
                    SENT_AT.date(), 1, SENT_AT, state=State.EMAILED, emailed_at=SENT_AT,
                    email_message_id=sent.message_id, email_conversation=sent.conversation,
                    email_subject=SUBJECT)  # fmt: skip


def local_inbox(tmp: Path, raw: bytes) -> tuple[Backend, SentMail, list[InboundMail]]:
    backend = LocalBackend(tmp, [ADVISER], clock=lambda: SENT_AT)
    sent = backend.send(ADVISER, email_of())
    inbox = mailbox.Maildir(tmp / "mail" / ADVISER / "Inbox", create=False)
    key = inbox.add(rewritten(raw, sent))
    arrived = ARRIVED.timestamp()  # when the file was delivered: the date of a message without its Date field
    os.utime(tmp / "mail" / ADVISER / "Inbox" / "new" / key, (arrived, arrived))
    return backend, sent, backend.inbox(ADVISER, SENT_AT - timedelta(days=1))


@pytest.fixture(scope="module")
def graph(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GraphEmulator]:
    emulator = GraphEmulator(mailboxes=(ADVISER,))
    emulator.start(folder=tmp_path_factory.mktemp("tls"))
    yield emulator
    emulator.stop()


def graph_inbox(graph: GraphEmulator, raw: bytes) -> tuple[Backend, SentMail, list[InboundMail]]:
    graph.mailboxes = {ADVISER: Mailbox(ADVISER)}
    base = graph.base_url
    backend = Microsoft365Backend(GraphAccess(graph.tenant, "m3mail-app", "a-secret", graph_url=base,
                                              authority_url=base, ca_bundle=str(graph.ca_file)))  # fmt: skip
    sent = backend.send(ADVISER, email_of())
    graph.deliver_mime(ADVISER, rewritten(raw, sent), when=ARRIVED)
    return backend, sent, backend.inbox(ADVISER, SENT_AT - timedelta(days=1))


def outcome(sent: SentMail, inbox: list[InboundMail]) -> str | None:
    change, _replies = read_mail(follow_up(sent), inbox, ARRIVED + timedelta(minutes=5), Rules())
    return change.event if change else None


@pytest.fixture(autouse=True)
def _no_ca_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "M3MAIL_EMULATOR_LOG"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize("entry", entries(), ids=lambda e: e["file"])
def test_each_message_is_read_alike_by_both_backends_as_the_corpus_says(entry, graph, tmp_path) -> None:
    raw = (CORPUS / entry["file"]).read_bytes()
    results = {}
    readers = {"local": lambda: local_inbox(tmp_path, raw), "microsoft365": lambda: graph_inbox(graph, raw)}
    if entry["kind"] == "unreadable":  # bytes that are not mail reach a Maildir, never an Exchange mailbox
        readers.pop("microsoft365")
    for name, read in readers.items():
        backend, sent, inbox = read()
        (message,) = inbox
        linked = entry["links"] != "none"
        expected = EXPECTED[entry["kind"]] if linked or entry["kind"] in ("delay", "auto") else None
        assert message.kind is MailKind(entry["kind"]), f"{name}: {message.kind} ({message.reason})"
        assert outcome(sent, inbox) == expected, f"{name}: {message.reason}"
        if entry.get("return_date"):
            assert str(message.back_on) == entry["return_date"], name
        if message.kind in (MailKind.REPLY, MailKind.STOP):  # a reply is filed, whatever its subject hides
            filed = MailSpec("M3-C1-20261130#reply-1", message.sender, (ADVISER,), message.subject, message.text,
                             message.html, when=message.received_at)  # fmt: skip
            assert backend.file(ADVISER, ("Clients", "DUPONT Jean (C1)"), filed)
        results[name] = (message.kind, message.back_on, outcome(sent, inbox))
    assert len(set(results.values())) == 1, results
