"""The probe's TLS client: the SNI it sends, and how pyOpenSSL's errors are named.

The hostile peers in test_faults.py and test_handshakes.py drive these through
real handshakes; here each branch is pinned, including ones no loopback peer
reaches reliably (an errno from the OS, an error queue OpenSSL never fills).
"""

from __future__ import annotations

import errno
import os
import socket
import struct
import threading
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st
from OpenSSL import SSL

from exporter.probe import tls
from exporter.probe.handshakes import probe_tls
from exporter.probe.results import TlsReason
from exporter.probe.tls import TlsClient, sni_bytes, tls_failure
from tests.peers.hostile import TcpPeer

X25519, SECP256R1, SECP384R1 = 0x001D, 0x0017, 0x0018


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


def _client_hello(address: str, sni: str) -> bytes:
    """The first TLS record the probe sends to a peer that reads it and hangs up."""
    seen: list[bytes] = []
    done = threading.Event()

    def read_hello(conn: socket.socket) -> None:
        data = b""
        while len(data) < 5 or len(data) < 5 + struct.unpack("!H", data[3:5])[0]:
            chunk = conn.recv(65536)
            if not chunk:
                break
            data += chunk
        seen.append(data)
        done.set()
        conn.close()

    peer = TcpPeer(address, read_hello)
    try:
        probe_tls(address, peer.port, sni, 2.0, TlsClient())
        assert done.wait(2)
    finally:
        peer.close()
    return seen[0]


def _extensions(record: bytes) -> dict[int, bytes]:
    """A ClientHello's extensions by type (RFC 8446 section 4.1.2)."""
    body = record[5 + 4 :]  # record header, handshake header
    at = 2 + 32  # legacy_version, random
    at += 1 + body[at]  # legacy_session_id
    at += 2 + struct.unpack("!H", body[at : at + 2])[0]  # cipher_suites
    at += 1 + body[at]  # legacy_compression_methods
    end = at + 2 + struct.unpack("!H", body[at : at + 2])[0]
    at += 2
    found = {}
    while at < end:
        kind, length = struct.unpack("!HH", body[at : at + 4])
        found[kind] = body[at + 4 : at + 4 + length]
        at += 4 + length
    return found


def test_the_client_hello_offers_what_windows_offers() -> None:
    """x25519, P-256 and P-384 (schannel's defaults) and one key share, not
    OpenSSL 3.5's post-quantum hybrid: a ClientHello of a few hundred bytes, as
    Outlook sends, so a middlebox that fails large ones fails us only if it fails
    Outlook."""
    assert TlsClient().windows_groups
    record = _client_hello("127.0.2.7", "mail.contoso.com")
    assert record[0] == 22  # handshake
    assert len(record) < 600, len(record)
    extensions = _extensions(record)
    groups = extensions[0x000A]
    offered = struct.unpack(f"!{len(groups[2:]) // 2}H", groups[2:])
    assert offered == (X25519, SECP256R1, SECP384R1)
    shares = extensions[0x0033]
    assert struct.unpack("!H", shares[2:4])[0] == X25519
    assert len(shares) == 2 + 4 + 32  # one x25519 share only
    assert extensions[0x0000].endswith(b"mail.contoso.com")  # SNI


def test_without_the_groups_call_openssl_defaults_stand(monkeypatch) -> None:
    """A later cryptography without the binding: the client still works, offering
    OpenSSL's default groups (a larger ClientHello), and says so."""
    monkeypatch.setattr(tls, "Binding", SimpleNamespace(lib=SimpleNamespace()))
    client = TlsClient()
    assert not client.windows_groups
    with socket.socket() as sock:
        assert client.wrap(sock, "mail.contoso.com") is not None
