"""The name check: Windows SChannel rules (KB 258858) and RFC 2818/6125, table-driven,
plus properties over generated names."""

from __future__ import annotations

import pytest
from cryptography import x509
from hypothesis import given
from hypothesis import strategies as st

from exporter.certfacts import parse_certificate
from exporter.evaluate.names import covers, evaluate_name, hostname_matches
from exporter.evaluate.outcome import Reason
from tests.pki import CA

MATCHES = [
    ("mail.contoso.com", "mail.contoso.com"),
    ("MAIL.Contoso.COM", "mail.contoso.com"),
    ("mail.contoso.com", "MAIL.CONTOSO.COM"),
    ("mail.contoso.com.", "mail.contoso.com"),
    ("mail.contoso.com", "mail.contoso.com."),
    ("www.example.com", "*.example.com"),
    ("www.example.com", "w*.example.com"),  # KB 258858: prefix forms match
    ("www.example.com", "ww*.example.com"),
    ("exch01.contoso.local", "*.contoso.local"),
    ("a.b.contoso.com", "*.b.contoso.com"),
]

MISMATCHES = [
    ("exch01.contoso.local", "mail.contoso.com"),
    ("mail.contoso.com", "mail.contoso.co"),
    ("example.com", "*.example.com"),  # never the bare domain
    ("www.example.abc.com", "*.abc.com"),  # exactly one label
    ("www.example.com", "*w.example.com"),
    ("www.example.com", "w*w.example.com"),
    ("www.example.com", "www.*.com"),
    ("example.com", "*.com"),
    ("www.com", "*.com"),
    ("a.b", "*.*"),
    ("www.example.com", "*.*.com"),
    ("ww.example.com", "ww*.example.com"),  # the wildcard stands for at least one character
    ("www.example.com", ""),
    ("", "www.example.com"),
    ("www.example.com", "www..example.com"),
    ("www.example.com", "www.example.com.."),
    ("www.example.com", "ww w.example.com"),
    ("www.example.com", "www.exa\x00mple.com"),
    ("xn--bcher-kva.example.com", "xn*.example.com"),  # no partial wildcard in A-labels
    ("www.example.com", "-.example.com"),
    ("www.example.com", "*."),
    ("www.example.com", "*"),
]


@pytest.mark.parametrize(("host", "pattern"), MATCHES)
def test_matches(host: str, pattern: str) -> None:
    assert hostname_matches(host, pattern)


@pytest.mark.parametrize(("host", "pattern"), MISMATCHES)
def test_does_not_match(host: str, pattern: str) -> None:
    assert not hostname_matches(host, pattern)


def _facts(cert: x509.Certificate):
    from cryptography.hazmat.primitives.serialization import Encoding

    facts = parse_certificate(cert.public_bytes(Encoding.DER))
    assert facts is not None
    return facts


def test_san_present_means_cn_is_ignored(root_ca: CA) -> None:
    cert = root_ca.issue("mail.contoso.com", cn="exch01.contoso.local").cert
    facts = _facts(cert)
    outcome = evaluate_name(facts, "exch01.contoso.local")
    assert outcome.ok is False
    assert outcome.reason is Reason.NAME_MISMATCH
    assert "clients ignore the CN" in (outcome.message or "")
    # Negative control: the SAN name itself matches.
    assert evaluate_name(facts, "mail.contoso.com").ok is True


def test_cn_is_used_when_there_is_no_san(root_ca: CA) -> None:
    facts = _facts(root_ca.issue(cn="exch01.contoso.local", san=False).cert)
    assert not facts.has_san
    assert evaluate_name(facts, "exch01.contoso.local").ok is True
    assert evaluate_name(facts, "mail.contoso.com").ok is False


def test_ip_host_matches_ip_san_only(root_ca: CA) -> None:
    facts = _facts(root_ca.issue("mail.contoso.com", ips=("10.0.0.5",)).cert)
    assert covers(facts, "10.0.0.5")
    assert not covers(facts, "10.0.0.6")
    # A DNS SAN spelled like an IP does not count as an IP entry.
    spelled = _facts(root_ca.issue("10.0.0.7").cert)
    assert not covers(spelled, "10.0.0.7")


def test_certificate_without_names_matches_nothing(root_ca: CA) -> None:
    facts = _facts(root_ca.issue(cn=None, san=False).cert)
    outcome = evaluate_name(facts, "mail.contoso.com")
    assert outcome.ok is False
    assert "no names" in (outcome.message or "")


LABEL = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
HOST = st.lists(LABEL, min_size=2, max_size=5).map(".".join)


@given(HOST)
def test_a_name_matches_itself_in_any_case(host: str) -> None:
    assert hostname_matches(host, host)
    assert hostname_matches(host.upper(), host)


@given(HOST, LABEL)
def test_wildcard_covers_exactly_one_extra_label(base: str, label: str) -> None:
    pattern = f"*.{base}"
    assert hostname_matches(f"{label}.{base}", pattern)
    assert not hostname_matches(base, pattern)
    assert not hostname_matches(f"{label}.{label}.{base}", pattern)


@given(HOST, HOST)
def test_different_names_never_match(a: str, b: str) -> None:
    if a != b:
        assert not hostname_matches(a, b)


@given(st.text(max_size=40), st.text(max_size=40))
def test_arbitrary_text_never_raises_and_wildcards_need_two_labels(host: str, pattern: str) -> None:
    result = hostname_matches(host, pattern)
    if result and "*" in pattern:
        assert pattern.rstrip(".").count(".") >= 2
