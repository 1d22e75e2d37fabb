"""The names the next certificate needs (issue #16, item 2), pure over the judged
endpoints: every distinct host name clients are given (internal and external URLs,
the Autodiscover SCP, Outlook Anywhere), which endpoints use it, whether the
certificate each presents covers it, and whether a public CA can issue it.

Public CAs have not issued certificates for internal names (a suffix that is not
a public domain, a single label) since November 2015 (CA/Browser Forum Baseline
Requirements), so such a name needs the KB 940726 fix first: move the URL to a
public name with split DNS (../shared/EXCHANGE-SURFACES.md). Names compare
case-insensitively, without a trailing dot.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass

from exporter.evaluate.names import covers
from exporter.evaluate.verdict import EndpointVerdict
from exporter.hostnames import is_fqdn
from exporter.model import is_ip_literal, parse_url
from exporter.remediation.command import (
    SWITCH,
    Command,
    Flag,
    Host,
    Number,
    Text,
    Values,
    problems,
    render,
)

# Suffixes no public CA issues for: RFC 6762 (.local), RFC 2606 and RFC 6761, the
# home.arpa of RFC 8375, and the private suffixes AD deployments commonly chose.
INTERNAL_SUFFIXES = (
    "local",
    "localdomain",
    "lan",
    "corp",
    "internal",
    "intranet",
    "private",
    "home",
    "home.arpa",
    "ad",
    "test",
    "example",
    "invalid",
    "localhost",
)


@dataclass(frozen=True)
class NameUse:
    """One endpoint that gives clients the name; ``covered`` None without a certificate.
    ``refused_by``: the client families that refuse today's certificate there."""

    server: str
    component: str
    url: str
    covered: bool | None
    refused_by: tuple[str, ...] = ()


@dataclass(frozen=True)
class PlannedName:
    """Attributes:
    covered_by_current: every endpoint that uses the name presents a certificate
        that covers it.
    public_ok: a public CA can issue it; else ``reason`` says why and what to do.
    """

    name: str
    uses: tuple[NameUse, ...]
    covered_by_current: bool
    public_ok: bool
    reason: str | None


@dataclass(frozen=True)
class NamesPlan:
    """``request_command`` None when no name is public."""

    names: tuple[PlannedName, ...]
    request_command: str | None


def _normal(host: str) -> str:
    return host.rstrip(".").lower()


def public_reason(name: str) -> str | None:
    """None when a public CA can issue ``name``; else why not, and the fix."""
    fix = "move the URL to a public name the certificate carries, with split DNS (KB 940726)"
    if is_ip_literal(name):
        return f"an IP address: public CAs issue for names (and for private addresses never); {fix}"
    if "." not in name:
        return f"a single-label name: no public CA issues it (since 2015); {fix}"
    for suffix in INTERNAL_SUFFIXES:
        if name == suffix or name.endswith("." + suffix):
            return f"'.{suffix}' is not a public domain: no public CA issues it (since 2015); {fix}"
    return None


def _hosts(verdict: EndpointVerdict) -> list[tuple[str, str]]:
    """(host, url) for the URLs this endpoint gives clients: internal and external.
    None for the back end and the Auth certificate: self-signed by design, never on
    the certificate clients see."""
    endpoint = verdict.probe.endpoint
    out: list[tuple[str, str]] = []
    if endpoint.component.is_servers_own:
        return out
    if endpoint.target is not None:
        out.append((_normal(endpoint.target.host), endpoint.url))
    if endpoint.external_url:
        # A bad ExternalUrl names nothing a certificate could carry.
        with contextlib.suppress(ValueError):
            out.append((_normal(parse_url(endpoint.external_url).host), endpoint.external_url))
    return out


def plan_names(verdicts: Sequence[EndpointVerdict]) -> NamesPlan:
    uses: dict[str, list[NameUse]] = {}
    for verdict in verdicts:
        endpoint = verdict.probe.endpoint
        leaf = verdict.leaf
        for host, url in _hosts(verdict):
            covered = covers(leaf, host) if leaf is not None else None
            # The families' verdicts are on the internal URL's name, not an ExternalUrl's.
            refused = (
                tuple(f for f, v in verdict.clients.items() if v.accepts is False)
                if url == endpoint.url
                else ()
            )
            use = NameUse(endpoint.server.name, endpoint.component.value, url, covered, refused)
            if use not in uses.setdefault(host, []):
                uses[host].append(use)
    names = tuple(
        PlannedName(
            name,
            tuple(found),
            all(u.covered for u in found),
            public_reason(name) is None,
            public_reason(name),
        )
        for name, found in sorted(uses.items())
    )
    return NamesPlan(names, _request(names, verdicts))


def _request(names: tuple[PlannedName, ...], verdicts: Sequence[EndpointVerdict]) -> str | None:
    public = [n for n in names if n.public_ok and is_fqdn(n.name)]
    if not public:
        return None
    subject = max(public, key=lambda n: (len(n.uses), -names.index(n)))
    ordered = [subject.name] + [n.name for n in public if n is not subject]
    server = verdicts[0].probe.endpoint.server.fqdn if verdicts else "EXCH01"
    request = Command(
        "New-ExchangeCertificate",
        (
            ("GenerateRequest", SWITCH),
            ("SubjectName", Text(f"cn={subject.name}", "the subject")),
            ("DomainName", Values(tuple(Host(name) for name in ordered))),
            ("PrivateKeyExportable", Flag(True)),
            ("KeySize", Number(2048)),
            ("RequestFile", Text(f"\\\\{server}\\c$\\{subject.name}.req", "the request file")),
        ),
    )
    if next(problems(request), None) is not None:
        return None
    return render(request)
