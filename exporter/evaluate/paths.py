"""Candidate paths, best first, as CryptoAPI builds them: when the presented order
does not lead to a trusted root, the other issuers the presented (and fetched)
certificates offer are tried.

OpenSSL's ``X509_verify_cert`` takes the first untrusted certificate whose subject
matches an issuer and does not backtrack through other untrusted candidates (its
"alternative chains" only swap in trusted certificates). CryptoAPI builds every
candidate path by name and key identifier and keeps the best (Microsoft Learn,
"Certificate chain building" and CertGetCertificateChain's quality ordering: a
trusted, complete chain first). A server that still sends an old cross-signed
intermediate beside the current one is common after a public CA's root
transition, and Outlook shows nothing for it.

So, when OpenSSL's path from the presented order fails, each candidate path is
handed to OpenSSL alone (its untrusted set is exactly that path's intermediates):
OpenSSL still builds and checks every signature, this module only chooses which
certificates it may use. Bounded as CryptoAPI bounds it: at most ``MAX_DEPTH``
intermediates a path, ``MAX_CANDIDATES`` paths, and each certificate used once in a
path, so 50 presented certificates with many candidate issuers stay cheap. Among
the paths that verify and pass Windows' rules, the one whose certificates are the
newest wins (CryptoAPI prefers, among good chains, the most recently issued).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator

from cryptography import x509

from exporter.evaluate.outcome import Outcome, Reason
from exporter.evaluate.trust import MAX_CHAIN_DEPTH, PathResult, build_path, windows_policy
from exporter.truststore import TrustStore

MAX_DEPTH = MAX_CHAIN_DEPTH
MAX_CANDIDATES = 32
# Certificates looked at while searching: 50 presented certificates that all name
# one another cannot make the search explode.
MAX_EXPANDED = 512


def best_path(
    leaf: x509.Certificate,
    offered: list[x509.Certificate],
    store: TrustStore,
    when: dt.datetime,
    acceptable: Callable[[PathResult], bool],
) -> PathResult:
    """OpenSSL's path from the offered order when it is acceptable; else the best
    acceptable candidate path; else the first result, for its diagnosis."""
    first = build_path(leaf, offered, store, when)
    if (first.built and acceptable(first)) or len(offered) < 2:
        return first
    good: list[PathResult] = []
    for candidate in candidate_paths(leaf, offered, store):
        if candidate == offered:
            continue
        result = build_path(leaf, candidate, store, when)
        if result.built and acceptable(result):
            good.append(result)
    if not good:
        return first
    return max(good, key=lambda r: sorted((c.not_valid_before_utc for c in r.path), reverse=True))


def candidate_paths(
    leaf: x509.Certificate, offered: list[x509.Certificate], store: TrustStore
) -> Iterator[list[x509.Certificate]]:
    """The offered intermediates' orderings that form issuer chains from the leaf
    (by name and, where both carry one, key identifier), longest first, bounded."""
    anchors = {a.subject for a in store.anchors}
    found = expanded = 0
    stack: list[tuple[x509.Certificate, list[x509.Certificate]]] = [(leaf, [])]
    while stack and found < MAX_CANDIDATES and expanded < MAX_EXPANDED:
        cert, path = stack.pop()
        expanded += 1
        issuers = [c for c in offered if c not in path and _issues(c, cert)]
        ends_here = cert.issuer in anchors or not issuers or len(path) >= MAX_DEPTH
        if ends_here and path:
            found += 1
            yield path
        if len(path) >= MAX_DEPTH or cert.issuer in anchors:
            continue
        # Tried first: an issuer a trusted root issued (CryptoAPI prefers the trusted
        # chain), then the offered order. Pushed in reverse, so popped in that order.
        issuers.sort(key=lambda c: c.issuer not in anchors)
        stack.extend((issuer, [*path, issuer]) for issuer in reversed(issuers))


def _issues(issuer: x509.Certificate, cert: x509.Certificate) -> bool:
    if issuer.subject != cert.issuer or issuer == cert:
        return False
    wanted = _aki(cert)
    have = _ski(issuer)
    return wanted is None or have is None or wanted == have


def _aki(cert: x509.Certificate) -> bytes | None:
    try:
        value = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    except (x509.ExtensionNotFound, ValueError):
        return None
    return value.key_identifier


def _ski(cert: x509.Certificate) -> bytes | None:
    try:
        return cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    except (x509.ExtensionNotFound, ValueError):
        return None


def unused(
    path: tuple[x509.Certificate, ...], offered: list[x509.Certificate]
) -> list[x509.Certificate]:
    """The offered certificates the chosen path does not use."""
    return [c for c in offered if c not in path]


def choose_path(
    leaf: x509.Certificate, offered: list[x509.Certificate], store: TrustStore, when: dt.datetime
) -> PathResult:
    """The presented order's path, or the best candidate path when it fails
    (evaluate/paths.py): one Windows accepts."""
    return best_path(leaf, offered, store, when, lambda r: bool(windows_policy(r.path, store).ok))


def unused_note(
    path: tuple[x509.Certificate, ...], offered: list[x509.Certificate]
) -> tuple[Outcome, ...]:
    """When the path does not use every presented certificate because another
    candidate was chosen: which, so the admin can remove the stale one. A note, not
    a warning: Windows finds its way."""
    left = unused(path, offered)
    if not left or path[1 : 1 + len(offered)] == tuple(offered[: len(path) - 1]):
        return ()
    used = " <- ".join(_subject(c) for c in path)
    stale = "; ".join(f"{_subject(c)} (issued by {c.issuer.rfc4514_string()})" for c in left)
    return (
        Outcome.failed(
            Reason.UNUSED_CERTIFICATE,
            f"the server also sends {stale}, which the chain Windows builds does not use "
            f"({used}): remove it from the server's intermediate store",
        ),
    )


def _subject(cert: x509.Certificate) -> str:
    try:
        return cert.subject.rfc4514_string()
    except ValueError:
        return "(unreadable subject)"
