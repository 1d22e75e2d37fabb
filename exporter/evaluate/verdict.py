"""Assemble one endpoint's verdict from its probe result (pure; the clock is a value).

The verdict is the single source of facts for every renderer: status, each
check's outcome, and the certificate facts. Renderers format it; none re-derive.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from exporter.certfacts import CertificateFacts, parse_chain
from exporter.config import Thresholds
from exporter.evaluate.authcert import read_auth_document
from exporter.evaluate.chain import ChainJudgement, ChainKey, chain_key, judge_chain
from exporter.evaluate.checks import (
    NO_CERTIFICATE,
    evaluate_date,
    evaluate_dns,
    evaluate_expiry,
    evaluate_validity,
)
from exporter.evaluate.clients import (
    DEFAULT_COMPONENTS,
    ChainTraits,
    ClientVerdict,
    Family,
    clients_outcome,
    evaluate_clients,
)
from exporter.evaluate.names import evaluate_name
from exporter.evaluate.outcome import Check, Outcome, Reason, Status, worst
from exporter.evaluate.probe_ok import probe_outcome
from exporter.evaluate.status import rejects_status, status_of
from exporter.model import Component
from exporter.probe.results import ProbeResult, TlsReason
from exporter.truststore import TrustStore


@dataclass(frozen=True)
class EndpointVerdict:
    """The judged endpoint.

    Attributes:
        checks: one Outcome per Check; ``ok`` None where not judged.
        chain: the presented certificates, leaf first; empty without a handshake.
        not_after: the leaf's; None without a certificate.
        chain_not_after: the earliest not-after in the presented chain.
        expiry: the expiry judgement as an Outcome (``expires_soon``,
            ``chain_expires_soon``); ``expiry_status`` the status its threshold gives.
        checks_status: the worst of the checks alone, without expiry (the Nagios
            check applies its own -w/-c ranges to expiry).
        status: the worst of all the above.
        advisories: hygiene warnings (``weak_signature``, ``weak_key``,
            ``long_validity``): each makes the status at least warning, never critical.
        target_in_namespace: when ``consistent`` is false, the certificate the
            namespace should present everywhere (evaluate/consistency.py); else None.
        auth_certificates: for ``auth_certificate``, every certificate the auth
            metadata document lists (``chain`` holds the one in use); else empty.
        notes: what changes no status but is worth saying (``unused_certificate``).
        clients: each enabled client family that uses the component, its verdict
            (evaluate/clients.py); empty where none does or nothing was judged.
        client_rejects: ``client_rejects`` when a family beyond Outlook refuses the
            certificate (critical: a user of that client sees an error).
    """

    probe: ProbeResult
    checks: dict[Check, Outcome]
    chain: tuple[CertificateFacts, ...]
    not_after: dt.datetime | None
    chain_not_after: dt.datetime | None
    expiry_status: Status
    expiry: Outcome
    checks_status: Status
    status: Status
    evaluated_at: dt.datetime
    advisories: tuple[Outcome, ...] = ()
    target_in_namespace: CertificateFacts | None = None
    notes: tuple[Outcome, ...] = ()
    auth_certificates: tuple[CertificateFacts, ...] = ()
    clients: Mapping[str, ClientVerdict] = dataclasses.field(default_factory=dict)
    client_rejects: Outcome = dataclasses.field(default_factory=Outcome.not_judged)

    @property
    def outcomes(self) -> list[tuple[str, Outcome]]:
        """Every check's outcome by name, in Check order, then ``expiry``'s: what the
        renderers list, none of them special-casing expiry."""
        return [
            *((c.value, self.checks[c]) for c in Check),
            ("expiry", self.expiry),
            ("clients", self.client_rejects),
        ]

    @property
    def expiring(self) -> bool:
        """The leaf or a chain certificate is inside an expiry threshold."""
        return self.expiry.ok is False

    @property
    def out_of_date(self) -> bool:
        """The leaf is outside its validity or a certificate is inside a threshold:
        what a renewal step answers."""
        return self.checks[Check.DATE_VALID].ok is False or self.expiring

    @property
    def leaf(self) -> CertificateFacts | None:
        return self.chain[0] if self.chain else None

    @property
    def days_left(self) -> float | None:
        """Days from evaluation to the leaf's notAfter (negative once expired)."""
        if self.not_after is None:
            return None
        return (self.not_after - self.evaluated_at).total_seconds() / 86400

    @property
    def chain_days_left(self) -> float | None:
        """Days to the earliest notAfter in the presented chain."""
        if self.chain_not_after is None:
            return None
        return (self.chain_not_after - self.evaluated_at).total_seconds() / 86400


