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
from html import escape

from exporter import __version__
from exporter.evaluate.checks import iso
from exporter.evaluate.outcome import Check
from exporter.render.namespaces import namespaces
from exporter.snapshot import EndpointReport, Snapshot

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1d2329;background:#f5f6f8}
header{background:#1f3b5a;color:#fff;padding:14px 24px}header h1{margin:0;font-size:20px}
header p{margin:4px 0 0;opacity:.85}main{padding:16px 24px}a{color:#1f5fa8}
.summary span{display:inline-block;margin-right:14px;font-weight:600}
table{border-collapse:collapse;width:100%;background:#fff;margin:12px 0}
th,td{padding:6px 8px;border-bottom:1px solid #e1e4e8;text-align:left;vertical-align:top}
th{background:#eef1f4;font-weight:600}td.url{font-family:ui-monospace,Consolas,monospace;font-size:12px;word-break:break-all}
.ok{color:#17703a}.fail{color:#b3261e;font-weight:700}.na{color:#888}
tr.status-critical td.status,.s-critical{color:#fff;background:#b3261e}
tr.status-warning td.status,.s-warning{background:#f2c037}
tr.status-unknown td.status,.s-unknown{color:#fff;background:#6b4fa1}
tr.status-ok td.status,.s-ok{color:#fff;background:#17703a}
td.days-critical{color:#fff;background:#b3261e;font-weight:700}td.days-warning{background:#f2c037;font-weight:700}
td.status{font-weight:700;text-transform:uppercase;text-align:center}
tr.details td{background:#fbfbfc;border-bottom:2px solid #d0d5db}
.reason{margin:2px 0}.fix{display:flex;gap:8px;align-items:flex-start;margin:6px 0}
pre{margin:0;padding:6px 8px;background:#20262e;color:#e8eaed;white-space:pre-wrap;word-break:break-all;flex:1;font-size:12px}
button.copy{cursor:pointer;padding:4px 10px;border:1px solid #1f5fa8;background:#fff;color:#1f5fa8;border-radius:3px}
.advice{margin:6px 0;padding:6px 8px;background:#fff7e0;border-left:3px solid #f2c037}
.cert{margin:6px 0 0;color:#555;font-size:12px}
.server{display:inline-block;min-width:6em;font-weight:700;color:#1f3b5a}
tr.namespace td{background:#e4e9ef;border-top:2px solid #b9c3ce;font-size:13px}
footer{padding:8px 24px 24px;color:#666}
"""

_JS = """
document.querySelectorAll('button.copy').forEach(function(b){b.addEventListener('click',function(){
 var t=document.getElementById(b.dataset.target).textContent;
 function done(){b.textContent='Copied';setTimeout(function(){b.textContent='Copy';},2000);}
 if(navigator.clipboard&&window.isSecureContext){navigator.clipboard.writeText(t).then(done);}
 else{var a=document.createElement('textarea');a.value=t;document.body.appendChild(a);a.select();
 document.execCommand('copy');a.remove();done();}});});
"""

_MARK = {
    True: ('<span class="ok">&#10004; OK</span>'),
    False: '<span class="fail">&#10008; FAIL</span>',
    None: '<span class="na">&ndash;</span>',
}


def _days(report: EndpointReport) -> str:
    """The days-left cell, coloured by the expiry judgement (the thresholds' verdict)."""
    verdict = report.verdict
    days = verdict.days_left
    if days is None:
        return '<td class="days"><span class="na">&ndash;</span></td>'
    return f'<td class="days days-{verdict.expiry_status.value}">{days:.0f}</td>'


def _row(report: EndpointReport, index: int) -> str:
    verdict = report.verdict
    endpoint = verdict.probe.endpoint
    checks = verdict.checks
    cells = [
        escape(endpoint.server.name),
        escape(endpoint.component.value),
        f'<td class="url">{escape(endpoint.url)}</td>',
        _MARK[checks[Check.NAME_MATCH].ok],
        _MARK[checks[Check.ISSUER_TRUSTED].ok],
        _MARK[checks[Check.DATE_VALID].ok],
        _MARK[checks[Check.DNS_MATCH].ok],
        _MARK[checks[Check.CHAIN_COMPLETE].ok],
        _MARK[checks[Check.NOT_REVOKED].ok],
        _days(report),
    ]
    tds = "".join(c if c.startswith("<td") else f"<td>{c}</td>" for c in cells)
    status = verdict.status.value
    row = (
        f'<tr class="status-{status}" id="ep-{index}">{tds}'
        f'<td class="status">{escape(status)}</td></tr>'
    )
    return row + _details(report)


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
    if not parts:
        return ""
    return f'<tr class="details"><td colspan="11">{"".join(parts)}</td></tr>'


def _discovery(snapshot: Snapshot) -> str:
    rows = []
    for status in snapshot.discovery:
        last = (
            iso(dt.datetime.fromtimestamp(status.last_success, dt.UTC))
            if status.last_success is not None
            else "never"
        )
        state = "ok" if status.success else "critical"
        label = "OK" if status.success else "FAILING"
        if status.stale:
            label += ", using the last good inventory"
        notes = "".join(f"<div>{escape(n)}</div>" for n in status.notes[:50])
        rows.append(
            f"<tr><td>{escape(status.source)}</td>"
            f'<td class="s-{state}">{label}</td>'
            f"<td>{status.servers}</td><td>{status.endpoints}</td>"
            f"<td>{escape(last)}</td><td>{escape(status.error or '')}"
            f'<div class="cert">{notes}</div></td></tr>'
        )
    return (
        "<table><tr><th>Discovery</th><th>State</th><th>Servers</th><th>Endpoints</th>"
        f"<th>Last success</th><th>Error and notes</th></tr>{''.join(rows)}</table>"
    )


def _dns_banner(snapshot: Snapshot) -> str:
    """One notice for an internal DNS outage, above the rows it leaves unjudged."""
    if not snapshot.dns.message:
        return ""
    return f'<p class="s-warning" id="dns-failing">DNS FAILING: {escape(snapshot.dns.message)}</p>'


def render_page(snapshot: Snapshot | None, now: dt.datetime, refresh: float | None = None) -> str:
    """``refresh``: seconds after which the browser reloads the page (the probe
    interval, so each load shows a new refresh); None for a page that stays."""
    reload = f'<meta http-equiv="refresh" content="{max(5, round(refresh))}">' if refresh else ""
    head = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width,initial-scale=1">{reload}'
        f"<title>Exchange internal URL certificates</title><style>{_CSS}</style></head><body>"
    )
    links = '<a href="/metrics">Metrics</a> &middot; <a href="/api/v1/status">Status JSON</a>'
    if snapshot is None:
        return (
            f"{head}<header><h1>Exchange internal URL certificates</h1>"
            "<p>The first refresh is still running.</p></header>"
            f"<main><p>{links}</p></main></body></html>"
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
    table = (
        '<table id="endpoints"><tr><th>Server</th><th>Component</th><th>Internal URL</th>'
        "<th>Name</th><th>Issuer</th><th>Date</th><th>DNS</th><th>Whole chain</th>"
        "<th>Not revoked</th><th>Days left</th>"
        f"<th>Status</th></tr>{rows_html}</table>"
    )
    return (
        f"{head}<header><h1>Exchange internal URL certificates</h1>"
        f"<p>What domain-joined Outlook clients meet on each internal URL (KB 940726). "
        f"Last refresh {escape(iso(snapshot.started_at))} ({age:.0f}s ago, took "
        f"{snapshot.duration:.1f}s).</p></header><main>"
        f'<p class="summary">{summary}</p>{_dns_banner(snapshot)}'
        f"{table}"
        f"{_discovery(snapshot)}<p>{links}</p></main>"
        f"<footer>exchange-cert-exporter {escape(__version__)}</footer>"
        f"<script>{_JS}</script></body></html>"
    )
