"""Lab certificates: roots, intermediates and leaves with any names, dates and shapes
the demo or a test needs (CN-only, wildcard, self-signed, expired, AIA, ...).

cryptography directly rather than trustme, because the lab needs control trustme
does not give (not_before, CN-only leaves, AIA, malformed names). EC P-256 keys:
fast to generate.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

NOW = dt.datetime.now(dt.UTC)
DAY = dt.timedelta(days=1)


def _name(cn: str | None, org: str = "Contoso Test") -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, org)]
    if cn is not None:
        attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    return x509.Name(attrs)


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@dataclass
class Issued:
    """A certificate with its key and the chain a server should send (leaf first)."""

    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey
    chain: list[x509.Certificate] = field(default_factory=list)

    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def write(
        self, directory: Path, stem: str, send: list[x509.Certificate] | None = None
    ) -> tuple[Path, Path]:
        """Write ``stem.pem`` (leaf plus ``send`` or the default chain) and ``stem.key``."""
        certs = [self.cert, *(self.chain[1:] if send is None else send)]
        cert_path = directory / f"{stem}.pem"
        key_path = directory / f"{stem}.key"
        cert_path.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs))
        key_path.write_bytes(
            self.key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        return cert_path, key_path


class CA:
    """A certificate authority: a root when ``parent`` is None, else an intermediate."""

    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    def __init__(
        self,
        name: str = "Contoso Root CA",
        parent: CA | None = None,
        not_before: dt.datetime = NOW - 30 * DAY,
        not_after: dt.datetime = NOW + 3650 * DAY,
    ) -> None:
        self.key = _key()
        self.parent = parent
        subject = _name(name)
        issuer_key = parent.key if parent else self.key
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(parent.cert.subject if parent else subject)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()), False)
        )
        if parent:
            builder = builder.add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(parent.key.public_key()), False
            )
        self.cert = builder.sign(issuer_key, hashes.SHA256())

    @property
    def chain(self) -> list[x509.Certificate]:
        """This CA and its parents, up to (not including) the root."""
        out, ca = [], self
        while ca.parent is not None:
            out.append(ca.cert)
            ca = ca.parent
        return out

    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def write(self, path: Path) -> Path:
        path.write_bytes(self.pem())
        return path

    def issue(
        self,
        *names: str,
        cn: str | None = None,
        san: bool = True,
        ips: tuple[str, ...] = (),
        not_before: dt.datetime = NOW - DAY,
        not_after: dt.datetime = NOW + 365 * DAY,
        aia: str | None = None,
    ) -> Issued:
        """A server certificate: SAN = names (+ ips) unless san=False; CN defaults to names[0]."""
        key = _key()
        common_name = cn if cn is not None else (names[0] if names else None)
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), False
            )
        )
        if san and (names or ips):
            entries: list[x509.GeneralName] = [x509.DNSName(n) for n in names]
            entries += [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
            builder = builder.add_extension(x509.SubjectAlternativeName(entries), False)
        if aia:
            builder = builder.add_extension(
                x509.AuthorityInformationAccess(
                    [
                        x509.AccessDescription(
                            AuthorityInformationAccessOID.CA_ISSUERS,
                            x509.UniformResourceIdentifier(aia),
                        )
                    ]
                ),
                False,
            )
        cert = builder.sign(self.key, hashes.SHA256())
        return Issued(cert, key, [cert, *self.chain])


def self_signed(*names: str, not_after: dt.datetime = NOW + 365 * DAY) -> Issued:
    """What Exchange setup creates: a self-signed certificate for the server's names."""
    key = _key()
    subject = _name(names[0])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - DAY)
        .not_valid_after(not_after)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), False)
        .sign(key, hashes.SHA256())
    )
    return Issued(cert, key, [cert])
