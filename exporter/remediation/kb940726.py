"""The KB 940726 steps as data: which Exchange Management Shell command sets each
component's internal URL (Microsoft KB 940726; ../shared/EXCHANGE.md).

Alerts, the page, the report and the Nagios output all take their command text
from here, through build_remediation().
"""

from __future__ import annotations

from dataclasses import dataclass

from exporter.model import Component, ExchangeVersion


@dataclass(frozen=True)
class UrlSetter:
    """How to set one component's internal URL.

    Attributes:
        cmdlet: the Set-* cmdlet.
        vdir: the virtual directory's default name; the Identity is
            ``SERVER\\<vdir> (Default Web Site)``. None for the SCP (Identity = server).
        parameter: the parameter that takes the new value.
        host_only: the value is a host name, not a URL (Outlook Anywhere).
        extra: parameters that always go with it.
    """

    cmdlet: str
    vdir: str | None
    parameter: str
    host_only: bool = False
    extra: str = ""


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
        extra=" -InternalClientsRequireSsl $true",
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


def ps_quote(text: str) -> str:
    """A PowerShell double-quoted string literal (backtick escapes ", $ and `)."""
    escaped = "".join("`" + ch if ch in '`"$' else ch for ch in text)
    return f'"{escaped}"'


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
) -> str:
    setter = setter_for(component, version)
    ident = identity(server, component, vdir_name)
    # The KB writes vdir identities quoted and the SCP's bare; anything unusual is quoted.
    ident_text = ps_quote(ident) if setter.vdir is not None else ps_arg(ident)
    return (
        f"{setter.cmdlet} -Identity {ident_text} -{setter.parameter} {ps_arg(value)}{setter.extra}"
    )


def ps_arg(text: str) -> str:
    """A bare argument when it is plainly safe, else a quoted string."""
    if text and all(ch.isalnum() or ch in "-._:/\\" for ch in text):
        return text
    return ps_quote(text)


def recycle_autodiscover_command(server_fqdn: str) -> str:
    return (
        f"Invoke-Command -ComputerName {server_fqdn} -ScriptBlock "
        f"{{ Import-Module WebAdministration; Restart-WebAppPool -Name {AUTODISCOVER_APP_POOL} }}"
    )
