"""The landing page as a person sees it: headless Debian Chromium driven by Playwright.
A screenshot is saved to test-artifacts/ for humans to look at."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).parent.parent / "test-artifacts"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def browser_page(tmp_path: Path):
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        context = browser.new_context(
            permissions=["clipboard-read", "clipboard-write"],
            viewport={"width": 1400, "height": 900},
        )
        yield context.new_page()
        browser.close()


def test_admin_sees_the_mismatch_and_copies_the_fix(kb_lab, start_exporter, browser_page) -> None:
    path, port, _ = kb_lab
    exporter = start_exporter(path)
    page = browser_page
    page.goto(exporter.base + "/")
    assert page.title() == "Exchange internal URL certificates"
    rows = page.locator("#endpoints tr[id^=ep-]")
    assert rows.count() == 4
    ews = page.locator("#ep-1")
    assert ews.locator("td").nth(0).inner_text() == "EXCH01"
    assert ews.locator("td").nth(1).inner_text() == "ews"
    assert ews.locator("td").nth(3).inner_text().endswith("FAIL")  # Name
    assert ews.locator("td").nth(4).inner_text().endswith("OK")  # Issuer
    status = ews.locator("td.status")
    assert status.inner_text() == "CRITICAL"
    assert status.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(179, 38, 30)"
    healthy = page.locator("#ep-3 td.status")
    assert healthy.inner_text() == "OK"
    assert healthy.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(23, 112, 58)"
    command = (
        "Set-WebServicesVirtualDirectory -Identity 'EXCH01\\EWS (Default Web Site)' "
        f"-InternalUrl 'https://mail.contoso.com:{port}/EWS/Exchange.asmx'"
    )
    fix = page.locator("pre", has_text="Set-WebServicesVirtualDirectory")
    assert fix.is_visible()
    assert fix.inner_text() == command
    button = page.locator(f"button[data-target='{fix.get_attribute('id')}']")
    button.click()
    assert page.evaluate("navigator.clipboard.readText()") == command
    assert button.inner_text() == "Copied"
    assert page.get_by_text(
        "not among the certificate's subject alternative names"
    ).first.is_visible()
    assert page.locator("a[href='/metrics']").is_visible()
    # Issue #16 item 3: EXCH01's three URLs are one namespace: its certificate shows
    # once above them, not under each; its fixes once each, below them.
    namespaces = page.locator("#endpoints tr.namespace")
    assert namespaces.count() == 2
    first = namespaces.nth(0).inner_text()
    assert first.startswith(f"exch01.contoso.local:{port}")
    assert page.get_by_text("Certificate: CN=mail.contoso.com").count() == 1
    assert "(EXCH01)" in first
    assert page.locator("pre", has_text="Restart-WebAppPool").count() == 1
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "landing-page.png"), full_page=True)


def test_page_before_the_first_refresh(
    kb_lab, start_exporter, browser_page, make_dns, write_config, root_file
) -> None:
    """A silent peer keeps the first refresh running: the page says so, not an error."""
    from tests.conftest import lab_config
    from tests.peers import hostile

    silent = hostile.TcpPeer("127.0.3.8", hostile.silent)
    try:
        dns = make_dns({"slow.contoso.local": ["127.0.3.8"]})
        config = lab_config(
            [
                {
                    "name": "SLOW",
                    "fqdn": "slow.contoso.local",
                    "urls": {"ews": f"https://slow.contoso.local:{silent.port}/EWS"},
                }
            ],
            dns,
            [root_file],
        )
        config["probe"] = {"interval": "1m", "timeout": "20s", "concurrency": 1}
        exporter = start_exporter(write_config(config), ready=False)
        page = browser_page
        for _ in range(50):
            try:
                page.goto(exporter.base + "/")
                break
            except Exception:  # noqa: BLE001 - not listening yet
                page.wait_for_timeout(100)
        assert page.get_by_text("The first refresh is still running.").is_visible()
        assert exporter.get("/-/ready")[0] == 503
    finally:
        silent.close()


def test_the_worst_rows_come_first_and_the_page_reloads_itself(
    make_tls, make_dns, write_config, root_file, issuing_ca, start_exporter, browser_page
) -> None:
    """Issue #17 item 9: in the inventory's order ok, warning, critical; on the page
    critical, warning, ok, with the days cells coloured and a reload at the interval."""
    from tests.conftest import lab_config
    from tests.pki import DAY, NOW

    certs = {
        "EXCH01": issuing_ca.issue("mail1.contoso.com"),  # ok
        "EXCH02": issuing_ca.issue("mail2.contoso.com", not_after=NOW + 20 * DAY),  # warning
        "EXCH03": issuing_ca.issue("mail3.contoso.com", not_after=NOW + 3 * DAY),  # critical
    }
    servers, records = [], {}
    for n, (name, cert) in enumerate(certs.items(), start=1):
        tls = make_tls(f"127.0.6.{20 + n}", cert)
        host = f"mail{n}.contoso.com"
        records[host] = [tls.address]
        servers.append(
            {
                "name": name,
                "fqdn": f"{name.lower()}.contoso.local",
                "addresses": [tls.address],
                "urls": {"ews": f"https://{host}:{tls.port}/EWS/Exchange.asmx"},
            }
        )
    config = lab_config(servers, make_dns(records), [root_file])
    config["probe"] = {"interval": "45s", "timeout": "3s"}
    exporter = start_exporter(write_config(config))
    page = browser_page
    page.goto(exporter.base + "/")
    rows = page.locator("#endpoints tr[id^=ep-]")
    order = [rows.nth(i).locator("td").nth(0).inner_text() for i in range(rows.count())]
    assert order == ["EXCH03", "EXCH02", "EXCH01"]
    colours = [
        rows.nth(i).locator("td.days").evaluate("e => getComputedStyle(e).backgroundColor")
        for i in range(3)
    ]
    assert colours[0] == "rgb(179, 38, 30)"  # inside expiry_critical
    assert colours[1] == "rgb(242, 192, 55)"  # inside expiry_warning
    assert colours[2] == "rgba(0, 0, 0, 0)"  # control: no colour when fine
    assert page.locator("meta[http-equiv=refresh]").get_attribute("content") == "45"
    assert page.locator("#overall").inner_text().strip() == "CRITICAL"
    assert "s ago, took" in page.locator("header p").inner_text()
    page.screenshot(path=str(ARTIFACTS / "landing-page-sorted.png"), full_page=True)
