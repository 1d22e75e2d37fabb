"""The trust anchors a domain-joined client has: enterprise CA files plus, by default,
the system store.

Self-signed certificates become anchors; any other certificate in ``ca_files`` is
kept as a known intermediate (as Windows keeps its Intermediate Certification
Authorities store) and may complete a chain, but never anchors one.
"""

from __future__ import annotations

import ssl
import warnings
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.utils import CryptographyDeprecationWarning


@dataclass(frozen=True)
class TrustStore:
    """Parsed trust material. Attributes:
    anchors: self-signed CA certificates that end a trusted chain.
    intermediates: other CA certificates offered to chain building.
    public: the anchors that came from the system store (the public roots, as
        Microsoft's Trusted Root Program has them), by DER; Microsoft's SHA-1
        block applies under these only (../shared/WINDOWS-TRUST.md).
    """

    anchors: tuple[x509.Certificate, ...]
    intermediates: tuple[x509.Certificate, ...]
    public: frozenset[bytes] = frozenset()

    def is_public(self, anchor: x509.Certificate) -> bool:
        return anchor.public_bytes(Encoding.DER) in self.public


def _is_self_signed(cert: x509.Certificate) -> bool:
    if cert.issuer != cert.subject:
        return False
    try:
        cert.verify_directly_issued_by(cert)
    except Exception:  # noqa: BLE001 - any failure means not self-signed
        return False
    return True


def read_pem_certificates(path: str) -> list[x509.Certificate]:
    """All certificates in a PEM file; ValueError naming the file when there are none."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        # System bundles hold a few old roots with negative serials; they still anchor.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CryptographyDeprecationWarning)
            certs = x509.load_pem_x509_certificates(data)
    except ValueError:
        raise ValueError(f"{path} holds no PEM certificate") from None
    return certs


def system_ca_file() -> str | None:
    paths = ssl.get_default_verify_paths()
    for candidate in (paths.cafile, paths.openssl_cafile):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


def load_trust_store(
    ca_files: list[str], system: bool, problems: list[tuple[int, str]] | None = None
) -> TrustStore:
    """Build the store. An unreadable file raises ValueError, or, with ``problems``
    given, is recorded there as (index, message) and skipped, so the config reports
    every bad entry at once."""
    certs: list[x509.Certificate] = []
    for index, path in enumerate(ca_files):
        try:
            certs.extend(read_pem_certificates(path))
        except ValueError as exc:
            if problems is None:
                raise
            problems.append((index, str(exc)))
    system_certs: list[x509.Certificate] = []
    if system:
        bundle = system_ca_file()
        if bundle is not None:
            system_certs = read_pem_certificates(bundle)
    certs.extend(system_certs)
    anchors = tuple(c for c in certs if _is_self_signed(c))
    intermediates = tuple(c for c in certs if not _is_self_signed(c))
    # The system bundle is Mozilla's list, which stands in for Microsoft's program here.
    public = frozenset(c.public_bytes(Encoding.DER) for c in system_certs)
    return TrustStore(anchors=anchors, intermediates=intermediates, public=public)
