"""Faults and hostile input, bounded in time: every probe ends within its timeout,
gets the right reason, leaves its neighbours' verdicts untouched, and memory stays
bounded. Counts of what is tried here are in README.md ("Reliability")."""

from __future__ import annotations

import datetime as dt
import json
import resource
import ssl
import threading
import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from hypothesis import given, settings
from hypothesis import strategies as st

from exporter.certfacts import parse_certificate
from exporter.evaluate.chain import judge_chain
from exporter.evaluate.names import covers, evaluate_name
from exporter.evaluate.outcome import Check, Reason, Status
from exporter.lab.pki import CA, DAY, NOW, Issued
from exporter.lab.tls_server import TlsServer
from exporter.probe.dns import DnsResolver
from exporter.probe.results import DnsReason
from exporter.truststore import TrustStore
from tests.ad_data import organisation
from tests.conftest import LDAP_PASSWORD, lab_config, run, run_exporter
from tests.peers import hostile

PROBE_TIMEOUT = 2.0


def _huge_certificate(ca: CA) -> Issued:
    """A leaf of about 1 MB: one private extension stuffed with bytes."""
    issued = ca.issue("mail.contoso.com")
    builder = (
        x509.CertificateBuilder()
        .subject_name(issued.cert.subject)
        .issuer_name(ca.cert.subject)
        .public_key(issued.key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - DAY)
        .not_valid_after(NOW + 300 * DAY)
        .add_extension(
            x509.UnrecognizedExtension(
                x509.ObjectIdentifier("1.3.6.1.4.1.55555.9.9"), b"\x00" * 1_000_000
            ),
            False,
        )
    )
    cert = builder.sign(ca.key, hashes.SHA256())
    return Issued(cert, issued.key, [cert])


def _tls10_only(context: ssl.SSLContext) -> None:
    context.minimum_version = ssl.TLSVersion.TLSv1
    context.maximum_version = ssl.TLSVersion.TLSv1
    context.set_ciphers("DEFAULT:@SECLEVEL=0")


def test_hostile_tls_peers_in_one_cycle(
    tmp_path, make_dns, write_config, root_file, root_ca: CA, issuing_ca: CA
) -> None:
    started: list = []

    def tls(address: str, issued: Issued, tweak=None) -> int:
        server = TlsServer(address, issued.write(tmp_path, address), tweak=tweak)
        started.append(server)
        return server.port

    def raw(address: str, behaviour) -> int:
        peer = hostile.TcpPeer(address, behaviour)
        started.append(peer)
        return peer.port

    deep = root_ca
    for i in range(50):
        deep = CA(f"Deep {i}", parent=deep)
    try:
        ports = {
            "healthy": ("127.0.8.1", tls("127.0.8.1", issuing_ca.issue("mail.contoso.com"))),
            "silent": ("127.0.8.2", raw("127.0.8.2", hostile.silent)),
            "trickle": ("127.0.8.3", raw("127.0.8.3", hostile.trickle)),
            "garbage": ("127.0.8.4", raw("127.0.8.4", hostile.garbage)),
            "reset": ("127.0.8.5", raw("127.0.8.5", hostile.reset)),
            "tls10": (
                "127.0.8.6",
                tls("127.0.8.6", issuing_ca.issue("mail.contoso.com"), _tls10_only),
            ),
            "chain50": ("127.0.8.7", tls("127.0.8.7", deep.issue("mail.contoso.com"))),
            "sans5000": (
                "127.0.8.8",
                tls(
                    "127.0.8.8",
                    issuing_ca.issue(*[f"h{i}.c.com" for i in range(5000)], "mail.contoso.com"),
                ),
            ),
            "huge": ("127.0.8.9", tls("127.0.8.9", _huge_certificate(issuing_ca))),
        }
        dns = make_dns({"mail.contoso.com": ["127.0.8.1"]})
        servers = [
            {
                "name": name.upper(),
                "fqdn": "mail.contoso.com",
                "addresses": [address],
                "urls": {"ews": f"https://mail.contoso.com:{port}/EWS"},
            }
            for name, (address, port) in ports.items()
        ]
        config = lab_config(servers, dns, [root_file])
        config["probe"] = {"interval": "1m", "timeout": f"{PROBE_TIMEOUT:g}s", "concurrency": 16}
        path = write_config(config)
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        start = time.monotonic()
        snapshot = run(path)
        elapsed = time.monotonic() - start
        rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    finally:
        for item in started:
            item.close()
    assert elapsed < PROBE_TIMEOUT + 3, elapsed
    by = {r.verdict.probe.endpoint.server.name.lower(): r.verdict for r in snapshot.endpoints}
    probe = {name: v.checks[Check.PROBE_OK].reason for name, v in by.items()}
    assert probe == {
        "healthy": None,
        "silent": Reason.TIMEOUT,
        "trickle": Reason.TIMEOUT,
        "garbage": Reason.NOT_TLS,
        "reset": Reason.CONNECTION_RESET,
        "tls10": Reason.PROTOCOL_VERSION,
        "chain50": None,
        "sans5000": None,
        "huge": Reason.HANDSHAKE_FAILED,
    }
    for name, verdict in by.items():
        assert verdict.probe.duration < PROBE_TIMEOUT + 1.5, (name, verdict.probe.duration)
    assert by["healthy"].status is Status.OK
    assert by["chain50"].checks[Check.ISSUER_TRUSTED].reason is Reason.INVALID_CHAIN
    assert len(by["chain50"].chain) == 51
    assert by["sans5000"].checks[Check.NAME_MATCH].ok is True
    assert by["sans5000"].checks[Check.ISSUER_TRUSTED].ok is True
    assert "excessive message size" in (by["huge"].checks[Check.PROBE_OK].message or "")
    # Memory stays bounded (ru_maxrss is in KiB on Linux).
    assert (rss_after - rss_before) / 1024 < 100


