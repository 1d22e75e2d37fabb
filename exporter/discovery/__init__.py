"""Discovery: the first stage after config. Sources (static config, LDAP) produce
an :class:`Inventory` of servers and the endpoints to probe.
"""

from __future__ import annotations

from dataclasses import dataclass

from exporter.model import Endpoint, Server


@dataclass(frozen=True)
class DiscoveryStatus:
    """How one source fared this cycle.

    Attributes:
        last_success: UNIX time of the last successful run, None if never.
        error: why the last run failed, None on success.
        reason: a stable code for the failure (LDAP: unreachable, tls_error,
            invalid_credentials, bind_failed, timeout, search_failed, ...).
        stale: the inventory in use is the last good one, not this run's.
        notes: what the source saw and left out (skipped servers, pointer SCPs).
    """

    source: str
    success: bool
    servers: int
    endpoints: int
    last_success: float | None
    error: str | None = None
    reason: str | None = None
    stale: bool = False
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Inventory:
    servers: tuple[Server, ...]
    endpoints: tuple[Endpoint, ...]
    statuses: tuple[DiscoveryStatus, ...]
