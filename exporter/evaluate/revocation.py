"""Revocation as WinINet checks it: pure judgements of the CRLs and OCSP responses
a certificate points at (the fetching is :mod:`exporter.pki.fetch`'s).

- A revoked leaf or intermediate fails the connection (Internet Explorer's "Check
  for server certificate revocation", on by default since IE7).
- Revocation unknown (every CDP and responder unreachable, or the CRL expired) is
  no prompt by default, but Exchange marks such a certificate
  ``RevocationCheckFailure`` and strict clients fail: a warning.
- OCSP is asked first when the certificate names a responder, then each CRL
  distribution point in order; the first definite answer counts. Delta CRLs are
  not read (AD CS publishes full CRLs beside them).

Sources: ../shared/WINDOWS-TRUST.md ("Revocation"); RFC 5280 section 6.3 (CRL
validation), RFC 6960 (OCSP).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID

# A responder's or CRL's clock may run a little ahead of ours.
CLOCK_SKEW = dt.timedelta(minutes=5)


class Answer(StrEnum):
    GOOD = "good"
    REVOKED = "revoked"
    EXPIRED = "expired"  # a CRL (or OCSP response) past its nextUpdate
    UNUSABLE = "unusable"  # unreadable, wrong issuer, bad signature, or "unknown"


@dataclass(frozen=True)
class CertStatus:
    """One source's answer for one certificate.

    Attributes:
        message: what the answer says, naming the source; for REVOKED the date and
            the reason.
    """

    answer: Answer
    message: str


def _urls(cert: x509.Certificate, method: x509.ObjectIdentifier) -> list[str]:
    try:
        aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    except Exception:  # noqa: BLE001 - absent or unreadable: nothing to ask
        return []
    return [
        str(d.access_location.value)
        for d in aia
        if d.access_method == method
        and isinstance(d.access_location, x509.UniformResourceIdentifier)
    ]


def ca_issuers_urls(cert: x509.Certificate) -> list[str]:
    return _urls(cert, AuthorityInformationAccessOID.CA_ISSUERS)


def ocsp_urls(cert: x509.Certificate) -> list[str]:
    return [u for u in _urls(cert, AuthorityInformationAccessOID.OCSP) if u.startswith("http:")]


def crl_urls(cert: x509.Certificate) -> list[str]:
    try:
        points = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    except Exception:  # noqa: BLE001 - absent or unreadable: nothing to ask
        return []
    return [
        str(name.value)
        for point in points
        for name in point.full_name or ()
        if isinstance(name, x509.UniformResourceIdentifier)
    ]


def ocsp_request(cert: x509.Certificate, issuer: x509.Certificate) -> bytes:
    """The DER request for ``cert`` (SHA-1 CertID, as Windows sends it)."""
    builder = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA1())  # noqa: S303 - RFC 5019's CertID
    return builder.build().public_bytes(Encoding.DER)


def crl_next_update(body: bytes) -> float | None:
    """The CRL's nextUpdate as a timestamp (how long the fetch cache keeps it)."""
    crl = _load_crl(body)
    if crl is None or crl.next_update_utc is None:
        return None
    return crl.next_update_utc.timestamp()


def ocsp_next_update(body: bytes) -> float | None:
    try:
        response = ocsp.load_der_ocsp_response(body)
        if response.response_status is not ocsp.OCSPResponseStatus.SUCCESSFUL:
            return None
        when = response.next_update_utc
    except Exception:  # noqa: BLE001 - unreadable: no lifetime to give
        return None
    return when.timestamp() if when is not None else None


def judge_crl(
    body: bytes, cert: x509.Certificate, issuer: x509.Certificate, now: dt.datetime, url: str
) -> CertStatus:
    crl = _load_crl(body)
    if crl is None:
        return CertStatus(Answer.UNUSABLE, f"{url} is not a CRL")
    if crl.issuer != cert.issuer:
        return CertStatus(Answer.UNUSABLE, f"{url} is a CRL of {crl.issuer.rfc4514_string()}")
    if not _signed_by(
        issuer.public_key(),
        crl.signature,
        crl.tbs_certlist_bytes,
        _hash_of(crl),
        _padding_of(crl),
    ):
        return CertStatus(Answer.UNUSABLE, f"the CRL at {url} is not signed by its issuer")
    revoked = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
    if revoked is not None:
        return CertStatus(Answer.REVOKED, _revoked_text(revoked, url))
    next_update = crl.next_update_utc
    if next_update is not None and next_update + CLOCK_SKEW < now:
        return CertStatus(
            Answer.EXPIRED, f"the CRL at {url} expired on {next_update:%Y-%m-%d %H:%M} UTC"
        )
    return CertStatus(Answer.GOOD, f"not listed in the CRL at {url}")


def _revoked_text(revoked: x509.RevokedCertificate, url: str) -> str:
    when = revoked.revocation_date_utc
    try:
        reason = revoked.extensions.get_extension_for_class(x509.CRLReason).value.reason.value
    except x509.ExtensionNotFound:
        reason = "unspecified"
    return f"revoked on {when:%Y-%m-%d %H:%M} UTC (reason: {reason}), per the CRL at {url}"


