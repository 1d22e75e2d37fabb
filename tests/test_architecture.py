"""docs/ARCHITECTURE.md stays true: every module it names exists, every module of the
package is named in it, and every module says its role in a docstring."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
DOC = (ROOT / "docs" / "ARCHITECTURE.md").read_text()
NAMED = set(re.findall(r"`(exporter/[\w/]+\.py)`", DOC))
MODULES = {str(p.relative_to(ROOT)) for p in (ROOT / "exporter").rglob("*.py")}
EXEMPT = {
    "exporter/__init__.py",
    "exporter/__main__.py",
    "exporter/probe/__init__.py",
    "exporter/service/__init__.py",
    "exporter/lab/__init__.py",
    "exporter/nagios/__init__.py",
    "exporter/evaluate/__init__.py",
    "exporter/render/__init__.py",
    "exporter/config/__init__.py",
    "exporter/pki/__init__.py",
}
MAX_LINES = 300


def test_every_named_module_exists() -> None:
    assert set() == NAMED - MODULES


def test_every_module_is_named() -> None:
    assert set() == MODULES - NAMED - EXEMPT


def test_every_module_has_a_docstring_and_a_sane_size() -> None:
    for name in sorted(MODULES):
        source = (ROOT / name).read_text()
        assert ast.get_docstring(ast.parse(source)), f"{name} has no module docstring"
        lines = source.count("\n")
        doc = ast.get_docstring(ast.parse(source)) or ""
        assert lines <= MAX_LINES or "long because" in doc, f"{name}: {lines} lines"


LAZY = ("ldap3", "pyasn1", "dns.message", "dns.query", "dns.resolver", "exporter.lab")


def test_a_static_report_loads_no_directory_dns_or_lab_code(tmp_path: Path) -> None:
    """A static inventory never pays for ldap3 and pyasn1, dnspython's message and
    resolver modules, or the demo lab (about 9 MB of the peak RSS target)."""
    import subprocess
    import sys

    config = tmp_path / "static.yaml"
    config.write_text(
        "servers:\n"
        "  - name: EXCH01\n"
        "    fqdn: exch01.contoso.local\n"
        "    addresses: [127.0.5.1]\n"
        "    urls: {ews: 'https://127.0.5.1:9/EWS/Exchange.asmx'}\n"
        "dns: {nameservers: ['127.0.0.1:9']}\n"
        "probe: {timeout: 1s}\n"
    )
    script = (
        "import runpy, sys\n"
        f"sys.argv = ['exchange-cert-exporter', 'report', '--config.file', {str(config)!r}]\n"
        "try:\n"
        "    runpy.run_module('exporter', run_name='__main__')\n"
        "except SystemExit as exit:\n"
        "    print('exit', exit.code, file=sys.stderr)\n"
        f"print(sorted(m for m in sys.modules if m.startswith({LAZY!r})))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert "exit 2" in done.stderr, done.stderr  # CRITICAL: connection refused, judged
    assert "EXCH01" in done.stdout
    assert done.stdout.strip().splitlines()[-1] == "[]"


def _imports(name: str) -> set[str]:
    """The modules a module imports directly (at any depth of its body)."""
    return _imports_in((ROOT / name).read_text())


def _imports_in(source: str) -> set[str]:
    tree = ast.parse(source)
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return found


def _under(modules: set[str], *prefixes: str) -> set[str]:
    return {m for m in modules if any(m == p or m.startswith(p + ".") for p in prefixes)}


RENDERERS = sorted(
    n
    for n in MODULES
    if n.startswith("exporter/render/")
    or n in ("exporter/service/collector.py", "exporter/snapshot.py")
    or (n.startswith("exporter/nagios/") and not n.endswith("command.py"))
)
# The probe's typed results are the one part of the probe package the others read.
ENGINE = ("exporter.probe.dns", "exporter.probe.dnsbatch", "exporter.probe.dnswire",
          "exporter.probe.handshakes", "exporter.probe.poller", "exporter.probe.runner",
          "exporter.probe.starttls", "exporter.probe.document", "exporter.probe.jobqueue",
          "exporter.probe.tls")  # fmt: skip
IO = ("socket", "select", "http", "urllib.request", "ldap3", "dns", "subprocess")


@pytest.mark.parametrize("name", RENDERERS)
def test_renderers_read_the_snapshot_not_the_engine(name: str) -> None:
    """render/, the collector, the Nagios output and the snapshot itself import no
    probe engine, no discovery and not the pipeline (nagios/command.py runs the
    pipeline, as cli.py does)."""
    assert _under(_imports(name), *ENGINE, "exporter.discovery", "exporter.pipeline") == set()


@pytest.mark.parametrize("name", sorted(n for n in MODULES if n.startswith("exporter/probe/")))
def test_probe_imports_only_the_model_and_itself(name: str) -> None:
    ours = {m for m in _imports(name) if m.startswith("exporter")}
    assert ours - _under(ours, "exporter.model", "exporter.probe") == set()


@pytest.mark.parametrize("name", sorted(n for n in MODULES if n.startswith("exporter/evaluate/")))
def test_evaluate_imports_no_io(name: str) -> None:
    modules = _imports(name)
    assert _under(modules, *ENGINE, *IO, "exporter.pki", "exporter.discovery") == set()


def test_the_layer_test_catches_a_violation() -> None:
    """The negative control: a renderer that imports the pipeline or the probe
    engine is caught (shown on source text, not by writing into the package)."""
    violation = "from exporter.pipeline import run_cycle\nimport exporter.probe.tls\n"
    found = _under(_imports_in(violation), *ENGINE, "exporter.discovery", "exporter.pipeline")
    assert found == {"exporter.pipeline", "exporter.pipeline.run_cycle", "exporter.probe.tls"}
