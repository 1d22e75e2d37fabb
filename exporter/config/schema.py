"""The configuration schema: typed sections built from YAML by the strict Reader.

This is the first stage of the pipeline: everything after it reads a :class:`Config`.
Every key documented in README.md ("Configuration reference") is parsed here.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field

from exporter.config.clients import parse_client_components, parse_clients
from exporter.config.ldap import LdapConfig, parse_ldap
from exporter.config.yamlsource import Reader
from exporter.hostnames import dns_name
from exporter.model import Component, ExchangeVersion, parse_url
from exporter.textsafe import has_unsafe, terminal_safe
from exporter.truststore import TrustStore, load_trust_store

DAY = 86400.0


@dataclass(frozen=True)
class ServerConfig:
    """A static inventory entry (``servers:``)."""

    name: str
    fqdn: str
    addresses: tuple[str, ...]
    version: ExchangeVersion | None
    site: str | None
    urls: dict[Component, str]
    external_urls: dict[Component, str]
    # SMTP: the receive connector's TlsCertificateName ("<I>issuer<S>subject").
    tls_certificate_names: dict[Component, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TrustConfig:
    ca_files: tuple[str, ...] = ()
    system: bool = True
    store: TrustStore = field(default_factory=lambda: TrustStore((), ()))


@dataclass(frozen=True)
class DnsConfig:
    """``nameservers`` empty means the system resolver."""

    nameservers: tuple[tuple[str, int], ...] = ()
    timeout: float = 2.0


@dataclass(frozen=True)
class ProbeConfig:
    """``concurrency``: handshakes in flight at once."""

    interval: float = 300.0
    timeout: float = 10.0
    concurrency: int = 16


@dataclass(frozen=True)
class Thresholds:
    """``max_validity``: a leaf valid for longer is a ``long_validity`` advisory; 0
    (the default) is off: the validity rules clients apply are evaluate/clients.py's.
    ``auth_expiry_*``: the Auth certificate's own, HealthChecker's 60 and 14 days."""

    expiry_warning: float = 30 * DAY
    expiry_critical: float = 7 * DAY
    max_validity: float = 0.0
    auth_expiry_warning: float = 60 * DAY
    auth_expiry_critical: float = 14 * DAY


@dataclass(frozen=True)
class FetchConfig:
    """``aia:`` and ``revocation:``: fetch what certificates point at, as Windows
    does (on by default). Each fetch is bounded as a whole by ``timeout``; at most
    ``max_urls`` of one certificate's URLs are tried, and all of one chain's fetches
    of the section share ``chain_budget`` (twice ``timeout`` unless given)."""

    enabled: bool = True
    timeout: float = 5.0
    max_urls: int = 4
    chain_budget: float = 10.0


@dataclass(frozen=True)
class Config:
    servers: tuple[ServerConfig, ...] = ()
    trust: TrustConfig = field(default_factory=TrustConfig)
    dns: DnsConfig = field(default_factory=DnsConfig)
    probe: ProbeConfig = field(default_factory=ProbeConfig)
    thresholds: Thresholds = field(default_factory=Thresholds)
    ldap: LdapConfig | None = None
    aia: FetchConfig = field(default_factory=FetchConfig)
    revocation: FetchConfig = field(default_factory=FetchConfig)
    # The client families the organisation has; components when not the default.
    clients: tuple[str, ...] = ("outlook", "apple", "browser")
    client_components: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    filename: str = "<defaults>"
    # Deprecated keys found, one line each (file:line: key: message): logged by
    # serve, printed to stderr by report and check.
    notices: tuple[str, ...] = ()


def parse_config(root: Reader) -> Config:
    """Read every section; problems accumulate in ``root.problems``."""
    config = Config(
        servers=tuple(_servers(root)),
        trust=_trust(root.section("trust")),
        dns=_dns(root.section("dns")),
        probe=_probe(root.section("probe")),
        thresholds=_thresholds(root.section("thresholds")),
        ldap=parse_ldap(root.section("ldap")),
        aia=_fetching(root.section("aia")),
        revocation=_fetching(root.section("revocation")),
        clients=parse_clients(root),
        client_components=parse_client_components(root.section("client_components")),
    )
    root.finish(keys_of(Config, skip=("filename", "notices")))
    if not config.servers and not root.has("servers") and not root.has("ldap"):
        root.problem(
            "servers",
            "no Exchange servers configured: list them under servers: or discover them with ldap:",
        )
    return config


def _servers(root: Reader) -> list[ServerConfig]:
    out: list[ServerConfig] = []
    seen: set[str] = set()
    for entry in root.section_list("servers"):
        name = entry.text("name", required=True)
        fqdn = entry.text("fqdn", required=True).rstrip(".").lower()
        if fqdn and dns_name(fqdn) is None:
            entry.problem("fqdn", f"'{terminal_safe(fqdn)}' is not a valid DNS name")
        if has_unsafe(name):
            entry.problem("name", f"'{terminal_safe(name)}' has control characters")
        if name.lower() in seen:
            entry.problem("name", f"server {name!r} is listed twice")
        seen.add(name.lower())
        addresses = []
        for index, text in enumerate(entry.str_list("addresses")):
            try:
                addresses.append(str(ipaddress.ip_address(text)))
            except ValueError:
                entry.problem(f"addresses[{index}]", f"{text!r} is not an IP address")
        version = entry.get("version", _version, None)
        site = entry.opt_text("site")
        urls = _url_map(entry.section("urls"))
        external = _url_map(entry.section("external_urls"))
        named = _connector_names(entry.section("tls_certificate_names"))
        if not urls and not entry.has("urls"):
            entry.problem("urls", "is required: the internal URLs to check, by component")
        entry.finish(keys_of(ServerConfig))
        out.append(ServerConfig(name, fqdn, tuple(addresses), version, site, urls, external, named))
    return out


def _version(value: object) -> ExchangeVersion:
    text = str(value).strip()
    for version in ExchangeVersion:
        if version.value.lower() == text.lower():
            return version
    choices = ", ".join(v.value for v in ExchangeVersion)
    raise ValueError(f"{text!r} is not an Exchange version (one of: {choices})")


def _url_map(section: Reader) -> dict[Component, str]:
    urls: dict[Component, str] = {}
    names = tuple(c.value for c in Component)
    for key in list(section.data):
        if key not in names:
            continue
        url = section.text(key)
        try:
            parse_url(url, Component(key))
        except ValueError as exc:
            section.problem(key, f"{url!r} is not a usable URL: {exc}")
            continue
        urls[Component(key)] = url
    section.finish(names)
    return urls


def _connector_names(section: Reader) -> dict[Component, str]:
    """``smtp``/``smtp_submission``: the connector's ``<I>issuer<S>subject``."""
    names: dict[Component, str] = {}
    keys = (Component.SMTP.value, Component.SMTP_SUBMISSION.value)
    for key in keys:
        if section.has(key):
            value = section.text(key)
            if "<I>" not in value or "<S>" not in value:
                section.problem(key, f"{value!r} is not in the form <I>issuer<S>subject")
                continue
            names[Component(key)] = value
    section.finish(keys)
    return names


