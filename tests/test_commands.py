"""Commands as data: no value from the config, the directory or a certificate changes
what a generated command does (issue #23). Each value that reaches a command is
fuzzed over all of Unicode (control characters, every quote PowerShell recognises,
``$()``, ``;``, ``#``, backticks, newlines); the rendered line is read back by
PowerShell's own tokenizing rules (tests/powershell_tokens.py) and every argument
must decode to the original value, with nothing ending it early."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from exporter.model import Component, Endpoint, ExchangeVersion, Server
from exporter.remediation.chain import enable_command
from exporter.remediation.command import (
    Host,
    Text,
    Thumbprint,
    Url,
    literal,
    problems,
    render,
)
from exporter.remediation.kb940726 import recycle_autodiscover_command, set_url_command
from exporter.remediation.steps import StepKind, run
from exporter.remediation.surfaces import certificate_name_steps, connector_step
from tests.powershell_tokens import arguments, decode, tokenize

HOSTILE = [
    "EWS\u201c;Invoke-Something #(Default Web Site)",
    "x';Invoke-Something;'",
    "x\u2019;Invoke-Something;\u2018",
    "$(Invoke-Something)",
    "a`b",
    "line\nInvoke-Something",
    'x" ; Invoke-Something ; "',
    "exch02.contoso.local;Invoke-Something",
    "\u201e\u201d\u201c'\u2018\u2019\u201a\u201b",
    "",
]
values = st.text(
    alphabet=st.one_of(
        st.characters(codec="utf-8"),
        st.sampled_from(list("'\"`$;#|&(){}@\n\r\t\u2018\u2019\u201a\u201b\u201c\u201d\u201e")),
    ),
    max_size=40,
)


@given(values)
@example("'")
@example("\u2019\u2019\u2019")
@example("EWS\u00d2;Invoke-Something;#")
@example("x\U0001f600\ud800")
def test_literal_decodes_to_the_value(value: str) -> None:
    text = literal(value)
    assert text.isascii()
    assert decode(tokenize(text)) == [("str", value)]
    # Windows PowerShell reads a file without a byte-order mark in its ANSI code page:
    # ASCII reads the same in every one.
    assert text.encode("ascii").decode("cp1252") == text


@given(server=values, identity=values, url=values, fqdn=values)
@settings(max_examples=300)
def test_every_argument_decodes_to_its_value(
    server: str, identity: str, url: str, fqdn: str
) -> None:
    for component in (Component.EWS, Component.AUTODISCOVER, Component.OUTLOOK_ANYWHERE):
        command = set_url_command(server, component, ExchangeVersion.E2016, url, identity)
        cmdlet, params = arguments(render(command))
        assert cmdlet == command.cmdlet
        default = "Rpc" if component is Component.OUTLOOK_ANYWHERE else "EWS"
        vdir = identity or f"{default} (Default Web Site)"
        expected_identity = server if component is Component.AUTODISCOVER else f"{server}\\{vdir}"
        assert params["Identity"] == ("str", expected_identity)
        value_param = "InternalHostname" if component is Component.OUTLOOK_ANYWHERE else None
        value_param = value_param or (
            "AutodiscoverServiceInternalUri"
            if component is Component.AUTODISCOVER
            else "InternalUrl"
        )
        decoded = params[value_param]
        assert decoded is not None
        assert decoded[0] == "str"
    recycle = render(recycle_autodiscover_command(fqdn))
    tokens = decode(tokenize(recycle))
    assert tokens[:3] == [("word", "Invoke-Command"), ("param", "ComputerName"), ("str", fqdn)]
    assert tokens[3:5] == [("param", "ScriptBlock"), ("op", "{")]
    assert tokens[-1] == ("op", "}")
    enable = render(enable_command(server, Thumbprint(identity), "IIS"))
    assert arguments(enable)[1] == {
        "Server": ("str", server),
        "Thumbprint": ("str", identity),
        "Services": ("str", "IIS"),
    }


@pytest.mark.parametrize("value", [v for v in HOSTILE if v])
def test_hostile_directory_values_stay_one_argument(value: str) -> None:
    command = set_url_command("EXCH01", Component.EWS, None, "https://mail.contoso.com/EWS", value)
    _, params = arguments(render(command))
    assert params["Identity"] == ("str", f"EXCH01\\{value}")
    assert "dq" not in {kind for kind, _ in tokenize(render(command))}
    assert render(command).isascii()


@pytest.mark.parametrize(
    ("argument", "problem"),
    [
        (Host("exch02.contoso.local;Invoke-Something"), "is not a valid DNS name"),
        (Host("mail.contoso.com\n"), "is not a valid DNS name"),
        (Host("$(x).contoso.com"), "is not a valid DNS name"),
        (Url("https://mail.contoso.com\n/EWS"), "control characters"),
        (Url("https://mail fabrikam.test/OAB"), "white space"),
        (Url("ftp://mail.contoso.com/"), "not an http(s) URL"),
        (Url("https://-bad-.contoso.com/"), "is not a valid DNS name"),
        (Text("EWS\x1b]0;x\x07 (Default Web Site)"), "control characters"),
        (Thumbprint("not-a-thumbprint"), "is not a thumbprint"),
    ],
)
def test_invalid_values_are_problems(argument: Text, problem: str) -> None:
    assert problem in (argument.problem() or "")


@pytest.mark.parametrize(
    "argument",
    [
        Host("mail.contoso.com"),
        Host("xn--bcher-kva.example"),
        Url("https://mail.contoso.com:8443/EWS/Exchange.asmx"),
        Url("https://[fd00::1]/OAB"),
        Text("EXCH01\\EWS (Default Web Site)"),
        Thumbprint("A" * 40),
    ],
)
def test_valid_values_are_not(argument: Text) -> None:
    assert argument.problem() is None


def test_a_step_with_an_invalid_value_is_advice_saying_why() -> None:
    step = run(
        StepKind.IIS,
        (recycle_autodiscover_command("exch02.contoso.local;Invoke-Something"),),
        "recycle",
    )
    assert step.kind is StepKind.ADVICE
    assert step.script is None
    assert step.text.startswith("Not written as a command (the server's FQDN")
    assert "is not a valid DNS name" in step.text
    # Control: the same step with a valid name runs.
    good = run(StepKind.IIS, (recycle_autodiscover_command("exch02.contoso.local"),), "recycle")
    assert good.kind is StepKind.IIS
    assert good.runs == good.text


def test_mail_steps_quote_the_host_and_the_computer_name() -> None:
    server = Server("EXCH01", "exch01.contoso.local;Invoke-Something", ("10.0.0.1",))
    endpoint = Endpoint.build(server, Component.IMAP, "imaps://imap.contoso.com")
    steps = certificate_name_steps(endpoint, "imap.contoso.com", ())
    assert steps[0].kind is StepKind.COMMAND
    assert arguments(steps[0].text)[1]["X509CertificateName"] == ("str", "imap.contoso.com")
    # The restart names the computer by its FQDN, which is not a DNS name: advice.
    assert steps[1].kind is StepKind.ADVICE
    assert "Invoke-Something" not in (steps[1].script or ())


def test_a_connector_name_never_leaves_its_literal() -> None:
    server = Server("EXCH01", "exch01.contoso.local", ("10.0.0.1",))
    endpoint = Endpoint.build(
        server,
        Component.SMTP,
        "smtp://mail.contoso.com",
        identity="EXCH01\\Default\u2019; Invoke-Something; \u2018",
        tls_certificate_name="<I>CN=CA<S>CN=mail",
    )
    step = connector_step(endpoint)
    assert step.kind is StepKind.ADVICE
    line = re.search(r"Set-ReceiveConnector .*?\)", step.text)
    assert line is not None
    assert decode(tokenize(line.group(0)))[2] == (
        "str",
        "EXCH01\\Default\u2019; Invoke-Something; \u2018",
    )


def test_problems_of_a_command_name_each_bad_value() -> None:
    command = set_url_command("EXCH01\n", Component.EWS, None, "https://bad host/EWS")
    found = list(problems(command))
    assert any("control characters" in p for p in found)
    assert any("white space" in p for p in found)


# ----- no module outside the renderer writes command text ------------------------

ROOT = Path(__file__).parent.parent / "exporter"
# A cmdlet followed by a parameter: command text, wherever it is built.
_COMMAND_TEXT = re.compile(r"\b[A-Z][a-z]+-[A-Z][A-Za-z0-9]+ +-[A-Za-z]")


def _strings(tree: ast.AST) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            found.append((node.lineno, node.value))
    return found


def test_no_module_outside_the_renderer_writes_command_text() -> None:
    """Every string constant (f-string parts included) of the package, docstrings
    aside: none may hold a cmdlet with a parameter, except remediation/command.py."""
    offenders = []
    for path in sorted(ROOT.rglob("*.py")):
        relative = path.relative_to(ROOT.parent).as_posix()
        if relative == "exporter/remediation/command.py":
            continue
        tree = ast.parse(path.read_text())
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef)
            and node.body
            and isinstance(node.body[0], ast.Expr)
            and isinstance(node.body[0].value, ast.Constant)
        }
        for node in ast.walk(tree):
            if id(node) in docstrings or not isinstance(node, ast.Constant):
                continue
            if isinstance(node.value, str) and _COMMAND_TEXT.search(node.value):
                offenders.append(f"{relative}:{node.lineno}: {node.value[:60]!r}")
    assert offenders == []


def test_the_guard_against_command_text_can_fail() -> None:
    """A negative control: the pattern finds what the old code wrote."""
    assert _COMMAND_TEXT.search("Enable-ExchangeCertificate -Server EXCH01")
    assert _COMMAND_TEXT.search(f"Set-ImapSettings -Server {'x'}")
    assert not _COMMAND_TEXT.search("with Set-ClientAccessServer (KB 940726)")
