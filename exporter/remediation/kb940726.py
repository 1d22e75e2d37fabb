"""The KB 940726 steps as data: which Exchange Management Shell command sets each
component's internal URL (Microsoft KB 940726; ../shared/EXCHANGE.md).

Commands are data (remediation/command.py); the plan (remediation/plan.py) decides
which of them an organisation needs and proves them before they are printed.
"""

from __future__ import annotations

from dataclasses import dataclass

from exporter.model import Component, ExchangeVersion
from exporter.remediation.command import Arg, Block, Command, Flag, Host, Text, Url


@dataclass(frozen=True)
class UrlSetter:
    """How to set one component's internal URL.

    Attributes:
        cmdlet: the Set-* cmdlet.
        vdir: the virtual directory's default name; the Identity is
            ``SERVER\\<vdir> (Default Web Site)``. None for the SCP (Identity = server).
        parameter: the parameter that takes the new value.
        host_only: the value is a host name, not a URL (Outlook Anywhere), and
            ``-InternalClientsRequireSsl $true`` goes with it.
    """

    cmdlet: str
    vdir: str | None
    parameter: str
    host_only: bool = False


SETTERS: dict[Component, UrlSetter] = {
    Component.AUTODISCOVER: UrlSetter(
        "Set-ClientAccessServer", None, "AutodiscoverServiceInternalUri"
    ),
    Component.EWS: UrlSetter("Set-WebServicesVirtualDirectory", "EWS", "InternalUrl"),
    Component.OAB: UrlSetter("Set-OABVirtualDirectory", "OAB", "InternalUrl"),
    Component.UM: UrlSetter("Set-UMVirtualDirectory", "UnifiedMessaging", "InternalUrl"),
    Component.OWA: UrlSetter("Set-OwaVirtualDirectory", "owa", "InternalUrl"),
    Component.ECP: UrlSetter("Set-EcpVirtualDirectory", "ecp", "InternalUrl"),
    Component.EAS: UrlSetter(
        "Set-ActiveSyncVirtualDirectory", "Microsoft-Server-ActiveSync", "InternalUrl"
    ),
    Component.MAPI: UrlSetter("Set-MapiVirtualDirectory", "mapi", "InternalUrl"),
    Component.OUTLOOK_ANYWHERE: UrlSetter(
        "Set-OutlookAnywhere",
        "Rpc",
        "InternalHostname",
        host_only=True,
    ),
}

AUTODISCOVER_APP_POOL = "MSExchangeAutodiscoverAppPool"
DEFAULT_WEB_SITE = "Default Web Site"


def setter_for(component: Component, version: ExchangeVersion | None) -> UrlSetter:
    setter = SETTERS[component]
    if component is Component.AUTODISCOVER and version is not None and version.at_least_2016:
        # Set-ClientAccessServer is deprecated from Exchange 2016 on; same parameters.
        return UrlSetter("Set-ClientAccessService", None, setter.parameter)
    return setter


def identity(server: str, component: Component, vdir_name: str | None) -> str:
    """The -Identity value: the server alone for the SCP, else SERVER\\NAME (SITE)."""
    setter = SETTERS[component]
    if setter.vdir is None:
        return server
    return f"{server}\\{vdir_name or f'{setter.vdir} ({DEFAULT_WEB_SITE})'}"


def set_url_command(
    server: str,
    component: Component,
    version: ExchangeVersion | None,
    value: str,
    vdir_name: str | None = None,
) -> Command:
    """The cmdlet that moves ``component``'s internal URL (or Outlook Anywhere's host)."""
    setter = setter_for(component, version)
    what = "the virtual directory" if setter.vdir is not None else "the server's name"
    new: Text = (
        Host(value, "the new internal host name")
        if setter.host_only
        else Url(value, "the new internal URL")
    )
    params: list[tuple[str, Arg]] = [
        ("Identity", Text(identity(server, component, vdir_name), what)),
        (setter.parameter, new),
    ]
    if setter.host_only:
        # Outlook Anywhere's internal clients: https (EXCHANGE.md).
        params.append(("InternalClientsRequireSsl", Flag(True)))
    return Command(setter.cmdlet, tuple(params))


def restart_remotely(server_fqdn: str, *statements: Command) -> Command:
    """``statements`` run on the server itself (app pools and services are local)."""
    return Command(
        "Invoke-Command",
        (
            ("ComputerName", Host(server_fqdn, "the server's FQDN")),
            ("ScriptBlock", Block(statements)),
        ),
    )


def recycle_app_pools(server_fqdn: str, *pools: str) -> Command:
    return restart_remotely(
        server_fqdn,
        Command("Import-Module", (("Name", Text("WebAdministration")),)),
        *(Command("Restart-WebAppPool", (("Name", Text(pool)),)) for pool in pools),
    )


def recycle_autodiscover_command(server_fqdn: str) -> Command:
    return recycle_app_pools(server_fqdn, AUTODISCOVER_APP_POOL)
