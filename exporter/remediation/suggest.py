"""Which host name should the internal URL use? A pure choice from the certificate.

Preference (issue #2): the component's ExternalUrl host when the certificate
covers it; then the first non-wildcard SAN name; then the CN. A wildcard is never
suggested: under ``*.contoso.com`` the server's short name is proposed instead.
"""

from __future__ import annotations

from exporter.certfacts import CertificateFacts
from exporter.evaluate.names import covers
from exporter.hostnames import is_fqdn
from exporter.model import Endpoint, parse_url


def is_plain_hostname(name: str) -> bool:
    """Safe to suggest: a valid DNS name (exporter/hostnames.py) of two labels or
    more, no wildcard."""
    return "*" not in name and is_fqdn(name)


def suggest_host(endpoint: Endpoint, leaf: CertificateFacts) -> str | None:
    if endpoint.external_url:
        try:
            external = parse_url(endpoint.external_url).host
        except ValueError:
            external = ""
        if is_plain_hostname(external) and covers(leaf, external):
            return external
    candidates = leaf.dns_names if leaf.has_san else leaf.common_names
    for name in candidates:
        if "*" not in name and is_plain_hostname(name):
            return name.lower().rstrip(".")
    short = endpoint.server.name.lower()
    for name in candidates:
        if name.startswith("*."):
            proposal = f"{short}.{name[2:].lower().rstrip('.')}"
            if is_plain_hostname(proposal) and covers(leaf, proposal):
                return proposal
    return None


def suggested_url(endpoint: Endpoint, host: str) -> str:
    """The current URL with only the host replaced (scheme https, port kept if unusual)."""
    target = endpoint.target
    assert target is not None  # noqa: S101 - only called for probed endpoints
    port = "" if target.port == 443 else f":{target.port}"
    return f"https://{host}{port}{target.path}"
