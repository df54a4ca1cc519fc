"""The local token authority, exercised the way the Functions app and the emulators use it: over real TLS, via MSAL."""

from __future__ import annotations

import base64
import http.client
import json
import ssl
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import msal  # type: ignore[import-untyped]
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from local.emulators.identity import keys as identity_keys
from local.emulators.identity import oauth as identity_oauth
from local.emulators.identity.tokens import InvalidToken, TokenValidator, acquire_local_token
from local.stack.processes import ChildProcess, free_port, start_python_module

pytestmark = pytest.mark.integration

SECRET = "s3cret"
BC = "https://api.businesscentral.dynamics.com"
DATAVERSE = "http://127.0.0.1:7082"
CLIENT_ID = "11111111-2222-3333-4444-555555555555"
TENANT = "7e6f3b59-1c8e-4c5a-9d7b-0a2b3c4d5e6f"


@dataclass(frozen=True)
class Authority:
    url: str
    cert_dir: Path

    @property
    def cert(self) -> Path:
        return self.cert_dir / "authority.crt"


def _start(cert_dir: Path, port: int) -> ChildProcess:
    args, env = ["--cert-dir", str(cert_dir)], {"LOCAL_CLIENT_SECRET": SECRET}
    return start_python_module("identity", "local.emulators.identity", port=port, args=args, env=env)


@pytest.fixture(scope="module")
def authority(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Authority]:
    cert_dir = tmp_path_factory.mktemp("identity")
    port = free_port()
    child = _start(cert_dir, port)
    try:
        yield Authority(url=f"https://127.0.0.1:{port}", cert_dir=cert_dir)
    finally:
        child.stop()


def _session(cert: Path) -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # REQUESTS_CA_BUNDLE is set on this machine and would override verify=
    session.verify = str(cert)
    return session


