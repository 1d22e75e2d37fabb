"""Hostile names in machine and terminal output (issue #23, items 4 and 5): `check`
and `report` as subprocesses against real TLS and DNS peers, with certificates whose
names carry ``|``, perfdata, a newline, terminal escapes and a bidi override, a
server named ``EXCH|03``, and a certificate expiring in 5 days (its renewal advice
holds a PowerShell ``|``). Nagios must see one status line and one ``|``; a
terminal must see no control character from a value; a normal certificate's
output must read as before."""

from __future__ import annotations

import errno
import os
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any, NamedTuple

import pytest
import yaml

from exporter.render.table import render_table
from exporter.snapshot import EndpointReport, Snapshot
from exporter.textsafe import nagios_safe, perfdata_label, terminal_safe
from tests.conftest import lab_config, run, run_exporter
from tests.pki import CA, DAY, NOW

HOSTILE_SANS = (
    "x|evil_perf=1;2;3",
    "pi|pe.contoso.com",
    "line\nINJECTED OK - forged",
    "\x1b]0;title\x07",
    "\x1b[2J",
)
HOSTILE_CN = "evil\u202e|cn\x1b[2J"  # a DNSName must be ASCII; a CN may be anything
HOSTILE_SERVER = "EXCH|03"
STATES = ("OK ", "WARNING ", "CRITICAL ", "UNKNOWN ")
RAW = ("\x1b", "\x07", "\u202e", "\r")  # never on stdout from a value


# -- the perfdata grammar (Monitoring Plugins guidelines, section 2.6) ---------------

_NUMBER = r"-?\d+(?:\.\d+)?"
_RANGE = rf"@?(?:~|{_NUMBER})?(?::(?:{_NUMBER})?)?"
_ITEM = re.compile(
    rf"(?P<label>'(?:[^'=]|'')+'|[^\s'=]+)=(?P<value>{_NUMBER})(?P<uom>s|ms|us|%|B|KB|MB|TB|c)?"
    rf"(?:;(?P<warn>{_RANGE})(?:;(?P<crit>{_RANGE})(?:;(?P<min>{_NUMBER})?"
    rf"(?:;(?P<max>{_NUMBER})?)?)?)?)?"
)


class Perf(NamedTuple):
    label: str
    value: float
    uom: str
    warn: str
    crit: str


def parse_perfdata(text: str) -> list[Perf]:
    """Space-separated ``'label'=value[UOM];[warn];[crit];[min];[max]`` items; raises
    on anything else. A quoted label may not hold ``=`` (the newer interface draft
    and Icinga 2 forbid it) and holds a quote only doubled."""
    items, pos = [], 0
    while pos < len(text):
        match = _ITEM.match(text, pos)
        assert match, f"not perfdata at {pos}: {text[pos:]!r}"
        label = match["label"]
        if label.startswith("'"):
            label = label[1:-1].replace("''", "'")
        items.append(
            Perf(
                label,
                float(match["value"]),
                match["uom"] or "",
                match["warn"] or "",
                match["crit"] or "",
            )
        )
        pos = match.end()
        if pos < len(text):
            assert text[pos] == " ", text[pos:]
            assert text[pos + 1 : pos + 2] not in ("", " "), text[pos:]
            pos += 1
    return items


def plugin_output(stdout: str) -> tuple[str, list[Perf], list[str]]:
    """The status line's text, its perfdata and the long output, asserting the shape
    Nagios reads: the one ``|`` of the output is on the first line, before the perfdata."""
    assert stdout.endswith("\n")
    assert stdout.count("|") == 1, stdout
    first, *rest = stdout.split("\n")[:-1]
    text, _, perf = first.partition(" | ")
    assert perf, first
    return text, parse_perfdata(perf), rest


# -- the lab ---------------------------------------------------------------------------


