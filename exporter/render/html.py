"""The landing page (``/``): what an Exchange admin reads at a glance. The endpoints
grouped by namespace (URL host and port), the worst first: each namespace's
certificate(s) once above its rows (render/namespaces.py), one row per server and
component with Outlook's three checks, DNS, the chain and days to expiry
(coloured by the expiry judgement), the reasons under each row, and the
namespace's fixes once, each with a copy button. It reloads itself at the probe
interval. Server-rendered, no external assets; every value from a certificate,
the directory or the config is escaped.
"""

from __future__ import annotations

import datetime as dt
import re
from html import escape

from exporter import __version__
from exporter.config.reloadstatus import ReloadStatus
from exporter.evaluate.checks import iso
from exporter.evaluate.outcome import Check, Outcome
from exporter.evaluate.verdict import EndpointVerdict
from exporter.render.namespaces import namespaces
from exporter.render.pagebanners import discovery, dns_banner, reload_banner
from exporter.render.pagestyle import CSS as _CSS
from exporter.render.pagestyle import JS as _JS
from exporter.snapshot import EndpointReport, Snapshot

_MARK = {
    True: ('<span class="ok">&#10004; OK</span>'),
    False: '<span class="fail">&#10008; FAIL</span>',
    None: '<span class="na">&ndash;</span>',
}

# The table's columns: heading, class and what the column means (the heading's
# tooltip). The class sizes the column (the table's layout is fixed, so no cell can
# push Status and the Copy buttons out of the window) and, for ``c-secondary``,
# hides it below 1000 px: a false chain_complete or not_revoked, or revocation that
# could not be checked, is always also a reason under the row and in Status.
_COLUMNS = (
    ("Server", "c-server", "The Exchange server, probed on its own address"),
    ("Component", "c-component", "The virtual directory or service the URL is for"),
    ("Internal URL", "c-url", "The URL domain-joined clients are given"),
    (
        "Name",
        "c-check",
        "Outlook's name check: the certificate names the URL's host (KB 940726). "
        "\u2013 for the back end and the Auth certificate: self-signed by design",
    ),
    (
        "Issuer",
        "c-check",
        "The chain builds to a trusted root as Windows' chain engine builds it",
    ),
    ("Date", "c-check", "Now lies within the certificate's validity"),
    (
        "DNS",
        "c-check",
        "The URL's host resolves in internal DNS to this server. "
        "\u2013 when the internal DNS did not answer or the server's address is unknown",
    ),
    (
        "Whole chain",
        "c-check c-secondary",
        "The server sends every intermediate: FAIL when Windows had to fetch one over AIA "
        "(Outlook is fine, phones are not). \u2013 when no chain was built",
    ),
    (
        "Not revoked",
        "c-check c-revoked c-secondary",
        "No certificate of the chain is revoked (OCSP, then CRL). \u2013 when none names a "
        "CRL or OCSP responder, revocation checking is off, or no answer could be had",
    ),
    (
        "Days left",
        "c-days",
        "Days to the certificate's expiry: red when expired or inside "
        "thresholds.expiry_critical, amber inside thresholds.expiry_warning",
    ),
    ("Status", "c-status", "The worst of the checks, the expiry and the advisories"),
)
_CHECK_COLUMNS = (
    (Check.NAME_MATCH, "check"),
    (Check.ISSUER_TRUSTED, "check"),
    (Check.DATE_VALID, "check"),
    (Check.DNS_MATCH, "check"),
    (Check.CHAIN_COMPLETE, "check c-secondary"),
    (Check.NOT_REVOKED, "check c-secondary"),
)