def _claims(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


def _msal_app(authority: Authority, secret: str, session: requests.Session, tenant: str = TENANT) -> Any:
    return msal.ConfidentialClientApplication(
        CLIENT_ID,
        client_credential=secret,
        authority=f"{authority.url}/{tenant}",
        instance_discovery=False,
        http_client=session,
    )


def test_discovery_document_points_at_this_server(authority: Authority) -> None:
    with _session(authority.cert) as session:
        paths = (f"/{TENANT}/v2.0/.well-known/openid-configuration", "/organizations/.well-known/openid-configuration")
        for path in paths:
            doc = session.get(authority.url + path, timeout=10).json()
            tenant = path.split("/")[1]
            assert doc["issuer"] == f"{authority.url}/{tenant}/v2.0"
            assert doc["token_endpoint"] == f"{authority.url}/{tenant}/oauth2/v2.0/token"
            assert doc["authorization_endpoint"].startswith(f"{authority.url}/{tenant}/")
            assert doc["jwks_uri"] == f"{authority.url}/{tenant}/discovery/v2.0/keys"
            assert "RS256" in doc["id_token_signing_alg_values_supported"]
            assert {"client_secret_post", "client_secret_basic"} <= set(doc["token_endpoint_auth_methods_supported"])
            assert doc["response_types_supported"] and doc["subject_types_supported"]


def test_jwks_lists_the_kid_used_in_tokens(authority: Authority) -> None:
    token = acquire_local_token(authority.url, authority.cert, CLIENT_ID, SECRET, BC, tenant=TENANT)
    kid = jwt.get_unverified_header(token)["kid"]
    with _session(authority.cert) as session:
        for path in ("/common/discovery/v2.0/keys", f"/{TENANT}/discovery/keys", "/common/discovery/keys"):
            keys = session.get(authority.url + path, timeout=10).json()["keys"]
            assert [(k["kid"], k["kty"], k["use"]) for k in keys] == [(kid, "RSA", "sig")]
            assert keys[0]["n"] and keys[0]["e"]
        unknown = session.get(f"{authority.url}/{TENANT}/discovery/nope", timeout=10)
    assert (unknown.status_code, unknown.json()["error"]) == (404, "not_found")


def test_tls_is_real_and_trusted_only_through_the_written_cert(authority: Authority) -> None:
    assert authority.cert.is_file()
    with _session(authority.cert) as session:
        assert session.get(f"{authority.url}/common/v2.0/.well-known/openid-configuration", timeout=10).ok
    with requests.Session() as untrusting, pytest.raises(requests.exceptions.SSLError):
        untrusting.trust_env = False
        untrusting.get(f"{authority.url}/common/v2.0/.well-known/openid-configuration", timeout=10)
    # Strict X.509 checking (Python 3.13's default) and the `localhost` name must both work too.
    port = int(authority.url.rsplit(":", 1)[1])
    context = ssl.create_default_context(cafile=str(authority.cert))
    context.verify_flags |= ssl.VERIFY_X509_STRICT
    for host in ("localhost", "127.0.0.1"):
        connection = http.client.HTTPSConnection(host, port, context=context, timeout=10)
        connection.request("GET", "/common/discovery/v2.0/keys")
        assert connection.getresponse().status == 200
        connection.close()


@pytest.mark.filterwarnings("ignore:Using /common or /organizations authority:DeprecationWarning")
@pytest.mark.parametrize("resource", [BC, DATAVERSE])
def test_acquire_local_token_through_msal(authority: Authority, resource: str) -> None:
    claims = _claims(acquire_local_token(authority.url, authority.cert, CLIENT_ID, SECRET, resource))
    assert claims["aud"] == resource
    assert claims["appid"] == claims["azp"] == CLIENT_ID
    assert claims["oid"] == claims["sub"] == str(uuid.uuid5(uuid.NAMESPACE_URL, "local-app-user:" + CLIENT_ID))
    assert claims["iss"] == f"{authority.url}/organizations/v2.0"
    assert claims["idtyp"] == "app" and claims["ver"] == "2.0"
    assert claims["exp"] - claims["iat"] == 3600


def test_msal_directly_with_a_guid_tenant(authority: Authority) -> None:
    with _session(authority.cert) as session:
        result = _msal_app(authority, SECRET, session).acquire_token_for_client(scopes=[f"{DATAVERSE}/.default"])
    assert result["token_type"] == "Bearer"
    assert result["expires_in"] > 3500
    claims = _claims(result["access_token"])
    assert (claims["aud"], claims["appid"], claims["tid"]) == (DATAVERSE, CLIENT_ID, TENANT)
    assert claims["iss"] == f"{authority.url}/{TENANT}/v2.0"


def test_wrong_secret_is_invalid_client(authority: Authority) -> None:
    with _session(authority.cert) as session:
        result = _msal_app(authority, "wrong", session).acquire_token_for_client(scopes=[f"{BC}/.default"])
    assert result["error"] == "invalid_client"
    assert result["error_codes"] == [7000215]
    assert result["error_description"].startswith("AADSTS7000215")
    with pytest.raises(RuntimeError, match="invalid_client"):
        acquire_local_token(authority.url, authority.cert, CLIENT_ID, "wrong", BC, tenant=TENANT)


def test_scope_without_default_is_invalid_scope(authority: Authority) -> None:
    with _session(authority.cert) as session:
        result = _msal_app(authority, SECRET, session).acquire_token_for_client(scopes=[f"{BC}/user_impersonation"])
    assert result["error"] == "invalid_scope"
    assert result["error_codes"] == [1002012]


def _raw_token_post(authority: Authority, data: dict[str, str], **kwargs: Any) -> requests.Response:
    with _session(authority.cert) as session:
        return session.post(f"{authority.url}/{TENANT}/oauth2/v2.0/token", data=data, timeout=10, **kwargs)


JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
VALID_FORM = dict(grant_type="client_credentials", client_id=CLIENT_ID, client_secret=SECRET, scope=f"{BC}/.default")
ASSERTION = dict(client_assertion_type=JWT_BEARER, client_assertion="a.b.c")


@pytest.mark.parametrize(
    ("change", "status", "error", "code"),
    [
        ({"grant_type": "password"}, 400, "unsupported_grant_type", 70003),
        ({"client_id": None}, 400, "invalid_request", 900144),
        ({"scope": None}, 400, "invalid_scope", 70011),
        ({"client_secret": None}, 401, "invalid_client", 7000218),
        ({"client_secret": None, **ASSERTION}, 401, "invalid_client", 700027),
    ],
)
def test_raw_error_responses_are_entra_shaped(
    authority: Authority, change: dict[str, str | None], status: int, error: str, code: int
) -> None:
    form = {key: value for key, value in {**VALID_FORM, **change}.items() if value is not None}
    correlation = str(uuid.uuid4())
    response = _raw_token_post(authority, form, headers={"client-request-id": correlation})
    assert response.status_code == status
    body = response.json()
    assert (body["error"], body["error_codes"]) == (error, [code])
    assert body["error_description"].startswith(f"AADSTS{code}:")
    assert body["correlation_id"] == correlation
    assert body["trace_id"] and body["timestamp"]
    assert response.headers["Cache-Control"].startswith("no-store")


def test_client_secret_via_basic_auth(authority: Authority) -> None:
    data = {"grant_type": "client_credentials", "scope": f"{BC}/.default"}
    ok = _raw_token_post(authority, data, auth=(CLIENT_ID, SECRET))
    assert ok.status_code == 200
    assert _claims(ok.json()["access_token"])["appid"] == CLIENT_ID
    assert ok.json()["ext_expires_in"] == ok.json()["expires_in"] == 3599
    refused = _raw_token_post(authority, data, auth=(CLIENT_ID, "nope"))
    assert (refused.status_code, refused.json()["error"]) == (401, "invalid_client")


def _validator(authority: Authority, audience: str = BC) -> TokenValidator:
    return TokenValidator(authority.url, authority.cert, audience)


def _refusal(validator: TokenValidator, header: str | None) -> str:
    with pytest.raises(InvalidToken) as caught:
        validator.validate(header)
    assert caught.value.reason
    return caught.value.code


def test_validator_accepts_a_token_for_its_audience(authority: Authority) -> None:
    token = acquire_local_token(authority.url, authority.cert, CLIENT_ID, SECRET, BC, tenant=TENANT)
    for audience in (BC, BC + "/"):
        principal = _validator(authority, audience).validate(f"Bearer {token}")
        assert principal.client_id == CLIENT_ID
        assert principal.object_id == str(uuid.uuid5(uuid.NAMESPACE_URL, "local-app-user:" + CLIENT_ID))
        assert principal.tenant_id == TENANT


def test_validator_rejects_bad_requests(authority: Authority) -> None:
    validator = _validator(authority, DATAVERSE)
    bc_token = acquire_local_token(authority.url, authority.cert, CLIENT_ID, SECRET, BC, tenant=TENANT)
    dv_token = acquire_local_token(authority.url, authority.cert, CLIENT_ID, SECRET, DATAVERSE, tenant=TENANT)
    assert _refusal(validator, f"Bearer {bc_token}") == "wrong_audience"
    assert _refusal(validator, None) == "missing_header"
    assert _refusal(validator, "  ") == "missing_header"
    assert _refusal(validator, f"Basic {dv_token}") == "not_bearer"
    assert _refusal(validator, "Bearer not-a-jwt") == "malformed"
    head, payload, signature = dv_token.split(".")
    flipped = signature[:10] + ("A" if signature[10] != "A" else "B") + signature[11:]
    assert _refusal(validator, f"Bearer {head}.{payload}.{flipped}") == "bad_signature"
    forged_claims = (
        base64.urlsafe_b64encode(json.dumps({**_claims(bc_token), "aud": DATAVERSE}).encode()).rstrip(b"=").decode()
    )
    assert _refusal(validator, f"Bearer {head}.{forged_claims}.{signature}") == "bad_signature"
    assert validator.validate(f"bearer {dv_token}").client_id == CLIENT_ID  # scheme is case-insensitive


def test_validator_rejects_expired_and_foreign_tokens(authority: Authority) -> None:
    validator = _validator(authority)
    key = serialization.load_pem_private_key((authority.cert_dir / "signing.key").read_bytes(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    signing = identity_oauth.SigningMaterial(key=key, jwk=identity_keys.public_jwk(key))

    def mint(material: identity_oauth.SigningMaterial, now: float | None = None) -> str:
        return identity_oauth.mint_access_token(
            material,
            issuer=f"{authority.url}/organizations/v2.0",
            audience=BC,
            client_id=CLIENT_ID,
            tenant="organizations",
            now=now,
        )

    fresh = mint(signing)
    assert validator.validate(f"Bearer {fresh}").client_id == CLIENT_ID  # the hook mints what the server mints
    expired = mint(signing, now=time.time() - 7200)
    assert _refusal(validator, f"Bearer {expired}") == "expired"
    not_yet = mint(signing, now=time.time() + 600)
    assert _refusal(validator, f"Bearer {not_yet}") == "not_yet_valid"
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    foreign = identity_oauth.SigningMaterial(key=other_key, jwk=identity_keys.public_jwk(other_key))
    assert _refusal(validator, f"Bearer {mint(foreign)}") == "unknown_key"
    impostor = identity_oauth.SigningMaterial(key=other_key, jwk={**foreign.jwk, "kid": signing.kid})
    assert _refusal(validator, f"Bearer {mint(impostor)}") == "bad_signature"


def test_restart_with_same_cert_dir_keeps_tokens_and_cert(tmp_path: Path) -> None:
    port = free_port()
    first = _start(tmp_path, port)
    try:
        authority = Authority(url=f"https://127.0.0.1:{port}", cert_dir=tmp_path)
        token = acquire_local_token(authority.url, authority.cert, CLIENT_ID, SECRET, BC, tenant=TENANT)
        cert_before = authority.cert.read_bytes()
    finally:
        first.stop()
    second = _start(tmp_path, port)
    try:
        assert authority.cert.read_bytes() == cert_before  # clients that already trust the cert keep working
        assert _validator(authority).validate(f"Bearer {token}").client_id == CLIENT_ID  # fresh JWKS fetch
    finally:
        second.stop()
