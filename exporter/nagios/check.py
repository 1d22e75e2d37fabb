"""The check's verdict and its output in the Monitoring Plugins format.

State per endpoint: the worst of its checks (name, issuer, date, DNS, reachability,
revoked: CRITICAL; plain http, a missing URL, a chain completed over AIA, revocation
unknown, hygiene: WARNING) and of its leaf and chain days to
expiry against the check's own -w/-c ranges (the Auth certificate's against
``thresholds.auth_expiry_*``; its perfdata carries those, so a graph agrees with the
state). The check's state is the worst of all; no endpoint at all is UNKNOWN. A
reason that only says why a check does not apply (``self_signed_by_design``) is not
listed as a problem (``Outcome.noteworthy``, as on the page). Output:

    EXCHANGE-CERT CRITICAL - 1 of 2 endpoints critical: EXCH01 ews (name_mismatch) | \
        'EXCH01 ews leaf_days'=364.9;30:;7:;; ...
    CRITICAL EXCH01 ews https://exch01.contoso.local/EWS/Exchange.asmx
      name_match: exch01.contoso.local is not among the certificate's ...
      fix: Set-WebServicesVirtualDirectory -Identity "EXCH01\\EWS (Default Web Site)" ...

The `` | `` before the perfdata is the output's only ``|``: Nagios takes everything
after the first one, long output included, as perfdata. So every line of text
(server names, URLs, reasons, messages, certificate names, fix text) passes
:func:`~exporter.render.textsafe.nagios_safe` as it is written (``|`` becomes ``¦``,
controls and newlines are escaped, each item stays on its line), and every
perfdata label :func:`~exporter.render.textsafe.perfdata_label`.
"""

from __future__ import annotations

from dataclasses import dataclass

from exporter.config import Thresholds
from exporter.config.schema import DAY
from exporter.evaluate.outcome import Check, Outcome, Reason, Status, worst
from exporter.model import Component
from exporter.nagios.ranges import Range, parse_range
from exporter.snapshot import EndpointReport, Snapshot
from exporter.textsafe import nagios_safe, perfdata_label

PREFIX = "EXCHANGE-CERT"
MAX_NAMED = 5  # endpoints named in the first line; the rest are counted


@dataclass(frozen=True)
class EndpointState:
    report: EndpointReport
    state: Status
    reasons: tuple[str, ...]
    expiring: bool = False  # the -w/-c ranges (or the Auth thresholds) put it here

    @property
    def leaf_days(self) -> float | None:
        return self.report.verdict.days_left

    @property
    def chain_days(self) -> float | None:
        return self.report.verdict.chain_days_left

    @property
    def name(self) -> str:
        endpoint = self.report.verdict.probe.endpoint
        return f"{endpoint.server.name} {endpoint.component.value}"


@dataclass(frozen=True)
class CheckResult:
    """``notes``: findings about the whole run (an internal DNS outage), shown once."""

    state: Status
    summary: str
    perfdata: tuple[str, ...]
    endpoints: tuple[EndpointState, ...]
    notes: tuple[str, ...] = ()


def _expiry_state(days: float | None, warning: Range, critical: Range) -> Status:
    if days is None or days < 0:
        return Status.OK  # no certificate, or already expired: date_valid reports it
    if critical.alerts(days):
        return Status.CRITICAL
    if warning.alerts(days):
        return Status.WARNING
    return Status.OK


def auth_ranges(thresholds: Thresholds) -> tuple[Range, Range]:
    """The Auth certificate's warning and critical thresholds as ranges of days."""
    return (
        parse_range(f"{thresholds.auth_expiry_warning / DAY:g}:"),
        parse_range(f"{thresholds.auth_expiry_critical / DAY:g}:"),
    )


def endpoint_state(report: EndpointReport, warning: Range, critical: Range) -> EndpointState:
    verdict = report.verdict
    leaf, chain = verdict.days_left, verdict.chain_days_left
    leaf_state = _expiry_state(leaf, warning, critical)
    chain_state = _expiry_state(chain, warning, critical)
    if verdict.probe.endpoint.component is Component.AUTH_CERTIFICATE:
        # Its own thresholds (thresholds.auth_expiry_*, HealthChecker's 60 and 14
        # days), already judged: -w/-c are for the certificates clients see.
        leaf_state = chain_state = verdict.expiry_status
    listed = [*verdict.checks.values(), verdict.client_rejects, *verdict.advisories]
    reasons = [r.value for r in map(_problem, listed) if r]
    if leaf_state is not Status.OK:
        reasons.append(f"expires in {leaf:.0f} days")
    elif chain_state is not Status.OK:
        reasons.append(f"chain expires in {chain:.0f} days")
    state = worst([verdict.checks_status, leaf_state, chain_state])
    expiring = leaf_state is not Status.OK or chain_state is not Status.OK
    return EndpointState(report, state, tuple(reasons), expiring)


