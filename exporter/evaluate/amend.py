"""A verdict changed after the fact: one check decided across endpoints
(``consistent``), or the what-if's fresh certificate (remediation/whatif.py). The
statuses are recomputed by the same rules (evaluate/status.py)."""

from __future__ import annotations

import dataclasses

from exporter.certfacts import CertificateFacts
from exporter.evaluate.checks import NOT_EXPIRING
from exporter.evaluate.outcome import Check, Outcome, Status, worst
from exporter.evaluate.status import rejects_status, status_of
from exporter.evaluate.verdict import EndpointVerdict


def amend(
    verdict: EndpointVerdict,
    check: Check,
    outcome: Outcome,
    target_in_namespace: CertificateFacts | None = None,
) -> EndpointVerdict:
    """The verdict with one check decided later, across endpoints (``consistent``),
    and its statuses recomputed."""
    checks = {**verdict.checks, check: outcome}
    rejects = rejects_status(verdict.client_rejects)
    return dataclasses.replace(
        verdict,
        checks=checks,
        checks_status=status_of(checks, verdict.advisories, rejects),
        status=status_of(checks, verdict.advisories, worst([verdict.expiry_status, rejects])),
        target_in_namespace=target_in_namespace,
    )


def renewed(verdict: EndpointVerdict) -> EndpointVerdict:
    """The verdict once its certificate is replaced by a fresh one of the same kind
    (the what-if of rotating the Auth certificate, which Exchange makes for 5 years)."""
    checks = {**verdict.checks, Check.DATE_VALID: Outcome.passed()}
    return dataclasses.replace(
        verdict,
        checks=checks,
        expiry=NOT_EXPIRING.outcome,
        expiry_status=Status.OK,
        checks_status=status_of(checks, verdict.advisories, Status.OK),
        status=status_of(checks, verdict.advisories, Status.OK),
    )
