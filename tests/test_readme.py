"""The README's front door stays true: its test command is what .ci/run runs, its
quick start is what scripts/quickstart.py checks, and its run command is loopback-only.
Its reference stays true to the code, with the JSON contract in docs/JSON.md."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text()
JSON_DOC = (ROOT / "docs" / "JSON.md").read_text()


def _blocks_after(heading: str) -> list[str]:
    section = README.split(heading, 1)[1]
    return re.findall(r"```sh\n(.*?)```", section, re.S)


def test_quick_start_is_install_then_demo() -> None:
    from scripts.quickstart import quickstart_commands

    assert quickstart_commands(README) == [
        "python3 -m venv .venv && .venv/bin/python -m pip install .",
        ".venv/bin/exchange-cert-exporter demo",
    ]


def test_test_command_is_what_ci_runs() -> None:
    test_block = _blocks_after("To run the tests")[0].strip()
    assert test_block == "scripts/check"
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert ci[-1] == test_block
    assert "python scripts/quickstart.py" in ci


def test_every_metric_in_the_collector_is_documented() -> None:
    source = (ROOT / "exporter" / "service" / "collector.py").read_text()
    names = set(re.findall(r'"(exchange_[a-z_]+)"', source))
    assert names
    missing = [n for n in sorted(names) if f"`{n}" not in README]
    assert missing == []


def test_every_config_key_is_documented() -> None:
    """Every key the schema reads, derived from its dataclasses (not a hand-kept
    list), has its row in the README's configuration reference."""
    from exporter.config import schema
    from exporter.config.ldap import _KEYS as LDAP_KEYS

    sections = {
        "trust": schema.TrustConfig,
        "dns": schema.DnsConfig,
        "probe": schema.ProbeConfig,
        "thresholds": schema.Thresholds,
        "aia": schema.FetchConfig,
        "revocation": schema.FetchConfig,
    }
    keys = [
        f"{name}.{key}"
        for name, cls in sections.items()
        for key in schema.keys_of(cls, skip=("store",))  # store: built from the others
    ]
    keys += [f"ldap.{key}" for key in LDAP_KEYS]
    keys += ["servers[].addresses", "servers[].external_urls.COMPONENT"]
    missing = [key for key in keys if f"`{key}`" not in README]
    assert missing == []


def test_documented_json_example_has_every_field_the_report_writes() -> None:
    import json as _json

    assert "[docs/JSON.md](docs/JSON.md)" in README.split("### Report JSON", 1)[1]
    example = JSON_DOC.split("# Report JSON", 1)[1].split("```json\n", 1)[1].split("```", 1)[0]
    from exporter.render.json import SCHEMA_VERSION

    documented = _json.loads(re.sub(r'"(\w+)\.\.\."', r'"\1"', example).replace("...", ""))
    assert documented["schema_version"] == SCHEMA_VERSION
    source = (ROOT / "exporter" / "render" / "json.py").read_text()
    written = set(re.findall(r'^\s+"(\w+)":', source, re.M))
    in_example = set(re.findall(r'"(\w+)":', example))
    assert written - in_example == set()


def test_contributing_names_every_debian_package_the_test_command_installs() -> None:
    """The packages scripts/check installs as root, each named where the README
    says what the test command does to a machine."""
    script = (ROOT / "scripts" / "check").read_text()
    listed = re.search(r"^DEBIAN_PACKAGES=\((.*?)\)", script, re.S | re.M)
    assert listed
    packages = listed.group(1).split()
    assert "samba" in packages
    contributing = README.split("\n## Contributing\n", 1)[1].split("\n## ", 1)[0]
    assert "as root" in contributing
    assert "network namespace" in contributing
    assert [p for p in packages if f"`{p}`" not in contributing] == []
