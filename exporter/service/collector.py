"""Metrics: families built fresh from an immutable Snapshot (prometheus/client_python's
custom-collector pattern), never mutated on a timer, so an endpoint that disappears
leaves no stale series. The snapshot's families are rendered to text once per
refresh (render_snapshot, in the refresher thread), so a scrape only adds the
exporter's own few metrics (ExporterCollector and the process collector, rendered
at most once a second: service/http.py) before those bytes: a scrape at 1,000
endpoints during a refresh stays fast (benchmarks/RESULTS.md). The
rendered text is gzipped once too; a client that accepts gzip (Prometheus does) gets
two gzip members, its own few metrics' and the snapshot's, which RFC 1952 readers
(Go's among them) read as one stream.

Exposition, per endpoint (labels ``server``, ``component``)::

    exchange_internal_url_probe_success{server="EXCH01",component="ews"} 1
    exchange_internal_url_probe_duration_seconds{...} 0.004
    exchange_internal_url_dns_match{...} 1
    exchange_internal_url_cert_match{...} 0
    exchange_internal_url_cert_issuer_trusted{...} 1
    exchange_internal_url_cert_date_valid{...} 1
    exchange_internal_url_chain_complete{...} 1
    exchange_internal_url_cert_not_revoked{...} 1
    exchange_internal_url_cert_not_after_timestamp_seconds{...} 1.827e+09
    exchange_internal_url_chain_not_after_timestamp_seconds{...} 1.827e+09
    exchange_internal_url_cert_not_before_timestamp_seconds{...} 1.795e+09
    exchange_internal_url_cert_consistent{...} 1
    exchange_internal_url_status{...} 2
    exchange_internal_url_info{server,component,url,host,suggested_url,version,site} 1
    exchange_internal_url_problem_info{server,component,check,reason} 1
    exchange_certificate_info{server,component,subject,issuer,serial,fingerprint_sha256,
                              thumbprint,not_after} 1
    exchange_internal_url_remediation_info{server,component,step="01",kind="command",
                                           text="Set-WebServicesVirtualDirectory ..."} 1
    exchange_internal_url_client_accepts{server,component,client="apple"} 0

and for the exporter: ``exchange_discovery_success{source}``,
``exchange_discovery_last_success_timestamp_seconds{source}``, and
``exchange_exporter_`` ``last_refresh_timestamp_seconds``, ``refresh_duration_seconds``,
``refresh_interval_seconds``, ``config_last_reload_successful``,
``config_last_reload_success_timestamp_seconds``, ``build_info{version}``.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from dataclasses import dataclass

from prometheus_client.core import GaugeMetricFamily, Metric

from exporter.evaluate.checks import iso
from exporter.evaluate.outcome import Check
from exporter.service.own_metrics import ExporterCollector, ExporterState
from exporter.service.textformat import text_format
from exporter.snapshot import Snapshot

__all__ = ["ExporterCollector", "ExporterState", "Exposition", "render_snapshot"]

BACKGROUND = " From the last background refresh, not measured at scrape time."
ENDPOINT_LABELS = ["server", "component"]

_CHECK_METRICS = {
    Check.DNS_MATCH: (
        "exchange_internal_url_dns_match",
        "1 if the URL's host resolves in internal DNS to the server.",
    ),
    Check.NAME_MATCH: (
        "exchange_internal_url_cert_match",
        "1 if the certificate names the URL's host (Outlook's name check).",
    ),
    Check.ISSUER_TRUSTED: (
        "exchange_internal_url_cert_issuer_trusted",
        "1 if the presented chain builds to a trusted root.",
    ),
    Check.DATE_VALID: (
        "exchange_internal_url_cert_date_valid",
        "1 if now lies within the certificate's validity.",
    ),
    Check.CHAIN_COMPLETE: (
        "exchange_internal_url_chain_complete",
        "1 if the server sends the whole chain; 0 if Windows must fetch a CA over AIA.",
    ),
    Check.NOT_REVOKED: (
        "exchange_internal_url_cert_not_revoked",
        "1 if no certificate of the chain is revoked (CRL, OCSP); 0 if one is.",
    ),
    Check.CONSISTENT: (
        "exchange_internal_url_cert_consistent",
        "1 if the endpoint presents its namespace's target certificate (chosen by health); "
        "0 if not.",
    ),
}


def _gauge(name: str, doc: str, labels: list[str] | None = None) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc + BACKGROUND, labels=labels or [])


@dataclass(frozen=True)
class Exposition:
    """A snapshot's metrics as served: the text format, and the same gzipped."""

    plain: bytes = b""
    gzipped: bytes = b""

    @classmethod
    def of(cls, plain: bytes) -> Exposition:
        return cls(plain, gzip.compress(plain, compresslevel=6, mtime=0))


def render_snapshot(snap: Snapshot) -> Exposition:
    """The snapshot's metrics in the text exposition format, rendered (and
    compressed: Prometheus asks for gzip) once per refresh, never per scrape."""
    return Exposition.of(text_format(snapshot_families(snap)))


def snapshot_families(snap: Snapshot) -> Iterator[Metric]:
    """The metric families one snapshot yields."""
    refreshed = GaugeMetricFamily(
        "exchange_exporter_last_refresh_timestamp_seconds",
        "When the last background refresh started.",
    )
    refreshed.add_metric([], snap.started_at.timestamp())
    duration = GaugeMetricFamily(
        "exchange_exporter_refresh_duration_seconds",
        "How long the last background refresh took.",
    )
    duration.add_metric([], snap.duration)
    yield refreshed
    yield duration
    disc_ok = _gauge(
        "exchange_discovery_success",
        "1 if the discovery source's last run succeeded.",
        ["source"],
    )
    disc_last = _gauge(
        "exchange_discovery_last_success_timestamp_seconds",
        "When the discovery source last succeeded.",
        ["source"],
    )
    for status in snap.discovery:
        disc_ok.add_metric([status.source], 1 if status.success else 0)
        if status.last_success is not None:
            disc_last.add_metric([status.source], status.last_success)
    yield disc_ok
    yield disc_last
    unanswered = _gauge(
        "exchange_dns_unanswered_lookups",
        "Lookups the internal DNS servers did not answer (a timeout, or every server failing).",
    )
    unanswered.add_metric([], snap.dns.unanswered)
    yield unanswered
    yield from _endpoint_families(snap)


