"""The config ``check --url`` builds from its flags (``--server-address``,
``--ca-file``, ``--dns-server``, ...): the same schema as a file's, and its problems
named by the flag they came from, not the key they became."""

from __future__ import annotations

import argparse
import ipaddress
import re
from typing import Any

from exporter.config import Config, ConfigError, load_config_mapping, parse_host_port
from exporter.config.yamlsource import Problem
from exporter.model import Component, parse_url

COMPONENT_BY_PATH = [
    ("/autodiscover", Component.AUTODISCOVER),
    ("/ews", Component.EWS),
    ("/oab", Component.OAB),
    ("/unifiedmessaging", Component.UM),
    ("/owa", Component.OWA),
    ("/ecp", Component.ECP),
    ("/microsoft-server-activesync", Component.EAS),
    ("/mapi", Component.MAPI),
    ("/rpc", Component.OUTLOOK_ANYWHERE),
]

_BY_SCHEME = {
    "smtp": Component.SMTP,
    "smtps": Component.SMTP,
    "imap": Component.IMAP,
    "imaps": Component.IMAP,
    "pop3": Component.POP,
    "pop3s": Component.POP,
}


class CheckUsageError(Exception):
    """Bad arguments: UNKNOWN, one line."""


def _component_of(url: str, asked: list[str]) -> Component:
    """The component a --url is: by scheme for the mail protocols (``--component
    smtp_submission`` for 587), the auth metadata by its path, else by the path's
    virtual directory, else ``--component``, else EWS."""
    scheme, _, rest = url.partition("://")
    explicit = Component(asked[0]) if asked else None
    by_scheme = _BY_SCHEME.get(scheme.lower())
    if by_scheme is not None:
        return explicit if explicit is Component.SMTP_SUBMISSION else by_scheme
    path = "/" + rest.partition("/")[2].lower()
    if path.startswith("/autodiscover/metadata/json"):
        return Component.AUTH_CERTIFICATE
    return next(
        (c for prefix, c in COMPONENT_BY_PATH if path.startswith(prefix)),
        explicit or Component.EWS,
    )


def ad_hoc_config(args: argparse.Namespace) -> Config:
    # A config's outlook_anywhere may be a bare host name; a URL to check may not.
    if "://" not in args.url:
        raise CheckUsageError(
            f"--url {args.url!r} is not a URL: give https://host/path, "
            "e.g. https://mail.contoso.com/EWS/Exchange.asmx"
        )
    component = _component_of(args.url, args.component)
    try:
        target = parse_url(args.url, component)
    except ValueError as exc:
        raise CheckUsageError(f"--url {args.url!r}: {exc}") from None
    server: dict[str, Any] = {
        "name": args.server[0] if args.server else target.host.split(".")[0].upper(),
        "fqdn": target.host,
        "urls": {component.value: args.url},
    }
    if args.server_address:
        try:
            server["addresses"] = [str(ipaddress.ip_address(args.server_address))]
        except ValueError:
            raise CheckUsageError(
                f"--server-address {args.server_address!r} is not an IP address"
            ) from None
    data: dict[str, Any] = {
        "servers": [server],
        "trust": {"ca_files": args.ca_file, "system": True},
    }
    if args.dns_server:
        try:
            parse_host_port(args.dns_server, 53)
        except ValueError as exc:
            raise CheckUsageError(f"--dns-server: {exc}") from None
        data["dns"] = {"nameservers": [args.dns_server]}
    try:
        return load_config_mapping(data, "<command line>")
    except ConfigError as exc:
        # The config was made from the flags: name the flag, not the key it became.
        raise CheckUsageError("; ".join(_as_flag(p) for p in exc.problems)) from None


def _as_flag(problem: Problem) -> str:
    """The flag a problem's key came from (``--ca-file``, ``--server``)."""
    flags = {r"trust\.ca_files\[\d+\]": "--ca-file", r"servers\[0\]\..*": "--server"}
    flag = next((f for key, f in flags.items() if re.fullmatch(key, problem.path)), None)
    return f"{flag or problem.path or '(top level)'}: {problem.message}"
