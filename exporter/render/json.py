"""The report JSON (``report --format json`` and ``/api/v1/status``): a public
contract documented in docs/JSON.md. Add fields; never rename or remove one.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from exporter.certfacts import CertificateFacts
from exporter.config.reloadstatus import ReloadStatus
from exporter.evaluate.checks import iso
from exporter.evaluate.outcome import Check, Outcome
from exporter.remediation import Step
from exporter.remediation.names_plan import NamesPlan
from exporter.snapshot import EndpointReport, Snapshot

SCHEMA_VERSION = 1


def _iso(when: dt.datetime | None) -> str | None:
    return iso(when) if when is not None else None


def _reason(outcome: Outcome) -> dict[str, str | None] | None:
    if outcome.reason is None:
        return None
    return {"code": outcome.reason.value, "message": outcome.message}


def endpoint_json(report: EndpointReport) -> dict[str, Any]:
    verdict = report.verdict
    probe = verdict.probe
    endpoint = probe.endpoint
    server = endpoint.server
    target = endpoint.target
    leaf = verdict.leaf
    reasons: dict[str, Any] = {name: _reason(outcome) for name, outcome in verdict.outcomes}
    return {
        "server": server.name,
        "fqdn": server.fqdn,
        "component": endpoint.component.value,
        "url": endpoint.url,
        "host": target.host if target else None,
        "port": target.port if target else None,
        "address": probe.address,
        "version": server.version.value if server.version else None,
        "site": server.site,
        "source": server.source,
        "external_url": endpoint.external_url,
        "site_scope": list(endpoint.site_scope),
        "status": verdict.status.value,
        "checks": {c.value: verdict.checks[c].ok for c in Check},
        "reasons": reasons,
        "dns_addresses": list(probe.url_dns.addresses) if probe.url_dns else [],
        "server_addresses": list(probe.server_addresses),
        "not_after": _iso(verdict.not_after),
        "chain_not_after": _iso(verdict.chain_not_after),
        "names": list(leaf.names) if leaf else [],
        "advisories": [_reason(a) for a in verdict.advisories],
        # Each enabled client family that uses the component: does it accept the
        # certificate, and by which rules does it refuse it (evaluate/clients.py).
        "clients": {
            family: {"accepts": v.accepts, "reasons": [_reason(r) for r in v.reasons]}
            for family, v in verdict.clients.items()
        },
        # What changes no status but is worth saying (unused_certificate).
        "notes": [_reason(n) for n in verdict.notes],
        "certificate": None if leaf is None else _certificate(leaf),
        # The Auth certificate's endpoint: every certificate the document lists.
        "auth_certificates": [_certificate(c) for c in verdict.auth_certificates],
        "chain": [
            {"subject": c.subject, "issuer": c.issuer, "not_after": _iso(c.not_after)}
            for c in verdict.chain
        ],
        "tls": None
        if probe.tls is None
        else {
            "protocol": probe.tls.protocol,
            "cipher": probe.tls.cipher,
            "sni": probe.tls.sni,
        },
        "probe_duration_seconds": round(probe.duration, 6),
        "suggested_url": report.remediation.suggested_url,
        "remediation": report.remediation.texts,
        "remediation_steps": [step_json(s) for s in report.remediation.steps],
    }


def step_json(step: Step) -> dict[str, Any]:
    """One step of the plan: ``kind`` command, iis, dns or advice; ``text`` the
    command (or the advice); ``guard`` true once it is done; ``server`` the section
    that runs it (null: the organisation's, in every section that needs it);
    ``addresses`` the findings it answers."""
    return {
        "kind": step.kind.value,
        "text": step.text,
        "comment": step.comment,
        "guard": step.guard,
        "server": step.server,
        "addresses": [
            {
                "server": f.server,
                "component": f.component,
                "url": f.url,
                "check": f.check,
                "subject": f.subject,
            }
            for f in step.addresses
        ],
    }


def _certificate(cert: CertificateFacts) -> dict[str, Any]:
    return {
        "subject": cert.subject,
        "issuer": cert.issuer,
        "serial": cert.serial,
        "not_before": _iso(cert.not_before),
        "not_after": _iso(cert.not_after),
        "fingerprint_sha256": cert.fingerprint_sha256,
        "thumbprint": cert.thumbprint,
    }


def reload_json(status: ReloadStatus) -> dict[str, Any]:
    """``serve``'s config reloads: ``ok`` (false while the last one failed); the
    file and when the config in force was loaded from it; when a reload was last
    tried; since when reloads fail; the failed reload's problems, each with its
    line (null when the file as a whole failed) and key path (``""``: the top
    level), and as the lines ``POST /-/reload`` answered (``error``)."""
    return {
        "ok": status.ok,
        "file": status.file,
        "loaded_at": _iso(status.loaded_at),
        "last_attempt": _iso(status.last_attempt),
        "failing_since": _iso(status.failing_since),
        "error": "\n".join(status.lines()) or None,
        "problems": [
            {"line": p.line, "key": p.path, "message": p.message} for p in status.problems
        ],
    }


def snapshot_json(snapshot: Snapshot, reload: ReloadStatus | None = None) -> dict[str, Any]:
    """``reload``: serve's reload status (``/api/v1/status``); None in ``report``,
    which loads its config once, where the field is null."""
    return {
        "schema_version": SCHEMA_VERSION,
        "generated_at": _iso(snapshot.started_at),
        "duration_seconds": round(snapshot.duration, 6),
        "status": snapshot.status.value,
        "reload": None if reload is None else reload_json(reload),
        "discovery": [
            {
                "source": d.source,
                "success": d.success,
                "servers": d.servers,
                "endpoints": d.endpoints,
                "last_success": (
                    _iso(dt.datetime.fromtimestamp(d.last_success, dt.UTC))
                    if d.last_success is not None
                    else None
                ),
                "error": d.error,
                "reason": d.reason,
                "stale": d.stale,
                "notes": list(d.notes),
            }
            for d in snapshot.discovery
        ],
        "dns": {
            "nameservers": list(snapshot.dns.nameservers),
            "unanswered": snapshot.dns.unanswered,
            "message": snapshot.dns.message,
        },
        "names_plan": names_plan_json(snapshot.names_plan),
        # Per server, the steps in the order its section runs them (remediation/plan.py).
        "plan": {
            server: [step_json(s) for s in steps] for server, steps in snapshot.plan.servers.items()
        },
        "endpoints": [endpoint_json(r) for r in snapshot.endpoints],
    }


def names_plan_json(plan: NamesPlan) -> dict[str, Any]:
    return {
        "names": [
            {
                "name": n.name,
                "endpoints": [
                    {
                        "server": u.server,
                        "component": u.component,
                        "url": u.url,
                        "covered": u.covered,
                        "refused_by": list(u.refused_by),
                    }
                    for u in n.uses
                ],
                "covered_by_current": n.covered_by_current,
                "public_ok": n.public_ok,
                "reason": n.reason,
            }
            for n in plan.names
        ],
        "request_command": plan.request_command,
    }
