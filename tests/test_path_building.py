"""Path building as CryptoAPI does it (issue #27), against real TLS servers: a
server that sends a stale cross-signed intermediate beside the current one, and
critical extensions Windows processes (AKI, SKI, AIA) beside one it does not.
Each case has its control."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding

from exporter.certfacts import parse_chain
from exporter.evaluate.chain import judge_chain
from exporter.evaluate.outcome import Check, Reason, Status
from exporter.lab.pki import CA_KEY_USAGE
from exporter.render.json import endpoint_json
from exporter.truststore import TrustStore
from tests.pki import CA, DAY, NOW, Issued

PRIVATE_OID = x509.ObjectIdentifier("1.3.6.1.4.1.55555.1.1")


def cross_sign(ca: CA, by: CA, *, not_after: dt.datetime = NOW + 365 * DAY) -> x509.Certificate:
    """``ca``'s subject and key, issued by ``by``: the shape a root transition leaves."""
    builder = (
        x509.CertificateBuilder()
        .subject_name(ca.cert.subject)
        .issuer_name(by.cert.subject)
        .public_key(ca.key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - 400 * DAY)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(CA_KEY_USAGE, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca.key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(by.key.public_key()), False
        )
    )
    return builder.sign(by.key, hashes.SHA256())  # type: ignore[arg-type]


@pytest.fixture
def path_judge(judge, tmp_path: Path):
    def run(root: CA, leaf: Issued, send: list[x509.Certificate] | None = None) -> Any:
        root_file = root.write(tmp_path / f"root-{id(root)}.pem")
        return judge(leaf, ca_files=[root_file], send=send, extra={"aia": {"enabled": False}})

    return run


def issuer(report: Any) -> tuple[bool | None, Reason | None]:
    outcome = report.verdict.checks[Check.ISSUER_TRUSTED]
    return outcome.ok, outcome.reason


@pytest.fixture(scope="module")
def transition() -> tuple[CA, CA, CA, x509.Certificate, Issued]:
    """Root (trusted) issues the current intermediate; Old Root (trusted nowhere)
    cross-signed the same intermediate (same subject and key) before."""
    root = CA("Contoso Root R2")
    old_root = CA("Contoso Root R1")
    inter = CA("Contoso Issuing CA", parent=root)
    stale = cross_sign(inter, old_root)
    return root, old_root, inter, stale, inter.issue("mail.contoso.com")


def test_a_stale_cross_sign_sent_first_is_passed_over(path_judge, transition) -> None:
    root, _, inter, stale, leaf = transition
    report = path_judge(root, leaf, send=[stale, inter.cert])
    assert issuer(report) == (True, None)
    assert report.status is Status.OK  # a note, not a warning that pages
    (note,) = report.verdict.notes
    assert note.reason is Reason.UNUSED_CERTIFICATE
    assert "issued by CN=Contoso Root R1" in (note.message or "")
    assert "remove it" in (note.message or "")
    assert endpoint_json(report)["notes"][0]["code"] == "unused_certificate"


def test_the_current_intermediate_first_needs_nothing(path_judge, transition) -> None:
    root, _, inter, stale, leaf = transition
    report = path_judge(root, leaf, send=[inter.cert, stale])
    assert issuer(report) == (True, None)
    assert report.status is Status.OK


def test_only_the_stale_cross_sign_fails(path_judge, transition) -> None:
    root, _, _, stale, leaf = transition
    report = path_judge(root, leaf, send=[stale])
    assert issuer(report)[0] is False
    assert report.verdict.notes == ()