def _endpoint_families(snap: Snapshot) -> Iterator[Metric]:
    success = _gauge(
        "exchange_internal_url_probe_success",
        "1 if the TLS handshake completed; absent for plain http URLs.",
        ENDPOINT_LABELS,
    )
    duration = _gauge(
        "exchange_internal_url_probe_duration_seconds",
        "Seconds spent on DNS, connect and handshake.",
        ENDPOINT_LABELS,
    )
    checks = {
        c: _gauge(n, d + " Absent when not judged.", ENDPOINT_LABELS)
        for c, (n, d) in _CHECK_METRICS.items()
    }
    not_after = _gauge(
        "exchange_internal_url_cert_not_after_timestamp_seconds",
        "The presented leaf certificate's notAfter.",
        ENDPOINT_LABELS,
    )
    chain_not_after = _gauge(
        "exchange_internal_url_chain_not_after_timestamp_seconds",
        "The earliest notAfter in the presented chain.",
        ENDPOINT_LABELS,
    )
    not_before = _gauge(
        "exchange_internal_url_cert_not_before_timestamp_seconds",
        "The presented leaf certificate's notBefore (it moves when a renewal is bound).",
        ENDPOINT_LABELS,
    )
    status = _gauge(
        "exchange_internal_url_status",
        "Endpoint status: 0 ok, 1 warning, 2 critical, 3 unknown.",
        ENDPOINT_LABELS,
    )
    info = _gauge(
        "exchange_internal_url_info",
        "Always 1; what the endpoint is and the URL that would fix it.",
        [*ENDPOINT_LABELS, "url", "host", "suggested_url", "version", "site"],
    )
    problem = _gauge(
        "exchange_internal_url_problem_info",
        "Always 1; one series per failed or unjudged check, with its reason.",
        [*ENDPOINT_LABELS, "check", "reason"],
    )
    fix = _gauge(
        "exchange_internal_url_remediation_info",
        "Always 1; one series per remediation step, in order (step), with the "
        "complete command or instruction (text).",
        [*ENDPOINT_LABELS, "step", "kind", "text"],
    )
    client = _gauge(
        "exchange_internal_url_client_accepts",
        "1 if the client family (outlook, apple, browser) accepts the certificate; 0 if it "
        "refuses it; absent when the family does not use the component, is not enabled "
        "(clients:), or nothing was judged.",
        [*ENDPOINT_LABELS, "client"],
    )
    cert = _gauge(
        "exchange_certificate_info",
        "Always 1; the presented leaf certificate. One series per distinct certificate: "
        "count by (thumbprint, subject, issuer, not_after).",
        [
            *ENDPOINT_LABELS,
            "subject",
            "issuer",
            "serial",
            "fingerprint_sha256",
            "thumbprint",
            "not_after",
        ],
    )
    for report in snap.endpoints:
        verdict = report.verdict
        endpoint = verdict.probe.endpoint
        labels = [endpoint.server.name, endpoint.component.value]
        probe_ok = verdict.checks[Check.PROBE_OK].ok
        if probe_ok is not None:
            success.add_metric(labels, 1 if probe_ok else 0)
        duration.add_metric(labels, verdict.probe.duration)
        status.add_metric(labels, verdict.status.exit_code)
        for check, family in checks.items():
            ok = verdict.checks[check].ok
            if ok is not None:
                family.add_metric(labels, 1 if ok else 0)
        for name, outcome in verdict.outcomes:
            if outcome.reason is not None and outcome.noteworthy:
                problem.add_metric([*labels, name, outcome.reason.value], 1)
        for family_name, accepted in verdict.clients.items():
            if accepted.accepts is not None:
                client.add_metric([*labels, family_name], 1 if accepted.accepts else 0)
        for code in dict.fromkeys(a.reason.value for a in verdict.advisories if a.reason):
            problem.add_metric([*labels, "hygiene", code], 1)
        target = endpoint.target
        server = endpoint.server
        info.add_metric(
            [
                *labels,
                endpoint.url,
                target.host if target else "",
                report.remediation.suggested_url or "",
                server.version.value if server.version else "",
                server.site or "",
            ],
            1,
        )
        for number, step in enumerate(report.remediation.steps, start=1):
            fix.add_metric([*labels, f"{number:02d}", step.kind.value, step.runs], 1)
        leaf = verdict.leaf
        if leaf is not None and verdict.not_after and verdict.chain_not_after:
            not_after.add_metric(labels, verdict.not_after.timestamp())
            not_before.add_metric(labels, leaf.not_before.timestamp())
            chain_not_after.add_metric(labels, verdict.chain_not_after.timestamp())
            cert.add_metric(
                [
                    *labels,
                    leaf.subject,
                    leaf.issuer,
                    leaf.serial,
                    leaf.fingerprint_sha256,
                    leaf.thumbprint,
                    iso(leaf.not_after),
                ],
                1,
            )
    yield from (
        success,
        duration,
        *checks.values(),
        not_after,
        chain_not_after,
        not_before,
        status,
        info,
        problem,
        fix,
        client,
        cert,
    )
