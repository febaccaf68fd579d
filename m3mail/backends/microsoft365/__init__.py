"""The Microsoft 365 backend: msal (app-only) and the O365 library over Microsoft Graph.

msal and O365 are imported in this package and nowhere else in m3mail.
"""
from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING

from m3mail.errors import SettingsError, SettingsProblem

if TYPE_CHECKING:
    from requests.adapters import BaseAdapter

    from m3mail.backends.microsoft365.backend import Microsoft365Backend
    from m3mail.settings import Settings


def make_microsoft365(settings: Settings, *, transport: BaseAdapter | None = None) -> Microsoft365Backend:
    """The backend from the settings: a certificate (recommended) or a client secret from the environment;
    ``transport``: a requests adapter every Graph request goes through (tests inject one)."""
    from m3mail.backends.microsoft365.backend import Microsoft365Backend
    from m3mail.backends.microsoft365.connection import GraphAccess

    m = settings.microsoft365
    if m.certificate_key is not None:
        try:
            credential: str | dict[str, str] = {"private_key": m.certificate_key.read_text(),
                                                "thumbprint": m.certificate_thumbprint}  # fmt: skip
        except OSError as e:
            raise SettingsError("settings", [SettingsProblem("microsoft365.certificate_key", str(e))]) from None
    else:
        credential = os.environ.get(m.client_secret_env, "")
        if not credential:
            # named only when it reads as a variable name by convention (capitals, digits, _): a value of
            # any other shape may be the secret itself, typed in the wrong place, and is never echoed
            shown = m.client_secret_env if re.fullmatch(r"[A-Z_][A-Z0-9_]*", m.client_secret_env) else "it names"
            problem = SettingsProblem("microsoft365.client_secret_env",
                                      f"the environment variable {shown} is not set (it holds the client secret; "
                                      "or set certificate_key and certificate_thumbprint)")  # fmt: skip
            raise SettingsError("settings", [problem])
    access = GraphAccess(m.tenant_id, m.client_id, credential, graph_url=m.graph_url, authority_url=m.authority_url,
                         ca_bundle=str(m.ca_bundle) if m.ca_bundle else None, transport=transport)  # fmt: skip
    return Microsoft365Backend(access, settings.timezone, per_mailbox=m.requests_per_mailbox,
                              batching=m.batching)
