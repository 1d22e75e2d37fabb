"""The page's groups: one namespace (URL host and port, as ``consistent`` defines it)
with its certificate(s) shown once and its fixes listed once, instead of the same
certificate and the same command under every URL. Its fixes are grouped by the
server that runs them, the server named on each. Namespaces come worst first,
and so do the rows within each; the inventory's order breaks ties.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from exporter.certfacts import CertificateFacts
from exporter.evaluate.consistency import namespace_key
from exporter.remediation import Step, StepKind
from exporter.snapshot import EndpointReport, Snapshot


@dataclass(frozen=True)
class Namespace:
    name: str
    reports: tuple[EndpointReport, ...]

    def header(self, k: int) -> str:
        leaves: dict[str, tuple[CertificateFacts, list[str]]] = {}
        for report in self.reports:
            leaf = report.verdict.leaf
            if leaf is not None:
                servers = leaves.setdefault(leaf.fingerprint_sha256, (leaf, []))[1]
                server = report.verdict.probe.endpoint.server.name
                if server not in servers:
                    servers.append(server)
        certificates = (
            "".join(
                f'<div class="cert">Certificate: {escape(leaf.subject)} issued by '
                f"{escape(leaf.issuer)}, thumbprint {escape(leaf.thumbprint)}, valid to "
                f"{leaf.not_after:%Y-%m-%d} ({escape(', '.join(servers))})</div>"
                for leaf, servers in leaves.values()
            )
            or '<div class="cert">No certificate presented.</div>'
        )
        return (
            f'<tr class="namespace" id="ns-{k}"><td colspan="11"><b>{escape(self.name)}</b>'
            f"{certificates}</td></tr>"
        )

    def fixes(self, k: int) -> str:
        """The plan's steps for these endpoints, grouped by the server whose section
        runs them, each labelled with that server; each distinct step once."""
        by_server: dict[str, dict[str, Step]] = {}
        for report in self.reports:
            own = report.verdict.probe.endpoint.server.name
            for step in report.remediation.steps:
                by_server.setdefault(step.server or own, {}).setdefault(step.text, step)
        parts = []
        n = 0
        for server, steps in by_server.items():
            label = f'<span class="server">{escape(server)}</span>'
            # In the order the server's section runs them (remediation/fix.py).
            ordered = sorted(steps.values(), key=lambda s: (s.kind is StepKind.ADVICE, s.order))
            for step in ordered:
                if step.kind is StepKind.ADVICE:
                    parts.append(f'<div class="advice">{label} {escape(step.text)}</div>')
                    continue
                target = f"fix-{k}-{n}"
                n += 1
                parts.append(
                    f'<div class="fix">{label}<pre id="{target}">{escape(step.runs)}</pre>'
                    f'<button class="copy" type="button" data-target="{target}">Copy</button>'
                    "</div>"
                )
        if not parts:
            return ""
        return f'<tr class="details fixes"><td colspan="11">{"".join(parts)}</td></tr>'


def namespaces(snapshot: Snapshot) -> list[Namespace]:
    groups: dict[str, list[EndpointReport]] = {}
    for report in snapshot.endpoints:
        endpoint = report.verdict.probe.endpoint
        key = namespace_key(report.verdict)
        # The back end and the Auth certificate are each server's own, never a
        # namespace's: a group of their own (the Auth certificate is not the TLS one).
        own = endpoint.component.is_servers_own
        name = f"{key[0]}:{key[1]}" if key and not own else endpoint.url
        groups.setdefault(name, []).append(report)
    built = [
        Namespace(name, tuple(sorted(reports, key=lambda r: -r.status.rank)))
        for name, reports in groups.items()
    ]
    return sorted(built, key=lambda ns: -max(r.status.rank for r in ns.reports))
