"""The MSAL token providers (shared/connectors/auth.py) against the local authority, proven by the emulators' checks.

Each provider must produce a token the Dataverse and BC emulators accept, fetch it once and then serve it from
memory, fetch anew after `invalidate()`, and fail with a classified error that never contains the credential.
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from local.emulators.identity.authority import DEFAULT_IDENTITY_HEADER
from local.emulators.identity.credentials import (
    SYSTEM_ASSIGNED_CLIENT_ID,
    certificate_thumbprints,
    verify_client_assertion,
)
from local.emulators.identity.oauth import TokenError, app_object_id
from local.stack.processes import free_port
from shared.connectors.auth import (
    CertificateTokenProvider,
    ClientSecretTokenProvider,
    ManagedIdentityTokenProvider,
    TokenSession,
    scope_for,
)
from shared.connectors.errors import ApiError
from shared.connectors.http import HttpClient, RetryPolicy
from shared.domain.errors import ErrorKind, FatalError, TransientError
from tests.conftest import (
    BC_RESOURCE,
    CLIENT_ID,
    CLIENT_SECRET,
    TENANT,
    Authority,
    BusinessCentralHandle,
    EmulatorHandle,
    plain_session,
)

pytestmark = pytest.mark.integration


class CountingSession(TokenSession):
    """The session handed to MSAL, recording every request it sends (method, URL, headers)."""

    def __init__(self, ca_file: Path) -> None:
        super().__init__(verify=str(ca_file))
        self.sent: list[tuple[str, str, dict[str, str], dict[str, str]]] = []

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        self.sent.append((str(method), str(url), dict(kwargs.get("params") or {}), dict(kwargs.get("headers") or {})))
        return super().request(method, url, *args, **kwargs)

    def token_requests(self) -> int:
        return sum(1 for _, url, _, _ in self.sent if "/oauth2/v2.0/token" in url or "/msi/token" in url)


@dataclass(frozen=True)
class Certificate:
    key_pem: str
    cert_pem: str
    sha1_hex: str


def _certificate(name: str) -> Certificate:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    return Certificate(key_pem, cert_pem, cert.fingerprint(hashes.SHA1()).hex().upper())


@pytest.fixture(scope="module")
def certificates() -> tuple[Certificate, Certificate]:
    """(trusted, untrusted): key generation is the slow part, so once per module."""
    return _certificate("sync-app"), _certificate("impostor")


def _register(authority: Authority, client_id: str, cert: Certificate) -> None:
    (authority.ca_file.parent / "clients" / f"{client_id}.pem").write_text(cert.cert_pem)


def _secret_provider(authority: Authority, resource: str, session: requests.Session, **kw: Any) -> Any:
    options: dict[str, Any] = {"authority_host": authority.url, "http_client": session, "instance_discovery": False}
    return ClientSecretTokenProvider(
        TENANT, kw.pop("client_id", CLIENT_ID), kw.pop("secret", CLIENT_SECRET), resource, **options, **kw
    )


def _who_am_i(dataverse: EmulatorHandle, token: str) -> requests.Response:
    with plain_session() as session:
        return session.get(
            f"{dataverse.base_url}/api/data/v9.2/WhoAmI", headers={"Authorization": f"Bearer {token}"}, timeout=10
        )


def _companies(bc: BusinessCentralHandle, token: str) -> requests.Response:
    with plain_session() as session:
        return session.get(f"{bc.api_root}/companies", headers={"Authorization": f"Bearer {token}"}, timeout=10)


def _claims(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


@pytest.mark.parametrize(
    ("resource", "scope"),
    [
        ("https://api.businesscentral.dynamics.com", "https://api.businesscentral.dynamics.com/.default"),
        ("https://org.crm4.dynamics.com/", "https://org.crm4.dynamics.com/.default"),
        ("https://org.crm4.dynamics.com/.default", "https://org.crm4.dynamics.com/.default"),
    ],
)
def test_scope_for(resource: str, scope: str) -> None:
    assert scope_for(resource) == scope


def test_client_secret_tokens_are_accepted_by_both_emulators(
    authority: Authority, dataverse: EmulatorHandle, business_central: BusinessCentralHandle
) -> None:
    with CountingSession(authority.ca_file) as session:
        dv = _secret_provider(authority, dataverse.resource, session)
        bc = _secret_provider(authority, BC_RESOURCE, session)
        who = _who_am_i(dataverse, dv.get_token())
        assert who.status_code == 200, who.text
        assert who.json()["UserId"] == app_object_id(CLIENT_ID)
        assert _companies(business_central, bc.get_token()).status_code == 200
        assert _claims(bc.get_token())["appidacr"] == "1"


def test_token_is_cached_until_invalidated(authority: Authority, dataverse: EmulatorHandle) -> None:
    with CountingSession(authority.ca_file) as session:
        provider = _secret_provider(authority, dataverse.resource, session)
        first = provider.get_token()
        assert provider.get_token() == first
        assert session.token_requests() == 1
        provider.invalidate()
        second = provider.get_token()
        assert second != first  # a new token (new jti), not MSAL's cached one
        assert session.token_requests() == 2 and provider.fetches == 2
        assert _who_am_i(dataverse, second).status_code == 200


def test_token_is_kept_until_the_refresh_margin(authority: Authority) -> None:
    now = [0.0]
    with CountingSession(authority.ca_file) as session:
        provider = _secret_provider(authority, BC_RESOURCE, session, clock=lambda: now[0])
        provider.get_token()
        now[0] = 3599 - 300 - 1  # the local authority's expires_in is 3599; the margin is 300 s
        provider.get_token()
        assert provider.fetches == 1
        now[0] = 3599 - 300 + 1
        provider.get_token()
        assert provider.fetches == 2  # asked MSAL again (which, in real time, still had it cached)


def test_concurrent_callers_share_one_token_request(authority: Authority) -> None:
    with CountingSession(authority.ca_file) as session:
        provider = _secret_provider(authority, BC_RESOURCE, session)
        tokens: list[str] = []
        threads = [threading.Thread(target=lambda: tokens.append(provider.get_token())) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(tokens) == 8 and len(set(tokens)) == 1
        assert session.token_requests() == 1


def test_wrong_secret_is_fatal_and_never_shows_the_secret(authority: Authority) -> None:
    secret = f"wrong-{uuid.uuid4()}"
    with CountingSession(authority.ca_file) as session:
        provider = _secret_provider(authority, BC_RESOURCE, session, secret=secret)
        with pytest.raises(FatalError) as caught:
            provider.get_token()
    assert caught.value.code == "invalid_client"
    assert caught.value.kind is ErrorKind.FATAL
    assert "AADSTS7000215" in str(caught.value)
    for text in (str(caught.value), repr(caught.value), repr(provider), str(caught.value.__cause__)):
        assert secret not in text


def test_no_io_before_first_use_and_unreachable_authority_is_transient(authority: Authority) -> None:
    closed = f"https://127.0.0.1:{free_port()}"
    with CountingSession(authority.ca_file) as session:
        options: dict[str, Any] = {"authority_host": closed, "http_client": session, "instance_discovery": False}
        provider = ClientSecretTokenProvider(TENANT, CLIENT_ID, CLIENT_SECRET, BC_RESOURCE, **options)
        assert session.sent == []
        with pytest.raises(TransientError) as caught:
            provider.get_token()
    assert caught.value.code == "AuthorityUnreachable"
    assert CLIENT_SECRET not in str(caught.value)


def test_certificate_with_public_certificate_sha256(
    authority: Authority, dataverse: EmulatorHandle, certificates: tuple[Certificate, Certificate]
) -> None:
    client_id = str(uuid.uuid4())
    _register(authority, client_id, certificates[0])
    with CountingSession(authority.ca_file) as session:
        provider = CertificateTokenProvider(
            TENANT,
            client_id,
            certificates[0].key_pem,
            dataverse.resource,
            certificate_pem=certificates[0].cert_pem,
            authority_host=authority.url,
            http_client=session,
            instance_discovery=False,
        )
        token = provider.get_token()
        assert provider.get_token() == token and session.token_requests() == 1
        provider.invalidate()
        assert provider.get_token() != token and session.token_requests() == 2
    claims = _claims(token)
    assert (claims["appid"], claims["appidacr"]) == (client_id, "2")
    who = _who_am_i(dataverse, token)
    assert who.status_code == 200 and who.json()["UserId"] == app_object_id(client_id)


def test_certificate_with_sha1_thumbprint_and_from_a_pem_bundle(
    authority: Authority, business_central: BusinessCentralHandle, certificates: tuple[Certificate, Certificate]
) -> None:
    client_id = str(uuid.uuid4())
    _register(authority, client_id, certificates[0])
    trusted = certificates[0]
    options: dict[str, Any] = {"authority_host": authority.url, "instance_discovery": False}
    with TokenSession(verify=str(authority.ca_file)) as session:
        by_thumbprint = CertificateTokenProvider(
            TENANT, client_id, trusted.key_pem, BC_RESOURCE, thumbprint=trusted.sha1_hex, http_client=session, **options
        )
        bundle = trusted.key_pem + trusted.cert_pem
        from_bundle = CertificateTokenProvider.from_pem_bundle(
            TENANT, client_id, bundle, BC_RESOURCE, http_client=session, **options
        )
        for provider in (by_thumbprint, from_bundle):
            assert _companies(business_central, provider.get_token()).status_code == 200


def test_untrusted_certificate_is_refused(authority: Authority, certificates: tuple[Certificate, Certificate]) -> None:
    trusted, impostor = certificates
    client_id = str(uuid.uuid4())
    _register(authority, client_id, trusted)
    with TokenSession(verify=str(authority.ca_file)) as session:
        provider = CertificateTokenProvider(
            TENANT,
            client_id,
            impostor.key_pem,
            BC_RESOURCE,
            certificate_pem=impostor.cert_pem,
            authority_host=authority.url,
            http_client=session,
            instance_discovery=False,
        )
        with pytest.raises(FatalError) as caught:
            provider.get_token()
    assert caught.value.code == "invalid_client"
    assert "AADSTS700027" in str(caught.value)
    assert impostor.key_pem not in str(caught.value) and "PRIVATE KEY" not in repr(provider)


@pytest.fixture
def app_service_identity(authority: Authority, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The environment App Service / Functions gives a managed identity, pointed at the local authority."""
    for name in ("IDENTITY_SERVER_THUMBPRINT", "MSI_ENDPOINT", "MSI_SECRET", "IMDS_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    endpoint = f"{authority.url}/msi/token"
    monkeypatch.setenv("IDENTITY_ENDPOINT", endpoint)
    monkeypatch.setenv("IDENTITY_HEADER", DEFAULT_IDENTITY_HEADER)
    yield endpoint


def test_system_assigned_managed_identity(
    authority: Authority, dataverse: EmulatorHandle, app_service_identity: str
) -> None:
    with CountingSession(authority.ca_file) as session:
        provider = ManagedIdentityTokenProvider(dataverse.resource, http_client=session)
        token = provider.get_token()
        assert provider.get_token() == token and session.token_requests() == 1
        provider.invalidate()
        assert provider.get_token() != token and session.token_requests() == 2
    method, url, params, headers = session.sent[0]  # exactly what MSAL 1.39 sends on App Service
    assert (method, url) == ("GET", app_service_identity)
    assert params == {"api-version": "2019-08-01", "resource": dataverse.resource}
    assert headers == {"X-IDENTITY-HEADER": DEFAULT_IDENTITY_HEADER, "Metadata": "true"}
    who = _who_am_i(dataverse, token)
    assert who.status_code == 200 and who.json()["UserId"] == app_object_id(SYSTEM_ASSIGNED_CLIENT_ID)


def test_user_assigned_managed_identity(
    authority: Authority, business_central: BusinessCentralHandle, app_service_identity: str
) -> None:
    client_id = str(uuid.uuid4())
    with CountingSession(authority.ca_file) as session:
        provider = ManagedIdentityTokenProvider(BC_RESOURCE, client_id=client_id, http_client=session)
        token = provider.get_token()
    assert session.sent[0][2] == {"api-version": "2019-08-01", "resource": BC_RESOURCE, "client_id": client_id}
    claims = _claims(token)
    assert (claims["aud"], claims["appid"], claims["oid"]) == (BC_RESOURCE, client_id, app_object_id(client_id))
    assert claims["exp"] - claims["iat"] == 24 * 3600
    assert _companies(business_central, token).status_code == 200


def test_managed_identity_with_a_wrong_header_is_fatal(
    authority: Authority, app_service_identity: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = f"not-the-header-{uuid.uuid4()}"
    monkeypatch.setenv("IDENTITY_HEADER", wrong)
    with CountingSession(authority.ca_file) as session:
        provider = ManagedIdentityTokenProvider(BC_RESOURCE, http_client=session)
        with pytest.raises(FatalError) as caught:
            provider.get_token()
    assert caught.value.code == "invalid_scope"  # MSAL's code for every App Service refusal; the status is in the text
    assert "401" in str(caught.value) and "X-IDENTITY-HEADER" in str(caught.value)
    assert wrong not in str(caught.value)


def test_token_for_another_resource_is_refused_after_one_refresh(
    authority: Authority, dataverse: EmulatorHandle
) -> None:
    with CountingSession(authority.ca_file) as session:
        bc_provider = _secret_provider(authority, BC_RESOURCE, session)
        assert _who_am_i(dataverse, bc_provider.get_token()).status_code == 401
        client = HttpClient(dataverse.base_url, bc_provider, policy=RetryPolicy(max_attempts=3), sleep=lambda _: None)
        with pytest.raises(ApiError) as caught:
            client.get_json("/api/data/v9.2/WhoAmI")
    assert (caught.value.status, caught.value.kind) == (401, ErrorKind.FATAL)
    assert "wrong audience" in caught.value.message
    assert client.stats.token_refreshes == 1 and bc_provider.fetches == 2  # invalidated and fetched again, once
    assert session.token_requests() == 2


ENDPOINT = "https://127.0.0.1:1/tenant/oauth2/v2.0/token"


def _assertion(named: Certificate, signer: Certificate, *, sha1: bool = False, **claims: Any) -> str:
    """A client assertion naming `named` (x5t#S256 with PS256, as MSAL does; or padded SHA-1 x5t with RS256) but
    signed with `signer`'s key, with claim changes."""
    thumbprints = certificate_thumbprints(x509.load_pem_x509_certificate(named.cert_pem.encode()))
    headers = {"x5t": thumbprints[0] + "="} if sha1 else {"x5t#S256": thumbprints[1]}  # MSAL pads; must not matter
    now = int(dt.datetime.now(dt.UTC).timestamp())
    body = {"aud": ENDPOINT, "iss": "app", "sub": "app", "exp": now + 600, "nbf": now, "jti": str(uuid.uuid4())}
    key = serialization.load_pem_private_key(signer.key_pem.encode(), password=None)
    algorithm = "RS256" if sha1 else "PS256"
    return jwt.encode({**body, **claims}, key, algorithm=algorithm, headers=headers)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("case", "aadsts"),
    [
        ("valid", None),
        ("rs256 with sha-1 x5t", None),
        ("audience", 50027),
        ("expired", 700024),
        ("issuer", 700021),
        ("signed by another key", 700027),
        ("unknown thumbprint", 700027),
        ("no certificate registered", 700027),
        ("not a jwt", 50027),
    ],
)
def test_authority_checks_client_assertions(
    certificates: tuple[Certificate, Certificate], case: str, aadsts: int | None
) -> None:
    """The local authority refuses what Entra refuses, so the certificate tests above prove something."""
    trusted, impostor = certificates
    registered = [x509.load_pem_x509_certificate(trusted.cert_pem.encode())]
    if case == "not a jwt":
        assertion = "a.b.c"
    elif case == "rs256 with sha-1 x5t":
        assertion = _assertion(trusted, trusted, sha1=True)
    elif case == "audience":
        assertion = _assertion(trusted, trusted, aud="https://elsewhere/token")
    elif case == "expired":
        assertion = _assertion(trusted, trusted, exp=1_000_000, nbf=999_000)
    elif case == "issuer":
        assertion = _assertion(trusted, trusted, iss="other")
    elif case == "signed by another key":
        assertion = _assertion(trusted, impostor)
    elif case == "unknown thumbprint":
        assertion = _assertion(impostor, impostor)
    else:
        assertion = _assertion(trusted, trusted)
    certs = [] if case == "no certificate registered" else registered
    if aadsts is None:
        verify_client_assertion("app", assertion, certificates=certs, token_endpoint=ENDPOINT)
        return
    with pytest.raises(TokenError) as caught:
        verify_client_assertion("app", assertion, certificates=certs, token_endpoint=ENDPOINT)
    assert (caught.value.status, caught.value.error, caught.value.code) == (401, "invalid_client", aadsts)


@pytest.mark.parametrize(
    ("params", "headers", "status"),
    [
        ({"api-version": "2019-08-01", "resource": BC_RESOURCE}, {"X-IDENTITY-HEADER": DEFAULT_IDENTITY_HEADER}, 200),
        ({"api-version": "2019-08-01", "resource": BC_RESOURCE}, {}, 401),
        ({"api-version": "2017-09-01", "resource": BC_RESOURCE}, {"X-IDENTITY-HEADER": DEFAULT_IDENTITY_HEADER}, 400),
        ({"api-version": "2019-08-01"}, {"X-IDENTITY-HEADER": DEFAULT_IDENTITY_HEADER}, 400),
        (
            {"api-version": "2019-08-01", "resource": BC_RESOURCE, "mi_res_id": "/x"},
            {"X-IDENTITY-HEADER": DEFAULT_IDENTITY_HEADER},
            400,
        ),
    ],
)
def test_authority_identity_endpoint(
    authority: Authority, params: dict[str, str], headers: dict[str, str], status: int
) -> None:
    with TokenSession(verify=str(authority.ca_file)) as session:
        response = session.get(f"{authority.url}/msi/token", params=params, headers=headers)
    assert response.status_code == status, response.text
    body = response.json()
    if status == 200:
        assert set(body) == {"access_token", "expires_on", "resource", "token_type", "client_id"}
        assert body["client_id"] == SYSTEM_ASSIGNED_CLIENT_ID and body["resource"] == BC_RESOURCE
        assert isinstance(body["expires_on"], str) and int(body["expires_on"]) == _claims(body["access_token"])["exp"]
    else:
        assert body["statusCode"] == status and body["message"]