@pytest.mark.parametrize("mode", ["servfail", "truncated"])
def test_dns_faults_are_errors_not_crashes(mode: str) -> None:
    bad = hostile.BadDns(mode)
    try:
        resolver = DnsResolver((("127.0.0.1", bad.port),), 1.0)
        start = time.monotonic()
        answer = resolver.lookup("mail.contoso.com")
        assert time.monotonic() - start < 3
        assert answer.reason in (DnsReason.ERROR, DnsReason.TIMEOUT)
        assert answer.detail
    finally:
        bad.close()


def test_dns_servfail_in_a_cycle(make_tls, write_config, root_file, issuing_ca: CA) -> None:
    bad = hostile.BadDns("servfail")
    try:
        tls = make_tls("127.0.8.20", issuing_ca.issue("mail.contoso.com"))
        config = {
            "servers": [
                {
                    "name": "EXCH01",
                    "fqdn": "exch01.contoso.local",
                    "addresses": ["127.0.8.20"],
                    "urls": {"ews": f"https://mail.contoso.com:{tls.port}/EWS"},
                }
            ],
            "trust": {"ca_files": [str(root_file)], "system": False},
            "dns": {"nameservers": [f"127.0.0.1:{bad.port}"], "timeout": "1s"},
            "probe": {"interval": "1m", "timeout": "2s"},
        }
        (report,) = run(write_config(config)).endpoints
        assert report.verdict.checks[Check.DNS_MATCH].reason is Reason.DNS_ERROR
        assert report.verdict.checks[Check.NAME_MATCH].ok is True  # still judged
    finally:
        bad.close()


def test_directory_stopped_mid_search(make_slapd, tmp_path, password_file, ldap_tls_files) -> None:
    from exporter.config import load_config_text
    from exporter.discovery.sources import Discoverer
    from tests.peers.slapd import BIND_DN

    slapd = make_slapd(organisation())
    text = json.dumps(
        {
            "ldap": {
                "url": slapd.ldaps_url,
                "bind_dn": BIND_DN,
                "bind_password_file": str(password_file),
                "ca_file": str(ldap_tls_files["ca"]),
                "timeout": "2s",
                "page_size": 1,
            },
            "trust": {"ca_files": [str(ldap_tls_files["ca"])], "system": False},
        }
    )
    config = load_config_text(text, "mid-search.yaml")
    killer = threading.Timer(0.3, slapd.process.kill)
    killer.start()
    start = time.monotonic()
    inventory = Discoverer(config).discover(time.time())
    killer.join()
    (status,) = inventory.statuses
    assert not status.success
    assert status.reason in ("unreachable", "search_failed", "timeout")
    assert time.monotonic() - start < 5
    assert LDAP_PASSWORD not in (status.error or "")


