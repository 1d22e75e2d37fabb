"""Runs the configured discovery sources each cycle and merges what they find.

Static ``servers:`` entries override discovered servers of the same name. When
the directory fails, the last good LDAP inventory stays in use, marked stale,
and the failure is reported with its reason and the last success time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from exporter.config import Config
from exporter.config.ldap import LdapConfig
from exporter.discovery import DiscoveryStatus, Inventory
from exporter.discovery.static import discover_static, rediscover_static

if TYPE_CHECKING:
    from exporter.discovery.ad import AdInventory
    from exporter.discovery.ldap import DirectoryData, LdapFailure

# The directory modules (and ldap3 with pyasn1, about 7 MB) load on the first
# directory search: a static inventory never pays for them.
Fetch = Callable[[LdapConfig], "DirectoryData"]


def _fetch_directory(cfg: LdapConfig) -> DirectoryData:
    from exporter.discovery.ldap import fetch_directory  # noqa: PLC0415 - see above

    return fetch_directory(cfg)


class Discoverer:
    """Holds what must survive between cycles: the last good directory inventory,
    and the config's static inventory, parsed on the first cycle."""

    def __init__(self, config: Config, fetch: Fetch = _fetch_directory) -> None:
        self.config = config
        self._fetch = fetch
        self._last_good: AdInventory | None = None
        self._last_success: float | None = None
        self._static: Inventory | None = None

    def with_config(self, config: Config) -> Discoverer:
        """A discoverer for a reloaded config; keeps the last good inventory if the
        directory settings did not change."""
        fresh = Discoverer(config, self._fetch)
        if config.ldap == self.config.ldap:
            fresh._last_good, fresh._last_success = self._last_good, self._last_success
        return fresh

    def discover(self, now: float) -> Inventory:
        if self._static is None:
            static = self._static = discover_static(self.config.servers, now)
        else:
            static = rediscover_static(self._static, now)
        if self.config.ldap is None:
            return static
        ldap_inventory, status = self._ldap(self.config.ldap, now)
        overridden = {s.name.lower() for s in static.servers}
        servers = [s for s in ldap_inventory.servers if s.name.lower() not in overridden]
        endpoints = [e for e in ldap_inventory.endpoints if e.server.name.lower() not in overridden]
        statuses = (*static.statuses, status) if self.config.servers else (status,)
        return Inventory(
            tuple(servers) + static.servers, tuple(endpoints) + static.endpoints, statuses
        )

    def _ldap(self, cfg: LdapConfig, now: float) -> tuple[AdInventory, DiscoveryStatus]:
        from exporter.discovery.ad import build_ad_inventory  # noqa: PLC0415 - see Fetch
        from exporter.discovery.ldap import LdapFailure, LdapReason  # noqa: PLC0415

        try:
            data = self._fetch(cfg)
        except LdapFailure as failure:
            return self._failed(failure)
        except Exception as exc:  # noqa: BLE001 - discovery's one net: errors become data
            text = cfg.password.redact(str(exc)) if cfg.password else str(exc)
            return self._failed(
                LdapFailure(LdapReason.INTERNAL_ERROR, f"{cfg.url}: {type(exc).__name__}: {text}")
            )
        inventory = build_ad_inventory(
            data.servers,
            data.scps,
            data.vdirs,
            cfg.sites,
            cfg.servers,
            cfg.components,
            data.surfaces,
        )
        self._last_good, self._last_success = inventory, now
        return inventory, DiscoveryStatus(
            "ldap",
            True,
            len(inventory.servers),
            len(inventory.endpoints),
            now,
            notes=inventory.notes,
        )

    def _failed(self, failure: LdapFailure) -> tuple[AdInventory, DiscoveryStatus]:
        from exporter.discovery.ad import AdInventory  # noqa: PLC0415 - see Fetch

        inventory = self._last_good or AdInventory((), (), ())
        return inventory, DiscoveryStatus(
            "ldap",
            False,
            len(inventory.servers),
            len(inventory.endpoints),
            self._last_success,
            failure.message,
            failure.reason.value,
            stale=self._last_good is not None,
            notes=inventory.notes,
        )
