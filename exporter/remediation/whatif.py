"""The organisation as it would be after a plan: a model and a pure what-if.

The model holds, per server and service, the certificate chain it presents; per
endpoint, its internal URL; per host name, what the internal DNS answers. An
:data:`Action` changes one of them. :func:`what_if` applies actions and re-judges
every endpoint with the pipeline's own functions (``evaluate_endpoint``, then
``evaluate_consistency``), so a plan is proven by the same rules that found the
problems, and preflight (judging a certificate before it is bound) asks the same
question of a certificate no server presents yet.

Assumptions, each the conservative one:
- A certificate bound to a server's service is presented there with the chain
  its holder presents (the intermediates come with the exported .pfx).
- A URL moved onto a name the refresh did not look up resolves to nothing known:
  its DNS check is unanswered, which counts as a new finding.
- An endpoint whose probe failed keeps its verdict: nothing is known of it.
- A moved URL presents what the refresh saw its server present for the new name;
  a server whose names present different certificates (SNI bindings) is neither
  bound nor moved by the plan (``OrgModel.varies``).
No I/O: every chain judgement was made by the refresh (``pki.judge``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from exporter.config import Thresholds
from exporter.evaluate.amend import renewed
from exporter.evaluate.chain import ChainJudgement, ChainKey
from exporter.evaluate.clients import Family
from exporter.evaluate.consistency import evaluate_consistency
from exporter.evaluate.status import counted_problems
from exporter.evaluate.verdict import EndpointVerdict, evaluate_endpoint
from exporter.model import Component, Endpoint
from exporter.probe.results import DnsAnswer, DnsReason, TlsReason
from exporter.remediation.steps import Finding, finding
from exporter.truststore import TrustStore


@dataclass(frozen=True)
class Bind:
    """Bind the certificate whose chain is ``chain`` (DER, leaf first) to
    ``service`` on ``server``; ``holder`` is a server that has it (to export it
    from), ``thumbprint`` its thumbprint."""

    server: str
    service: str
    chain: tuple[bytes, ...]
    holder: str = ""
    thumbprint: str = ""


@dataclass(frozen=True)
class MoveUrl:
    """Set one endpoint's internal URL (``endpoint`` as the refresh found it) to
    ``url``, whose host is ``host``."""

    endpoint: Endpoint
    url: str
    host: str


@dataclass(frozen=True)
class AddRecords:
    """Add address records for ``name`` (a name served by several servers gets all
    their addresses in one action)."""

    name: str
    addresses: tuple[str, ...]


@dataclass(frozen=True)
class RotateAuth:
    """Replace the organisation's Auth certificate with a fresh one."""


Action = Bind | MoveUrl | AddRecords | RotateAuth


def endpoint_key(endpoint: Endpoint) -> tuple[str, str, str]:
    """An endpoint's identity across moves: server, component and the URL found."""
    return endpoint.server.name, endpoint.component.value, endpoint.url


@dataclass
class OrgModel:
    """The organisation as the refresh found it, and what re-judging it needs.

    Attributes:
        verdicts: each endpoint's verdict before ``consistent`` was decided
            (``evaluate_endpoint``'s output), in the inventory's order.
        dns: every answer the refresh has, by lower-case name (the URLs' hosts
            and the names a fix may move a URL to).
        chains: the refresh's chain judgements.
    """

    verdicts: Sequence[EndpointVerdict]
    dns: Mapping[str, DnsAnswer]
    trust: TrustStore
    thresholds: Thresholds
    now: dt.datetime
    chains: Mapping[ChainKey, ChainJudgement]
    families: Mapping[Family, frozenset[Component]] | None = None
    _memo: dict[tuple[int, str, tuple[bytes, ...], tuple[str, ...], str], EndpointVerdict] = field(
        default_factory=dict, repr=False
    )
    _seen: dict[tuple[str, int, str], tuple[bytes, ...]] = field(default_factory=dict, repr=False)

    def presented(self, server: str, port: int, host: str) -> tuple[bytes, ...] | None:
        """The chain the refresh saw ``server`` present on ``port`` for ``host``."""
        if not self._seen:
            for verdict in self.verdicts:
                tls, target = verdict.probe.tls, verdict.probe.endpoint.target
                if tls is not None and tls.chain and target is not None:
                    key = (verdict.probe.endpoint.server.name, target.port, target.host)
                    self._seen.setdefault(key, tls.chain)
        return self._seen.get((server, port, host))

    def varies(self, server: str, service: str | None) -> bool:
        """Whether ``server`` presents different chains for its service's names:
        host-specific (SNI) bindings, which neither a bind nor a move can be
        judged through, since Enable-ExchangeCertificate does not change them."""
        chains = {
            v.probe.tls.chain
            for v in self.verdicts
            if v.probe.tls is not None
            and v.probe.tls.chain
            and v.probe.endpoint.server.name == server
            and v.probe.endpoint.component.service == service
        }
        return len(chains) > 1

    def answer(self, name: str, added: Mapping[str, tuple[str, ...]]) -> DnsAnswer:
        name = name.rstrip(".").lower()
        found = self.dns.get(name)
        extra = added.get(name, ())
        if extra:
            known = found.addresses if found is not None and found.resolved else ()
            return DnsAnswer(name, tuple(dict.fromkeys((*known, *extra))), DnsReason.OK)
        if found is None:
            return DnsAnswer(name, (), DnsReason.ERROR, "not looked up by this refresh")
        return found

    def judge(
        self, index: int, url: str, chain: tuple[bytes, ...], answer: DnsAnswer
    ) -> EndpointVerdict:
        """One endpoint re-judged with another URL, chain or DNS answer (memoised:
        a plan's proof asks the same question many times)."""
        key = (index, url, chain, answer.addresses, answer.reason.value)
        if key not in self._memo:
            verdict = self.verdicts[index]
            probe = verdict.probe
            endpoint = probe.endpoint
            if url != endpoint.url:
                endpoint = Endpoint.build(
                    endpoint.server,
                    endpoint.component,
                    url,
                    external_url=endpoint.external_url,
                    identity=endpoint.identity,
                    site_scope=endpoint.site_scope,
                    tls_certificate_name=endpoint.tls_certificate_name,
                )
            tls = probe.tls
            if tls is not None and chain != tls.chain:
                tls = dataclasses.replace(tls, chain=chain)
            changed = dataclasses.replace(probe, endpoint=endpoint, tls=tls, url_dns=answer)
            self._memo[key] = evaluate_endpoint(
                changed, self.trust, self.thresholds, self.now, self.chains, self.families
            )
        return self._memo[key]


