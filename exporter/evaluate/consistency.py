"""One namespace, one certificate: the check across endpoints (pure).

Endpoints whose URLs share a host name and port are one namespace, whatever the
server (a load-balanced name, or one server's many URLs). Microsoft's certificate
planning guidance deploys the same certificate on every server that answers a
namespace; a renewal done on one server of several leaves the others on the old
one, which then expires "by surprise" (../shared/EXCHANGE-SURFACES.md).

When a namespace presents more than one leaf, the one meant is chosen by health,
never by age (a newer certificate may be the one about to expire): the **target**
is a presented leaf that is trusted, date-valid, outside
``thresholds.expiry_warning`` and not revoked, that names the namespace's host,
and, since a certificate is bound per server and service, every other host name
that service is reached by on each server it would be bound to; among those, the
longest remaining validity, then the newest (then the one most endpoints present,
the fewest binds). Endpoints presenting the target are
consistent, the others are not (``certificate_differs``, a warning), and the fix
binds the target there. When no leaf qualifies every endpoint of the namespace is
inconsistent and the message says why each leaf falls short: the fix is a new
certificate. An endpoint alone in its namespace, or without a certificate, is not
judged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from exporter.certfacts import CertificateFacts
from exporter.evaluate.amend import amend
from exporter.evaluate.names import covers
from exporter.evaluate.outcome import Check, Outcome, Reason
from exporter.evaluate.verdict import EndpointVerdict

Namespace = tuple[str, int]


def namespace_key(verdict: EndpointVerdict) -> Namespace | None:
    """The namespace an endpoint's URL is in: (host, port); None for an unusable URL."""
    target = verdict.probe.endpoint.target
    if target is None:
        return None
    return target.host.rstrip(".").lower(), target.port


def namespace_of(verdict: EndpointVerdict) -> Namespace | None:
    """The namespace, for an endpoint that presented a certificate to compare. The
    back end and the Auth certificate are each server's own: never compared."""
    if verdict.probe.endpoint.component.is_servers_own:
        return None
    return namespace_key(verdict) if verdict.leaf is not None else None


@dataclass(frozen=True)
class NamespaceTarget:
    """The certificate a namespace should present everywhere.

    Attributes:
        leaf: the target; None when no presented certificate qualifies.
        holder: a healthy endpoint presenting it (its server can export it, its
            chain is what binding it brings); None with ``leaf``.
        why: why the target was chosen, or why none qualifies (each leaf's flaw).
        leaves: the distinct leaves the namespace presents.
    """

    namespace: Namespace
    leaf: CertificateFacts | None
    holder: EndpointVerdict | None
    why: str
    leaves: tuple[CertificateFacts, ...]


def service_hosts(verdicts: Sequence[EndpointVerdict]) -> dict[tuple[str, str], set[str]]:
    """Every host name each (server, service) is reached by."""
    hosts: dict[tuple[str, str], set[str]] = {}
    for verdict in verdicts:
        endpoint = verdict.probe.endpoint
        service = endpoint.component.service
        if service is not None and endpoint.target is not None:
            key = (endpoint.server.name, service)
            hosts.setdefault(key, set()).add(endpoint.target.host.rstrip(".").lower())
    return hosts


def flaw(verdict: EndpointVerdict) -> str | None:
    """Why the certificate this endpoint presents may not be the target; None if
    it may. The checks as judged on this endpoint (its chain, now)."""
    leaf = verdict.leaf
    if leaf is None:
        return "no certificate"
    checks = verdict.checks
    if checks[Check.ISSUER_TRUSTED].ok is not True:
        reason = checks[Check.ISSUER_TRUSTED].reason
        return f"its issuer is not trusted ({reason.value if reason else 'not judged'})"
    if checks[Check.DATE_VALID].ok is not True:
        reason = checks[Check.DATE_VALID].reason
        return "it has expired" if reason is Reason.EXPIRED else "it is not valid yet"
    if verdict.expiry.ok is False:
        return f"{verdict.expiry.message}, inside thresholds.expiry_warning"
    if checks[Check.NOT_REVOKED].ok is False:
        return "it is revoked"
    if verdict.client_rejects.ok is False:
        return verdict.client_rejects.message or "a client family refuses it"
    return None