def keys_of(cls: type, skip: tuple[str, ...] = (), also: tuple[str, ...] = ()) -> tuple[str, ...]:
    """A section's keys: its dataclass's fields, the one statement of them (``skip``:
    fields that are not keys; ``also``: keys kept only for compatibility)."""
    return (*(f.name for f in dataclasses.fields(cls) if f.name not in skip), *also)


def _trust(section: Reader) -> TrustConfig:
    ca_files = section.str_list("ca_files")
    system = section.flag("system", TrustConfig.system)
    section.finish(keys_of(TrustConfig, skip=("store",)))
    bad: list[tuple[int, str]] = []
    store = load_trust_store(ca_files, system, bad)
    for index, message in bad:
        section.problem(f"ca_files[{index}]", message)
    if not store.anchors and not bad and not section.problems:
        section.problem("", "no trust anchors: give trust.ca_files or set trust.system: true")
    return TrustConfig(tuple(ca_files), system, store)


def _dns(section: Reader) -> DnsConfig:
    servers = []
    for index, text in enumerate(section.str_list("nameservers")):
        try:
            servers.append(parse_host_port(text, 53))
        except ValueError as exc:
            section.problem(f"nameservers[{index}]", str(exc))
    timeout = section.duration("timeout", DnsConfig.timeout)
    section.finish(keys_of(DnsConfig))
    return DnsConfig(tuple(servers), timeout)


def parse_host_port(text: str, default_port: int) -> tuple[str, int]:
    """``10.0.0.1``, ``10.0.0.1:5353``, ``[::1]:53`` -> (address, port); DNS servers are IPs."""
    host, port = text.strip(), default_port
    if host.startswith("["):
        inside, _, rest = host[1:].partition("]")
        host = inside
        if rest.startswith(":"):
            port = _port(rest[1:], text)
    elif host.count(":") == 1:
        host, _, port_text = host.partition(":")
        port = _port(port_text, text)
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"{text!r} is not an IP address (with an optional :port)") from None
    return host, port


def _port(text: str, whole: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ValueError(f"{whole!r} has a bad port")
    return int(text)


def _probe(section: Reader) -> ProbeConfig:
    interval = section.duration("interval", ProbeConfig.interval)
    timeout = section.duration("timeout", ProbeConfig.timeout)
    concurrency = section.integer("concurrency", ProbeConfig.concurrency, minimum=1)
    if section.has("processes"):
        section.integer("processes", 1, minimum=1)  # still checked: a typo stays an error
        section.notice(
            "processes",
            "is deprecated and ignored: worker processes measured no faster than one "
            "process (benchmarks/RESULTS.md); remove the key",
        )
    section.finish(keys_of(ProbeConfig, also=("processes",)))
    if timeout <= 0:
        section.problem("timeout", "must be more than 0s")
    elif timeout >= interval:
        section.problem("timeout", "must be shorter than probe.interval")
    return ProbeConfig(interval, timeout, concurrency)


def _thresholds(section: Reader) -> Thresholds:
    values = {key: section.duration(key, getattr(Thresholds, key)) for key in keys_of(Thresholds)}
    section.finish(keys_of(Thresholds))
    pairs = (("expiry_critical", "expiry_warning"), ("auth_expiry_critical", "auth_expiry_warning"))
    for short, long in pairs:
        if values[short] > values[long]:
            section.problem(short, f"must not be longer than thresholds.{long}")
    return Thresholds(**values)


def _fetching(section: Reader) -> FetchConfig:
    enabled = section.flag("enabled", FetchConfig.enabled)
    timeout = section.duration("timeout", FetchConfig.timeout)
    max_urls = section.integer("max_urls", FetchConfig.max_urls, minimum=1)
    budget = section.duration("chain_budget", 2 * timeout)
    section.finish(keys_of(FetchConfig))
    if timeout <= 0:
        section.problem("timeout", "must be more than 0s")
    elif budget < timeout:
        section.problem("chain_budget", f"must not be shorter than {section.key_path('timeout')}")
    return FetchConfig(enabled, timeout, max_urls, budget)