_LEGEND = (
    '<p class="legend" id="legend"><span class="ok">&#10004; OK</span> passes &middot; '
    '<span class="fail">&#10008; FAIL</span> fails: the reason is under the row &middot; '
    '<span class="na">&ndash;</span> not judged: nothing to check there (no certificate, no '
    "CRL or OCSP responder named, no DNS answer) &middot; Days left: red when expired or "
    "inside the critical threshold, amber inside the warning one. Point at a heading or a "
    'mark for what it means.<span class="narrow"> At this width Whole chain and Not revoked '
    "are hidden: their failures still show under the row and in Status.</span></p>"
)

# Where a URL may break across lines: after a / (not inside ://), before . ? & # =,
# after - _ :, so a narrow column never splits a URL a character at a time.
_URL_BREAK = re.compile(r"(?<=/)(?!/)|(?=[.?&#=])|(?<=[-_:])(?!/)")


def _breakable(text: str) -> str:
    """``text`` escaped, with a ``<wbr>`` at each of _URL_BREAK's places."""
    return "<wbr>".join(escape(part) for part in _URL_BREAK.split(text))


def _mark(outcome: Outcome, classes: str) -> str:
    """One check's cell; its tooltip says why it failed or was not judged."""
    why = outcome.message or (outcome.reason.value if outcome.reason else "")
    title = {True: "OK", False: f"FAIL: {why}", None: "not judged" + (f": {why}" if why else "")}
    return f'<td class="{classes}" title="{escape(title[outcome.ok])}">{_MARK[outcome.ok]}</td>'


def _days(report: EndpointReport) -> str:
    """The days-left cell, coloured by the expiry judgement (the thresholds' verdict);
    an expired certificate (zero days or fewer) is critical whatever that says: the
    expiry judgement leaves an expired leaf to date_valid."""
    verdict = report.verdict
    days = verdict.days_left
    if days is None or verdict.not_after is None:
        return '<td class="days"><span class="na">&ndash;</span></td>'
    shown = f"{days:.0f}"
    shown = "0" if shown == "-0" else shown
    level = "critical" if days <= 0 or shown == "0" else verdict.expiry_status.value
    title = f"{'expired' if days <= 0 else 'expires'} {iso(verdict.not_after)}"
    return f'<td class="days days-{level}" title="{title}">{shown}</td>'


def _row(report: EndpointReport, index: int) -> str:
    verdict = report.verdict
    endpoint = verdict.probe.endpoint
    marks = "".join(_mark(verdict.checks[check], classes) for check, classes in _CHECK_COLUMNS)
    status = verdict.status.value
    row = (
        f'<tr class="status-{status}" id="ep-{index}"><td>{escape(endpoint.server.name)}</td>'
        f"<td>{_breakable(endpoint.component.value)}</td>"
        f'<td class="url">{_breakable(endpoint.url)}</td>{marks}{_days(report)}'
        f'<td class="status" title="{escape(_clients_title(verdict))}">{escape(status)}</td></tr>'
    )
    return row + _details(report)


def _clients_title(verdict: EndpointVerdict) -> str:
    """Each client family's verdict, for the Status cell's tooltip."""
    said = {True: "accepts", False: "refuses", None: "not judged"}
    return "; ".join(f"{family} {said[v.accepts]}" for family, v in verdict.clients.items())


def _clients_line(verdict: EndpointVerdict) -> str:
    """Each family's verdict beside Outlook's checks, when one refuses a certificate
    those checks pass (where they fail, the row's reasons already say why)."""
    if verdict.client_rejects.ok is not False:
        return ""
    marks = []
    for family, v in verdict.clients.items():
        codes = ", ".join(dict.fromkeys(r.reason.value for r in v.reasons if r.reason))
        marks.append(
            f"{escape(family)} {_MARK[v.accepts]}" + (f" ({escape(codes)})" if codes else "")
        )
    return f'<div class="reason clients"><b>clients</b>: {"; ".join(marks)}</div>'


