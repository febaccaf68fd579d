"""International addresses as mail systems take them (RFC 5890/5891 IDNA, RFC 6531/6532 SMTPUTF8), never as
RFC 2047 encoded words, which are for display text only (RFC 2047 §5)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from m3mail.addresses import normalised, wire
from m3mail.backends.local import LocalBackend
from m3mail.backends.microsoft365.shapes import message
from m3mail.models import MailSpec

ADVISER = "claire.martin@cabinet-exemple.fr"


@pytest.mark.parametrize(
    "address, written, utf8",
    [
        ("jean.dupont@example.fr", "jean.dupont@example.fr", False),
        ("jean@exämple.fr", "jean@xn--exmple-cua.fr", False),  # the domain in IDNA: plain ASCII
        ("jean@Exämple.FR", "jean@xn--exmple-cua.fr", False),
        ("jérôme@example.fr", "jérôme@example.fr", True),  # no ASCII form: SMTPUTF8
        ("jérôme@exämple.fr", "jérôme@xn--exmple-cua.fr", True),
    ],
)
def test_an_address_is_written_the_way_servers_take_it(address: str, written: str, utf8: bool) -> None:
    assert wire(address) == (written, utf8)


def test_addresses_compare_whatever_form_a_report_writes_them_in() -> None:
    assert normalised("Jean@Exämple.fr") == normalised("<jean@xn--exmple-cua.FR>") == "jean@xn--exmple-cua.fr"


def mail(to: str) -> MailSpec:
    return MailSpec("M3-C1#email", ADVISER, (to,), "Votre contrat", "Bonjour", "<p>Bonjour</p>",
                    sender_name="Claire Martin", when=datetime(2026, 12, 1, 10, tzinfo=UTC))  # fmt: skip


@pytest.mark.parametrize("to", ["jean@exämple.fr", "jérôme@example.fr"])
def test_the_local_backend_never_writes_an_encoded_word_in_to(tmp_path, to: str) -> None:
    backend = LocalBackend(tmp_path, [ADVISER])
    backend.send(ADVISER, mail(to))
    (path,) = (tmp_path / "mail" / ADVISER / "Sent" / "cur").iterdir()
    raw = path.read_bytes()
    header = next(line for line in raw.split(b"\n") if line.startswith(b"To:"))
    assert b"=?" not in header and header.decode("utf-8").strip() == f"To: {wire(to)[0]}"


def test_graph_is_given_the_idna_domain() -> None:
    assert message(mail("jean@exämple.fr"), flags=None)["toRecipients"] == [
        {"emailAddress": {"address": "jean@xn--exmple-cua.fr"}}]  # fmt: skip
