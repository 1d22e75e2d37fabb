"""A DNS record for a name the plan needs to resolve: one fix per name, with the
addresses of every server that answers it, run on a DNS server of the domain.
Sources: ``Add-DnsServerResourceRecordA``/``AAAA -ZoneName -Name -IPv4Address``/
``-IPv6Address`` (the DnsServer module) and ``Resolve-DnsName -Type -DnsOnly`` (the
DnsClient module), whose ``IPAddress`` the guard checks, so each record is added
once however often a section runs.
"""

from __future__ import annotations

from collections.abc import Sequence

from exporter.evaluate.outcome import Check, Reason
from exporter.evaluate.verdict import EndpointVerdict
from exporter.remediation.command import (
    SWITCH,
    Address,
    Command,
    Compare,
    Host,
    Sub,
    Text,
    Unless,
)
from exporter.remediation.fix import RECORD, Fix, ordered
from exporter.remediation.steps import StepKind, advise, finding, run
from exporter.remediation.whatif import Action, AddRecords, MoveUrl, endpoint_key

_MISSING = (Reason.NXDOMAIN, Reason.NO_ADDRESS)


def record_fix(
    action: AddRecords, before: Sequence[EndpointVerdict], actions: Sequence[Action]
) -> Fix:
    name = action.name
    on_name = [
        v
        for v in before
        if v.probe.endpoint.target is not None and v.probe.endpoint.target.host == name
    ]
    moving = [a.endpoint for a in actions if isinstance(a, MoveUrl) and a.host == name]
    # The record answers the endpoints whose server's addresses it adds: a server
    # whose addresses are unknown keeps its finding, and advice of its own.
    answers = tuple(
        finding(v, "dns_match")
        for v in on_name
        if v.checks[Check.DNS_MATCH].ok is False
        and v.checks[Check.DNS_MATCH].reason in _MISSING
        and v.probe.server_addresses
    )
    servers = tuple(
        dict.fromkeys(
            [v.probe.endpoint.server.name for v in on_name] + [e.server.name for e in moving]
        )
    )
    keys = tuple(
        dict.fromkeys(
            [endpoint_key(v.probe.endpoint) for v in on_name] + [endpoint_key(e) for e in moving]
        )
    )
    known = [v.probe.endpoint.server.name for v in on_name if v.probe.server_addresses]
    known += [e.server.name for e in moving if e.server.addresses]
    comment = (
        f"internal DNS: {name} must resolve to {', '.join(dict.fromkeys(known))} "
        f"({', '.join(action.addresses)}); run on a DNS server of the domain and adjust "
        "-ZoneName if the zone differs"
    )
    if "." not in name:
        step = advise(
            "Make {} resolve, for internal clients, to {}",
            name,
            ", ".join(action.addresses),
            comment=comment,
            addresses=answers,
        )
        return Fix(action, (ordered(step, RECORD),), answers, servers, keys)
    label, zone = name.split(".", 1)
    records = [_record(name, label, zone, address) for address in action.addresses]
    if len(records) == 1:
        ((add, done),) = records
        step = run(StepKind.DNS, (add,), comment, done=done, addresses=answers)
    else:
        # One step for the name, whatever the number of servers: each record once.
        adds = tuple(Unless(done, (add,)) for add, done in records)
        step = run(StepKind.DNS, adds, comment, addresses=answers)
    return Fix(action, (ordered(step, RECORD),), answers, servers, keys)


def _record(name: str, label: str, zone: str, address: str) -> tuple[Command, Compare]:
    """The record for one address, and the test that it is there."""
    record, family = ("AAAA", "IPv6Address") if ":" in address else ("A", "IPv4Address")
    add = Command(
        f"Add-DnsServerResourceRecord{record}",
        (
            ("ZoneName", Host(zone, "the DNS zone")),
            ("Name", Text(label, "the record's name")),
            (family, Address(address)),
        ),
    )
    resolved = Sub(
        Command(
            "Resolve-DnsName",
            (
                ("Name", Host(name)),
                ("Type", Text(record)),
                ("DnsOnly", SWITCH),
                ("ErrorAction", Text("SilentlyContinue")),
            ),
        ),
        "IPAddress",
    )
    return add, Compare(resolved, "-contains", Address(address))
