"""The landing page as a person sees it: headless Debian Chromium driven by Playwright.
A screenshot is saved to test-artifacts/ for humans to look at."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from tests.peers.chromium_nss import CHROMIUM, FLAGS

ARTIFACTS = Path(__file__).parent.parent / "test-artifacts"


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
        code, body, _ = exporter.get("/api/v1/status")
        assert code == 503
        assert json.loads(body)["status"] == "starting"
        assert json.loads(body)["reload"]["ok"] is True
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


# Where a rendered element's text wraps: (up to 12 characters before each line
# break, up to 12 after), read from the layout (each character's box), not the CSS.
LINE_BREAKS = """el => {
  const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
  const chars = [];
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    for (let i = 0; i < n.length; i++) {
      const r = document.createRange();
      r.setStart(n, i);
      r.setEnd(n, i + 1);
      const box = r.getClientRects()[0];
      if (box) chars.push([n.data[i], box.top]);
    }
  }
  const text = k => chars.slice(Math.max(0, k), Math.max(0, k + 12)).map(c => c[0]).join('');
  const out = [];
  for (let i = 1; i < chars.length; i++) {
    if (chars[i][1] > chars[i - 1][1] + 2) out.push([text(i - 12), text(i)]);
  }
  return out;
}"""


def _mid_word(page, selector: str) -> list[tuple[str, str]]:
    """Line breaks inside a word (not after a space) in every element ``selector`` finds."""
    return [
        (before, after)
        for el in page.locator(selector).all()
        for before, after in el.evaluate(LINE_BREAKS)
        if not (before.endswith((" ", "\n")) or after.startswith(" "))
    ]


def _off_boundary(page, selector: str) -> list[tuple[str, str]]:
    """URL breaks anywhere but after / - _ : or before . ? & # =."""
    return [
        (before, after)
        for el in page.locator(selector).all()
        for before, after in el.evaluate(LINE_BREAKS)
        if not (
            before.endswith(("/", "-", "_", ":")) or after.startswith((".", "?", "&", "#", "="))
        )
    ]


@pytest.fixture
def wide_lab(make_tls, make_dns, write_config, root_file, issuing_ca):
    """EXCH01 shows KB 940726 on four long URLs (so long fixes); EXCH02 presents a
    certificate that expired three days ago; EXCH03 is healthy."""
    from tests.conftest import lab_config
    from tests.pki import DAY, NOW

    mail = make_tls("127.0.3.1", issuing_ca.issue("mail.contoso.com", "autodiscover.contoso.com"))
    expired = make_tls(
        "127.0.3.2",
        issuing_ca.issue(
            "exch02.contoso.local", not_before=NOW - 400 * DAY, not_after=NOW - 3 * DAY
        ),
    )
    good = make_tls("127.0.3.3", issuing_ca.issue("exch03.contoso.local"))
    dns = make_dns(
        {
            "exch01.contoso.local": ["127.0.3.1"],
            "mail.contoso.com": ["127.0.3.1"],
            "exch02.contoso.local": ["127.0.3.2"],
            "exch03.contoso.local": ["127.0.3.3"],
        }
    )
    base = f"https://exch01.contoso.local:{mail.port}"
    servers = [
        {
            "name": "EXCH01",
            "fqdn": "exch01.contoso.local",
            "urls": {
                "autodiscover": f"{base}/Autodiscover/Autodiscover.xml",
                "ews": f"{base}/EWS/Exchange.asmx",
                "oab": f"{base}/OAB",
                "mapi": f"{base}/mapi",
            },
        },
        {
            "name": "EXCH02",
            "fqdn": "exch02.contoso.local",
            "urls": {"ews": f"https://exch02.contoso.local:{expired.port}/EWS/Exchange.asmx"},
        },
        {
            "name": "EXCH03",
            "fqdn": "exch03.contoso.local",
            "urls": {"ews": f"https://exch03.contoso.local:{good.port}/EWS/Exchange.asmx"},
        },
    ]
    return write_config(lab_config(servers, dns, [root_file]))


