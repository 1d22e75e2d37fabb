"""The probe's TLS client: the SNI it sends, and how pyOpenSSL's errors are named.

The hostile peers in test_faults.py and test_handshakes.py drive these through
real handshakes; here each branch is pinned, including ones no loopback peer
reaches reliably (an errno from the OS, an error queue OpenSSL never fills).
"""

from __future__ import annotations

import errno
import os

import pytest
from hypothesis import given
from hypothesis import strategies as st
from OpenSSL import SSL

from exporter.probe.tls import TlsReason, sni_bytes, tls_failure


@pytest.mark.parametrize("name", ["127.0.0.1", "::1", "fe80::1"])
def test_an_ip_literal_sends_no_sni(name: str) -> None:
    assert sni_bytes(name) is None


def test_a_name_is_sent_as_idna() -> None:
    assert sni_bytes("mail.contoso.com") == b"mail.contoso.com"
    assert sni_bytes("mail.contoso.com.") == b"mail.contoso.com."
    assert sni_bytes("a." * 125 + "com") == b"a." * 125 + b"com"  # 253 characters
    assert sni_bytes("bücher.contoso.com") == b"xn--bcher-kva.contoso.com"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "leading dot"),
        (".contoso.com", "leading dot"),
        ("mail\0.contoso.com", "null"),
        ("a" * 64 + ".contoso.com", "IDNA"),
        ("a." * 126 + "com", "253 characters"),
    ],
)
def test_a_name_no_client_would_send_is_refused(name: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        sni_bytes(name)


@given(st.text(max_size=80))
def test_any_text_gives_bytes_none_or_a_value_error(name: str) -> None:
    try:
        result = sni_bytes(name)
    except ValueError:
        return
    assert result is None or isinstance(result, bytes)


def _queue(*reasons: str) -> SSL.Error:
    return SSL.Error([("SSL routines", "", reason) for reason in reasons])


@pytest.mark.parametrize(
    ("error", "reason", "detail"),
    [
        (_queue("wrong version number"), TlsReason.NOT_TLS, "wrong version number"),
        (_queue("packet length too long"), TlsReason.NOT_TLS, "packet length too long"),
        (_queue("unsupported protocol"), TlsReason.PROTOCOL_VERSION, "unsupported protocol"),
        (
            _queue("tlsv1 alert protocol version"),
            TlsReason.PROTOCOL_VERSION,
            "tlsv1 alert protocol version",
        ),
        (
            _queue("unexpected eof while reading"),
            TlsReason.RESET,
            "the server closed the connection during the TLS handshake",
        ),
        # The first reason that names a class wins over an earlier generic one.
        (
            _queue("sslv3 alert handshake failure", "wrong version number"),
            TlsReason.NOT_TLS,
            "wrong version number",
        ),
        (
            _queue("sslv3 alert handshake failure"),
            TlsReason.HANDSHAKE_FAILED,
            "sslv3 alert handshake failure",
        ),
        (SSL.Error("something odd"), TlsReason.HANDSHAKE_FAILED, "something odd"),
        (SSL.Error([("only", "two")]), TlsReason.HANDSHAKE_FAILED, "[('only', 'two')]"),
        (SSL.Error(), TlsReason.HANDSHAKE_FAILED, "Error"),
        (
            SSL.ZeroReturnError(),
            TlsReason.RESET,
            "the server closed the TLS connection during the handshake",
        ),
        (
            SSL.SysCallError(-1, "Unexpected EOF"),
            TlsReason.RESET,
            "the server closed the connection during the TLS handshake",
        ),
        (
            SSL.SysCallError(errno.ECONNRESET, "ECONNRESET"),
            TlsReason.RESET,
            os.strerror(errno.ECONNRESET),
        ),
        (
            SSL.SysCallError(errno.EHOSTUNREACH, "EHOSTUNREACH"),
            TlsReason.UNREACHABLE,
            os.strerror(errno.EHOSTUNREACH),
        ),
    ],
)
def test_each_failure_has_its_reason(error: SSL.Error, reason: TlsReason, detail: str) -> None:
    assert tls_failure(error) == (reason, detail)
