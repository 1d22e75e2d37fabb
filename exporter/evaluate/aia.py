"""Completing a chain as Windows does: when no issuer of a certificate is among
the presented ones or the anchors, fetch it from the certificate's AIA caIssuers
URLs (through the injected fetch, bounded by ``aia.max_urls``), up the chain.
Pure but for the fetch; chain.py decides what the result means.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypeVar

from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs7

from exporter.evaluate import revocation as rev
from exporter.evaluate.outcome import Outcome, Reason
from exporter.evaluate.paths import choose_path
from exporter.evaluate.trust import MAX_CHAIN_DEPTH, PathResult
from exporter.truststore import TrustStore


class FetchKind(StrEnum):
    CA_ISSUERS = "ca_issuers"
    CRL = "crl"
    OCSP = "ocsp"


# (url, kind, POST body or None) -> (body, None) or (None, why not)
Fetch = Callable[[str, FetchKind, bytes | None], tuple[bytes | None, str | None]]


def aia_hint(result: PathResult, issuer: Outcome) -> Outcome:
    """With AIA fetching off: say where the missing issuer is published."""
    stuck = result.stuck
    urls = rev.ca_issuers_urls(stuck) if stuck is not None else []
    if not urls or stuck is None:
        return issuer
    return Outcome.failed(
        Reason.INCOMPLETE_CHAIN,
        f"the server does not send the certificate of its issuer "
        f"{stuck.issuer.rfc4514_string()} (published at {urls[0]}), and that issuer is "
        "not a trusted CA here",
    )


_T = TypeVar("_T")


def capped(urls: list[_T], cap: int | None, key: str) -> tuple[list[_T], str | None]:
    """The URLs to try, and a note on those left untried (``key``: the config's)."""
    if cap is None or len(urls) <= cap:
        return urls, None
    left = len(urls) - cap
    return urls[:cap], f"{left} more URL{'s' if left != 1 else ''} not tried ({key} is {cap})"


@dataclass
class AiaAttempt:
    """Where completing a chain over AIA got: the last path result, the certificates
    fetched and the URLs they came from, and what failed on the way."""

    result: PathResult
    fetched: list[x509.Certificate] = field(default_factory=list)
    used: list[str] = field(default_factory=list)
    tried: list[str] = field(default_factory=list)


def complete_over_aia(
    certs: list[x509.Certificate],
    result: PathResult,
    store: TrustStore,
    when: dt.datetime,
    fetch: Fetch,
    cap: int | None,
) -> AiaAttempt:
    """Fetch the missing issuer from each stuck certificate's AIA, up the chain."""
    attempt = AiaAttempt(result)
    fetched, used, tried = attempt.fetched, attempt.used, attempt.tried
    for _ in range(MAX_CHAIN_DEPTH):
        stuck = result.stuck
        if stuck is None:
            break
        urls, untried = capped(rev.ca_issuers_urls(stuck), cap, "aia.max_urls")
        if not urls:
            break  # nothing is published: the issuer is simply unknown
        found = None
        for url in urls:
            body, error = fetch(url, FetchKind.CA_ISSUERS, None)
            if body is None:
                tried.append(error or url)
                continue
            found = next((c for c in _certificates(body) if c.subject == stuck.issuer), None)
            if found is None:
                tried.append(f"{url} holds no certificate of {stuck.issuer.rfc4514_string()}")
                continue
            used.append(url)
            break
        if found is None and untried:
            tried.append(untried)
        if found is None or found in fetched:
            break
        fetched.append(found)
        result = attempt.result = choose_path(certs[0], certs[1:] + fetched, store, when)
        if result.built:
            break
    return attempt


def _certificates(body: bytes) -> list[x509.Certificate]:
    """A caIssuers body: DER or PEM certificate, or a PKCS #7 bundle (.p7c)."""
    loaders = (
        lambda b: [x509.load_der_x509_certificate(b)],
        x509.load_pem_x509_certificates,
        pkcs7.load_der_pkcs7_certificates,
        pkcs7.load_pem_pkcs7_certificates,
    )
    for load in loaders:
        try:
            return list(load(body))
        except Exception:  # noqa: BLE001, S112 - try the next format
            continue
    return []