def what_if(model: OrgModel, actions: Iterable[Action]) -> list[EndpointVerdict]:
    """Every endpoint re-judged as it would be after ``actions``, in the model's
    order, ``consistent`` decided across them as the pipeline decides it."""
    binds: dict[tuple[str, str], tuple[bytes, ...]] = {}
    moves: dict[tuple[str, str, str], str] = {}
    added: dict[str, tuple[str, ...]] = {}
    rotated = False
    for action in actions:
        if isinstance(action, Bind):
            binds[(action.server, action.service)] = action.chain
        elif isinstance(action, MoveUrl):
            moves[endpoint_key(action.endpoint)] = action.url
        elif isinstance(action, AddRecords):
            name = action.name.rstrip(".").lower()
            added[name] = tuple(dict.fromkeys((*added.get(name, ()), *action.addresses)))
        else:
            rotated = True
    out: list[EndpointVerdict] = []
    for index, verdict in enumerate(model.verdicts):
        endpoint = verdict.probe.endpoint
        if endpoint.component is Component.AUTH_CERTIFICATE:
            out.append(renewed(verdict) if rotated and verdict.leaf is not None else verdict)
            continue
        tls = verdict.probe.tls
        if tls is None or tls.reason is not TlsReason.OK or not verdict.chain:
            out.append(verdict)  # nothing is known of what it would present
            continue
        url = moves.get(endpoint_key(endpoint), endpoint.url)
        service = endpoint.component.service
        target = (
            endpoint.target
            if url == endpoint.url
            else Endpoint.build(endpoint.server, endpoint.component, url).target
        )
        host = target.host if target is not None else ""
        chain = tls.chain
        if url != endpoint.url and target is not None:
            # A moved URL meets what the server presents for its new name.
            server = endpoint.server.name
            chain = model.presented(server, target.port, host) or chain
        chain = binds.get((endpoint.server.name, service or ""), chain)
        unchanged = url == endpoint.url and chain == tls.chain and host not in added
        if unchanged:
            out.append(verdict)
            continue
        out.append(model.judge(index, url, chain, model.answer(host, added)))
    return evaluate_consistency(out)


def findings(verdicts: Sequence[EndpointVerdict]) -> dict[Finding, str]:
    """Every finding of every endpoint, with its message, keyed by the endpoint's
    identity as the refresh found it (``what_if`` keeps the model's order)."""
    out: dict[Finding, str] = {}
    for verdict in verdicts:
        for name, outcome in counted_problems(verdict):
            out[finding(verdict, name)] = outcome.message or name
    return out


def rekey(
    before: Sequence[EndpointVerdict], after: Sequence[EndpointVerdict]
) -> dict[Finding, str]:
    """``after``'s findings under ``before``'s identities (a moved URL is the same
    endpoint)."""
    out: dict[Finding, str] = {}
    for old, new in zip(before, after, strict=True):
        for name, outcome in counted_problems(new):
            out[finding(new, name, old)] = outcome.message or name
    return out
