"""Access tokens for Business Central and Dataverse, through MSAL: client secret, certificate or managed identity.

One provider per resource (BC: `https://api.businesscentral.dynamics.com`, Dataverse: the org URL), implementing
`http.py`'s `TokenProvider`. Our own cache sits on MSAL's because `get_token()` runs before every request: a field read
under a lock beats a cache search. A token is kept until `REFRESH_MARGIN_S` before expiry (or MSAL's `refresh_in`).

Forced refresh (`invalidate()`, called by `HttpClient` on a 401): MSAL's `acquire_token_for_client` refuses
`force_refresh=True` and would answer from its own cache, so a refresh must empty that cache first. Confidential
clients use `ConfidentialClientApplication.remove_tokens_for_client()`; `ManagedIdentityClient` has no such method,
so each provider gives it a private `msal.TokenCache` and removes its access tokens with `TokenCache.remove_at`.
(`claims_challenge` also bypasses them, but a confidential client sends it to Entra as a `claims` parameter.)

Failures: an Entra refusal (MSAL's `error` result) raises `FatalError` whose code is MSAL's `error` (for example
`invalid_client`), except the OAuth codes that mean "try later", which raise `TransientError`; an unreachable
authority raises `TransientError("AuthorityUnreachable")`. Secrets never appear in a message, a log line or a repr.
MSAL is imported on first use: it is heavy, and nothing here does I/O before the first `get_token()`.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, TypedDict, Unpack

import requests

from shared.domain.errors import FatalError, SyncError, TransientError

LOG = logging.getLogger(__name__)

DEFAULT_AUTHORITY_HOST = "https://login.microsoftonline.com"
BUSINESS_CENTRAL_RESOURCE = "https://api.businesscentral.dynamics.com"
REFRESH_MARGIN_S = 300.0  # MSAL itself treats a token with < 5 minutes left as expired
TRANSIENT_OAUTH_ERRORS = frozenset({"temporarily_unavailable", "server_error"})
_DEFAULT_SUFFIX = "/.default"
_PEM_CERTIFICATE = re.compile(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.DOTALL)
_PEM_PRIVATE_KEY = re.compile(r"-----BEGIN ([A-Z ]*)PRIVATE KEY-----.+?-----END \1PRIVATE KEY-----", re.DOTALL)


def scope_for(resource: str) -> str:
    """`<resource>/.default`, the only scope app-only flows accept; no double slash, idempotent."""
    resource = resource.strip()
    return resource if resource.endswith(_DEFAULT_SUFFIX) else resource.rstrip("/") + _DEFAULT_SUFFIX


class TokenSession(requests.Session):
    """The HTTP client handed to MSAL: no proxy or CA bundle from the environment, and a timeout on every call.

    MSAL sets no timeout on a caller-supplied client, and a token request hanging forever would hang the function.
    """

    def __init__(self, *, verify: bool | str = True, timeout: tuple[float, float] = (5.0, 30.0)) -> None:
        super().__init__()
        self.trust_env = False
        self.verify = verify
        self.timeout = timeout

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout)
        return super().request(method, url, *args, **kwargs)


def _redact(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


class _CachingTokenProvider:
    """Caching, locking, invalidation and error mapping; a subclass only asks MSAL (`_fetch`) and empties its cache.

    The lock is held during a fetch on purpose: concurrent callers wait for one token request instead of all
    sending their own (a stampede Entra would throttle).
    """

    def __init__(self, resource: str, who: str, *, refresh_margin: float, clock: Callable[[], float]) -> None:
        self.resource, self.who = resource.strip(), who
        self.scope = scope_for(self.resource)
        self.refresh_margin = refresh_margin
        self.fetches = 0  # tokens obtained from MSAL (hits of our own cache excluded)
        self._clock = clock
        self._lock = threading.Lock()
        self._client: Any = None  # the MSAL application, built on the first fetch
        self._token: str | None = None
        self._fresh_until = 0.0

    def _fetch(self) -> dict[str, Any]:
        raise NotImplementedError

    def _forget(self) -> None:
        raise NotImplementedError

    def _secrets(self) -> tuple[str, ...]:
        return ()

    def get_token(self) -> str:
        with self._lock:
            now = self._clock()
            if self._token is not None and now < self._fresh_until:
                return self._token
            result = self._call(self._fetch)
            token = result.get("access_token")
            if not isinstance(token, str) or not token:
                raise self._refusal(result)
            expires_in = float(result.get("expires_in") or 0)
            fresh_for = expires_in - self.refresh_margin
            if isinstance(result.get("refresh_in"), int | float):
                fresh_for = min(fresh_for, float(result["refresh_in"]))
            self._token, self._fresh_until = token, now + max(0.0, fresh_for)
            self.fetches += 1
            source = result.get("token_source", "identity provider")
            LOG.info("token for %s (%s): expires in %ss, from %s", self.scope, self.who, int(expires_in), source)
            return token

    def invalidate(self) -> None:
        """Drop our token and MSAL's, so the next `get_token()` asks the identity provider again."""
        with self._lock:
            self._token, self._fresh_until = None, 0.0
            if self._client is not None:
                self._forget()

    def _call(self, action: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """Run an MSAL call, turning every exception into a `SyncError` that names no secret."""
        try:
            return action()
        except SyncError:
            raise
        except requests.exceptions.SSLError as exc:
            detail = f"TLS with the identity provider failed: {exc}"
            raise self._error(FatalError, "AuthorityUntrusted", detail) from self._chain(exc)
        except requests.RequestException as exc:
            detail = f"identity provider unreachable: {exc}"
            raise self._error(TransientError, "AuthorityUnreachable", detail) from self._chain(exc)
        except Exception as exc:  # MSAL raises ValueError, its own errors, PyJWT's: all mean misconfiguration
            detail = f"{type(exc).__name__}: {exc}"
            raise self._error(FatalError, "TokenAcquisitionFailed", detail) from self._chain(exc)

    def _error(self, kind: type[SyncError], code: str, detail: str) -> SyncError:
        return kind(code, _redact(f"token for {self.scope} ({self.who}): {detail}", self._secrets()))

    def _chain(self, cause: Exception) -> Exception | None:
        """The cause to chain for debugging, unless its text carries a secret (a traceback would print it)."""
        text = str(cause)
        return cause if _redact(text, self._secrets()) == text else None

    def _refusal(self, result: dict[str, Any]) -> SyncError:
        code = str(result.get("error") or "no_access_token")
        codes = result.get("error_codes")
        detail = f"{code}{codes if codes else ''}: {result.get('error_description') or 'no token in the response'}"
        kind: type[SyncError] = TransientError if code in TRANSIENT_OAUTH_ERRORS else FatalError
        return self._error(kind, code, detail)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.who}, scope={self.scope!r})"


