"""Discovery against a real Active Directory: Samba's AD DC, provisioned by the test,
its schema extended with the msExch* classes, holding the Exchange organisation
of tests/ad_data.py (1,100+ virtual directories: more than one AD page).

Samba's LDAP ports are fixed (389/636): scripts/check runs the suite in a private
network namespace, where they are free. Samba does not enforce AD's MaxPageSize
on unpaged searches, so the negative control for paging runs against slapd
(tests/test_discovery_ldap.py), which is configured with the 1000-entry limit.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml
from ldap3 import SUBTREE

from exporter.config import load_config_text
from exporter.discovery.ldap import (
    SCP_FILTER,
    LdapFailure,
    LdapReason,
    fetch_directory,
)
from exporter.discovery.sources import Discoverer
from exporter.model import Component, ExchangeVersion
from tests.ad_data import (
    CONFIG_DN,
    EXPECTED_BULK_ENDPOINTS,
    EXPECTED_NAMED,
    URL_KEYWORD,
    assert_mail_inventory,
    organisation,
)
from tests.conftest import LDAP_PASSWORD
from tests.peers.samba import BIND_DN, SambaDC


@pytest.fixture(scope="module")
def samba(tmp_path_factory, issuing_ca, root_ca):
    workdir = tmp_path_factory.mktemp("samba")
    cert, key = issuing_ca.issue("dc01.contoso.local", ips=("127.0.0.1",)).write(workdir, "dc01")
    ca = root_ca.write(workdir / "ca.pem")
    dc = SambaDC(workdir, LDAP_PASSWORD, cert, key, ca)
    try:
        dc.extend_schema()
        dc.load(organisation(site_class="site"))
        dc.ca = ca
        yield dc
    finally:
        dc.stop()


def config_for(tmp_path: Path, samba, **ldap):
    pw = tmp_path / "pw"
    pw.write_text(LDAP_PASSWORD)
    section = {
        "url": "ldaps://127.0.0.1",
        "bind_dn": BIND_DN,
        "bind_password_file": str(pw),
        "ca_file": str(samba.ca),
        "timeout": "10s",
        **ldap,
    }
    root = tmp_path / "trust.pem"
    root.write_bytes(Path(samba.ca).read_bytes())
    text = yaml.safe_dump({"ldap": section, "trust": {"ca_files": [str(root)], "system": False}})
    return load_config_text(text, "samba.yaml")


def test_discovery_from_active_directory(samba, tmp_path) -> None:
    config = config_for(tmp_path, samba)
    inventory = Discoverer(config).discover(time.time())
    (status,) = inventory.statuses
    assert status.success, status.error
    named = {
        (e.server.name, e.component.value)
        for e in inventory.endpoints
        if not e.server.name.startswith("BULK")
    }
    assert named == EXPECTED_NAMED
    assert (
        len([e for e in inventory.endpoints if e.server.name.startswith("BULK")])
        == EXPECTED_BULK_ENDPOINTS
    )
    servers = {s.name: s for s in inventory.servers}
    assert servers["EXCH07"].version is ExchangeVersion.E2007
    assert servers["EXCH19"].site == "Branch"
    assert "EDGE01" not in servers
    assert "MBX13" not in servers
    by_key = {(e.server.name, e.component): e for e in inventory.endpoints}
    assert by_key[("EXCH16", Component.AUTODISCOVER)].site_scope == ("HQ",)
    assert by_key[("EXCH10", Component.OWA)].url == ""
    assert any("pointer SCP" in n for n in status.notes)


def test_mail_protocols_from_active_directory(samba, tmp_path) -> None:
    config = config_for(
        tmp_path, samba, components=["ews", "smtp", "smtp_submission", "imap", "pop"]
    )
    inventory = Discoverer(config).discover(time.time())
    (status,) = inventory.statuses
    assert status.success, status.error
    assert_mail_inventory(inventory, status)


def test_configuration_nc_comes_from_the_rootdse(samba, tmp_path) -> None:
    data = fetch_directory(config_for(tmp_path, samba).ldap)
    assert data.configuration_dn.lower() == CONFIG_DN.lower()


def test_same_scps_as_outlooks_lookup(samba, tmp_path) -> None:
    """Discovery reads the URL SCPs that the client lookup (MS-OXDISCO) reads."""
    conn = samba.admin()
    conn.search(
        CONFIG_DN,
        SCP_FILTER,
        search_scope=SUBTREE,
        attributes=["serviceBindingInformation", "keywords"],
    )
    outlook = {
        str(e.serviceBindingInformation)
        for e in conn.entries
        if URL_KEYWORD.lower() in [str(k).lower() for k in e.keywords]
    }
    conn.unbind()
    inventory = Discoverer(config_for(tmp_path, samba)).discover(time.time())
    ours = {e.url for e in inventory.endpoints if e.component is Component.AUTODISCOVER}
    # MBX13 and EDGE01 have no SCP; every URL SCP belongs to a client-access server.
    assert ours == outlook


def test_wrong_password_against_ad(samba, tmp_path) -> None:
    (tmp_path / "pw").write_text("wrong-password")
    bad = load_config_text(
        yaml.safe_dump(
            {
                "ldap": {
                    "url": "ldaps://127.0.0.1",
                    "bind_dn": BIND_DN,
                    "bind_password_file": str(tmp_path / "pw"),
                    "ca_file": str(samba.ca),
                },
                "trust": {"ca_files": [str(samba.ca)], "system": False},
            }
        ),
        "bad.yaml",
    )
    with pytest.raises(LdapFailure) as caught:
        fetch_directory(bad.ldap)
    assert caught.value.reason is LdapReason.INVALID_CREDENTIALS
    assert "wrong-password" not in str(caught.value)


def test_plain_ldap_when_allowed(samba, tmp_path) -> None:
    config = config_for(
        tmp_path, samba, url="ldap://127.0.0.1", allow_insecure=True, servers=["EXCH10"]
    )
    assert len(Discoverer(config).discover(time.time()).endpoints) == 3


def test_ad_cs_aia_and_cdp_urls_read_from_active_directory(samba, tmp_path) -> None:
    """The ldap:/// URLs AD CS writes into certificates, read from a real AD through
    the configured directory, as a domain member's chain engine reads them."""
    from exporter.lab.pki import CA
    from exporter.pki.fetch import FetchCache, Fetcher
    from exporter.probe.dns import DnsResolver
    from tests.ad_data import Obj

    services = f"CN=Public Key Services,CN=Services,{CONFIG_DN}"
    issuing = CA("Contoso Samba Issuing CA", parent=CA("Contoso Samba Root"))
    crl = issuing.crl()
    samba.load(
        [
            Obj(
                f"CN=Contoso Samba Issuing CA,CN=AIA,{services}",
                ["certificationAuthority"],
                {
                    "cACertificate": [issuing.der()],
                    "certificateRevocationList": [crl],
                    "authorityRevocationList": [crl],
                },
            ),
            Obj(f"CN=DC01,CN=CDP,{services}", ["container"]),
            Obj(
                f"CN=Contoso Samba Issuing CA,CN=DC01,CN=CDP,{services}",
                ["cRLDistributionPoint"],
                {"certificateRevocationList": [crl]},
            ),
        ]
    )
    config = config_for(tmp_path, samba)
    fetcher = Fetcher(DnsResolver((("127.0.0.1", 9),), 1.0), config.ldap, FetchCache())
    name = "CN=Contoso%20Samba%20Issuing%20CA"
    aia = f"ldap:///{name},CN=AIA,{services}?cACertificate?base?objectClass=certificationAuthority"
    cdp = (
        f"ldap:///{name},CN=DC01,CN=CDP,{services}"
        "?certificateRevocationList?base?objectClass=cRLDistributionPoint"
    )
    for url, expected in ((aia, issuing.der()), (cdp, crl)):
        fetched = fetcher.fetch(url, max_bytes=1 << 20, max_age=60, timeout=10)
        assert fetched.error is None, fetched.error
        assert fetched.body == expected
    # Control: an entry that is not there is an error naming it, not an empty body.
    missing = fetcher.fetch(
        aia.replace("Samba%20Issuing", "Nobody"), max_bytes=1 << 20, max_age=60, timeout=10
    )
    assert missing.body is None
    assert "has no cACertificate" in (missing.error or "")