def choose_target(
    namespace: Namespace,
    members: Sequence[EndpointVerdict],
    hosts: dict[tuple[str, str], set[str]],
) -> NamespaceTarget:
    """The namespace's target among the leaves its endpoints present: the best
    healthy one (by validity, then the most presented) that names every host of
    each server it would be bound to."""
    host = namespace[0]
    leaves: dict[str, CertificateFacts] = {}
    healthy: dict[str, EndpointVerdict] = {}
    flaws: dict[str, str] = {}
    presenting: dict[str, set[tuple[str, str]]] = {}
    for verdict in members:
        leaf = verdict.leaf
        if leaf is None:
            continue
        key = leaf.fingerprint_sha256
        endpoint = verdict.probe.endpoint
        presenting.setdefault(key, set()).add((endpoint.server.name, endpoint.component.value))
        if key not in leaves:
            leaves[key] = leaf
            if not covers(leaf, host):
                flaws[key] = f"it does not name {host}"
        if key in healthy or flaws.get(key, "").startswith("it does not name"):
            continue
        problem = flaw(verdict)
        if problem is None:
            healthy[key] = verdict
            flaws.pop(key, None)
        else:
            flaws.setdefault(key, problem)
    pairs = {
        (v.probe.endpoint.server.name, v.probe.endpoint.component.service or ""): v.leaf
        for v in members
        if v.leaf is not None
    }
    # Ties (the same dates) go to the one most endpoints present, the fewest binds.
    ranked = sorted(
        healthy,
        key=lambda k: (leaves[k].not_after, leaves[k].not_before, len(presenting[k]), k),
        reverse=True,
    )
    for key in ranked:
        leaf = leaves[key]
        lacking = _lacking(leaf, key, pairs, hosts)
        if lacking is not None:
            flaws[key] = lacking
            continue
        why = (
            f"the one to deploy is {leaf.thumbprint}, presented by {_holders(members, key)}: "
            f"trusted, names {host}, valid until {leaf.not_after:%Y-%m-%d}"
        )
        if len(healthy) > 1:
            why += f", the longest of the {len(healthy)} healthy ones"
        return NamespaceTarget(namespace, leaf, healthy[key], why, tuple(leaves.values()))
    why = "; ".join(f"{leaves[k].thumbprint} ({_holders(members, k)}): {flaws[k]}" for k in leaves)
    why = f"none qualifies as the one to deploy: {why}"
    return NamespaceTarget(namespace, None, None, why, tuple(leaves.values()))


def _lacking(
    leaf: CertificateFacts,
    key: str,
    pairs: Mapping[tuple[str, str], CertificateFacts | None],
    hosts: dict[tuple[str, str], set[str]],
) -> str | None:
    """Why ``leaf`` may not be bound on a server that presents another one: a host
    that server's service is reached by which it does not name; None if none."""
    for (server, service), presented in sorted(pairs.items()):
        if presented is not None and presented.fingerprint_sha256 == key:
            continue
        lacking = sorted(h for h in hosts.get((server, service), set()) if not covers(leaf, h))
        if lacking:
            return f"it does not name {', '.join(lacking)}, which {server} also serves"
    return None


def _holders(members: Sequence[EndpointVerdict], key: str) -> str:
    servers = {
        v.probe.endpoint.server.name
        for v in members
        if v.leaf is not None and v.leaf.fingerprint_sha256 == key
    }
    return ", ".join(sorted(servers))


def namespace_targets(verdicts: Sequence[EndpointVerdict]) -> dict[Namespace, NamespaceTarget]:
    """Every namespace that presents more than one leaf, with its target."""
    members: dict[Namespace, list[EndpointVerdict]] = {}
    for verdict in verdicts:
        namespace = namespace_of(verdict)
        if namespace is not None:
            members.setdefault(namespace, []).append(verdict)
    hosts = service_hosts(verdicts)
    out: dict[Namespace, NamespaceTarget] = {}
    for namespace, found in members.items():
        if len({v.leaf.fingerprint_sha256 for v in found if v.leaf is not None}) > 1:
            out[namespace] = choose_target(namespace, found, hosts)
    return out


def evaluate_consistency(verdicts: Sequence[EndpointVerdict]) -> list[EndpointVerdict]:
    """The verdicts, each with ``consistent`` decided."""
    targets = namespace_targets(verdicts)
    sizes: dict[Namespace, int] = {}
    for verdict in verdicts:
        if (found := namespace_of(verdict)) is not None:
            sizes[found] = sizes.get(found, 0) + 1
    out = list(verdicts)
    for index, verdict in enumerate(verdicts):
        namespace = namespace_of(verdict)
        leaf = verdict.leaf
        if namespace is None or leaf is None:
            continue
        target = targets.get(namespace)
        if target is None:
            if sizes[namespace] > 1:
                out[index] = amend(verdict, Check.CONSISTENT, Outcome.passed())
            continue
        if target.leaf is not None and leaf.fingerprint_sha256 == target.leaf.fingerprint_sha256:
            out[index] = amend(verdict, Check.CONSISTENT, Outcome.passed())
            continue
        host, port = namespace
        served = f"{host}:{port} is served with {len(target.leaves)} different certificates"
        this = f"this one presents {leaf.thumbprint} (valid to {leaf.not_after:%Y-%m-%d})"
        if target.leaf is None:
            message = f"{served}, and {target.why}; {this}: request a new certificate"
        else:
            message = f"{served}; {target.why}; {this}"
        outcome = Outcome.failed(Reason.CERTIFICATE_DIFFERS, message)
        out[index] = amend(verdict, Check.CONSISTENT, outcome, target.leaf)
    return out
