"""``report --format table``: a terminal table an Exchange admin reads top to bottom.

One row per endpoint with the three Outlook checks, DNS, days left and status;
each problem's reason and fix follow beneath its row. Colour only on a TTY.

Every value from a certificate, the directory or a peer (a server name, a URL, a
message quoting a certificate's names, a fix) passes ``terminal_safe`` before it is
measured or printed: a SAN's ``ESC[2J`` prints as ``\\x1b[2J``. The table's own
colour codes are added after, around the escaped row.
"""

from __future__ import annotations

from exporter.evaluate.outcome import Check, Status
from exporter.snapshot import EndpointReport, Snapshot
from exporter.textsafe import terminal_safe

_COLOURS = {Status.OK: "32", Status.WARNING: "33", Status.CRITICAL: "31", Status.UNKNOWN: "35"}
_HEADERS = (
    "SERVER",
    "COMPONENT",
    "URL",
    "NAME",
    "ISSUER",
    "DATE",
    "DNS",
    "CHAIN",
    "REVOKED",
    "DAYS",
    "STATUS",
)
_MARKS = {True: "ok", False: "FAIL", None: "-"}
# not_revoked reads as "is it revoked?": no (ok), YES (fail), - (unknown)
_REVOKED = {True: "no", False: "YES", None: "-"}


def _days(report: EndpointReport) -> str:
    days = report.verdict.days_left
    return "-" if days is None else f"{days:.0f}"


def _row(report: EndpointReport) -> list[str]:
    verdict = report.verdict
    endpoint = verdict.probe.endpoint
    checks = verdict.checks
    return [
        terminal_safe(endpoint.server.name),
        endpoint.component.value,
        terminal_safe(endpoint.url),
        _MARKS[checks[Check.NAME_MATCH].ok],
        _MARKS[checks[Check.ISSUER_TRUSTED].ok],
        _MARKS[checks[Check.DATE_VALID].ok],
        _MARKS[checks[Check.DNS_MATCH].ok],
        _MARKS[checks[Check.CHAIN_COMPLETE].ok],
        _REVOKED[checks[Check.NOT_REVOKED].ok],
        _days(report),
        verdict.status.value.upper(),
    ]


def render_table(snapshot: Snapshot, colour: bool = False) -> str:
    if not snapshot.endpoints:
        return _nothing(snapshot)
    rows = [_row(r) for r in snapshot.endpoints]
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(_HEADERS)
    ]
    lines = ["  ".join(h.ljust(w) for h, w in zip(_HEADERS, widths, strict=True)).rstrip()]
    for report, row in zip(snapshot.endpoints, rows, strict=True):
        text = "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        if colour:
            text = f"\x1b[{_COLOURS[report.status]}m{text}\x1b[0m"
        lines.append(text)
        lines.extend(_details(report))
    counts = snapshot.counts
    summary = ", ".join(f"{n} {s.value}" for s, n in counts.items() if n)
    lines.append("")
    for status in snapshot.discovery:
        if not status.success:
            stale = ", using the last good inventory" if status.stale else ""
            lines.append(
                terminal_safe(
                    f"discovery {status.source} FAILING ({status.reason}{stale}): {status.error}"
                )
            )
    if snapshot.dns.message:
        lines.append(f"dns FAILING: {terminal_safe(snapshot.dns.message)}")
    count = len(snapshot.endpoints)
    lines.append(f"{count} endpoint{'' if count == 1 else 's'}: {summary or 'none found'}")
    return "\n".join(lines) + "\n"


def _nothing(snapshot: Snapshot) -> str:
    """A sentence, not an empty table: why there is nothing to report."""
    failing = [d for d in snapshot.discovery if not d.success]
    if failing:
        why = "; ".join(f"discovery {d.source} failed ({d.reason}): {d.error}" for d in failing)
        return f"No endpoints to report: {terminal_safe(why)}\n"
    return "No endpoints to report: the inventory (servers: or ldap:) lists no internal URL.\n"


def _details(report: EndpointReport) -> list[str]:
    out = []
    verdict = report.verdict
    for name, outcome in verdict.outcomes:
        if outcome.noteworthy and outcome.message:
            out.append(f"    {name}: {outcome.message}")
    for advisory in verdict.advisories:
        out.append(f"    hygiene ({advisory.reason}): {advisory.message}")
    for note in verdict.notes:
        out.append(f"    note ({note.reason}): {note.message}")
    for step in report.remediation.steps:
        out.append(f"    fix ({step.kind.value}): {step.runs}")
    return [terminal_safe(line) for line in out]
