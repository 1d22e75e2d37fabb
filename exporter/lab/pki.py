"""Lab certificates: roots, intermediates and leaves with any names, dates and shapes
the demo or a test needs (CN-only, wildcard, self-signed, expired, AIA, CRL and OCSP
pointers, and the legacy shapes of ../shared/WINDOWS-TRUST.md's table: SHA-1,
RSA-1024, non-critical basicConstraints, no keyUsage, EKU-restricted CAs, v1 roots).

cryptography directly rather than trustme, because the lab needs control trustme
does not give; the shapes cryptography will not make come from
:mod:`exporter.lab.certbits`. EC P-256 keys unless a shape asks for RSA: fast to
generate. The module is long because one CA class, its issue() and self_signed()
make every shape the trust tests, the Exchange surfaces and the demo need.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from exporter.lab.certbits import CA_KEY_USAGE, PrivateKey, make_key, pointers, sha1_crl, sign

NOW = dt.datetime.now(dt.UTC)
DAY = dt.timedelta(days=1)

SERVER_AUTH = ExtendedKeyUsageOID.SERVER_AUTH
CLIENT_AUTH = ExtendedKeyUsageOID.CLIENT_AUTH
ANY_EKU = ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE


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
    key: PrivateKey
    chain: list[x509.Certificate] = field(default_factory=list)

    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)

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
    """A certificate authority: a root when ``parent`` is None, else an intermediate;
    by default a clean Web PKI CA. The keywords make the shapes real hierarchies
    have: ``eku`` (None: no EKU), ``eku_critical``, ``bc_critical``,
    ``basic_constraints`` (False: none), ``is_ca``, ``key_usage`` (False: none),
    ``key`` (``ec``, ``rsa1024``, ...), ``digest`` (``sha1``, ``pss20``),
    ``critical_policies``, ``policy_constraints`` (critical, with inhibitAnyPolicy),
    ``path_length``, ``version1``, ``aki_by_issuer`` (no keyIdentifier), and the
    ``aia``/``ocsp``/``crl`` pointers of this CA's own certificate."""

    cert: x509.Certificate
    key: PrivateKey

    def __init__(
        self,
        name: str = "Contoso Root CA",
        parent: CA | None = None,
        not_before: dt.datetime = NOW - 30 * DAY,
        not_after: dt.datetime = NOW + 3650 * DAY,
        *,
        key: str = "ec",
        digest: str = "sha256",
        eku: list[x509.ObjectIdentifier] | None = None,
        eku_critical: bool = False,
        basic_constraints: bool = True,
        is_ca: bool = True,
        bc_critical: bool = True,
        key_usage: bool = True,
        critical_policies: bool = False,
        policy_constraints: bool = False,
        path_length: int | None = None,
        name_constraints: x509.NameConstraints | None = None,
        version1: bool = False,
        aki_by_issuer: bool = False,
        aia: str | None = None,
        ocsp: str | None = None,
        crl: str | None = None,
    ) -> None:
        self.key = make_key(key)
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
        )
        if not version1:
            builder = self._extensions(
                builder,
                basic_constraints=basic_constraints,
                is_ca=is_ca,
                bc_critical=bc_critical,
                path_length=path_length,
                key_usage=key_usage,
                eku=eku,
                eku_critical=eku_critical,
                critical_policies=critical_policies,
                policy_constraints=policy_constraints,
                name_constraints=name_constraints,
                aki_by_issuer=aki_by_issuer,
            )
            builder = pointers(builder, aia, ocsp, crl)
        self.cert = sign(builder, issuer_key, digest, version1)

    def _extensions(
        self,
        builder: x509.CertificateBuilder,
        *,
        basic_constraints: bool,
        is_ca: bool,
        bc_critical: bool,
        path_length: int | None,
        key_usage: bool,
        eku: list[x509.ObjectIdentifier] | None,
        eku_critical: bool,
        critical_policies: bool,
        policy_constraints: bool,
        name_constraints: x509.NameConstraints | None,
        aki_by_issuer: bool,
    ) -> x509.CertificateBuilder:
        if basic_constraints:
            constraint = x509.BasicConstraints(ca=is_ca, path_length=path_length if is_ca else None)
            builder = builder.add_extension(constraint, critical=bc_critical)
        if key_usage:
            builder = builder.add_extension(CA_KEY_USAGE, critical=True)
        if eku is not None:
            builder = builder.add_extension(x509.ExtendedKeyUsage(eku), critical=eku_critical)
        if critical_policies:
            policy = x509.PolicyInformation(x509.ObjectIdentifier("2.5.29.32.0"), None)
            builder = builder.add_extension(x509.CertificatePolicies([policy]), critical=True)
        if policy_constraints:
            constraints = x509.PolicyConstraints(None, 0)
            builder = builder.add_extension(constraints, critical=True)
            builder = builder.add_extension(x509.InhibitAnyPolicy(1), critical=True)
        if name_constraints is not None:
            builder = builder.add_extension(name_constraints, critical=True)
        builder = builder.add_extension(
            x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()), False
        )
        parent = self.parent
        if parent is not None:
            if aki_by_issuer:
                aki = x509.AuthorityKeyIdentifier(
                    None, [x509.DirectoryName(parent.cert.issuer)], parent.cert.serial_number
                )
            else:
                aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(parent.key.public_key())
            builder = builder.add_extension(aki, False)
        return builder

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

    def der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)

    def write(self, path: Path) -> Path:
        path.write_bytes(self.pem())
        return path

    def crl(
        self,
        revoked: list[tuple[x509.Certificate, dt.datetime]] = (),  # type: ignore[assignment]
        *,
        last_update: dt.datetime = NOW - DAY,
        next_update: dt.datetime = NOW + 7 * DAY,
        reason: x509.ReasonFlags = x509.ReasonFlags.key_compromise,
        sha1: bool = False,
    ) -> bytes:
        """A DER CRL signed by this CA listing ``revoked`` (certificate, when);
        ``sha1`` signs it with SHA-1 (an RSA CA only)."""
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.cert.subject)
            .last_update(last_update)
            .next_update(next_update)
        )
        for cert, when in revoked:
            entry = (
                x509.RevokedCertificateBuilder()
                .serial_number(cert.serial_number)
                .revocation_date(when)
                .add_extension(x509.CRLReason(reason), False)
                .build()
            )
            builder = builder.add_revoked_certificate(entry)
        der = builder.sign(self.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)
        return sha1_crl(der, self.key) if sha1 else der

    def issue(
        self,
        *names: str,
        cn: str | None = None,
        san: bool = True,
        ips: tuple[str, ...] = (),
        not_before: dt.datetime = NOW - DAY,
        not_after: dt.datetime = NOW + 365 * DAY,
        aia: str | None = None,
        ocsp: str | None = None,
        crl: str | None = None,
        eku: list[x509.ObjectIdentifier] | None = None,
        key: str = "ec",
        digest: str = "sha256",
    ) -> Issued:
        """A server certificate: SAN = names (+ ips) unless san=False; CN defaults to
        names[0]; EKU serverAuth unless ``eku`` says otherwise (``[]``: no EKU)."""
        leaf_key = make_key(key)
        common_name = cn if cn is not None else (names[0] if names else None)
        usages = [SERVER_AUTH] if eku is None else eku
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name))
            .issuer_name(self.cert.subject)
            .public_key(leaf_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), False
            )
        )
        if usages:
            builder = builder.add_extension(x509.ExtendedKeyUsage(usages), False)
        if san and (names or ips):
            entries: list[x509.GeneralName] = [x509.DNSName(n) for n in names]
            entries += [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
            builder = builder.add_extension(x509.SubjectAlternativeName(entries), False)
        builder = pointers(builder, aia, ocsp, crl)
        cert = sign(builder, self.key, digest)
        return Issued(cert, leaf_key, [cert, *self.chain])


def self_signed(
    *names: str,
    not_after: dt.datetime = NOW + 365 * DAY,
    not_before: dt.datetime = NOW - DAY,
    san: bool = True,
) -> Issued:
    """What Exchange setup creates: a self-signed certificate for the server's names
    (``san=False``: the first name as CN only, as the Auth certificate has)."""
    key = _key()
    subject = _name(names[0])
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )
    if san:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), False
        )
    cert = builder.sign(key, hashes.SHA256())
    return Issued(cert, key, [cert])
