"""SMTP, IMAP and POP3: the probe speaks each protocol up to STARTTLS (or starts TLS
at once on the implicit-TLS ports) against real servers on loopback (aiosmtpd,
Debian's dovecot), and each certificate is judged like an HTTPS one."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from exporter.evaluate.outcome import Check, Reason, Status
from exporter.probe.results import TlsReason
from exporter.probe.starttls import MAX_REPLY, Dialogue
from exporter.remediation import StepKind
from tests.conftest import lab_config, run
from tests.peers import hostile
from tests.peers.mail import Dovecot, Smtp
from tests.pki import CA

ADDRESS = "127.0.1.25"
HOST = "mail.contoso.com"


@pytest.fixture
def mail_lab(
    make_dns: Any, write_config: Any, root_file: Path, tmp_path: Path
) -> Iterator[Callable[..., Any]]:
    """Run one cycle over ``urls`` (component -> URL) for server EXCH01 at ADDRESS."""
    dns = make_dns({HOST: [ADDRESS], "exch01.contoso.local": [ADDRESS]})

    def cycle(
        urls: dict[str, str], servers_extra: dict[str, Any] | None = None, **extra: Any
    ) -> dict[str, Any]:
        entry = {"name": "EXCH01", "fqdn": "exch01.contoso.local", "urls": urls}
        entry.update(servers_extra or {})
        config = lab_config([entry], dns, [root_file], **extra)
        snapshot = run(write_config(config))
        return {r.verdict.probe.endpoint.component.value: r for r in snapshot.endpoints}

    return cycle


@pytest.fixture
def mail_cert(issuing_ca: CA, tmp_path: Path) -> Callable[[list[str]], tuple[Path, Path]]:
    counter = iter(range(100))

    def issue(names: list[str]) -> tuple[Path, Path]:
        return issuing_ca.issue(*names).write(tmp_path, f"mail{next(counter)}")

    return issue


def test_smtp_starttls_and_submission_are_judged_like_https(mail_lab, mail_cert) -> None:
    cert, key = mail_cert([HOST])
    wrong, wrong_key = mail_cert(["exch01.contoso.local"])
    good = Smtp(ADDRESS, cert, key)
    bad = Smtp(ADDRESS, wrong, wrong_key)  # the negative control: the old certificate
    try:
        # The submission URL names the same host; its server still has the old one.
        reports = mail_lab(
            {
                "smtp": f"smtp://{HOST}:{good.port}",
                "smtp_submission": f"smtp://{HOST}:{bad.port}",
            }
        )
    finally:
        good.stop()
        bad.stop()
    smtp = reports["smtp"].verdict
    assert smtp.status is Status.OK, smtp.checks
    assert smtp.probe.tls.reason is TlsReason.OK
    assert smtp.leaf.names == (HOST,)
    submission = reports["smtp_submission"].verdict
    assert submission.checks[Check.NAME_MATCH].ok is False
    assert submission.checks[Check.NAME_MATCH].reason is Reason.NAME_MISMATCH
    assert submission.status is Status.CRITICAL


def test_imap_and_pop_over_starttls_and_implicit_tls(mail_lab, mail_cert, tmp_path) -> None:
    cert, key = mail_cert([HOST])
    dovecot = Dovecot(tmp_path / "dovecot", ADDRESS, cert, key)
    try:
        ports = dovecot.ports
        starttls = mail_lab(
            {"imap": f"imap://{HOST}:{ports['imap']}", "pop": f"pop3://{HOST}:{ports['pop3']}"}
        )
        implicit = mail_lab(
            {"imap": f"imaps://{HOST}:{ports['imaps']}", "pop": f"pop3s://{HOST}:{ports['pop3s']}"}
        )
    finally:
        dovecot.stop()
    for reports in (starttls, implicit):
        for component in ("imap", "pop"):
            verdict = reports[component].verdict
            assert verdict.probe.tls.reason is TlsReason.OK, verdict.probe.tls
            assert verdict.checks[Check.NAME_MATCH].ok is True
            assert verdict.status is Status.OK


def test_a_server_without_starttls_or_that_refuses_it_fails_the_probe(mail_lab, mail_cert) -> None:
    plain = Smtp(ADDRESS, None, None)  # aiosmtpd without a certificate offers no STARTTLS
    refusing = hostile.TcpPeer(ADDRESS, hostile.smtp_refuses_starttls)
    busy = hostile.TcpPeer(ADDRESS, hostile.smtp_busy)
    try:
        first = mail_lab(
            {
                "smtp": f"smtp://{HOST}:{plain.port}",
                "smtp_submission": f"smtp://{HOST}:{refusing.port}",
            }
        )
        second = mail_lab({"smtp": f"smtp://{HOST}:{busy.port}"})
    finally:
        plain.stop()
        refusing.close()
        busy.close()
    cases = [
        (first["smtp"], Reason.NO_STARTTLS, "does not offer STARTTLS"),
        (first["smtp_submission"], Reason.STARTTLS_REFUSED, "454 4.7.0"),
        (second["smtp"], Reason.BAD_GREETING, "554 5.3.2"),
    ]
    for report, reason, text in cases:
        probe_ok = report.verdict.checks[Check.PROBE_OK]
        assert probe_ok.ok is False
        assert probe_ok.reason is reason
        assert text in (probe_ok.message or "")
        assert report.verdict.status is Status.CRITICAL


def test_a_server_that_greets_and_stalls_costs_one_timeout(mail_lab) -> None:
    stalling = hostile.TcpPeer(ADDRESS, hostile.smtp_greets_and_stalls)
    try:
        start = time.monotonic()
        reports = mail_lab(
            {"smtp": f"smtp://{HOST}:{stalling.port}"},
            probe={"interval": "1m", "timeout": "1s", "concurrency": 4},
        )
        took = time.monotonic() - start
    finally:
        stalling.close()
    probe_ok = reports["smtp"].verdict.checks[Check.PROBE_OK]
    assert probe_ok.reason is Reason.TIMEOUT
    assert "the SMTP EHLO reply did not come within 1s" in (probe_ok.message or "")
    assert reports["smtp"].verdict.probe.tls.duration < 3  # the poller's one deadline
    assert took < 20


@pytest.mark.parametrize(
    ("protocol", "server", "reason"),
    [
        ("smtp", [b"220 hi\r\n", b"250-x\r\n250 SIZE 1\r\n"], TlsReason.NO_STARTTLS),
        ("smtp", [b"hello\r\n"], TlsReason.BAD_GREETING),
        ("smtp", [b"220 hi\r\n", b"500 what\r\n"], TlsReason.PROTOCOL_ERROR),
        ("imap", [b"* BYE go away\r\n"], TlsReason.BAD_GREETING),
        ("imap", [b"* OK hi\r\n", b"* CAPABILITY IMAP4rev1\r\na1 OK\r\n"], TlsReason.NO_STARTTLS),
        (
            "imap",
            [b"* OK hi\r\n", b"* CAPABILITY IMAP4rev1 STARTTLS\r\na1 OK\r\n", b"a2 NO\r\n"],
            TlsReason.STARTTLS_REFUSED,
        ),
        ("pop3", [b"-ERR no\r\n"], TlsReason.BAD_GREETING),
        ("pop3", [b"+OK hi\r\n", b"+OK\r\nUSER\r\n.\r\n"], TlsReason.NO_STARTTLS),
        ("pop3", [b"+OK hi\r\n", b"-ERR\r\n", b"-ERR no\r\n"], TlsReason.STARTTLS_REFUSED),
        ("pop3", [b"+OK hi\r\n", b""], TlsReason.RESET),
    ],
)
def test_dialogue_failures_are_reasons(
    protocol: str, server: list[bytes], reason: TlsReason
) -> None:
    dialogue = Dialogue(protocol)
    step = None
    for data in server:
        step = dialogue.receive(data)
    assert step is not None
    assert step.failure is not None
    assert step.failure[0] is reason


@pytest.mark.parametrize(
    ("protocol", "server", "sent"),
    [
        (
            "smtp",
            [b"220-multi\r\n220 line\r\n", b"250-x\r\n250-STARTTLS\r\n250 SIZE\r\n", b"220 go\r\n"],
            [b"EHLO [127.0.0.1]\r\n", b"STARTTLS\r\n"],
        ),
        (
            "imap",
            [
                b"* OK [CAPABILITY IMAP4rev1] hi\r\n",
                b"* CAPABILITY STARTTLS\r\na1 OK\r\n",
                b"a2 OK\r\n",
            ],
            [b"a1 CAPABILITY\r\n", b"a2 STARTTLS\r\n"],
        ),
        (
            "pop3",
            [b"+OK hi\r\n", b"+OK\r\nSTLS\r\nUSER\r\n.\r\n", b"+OK go\r\n"],
            [b"CAPA\r\n", b"STLS\r\n"],
        ),
        ("pop3", [b"+OK hi\r\n", b"-ERR unknown\r\n", b"+OK go\r\n"], [b"CAPA\r\n", b"STLS\r\n"]),
    ],
)
def test_dialogue_reaches_tls(protocol: str, server: list[bytes], sent: list[bytes]) -> None:
    dialogue = Dialogue(protocol)
    out = []
    step = None
    for data in server:
        # A reply may arrive a byte at a time: the dialogue waits for whole lines.
        for byte in data[:-1]:
            assert dialogue.receive(bytes([byte])).send == b""
        step = dialogue.receive(data[-1:])
        if step.send:
            out.append(step.send)
    assert step is not None
    assert step.ready
    assert out == sent


def test_dialogue_bounds_what_it_keeps() -> None:
    dialogue = Dialogue("smtp")
    step = dialogue.receive(b"220" + b"x" * (MAX_REPLY + 1))
    assert step.failure is not None
    assert step.failure[0] is TlsReason.PROTOCOL_ERROR


def test_mail_fixes_command_by_command(mail_lab, mail_cert, tmp_path) -> None:
    """The old certificate on SMTP (a connector that names it) and on IMAP."""
    old, old_key = mail_cert(["exch01.contoso.local"])
    smtp = Smtp(ADDRESS, old, old_key)
    dovecot = Dovecot(tmp_path / "dovecot", ADDRESS, old, old_key)
    named = "<I>CN=Contoso Issuing CA<S>CN=exch01.contoso.local"
    try:
        reports = mail_lab(
            {
                "smtp": f"smtp://{HOST}:{smtp.port}",
                "imap": f"imaps://{HOST}:{dovecot.ports['imaps']}",
            },
            servers_extra={"tls_certificate_names": {"smtp": named}},
        )
    finally:
        smtp.stop()
        dovecot.stop()
    thumb = reports["smtp"].verdict.leaf.thumbprint
    assert reports["smtp"].remediation.suggested_url is None  # clients keep their name
    enable, connector = reports["smtp"].remediation.steps
    assert enable.kind is StepKind.ADVICE
    assert enable.text == (
        f"The SMTP certificate on EXCH01 ({thumb}) does not name {HOST}: find or request one "
        "that does (Get-ExchangeCertificate -Server 'EXCH01'), then Enable-ExchangeCertificate "
        "-Server 'EXCH01' -Thumbprint <new thumbprint> -Services 'SMTP'"
    )
    assert connector.kind is StepKind.ADVICE
    assert (
        f"The receive connector EXCH01\\Default Frontend EXCH01 names its certificate ({named})"
        in connector.text
    )
    assert (
        "Set-ReceiveConnector -Identity 'EXCH01\\Default Frontend EXCH01' -TlsCertificateName "
        "('<I>' + $c.Issuer + '<S>' + $c.Subject)"
    ) in connector.text
    assert 'send connector "Outbound to Office 365"' in connector.text
    # No certificate to bind: which one is the admin's choice, so every step is
    # advice, the commands after the Enable written out in it.
    enable, pick = reports["imap"].remediation.steps
    assert "-Services 'IMAP'" in enable.text
    assert pick.kind is StepKind.ADVICE
    assert f"Set-ImapSettings -Server 'EXCH01' -X509CertificateName '{HOST}'" in pick.text
    assert (
        "Invoke-Command -ComputerName 'exch01.contoso.local' -ScriptBlock "
        "{ Restart-Service -Name 'MSExchangeIMAP4','MSExchangeIMAP4BE' }"
    ) in pick.text
