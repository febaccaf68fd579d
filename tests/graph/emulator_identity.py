"""Identity in the Graph emulator: what msal asks Entra ID for (the OpenID configuration, a client-credentials
token, by secret or by certificate), access tokens as JWTs whose ``roles`` claim carries the app's application
permissions as they were when the token was issued, and the bearer token check every Graph request goes through.

``Identity`` is a part of ``GraphEmulator``. Public, and importable from ``tests.graph.emulator``: ``ALL_ROLES``
and ``token_claims(token)``.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from typing import Any

from tests.graph.emulator_protocol import GraphError, Reply, Request, _aad_error

ALL_ROLES = frozenset({"Calendars.ReadWrite", "Mail.ReadWrite", "Mail.Send", "MailboxSettings.ReadWrite"})


class Identity:
    """Tokens issued and checked; ``GraphEmulator.__init__`` sets the state below."""

    tenant: str
    base_url: str
    roles: set[str]  # application permissions, read when a token is issued
    client_id: str | None  # None: any
    client_secret: str | None  # None: any
    app_object_id: str
    tokens: dict[str, float]  # access token -> expiry (time.monotonic)
    token_lifetime: int

    # --- identity: what msal asks for -------------------------------------------------------------------------

    def openid_configuration(self) -> Reply:
        base = f"{self.base_url}/{self.tenant}"
        return Reply(200, {
            "issuer": f"{base}/v2.0", "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "token_endpoint": f"{base}/oauth2/v2.0/token", "jwks_uri": f"{base}/discovery/v2.0/keys",
            "response_types_supported": ["code", "id_token", "token"], "tenant_region_scope": "EU",
        })  # fmt: skip

    def token(self, form: dict[str, str]) -> Reply:
        """Client credentials: a secret, or a signed assertion (a certificate; its signature is not checked).
        The token is a JWT carrying the app's roles as they are now."""
        client = form.get("client_id", "")
        if form.get("grant_type") != "client_credentials" or not client:
            return Reply(400, {"error": "unsupported_grant_type", "error_description": "client_credentials only"})
        if self.client_id is not None and client != self.client_id:
            return _aad_error(400, "unauthorized_client", 700016, f"Application with identifier '{client}' was not "
                              f"found in the directory '{self.tenant}'.")  # fmt: skip
        secret, assertion = form.get("client_secret"), form.get("client_assertion")
        if not secret and not assertion:
            return _aad_error(401, "invalid_client", 7000216, "'client_assertion', 'client_secret' or 'request' is "
                              "required for the 'client_credentials' grant type.")  # fmt: skip
        if secret and self.client_secret is not None and secret != self.client_secret:
            return _aad_error(401, "invalid_client", 7000215, "Invalid client secret provided. Ensure the secret "
                              "being sent in the request is the client secret value, not the client secret ID, for a "
                              f"secret added to app '{client}'.")  # fmt: skip
        scope = form.get("scope", "")
        if not any(s.endswith("/.default") for s in scope.split()):
            return _aad_error(400, "invalid_scope", 1002012, f"The provided value for scope {scope} is not valid. "
                              "Client credential flows must have a scope value with /.default suffixed to the "
                              "resource identifier (application ID URI).")  # fmt: skip
        token = self._jwt(client, "2" if assertion else "1")
        self.tokens[token] = time.monotonic() + self.token_lifetime
        lifetime = self.token_lifetime
        return Reply(200, {"token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime,
                           "access_token": token})  # fmt: skip

    def _jwt(self, client: str, acr: str) -> str:
        """An app-only access token as Entra ID writes them; the signature is random (msal does not check it)."""
        now = int(time.time())
        kid = _b64url(secrets.token_bytes(20))
        header = {"typ": "JWT", "alg": "RS256", "x5t": kid, "kid": kid}
        claims: dict[str, Any] = {
            "aud": "https://graph.microsoft.com", "iss": f"https://sts.windows.net/{self.tenant}/", "iat": now,
            "nbf": now, "exp": now + self.token_lifetime, "app_displayname": "m3mail", "appid": client,
            "appidacr": acr, "idtyp": "app", "oid": self.app_object_id, "sub": self.app_object_id,
            "tid": self.tenant, "uti": _b64url(secrets.token_bytes(16)), "ver": "1.0",
        }  # fmt: skip
        if self.roles:  # an app with no application permission gets a token with no roles claim at all
            claims["roles"] = sorted(self.roles)
        parts = [_b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims)]
        return ".".join([*parts, _b64url(secrets.token_bytes(256))])

    def _authenticate(self, request: Request) -> dict[str, Any]:
        """The claims of the bearer token (one this emulator issued and that has not expired)."""
        header = request.headers.get("Authorization", "")
        token = header.removeprefix("Bearer ") if header.startswith("Bearer ") else ""
        expiry = self.tokens.get(token)
        if expiry is None:
            raise GraphError(401, "InvalidAuthenticationToken", "Access token is empty or invalid.")
        if expiry < time.monotonic():
            raise GraphError(401, "InvalidAuthenticationToken", "Lifetime validation failed, the token is expired.")
        return token_claims(token)


def token_claims(token: str) -> dict[str, Any]:
    """The payload of a JWT access token (no signature check), as a test or a doctor reads it."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