def _details(report: EndpointReport) -> str:
    """The endpoint's reasons; its certificate and fixes are its namespace's."""
    verdict = report.verdict
    parts = []
    for name, outcome in verdict.outcomes:
        if outcome.reason is not None and outcome.noteworthy and outcome.message:
            parts.append(
                f'<div class="reason"><b>{escape(name)}</b> '
                f"({escape(outcome.reason.value)}): {escape(outcome.message)}</div>"
            )
    for advisory in verdict.advisories:
        code = advisory.reason.value if advisory.reason else ""
        parts.append(
            f'<div class="reason"><b>hygiene</b> ({escape(code)}): '
            f"{escape(advisory.message or '')}</div>"
        )
    for note in verdict.notes:
        code = note.reason.value if note.reason else ""
        parts.append(
            f'<div class="reason note"><b>note</b> ({escape(code)}): '
            f"{escape(note.message or '')}</div>"
        )
    if clients := _clients_line(verdict):
        parts.append(clients)
    if not parts:
        return ""
    return f'<tr class="details"><td colspan="11">{"".join(parts)}</td></tr>'


def _heading(name: str, classes: str, meaning: str) -> str:
    return f'<th class="{classes}" title="{escape(meaning)}"><span>{escape(name)}</span></th>'


def render_page(
    snapshot: Snapshot | None,
    now: dt.datetime,
    refresh: float | None = None,
    reload: ReloadStatus | None = None,
) -> str:
    """``refresh``: seconds after which the browser reloads the page (the probe
    interval, so each load shows a new refresh); None for a page that stays.
    ``reload``: serve's reload status, a banner while the last reload failed."""
    meta = f'<meta http-equiv="refresh" content="{max(5, round(refresh))}">' if refresh else ""
    head = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width,initial-scale=1">{meta}'
        f"<title>Exchange internal URL certificates</title><style>{_CSS}</style></head><body>"
    )
    links = '<a href="/metrics">Metrics</a> &middot; <a href="/api/v1/status">Status JSON</a>'
    if snapshot is None:
        return (
            f"{head}<header><h1>Exchange internal URL certificates</h1>"
            "<p>The first refresh is still running.</p></header>"
            f"<main>{reload_banner(reload)}<p>{links}</p></main></body></html>"
        )
    age = (now - snapshot.started_at).total_seconds()
    counts = snapshot.counts
    overall = snapshot.status.value
    summary = f'<span class="s-{overall}" id="overall">&nbsp;{overall.upper()}&nbsp;</span> '
    summary += "".join(
        f'<span class="s-{s.value}">&nbsp;{n} {s.value}&nbsp;</span>'
        for s, n in counts.items()
        if n
    )
    for failing in (d for d in snapshot.discovery if not d.success):
        summary += escape(f" discovery {failing.source} failing ({failing.reason or 'failed'})")
    if not snapshot.endpoints:
        summary += " No endpoints found."
    rows, index = [], 0
    for k, group in enumerate(namespaces(snapshot)):
        rows.append(group.header(k))
        for report in group.reports:
            rows.append(_row(report, index))
            index += 1
        rows.append(group.fixes(k))
    rows_html = "".join(rows)
    headings = "".join(_heading(*column) for column in _COLUMNS)
    table = (
        f'{_LEGEND}<div class="table-wrap"><table id="endpoints"><tr>{headings}</tr>'
        f"{rows_html}</table></div>"
    )
    return (
        f"{head}<header><h1>Exchange internal URL certificates</h1>"
        f"<p>What domain-joined Outlook clients meet on each internal URL (KB 940726). "
        f"Last refresh {escape(iso(snapshot.started_at))} ({age:.0f}s ago, took "
        f"{snapshot.duration:.1f}s).</p></header><main>{reload_banner(reload)}"
        f'<p class="summary">{summary}</p>{dns_banner(snapshot)}'
        f"{table}"
        f"{discovery(snapshot)}<p>{links}</p></main>"
        f"<footer>exchange-cert-exporter {escape(__version__)}</footer>"
        f"<script>{_JS}</script></body></html>"
    )
