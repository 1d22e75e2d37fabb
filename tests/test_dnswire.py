"""The stub's wire codec against dnspython, the reference: the same queries, the same
reading of generated replies, and no input that makes it raise."""

from __future__ import annotations

import ipaddress
import os

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exporter.probe import dnswire

FUZZ = settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", "300")), deadline=None)

labels = st.text(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-", min_size=1, max_size=20
)
names = st.lists(labels, min_size=1, max_size=5).map(lambda parts: ".".join(parts) + ".")
ipv4 = st.ip_addresses(v=4).map(str)
ipv6 = st.ip_addresses(v=6).map(str)
records = st.one_of(
    st.tuples(st.just("A"), ipv4),
    st.tuples(st.just("AAAA"), ipv6),
    st.tuples(st.just("CNAME"), names),
    st.tuples(st.just("TXT"), st.text("abc xyz", max_size=30).map(lambda t: f'"{t}"')),
)


def _reply(name: str, rdtype: str, ident: int, rcode: int, tc: bool, answers, owners) -> bytes:
    query = dns.message.make_query(name, rdtype, id=ident)
    reply = dns.message.make_response(query)
    reply.set_rcode(dns.rcode.Rcode(rcode))
    if tc:
        reply.flags |= dns.flags.TC
    for (kind, value), owner in zip(answers, owners, strict=True):
        reply.answer.append(dns.rrset.from_text(owner, 300, "IN", kind, value))
    return reply.to_wire()


@FUZZ
@given(
    name=names,
    rdtype=st.sampled_from(["A", "AAAA"]),
    ident=st.integers(0, 65535),
    rcode=st.sampled_from([0, 2, 3, 5]),
    tc=st.booleans(),
    answers=st.lists(records, max_size=8),
    data=st.data(),
)
def test_replies_read_as_dnspython_reads_them(name, rdtype, ident, rcode, tc, answers, data):
    owners = [data.draw(st.one_of(st.just(name), names)) for _ in answers]
    wire = _reply(name, rdtype, ident, rcode, tc, answers, owners)
    reference = dns.message.from_wire(wire)
    ours = dnswire.parse(wire)
    assert ours is not None
    assert ours.ident == reference.id
    assert ours.rcode == reference.rcode()
    assert ours.truncated is bool(reference.flags & dns.flags.TC)
    # dnspython drops a repeated record from its rrset; the stub dedups its answer too.
    expected = {
        ipaddress.ip_address(r.address)
        for rrset in reference.answer
        if rrset.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA)
        for r in rrset
    }
    assert set(map(ipaddress.ip_address, ours.addresses)) == expected
    qname = dns.name.from_text(name).to_wire()
    assert ours.answers(qname, dnswire.A if rdtype == "A" else dnswire.AAAA)
    # 0x20 (mixed case) in the answer is still the same name; another type is not.
    assert ours.answers(qname.swapcase(), dnswire.A if rdtype == "A" else dnswire.AAAA)
    assert not ours.answers(qname, dnswire.AAAA if rdtype == "A" else dnswire.A)
    assert not ours.answers(b"\x05other" + qname, dnswire.A if rdtype == "A" else dnswire.AAAA)


@FUZZ
@given(name=names, rdtype=st.sampled_from([dnswire.A, dnswire.AAAA]), ident=st.integers(0, 65535))
def test_queries_are_what_dnspython_builds(name, rdtype, ident) -> None:
    qname = dns.name.from_text(name)
    ours = dns.message.from_wire(dnswire.query(qname.to_wire(), rdtype, ident))
    reference = dns.message.make_query(qname, dns.rdatatype.RdataType(rdtype), id=ident)
    assert ours == reference
    assert ours.flags == reference.flags == dns.flags.RD
    assert ours.edns == -1  # no EDNS: a plain query, as Windows' stub sends


def test_a_query_is_not_its_own_reply() -> None:
    qname = dns.name.from_text("mail.contoso.com").to_wire()
    assert dnswire.parse(dnswire.query(qname, dnswire.A, 7)) is None


@FUZZ
@given(data=st.binary(max_size=600))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    reply = dnswire.parse(data)
    assert reply is None or isinstance(reply.addresses, tuple)


@FUZZ
@given(
    cuts=st.lists(st.tuples(st.integers(0, 400), st.integers(0, 255)), min_size=1, max_size=6),
    truncate=st.integers(0, 400),
)
def test_damaged_replies_never_raise(cuts, truncate) -> None:
    wire = bytearray(
        _reply(
            "mail.contoso.com.",
            "A",
            1,
            0,
            False,
            [("CNAME", "exch01.contoso.local."), ("A", "127.0.1.1"), ("AAAA", "::1")],
            ["mail.contoso.com.", "mail.contoso.com.", "exch01.contoso.local."],
        )
    )
    for offset, value in cuts:
        if offset < len(wire):
            wire[offset] = value
    reply = dnswire.parse(bytes(wire[: max(truncate, 12)]))
    assert reply is None or all(ipaddress.ip_address(a) for a in reply.addresses)


def test_a_pointer_loop_ends() -> None:
    """A compression pointer to itself: a parser that followed pointers would spin."""
    header = bytes.fromhex("0001 8180 0001 0001 0000 0000")
    question = b"\x04mail\x00\x00\x01\x00\x01"
    answer = b"\xc0\x1d" + bytes.fromhex("0001 0001 0000012c 0004 7f000101")
    reply = dnswire.parse(header + question + answer)
    assert reply is not None
    assert reply.addresses == ("127.0.1.1",)


# Anything a config or directory could hold, biased towards near-misses of a plain
# host name: escapes, '@', spaces, empty and long labels, digits-only labels, IDNA.
name_chars = st.sampled_from([*"abcXYZ019-_.\\@ é*", "\\046", "xn--"])
odd_names = st.one_of(
    st.lists(name_chars, max_size=30).map("".join),
    st.lists(st.text("ab1-", min_size=0, max_size=70), min_size=1, max_size=6).map(".".join),
    st.lists(st.text("0123456789", min_size=1, max_size=3), min_size=1, max_size=5).map(".".join),
)


@FUZZ
@given(name=st.one_of(names, names.map(lambda n: n.rstrip(".")), odd_names))
def test_plain_names_are_encoded_as_dnspython_encodes_them(name: str) -> None:
    """The fast path answers only for names dnspython accepts, with the same wire
    form; everything else is left to dnspython (None)."""
    ours = dnswire.plain_name_wire(name)
    if ours is None:
        return
    assert ours == dns.name.from_text(name).to_wire()
    assert not name.rstrip(".").split(".")[-1].isdigit()  # never an IPv4 literal


@pytest.mark.parametrize(
    ("name", "plain"),
    [
        ("mail.contoso.com", True),
        ("EXCH01.contoso.local.", True),
        ("_autodiscover._tcp.contoso.com", True),
        ("10.1.2.3", False),
        ("::1", False),
        ("mail..contoso.com", False),
        ("m\\065il.contoso.com", False),
        ("pöst.contoso.com", False),
        ("x" * 64 + ".contoso.com", False),
        (".".join(["abcdefghi"] * 26), False),  # 259 characters
    ],
)
def test_plain_name_examples(name: str, plain: bool) -> None:
    assert (dnswire.plain_name_wire(name) is not None) is plain