class ConfidentialOptions(TypedDict, total=False):
    """Options every app-registration provider takes (typed, so a misspelt option fails the type check)."""

    authority_host: str  # default DEFAULT_AUTHORITY_HOST; the local authority's URL in tests
    http_client: requests.Session  # default: a fresh `TokenSession`
    instance_discovery: bool  # default True; False for an authority MSAL does not know (the local one)
    refresh_margin: float
    clock: Callable[[], float]


class _ConfidentialClientProvider(_CachingTokenProvider):
    """An app registration (client credentials flow) in one tenant; `credential` is MSAL's `client_credential`."""

    def __init__(
        self, tenant: str, client_id: str, resource: str, credential: Any, **options: Unpack[ConfidentialOptions]
    ) -> None:
        who = f"client {client_id} in tenant {tenant}"
        margin, clock = options.get("refresh_margin", REFRESH_MARGIN_S), options.get("clock", time.monotonic)
        super().__init__(resource, who, refresh_margin=margin, clock=clock)
        self.tenant, self.client_id = tenant, client_id
        self.authority = f"{options.get('authority_host', DEFAULT_AUTHORITY_HOST).rstrip('/')}/{tenant}"
        self._credential = credential
        self._http_client = options.get("http_client")
        self._instance_discovery = options.get("instance_discovery", True)

    def _fetch(self) -> dict[str, Any]:
        if self._client is None:
            import msal  # type: ignore[import-untyped]  # noqa: PLC0415 - heavy; loaded on first token only

            self._client = msal.ConfidentialClientApplication(
                self.client_id,
                client_credential=self._credential,
                authority=self.authority,
                http_client=self._http_client or TokenSession(),
                instance_discovery=self._instance_discovery,
                token_cache=msal.TokenCache(),
            )
        result: dict[str, Any] = self._client.acquire_token_for_client(scopes=[self.scope])
        return result

    def _forget(self) -> None:
        self._client.remove_tokens_for_client()

    def _secrets(self) -> tuple[str, ...]:
        values = self._credential.values() if isinstance(self._credential, dict) else [self._credential]
        return tuple(str(value) for value in values if value)