def evaluate_endpoint(
    probe: ProbeResult,
    trust: TrustStore,
    thresholds: Thresholds,
    now: dt.datetime,
    chains: Mapping[ChainKey, ChainJudgement] | None = None,
    families: Mapping[Family, frozenset[Component]] | None = None,
) -> EndpointVerdict:
    """``chains``: the refresh's judgements by presented chain (``pki.judge``, with
    AIA and revocation fetched); a chain not in it is judged here, offline.
    ``families``: the enabled client families and their components (all three,
    with CLIENTS.md's components, when None)."""
    checks: dict[Check, Outcome] = {Check.PROBE_OK: probe_outcome(probe)}
    if probe.url_dns is not None:
        checks[Check.DNS_MATCH] = evaluate_dns(
            probe.url_dns, probe.server_addresses, probe.endpoint.server.name
        )
    else:
        checks[Check.DNS_MATCH] = Outcome.not_judged()
    if probe.document is not None and checks[Check.PROBE_OK].ok:
        return _auth_verdict(probe, checks, thresholds, now)
    chain = parse_chain(probe.tls.chain) if probe.tls is not None else ()
    target = probe.endpoint.target
    expiry = NO_CERTIFICATE
    not_after = chain_not_after = None
    advisories: tuple[Outcome, ...] = ()
    notes: tuple[Outcome, ...] = ()
    clients: dict[str, ClientVerdict] = {}
    if chain and target is not None:
        leaf = chain[0]
        checks[Check.NAME_MATCH] = evaluate_name(leaf, target.host)
        judged = (chains or {}).get(chain_key(chain))
        if judged is None:
            judged = judge_chain(chain, trust, now)
        checks[Check.ISSUER_TRUSTED] = judged.issuer
        checks[Check.DATE_VALID] = evaluate_date(leaf, now)
        checks[Check.CHAIN_COMPLETE] = judged.chain_complete
        checks[Check.NOT_REVOKED] = judged.not_revoked
        checks[Check.CONSISTENT] = Outcome.not_judged()  # across endpoints: amend()
        advisories = judged.advisories + evaluate_validity(leaf, thresholds.max_validity)
        notes = judged.notes
        traits = ChainTraits(judged.advisories, judged.public_root)
        clients = evaluate_clients(
            probe.endpoint.component,
            target.host,
            leaf,
            checks,
            traits,
            DEFAULT_COMPONENTS if families is None else families,
        )
        if probe.endpoint.component is Component.BACKEND:
            checks.update(_BACK_END_NOT_JUDGED)
            advisories = notes = ()
        not_after = leaf.not_after
        chain_not_after = min(c.not_after for c in chain)
        expiry = evaluate_expiry(
            not_after, chain_not_after, now, thresholds.expiry_warning, thresholds.expiry_critical
        )
    else:
        if probe.tls is not None and probe.tls.reason is TlsReason.OK:
            # A handshake happened but nothing parsed: the certificate itself is garbage.
            checks[Check.PROBE_OK] = Outcome.failed(
                Reason.NO_CERTIFICATE, "the server presented a certificate that cannot be parsed"
            )
        for check in _CERTIFICATE_CHECKS:
            checks[check] = Outcome.not_judged()
    rejects = clients_outcome(clients)
    return EndpointVerdict(
        probe=probe,
        checks=checks,
        chain=chain,
        not_after=not_after,
        chain_not_after=chain_not_after,
        expiry_status=expiry.status,
        expiry=expiry.outcome,
        checks_status=status_of(checks, advisories, rejects_status(rejects)),
        status=status_of(checks, advisories, worst([expiry.status, rejects_status(rejects)])),
        evaluated_at=now,
        advisories=advisories,
        notes=notes,
        clients=clients,
        client_rejects=rejects,
    )


def _auth_verdict(
    probe: ProbeResult, checks: dict[Check, Outcome], thresholds: Thresholds, now: dt.datetime
) -> EndpointVerdict:
    """The Auth certificate from the metadata document: its date and expiry, on its
    own thresholds; the TLS certificate of the request is the autodiscover one,
    judged on that endpoint."""
    assert probe.document is not None  # noqa: S101 - only called with one
    document = read_auth_document(probe.document, now)
    checks[Check.PROBE_OK] = document.probe
    for check in _CERTIFICATE_CHECKS:
        checks[check] = Outcome.not_judged()
    leaf = document.in_use
    expiry = NO_CERTIFICATE
    if leaf is not None:
        checks[Check.NAME_MATCH] = checks[Check.ISSUER_TRUSTED] = _AUTH_BY_DESIGN
        checks[Check.DATE_VALID] = evaluate_date(leaf, now)
        expiry = evaluate_expiry(
            leaf.not_after,
            leaf.not_after,
            now,
            thresholds.auth_expiry_warning,
            thresholds.auth_expiry_critical,
        )
    return EndpointVerdict(
        probe=probe,
        checks=checks,
        chain=(leaf,) if leaf is not None else (),
        not_after=leaf.not_after if leaf else None,
        chain_not_after=leaf.not_after if leaf else None,
        expiry_status=expiry.status,
        expiry=expiry.outcome,
        checks_status=status_of(checks, (), Status.OK),
        status=status_of(checks, (), expiry.status),
        evaluated_at=now,
        auth_certificates=document.certificates,
    )


# Self-signed by design, and not name-checked by whoever uses them
# (../shared/EXCHANGE-SURFACES.md): only presence, date and expiry count.
_BACK_END_NOT_JUDGED = {
    Check.NAME_MATCH: Outcome.not_judged(
        Reason.SELF_SIGNED_BY_DESIGN,
        "the back end's certificate is self-signed by design; the front end does not "
        "check its name",
    ),
    Check.ISSUER_TRUSTED: Outcome.not_judged(
        Reason.SELF_SIGNED_BY_DESIGN,
        "the back end's certificate is self-signed by design; the front end does not "
        "check its issuer",
    ),
    Check.CHAIN_COMPLETE: Outcome.not_judged(),
    Check.NOT_REVOKED: Outcome.not_judged(),
}
_AUTH_BY_DESIGN = Outcome.not_judged(
    Reason.SELF_SIGNED_BY_DESIGN,
    "the Auth certificate is self-signed and names no host by design; the TLS "
    "certificate of this request is judged on the autodiscover endpoint",
)

_CERTIFICATE_CHECKS = (
    Check.NAME_MATCH,
    Check.ISSUER_TRUSTED,
    Check.DATE_VALID,
    Check.CHAIN_COMPLETE,
    Check.NOT_REVOKED,
    Check.CONSISTENT,
)
