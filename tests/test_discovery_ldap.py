"""Discovery from a directory: OpenLDAP slapd with the AD-shaped schema and an
Exchange organisation of 1,100+ virtual directories (more than one page)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from exporter.config import ConfigError, load_config_text
from exporter.discovery.ldap import LdapFailure, LdapReason, fetch_directory
from exporter.discovery.sources import Discoverer
from exporter.model import Component, ExchangeVersion
from tests.ad_data import (
    CONFIG_DN,
    EXPECTED_BULK_ENDPOINTS,
    EXPECTED_NAMED,
    assert_mail_inventory,
    organisation,
)
from tests.conftest import LDAP_PASSWORD
from tests.peers.slapd import BIND_DN


def ldap_config(tmp_path: Path, url: str, **ldap: Any) -> Any:
    import yaml

    root = tmp_path / "trust-root.pem"
    if not root.exists():
        from tests.pki import CA

        CA().write(root)
    section = {"url": url, "bind_dn": BIND_DN, "timeout": "2s", **ldap}
    text = yaml.safe_dump({"ldap": section, "trust": {"ca_files": [str(root)], "system": False}})
    return load_config_text(text, "ldap-test.yaml")


@pytest.fixture
def org_slapd(make_slapd):
    return make_slapd(organisation())


def test_discovery_reads_what_outlook_reads(
    org_slapd, tmp_path, password_file, ldap_tls_files
) -> None:
    config = ldap_config(
        tmp_path,
        org_slapd.ldaps_url,
        bind_password_file=str(password_file),
        ca_file=str(ldap_tls_files["ca"]),
        page_size=250,
    )
    inventory = Discoverer(config).discover(time.time())
    (status,) = inventory.statuses
    assert status.success, status.error
    named = {
        (e.server.name, e.component.value)
        for e in inventory.endpoints
        if not e.server.name.startswith("BULK")
    }
    assert named == EXPECTED_NAMED
    bulk = [e for e in inventory.endpoints if e.server.name.startswith("BULK")]
    assert len(bulk) == EXPECTED_BULK_ENDPOINTS  # every page was read
    by_key = {(e.server.name, e.component): e for e in inventory.endpoints}
    servers = {s.name: s for s in inventory.servers}
    assert servers["EXCH07"].version is ExchangeVersion.E2007
    assert servers["EXCH10"].version is ExchangeVersion.E2010
    assert servers["EXCH16"].version is ExchangeVersion.E2016
    assert servers["EXCH19"].version is ExchangeVersion.E2019
    assert servers["EXCH19"].site == "Branch"
    assert servers["EXCH16"].fqdn == "exch16.contoso.local"
    assert "EDGE01" not in servers
    assert "MBX13" not in servers
    assert any(n.startswith("EDGE01: skipped") for n in status.notes)
    assert any(n.startswith("MBX13: skipped") for n in status.notes)
    assert any("pointer SCP" in n and "LDAP://fabrikam.local" in n for n in status.notes)
    scp = by_key[("EXCH10", Component.AUTODISCOVER)]
    assert scp.url == "https://exch10.contoso.local/Autodiscover/Autodiscover.xml"
    assert scp.site_scope == ("HQ",)
    ews10 = by_key[("EXCH10", Component.EWS)]
    assert ews10.external_url == "https://mail.contoso.com/EWS/Exchange.asmx"
    assert ews10.identity == "EWS (Default Web Site)"
    assert by_key[("EXCH10", Component.OWA)].url == ""
    assert by_key[("EXCH07", Component.OAB)].url.startswith("http://")
    # Back-end copies (port 444) are never read as the InternalUrl; the back end is
    # its own component, from the server's FQDN.
    assert all(":444" not in e.url for e in inventory.endpoints if e.component.is_virtual_directory)
    assert by_key[("EXCH16", Component.BACKEND)].url == "https://exch16.contoso.local:444/"
    assert by_key[("EXCH19", Component.AUTH_CERTIFICATE)].url == (
        "https://exch19.contoso.local/autodiscover/metadata/json/1"
    )
    assert ("EXCH10", Component.BACKEND) not in by_key  # 2010 has no back end site
    assert ("CAS13", Component.BACKEND) not in by_key  # nor a 2013 CAS-only server
    assert by_key[("CAS13", Component.AUTH_CERTIFICATE)].url.startswith("https://cas13.")
    # SMTP, IMAP and POP are read only when ldap.components asks for them.
    assert not any(e.component is Component.SMTP for e in inventory.endpoints)
    # The server under "CN=First Administrative Group\, Legacy" was found by its DN.
    assert by_key[("EXCH07", Component.UM)].server.name == "EXCH07"


def test_mail_protocols_from_the_directory(
    org_slapd, tmp_path, password_file, ldap_tls_files
) -> None:
    config = ldap_config(
        tmp_path,
        org_slapd.ldaps_url,
        bind_password_file=str(password_file),
        ca_file=str(ldap_tls_files["ca"]),
        components=["ews", "smtp", "smtp_submission", "imap", "pop"],
    )
    inventory = Discoverer(config).discover(time.time())
    (status,) = inventory.statuses
    assert status.success, status.error
    assert_mail_inventory(inventory, status)


def test_unpaged_search_really_stops_at_1000(
    org_slapd, tmp_path, password_file, ldap_tls_files
) -> None:
    """Negative control for paging: without paging the directory stops at 1000 entries,
    so reading all 1,100+ virtual directories above proves the pages were followed."""
    from ldap3 import SUBTREE, Connection, Server

    from exporter.discovery.ldap import VDIR_FILTER

    conn = Connection(
        Server("127.0.0.1", port=org_slapd.port),
        user=BIND_DN,
        password=LDAP_PASSWORD,
        auto_bind=True,
    )
    conn.search(CONFIG_DN, VDIR_FILTER, search_scope=SUBTREE, attributes=["cn"])
    assert conn.result["description"] == "sizeLimitExceeded"
    assert len(conn.response) == 1000
    conn.unbind()


def test_starttls(org_slapd, tmp_path, password_file, ldap_tls_files) -> None:
    config = ldap_config(
        tmp_path,
        org_slapd.url,
        start_tls=True,
        bind_password_file=str(password_file),
        ca_file=str(ldap_tls_files["ca"]),
        servers=["EXCH16"],
    )
    data = fetch_directory(config.ldap)
    assert data.configuration_dn.lower() == CONFIG_DN.lower()
    inventory = Discoverer(config).discover(time.time())
    assert {s.name for s in inventory.servers} == {"EXCH16"}
    assert len(inventory.endpoints) == 10  # 8 virtual directories, back end, auth metadata


def test_sites_filter(org_slapd, tmp_path, password_file, ldap_tls_files) -> None:
    config = ldap_config(
        tmp_path,
        org_slapd.ldaps_url,
        bind_password_file=str(password_file),
        ca_file=str(ldap_tls_files["ca"]),
        sites=["HQ"],
    )
    inventory = Discoverer(config).discover(time.time())
    assert {s.name for s in inventory.servers} == {"CAS13", "EXCH07", "EXCH10", "EXCH16"}


def test_wrong_ca_is_refused(org_slapd, tmp_path, password_file) -> None:
    from tests.pki import CA

    other = CA("Fabrikam Root").write(tmp_path / "other-ca.pem")
    config = ldap_config(
        tmp_path, org_slapd.ldaps_url, bind_password_file=str(password_file), ca_file=str(other)
    )
    with pytest.raises(LdapFailure) as caught:
        fetch_directory(config.ldap)
    assert caught.value.reason is LdapReason.TLS_ERROR
    # Control: the right CA works (see test_discovery_reads_what_outlook_reads).


def test_wrong_password_is_reported_as_such(
    org_slapd, tmp_path, ldap_tls_files, monkeypatch
) -> None:
    monkeypatch.setenv("EXPORTER_TEST_PW", "not-the-password")
    config = ldap_config(
        tmp_path,
        org_slapd.ldaps_url,
        bind_password_env="EXPORTER_TEST_PW",
        ca_file=str(ldap_tls_files["ca"]),
    )
    with pytest.raises(LdapFailure) as caught:
        fetch_directory(config.ldap)
    assert caught.value.reason is LdapReason.INVALID_CREDENTIALS
    assert "not-the-password" not in str(caught.value)


def test_unreachable_directory(tmp_path, password_file) -> None:
    from tests.peers.dnsmasq import free_port

    config = ldap_config(
        tmp_path, f"ldaps://127.0.0.1:{free_port()}", bind_password_file=str(password_file)
    )
    with pytest.raises(LdapFailure) as caught:
        fetch_directory(config.ldap)
    assert caught.value.reason is LdapReason.UNREACHABLE


def test_directory_stopped_mid_run_keeps_the_last_good_inventory(
    org_slapd, tmp_path, password_file, ldap_tls_files
) -> None:
    config = ldap_config(
        tmp_path,
        org_slapd.ldaps_url,
        bind_password_file=str(password_file),
        ca_file=str(ldap_tls_files["ca"]),
        servers=["EXCH16", "EXCH19"],
    )
    discoverer = Discoverer(config)
    first = discoverer.discover(1000.0)
    assert first.statuses[0].success
    org_slapd.stop()
    second = discoverer.discover(2000.0)
    (status,) = second.statuses
    assert not status.success
    assert status.stale
    assert status.reason == "unreachable"
    assert status.last_success == 1000.0
    assert second.endpoints == first.endpoints
    # A reload with the same directory settings keeps it too; other settings do not.
    assert discoverer.with_config(config).discover(3000.0).endpoints == first.endpoints


@pytest.mark.parametrize("tls", ["start_tls", "ldaps"])
def test_hung_directory_times_out(
    org_slapd, tmp_path, password_file, ldap_tls_files, tls: str
) -> None:
    """A hung directory is a timeout, whether it hangs before or inside TLS."""
    config = ldap_config(
        tmp_path,
        org_slapd.url if tls == "start_tls" else org_slapd.ldaps_url,
        **({"start_tls": True} if tls == "start_tls" else {}),
        timeout="1s",
        bind_password_file=str(password_file),
        ca_file=str(ldap_tls_files["ca"]),
    )
    org_slapd.pause()
    try:
        start = time.monotonic()
        with pytest.raises(LdapFailure) as caught:
            fetch_directory(config.ldap)
        assert caught.value.reason is LdapReason.TIMEOUT
        assert time.monotonic() - start < 5
    finally:
        org_slapd.resume()


def test_plaintext_bind_is_refused_unless_allowed(tmp_path, password_file) -> None:
    with pytest.raises(ConfigError) as caught:
        ldap_config(tmp_path, "ldap://127.0.0.1:389", bind_password_file=str(password_file))
    assert caught.value.lines() == [
        "ldap-test.yaml:5: ldap.url: a simple bind over unencrypted ldap:// sends the password "
        "in clear: use ldaps://, start_tls: true, or set allow_insecure: true"
    ]
    ldap_config(
        tmp_path, "ldap://127.0.0.1:389", bind_password_file=str(password_file), allow_insecure=True
    )


def test_allowed_plaintext_bind_works(org_slapd, tmp_path, password_file) -> None:
    config = ldap_config(
        tmp_path,
        org_slapd.url,
        bind_password_file=str(password_file),
        allow_insecure=True,
        servers=["EXCH10"],
    )
    assert len(Discoverer(config).discover(time.time()).endpoints) == 3


def test_secret_never_in_config_repr(tmp_path, password_file) -> None:
    config = ldap_config(tmp_path, "ldaps://127.0.0.1", bind_password_file=str(password_file))
    assert LDAP_PASSWORD not in repr(config)
    assert LDAP_PASSWORD not in str(config.ldap)
    assert "<secret>" in repr(config.ldap)
    assert config.ldap.password.reveal() == LDAP_PASSWORD


def test_static_servers_are_parsed_once_per_config(tmp_path) -> None:
    """Each cycle reuses the config's parsed endpoints; only the status is new."""
    import yaml

    root = tmp_path / "root.pem"
    from tests.pki import CA

    CA().write(root)
    text = yaml.safe_dump(
        {
            "servers": [
                {
                    "name": "EXCH01",
                    "fqdn": "exch01.contoso.local",
                    "urls": {"ews": "https://mail.contoso.com/EWS/Exchange.asmx"},
                }
            ],
            "trust": {"ca_files": [str(root)], "system": False},
        }
    )
    discoverer = Discoverer(load_config_text(text, "static.yaml"))
    first, second = discoverer.discover(100.0), discoverer.discover(200.0)
    assert second.endpoints == first.endpoints
    assert second.endpoints[0] is first.endpoints[0]
    assert [s.last_success for s in (*first.statuses, *second.statuses)] == [100.0, 200.0]
    assert second.statuses[0].endpoints == 1
