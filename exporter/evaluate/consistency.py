"""One namespace, one certificate: the check across endpoints (pure).

Endpoints whose URLs share a host name and port are one namespace, whatever the
server (a load-balanced name, or one server's many URLs). Microsoft's certificate
planning guidance deploys the same certificate on every server that answers a
namespace; a renewal done on one server of several leaves the others on the old
one, which then expires "by surprise" (../shared/EXCHANGE-SURFACES.md). When a
namespace presents more than one leaf, the newest (latest notBefore) is the one
meant: endpoints presenting it are consistent, the others are not
(``certificate_differs``, a warning). An endpoint alone in its namespace, or
without a certificate, is not judged.
"""

from __future__ import annotations

from collections.abc import Sequence

from exporter.certfacts import CertificateFacts
from exporter.evaluate.outcome import Check, Outcome, Reason
from exporter.evaluate.verdict import EndpointVerdict, amend


def namespace_key(verdict: EndpointVerdict) -> tuple[str, int] | None:
    """The namespace an endpoint's URL is in: (host, port); None for an unusable URL."""
    target = verdict.probe.endpoint.target
    if target is None:
        return None
    return target.host.rstrip(".").lower(), target.port


def namespace_of(verdict: EndpointVerdict) -> tuple[str, int] | None:
    """The namespace, for an endpoint that presented a certificate to compare. The
    back end and the Auth certificate are each server's own: never compared."""
    if verdict.probe.endpoint.component.is_servers_own:
        return None
    return namespace_key(verdict) if verdict.leaf is not None else None


def evaluate_consistency(verdicts: Sequence[EndpointVerdict]) -> list[EndpointVerdict]:
    """The verdicts, each with ``consistent`` decided."""
    members: dict[tuple[str, int], list[int]] = {}
    for index, verdict in enumerate(verdicts):
        namespace = namespace_of(verdict)
        if namespace is not None:
            members.setdefault(namespace, []).append(index)
    out = list(verdicts)
    for (host, port), indexes in members.items():
        if len(indexes) < 2:
            continue
        leaves: dict[str, CertificateFacts] = {}
        for i in indexes:
            leaf = verdicts[i].leaf
            if leaf is not None:
                leaves[leaf.fingerprint_sha256] = leaf
        newest = max(leaves.values(), key=lambda c: (c.not_before, c.not_after))
        holders = sorted(
            {v.probe.endpoint.server.name for v in _presenting(verdicts, indexes, newest)}
        )
        for i in indexes:
            leaf = verdicts[i].leaf
            if leaf is None or leaf.fingerprint_sha256 == newest.fingerprint_sha256:
                out[i] = amend(verdicts[i], Check.CONSISTENT, Outcome.passed())
                continue
            message = (
                f"{host}:{port} is served with {len(leaves)} different certificates: "
                f"{', '.join(holders)} present{'s' if len(holders) == 1 else ''} the newest "
                f"({newest.thumbprint}, valid from {newest.not_before:%Y-%m-%d} to "
                f"{newest.not_after:%Y-%m-%d}); this one presents {leaf.thumbprint} "
                f"(valid to {leaf.not_after:%Y-%m-%d})"
            )
            outcome = Outcome.failed(Reason.CERTIFICATE_DIFFERS, message)
            out[i] = amend(verdicts[i], Check.CONSISTENT, outcome, newest)
    return out


def _presenting(
    verdicts: Sequence[EndpointVerdict], indexes: list[int], leaf: CertificateFacts
) -> list[EndpointVerdict]:
    return [
        verdicts[i]
        for i in indexes
        if (other := verdicts[i].leaf) is not None
        and other.fingerprint_sha256 == leaf.fingerprint_sha256
    ]
