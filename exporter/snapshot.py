"""The snapshot of one refresh: what every renderer, the collector and the Nagios
check read. A leaf of the pipeline: it imports the verdict and remediation types,
never the probe engine, discovery or the pipeline that fills it
(tests/test_architecture.py holds the layers to that).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from exporter.evaluate.outcome import Status
from exporter.evaluate.verdict import EndpointVerdict
from exporter.model import DiscoveryStatus
from exporter.remediation import Plan, Remediation
from exporter.remediation.names_plan import NamesPlan


@dataclass(frozen=True)
class EndpointReport:
    """A verdict and its fix: what every renderer formats."""

    verdict: EndpointVerdict
    remediation: Remediation

    @property
    def status(self) -> Status:
        return self.verdict.status


@dataclass(frozen=True)
class DnsHealth:
    """The internal DNS servers as the refresh met them: one finding for an outage,
    rather than one per endpoint.

    Attributes:
        nameservers: ``host:port`` of each server asked, in order.
        unanswered: how many of the refresh's lookups no nameserver answered.
        message: a sentence naming the servers and the failure; None when every
            lookup was answered (a name that does not exist is an answer).
    """

    nameservers: tuple[str, ...] = ()
    unanswered: int = 0
    message: str | None = None


@dataclass(frozen=True)
class Snapshot:
    """The result of one refresh cycle.

    Attributes:
        started_at: wall-clock start (UTC); duration in seconds.
        status: the worst endpoint status; UNKNOWN when nothing was found to probe.
        dns: how the internal DNS servers answered.
        names_plan: the names clients are given, for the next certificate request.
        plan: the fixes, per server, proven by the what-if (remediation/plan.py).
    """

    endpoints: tuple[EndpointReport, ...]
    discovery: tuple[DiscoveryStatus, ...]
    started_at: dt.datetime
    duration: float
    status: Status
    dns: DnsHealth = field(default_factory=DnsHealth)
    names_plan: NamesPlan = field(default_factory=lambda: NamesPlan((), None))
    plan: Plan = field(default_factory=Plan)

    @property
    def counts(self) -> dict[Status, int]:
        """Endpoints per status, every status present (0 when none): what the
        table's and the page's summaries and the refresh log line say."""
        counts = dict.fromkeys(Status, 0)
        for report in self.endpoints:
            counts[report.status] += 1
        return counts
