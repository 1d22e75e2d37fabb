"""The page's groups: one namespace (URL host and port, as ``consistent`` defines it)
with its certificate(s) shown once and its fixes listed once, instead of the same
certificate and the same command under every URL. Namespaces come worst first,
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
        """Each distinct step once, in the order of the rows that need it."""
        steps: dict[str, Step] = {}
        for report in self.reports:
            for step in report.remediation.steps:
                steps.setdefault(step.text, step)
        parts = []
        for n, step in enumerate(steps.values()):
            if step.kind is StepKind.ADVICE:
                parts.append(f'<div class="advice">{escape(step.text)}</div>')
                continue
            target = f"fix-{k}-{n}"
            parts.append(
                f'<div class="fix"><pre id="{target}">{escape(step.text)}</pre>'
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