def judge_ocsp(
    body: bytes, cert: x509.Certificate, issuer: x509.Certificate, now: dt.datetime, url: str
) -> CertStatus:
    try:
        response = ocsp.load_der_ocsp_response(body)
    except Exception:  # noqa: BLE001 - garbage from the responder
        return CertStatus(Answer.UNUSABLE, f"{url} answered with something not OCSP")
    if response.response_status is not ocsp.OCSPResponseStatus.SUCCESSFUL:
        return CertStatus(
            Answer.UNUSABLE, f"{url} answered {response.response_status.name.lower()}"
        )
    if not _ocsp_signed_for(response, issuer):
        return CertStatus(Answer.UNUSABLE, f"the OCSP response from {url} is not signed by the CA")
    for single in response.responses:
        if single.serial_number != cert.serial_number or single.issuer_name_hash != _name_hash(
            issuer, single.hash_algorithm
        ):
            continue
        if single.certificate_status is ocsp.OCSPCertStatus.REVOKED:
            when = single.revocation_time_utc
            reason = single.revocation_reason.value if single.revocation_reason else "unspecified"
            return CertStatus(
                Answer.REVOKED,
                f"revoked on {when:%Y-%m-%d %H:%M} UTC (reason: {reason}), per OCSP at {url}",
            )
        if single.certificate_status is ocsp.OCSPCertStatus.UNKNOWN:
            return CertStatus(Answer.UNUSABLE, f"{url} does not know the certificate")
        if single.next_update_utc is not None and single.next_update_utc + CLOCK_SKEW < now:
            return CertStatus(Answer.EXPIRED, f"the OCSP response from {url} is out of date")
        if single.this_update_utc - CLOCK_SKEW > now:
            return CertStatus(Answer.UNUSABLE, f"the OCSP response from {url} is from the future")
        return CertStatus(Answer.GOOD, f"good, per OCSP at {url}")
    return CertStatus(Answer.UNUSABLE, f"{url} did not answer for this certificate")


def _name_hash(issuer: x509.Certificate, algorithm: hashes.HashAlgorithm) -> bytes:
    digest = hashes.Hash(algorithm)
    digest.update(issuer.subject.public_bytes())
    return digest.finalize()


def _ocsp_signed_for(response: ocsp.OCSPResponse, issuer: x509.Certificate) -> bool:
    """Signed by the CA itself, or by a responder certificate the CA issued for OCSP
    signing (RFC 6960 section 4.2.2.2)."""
    signers = [issuer]
    for delegate in response.certificates:
        try:
            usage = delegate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        except Exception:  # noqa: BLE001, S112 - no EKU: not a delegate
            continue
        issued = delegate.issuer == issuer.subject and _signed_by(
            issuer.public_key(),
            delegate.signature,
            delegate.tbs_certificate_bytes,
            _hash_of(delegate),
            _padding_of(delegate),
        )
        if issued and ExtendedKeyUsageOID.OCSP_SIGNING in usage:
            signers.append(delegate)
    algorithm = response.signature_hash_algorithm
    return any(
        _signed_by(
            signer.public_key(),
            response.signature,
            response.tbs_response_bytes,
            algorithm,
            padding.PKCS1v15(),
        )
        for signer in signers
    )


Signed = x509.Certificate | x509.CertificateRevocationList


def _hash_of(signed: Signed) -> hashes.HashAlgorithm | None:
    try:
        return signed.signature_hash_algorithm
    except Exception:  # noqa: BLE001 - an algorithm cryptography does not name
        return None


def _padding_of(signed: Signed) -> padding.AsymmetricPadding:
    """PKCS #1 v1.5 or the PSS the signature names; cryptography cannot describe
    ecdsa-with-SHA1's parameters, and ECDSA needs none from here."""
    try:
        params = signed.signature_algorithm_parameters
    except Exception:  # noqa: BLE001 - see the docstring
        return padding.PKCS1v15()
    return params if isinstance(params, padding.PSS | padding.PKCS1v15) else padding.PKCS1v15()


def _signed_by(
    key: object,
    signature: bytes,
    data: bytes,
    algorithm: hashes.HashAlgorithm | None,
    rsa_padding: padding.AsymmetricPadding,
) -> bool:
    """Whether ``key`` made ``signature`` over ``data``. cryptography's X.509-level
    checks (``is_signature_valid``, ``verify_directly_issued_by``) refuse SHA-1,
    which AD CS hierarchies built before 2012 still sign their CRLs with and which
    Windows accepts under them; its key primitives verify it."""
    try:
        if isinstance(key, rsa.RSAPublicKey) and algorithm is not None:
            key.verify(signature, data, rsa_padding, algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey) and algorithm is not None:
            key.verify(signature, data, ec.ECDSA(algorithm))
        else:
            return False
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def _load_crl(body: bytes) -> x509.CertificateRevocationList | None:
    try:
        if body.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_crl(body)
        return x509.load_der_x509_crl(body)
    except Exception:  # noqa: BLE001 - garbage is "not a CRL", whatever raised
        return None
