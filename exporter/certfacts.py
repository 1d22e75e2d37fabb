"""Certificate facts: the pure step that turns the DER chain a TLS probe returned
into typed, comparable facts (sslyze's "assemble a typed result" step).

Nothing here raises on a malformed certificate: an unreadable field becomes
None or an empty tuple, and ``problems`` says what could not be read, so the
name check sees "no usable names" rather than crashing the cycle.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import warnings
from dataclasses import dataclass, field
from functools import lru_cache

from cryptography import x509
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509.oid import NameOID

# Windows accepts a negative or zero serial (old AD CS and some appliances issued
# them); cryptography parses it with a warning on every access. The certificate is
# judged like any other, so the warning is only noise in the exporter's log.
warnings.filterwarnings(
    "ignore", "Parsed a serial number which wasn't positive", CryptographyDeprecationWarning
)


@dataclass(frozen=True)
class CertificateFacts:
    """What one presented certificate says.

    Attributes:
        subject, issuer: RFC 4514 strings; "" when unreadable.
        common_names: the subject's CN values (usually one).
        has_san: True when a subjectAltName extension is present, even an
            unreadable one (then ``dns_names`` is empty and nothing matches).
        dns_names, ip_addresses: SAN entries, in certificate order.
        serial: upper-case hex of the serial's bytes as the certificate holds them
            (whole bytes, a leading 00 where the high bit is set), as Windows and
            ``Get-ExchangeCertificate`` show it.
        fingerprint_sha256: lower-case hex of the DER.
        thumbprint: SHA-1 of the DER, upper-case hex: what Exchange's
            -Thumbprint parameters take.
        problems: fields that could not be parsed.
    """

    der: bytes = field(repr=False)
    subject: str
    issuer: str
    common_names: tuple[str, ...]
    has_san: bool
    dns_names: tuple[str, ...]
    ip_addresses: tuple[str, ...]
    serial: str
    not_before: dt.datetime
    not_after: dt.datetime
    fingerprint_sha256: str
    thumbprint: str
    self_issued: bool
    problems: tuple[str, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        """The names a client compares with the host: SANs when present, else the CN."""
        if self.has_san:
            return self.dns_names + self.ip_addresses
        return self.common_names


def _name_text(cert: x509.Certificate, which: str, problems: list[str]) -> str:
    """The subject or issuer as RFC 4514 text; "" when cryptography cannot parse it
    (it parses names lazily, so the attribute access itself can raise)."""
    try:
        name: x509.Name = getattr(cert, which)
        return name.rfc4514_string()
    except Exception:  # noqa: BLE001 - malformed names raise several types; see module doc
        problems.append(f"{which} unreadable")
        return ""


def _common_names(cert: x509.Certificate, problems: list[str]) -> tuple[str, ...]:
    try:
        attrs = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    except Exception:  # noqa: BLE001 - malformed certificates raise many types; see module doc
        problems.append("subject unreadable")
        return ()
    return tuple(str(a.value) for a in attrs)


def _san(
    cert: x509.Certificate, problems: list[str]
) -> tuple[bool, tuple[str, ...], tuple[str, ...]]:
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return False, (), ()
    except Exception:  # noqa: BLE001 - malformed certificates raise many types; see module doc
        problems.append("subjectAltName unreadable")
        return True, (), ()
    dns = tuple(ext.value.get_values_for_type(x509.DNSName))
    ips = tuple(str(a) for a in ext.value.get_values_for_type(x509.IPAddress))
    return True, dns, ips


@lru_cache(maxsize=4096)
def parse_certificate(der: bytes) -> CertificateFacts | None:
    """Facts of one DER certificate, or None when it is not a certificate at all.

    Memoised: a pure function of the bytes, and an organisation serves one
    certificate on many URLs, refresh after refresh."""
    try:
        cert = x509.load_der_x509_certificate(der)
        not_before = cert.not_valid_before_utc
        not_after = cert.not_valid_after_utc
    except Exception:  # noqa: BLE001 - malformed certificates raise many types; see module doc
        return None
    return facts_of(cert, der, not_before, not_after)


def facts_of(
    cert: x509.Certificate, der: bytes, not_before: dt.datetime, not_after: dt.datetime
) -> CertificateFacts:
    problems: list[str] = []
    has_san, dns_names, ip_addresses = _san(cert, problems)
    subject = _name_text(cert, "subject", problems)
    issuer = _name_text(cert, "issuer", problems)
    return CertificateFacts(
        der=der,
        subject=subject,
        issuer=issuer,
        common_names=_common_names(cert, problems),
        has_san=has_san,
        dns_names=dns_names,
        ip_addresses=ip_addresses,
        serial=serial_hex(cert.serial_number),
        not_before=not_before,
        not_after=not_after,
        fingerprint_sha256=hashlib.sha256(der).hexdigest(),
        thumbprint=hashlib.sha1(der, usedforsecurity=False).hexdigest().upper(),
        self_issued=subject == issuer and subject != "",
        problems=tuple(problems),
    )


def serial_hex(serial: int) -> str:
    """The DER INTEGER's content bytes in hex: ``0A1B...``, even length; a negative
    serial in two's complement, as the certificate stores it."""
    return serial.to_bytes(serial.bit_length() // 8 + 1, "big", signed=True).hex().upper()


def parse_chain(ders: tuple[bytes, ...]) -> tuple[CertificateFacts, ...]:
    """Facts for each certificate the server presented, leaf first; garbage is dropped."""
    out = []
    for der in ders:
        facts = parse_certificate(der)
        if facts is not None:
            out.append(facts)
    return tuple(out)
