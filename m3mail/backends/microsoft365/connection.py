"""An O365 account that authenticates app-only with msal against a settable authority, and drives Graph.

Two things stock O365 does not do for us (see shared/graph/o365-notes.md):
- it builds its msal application with Microsoft's authority and instance discovery, which cannot point at
  a national cloud's or a test emulator's authority: ``GraphConnection.msal_client`` builds it from ours;
- in app-only mode its token refresh crashes once the token expires (msal drops it from the cache, then O365
  asks msal with no scopes): we ask msal for the token before every request, which msal answers from its
  cache and renews five minutes before expiry.
O365's own retries and delay are turned off: tenacity, outside, owns the retry policy.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import requests
import requests.adapters
from msal import ConfidentialClientApplication
from O365 import Account, MSGraphProtocol
from O365.connection import Connection
from O365.utils.token import MemoryTokenBackend

GRAPH_SCOPES = ["https://graph.microsoft.com/.default"]

# O365 logs each failed request with its URL, which may hold a client folder's name ($filter=displayName eq
# '...'): never in m3mail's logs. Its errors reach m3mail as exceptions, reported without client data.
_o365_log = logging.getLogger("O365")
_o365_log.addHandler(logging.NullHandler())
_o365_log.propagate = False


@dataclass(frozen=True)
class GraphAccess:
    """Where and as whom m3mail talks to Graph. ``credential`` is a client secret, or a certificate as msal
    takes it: ``{"private_key": PEM, "thumbprint": HEX}``."""

    tenant_id: str
    client_id: str
    credential: str | dict[str, str]
    graph_url: str = "https://graph.microsoft.com"
    authority_url: str = "https://login.microsoftonline.com"
    ca_bundle: str | None = None  # a CA file to trust instead of the system's (an emulator's, a proxy's)
    timeout: float = 30.0
    # every Graph request goes through it when set (a requests transport adapter, mounted on graph_url): tests
    # inject one to stop the process at a chosen request; None: requests' own
    transport: requests.adapters.BaseAdapter | None = field(default=None, compare=False)

    @property
    def authority(self) -> str:
        return f"{self.authority_url.rstrip('/')}/{self.tenant_id}"

    @property
    def verify(self) -> str | bool:
        return self.ca_bundle or True


class _PinnedVerify(requests.Session):
    """A session that checks every certificate against ``verify``. requests otherwise lets the environment's
    REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override a session's own ``verify``, so that a CA file set in the
    settings would be silently ignored on machines that set them."""

    def __init__(self, verify: str):
        super().__init__()
        self.verify = verify

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        if kwargs.get("verify") is None:
            kwargs["verify"] = self.verify
        return super().request(method if isinstance(method, str) else method.decode(), url, *args, **kwargs)


class GraphConnection(Connection):
    """O365's connection, with msal built from ``access`` and a fresh token before every request."""

    access: GraphAccess
    _msal_client: ConfidentialClientApplication | None  # O365's Connection sets both, untyped
    session: requests.Session | None

    @property
    def msal_client(self) -> ConfidentialClientApplication:
        if self._msal_client is None:
            pinned = {"http_client": _PinnedVerify(self.access.ca_bundle)} if self.access.ca_bundle else {}
            self._msal_client = ConfidentialClientApplication(
                self.access.client_id, client_credential=self.access.credential, authority=self.access.authority,
                instance_discovery=False, verify=self.access.verify, token_cache=self.token_backend,
                timeout=self.access.timeout, **pinned,
            )  # fmt: skip
        return self._msal_client

    def token(self) -> str:
        """A valid access token: from msal's cache, renewed before it expires."""
        try:
            result = self.msal_client.acquire_token_for_client(scopes=GRAPH_SCOPES)
        except (ValueError, requests.RequestException) as e:  # msal: an authority it cannot read, or unreachable
            raise PermissionError(f"the sign-in service at {self.access.authority} failed: {e}") from None
        if "access_token" not in result:
            raise PermissionError(f"{result.get('error')}: {result.get('error_description', '')}".strip())
        return str(result["access_token"])

    def oauth_request(self, url: str, method: str, **kwargs: Any) -> requests.Response:
        token = self.token()
        if self.session is None:
            self.session = self.get_session()
            if self.access.transport is not None:
                self.session.mount(self.access.graph_url.rstrip("/") + "/", self.access.transport)
        self.update_session_auth_header(access_token=token)
        if self.access.ca_bundle:  # the settings' CA file, whatever REQUESTS_CA_BUNDLE says (see _PinnedVerify)
            kwargs.setdefault("verify", self.access.ca_bundle)
        # Not O365's oauth_request: it takes a first 401/403 for an expired token and "refreshes" it by asking
        # msal with no scopes, which crashes. The token above is fresh from msal, so a 40x is Graph's answer.
        response: requests.Response = self._internal_request(self.session, url, method, ignore40x=False, **kwargs)
        return response


class _Account(Account):
    connection_constructor = GraphConnection


def graph_account(access: GraphAccess, mailbox: str | None = None) -> Account:
    """An O365 account for app-only access; ``mailbox`` is the default resource (a user's address)."""

    class Protocol(MSGraphProtocol):
        _protocol_url = access.graph_url.rstrip("/") + "/"

    account = _Account(
        (access.client_id, access.credential if isinstance(access.credential, str) else ""),
        auth_flow_type="credentials", tenant_id=access.tenant_id, protocol=Protocol(default_resource=mailbox),
        token_backend=MemoryTokenBackend(), verify_ssl=access.verify, timeout=access.timeout,
        request_retries=0, requests_delay=0, raise_http_errors=True,
        default_headers={"Prefer": 'IdType="ImmutableId"'},
    )  # fmt: skip
    account.con.access = access
    return account
