"""One presented chain, judged as a domain member's chain engine judges it: the
issuer check, whether the server sends the whole chain, revocation, and hygiene.

Pure but for ``fetch``, which the caller injects (:mod:`exporter.pki.judge` hands
in the cached, bounded fetcher; ``None`` judges offline, as the unit tests and a
config without AIA or revocation do). What fetching changes:

- A server that does not send its intermediate, whose certificate's AIA
  caIssuers URL serves it: Windows fetches it ("as a last resort", TechNet Wiki
  3147), so ``issuer_trusted`` passes and ``chain_complete`` fails
  (``incomplete_chain``, a warning: phones and non-Windows clients do not fetch).
- Revocation (:mod:`.revocation`) for every certificate of the built path but
  the anchor.

A certificate may name any number of URLs; at most ``max_urls`` of each
certificate's are tried (caIssuers for AIA; OCSP and CDPs together for
revocation), in the order it lists them, and an error says how many were left.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass

from cryptography import x509

from exporter.certfacts import CertificateFacts
from exporter.evaluate import revocation as rev
from exporter.evaluate.aia import (
    AiaAttempt,
    Fetch,
    FetchKind,
    aia_hint,
    capped,
    complete_over_aia,
)
from exporter.evaluate.outcome import Outcome, Reason
from exporter.evaluate.paths import choose_path, unused_note
from exporter.evaluate.trust import (
    diagnose,
    hygiene,
    verification_time,
    windows_policy,
)
from exporter.truststore import TrustStore

__all__ = ["ChainJudgement", "ChainKey", "Fetch", "FetchKind", "chain_key", "judge_chain"]


ChainKey = tuple[bytes, ...]


def chain_key(chain: tuple[CertificateFacts, ...]) -> ChainKey:
    """What identifies a presented chain: its certificates' bytes, in order."""
    return tuple(c.der for c in chain)


@dataclass(frozen=True)
class ChainJudgement:
    """Everything decided about one presented chain; shared by every endpoint that
    presents it.

    Attributes:
        issuer, chain_complete, not_revoked: the three checks' outcomes.
        advisories: the chain's hygiene warnings (``weak_signature``, ``weak_key``).
        notes: what is worth telling but changes no status (``unused_certificate``:
            a presented certificate the chosen path does not use).
        public_root: the built path ends at a root of the system store (the public
            roots clients ship), not one of ``trust.ca_files``.
    """

    issuer: Outcome
    chain_complete: Outcome
    not_revoked: Outcome
    advisories: tuple[Outcome, ...] = ()
    notes: tuple[Outcome, ...] = ()
    public_root: bool = False


def judge_chain(
    chain: tuple[CertificateFacts, ...],
    store: TrustStore,
    now: dt.datetime,
    fetch: Fetch | None = None,
    *,
    aia: bool = True,
    revocation: bool = True,
    max_urls: tuple[int | None, int | None] = (None, None),
) -> ChainJudgement:
    """``max_urls``: how many URLs of each certificate are tried (AIA, revocation);
    None: all of them."""
    if not chain:
        none = Outcome.not_judged(Reason.NO_CERTIFICATE, "no certificate was presented")
        return ChainJudgement(none, Outcome.not_judged(), Outcome.not_judged())
    try:
        return _judge(chain, store, now, fetch, aia=aia, revocation=revocation, caps=max_urls)
    except Exception as exc:  # noqa: BLE001 - cryptography parses names lazily; malformed ones raise here
        failed = Outcome.failed(
            Reason.INVALID_CHAIN, f"a certificate in the chain cannot be parsed: {exc}"
        )
        return ChainJudgement(failed, Outcome.not_judged(), Outcome.not_judged())


