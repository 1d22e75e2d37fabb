"""Each of the plan's actions as the steps that carry it out (commands as data) and
the findings it answers. Sources, per command:

- ``Export-ExchangeCertificate -Server -Thumbprint -BinaryEncoded -Password`` returns
  the .pfx as ``FileData``; ``Import-ExchangeCertificate -Server -FileData -Password``
  takes it; the private key must be exportable (PrivateKeyExportable); Microsoft
  Learn's pages for both cmdlets. The password is asked for with
  ``Read-Host -AsSecureString``, never written in the script.
- ``Enable-ExchangeCertificate -Server -Thumbprint -Services``: its Learn page.
- DNS records: remediation/dnsrecords.py.
- The KB 940726 cmdlets: remediation/kb940726.py; the mail and Auth steps:
  remediation/surfaces.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from exporter.evaluate.outcome import Reason
from exporter.evaluate.status import counted_problems
from exporter.evaluate.verdict import EndpointVerdict
from exporter.model import Component
from exporter.remediation.chain import certificate_present, enable_command
from exporter.remediation.command import (
    SWITCH,
    Assign,
    Command,
    Text,
    Thumbprint,
    Var,
)
from exporter.remediation.dnsrecords import record_fix
from exporter.remediation.fix import (
    ENABLE,
    IMPORT,
    MOVE,
    NAME_IT,
    RECYCLE,
    RESTART,
    ROTATE,
    ROTATE_POOLS,
    EndpointKey,
    Fix,
    ordered,
)
from exporter.remediation.kb940726 import recycle_autodiscover_command, set_url_command
from exporter.remediation.rotation import auth_steps
from exporter.remediation.steps import Finding, Step, StepKind, finding, run
from exporter.remediation.surfaces import certificate_name_steps
from exporter.remediation.whatif import (
    Action,
    AddRecords,
    Bind,
    MoveUrl,
    endpoint_key,
)

_MISSING = (Reason.NXDOMAIN, Reason.NO_ADDRESS)
# What binding another certificate changes on an endpoint.
_CERTIFICATE_CHECKS = frozenset(
    {
        "name_match",
        "issuer_trusted",
        "date_valid",
        "chain_complete",
        "not_revoked",
        "consistent",
        "expiry",
        "clients",
    }
)


def fixes_for(actions: Sequence[Action], before: Sequence[EndpointVerdict]) -> list[Fix]:
    """Each action's fix, in the order given."""
    by_key = {endpoint_key(v.probe.endpoint): v for v in before}
    by_service: dict[tuple[str, str | None], list[EndpointVerdict]] = {}
    for verdict in before:
        endpoint = verdict.probe.endpoint
        by_service.setdefault((endpoint.server.name, endpoint.component.service), []).append(
            verdict
        )
    return [_fix_for(action, before, actions, by_key, by_service) for action in actions]


def _fix_for(
    action: Action,
    before: Sequence[EndpointVerdict],
    actions: Sequence[Action],
    by_key: Mapping[EndpointKey, EndpointVerdict],
    by_service: Mapping[tuple[str, str | None], list[EndpointVerdict]],
) -> Fix:
    if isinstance(action, Bind):
        members = by_service.get((action.server, action.service), [])
        holders = by_service.get((action.holder, action.service), [])
        return _bind(action, members, holders)
    if isinstance(action, MoveUrl):
        return _move(action, by_key[endpoint_key(action.endpoint)])
    if isinstance(action, AddRecords):
        return record_fix(action, before, actions)
    return _rotation(action, before)


