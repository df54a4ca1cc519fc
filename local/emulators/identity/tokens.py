"""Both sides of the local authority's tokens: getting one with MSAL, and validating one inside an emulator.

The emulators (Dataverse, Business Central) must reject exactly what the real services reject — no token, a token for
another resource, an expired or forged one — otherwise auth bugs in the Functions app would only show up in Azure.
Acquisition goes through unmodified MSAL so the local stack exercises the same library path as production.

All HTTP here uses an explicit `requests.Session` with `trust_env = False`: with `trust_env` on, a global
`REQUESTS_CA_BUNDLE` silently overrides `verify=` and the local authority's self-signed certificate is rejected.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import msal  # type: ignore[import-untyped]
import requests

from local.emulators.identity.keys import CERT_FILE, default_cert_dir

DEFAULT_AUTHORITY_URL = "https://127.0.0.1:7083"
_LEEWAY_S = 30
_REFETCH_COOLDOWN_S = 1.0  # an unknown kid refetches the JWKS, but junk kids cannot turn into a request flood
_HTTP_TIMEOUT_S = 10


@dataclass(frozen=True)
class Principal:
    """Who called: the app (client id), its service principal / application user (object id), and the tenant."""

    client_id: str
    object_id: str
    tenant_id: str


class InvalidToken(Exception):
    """The request's credentials are unacceptable.

    `reason` is human-readable and safe to return in a 401 body; `code` is a stable machine-readable kind
    (missing_header, not_bearer, malformed, unknown_key, bad_signature, expired, not_yet_valid, wrong_audience,
    authority_unavailable) for emulators that branch on it and for tests.
    """

    def __init__(self, reason: str, code: str = "invalid_token") -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


class AuthorityUnavailable(InvalidToken):
    """The signing keys could not be fetched: an environment problem (authority down), not the caller's fault."""


def _trusting_session(ca_file: str | Path | None) -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    if ca_file is not None:
        session.verify = str(ca_file)
    return session


def _same_audience(actual: str, expected: str) -> bool:
    return actual.removesuffix("/") == expected.removesuffix("/")


