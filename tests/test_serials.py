"""Serials print as Windows and Get-ExchangeCertificate show them: the certificate's
own bytes, whole (even length), a leading 00 where the high bit is set."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from exporter.certfacts import parse_certificate, serial_hex
from exporter.lab.certbits import negate_serial
from tests.pki import CA


@pytest.mark.parametrize(
    ("serial", "text"),
    [
        (0, "00"),
        (1, "01"),
        (0x7F, "7F"),
        (0x80, "0080"),
        (0x0A1B, "0A1B"),
        (0xFF00, "00FF00"),
        (-1, "FF"),
        (-129, "FF7F"),
    ],
)
def test_serial_hex(serial: int, text: str) -> None:
    assert serial_hex(serial) == text


def test_serial_is_the_certificates_own_bytes() -> None:
    ca = CA("Serial CA")
    for cert in (ca.issue("a.contoso.com").cert, negate_serial(ca.issue("b").cert, ca.key)):
        der = cert.public_bytes(Encoding.DER)
        facts = parse_certificate(der)
        assert facts is not None
        assert len(facts.serial) % 2 == 0
        # The DER INTEGER's content: tag 02, its length, then exactly these bytes.
        content = bytes.fromhex(facts.serial)
        assert bytes([0x02, len(content)]) + content in der
