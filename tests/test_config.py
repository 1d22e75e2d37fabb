"""Configuration: strict, every problem at once, one line each with file, line and key."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from exporter.config import ConfigError, load_config, load_config_text
from exporter.config.durations import format_duration, parse_duration
from exporter.discovery.static import discover_static
from exporter.model import Component, ExchangeVersion, Target, parse_url
from tests.conftest import run_exporter

DATA = Path(__file__).parent / "data" / "config"
ROOT = Path(__file__).parent.parent

EXPECTED = {
    "invalid-address.yaml": ["4: servers[0].addresses[0]: '10.0.0.300' is not an IP address"],
    "invalid-bad-duration.yaml": [
        "6: probe.timeout: '10 seconds' is not a duration such as 800ms, 10s, 5m, 1h30m or 30d"
    ],
    "invalid-bad-url.yaml": [
        "4: servers[0].urls.ews: 'ftp://exch01.contoso.local/EWS' is not a usable URL: "
        "scheme 'ftp' is not http or https"
    ],
    "invalid-ca-file.yaml": [
        "7: trust.ca_files[0]: cannot read /nonexistent/root.pem: No such file or directory",
        "8: trust.ca_files[1]: /etc/hostname holds no PEM certificate",
    ],
    "invalid-concurrency.yaml": ["5: probe.concurrency: must be at least 1, got 0"],
    "invalid-duplicate-key.yaml": [
        "6: probe: key appears twice",
        "6: probe.timeout: must be more than 0s",
    ],
    "invalid-duplicate-server.yaml": ["5: servers[1].name: server 'exch01' is listed twice"],
    "invalid-many.yaml": [
        "4: servers[0].colour: unknown key (expected one of: addresses, external_urls, fqdn, "
        "name, site, tls_certificate_names, urls, version)",
        "6: probe.timeout: 'soon' is not a duration such as 800ms, 10s, 5m, 1h30m or 30d",
        "7: thresholds.expiry_warning: '1x' is not a duration such as 800ms, 10s, 5m, 1h30m or 30d",
    ],
    "invalid-fetch-limits.yaml": [
        "5: aia.max_urls: must be at least 1, got 0",
        "5: aia.chain_budget: must not be shorter than aia.timeout",
        "6: revocation.max_urls: expected a whole number, got str 'many'",
    ],
    "invalid-missing-fqdn.yaml": ["2: servers[0].fqdn: is required"],
    "invalid-clients.yaml": [
        "5: clients[1]: unknown client family 'android' (expected outlook, apple, browser)",
        "7: client_components.apple[1]: unknown component 'fax' (expected autodiscover, ews, "
        "oab, um, owa, ecp, eas, mapi, outlook_anywhere, smtp, smtp_submission, imap, pop, "
        "backend, auth_certificate)",
        "8: client_components.firefox: unknown client family (expected outlook, apple, browser)",
    ],
    # Checked where they enter, before any becomes a command (issues #23, #26).
    "invalid-hostile-names.yaml": [
        "3: servers[0].fqdn: 'exch01.contoso.local;invoke-something' is not a valid DNS name",
        "2: servers[0].name: 'EXCH01\\x1b[2J' has control characters",
        "5: servers[0].urls.ews: 'exch01.contoso.local/EWS/Exchange.asmx' is not a usable URL: "
        "no scheme: write the whole URL (https://HOST/PATH)",
        "6: servers[0].urls.oab: 'https://mail fabrikam.test/OAB' is not a usable URL: "
        "'https://mail fabrikam.test/OAB' has white space or control characters",
        "7: servers[0].urls.ecp: 'https://mail.contoso.com\\n/ecp' is not a usable URL: "
        "'https://mail.contoso.com\\x0a/ecp' has white space or control characters",
    ],
    # URLs as a newcomer writes them (issue #26): each refused with the key, before a fix.
    "invalid-url-no-scheme.yaml": [
        "5: servers[0].urls.ews: 'exch01.fabrikam.test/EWS/Exchange.asmx' is not a usable URL: "
        "no scheme: write the whole URL (https://HOST/PATH)"
    ],
    # The bare-host shorthand is only for the components the README gives it to.
    "invalid-url-bare-host.yaml": [
        "5: servers[0].urls.ews: 'mail.fabrikam.test' is not a usable URL: "
        "no scheme: write the whole URL (https://HOST/PATH)"
    ],
    "invalid-url-bare-host-path.yaml": [
        "5: servers[0].urls.outlook_anywhere: 'mail.fabrikam.test/rpc/rpcproxy.dll' is not a "
        "usable URL: no scheme: a bare host name has no path; write the whole URL"
    ],
    "invalid-url-space.yaml": [
        "5: servers[0].urls.oab: 'https://mail fabrikam.test/OAB' is not a usable URL: "
        "'https://mail fabrikam.test/OAB' has white space or control characters"
    ],
    "invalid-url-bad-host.yaml": [
        "5: servers[0].urls.owa: 'https://mail..fabrikam.test/owa' is not a usable URL: "
        "host 'mail..fabrikam.test' is not a valid DNS name"
    ],
    "invalid-nameserver.yaml": [
        "5: dns.nameservers[0]: 'dc01.contoso.local' is not an IP address (with an optional :port)"
    ],
    "invalid-no-anchors.yaml": [
        "5: trust: no trust anchors: give trust.ca_files or set trust.system: true"
    ],
    "invalid-no-servers.yaml": [
        "1: servers: no Exchange servers configured: list them under servers: "
        "or discover them with ldap:"
    ],
    "invalid-not-a-mapping.yaml": [
        "1: (top level): the file must be a mapping of sections (servers:, ...)"
    ],
    "invalid-number-duration.yaml": [
        "6: probe.interval: expected a duration such as 800ms, 10s, 5m or 30d, got the number 300"
    ],
    "invalid-servers-type.yaml": ["1: servers: expected a list, got a mapping"],
    "invalid-revocation.yaml": [
        "6: aia.retries: unknown key (expected one of: chain_budget, enabled, max_urls, timeout)",
        "5: revocation.enabled: expected true or false, got str 'sometimes'",
        "5: revocation.timeout: must be more than 0s",
    ],
    "invalid-thresholds.yaml": [
        "5: thresholds.expiry_critical: must not be longer than thresholds.expiry_warning"
    ],
    "invalid-timeout-vs-interval.yaml": ["5: probe.timeout: must be shorter than probe.interval"],
    "invalid-unknown-component.yaml": [
        "6: servers[0].urls.ewss: unknown key (expected one of: auth_certificate, autodiscover, "
        "backend, eas, ecp, ews, imap, mapi, oab, outlook_anywhere, owa, pop, smtp, "
        "smtp_submission, um)"
    ],
    "invalid-unknown-top.yaml": [
        "6: probes: unknown key (expected one of: aia, client_components, clients, dns, ldap, "
        "probe, revocation, servers, "
        "thresholds, trust)"
    ],
    "invalid-version.yaml": [
        "4: servers[0].version: '2003' is not an Exchange version "
        "(one of: 2007, 2010, 2013, 2016, 2019, SE)"
    ],
    "invalid-yaml-syntax.yaml": [
        "4: (top level): not valid YAML: expected ',' or ']', but got '<stream end>'"
    ],
}


def test_every_invalid_file_has_an_expectation() -> None:
    assert sorted(p.name for p in DATA.glob("invalid-*.yaml")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_invalid_config_reports_each_problem_on_one_line(name: str) -> None:
    path = DATA / name
    with pytest.raises(ConfigError) as caught:
        load_config(str(path))
    assert caught.value.lines() == [f"{path}:{line}" for line in EXPECTED[name]]


def test_url_shorthands_and_an_ipv6_literal_are_accepted() -> None:
    """The negative controls of the invalid-url-*.yaml files: a bare host name where
    the README gives it a meaning (``servers[].urls``, the TLS surfaces' table), and a
    bracketed IPv6 literal with a port."""
    config = load_config(str(DATA / "valid-url-shorthands.yaml"))
    (entry,) = config.servers
    inventory = discover_static(config.servers, 0.0)
    assert len(inventory.endpoints) == len(entry.urls)
    targets = {e.component: e.target for e in inventory.endpoints if e.url_error is None}
    assert targets == {
        Component.OUTLOOK_ANYWHERE: Target("https", "mail.fabrikam.test", 443, "/rpc/rpcproxy.dll"),
        Component.SMTP: Target("smtp", "exch01.fabrikam.test", 25, "/"),
        Component.SMTP_SUBMISSION: Target("smtp", "exch01.fabrikam.test", 587, "/"),
        Component.IMAP: Target("imaps", "exch01.fabrikam.test", 993, "/"),
        Component.POP: Target("pop3s", "exch01.fabrikam.test", 995, "/"),
        Component.BACKEND: Target("https", "exch01.fabrikam.test", 444, "/"),
        Component.AUTH_CERTIFICATE: Target(
            "https", "autodiscover.fabrikam.test", 443, "/autodiscover/metadata/json/1"
        ),
        Component.EWS: Target("https", "::1", 8443, "/EWS"),
    }
    # The config keeps each URL as written: the report shows what the admin configured.
    assert entry.urls[Component.SMTP] == "exch01.fabrikam.test"
    assert entry.urls[Component.EWS] == "https://[::1]:8443/EWS"


def test_readme_says_which_components_take_a_bare_host_and_what_it_means() -> None:
    """The README's sentence, held to parse_url: the components it lists take a bare
    host name and mean what it says; every other component refuses one."""
    readme = (ROOT / "README.md").read_text()
    said = re.search(
        r"A bare host name \(no scheme, no path\) is accepted for (.*?) only, "
        r"and means (.*?); every other component needs the whole URL",
        readme,
    )
    assert said, "the README's bare-host sentence"
    components = [Component(c) for c in re.findall(r"`(\w+)`", said.group(1))]
    meanings = re.findall(r"`([^`]+)`", said.group(2))
    assert len(components) == len(meanings)
    for component, meaning in zip(components, meanings, strict=True):
        host = "mail.fabrikam.test"
        assert parse_url(host, component) == parse_url(meaning.replace("HOST", host), component)
    for component in set(Component) - set(components):
        with pytest.raises(ValueError, match="no scheme: write the whole URL"):
            parse_url("mail.fabrikam.test", component)


def test_example_config_loads_with_every_component_it_shows() -> None:
    config = load_config(str(ROOT / "config.example.yaml"))
    (server,) = config.servers
    assert server.name == "EXCH01"
    assert server.version is ExchangeVersion.E2016
    assert server.addresses == ("10.0.0.21",)
    assert Component.OUTLOOK_ANYWHERE in server.urls
    assert set(server.urls) == set(Component) - {Component.UM}  # every one but 2007's
    assert config.probe.interval == 300
    assert config.thresholds.expiry_warning == 30 * 86400
    assert config.trust.store.anchors  # the system store


def test_defaults_and_nameserver_ports(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    from tests.pki import CA

    CA().write(ca)
    config = load_config_text(
        f"servers: [{{name: A, fqdn: a.contoso.local, urls: {{ews: https://a/EWS}}}}]\n"
        f"trust: {{ca_files: [{ca}], system: false}}\n"
        "dns: {nameservers: ['127.0.0.1:5353', '10.0.0.1', '[::1]:53']}\n",
        "inline.yaml",
    )
    assert config.dns.nameservers == (("127.0.0.1", 5353), ("10.0.0.1", 53), ("::1", 53))
    assert config.probe.timeout == 10
    assert config.probe.concurrency == 16
    assert len(config.trust.store.anchors) == 1


def test_intermediates_in_ca_files_are_not_anchors(tmp_path: Path) -> None:
    from tests.pki import CA

    root = CA()
    inter = CA("Issuing", parent=root)
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(root.pem() + inter.pem())
    config = load_config_text(
        f"servers: [{{name: A, fqdn: a.b.c, urls: {{ews: https://a.b.c/EWS}}}}]\n"
        f"trust: {{ca_files: [{bundle}], system: false}}\n",
        "inline.yaml",
    )
    assert [c.subject for c in config.trust.store.anchors] == [root.cert.subject]
    assert [c.subject for c in config.trust.store.intermediates] == [inter.cert.subject]


def test_unreadable_file_is_one_problem(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(str(tmp_path / "missing.yaml"))
    assert caught.value.lines() == [
        f"{tmp_path / 'missing.yaml'}: (top level): cannot read: No such file or directory"
    ]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("800ms", 0.8),
        ("10s", 10),
        ("5m", 300),
        ("1h30m", 5400),
        ("30d", 2592000),
        ("2w", 1209600),
        ("1y", 31536000),
        ("1.5s", 1.5),
        ("0s", 0),
    ],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    "text", ["", "10", "0", "s", "10 s", "5m1h", "1h1h", "-5s", "1.s", "10sec"]
)
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match=r"duration|largest"):
        parse_duration(text)


@pytest.mark.parametrize("seconds", [0.8, 10, 300, 5400, 2592000, 90061.5])
def test_format_duration_round_trips(seconds: float) -> None:
    assert parse_duration(format_duration(seconds)) == pytest.approx(seconds)


def test_probe_processes_is_deprecated_accepted_and_ignored(tmp_path: Path) -> None:
    text = "servers:\n  - name: EXCH01\n    fqdn: exch01.contoso.local\n    urls:\n"
    text += "      ews: https://127.0.0.1:9/EWS/Exchange.asmx\n    addresses: [127.0.0.1]\n"
    text += "trust:\n  system: true\nprobe:\n  processes: 2\n"
    path = tmp_path / "old.yaml"
    path.write_text(text)
    config = load_config(str(path))
    assert config.notices == (
        f"{path}:10: probe.processes: is deprecated and ignored: worker processes measured "
        "no faster than one process (benchmarks/RESULTS.md); remove the key",
    )
    assert not hasattr(config.probe, "processes")
    # A bad value is still an error, not a notice.
    path.write_text(text.replace("processes: 2", "processes: many"))
    with pytest.raises(ConfigError, match=r"probe\.processes"):
        load_config(str(path))
    path.write_text(text)
    result = run_exporter("report", "--config.file", str(path), "--format", "json")
    assert result.returncode == 2  # the probe is refused: critical, but it ran
    assert result.stderr == (f"exchange-cert-exporter: warning: {config.notices[0]}\n")