def test_canary_password_never_appears_anywhere(
    make_slapd, tmp_path, password_file, ldap_tls_files, start_exporter, write_config
) -> None:
    """The bind password is a canary: grep every output the product has."""
    from tests.peers.slapd import BIND_DN

    slapd = make_slapd(organisation(bulk=0))
    wrong = tmp_path / "wrong"
    wrong.write_text(LDAP_PASSWORD[::-1])  # the directory refuses it: error paths run too
    outputs: list[str] = []
    for pw in (password_file, wrong):
        path = write_config(
            {
                "ldap": {
                    "url": slapd.ldaps_url,
                    "bind_dn": BIND_DN,
                    "bind_password_file": str(pw),
                    "ca_file": str(ldap_tls_files["ca"]),
                    "timeout": "2s",
                    "servers": ["EXCH16"],
                },
                "trust": {"ca_files": [str(ldap_tls_files["ca"])], "system": False},
                "probe": {"interval": "3s", "timeout": "1s"},
            }
        )
        exporter = start_exporter(path, "--log.level", "debug")
        for endpoint in ("/", "/metrics", "/api/v1/status"):
            outputs.append(exporter.get(endpoint)[1])
        exporter.terminate()
        outputs.append(exporter.logs())
        for args in (
            ["report", "--format", "json"],
            ["report"],
            ["report", "--format", "powershell"],
            ["check", "-vv"],
        ):
            result = run_exporter(*args, "--config.file", str(path))
            outputs.extend([result.stdout, result.stderr])
    joined = "\n".join(outputs)
    assert "invalid_credentials" in joined  # the wrong password's failure was rendered
    assert "EXCH16" in joined  # and the right one's inventory
    for secret in (LDAP_PASSWORD, LDAP_PASSWORD[::-1]):
        assert secret not in joined


# --- Fuzzing: the certificate-facts parser and the checks over what it returns ----

_DER = (
    CA("Fuzz Root")
    .issue("mail.contoso.com", "*.contoso.local", ips=("10.0.0.5",))
    .cert.public_bytes(Encoding.DER)
)
_STORE = TrustStore((), ())
FUZZ = settings(
    max_examples=int(__import__("os").environ.get("FUZZ_EXAMPLES", "300")), deadline=None
)


@FUZZ
@given(st.lists(st.tuples(st.integers(0, len(_DER) - 1), st.integers(0, 255)), max_size=8))
def test_mutated_certificates_never_raise(mutations: list[tuple[int, int]]) -> None:
    data = bytearray(_DER)
    for index, value in mutations:
        data[index] = value
    facts = parse_certificate(bytes(data))
    if facts is None:
        return
    outcome = evaluate_name(facts, "mail.contoso.com")
    # The verdict follows the names the mutated certificate still carries: a match
    # only when one of them covers the host, otherwise a mismatch that says so.
    assert outcome.ok is covers(facts, "mail.contoso.com")
    if outcome.ok is False:
        assert outcome.reason is Reason.NAME_MISMATCH
        assert outcome.message
    assert judge_chain((facts,), _STORE, dt.datetime.now(dt.UTC)).issuer.ok is False
    # No false match: a host that no certificate name spells can never match.
    assert not covers(facts, "unrelated.fabrikam.test")


@FUZZ
@given(st.binary(max_size=2048))
def test_arbitrary_bytes_are_not_certificates(data: bytes) -> None:
    assert parse_certificate(data) is None or isinstance(parse_certificate(data).names, tuple)


def test_fuzz_corpus_path_is_documented() -> None:
    assert "FUZZ_EXAMPLES" in (Path(__file__).parent.parent / "README.md").read_text()
