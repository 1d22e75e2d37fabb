"""Static discovery: the ``servers:`` list of the config, as an Inventory."""

from __future__ import annotations

from dataclasses import replace

from exporter.config import ServerConfig
from exporter.discovery import DiscoveryStatus, Inventory
from exporter.model import Component, Endpoint, Server


def server_from_config(entry: ServerConfig) -> Server:
    return Server(
        name=entry.name,
        fqdn=entry.fqdn,
        addresses=entry.addresses,
        version=entry.version,
        site=entry.site,
        source="static",
    )


def endpoints_of(entry: ServerConfig, server: Server) -> list[Endpoint]:
    # Component order, not YAML order, so reports read the same for every server.
    return [
        Endpoint.build(
            server,
            component,
            entry.urls[component],
            external_url=entry.external_urls.get(component),
            tls_certificate_name=entry.tls_certificate_names.get(component),
        )
        for component in Component
        if component in entry.urls
    ]


def discover_static(entries: tuple[ServerConfig, ...], now: float) -> Inventory:
    servers = []
    endpoints: list[Endpoint] = []
    for entry in entries:
        server = server_from_config(entry)
        servers.append(server)
        endpoints.extend(endpoints_of(entry, server))
    status = DiscoveryStatus("static", True, len(servers), len(endpoints), now)
    return Inventory(tuple(servers), tuple(endpoints), (status,))


def rediscover_static(previous: Inventory, now: float) -> Inventory:
    """The same config's inventory again, as of ``now``: a config does not change
    between cycles (a reload makes a new Discoverer), so its URLs are parsed once."""
    (status,) = previous.statuses
    return Inventory(previous.servers, previous.endpoints, (replace(status, last_success=now),))