@pytest.fixture
def hostile_lab(make_tls, make_dns, write_config, root_file, issuing_ca: CA) -> tuple[Path, Any]:
    """EXCH|03 serves a certificate with every hostile name (and not the URL's name:
    name_mismatch quotes them all); EXCH01's certificate is right but expires in 5
    days (renewal advice); EXCH02's is healthy (the control)."""
    hostile = make_tls("127.0.11.1", issuing_ca.issue(*HOSTILE_SANS, cn=HOSTILE_CN))
    expiring = make_tls("127.0.11.2", issuing_ca.issue("owa.contoso.com", not_after=NOW + 5 * DAY))
    healthy = make_tls("127.0.11.3", issuing_ca.issue("exch02.contoso.com"))
    dns = make_dns(
        {
            "mail.contoso.com": ["127.0.11.1"],
            "exch03.contoso.local": ["127.0.11.1"],
            "owa.contoso.com": ["127.0.11.2"],
            "exch01.contoso.local": ["127.0.11.2"],
            "exch02.contoso.com": ["127.0.11.3"],
        }
    )
    servers = [
        {
            "name": HOSTILE_SERVER,
            "fqdn": "exch03.contoso.local",
            "urls": {"ews": f"https://mail.contoso.com:{hostile.port}/EWS/Exchange.asmx"},
        },
        {
            "name": "EXCH01",
            "fqdn": "exch01.contoso.local",
            "urls": {"ews": f"https://owa.contoso.com:{expiring.port}/EWS/Exchange.asmx"},
        },
        {
            "name": "EXCH02",
            "fqdn": "exch02.contoso.com",
            "urls": {"ews": f"https://exch02.contoso.com:{healthy.port}/EWS/Exchange.asmx"},
        },
    ]
    config = lab_config(servers, dns, [root_file])
    return write_config(config), healthy


def _no_raw_controls(stdout: str) -> None:
    for char in RAW:
        assert char not in stdout, (char, stdout)
    assert not any(line.startswith("INJECTED") for line in stdout.splitlines())


# -- check ------------------------------------------------------------------------------


@pytest.mark.parametrize("verbosity", [(), ("-v",), ("-vv",), ("-vvv",)])
def test_check_output_has_one_status_line_and_one_pipe(hostile_lab, verbosity) -> None:
    path, _ = hostile_lab
    result = run_exporter("check", "--config.file", str(path), *verbosity)
    assert result.returncode == 2, result.stdout
    assert result.stderr == ""
    text, perf, rest = plugin_output(result.stdout)
    _no_raw_controls(result.stdout)
    assert text.startswith(
        "EXCHANGE-CERT CRITICAL - 2 of 3 endpoints critical: EXCH¦03 ews (name_mismatch"
    ), text
    assert "EXCH01 ews (expires in " in text
    # The long output: blocks only, each opening with a state or indented beneath it.
    assert rest
    assert all(line.startswith((*STATES, "  ")) for line in rest), rest
    # Perfdata: three items per endpoint, labels readable and in the guidelines' grammar.
    labels = [p.label for p in perf]
    assert labels == [
        f"{server} ews {kind}"
        for server in ("EXCH¦03", "EXCH01", "EXCH02")
        for kind in ("leaf_days", "chain_days", "time")
    ]
    assert [p.uom for p in perf] == ["", "", "s"] * 3
    assert perf[3].value < 6
    assert (perf[3].warn, perf[3].crit) == ("30:", "7:")
    # The hostile names arrive, escaped, on the name_mismatch line of EXCH|03.
    (names,) = [line for line in rest if line.startswith("  name_match: mail.contoso.com")]
    assert "x¦evil_perf=1;2;3, pi¦pe.contoso.com, line\\x0aINJECTED OK - forged, " in names
    assert names.endswith("\\x1b]0;title\\x07, \\x1b[2J")
    # Our own advice keeps reading as a pipeline, with a stand-in for its "|".
    assert any(
        line.startswith("  fix: ") and "¦ New-ExchangeCertificate" in line for line in rest
    ), rest
    if verbosity and verbosity[0] in ("-vv", "-vvv"):
        assert any("CN=evil\\u202e¦cn\\x1b[2J" in line for line in rest), rest


def test_check_control_a_normal_certificate_reads_as_before(hostile_lab) -> None:
    """The control: EXCH02's block is exactly what it was before any escaping."""
    path, healthy = hostile_lab
    result = run_exporter("check", "--config.file", str(path), "--server", "EXCH02", "-vv")
    assert result.returncode == 0, result.stdout
    text, perf, rest = plugin_output(result.stdout)
    assert re.fullmatch(
        r"EXCHANGE-CERT OK - 1 endpoint OK; the nearest expiry is in 36[45] days "
        r"\(EXCH02 ews\)",
        text,
    ), text
    assert [p.label for p in perf] == [
        "EXCH02 ews leaf_days",
        "EXCH02 ews chain_days",
        "EXCH02 ews time",
    ]
    assert rest[0] == (f"OK EXCH02 ews https://exch02.contoso.com:{healthy.port}/EWS/Exchange.asmx")
    assert re.fullmatch(
        r"  certificate: CN=exch02\.contoso\.com,O=Contoso Test; "
        r"issuer CN=Contoso Issuing CA,O=Contoso Test; thumbprint [0-9A-F]{40}; "
        r"names exch02\.contoso\.com",
        rest[1],
    ), rest[1]
    assert len(rest) == 2
    assert "\\x" not in result.stdout
    assert "¦" not in result.stdout


