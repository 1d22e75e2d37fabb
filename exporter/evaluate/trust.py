"""Outlook's "issuer is trusted" check, as Windows' chain engine decides it.

Path building and signature checks are OpenSSL's ``X509_verify_cert`` (through
pyOpenSSL's ``X509StoreContext``), not ours; docs/ARCHITECTURE.md says why it and
not cryptography's Web PKI verifier. OpenSSL is run with no purpose and no
security level, which is as lenient as CryptoAPI on the profile points Windows
does not enforce (basicConstraints criticality, a CA without keyUsage, critical
certificatePolicies, v1 roots, AKI forms, RSA-1024, SHA-1) and still rejects what
Windows rejects (broken signatures, a v3 CA without cA, expired CAs, path length
and name constraints). On the built path we then apply the rules OpenSSL does not
know as Windows applies them (../shared/WINDOWS-TRUST.md):

- EKU as ``CERT_USAGE_MATCH`` nests it: every certificate that has an EKU must
  list serverAuth or anyExtendedKeyUsage; criticality is no reason (Microsoft
  Learn, CERT_USAGE_MATCH; Wine's ``CRYPT_CheckUsages``). Failure: ``wrong_usage``.
- RSA keys under 1024 bits are blocked (KB 2661254).
- SHA-1 signatures are blocked under public roots only (Microsoft's SHA-1
  deprecation covers roots of its Trusted Root Program; enterprise roots "will
  not be impacted": Microsoft Edge blog, 2016-11-18).

The verification time is "now" clamped into the leaf's validity, so an expired
leaf fails the *date* check, not this one (Outlook reports them apart); an expired
intermediate still fails here. Known intermediates from ``trust.ca_files`` only
*diagnose* an incomplete chain, never pass it; certificates fetched from AIA (the
caller's job, :mod:`exporter.pki.judge`) do pass it, as they do for Windows.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID
from OpenSSL import crypto

from exporter.certfacts import CertificateFacts
from exporter.evaluate.extensions import unknown_critical
from exporter.evaluate.outcome import Outcome, Reason
from exporter.truststore import TrustStore

MAX_CHAIN_DEPTH = 8
# OpenSSL's X509_V_ERR_* codes that mean "an issuer was not found".
_NO_ISSUER = {2, 20}  # UNABLE_TO_GET_ISSUER_CERT, UNABLE_TO_GET_ISSUER_CERT_LOCALLY
_SELF_SIGNED_LEAF = 18  # DEPTH_ZERO_SELF_SIGNED_CERT
_SELF_SIGNED_IN_CHAIN = 19  # SELF_SIGNED_CERT_IN_CHAIN
_USAGE_OK = {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE}
_SHA1_OIDS = {"1.2.840.113549.1.1.5", "1.2.840.10045.4.1", "1.2.840.10040.4.3"}
MIN_RSA_BITS = 1024  # KB 2661254
GOOD_RSA_BITS = 2048  # hygiene: HealthChecker's and the CA/Browser Forum's floor


@dataclass(frozen=True)
class PathResult:
    """What OpenSSL's chain builder made of a leaf and its offered intermediates.

    Attributes:
        path: leaf first, the anchor last, when a chain was built; else empty.
        error: OpenSSL's message when none was, ``code`` its X509_V_ERR number, and
            ``culprit`` the certificate it is about.
    """

    path: tuple[x509.Certificate, ...] = ()
    error: str | None = None
    code: int | None = None
    culprit: x509.Certificate | None = None

    @property
    def built(self) -> bool:
        return bool(self.path)

    @property
    def stuck(self) -> x509.Certificate | None:
        """The certificate whose issuer was not found: the one whose AIA a client
        would fetch; None for any other failure."""
        return self.culprit if self.code in _NO_ISSUER else None


@lru_cache(maxsize=8)
def _openssl_anchors(anchors: tuple[x509.Certificate, ...]) -> tuple[crypto.X509, ...]:
    return tuple(crypto.X509.from_cryptography(a) for a in anchors)


@lru_cache(maxsize=16)
def _store(anchors: tuple[x509.Certificate, ...], when: int) -> crypto.X509Store:
    """One OpenSSL store per anchors and verification second. The time must be set
    on a new store: OpenSSL keeps the first time a store was given (its
    X509_VERIFY_PARAM_set1 does not overwrite a set check time). A refresh judges
    nearly every chain at one "now", so this is one store a refresh."""
    store = crypto.X509Store()
    for anchor in _openssl_anchors(anchors):
        store.add_cert(anchor)
    store.set_time(dt.datetime.fromtimestamp(when, dt.UTC))
    # OpenSSL calls a critical AKI, SKI or AIA "unhandled"; CryptoAPI knows them.
    # Criticality is judged by windows_policy() instead (WINDOWS_KNOWN).
    store.set_flags(crypto.X509StoreFlags.IGNORE_CRITICAL)
    return store


def build_path(
    leaf: x509.Certificate,
    intermediates: list[x509.Certificate],
    store: TrustStore,
    when: dt.datetime,
) -> PathResult:
    """OpenSSL's verdict on ``leaf`` with ``intermediates`` offered, at ``when``."""
    if not store.anchors:
        return PathResult(error="no trust anchors configured")
    untrusted = [crypto.X509.from_cryptography(c) for c in intermediates]
    anchors = _store(store.anchors, int(when.timestamp()))
    context = crypto.X509StoreContext(anchors, crypto.X509.from_cryptography(leaf), untrusted)
    try:
        chain = context.get_verified_chain()
    except crypto.X509StoreContextError as exc:
        code, message = _error_parts(exc)
        culprit = exc.certificate.to_cryptography() if exc.certificate else None
        return PathResult(error=message, code=code, culprit=culprit)
    path = tuple(c.to_cryptography() for c in chain)
    if len(path) > MAX_CHAIN_DEPTH + 1:
        return PathResult(error=f"the chain is longer than {MAX_CHAIN_DEPTH} certificates")
    return PathResult(path=path)


