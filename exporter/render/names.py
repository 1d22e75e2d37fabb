"""``report --format names``: the names the next certificate needs, for the admin
about to order one: each name clients are given, who uses it, whether today's
certificate covers it and which client families refuse it, which no public CA
will issue (fix those first, per KB 940726), and the request to run (every name in
the subject alternative names, a 2048-bit key: what every client family accepts).
Formats ``Snapshot.names_plan``; derives nothing.
"""

from __future__ import annotations

from exporter.snapshot import Snapshot

_YES = {True: "yes", False: "NO", None: "-"}


def render_names(snapshot: Snapshot) -> str:
    plan = snapshot.names_plan
    if not plan.names:
        return "No names to plan: the inventory lists no internal URL.\n"
    rows = [
        (
            n.name,
            _YES[n.public_ok],
            _YES[n.covered_by_current],
            ", ".join(f"{u.server} {u.component}" for u in n.uses),
        )
        for n in plan.names
    ]
    headers = ("NAME", "PUBLIC", "COVERED", "USED BY")
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers[:3])]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers[:3], widths, strict=True)) + "  USED BY"]
    for name, row in zip(plan.names, rows, strict=True):
        lines.append(
            "  ".join(c.ljust(w) for c, w in zip(row[:3], widths, strict=True)) + "  " + row[3]
        )
        if name.reason:
            lines.append(f"    {name.name}: {name.reason}")
        # Outlook's refusals are the COVERED column; a name no public CA issues has
        # its own line above.
        refused = sorted({f for u in name.uses for f in u.refused_by if f != "outlook"})
        if refused and name.public_ok:
            lines.append(
                f"    {name.name}: refused today by {', '.join(refused)}; the request below "
                "yields a certificate every client accepts"
            )
    lines.append("")
    if plan.request_command:
        lines.append("The certificate request for every public name (Exchange Management Shell):")
        lines.append(plan.request_command)
    else:
        lines.append("No name is public: move the URLs to public names first (KB 940726).")
    return "\n".join(lines) + "\n"