def _problem(outcome: Outcome) -> Reason | None:
    """The reason to list: not a pass, and not one that says why a check does not apply."""
    return outcome.reason if outcome.noteworthy and outcome.ok is not True else None


def evaluate_check(
    snapshot: Snapshot,
    warning: Range,
    critical: Range,
    auth: tuple[Range, Range] | None = None,
) -> CheckResult:
    """``auth``: the Auth certificate's ranges (:func:`auth_ranges` of the config's
    thresholds; the defaults' when None), for its perfdata."""
    auth_warning, auth_critical = auth or auth_ranges(Thresholds())
    states = tuple(endpoint_state(r, warning, critical) for r in snapshot.endpoints)
    perfdata = []
    for item in states:
        label = item.name
        if item.leaf_days is not None and item.chain_days is not None:
            ranges = f";{warning};{critical};;"
            if item.report.verdict.probe.endpoint.component is Component.AUTH_CERTIFICATE:
                ranges = f";{auth_warning};{auth_critical};;"
            perfdata.append(f"{perfdata_label(label + ' leaf_days')}={item.leaf_days:.2f}{ranges}")
            perfdata.append(
                f"{perfdata_label(label + ' chain_days')}={item.chain_days:.2f}{ranges}"
            )
        perfdata.append(
            f"{perfdata_label(label + ' time')}={item.report.verdict.probe.duration:.4f}s;;;0;"
        )
    if not states:
        failing = [d for d in snapshot.discovery if not d.success]
        why = "; ".join(d.error or d.source for d in failing) or "discovery found no endpoints"
        return CheckResult(Status.UNKNOWN, f"no endpoints to check ({why})", (), ())
    overall = worst([s.state for s in states])
    notes = (f"dns: {snapshot.dns.message}",) if snapshot.dns.message else ()
    return CheckResult(overall, _summary(states, overall), tuple(perfdata), states, notes)


def _summary(states: tuple[EndpointState, ...], overall: Status) -> str:
    total = len(states)
    if overall is Status.OK:
        nearest = min(
            (s for s in states if s.leaf_days is not None),
            key=lambda s: min(s.leaf_days or 0, s.chain_days or 0),
            default=None,
        )
        tail = ""
        if nearest is not None:
            days = min(nearest.leaf_days or 0, nearest.chain_days or 0)
            tail = f"; the nearest expiry is in {days:.0f} days ({nearest.name})"
        return f"{total} endpoint{'s' if total != 1 else ''} OK{tail}"
    bad = [s for s in states if s.state is overall]
    named = ", ".join(
        f"{s.name} ({', '.join(s.reasons) or s.state.value})" for s in bad[:MAX_NAMED]
    )
    more = f", and {len(bad) - MAX_NAMED} more" if len(bad) > MAX_NAMED else ""
    return f"{len(bad)} of {total} endpoints {overall.value}: {named}{more}"


def render_check(result: CheckResult, verbosity: int = 0) -> str:
    first = f"{PREFIX} {result.state.value.upper()} - {nagios_safe(result.summary)}"
    if result.perfdata:
        first += " | " + " ".join(result.perfdata)
    lines = list(result.notes)
    for item in result.endpoints:
        if item.state is Status.OK and verbosity < 1:
            continue
        verdict = item.report.verdict
        lines.append(f"{item.state.value.upper()} {item.name} {verdict.probe.endpoint.url}")
        for check in Check:
            outcome = verdict.checks[check]
            if outcome.noteworthy and outcome.message and outcome.ok is not True:
                lines.append(f"  {check.value}: {outcome.message}")
        if verdict.client_rejects.ok is False:
            lines.append(f"  clients: {verdict.client_rejects.message}")
        lines.extend(f"  hygiene: {a.message}" for a in verdict.advisories)
        if item.state is not Status.OK and item.expiring:
            lines.append(
                f"  expiry: leaf in {item.leaf_days:.1f} days, chain in {item.chain_days:.1f} days"
            )
        if item.state is not Status.OK:
            lines.extend(f"  fix: {step.runs}" for step in item.report.remediation.steps)
        leaf = verdict.leaf
        if verbosity >= 2 and leaf is not None:
            lines.append(
                f"  certificate: {leaf.subject}; issuer {leaf.issuer}; "
                f"thumbprint {leaf.thumbprint}; names {', '.join(leaf.names)}"
            )
    # One choke point: whatever a line quotes from a certificate, the directory or
    # a peer, it cannot add a "|" or a line.
    return "\n".join([first, *(nagios_safe(line) for line in lines)]) + "\n"