class ClientSecretTokenProvider(_ConfidentialClientProvider):
    """App registration + client secret (the simplest setup; a certificate or managed identity is preferred)."""

    def __init__(
        self, tenant: str, client_id: str, secret: str, resource: str, **options: Unpack[ConfidentialOptions]
    ) -> None:
        super().__init__(tenant, client_id, resource, secret, **options)


class CertificateTokenProvider(_ConfidentialClientProvider):
    """App registration + certificate: MSAL signs a client assertion with the private key.

    With `certificate_pem`, MSAL (>= 1.35) signs with PS256 and puts the SHA-256 thumbprint (`x5t#S256`) and the
    certificate chain (`x5c`, needed for Subject Name/Issuer auth) into the assertion header; with only a
    `thumbprint` (SHA-1 hex, as the portal shows it) it signs with RS256 and sends `x5t`.
    """

    def __init__(
        self,
        tenant: str,
        client_id: str,
        private_key_pem: str,
        resource: str,
        *,
        certificate_pem: str | None = None,
        thumbprint: str | None = None,
        passphrase: str | None = None,
        **options: Unpack[ConfidentialOptions],
    ) -> None:
        if not certificate_pem and not thumbprint:
            raise FatalError("InvalidCredential", f"client {client_id}: give the certificate or its thumbprint")
        optional = {"thumbprint": thumbprint, "public_certificate": certificate_pem, "passphrase": passphrase}
        credential = {"private_key": private_key_pem, **{k: v for k, v in optional.items() if v}}
        super().__init__(tenant, client_id, resource, credential, **options)

    @classmethod
    def from_pem_bundle(
        cls, tenant: str, client_id: str, bundle: str, resource: str, **options: Unpack[ConfidentialOptions]
    ) -> CertificateTokenProvider:
        """From one PEM holding key and certificate(s), as Key Vault exports a certificate with PEM content type."""
        key, certs = _PEM_PRIVATE_KEY.search(bundle), _PEM_CERTIFICATE.findall(bundle)
        if key is None or not certs:
            raise FatalError("InvalidCredential", "the PEM bundle needs a private key and a certificate")
        return cls(tenant, client_id, key.group(0), resource, certificate_pem="\n".join(certs), **options)


class ManagedIdentityTokenProvider(_CachingTokenProvider):
    """The Function App's managed identity: system-assigned (`client_id=None`) or user-assigned (its client id).

    MSAL picks the source from the environment at each fetch; on App Service / Functions that is `IDENTITY_ENDPOINT`
    + `IDENTITY_HEADER` (GET `{IDENTITY_ENDPOINT}?api-version=2019-08-01&resource=<resource>[&client_id=<id>]`
    with headers `X-IDENTITY-HEADER` and `Metadata: true`), else Service Fabric, Azure ML, Arc or the VM's IMDS.
    """

    def __init__(
        self,
        resource: str,
        *,
        client_id: str | None = None,
        http_client: requests.Session | None = None,
        refresh_margin: float = REFRESH_MARGIN_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        who = f"managed identity {client_id or 'system-assigned'}"
        super().__init__(resource, who, refresh_margin=refresh_margin, clock=clock)
        self.client_id = client_id
        self._http_client = http_client
        self._cache: Any = None

    def _fetch(self) -> dict[str, Any]:
        if self._client is None:
            import msal  # noqa: PLC0415 - heavy; loaded on first token only

            user_assigned = msal.UserAssignedManagedIdentity(client_id=self.client_id) if self.client_id else None
            self._cache = msal.TokenCache()
            self._client = msal.ManagedIdentityClient(
                user_assigned or msal.SystemAssignedManagedIdentity(),
                http_client=self._http_client or TokenSession(),
                token_cache=self._cache,
            )
        resource = self.resource.removesuffix(_DEFAULT_SUFFIX)  # the endpoint takes a resource, not a scope
        result: dict[str, Any] = self._client.acquire_token_for_client(resource=resource)
        return result

    def _forget(self) -> None:
        for entry in list(self._cache.search(self._cache.CredentialType.ACCESS_TOKEN)):
            self._cache.remove_at(entry)

    def _secrets(self) -> tuple[str, ...]:
        return tuple(s for s in (os.environ.get("IDENTITY_HEADER"), os.environ.get("MSI_SECRET")) if s)
