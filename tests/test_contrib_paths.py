"""The contrib files and the README agree on where the exporter is installed: the
Nagios, Icinga 2 and systemd examples run the one executable the README's Nagios
set-up installs (issue #26: the examples called a path nothing installed)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).parent.parent
VENV = "/opt/exchange-cert-exporter"
EXECUTABLE = f"{VENV}/bin/exchange-cert-exporter"


def _executables(text: str) -> list[str]:
    """Every absolute path to an exchange-cert-exporter executable in ``text``."""
    return re.findall(r"(/[\w./-]*/bin/exchange-cert-exporter)\b", text)


def test_monitoring_and_systemd_examples_run_one_executable() -> None:
    for name, count in [
        ("nagios-command.cfg", 2),
        ("icinga2-command.conf", 1),
        ("exchange-cert-exporter.service", 1),
    ]:
        text = (ROOT / "contrib" / name).read_text()
        assert _executables(text) == [EXECUTABLE] * count, name
        assert "/usr/local/bin" not in text, name


def test_readme_installs_the_executable_the_examples_run() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Nagios and Icinga", 1)[1].split("\n## ", 1)[0]
    assert EXECUTABLE in section
    (install,) = re.findall(r"```sh\n(sudo python3 -m venv .*?)```", section, re.S)
    assert install.splitlines() == [
        f"sudo python3 -m venv {VENV}",
        f"sudo {VENV}/bin/python -m pip install .",
    ]
