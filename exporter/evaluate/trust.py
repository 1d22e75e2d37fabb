"""Outlook's "issuer is trusted" check: does the presented chain build to an anchor?

Chain building and signature checks are cryptography's X.509 verifier (the
Rust path validator that pyca maintains), not ours. We only choose the policy:
- the verification time is "now" clamped into the leaf's validity, so an
  expired leaf fails the *date* check, not this one (Outlook reports them apart);
  an expired intermediate still fails here;
- CA certificates follow the Web PKI profile; the leaf is not held to any
  extension profile (Outlook does not ask for serverAuth EKU or a SAN);
- only what the server sent builds the chain. Known intermediates from
  ``trust.ca_files`` are used to *diagnose* an incomplete chain, never to pass it,
  because a client without that intermediate cached would warn.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

from cryptography import x509
from cryptography.x509 import verification
from cryptography.x509.oid import AuthorityInformationAccessOID

from exporter.certfacts import CertificateFacts
from exporter.evaluate.outcome import Outcome, Reason
from exporter.truststore import TrustStore

MAX_CHAIN_DEPTH = 8


@lru_cache(maxsize=8)
def _store(anchors: tuple[x509.Certificate, ...]) -> verification.Store:
    return verification.Store(list(anchors))


def _verify(
    leaf: x509.Certificate,
    intermediates: list[x509.Certificate],
    anchors: tuple[x509.Certificate, ...],
    when: dt.datetime,
) -> str | None:
    """None when a chain builds; otherwise the verifier's message."""
    if not anchors:
        return "no trust anchors configured"
    verifier = (
        verification.PolicyBuilder()
        .store(_store(anchors))
        .time(when)
        .max_chain_depth(MAX_CHAIN_DEPTH)
        .extension_policies(
            ca_policy=verification.ExtensionPolicy.webpki_defaults_ca(),
            ee_policy=verification.ExtensionPolicy.permit_all(),
        )
        .build_client_verifier()
    )
    try:
        verifier.verify(leaf, intermediates)
    except verification.VerificationError as exc:
        return str(exc)
    return None


def _ca_issuers_url(cert: x509.Certificate) -> str | None:
    try:
        aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    except Exception:  # noqa: BLE001 - absent or unreadable AIA: no hint to give
        return None
    for desc in aia:
        if desc.access_method == AuthorityInformationAccessOID.CA_ISSUERS:
            return str(desc.access_location.value)
    return None


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


def evaluate_issuer(
    chain: tuple[CertificateFacts, ...], store: TrustStore, now: dt.datetime
) -> Outcome:
    if not chain:
        return Outcome.not_judged(Reason.NO_CERTIFICATE, "no certificate was presented")
    try:
        certs = [x509.load_der_x509_certificate(c.der) for c in chain]
        leaf_facts = chain[0]
        when = min(max(now, leaf_facts.not_before), leaf_facts.not_after)
        error = _verify(certs[0], certs[1:], store.anchors, when)
        if error is None:
            return Outcome.passed()
        return _diagnose(certs, store, when, error)
    except Exception as exc:  # noqa: BLE001 - cryptography parses names lazily; malformed ones raise here
        return Outcome.failed(
            Reason.INVALID_CHAIN, f"a certificate in the chain cannot be parsed: {exc}"
        )


def _diagnose(
    certs: list[x509.Certificate], store: TrustStore, when: dt.datetime, error: str
) -> Outcome:
    leaf = certs[0]
    top = _top_of_presented(certs)
    top_name = top.subject.rfc4514_string()
    if top.issuer == top.subject:
        if top is leaf:
            return Outcome.failed(
                Reason.SELF_SIGNED,
                "the certificate is self-signed, so no client trusts it "
                "unless it is installed on each of them",
            )
        if any(a.subject == top.subject for a in store.anchors):
            return Outcome.failed(Reason.INVALID_CHAIN, f"the chain does not validate: {error}")
        return Outcome.failed(
            Reason.UNTRUSTED_ROOT, f"the chain ends at a root that clients do not trust: {top_name}"
        )
    issuer_name = top.issuer.rfc4514_string()
    if any(a.subject == top.issuer for a in store.anchors):
        return Outcome.failed(Reason.INVALID_CHAIN, f"the chain does not validate: {error}")
    if _verify(leaf, certs[1:] + list(store.intermediates), store.anchors, when) is None:
        return Outcome.failed(
            Reason.INCOMPLETE_CHAIN,
            f"the server does not send the intermediate certificate {issuer_name}; "
            "clients that have not cached it will warn",
        )
    hint = _ca_issuers_url(top)
    if hint is not None:
        return Outcome.failed(
            Reason.INCOMPLETE_CHAIN,
            f"the server does not send the certificate of its issuer {issuer_name} "
            f"(published at {hint}), and that issuer is not a trusted CA here",
        )
    return Outcome.failed(
        Reason.UNKNOWN_ISSUER, f"the issuer {issuer_name} is not sent and is not a trusted CA"
    )