def _error_parts(exc: crypto.X509StoreContextError) -> tuple[int | None, str]:
    errors = getattr(exc, "errors", None) or (exc.args[0] if exc.args else None)
    if isinstance(errors, list | tuple) and len(errors) >= 3:
        return int(errors[0]), str(errors[2])
    return None, str(exc)


def _eku(cert: x509.Certificate) -> x509.ExtendedKeyUsage | None:
    try:
        return cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return None


def _name(cert: x509.Certificate) -> str:
    try:
        return cert.subject.rfc4514_string()
    except Exception:  # noqa: BLE001 - a malformed name is still a certificate to name
        return "(unreadable subject)"


def windows_policy(path: tuple[x509.Certificate, ...], store: TrustStore) -> Outcome:
    """The rules of the module docstring on a built path (leaf first, anchor last)."""
    for index, cert in enumerate(path):
        unknown = unknown_critical(cert)
        if unknown:
            what = "the certificate" if index == 0 else f"the CA {_name(cert)}"
            return Outcome.failed(
                Reason.INVALID_CHAIN,
                f"{what} has a critical extension Windows does not know ({', '.join(unknown)}); "
                "Windows rejects it (CERT_E_CRITICAL)",
            )
        usage = _eku(cert)
        if usage is not None and not _USAGE_OK & set(usage):
            what = "the certificate" if index == 0 else f"the CA {_name(cert)}"
            listed = ", ".join(oid._name for oid in usage) or "nothing"
            return Outcome.failed(
                Reason.WRONG_USAGE,
                f"{what} is not valid for server authentication: its extended key usage "
                f"lists {listed}; Windows rejects it for TLS (CERT_E_WRONG_USAGE)",
            )
        key = cert.public_key()
        if isinstance(key, rsa.RSAPublicKey) and key.key_size < MIN_RSA_BITS:
            return Outcome.failed(
                Reason.INVALID_CHAIN,
                f"{_name(cert)} has a {key.key_size}-bit RSA key; Windows blocks RSA keys "
                f"under {MIN_RSA_BITS} bits (KB 2661254)",
            )
    anchor = path[-1]
    if store.is_public(anchor):
        for cert in path[:-1]:
            if cert.signature_algorithm_oid.dotted_string in _SHA1_OIDS:
                return Outcome.failed(
                    Reason.INVALID_CHAIN,
                    f"{_name(cert)} is signed with SHA-1 under the public root "
                    f"{_name(anchor)}; Windows blocks SHA-1 TLS certificates under public roots",
                )
    return Outcome.passed()