def test_unknown_lines_quote_names_safely(hostile_lab) -> None:
    """A filter that matches nothing lists the servers it knows: EXCH|03 among them."""
    path, _ = hostile_lab
    result = run_exporter("check", "--config.file", str(path), "--server", "nope|x=1")
    assert result.returncode == 3
    assert result.stdout.count("\n") == 1, result.stdout
    assert "|" not in result.stdout
    assert result.stdout.startswith("EXCHANGE-CERT UNKNOWN - --server nope¦x=1 matched no")
    assert "servers known: EXCH01, EXCH02, EXCH¦03;" in result.stdout


# -- report -----------------------------------------------------------------------------


def test_report_table_escapes_values(hostile_lab) -> None:
    path, healthy = hostile_lab
    result = run_exporter("report", "--config.file", str(path))
    assert result.returncode == 2, result.stdout
    _no_raw_controls(result.stdout)
    lines = result.stdout.splitlines()
    # Each endpoint is one row; the names stay beneath EXCH|03's row, on one line.
    rows = [line for line in lines if line.startswith(("EXCH|03 ", "EXCH01 ", "EXCH02 "))]
    assert [row.split()[0] for row in rows] == ["EXCH|03", "EXCH01", "EXCH02"]
    (names,) = [line for line in lines if "name_match: mail.contoso.com" in line]
    assert "x|evil_perf=1;2;3, pi|pe.contoso.com, line\\x0aINJECTED OK - forged, " in names
    assert names.endswith("\\x1b]0;title\\x07, \\x1b[2J")
    # A terminal is not Nagios: our advice keeps its real "|" (copy it and it runs).
    assert any("| New-ExchangeCertificate" in line for line in lines)
    # The control: EXCH02's row as before.
    control = next(row for row in rows if row.startswith("EXCH02 ")).split()
    assert control[:-2] == [
        "EXCH02",
        "ews",
        f"https://exch02.contoso.com:{healthy.port}/EWS/Exchange.asmx",
        *["ok"] * 5,
        "-",
    ]
    assert control[-2] in ("364", "365")
    assert control[-1] == "OK"


def _read_tty(args: list[str]) -> str:
    """``args`` run with stdout on a pseudo-terminal, as a user at a console sees it."""
    leader, follower = os.openpty()
    proc = subprocess.Popen(args, stdout=follower, stderr=subprocess.DEVNULL)
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError as exc:  # EIO: the last writer closed the terminal
            if exc.errno != errno.EIO:
                raise
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    proc.wait(timeout=60)
    return b"".join(chunks).decode().replace("\r\n", "\n")


def test_report_on_a_terminal_keeps_its_colour_and_only_its_colour(hostile_lab) -> None:
    path, _ = hostile_lab
    out = _read_tty([sys.executable, "-m", "exporter", "report", "--config.file", str(path)])
    rows = [line for line in out.splitlines() if line.startswith("\x1b[")]
    assert [row[:5] for row in rows] == ["\x1b[31m", "\x1b[31m", "\x1b[32m"], out
    assert all(row.endswith("\x1b[0m") for row in rows)
    # Every ESC on the screen is the table's own: one opening and one closing a row.
    assert out.count("\x1b") == 2 * len(rows), out
    assert "\x07" not in out
    assert "\u202e" not in out
    assert "\\x1b[2J" in out