def _judge(
    chain: tuple[CertificateFacts, ...],
    store: TrustStore,
    now: dt.datetime,
    fetch: Fetch | None,
    *,
    aia: bool,
    revocation: bool,
    caps: tuple[int | None, int | None],
) -> ChainJudgement:
    certs = [x509.load_der_x509_certificate(c.der) for c in chain]
    when = verification_time(chain[0], now)
    result = choose_path(certs[0], certs[1:], store, when)
    attempt = AiaAttempt(result)
    if not result.built and result.stuck is not None and aia and fetch is not None:
        attempt = complete_over_aia(certs, result, store, when, fetch, caps[0])
        result = attempt.result
    if not result.built:
        issuer = diagnose(certs, result, store, when)
        tried = attempt.tried
        if tried and issuer.reason in (Reason.INCOMPLETE_CHAIN, Reason.UNKNOWN_ISSUER):
            issuer = Outcome.failed(
                Reason.INCOMPLETE_CHAIN,
                f"{issuer.message}; fetching it as Windows would failed: {'; '.join(tried)}",
            )
        elif issuer.reason is Reason.UNKNOWN_ISSUER:
            issuer = aia_hint(result, issuer)
        return ChainJudgement(issuer, Outcome.not_judged(), Outcome.not_judged())
    path = result.path
    issuer = windows_policy(path, store)
    notes = unused_note(path, certs[1:])
    complete = Outcome.passed()
    if attempt.used:
        names = ", ".join(c.subject.rfc4514_string() for c in attempt.fetched)
        complete = Outcome.failed(
            Reason.INCOMPLETE_CHAIN,
            f"the server does not send the intermediate certificate {names}; Windows fetches "
            f"it from {', '.join(attempt.used)}, but phones and non-Windows clients will fail",
        )
    revoked = Outcome.not_judged()
    if revocation and fetch is not None and issuer.ok:
        revoked = _revocation(path, now, fetch, caps[1])
    public = store.is_public(path[-1])
    return ChainJudgement(issuer, complete, revoked, hygiene(path), notes, public)


def _revocation(
    path: tuple[x509.Certificate, ...], now: dt.datetime, fetch: Fetch, cap: int | None
) -> Outcome:
    """The first certificate revoked fails; otherwise any unknown makes the whole null,
    and so does a path none of whose certificates names a CDP or responder."""
    unknown: list[rev.CertStatus] = []
    checked = 0
    for cert, issuer in itertools.pairwise(path):
        status = _status_of(cert, issuer, now, fetch, cap)
        if status is None:
            continue  # no CDP and no OCSP: nothing to check, not a finding
        checked += 1
        if status.answer is rev.Answer.REVOKED:
            what = "the certificate" if cert is path[0] else cert.subject.rfc4514_string()
            return Outcome.failed(Reason.REVOKED, f"{what} is {status.message}")
        if status.answer is not rev.Answer.GOOD:
            unknown.append(status)
    if not checked:
        return Outcome.not_judged()
    if not unknown:
        return Outcome.passed()
    reason = (
        Reason.CRL_EXPIRED
        if all(s.answer is rev.Answer.EXPIRED for s in unknown)
        else Reason.REVOCATION_UNAVAILABLE
    )
    return Outcome.not_judged(reason, "; ".join(s.message for s in unknown))


def _status_of(
    cert: x509.Certificate,
    issuer: x509.Certificate,
    now: dt.datetime,
    fetch: Fetch,
    cap: int | None,
) -> rev.CertStatus | None:
    """OCSP first, then each CDP; the first definite answer. None when the
    certificate names neither."""
    sources: list[tuple[str, FetchKind]] = [(u, FetchKind.OCSP) for u in rev.ocsp_urls(cert)]
    sources += [(u, FetchKind.CRL) for u in rev.crl_urls(cert)]
    sources, untried = capped(sources, cap, "revocation.max_urls")
    if not sources:
        return None
    seen: list[rev.CertStatus] = []
    for url, kind in sources:
        post = rev.ocsp_request(cert, issuer) if kind is FetchKind.OCSP else None
        body, error = fetch(url, kind, post)
        if body is None:
            seen.append(rev.CertStatus(rev.Answer.UNUSABLE, error or f"{url}: no answer"))
            continue
        judge = rev.judge_ocsp if kind is FetchKind.OCSP else rev.judge_crl
        status = judge(body, cert, issuer, now, url)
        if status.answer in (rev.Answer.GOOD, rev.Answer.REVOKED):
            return status
        seen.append(status)
    expired = [s for s in seen if s.answer is rev.Answer.EXPIRED]
    if expired and len(expired) == len(seen):
        return expired[0]
    notes = [s.message for s in seen] + ([untried] if untried else [])
    return rev.CertStatus(rev.Answer.UNUSABLE, "; ".join(notes))
