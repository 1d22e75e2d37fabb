"""The landing page's banners and discovery lines: what is wrong with the exporter's
own inputs (discovery, the internal DNS, a failed reload) rather than with an
endpoint. Every value from outside is escaped."""

from __future__ import annotations

import datetime as dt
from html import escape

from exporter.config.reloadstatus import ReloadStatus
from exporter.evaluate.checks import iso
from exporter.snapshot import Snapshot


def discovery(snapshot: Snapshot) -> str:
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


def dns_banner(snapshot: Snapshot) -> str:
    """One notice for an internal DNS outage, above the rows it leaves unjudged."""
    if not snapshot.dns.message:
        return ""
    return f'<p class="s-warning" id="dns-failing">DNS FAILING: {escape(snapshot.dns.message)}</p>'


def reload_banner(reload: ReloadStatus | None) -> str:
    """A failed config reload, at the top of the page until a reload succeeds: the
    exporter keeps the last good config, so an edit may look applied and is not."""
    if reload is None or reload.ok or reload.failing_since is None:
        return ""
    lines = reload.lines()
    items = "".join(f"<li><code>{escape(line)}</code></li>" for line in lines[:50])
    tried = f" (last tried {iso(reload.last_attempt)})" if reload.last_attempt else ""
    count = f"{len(lines)} problem{'s' if len(lines) != 1 else ''}"
    return (
        '<div class="banner" id="reload-failed" role="alert"><b>CONFIG RELOAD FAILED</b> '
        f"since {iso(reload.failing_since)}{tried}: {escape(reload.file)} has {count} and "
        f"was not loaded; the config loaded at {iso(reload.loaded_at)} stays in force. "
        "Fix the file and reload again."
        f"<ul>{items}</ul></div>"
    )