def hygiene(path: tuple[x509.Certificate, ...]) -> tuple[Outcome, ...]:
    """What Outlook does not warn about but an admin must hear: SHA-1 signatures
    (``weak_signature``) and RSA keys under 2048 bits (``weak_key``). The anchor's
    own self-signature is not judged (no client checks it)."""
    found: list[Outcome] = []
    for cert in path[:-1]:
        if cert.signature_algorithm_oid.dotted_string in _SHA1_OIDS:
            found.append(
                Outcome.failed(
                    Reason.WEAK_SIGNATURE,
                    f"{_name(cert)} is signed with SHA-1: Outlook accepts it under an "
                    "enterprise root, but iPhones, Macs, Edge and Chrome refuse it; re-issue "
                    "it with SHA-256",
                )
            )
    for cert in path:
        key = cert.public_key()
        if isinstance(key, rsa.RSAPublicKey) and key.key_size < GOOD_RSA_BITS:
            found.append(
                Outcome.failed(
                    Reason.WEAK_KEY,
                    f"{_name(cert)} has a {key.key_size}-bit RSA key: iPhones and Macs "
                    f"refuse it; re-issue it with at least {GOOD_RSA_BITS} bits",
                )
            )
    return tuple(found)


def verification_time(leaf: CertificateFacts, now: dt.datetime) -> dt.datetime:
    """Now, clamped into the leaf's validity (see the module docstring). OpenSSL
    counts a certificate as expired at its notAfter second and not yet valid at its
    notBefore second, and compares whole seconds: hence the margin."""
    second = dt.timedelta(seconds=1)
    return min(max(now, leaf.not_before + second), leaf.not_after - second)


def diagnose(
    certs: list[x509.Certificate], result: PathResult, store: TrustStore, when: dt.datetime
) -> Outcome:
    """The issuer outcome for a chain that did not build, by what OpenSSL found."""
    leaf = certs[0]
    if result.code == _SELF_SIGNED_LEAF:
        return Outcome.failed(
            Reason.SELF_SIGNED,
            "the certificate is self-signed, so no client trusts it "
            "unless it is installed on each of them",
        )
    if result.code == _SELF_SIGNED_IN_CHAIN:
        top = _top_of_presented(certs)
        return Outcome.failed(
            Reason.UNTRUSTED_ROOT,
            f"the chain ends at a root that clients do not trust: {_name(top)}",
        )
    if result.stuck is None:
        where = f" ({_name(result.culprit)})" if result.culprit is not None else ""
        return Outcome.failed(
            Reason.INVALID_CHAIN, f"the chain does not validate: {result.error}{where}"
        )
    stuck = result.stuck
    issuer_name = stuck.issuer.rfc4514_string()
    if any(a.subject == stuck.issuer for a in store.anchors):
        return Outcome.failed(
            Reason.INVALID_CHAIN,
            f"the chain does not validate: {_name(stuck)} does not verify against {issuer_name}",
        )
    if build_path(leaf, certs[1:] + list(store.intermediates), store, when).built:
        return Outcome.failed(
            Reason.INCOMPLETE_CHAIN,
            f"the server does not send the intermediate certificate {issuer_name}; "
            "clients that have not cached it will warn",
        )
    return Outcome.failed(
        Reason.UNKNOWN_ISSUER, f"the issuer {issuer_name} is not sent and is not a trusted CA"
    )


def _top_of_presented(chain: list[x509.Certificate]) -> x509.Certificate:
    """Follow issuer names through what was presented; return the last link found."""
    current, seen = chain[0], {0}
    while True:
        for index, cert in enumerate(chain):
            if index not in seen and cert.subject == current.issuer:
                seen.add(index)
                current = cert
                break
        else:
            return current
