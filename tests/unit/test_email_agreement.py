"""parse_email takes a fast path for plain addresses: it must agree with email-validator on every address."""

import random

import pytest
from email_validator import EmailNotValidError, validate_email

from m3mail.portfolio.fields import BadValue, parse_email

TRICKY = [
    "jean.dupont@example.com", "Jean.Dupont@Example.COM", "a+tag@example.fr", "o'neil@example.org",
    "x@@example.fr", "a..b@example.fr", ".a@example.fr", "a.@example.fr", "a@example", "a@localhost",
    "a@example.local", "a@example.test", "a@-example.fr", "a@example-.fr", "a@exa_mple.fr", "a@123.456",
    "a b@example.fr", "é@example.fr", "a@exämple.fr", '"quoted"@example.fr', "a@[127.0.0.1]",
    "x" * 64 + "@example.fr", "x" * 65 + "@example.fr", "a@" + "d" * 64 + ".fr", "a@" + ("d" * 60 + ".") * 5 + "fr",
    "Jean Dupont <jean@example.fr>", "jean@example.fr.", "@example.fr", "jean@", "",
]  # fmt: skip


def _library(address: str) -> str | None:
    try:
        return validate_email(address.strip(), check_deliverability=False).normalized
    except EmailNotValidError:
        return None


def _ours(address: str) -> str | None:
    try:
        return parse_email(address)
    except BadValue:
        return None


@pytest.mark.parametrize("address", TRICKY)
def test_tricky_addresses_agree_with_the_library(address: str) -> None:
    assert _ours(address) == _library(address)


def test_random_addresses_agree_with_the_library() -> None:
    rng = random.Random(5)
    alphabet = "abcXYZ019.-_+'!#@é "
    domains = ["example.com", "EXAMPLE.org", "x.y.fr", "local", "a-.fr", "exa mple.fr", "b.test", "c..fr"]
    for _ in range(3000):
        local = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        address = f"{local}@{rng.choice(domains)}"
        assert _ours(address) == _library(address), address