class TokenValidator:
    """Validates `Authorization: Bearer <jwt>` headers against the local authority's JWKS for one audience.

    Keys are fetched on first use (no I/O in the constructor, so emulators can build one before the authority is up)
    and cached; a token whose `kid` is unknown triggers one refetch, which covers an authority restarted with new keys.
    """

    def __init__(self, authority_url: str, ca_file: str | Path | None, audience: str) -> None:
        self.jwks_url = f"{authority_url.rstrip('/')}/common/discovery/v2.0/keys"
        self.audience = audience
        self._session = _trusting_session(ca_file)
        self._lock = threading.Lock()
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: float | None = None

    def _fetch_keys(self) -> None:
        """Replace the key cache from the JWKS endpoint; the caller holds the lock."""
        try:
            response = self._session.get(self.jwks_url, timeout=_HTTP_TIMEOUT_S)
            response.raise_for_status()
            document: Any = response.json()
        except (requests.RequestException, ValueError) as exc:
            raise AuthorityUnavailable(
                f"cannot fetch signing keys from {self.jwks_url}: {exc}", "authority_unavailable"
            ) from exc
        keys: dict[str, jwt.PyJWK] = {}
        for entry in document.get("keys", []) if isinstance(document, dict) else []:
            if not isinstance(entry, dict) or "kid" not in entry or entry.get("use", "sig") != "sig":
                continue
            try:
                keys[str(entry["kid"])] = jwt.PyJWK(entry, algorithm="RS256")
            except jwt.PyJWKError:
                continue  # a key type we do not use; Entra's JWKS may list several
        self._keys = keys
        self._fetched_at = time.monotonic()

    def _key_for(self, kid: str) -> jwt.PyJWK:
        with self._lock:
            if kid not in self._keys:
                recently = self._fetched_at is not None and time.monotonic() - self._fetched_at < _REFETCH_COOLDOWN_S
                if self._fetched_at is None or not recently:
                    self._fetch_keys()
            key = self._keys.get(kid)
        if key is None:
            raise InvalidToken(f"token signed with unknown key id {kid!r}", "unknown_key")
        return key

    def validate(self, authorization_header: str | None) -> Principal:
        """Return the calling principal, or raise InvalidToken saying precisely what is wrong."""
        if not authorization_header or not authorization_header.strip():
            raise InvalidToken("missing Authorization header", "missing_header")
        scheme, _, token = authorization_header.strip().partition(" ")
        if scheme.lower() != "bearer":
            raise InvalidToken(f"Authorization scheme is {scheme!r}, expected Bearer", "not_bearer")
        token = token.strip()
        try:
            header = jwt.get_unverified_header(token)
        except jwt.DecodeError as exc:
            raise InvalidToken(f"malformed token: {exc}", "malformed") from exc
        if header.get("alg") != "RS256":
            raise InvalidToken(f"unexpected token algorithm {header.get('alg')!r}, expected RS256", "malformed")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise InvalidToken("malformed token: header has no kid", "malformed")
        key = self._key_for(kid)
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key,
                algorithms=["RS256"],
                leeway=_LEEWAY_S,
                # The audience is checked below: PyJWT compares exactly, Entra-issued audiences may differ by a '/'.
                options={"verify_aud": False, "require": ["exp", "nbf", "aud"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise InvalidToken("token expired", "expired") from exc
        except jwt.ImmatureSignatureError as exc:
            raise InvalidToken("token not yet valid (nbf in the future)", "not_yet_valid") from exc
        except jwt.InvalidSignatureError as exc:
            raise InvalidToken("bad token signature", "bad_signature") from exc
        except jwt.InvalidTokenError as exc:
            raise InvalidToken(f"malformed token: {exc}", "malformed") from exc
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if not any(isinstance(aud, str) and _same_audience(aud, self.audience) for aud in audiences):
            raise InvalidToken(f"wrong audience {claims['aud']!r}, expected {self.audience!r}", "wrong_audience")
        client_id = claims.get("appid") or claims.get("azp")
        object_id, tenant_id = claims.get("oid"), claims.get("tid")
        if not (isinstance(client_id, str) and isinstance(object_id, str) and isinstance(tenant_id, str)):
            raise InvalidToken("malformed token: appid/azp, oid and tid claims are required", "malformed")
        return Principal(client_id=client_id, object_id=object_id, tenant_id=tenant_id)


def local_authority_settings() -> tuple[str, Path]:
    """(authority URL, CA file to trust) from `LOCAL_AUTHORITY_URL` / `LOCAL_AUTHORITY_CA_FILE`, with local defaults."""
    url = os.environ.get("LOCAL_AUTHORITY_URL") or DEFAULT_AUTHORITY_URL
    ca_file = os.environ.get("LOCAL_AUTHORITY_CA_FILE")
    return url.rstrip("/"), Path(ca_file) if ca_file else default_cert_dir() / CERT_FILE


def acquire_local_token(
    authority_url: str,
    ca_file: str | Path,
    client_id: str,
    client_secret: str,
    resource: str,
    tenant: str = "organizations",
) -> str:
    """An app-only access token for `resource` from the local authority, obtained through unmodified MSAL.

    A fresh MSAL app per call (no shared token cache): callers wanting reuse should keep the token until near expiry.
    """
    scope = resource.rstrip("/") + "/.default"
    authority = f"{authority_url.rstrip('/')}/{tenant}"
    with _trusting_session(ca_file) as session:
        try:
            app = msal.ConfidentialClientApplication(
                client_id,
                client_credential=client_secret,
                authority=authority,
                instance_discovery=False,
                http_client=session,
            )
            result: dict[str, Any] = app.acquire_token_for_client(scopes=[scope])
        except (ValueError, requests.RequestException) as exc:
            raise RuntimeError(
                f"could not reach the local authority at {authority} (is `python -m local.emulators.identity` "
                f"running, and is {ca_file} its certificate?): {exc}"
            ) from exc
    token = result.get("access_token")
    if isinstance(token, str):
        return token
    raise RuntimeError(
        f"local authority refused a token for {scope!r} (client {client_id!r}): error={result.get('error')!r} "
        f"error_codes={result.get('error_codes')!r} correlation_id={result.get('correlation_id')!r} "
        f"description={result.get('error_description')!r}"
    )