def _bind(
    action: Bind, members: Sequence[EndpointVerdict], holders: Sequence[EndpointVerdict]
) -> Fix:
    server, service, thumbprint = action.server, action.service, action.thumbprint
    holder = next(
        (v for v in holders if v.leaf is not None and v.leaf.thumbprint == thumbprint), None
    )
    holder_has = {name for name, _ in counted_problems(holder)} if holder else set()
    answers = tuple(
        finding(v, name)
        for v in members
        for name, _ in counted_problems(v)
        if (name in _CERTIFICATE_CHECKS or name.startswith("advisory:")) and name not in holder_has
    )
    why = (
        f"the certificate the namespace's servers should present ({thumbprint}, "
        f"from {action.holder})"
    )
    steps: list[Step] = []
    if action.holder != server:
        steps.append(ordered(_import(server, action.holder, thumbprint, answers), IMPORT))
    steps.append(
        ordered(
            run(
                StepKind.COMMAND,
                (enable_command(server, Thumbprint(thumbprint), service),),
                f"{server} {service}: serve {why}",
                addresses=answers,
                server=server,
            ),
            ENABLE,
        )
    )
    # IMAP and POP take one certificate name per server: the namespace's, which the
    # bound certificate carries (a second Set-ImapSettings would override the first).
    named = next(
        (
            v.probe.endpoint
            for v in members
            if v.probe.endpoint.target is not None and v.leaf is not None
        ),
        None,
    )
    if named is not None and named.target is not None:
        name_steps = certificate_name_steps(named, named.target.host, answers)
        for n, step in enumerate(name_steps):
            steps.append(ordered(step, NAME_IT if n == 0 else RESTART))
    keys = tuple(endpoint_key(v.probe.endpoint) for v in members)
    return Fix(action, tuple(steps), answers, (server,), keys)


def _import(server: str, holder: str, thumbprint: str, answers: tuple[Finding, ...]) -> Step:
    password = Assign(
        "password",
        Command(
            "Read-Host",
            (
                ("AsSecureString", SWITCH),
                ("Prompt", Text("A password to protect the exported certificate in transit")),
            ),
        ),
    )
    export = Assign(
        "pfx",
        Command(
            "Export-ExchangeCertificate",
            (
                ("Server", Text(holder, "the server's name")),
                ("Thumbprint", Thumbprint(thumbprint)),
                ("BinaryEncoded", SWITCH),
                ("Password", Var("password")),
            ),
        ),
    )
    load = Command(
        "Import-ExchangeCertificate",
        (
            ("Server", Text(server, "the server's name")),
            ("FileData", Var("pfx", "FileData")),
            ("Password", Var("password")),
        ),
    )
    return run(
        StepKind.COMMAND,
        (password, export, load),
        f"{server}: copy certificate {thumbprint} from {holder} (its private key must be "
        "exportable; the password is asked for, never written)",
        done=certificate_present(server, thumbprint),
        addresses=answers,
        server=server,
    )


def _move(action: MoveUrl, verdict: EndpointVerdict) -> Fix:
    endpoint = action.endpoint
    server = endpoint.server
    moved = action.host
    value = moved if endpoint.component is Component.OUTLOOK_ANYWHERE else action.url
    answers = (finding(verdict, "name_match"),)
    steps = [
        ordered(
            run(
                StepKind.COMMAND,
                (
                    set_url_command(
                        server.name, endpoint.component, server.version, value, endpoint.identity
                    ),
                ),
                f"{server.name} {endpoint.component.value}: point the internal URL at a name "
                f"the certificate carries ({moved})",
                addresses=answers,
                server=server.name,
            ),
            MOVE,
        )
    ]
    if endpoint.component is Component.AUTODISCOVER:
        steps.append(
            ordered(
                run(
                    StepKind.IIS,
                    (recycle_autodiscover_command(server.fqdn),),
                    f"recycle MSExchangeAutodiscoverAppPool on {server.name} so the new "
                    "Autodiscover URL is served",
                    addresses=answers,
                    server=server.name,
                ),
                RECYCLE,
            )
        )
    return Fix(action, tuple(steps), answers, (server.name,), (endpoint_key(endpoint),))


def _rotation(action: Action, before: Sequence[EndpointVerdict]) -> Fix:
    due = [
        v
        for v in before
        if v.probe.endpoint.component is Component.AUTH_CERTIFICATE and v.out_of_date
    ]
    steps: dict[str, Step] = {}
    for verdict in due:
        for n, step in enumerate(auth_steps(verdict)):
            order = ROTATE if n == 0 else ROTATE_POOLS
            steps.setdefault(step.text, ordered(step, order))
    answers = tuple(f for step in steps.values() for f in step.addresses)
    servers = tuple(dict.fromkeys(v.probe.endpoint.server.name for v in due))
    keys = tuple(endpoint_key(v.probe.endpoint) for v in due)
    return Fix(action, tuple(steps.values()), tuple(dict.fromkeys(answers)), servers, keys)
