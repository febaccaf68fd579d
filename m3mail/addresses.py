"""Email addresses as mail systems take them: international domains in IDNA, non-ASCII local parts as SMTPUTF8.

A domain such as ``exämple.fr`` is written ``xn--exmple-cua.fr`` (IDNA 2008 with UTS 46 mapping, RFC 5890 and
RFC 5891, as email-validator computes it); a local part such as ``jérôme`` cannot be written in ASCII at all and
needs SMTPUTF8 (RFC 6531, RFC 6532: the header carries it in UTF-8). Never RFC 2047 encoded words: they are for
display names and unstructured text, not for an address (RFC 2047 §5), and a server takes ``jean@=?utf-8?...?=``
for no address at all.
"""

from __future__ import annotations

from contextlib import suppress

import idna
from email_validator import EmailNotValidError, validate_email

__all__ = ["normalised", "wire"]


def wire(address: str) -> tuple[str, bool]:
    """The address as written in a header or given to a server, and whether it needs SMTPUTF8 (its local part
    is not ASCII). An address email-validator refuses is given back as it is (the export reported it)."""
    try:
        valid = validate_email(address, check_deliverability=False, allow_smtputf8=True)
    except EmailNotValidError:
        return address, not address.isascii()
    if valid.ascii_email:
        return valid.ascii_email, False
    return f"{valid.local_part}@{valid.ascii_domain}", True


def normalised(address: str) -> str:
    """An address as reports and m3mail compare them: trimmed, lower case, its domain in IDNA (xn--) form."""
    local, at, domain = address.strip().strip("<>").rpartition("@")
    if not at:
        return address.strip().lower()
    with suppress(idna.IDNAError, UnicodeError):  # a domain IDNA cannot write is compared as it is
        domain = idna.encode(domain, uts46=True).decode("ascii")
    return f"{local.lower()}@{domain.lower()}"