@pytest.mark.parametrize("width", [800, 1920])
def test_the_page_reads_at_800_and_1920_pixels(
    wide_lab, start_exporter, browser_page, width: int
) -> None:
    """Issue #26 items 2 and 3: at either width nothing is cut off (Status, Copy),
    commands wrap only at spaces, URLs only at their boundaries, every heading says
    what it checks, the legend says what the marks mean, and an expired
    certificate's days are red."""
    exporter = start_exporter(wide_lab)
    page = browser_page
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(exporter.base + "/")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    wrap = page.locator(".table-wrap")
    assert wrap.evaluate("e => e.scrollWidth <= e.clientWidth")  # no scrolling needed
    statuses = page.locator("#endpoints tr[id^=ep-] td.status")
    assert statuses.count() == 6
    for status in statuses.all():
        box = status.bounding_box()
        assert box is not None
        assert box["width"] > 40
        assert box["x"] + box["width"] <= width
    buttons = page.locator("button.copy")
    assert buttons.count() >= 5
    for button in buttons.all():
        box = button.bounding_box()
        assert box is not None
        assert box["x"] >= 0
        assert box["x"] + box["width"] <= width
    # Commands: at least one wraps at this width (so the check below says something),
    # and none inside a word (the old page broke Serve|r and Se|t-AuthConfig).
    pres = page.locator("pre")
    assert any(pre.evaluate(LINE_BREAKS) for pre in pres.all()) or width == 1920
    assert _mid_word(page, "pre") == []
    assert _off_boundary(page, "#endpoints td.url") == []
    # Each URL keeps whole words on a line: never a character or two at a time.
    for url in page.locator("#endpoints td.url").all():
        lines = url.evaluate(LINE_BREAKS)
        assert len(lines) <= 3, lines
    # Every heading has a tooltip; the legend names the three marks.
    headings = page.locator("#endpoints th")
    assert headings.count() == 11
    for th in headings.all():
        assert (th.get_attribute("title") or "").strip()
    assert "CRL or OCSP" in (
        page.locator("th", has_text="Not revoked").get_attribute("title") or ""
    )
    legend = page.locator("#legend")
    assert legend.is_visible()
    for mark in ("\u2714 OK", "\u2718 FAIL", "\u2013 not judged"):
        assert mark in legend.inner_text()
    not_judged = page.locator("#ep-0 td.check").nth(5)  # Not revoked: no CRL or OCSP named
    assert (not_judged.get_attribute("title") or "").startswith("not judged")
    # Issue #26 item 2: an expired certificate's days are critical, not OK.
    expired = page.locator("#endpoints tr[id^=ep-]", has_text="EXCH02")
    days = expired.locator("td.days")
    assert days.inner_text() == "-3"
    assert "days-critical" in (days.get_attribute("class") or "")
    assert days.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(179, 38, 30)"
    healthy = page.locator("#endpoints tr[id^=ep-]", has_text="EXCH03").locator("td.days")
    assert "days-ok" in (healthy.get_attribute("class") or "")  # control
    secondary = page.locator("th", has_text="Whole chain").bounding_box()
    assert secondary is not None
    if width == 800:
        # The two secondary columns give way; the legend says so.
        assert secondary["width"] == 0
        assert page.get_by_text("Whole chain and Not revoked are hidden").is_visible()
        # Copying a wrapped command copies it whole, as one line.
        pre = page.locator("pre", has_text="-AutodiscoverServiceInternalUri")
        assert pre.evaluate(LINE_BREAKS)
        page.locator(f"button[data-target='{pre.get_attribute('id')}']").click()
        copied = page.evaluate("navigator.clipboard.readText()")
        assert copied == pre.evaluate("e => e.textContent")
        assert copied.startswith("Set-ClientAccess")
        assert " -AutodiscoverServiceInternalUri 'https://mail.contoso.com:" in copied
        assert "\n" not in copied
    else:
        assert secondary["width"] > 40
        assert not page.get_by_text("Whole chain and Not revoked are hidden").is_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"landing-page-{width}.png"), full_page=True)
    if width == 800:
        # Without the page's script a command stays on one line and scrolls: still
        # no break inside a word, and the Copy buttons stay in the window.
        bare = page.context.browser.new_context(
            java_script_enabled=False, viewport={"width": width, "height": 900}
        )
        try:
            plain = bare.new_page()
            plain.goto(exporter.base + "/")
            assert _mid_word(plain, "pre") == []
            long = plain.locator("pre", has_text="-AutodiscoverServiceInternalUri")
            assert long.evaluate("e => e.scrollWidth > e.clientWidth")
            for button in plain.locator("button.copy").all():
                box = button.bounding_box()
                assert box is not None
                assert box["x"] + box["width"] <= width
        finally:
            bare.close()
        # Negative control: the old rules (break-all, no word spans) are caught.
        page.add_style_tag(content="pre .w{white-space:normal}pre{word-break:break-all}")
        assert _mid_word(page, "pre") != []


def test_a_failed_reload_is_a_banner_at_the_top(kb_lab, start_exporter, browser_page) -> None:
    """Issue #26 item 4: above everything, in red, with file:line: key per problem."""
    path, _, _ = kb_lab
    exporter = start_exporter(path)
    page = browser_page
    page.set_viewport_size({"width": 800, "height": 900})
    page.goto(exporter.base + "/")
    assert page.locator("#reload-failed").count() == 0  # control
    path.write_text(path.read_text() + "probe: {intervall: 1m}\n")
    assert exporter.get("/-/reload", method="POST")[0] == 500
    page.reload()
    banner = page.locator("#reload-failed")
    assert banner.is_visible()
    assert banner.inner_text().startswith("CONFIG RELOAD FAILED since ")
    assert "probe: key appears twice" in banner.inner_text()
    assert f"{path}:" in banner.inner_text()
    assert banner.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(179, 38, 30)"
    box, table = banner.bounding_box(), page.locator("#endpoints").bounding_box()
    assert box is not None
    assert table is not None
    assert box["y"] < table["y"]
    assert box["x"] + box["width"] <= 800
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "landing-page-reload-failed.png"), full_page=True)
