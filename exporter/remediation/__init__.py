"""Remediation: the pipeline stage after evaluate. The organisation's plan
(remediation/plan.py: per server, proven by the what-if in remediation/whatif.py),
and each endpoint's share of it, which the renderers list under the endpoint.

Pure: the only I/O it depends on (resolving the names a URL may move to) is done
by the pipeline first and passed in through the model. Every command is data
(remediation/command.py) until its one renderer writes it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from exporter.config import Thresholds
from exporter.evaluate.chain import ChainJudgement, ChainKey
from exporter.evaluate.clients import Family
from exporter.evaluate.consistency import evaluate_consistency
from exporter.evaluate.verdict import EndpointVerdict
from exporter.model import Component
from exporter.probe.results import DnsAnswer
from exporter.remediation.plan import Plan, build_plan, candidate_hosts
from exporter.remediation.steps import Finding, Step, StepKind
from exporter.remediation.whatif import OrgModel, endpoint_key
from exporter.truststore import TrustStore

__all__ = [
    "Finding",
    "OrgModel",
    "Plan",
    "Remediation",
    "Step",
    "StepKind",
    "build_plan",
    "candidate_hosts",
    "plan_organisation",
    "remediation_for",
]


@dataclass(frozen=True)
class Remediation:
    """One endpoint's share of the plan.

    Attributes:
        suggested_url: the URL the plan moves it to, None when it moves nothing
            (the name matches, or the certificate bound there will carry it).
        steps: in the order to carry them out; empty when nothing is wrong.
    """

    suggested_url: str | None
    suggested_host: str | None
    steps: tuple[Step, ...]

    @property
    def texts(self) -> list[str]:
        return [step.text for step in self.steps]


def remediation_for(plan: Plan, verdict: EndpointVerdict) -> Remediation:
    key = endpoint_key(verdict.probe.endpoint)
    host, url = plan.moves.get(key, (None, None))
    return Remediation(url, host, plan.endpoints.get(key, ()))


def plan_organisation(
    judged: Sequence[EndpointVerdict],
    lookup: Callable[[Iterable[str]], Mapping[str, DnsAnswer]],
    trust: TrustStore,
    thresholds: Thresholds,
    now: dt.datetime,
    chains: Mapping[ChainKey, ChainJudgement],
    families: Mapping[Family, frozenset[Component]] | None = None,
) -> tuple[list[EndpointVerdict], Plan]:
    """From each endpoint's verdict (``evaluate_endpoint``'s): ``consistent`` decided
    across them, and the organisation's plan. ``lookup`` answers the names a fix may
    move a URL to, all at once (the pipeline's resolver; a test's table)."""
    verdicts = evaluate_consistency(judged)
    hosts = sorted(candidate_hosts(verdicts))
    answers = {
        v.probe.url_dns.name.rstrip(".").lower(): v.probe.url_dns
        for v in judged
        if v.probe.url_dns is not None
    }
    answers.update(lookup(hosts))
    model = OrgModel(judged, answers, trust, thresholds, now, chains, families)
    return verdicts, build_plan(model, verdicts)