def _leaf(inter: CA, critical: set[type[x509.ExtensionType]]) -> Issued:
    """A leaf whose AKI, SKI and AIA are critical as ``critical`` says."""
    issued = inter.issue("mail.contoso.com")
    builder = (
        x509.CertificateBuilder()
        .subject_name(issued.cert.subject)
        .issuer_name(inter.cert.subject)
        .public_key(issued.key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - DAY)
        .not_valid_after(NOW + 300 * DAY)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("mail.contoso.com")]), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(inter.key.public_key()),
            x509.AuthorityKeyIdentifier in critical,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(issued.key.public_key()),
            x509.SubjectKeyIdentifier in critical,
        )
        .add_extension(
            x509.AuthorityInformationAccess(
                [
                    x509.AccessDescription(
                        x509.AuthorityInformationAccessOID.CA_ISSUERS,
                        x509.UniformResourceIdentifier("http://pki.contoso.com/issuing.crt"),
                    )
                ]
            ),
            x509.AuthorityInformationAccess in critical,
        )
    )
    if x509.UnrecognizedExtension in critical:
        builder = builder.add_extension(x509.UnrecognizedExtension(PRIVATE_OID, b"\x05\x00"), True)
    cert = builder.sign(inter.key, hashes.SHA256())  # type: ignore[arg-type]
    return Issued(cert, issued.key, [cert, *inter.chain])


KNOWN = [x509.AuthorityKeyIdentifier, x509.SubjectKeyIdentifier, x509.AuthorityInformationAccess]


@pytest.mark.parametrize("extension", KNOWN, ids=lambda e: e.__name__)
def test_a_critical_extension_windows_knows_on_the_leaf_passes(path_judge, extension) -> None:
    root = CA("Contoso Root")
    inter = CA("Contoso Issuing CA", parent=root)
    report = path_judge(root, _leaf(inter, {extension}))
    assert issuer(report) == (True, None)


def test_critical_aki_ski_and_aia_on_the_intermediate_pass(path_judge) -> None:
    root = CA("Contoso Root")
    inter = CA("Contoso Issuing CA", parent=root)
    builder = (
        x509.CertificateBuilder()
        .subject_name(inter.cert.subject)
        .issuer_name(root.cert.subject)
        .public_key(inter.key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - 30 * DAY)
        .not_valid_after(NOW + 3000 * DAY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(CA_KEY_USAGE, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(inter.key.public_key()), True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(root.key.public_key()), True
        )
        .add_extension(
            x509.AuthorityInformationAccess(
                [
                    x509.AccessDescription(
                        x509.AuthorityInformationAccessOID.CA_ISSUERS,
                        x509.UniformResourceIdentifier("http://pki.contoso.com/root.crt"),
                    )
                ]
            ),
            True,
        )
    )
    critical_inter = builder.sign(root.key, hashes.SHA256())  # type: ignore[arg-type]
    leaf = inter.issue("mail.contoso.com")
    report = path_judge(root, leaf, send=[critical_inter])
    assert issuer(report) == (True, None)


def test_an_unknown_critical_extension_fails(path_judge) -> None:
    root = CA("Contoso Root")
    inter = CA("Contoso Issuing CA", parent=root)
    report = path_judge(root, _leaf(inter, {x509.UnrecognizedExtension}))
    assert issuer(report) == (False, Reason.INVALID_CHAIN)
    message = report.verdict.checks[Check.ISSUER_TRUSTED].message or ""
    assert "CERT_E_CRITICAL" in message
    assert str(PRIVATE_OID.dotted_string) in message
    # Control: the same certificate without it passes.
    assert issuer(path_judge(root, _leaf(inter, set()))) == (True, None)


def test_fifty_presented_certificates_stay_bounded() -> None:
    """49 intermediates that all claim the leaf's issuer's name, one of them real
    and last: the search is bounded, and still finds it."""
    root = CA("Contoso Root")
    inter = CA("Contoso Issuing CA", parent=root)
    leaf = inter.issue("mail.contoso.com")
    decoys = [cross_sign(inter, CA(f"Decoy Root {n}")) for n in range(48)]
    chain = parse_chain(
        tuple(c.public_bytes(Encoding.DER) for c in [leaf.cert, *decoys, inter.cert])
    )
    store = TrustStore((root.cert,), ())
    start = time.monotonic()
    judged = judge_chain(chain, store, NOW)
    took = time.monotonic() - start
    assert judged.issuer.ok is True
    assert took < 10.0, took  # probe.timeout's default; measured well under a second
