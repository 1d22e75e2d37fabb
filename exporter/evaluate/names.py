"""Outlook's "name matches the site" check, as Windows SChannel decides it.

Rules, with their sources:
- SAN dNSName (and iPAddress for an IP host) entries are used when the certificate
  has a subjectAltName extension; the subject CN only when it has none
  (RFC 2818 section 3.1, RFC 6125 section 6.4.4; Microsoft KB 2772058).
- Comparison is case-insensitive; one trailing dot is ignored.
- A wildcard may stand only in the left-most label and covers exactly that one
  label, never the bare domain. Windows accepts it as the whole label (``*``) or
  at the end of a prefix (``w*``, ``ww*`` match ``www``), and never ``*w``,
  ``w*w``, ``www.*.com``, ``*.com`` or ``*.*`` (Microsoft KB 258858).
- Anything malformed (empty labels, stray characters, IDN A-label with a
  wildcard) never matches.
"""

from __future__ import annotations

import ipaddress
import re

from exporter.certfacts import CertificateFacts
from exporter.evaluate.outcome import Outcome, Reason
from exporter.model import is_ip_literal

_LABEL = re.compile(r"^[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?$")
_WILDCARD_LABEL = re.compile(r"^[a-z0-9_-]*\*$")


def _labels(name: str) -> list[str] | None:
    text = name.lower()
    if text.endswith("."):
        text = text[:-1]
    if not text or len(text) > 253:
        return None
    return text.split(".")


def hostname_matches(host: str, pattern: str) -> bool:
    """True when a certificate name ``pattern`` covers ``host`` (a DNS name)."""
    host_labels = _labels(host)
    pattern_labels = _labels(pattern)
    if host_labels is None or pattern_labels is None:
        return False
    if len(host_labels) != len(pattern_labels):
        return False
    if not all(_LABEL.match(label) for label in host_labels):
        return False
    first, *rest = pattern_labels
    if not all(_LABEL.match(label) for label in rest):
        return False
    if host_labels[1:] != rest:
        return False
    if "*" not in first:
        return bool(_LABEL.match(first)) and first == host_labels[0]
    # A wildcard needs at least two literal labels after it (never *.com or *.*).
    if len(rest) < 2 or not _WILDCARD_LABEL.match(first):
        return False
    prefix, label = first[:-1], host_labels[0]
    # RFC 6125 6.4.3: no partial wildcard inside an IDN A-label.
    if prefix and label.startswith("xn--"):
        return False
    # The wildcard stands for at least one character: "ww*" matches "www", not "ww".
    return label.startswith(prefix) and len(label) > len(prefix)


def ip_matches(host: str, candidate: str) -> bool:
    try:
        return ipaddress.ip_address(host) == ipaddress.ip_address(candidate)
    except ValueError:
        return False


def covers(cert: CertificateFacts, host: str) -> bool:
    """Does this certificate carry a name that matches ``host``?"""
    is_ip = is_ip_literal(host)
    if cert.has_san:
        if is_ip:
            return any(ip_matches(host, ip) for ip in cert.ip_addresses)
        return any(hostname_matches(host, name) for name in cert.dns_names)
    if is_ip:
        return any(ip_matches(host, cn) for cn in cert.common_names)
    return any(hostname_matches(host, cn) for cn in cert.common_names)


def evaluate_name(cert: CertificateFacts, host: str) -> Outcome:
    if covers(cert, host):
        return Outcome.passed()
    shown = ", ".join(cert.names) or "no names"
    where = "subject alternative names" if cert.has_san else "subject common name"
    note = ""
    if cert.has_san and any(hostname_matches(host, cn) for cn in cert.common_names):
        note = " (the CN matches, but clients ignore the CN when SANs are present)"
    return Outcome.failed(
        Reason.NAME_MISMATCH,
        f"{host} is not among the certificate's {where}: {shown}{note}",
    )
