"""Discovery: the first stage after config. Sources (static config, LDAP) produce
an :class:`Inventory` of servers and the endpoints to probe, and a
:class:`~exporter.model.DiscoveryStatus` each (a model type: the snapshot reads it).
"""

from __future__ import annotations

from dataclasses import dataclass

from exporter.model import DiscoveryStatus, Endpoint, Server

__all__ = ["DiscoveryStatus", "Inventory"]


@dataclass(frozen=True)
class Inventory:
    servers: tuple[Server, ...]
    endpoints: tuple[Endpoint, ...]
    statuses: tuple[DiscoveryStatus, ...]
