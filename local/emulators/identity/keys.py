"""Key material of the local token authority: its TLS certificate and its JWT signing key.

Everything is persisted in one directory so that (a) callers can trust the authority's TLS certificate by pointing
`verify=` at `authority.crt` and (b) tokens issued before a restart still validate afterwards, because the signing key
(and therefore the `kid` derived from it) survives. Files are only (re)generated when missing, unreadable, expired or
not matching each other; generation happens under an exclusive file lock so two authorities started at once on the
same directory cannot end up with a certificate that does not belong to the key on disk.
"""

from __future__ import annotations

import base64
import datetime as dt
import fcntl
import hashlib
import ipaddress
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# The checkout (local/emulators/identity/keys.py is three folders down): the default home of the key material.
# Computed here rather than taken from the stack launcher, which starts the authority and must not be imported by it.
REPO_ROOT = Path(__file__).resolve().parents[3]
CERT_FILE = "authority.crt"
TLS_KEY_FILE = "authority.key"
SIGNING_KEY_FILE = "signing.key"
_LOCK_FILE = ".lock"
_CERT_VALIDITY = dt.timedelta(days=365)
# Regenerate a little before expiry so a long-running dev session never meets an expired certificate.
_CERT_RENEW_MARGIN = dt.timedelta(days=7)
_ALWAYS_COVERED = ("127.0.0.1", "::1", "localhost")


@dataclass(frozen=True)
class TlsFiles:
    """Paths of the PEM certificate (what clients trust) and its private key (what the server loads)."""

    cert: Path
    key: Path


def default_cert_dir() -> Path:
    """Where the authority keeps its material unless told otherwise; shared by the server and its clients."""
    configured = os.environ.get("LOCAL_AUTHORITY_CERT_DIR")
    return Path(configured) if configured else REPO_ROOT / ".local" / "identity"


def _b64url_uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8 or 1, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def public_jwk(key: rsa.RSAPrivateKey) -> dict[str, Any]:
    """The JWKS entry for `key`; the kid is the RFC 7638 thumbprint so it is stable across restarts by construction."""
    numbers = key.public_key().public_numbers()
    e, n = _b64url_uint(numbers.e), _b64url_uint(numbers.n)
    canonical = json.dumps({"e": e, "kty": "RSA", "n": n}, separators=(",", ":"), sort_keys=True)
    kid = base64.urlsafe_b64encode(hashlib.sha256(canonical.encode("ascii")).digest()).rstrip(b"=").decode("ascii")
    return {"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid, "n": n, "e": e}


@contextmanager
def _locked(cert_dir: Path) -> Iterator[None]:
    cert_dir.mkdir(parents=True, exist_ok=True)
    with (cert_dir / _LOCK_FILE).open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _write_atomically(path: Path, data: bytes, mode: int) -> None:
    """Write via a temp file + rename so a reader never sees half a PEM (callers read the cert as soon as we listen)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(tmp, path)


def _load_private_key(path: Path) -> rsa.RSAPrivateKey | None:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError):
        return None
    return key if isinstance(key, rsa.RSAPrivateKey) else None


def _new_private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _private_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def load_or_create_signing_key(cert_dir: Path) -> rsa.RSAPrivateKey:
    """The RSA key that signs access tokens, created once per directory and reused on every later start."""
    path = cert_dir / SIGNING_KEY_FILE
    with _locked(cert_dir):
        key = _load_private_key(path)
        if key is None:
            key = _new_private_key()
            _write_atomically(path, _private_pem(key), 0o600)
        return key


def _subject_names(host: str) -> list[str]:
    names = list(_ALWAYS_COVERED)
    # A wildcard bind address is not a name a client connects to, so it has no place in the certificate.
    if host and host not in names and host not in ("0.0.0.0", "::"):  # noqa: S104 - comparing, not binding
        names.append(host)
    return names


def _general_names(names: list[str]) -> list[x509.GeneralName]:
    result: list[x509.GeneralName] = []
    for name in names:
        try:
            result.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            result.append(x509.DNSName(name))
    return result


def _cert_is_usable(cert_path: Path, key: rsa.RSAPrivateKey, names: list[str]) -> bool:
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (OSError, ValueError, x509.ExtensionNotFound):
        return False
    now = dt.datetime.now(dt.UTC)
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc - _CERT_RENEW_MARGIN:
        return False
    cert_key = cert.public_key()
    if not isinstance(cert_key, rsa.RSAPublicKey) or cert_key.public_numbers() != key.public_key().public_numbers():
        return False
    return all(general in san for general in _general_names(names))


def _self_signed_cert(key: rsa.RSAPrivateKey, names: list[str]) -> x509.Certificate:
    """A leaf certificate that is its own trust anchor.

    The extensions (critical basicConstraints CA:FALSE, keyUsage, serverAuth EKU, SKI/AKI) are what strict X.509
    verification (Python 3.13's default VERIFY_X509_STRICT, Node, .NET) expects, so every client accepts it once told
    to trust this exact file.
    """
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + _CERT_VALIDITY)
        .add_extension(x509.SubjectAlternativeName(_general_names(names)), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_encipherment=True,
                content_commitment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(ski, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
        .sign(key, hashes.SHA256())
    )


def ensure_tls_files(cert_dir: Path, host: str = "127.0.0.1") -> TlsFiles:
    """Return a valid certificate + key in `cert_dir`, reusing what is there when it still fits.

    Reuse matters because clients (tests, the Functions host, the demo) may already have read the certificate; a
    needless regeneration would make their next TLS handshake fail.
    """
    files = TlsFiles(cert=cert_dir / CERT_FILE, key=cert_dir / TLS_KEY_FILE)
    names = _subject_names(host)
    with _locked(cert_dir):
        key = _load_private_key(files.key)
        if key is not None and _cert_is_usable(files.cert, key, names):
            return files
        key = _new_private_key()
        cert = _self_signed_cert(key, names)
        _write_atomically(files.key, _private_pem(key), 0o600)
        _write_atomically(files.cert, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    return files