def test_table_measures_the_escaped_text(hostile_lab, tmp_path) -> None:
    """A server named with an escape (as the directory may name it; the config refuses
    such a name): widths come from the escaped text, so the columns stay aligned, and
    the colour wraps the escaped row."""
    path, _ = hostile_lab
    config = yaml.safe_load(path.read_text())
    snapshot = _renamed(run(path), config["servers"][2]["name"], "EX\x1b[2J02")
    shown = "EX\\x1b[2J02"
    header = render_table(snapshot).splitlines()[0]
    assert header.index("COMPONENT") == len(shown) + 2
    rows = [line for line in render_table(snapshot, colour=True).splitlines() if "\x1b[" in line]
    assert len(rows) == 3
    assert all(row.startswith(("\x1b[31m", "\x1b[32m")) and row.endswith("\x1b[0m") for row in rows)
    inner = [row[5:-4] for row in rows]
    assert "\x1b" not in "".join(inner)
    assert inner[2].startswith(shown + "  ews ")
    assert [row.index("ews") for row in inner] == [len(shown) + 2] * 3


def _renamed(snapshot: Snapshot, old: str, new: str) -> Snapshot:
    """The snapshot with one server renamed, as discovery would have named it."""

    def rename(report: EndpointReport) -> EndpointReport:
        endpoint = report.verdict.probe.endpoint
        if endpoint.server.name != old:
            return report
        endpoint = replace(endpoint, server=replace(endpoint.server, name=new))
        probe = replace(report.verdict.probe, endpoint=endpoint)
        return replace(report, verdict=replace(report.verdict, probe=probe))

    return replace(snapshot, endpoints=tuple(rename(r) for r in snapshot.endpoints))


# -- the escaping itself -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "terminal", "nagios"),
    [
        ("mail.contoso.com", "mail.contoso.com", "mail.contoso.com"),
        (
            "EXCH01\\EWS (Default Web Site)",
            "EXCH01\\EWS (Default Web Site)",
            "EXCH01\\EWS (Default Web Site)",
        ),
        ("Zürich 東京", "Zürich 東京", "Zürich 東京"),
        ("a|b", "a|b", "a¦b"),
        ("a\nb", "a\\x0ab", "a\\x0ab"),
        ("a\r\nb\tc", "a\\x0d\\x0ab\\x09c", "a\\x0d\\x0ab\\x09c"),
        ("\x1b]0;title\x07", "\\x1b]0;title\\x07", "\\x1b]0;title\\x07"),
        ("\x00\x7f\x85\x9b", "\\x00\\x7f\\x85\\x9b", "\\x00\\x7f\\x85\\x9b"),
        ("\u202eevil\u2066\u200f", "\\u202eevil\\u2066\\u200f", "\\u202eevil\\u2066\\u200f"),
        ("a\u2028b\u2029c", "a\\u2028b\\u2029c", "a\\u2028b\\u2029c"),
        ("\udcff", "\\udcff", "\\udcff"),
    ],
)
def test_escaping_table(text: str, terminal: str, nagios: str) -> None:
    assert terminal_safe(text) == terminal
    assert nagios_safe(text) == nagios
    assert len(nagios_safe(text).splitlines()) <= 1


@pytest.mark.parametrize(
    ("label", "quoted"),
    [
        ("EXCH01 ews leaf_days", "'EXCH01 ews leaf_days'"),
        ("EXCH|03 ews time", "'EXCH¦03 ews time'"),
        ("O'Brien ews time", "'O''Brien ews time'"),
        ("a=b ews time", "'a_b ews time'"),
        ("x\ny ews time", "'x\\x0ay ews time'"),
    ],
)
def test_perfdata_labels(label: str, quoted: str) -> None:
    assert perfdata_label(label) == quoted
    (item,) = parse_perfdata(f"{quoted}=1;;;;")
    assert "=" not in item.label
    assert "|" not in item.label


def test_perfdata_parser_rejects_what_nagios_would_misread() -> None:
    """The parser is not vacuous: an injected item, a stray quote or a bare ``=``
    in a label fail it."""
    for bad in ("'a'=1 evil", "'a'=1;2;3;4;5;6", "'a'b'=1", "a=b=1", "'a'=1  'b'=2", "'a'=x"):
        with pytest.raises(AssertionError):
            parse_perfdata(bad)
    with pytest.raises(AssertionError):  # a "|" in the long output
        plugin_output("T OK - fine | 'a'=1\n  fix: Get-X | Set-X\n")
    assert parse_perfdata("'a b'=1.5s;30:;7:;0; c=2") == [
        Perf("a b", 1.5, "s", "30:", "7:"),
        Perf("c", 2.0, "", "", ""),
    ]
