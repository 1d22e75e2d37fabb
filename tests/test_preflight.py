"""Preflight (issue #25): judge a certificate against the whole organisation before
it is bound. The proof it is right: for each candidate certificate, preflight
against a config, then the same certificate actually served by the lab's TLS
servers and ``report`` run: every endpoint's checks (all but ``probe_ok``, DNS
included) and client verdicts are identical, case by case."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from tests.conftest import lab_config, run_exporter
from tests.peers.dnsmasq import free_port
from tests.pki import CA, DAY, NOW, Issued

ADDRESSES = {"EXCH01": "127.0.9.1", "EXCH02": "127.0.9.2"}


@pytest.fixture
def org(make_tls, make_dns, write_config, root_file, tmp_path: Path):
    """Two servers answer mail.contoso.com (EWS, OAB, OWA); EXCH01's Autodiscover
    URL is autodiscover.contoso.com; both serve whatever ``serve(issued)`` says."""
    hosts = tmp_path / "hosts"
    hosts.write_text(
        "".join(f"{a} mail.contoso.com\n" for a in ADDRESSES.values())
        + f"{ADDRESSES['EXCH01']} autodiscover.contoso.com\n"
    )
    dns = make_dns({}, extra=[f"--addn-hosts={hosts}"])
    port = free_port(ADDRESSES["EXCH01"])
    placeholder = CA("Placeholder Root").issue("placeholder.invalid")
    servers = {name: make_tls(a, placeholder, port=port) for name, a in ADDRESSES.items()}
    urls = {
        "ews": f"https://mail.contoso.com:{port}/EWS/Exchange.asmx",
        "oab": f"https://mail.contoso.com:{port}/OAB",
        "owa": f"https://mail.contoso.com:{port}/owa",
    }
    entries: list[dict[str, Any]] = []
    for name, address in ADDRESSES.items():
        mine = dict(urls)
        if name == "EXCH01":
            mine["autodiscover"] = (
                f"https://autodiscover.contoso.com:{port}/Autodiscover/Autodiscover.xml"
            )
        else:  # plain http: report makes no handshake, and preflight must agree
            mine["oab"] = f"http://mail.contoso.com:{port}/OAB"
        entries.append(
            {
                "name": name,
                "fqdn": f"{name.lower()}.contoso.local",
                "addresses": [address],
                "version": "2019",
                "urls": mine,
            }
        )
    config = lab_config(entries, dns, [root_file])
    config["aia"] = {"enabled": False}
    config["revocation"] = {"enabled": False}
    path = write_config(config)

    def serve(issued: Issued) -> None:
        for n, server in enumerate(servers.values()):
            server.replace_certificate(issued.write(tmp_path, f"served-{n}-{id(issued)}"))

    return path, serve


def judged(endpoints: list[dict[str, Any]]) -> dict[tuple[str, str], Any]:
    """Every endpoint's checks but probe_ok, and its client verdicts."""
    return {
        (e["server"], e["component"]): (
            {k: v for k, v in e["checks"].items() if k != "probe_ok"},
            {f: v["accepts"] for f, v in e["clients"].items()},
        )
        for e in endpoints
    }


def candidates(ca: CA) -> dict[str, Issued]:
    return {
        "every name": ca.issue("mail.contoso.com", "autodiscover.contoso.com"),
        "lacks autodiscover": ca.issue("mail.contoso.com"),
        "CN only": ca.issue(cn="mail.contoso.com", san=False),
        "expired": ca.issue(
            "mail.contoso.com", "autodiscover.contoso.com",
            not_before=NOW - 400 * DAY, not_after=NOW - DAY,
        ),
        "826 days": ca.issue(
            "mail.contoso.com", "autodiscover.contoso.com",
            not_before=NOW - DAY, not_after=NOW + 825 * DAY,
        ),
    }  # fmt: skip


def test_preflight_agrees_with_reality(org, issuing_ca: CA, tmp_path: Path) -> None:
    path, serve = org
    for label, issued in candidates(issuing_ca).items():
        pem, _ = issued.write(tmp_path, f"candidate-{abs(hash(label))}")
        before = run_exporter(
            "preflight", str(pem), "--config.file", str(path), "--format", "json", "--no-fetch"
        )
        assert before.returncode in (0, 1), (label, before.stderr)
        predicted = json.loads(before.stdout)
        serve(issued)
        after = run_exporter("report", "--config.file", str(path), "--format", "json")
        actual = json.loads(after.stdout)
        assert judged(predicted["endpoints"]) == judged(actual["endpoints"]), label
        breaking = {(b["server"], b["component"]) for b in predicted["would_break"]}
        assert (before.returncode == 1) == bool(breaking), label
        if label == "every name":
            assert before.returncode == 0
            assert predicted["missing_names"] == []
            assert set(predicted["plan"]) == {"EXCH01", "EXCH02"}
        if label == "lacks autodiscover":
            assert breaking == {("EXCH01", "autodiscover")}
            assert predicted["missing_names"] == ["autodiscover.contoso.com"]
            assert predicted["plan"] == {}
        if label == "CN only":
            assert ("EXCH01", "owa") in breaking
            owa = next(b for b in predicted["would_break"] if b["component"] == "owa")
            assert set(owa["families"]) == {"apple", "browser"}


def test_the_deployment_plan_when_nothing_breaks(org, issuing_ca: CA, tmp_path: Path) -> None:
    path, _ = org
    good = issuing_ca.issue("mail.contoso.com", "autodiscover.contoso.com")
    pem, _ = good.write(tmp_path, "good")
    result = run_exporter(
        "preflight", str(pem), "--config.file", str(path), "--format", "powershell", "--no-fetch"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.isascii()
    assert (
        "if (-not (Get-ExchangeCertificate -Server 'EXCH01' -Thumbprint '" in result.stdout
    )  # imported once: a section runs again
    assert (
        f"-FileData (Get-Content -LiteralPath '{pem}' -Encoding 'Byte' -ReadCount 0)"
        in result.stdout
    )
    assert "Enable-ExchangeCertificate -Server 'EXCH02' -Thumbprint '" in result.stdout
    assert "-Services 'IIS'" in result.stdout
    # A PEM has no key: no password asked, and the plan says where the import works.
    assert "-Password $password" not in result.stdout
    assert "Read-Host" not in result.stdout
    assert "completes the pending request on the server that made the request" in result.stdout


def test_a_pfx_plan_asks_for_its_password_and_never_prints_it(
    org, issuing_ca: CA, tmp_path: Path
) -> None:
    path, _ = org
    good = issuing_ca.issue("mail.contoso.com", "autodiscover.contoso.com")
    pfx = tmp_path / "good.pfx"
    pfx.write_bytes(
        pkcs12.serialize_key_and_certificates(
            b"good", good.key, good.cert, good.chain[1:],
            serialization.BestAvailableEncryption(b"s3cret-Pa55"),
        )
    )  # fmt: skip
    secret = tmp_path / "password"
    secret.write_text("s3cret-Pa55\n")
    for fmt in ("powershell", "table", "json"):
        result = run_exporter(
            "preflight", str(pfx), "--config.file", str(path), "--password-file", str(secret),
            "--format", fmt, "--no-fetch",
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert "s3cret" not in result.stdout + result.stderr
        assert "pending request" not in result.stdout
        if fmt == "powershell":
            assert (
                "$password = Read-Host -AsSecureString -Prompt 'The .pfx password'; "
                "Import-ExchangeCertificate -Server 'EXCH01' -FileData (Get-Content -LiteralPath "
                f"'{pfx}' -Encoding 'Byte' -ReadCount 0) -Password $password }}"
            ) in result.stdout
        if fmt == "json":
            assert json.loads(result.stdout)["plan_note"] is None


def test_at_a_date_after_it_expires(org, issuing_ca: CA, tmp_path: Path) -> None:
    path, _ = org
    good = issuing_ca.issue(
        "mail.contoso.com", "autodiscover.contoso.com", not_after=NOW + 100 * DAY
    )
    pem, _ = good.write(tmp_path, "good-for-100-days")
    later = (NOW + 200 * DAY).strftime("%Y-%m-%dT%H:%M:%SZ")
    result = run_exporter(
        "preflight", str(pem), "--config.file", str(path), "--at", later, "--format", "json",
        "--no-fetch",
    )  # fmt: skip
    assert result.returncode == 1
    data = json.loads(result.stdout)
    assert all("date_valid" in b["checks"] for b in data["would_break"])
    assert data["endpoints"][0]["reasons"]["date_valid"]["code"] == "expired"


def test_names_without_a_config(issuing_ca: CA, root_file: Path, tmp_path: Path) -> None:
    cn_only = issuing_ca.issue(cn="webmail.contoso.com", san=False)
    pem, _ = cn_only.write(tmp_path, "cn-only")
    args = ["preflight", str(pem), "--name", "webmail.contoso.com", "--ca-file", str(root_file)]
    result = run_exporter(*args, "--no-system-roots", "--no-fetch", "--format", "json")
    assert result.returncode == 1, result.stderr
    data = json.loads(result.stdout)
    families = {f for b in data["would_break"] for f in b["families"]}
    assert families == {"apple", "browser"}
    good = issuing_ca.issue("webmail.contoso.com")
    pem, _ = good.write(tmp_path, "good-name")
    ok = run_exporter(
        "preflight", str(pem), "--name", "webmail.contoso.com", "--ca-file", str(root_file),
        "--no-system-roots", "--no-fetch",
    )  # fmt: skip
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.startswith("Nothing would break: 2 endpoint(s) judged.")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--name", "x.contoso.com", "--at", "yesterday"], "--at 'yesterday': not an RFC 3339"),
        (["--name", "x.contoso.com", "--password-env", "NO_SUCH_VAR_X"], "NO_SUCH_VAR_X"),
        ([], "give --config.file or --name"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(issuing_ca: CA, tmp_path: Path, args, message) -> None:
    pem, _ = issuing_ca.issue("x.contoso.com").write(tmp_path, "x")
    result = run_exporter("preflight", str(pem), *args)
    assert result.returncode == 2
    assert message in result.stderr
    assert result.stderr.count("\n") == 1


def test_a_file_that_is_no_certificate(tmp_path: Path) -> None:
    junk = tmp_path / "junk.cer"
    junk.write_bytes(b"not a certificate")
    result = run_exporter("preflight", str(junk), "--name", "x.contoso.com")
    assert result.returncode == 2
    assert str(junk) in result.stderr
    assert result.stderr.count("\n") == 1


def test_the_demo_as_the_readme_shows_it(tmp_path: Path) -> None:
    """README "Before you bind a certificate": the demo's renewal that covers every
    name is clean (exit 0, a plan for each server, SMTP on EXCH02); the certificate
    the demo's servers have now breaks EXCH01's internal URLs (exit 1)."""
    from exporter.lab.scenario import start_lab

    lab = start_lab(tmp_path)
    try:
        config = str(lab.config_path)
        clean = run_exporter("preflight", str(tmp_path / "preflight-candidate.pem"),
                             "--config.file", config, "--format", "json")  # fmt: skip
        current = run_exporter("preflight", str(tmp_path / "exch01.pem"), "--config.file", config)
    finally:
        lab.close()
    assert clean.returncode == 0, clean.stdout + clean.stderr
    data = json.loads(clean.stdout)
    assert data["would_break"] == []
    assert data["missing_names"] == []
    assert set(data["plan"]) == {"EXCH01", "EXCH02", "EXCH03"}
    assert "-Services 'IIS','SMTP'" in data["plan"]["EXCH02"][1]["text"]
    assert [e["component"] for e in data["not_judged"]] == ["auth_certificate"]
    assert current.returncode == 1, current.stderr
    broken = [line.split()[:2] for line in current.stdout.splitlines()[1:8]]
    assert [s for s, _ in broken].count("EXCH01") == 4
    assert ["EXCH01", "autodiscover"] in broken
    assert "Names the certificate lacks: exch01.contoso.local," in current.stdout


def test_a_wrong_password_and_a_file_with_no_leaf_are_one_line_and_exit_2(
    issuing_ca: CA, tmp_path: Path
) -> None:
    good = issuing_ca.issue("x.contoso.com")
    pfx = tmp_path / "x.pfx"
    pfx.write_bytes(
        pkcs12.serialize_key_and_certificates(
            b"x", good.key, good.cert, None, serialization.BestAvailableEncryption(b"right")
        )
    )
    wrong = tmp_path / "wrong"
    wrong.write_text("wrong\n")
    cas_only = tmp_path / "cas.pem"
    cas = good.chain[1:]
    assert cas
    cas_only.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in cas))
    for args, problem in (
        ([str(pfx), "--password-file", str(wrong)], "wrong password"),
        ([str(pfx)], "needs a password"),
        ([str(cas_only)], str(cas_only)),
    ):
        result = run_exporter("preflight", *args, "--name", "x.contoso.com")
        assert result.returncode == 2, (args, result.stdout)
        assert problem in result.stderr
        assert result.stderr.count("\n") == 1
        assert "Traceback" not in result.stderr
        assert result.stdout == ""


def test_imap_pop_and_a_named_receive_connector_are_in_the_plan(
    make_dns, write_config, root_file: Path, issuing_ca: CA, tmp_path: Path
) -> None:
    """IMAP and POP pick their certificate by name and a receive connector may name
    its own: enabling alone would leave them on the old one (remediation/surfaces.py)."""
    dns = make_dns({"mail.contoso.com": ["127.0.9.1"], "exch01.contoso.local": ["127.0.9.1"]})
    server = {
        "name": "EXCH01",
        "fqdn": "exch01.contoso.local",
        "version": "2019",
        "urls": {
            "ews": "https://mail.contoso.com/EWS/Exchange.asmx",
            "imap": "imaps://mail.contoso.com:993",
            "pop": "pop3s://mail.contoso.com:995",
            "smtp": "smtp://mail.contoso.com:25",
        },
        "tls_certificate_names": {"smtp": "<I>CN=Old CA<S>CN=mail.contoso.com"},
    }
    path = write_config(lab_config([server], dns, [root_file]))
    pem, _ = issuing_ca.issue("mail.contoso.com").write(tmp_path, "mail")
    result = run_exporter(
        "preflight", str(pem), "--config.file", str(path), "--format", "powershell", "--no-fetch"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    code = [line for line in result.stdout.splitlines() if not line.startswith("#")]
    assert any("-Services 'IIS','SMTP','IMAP','POP'" in line for line in code), code
    assert "Set-ImapSettings -Server 'EXCH01' -X509CertificateName 'mail.contoso.com'" in code
    assert "Set-PopSettings -Server 'EXCH01' -X509CertificateName 'mail.contoso.com'" in code
    assert any(line.startswith("$c = Get-ExchangeCertificate -Server 'EXCH01'") for line in code)
    assert any("Set-ReceiveConnector -Identity 'EXCH01\\Default Frontend EXCH01'" in line
               for line in code), code  # fmt: skip


def test_hostile_and_odd_inputs_are_one_line_and_exit_2(
    issuing_ca: CA, root_file: Path, write_config, make_dns, tmp_path: Path
) -> None:
    pem, _ = issuing_ca.issue("x.contoso.com").write(tmp_path, "x")
    empty = write_config(lab_config([], make_dns({}), [root_file]))
    for args, problem in (
        (["--name", "a b"], "--name 'a b': not a DNS name or an IP address"),
        (["--name", ""], "not a DNS name"),
        (["--name", "x.contoso.com", "--at", "0001-01-01T00:00:00+01:00"], "out of range"),
        (["--config.file", str(empty)], "no endpoints to judge"),
    ):
        result = run_exporter("preflight", str(pem), *args, "--ca-file", str(root_file))
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert problem in result.stderr
        assert result.stderr.count("\n") == 1


def test_an_ip_literal_name_is_judged_and_with_names_there_is_no_plan(
    issuing_ca: CA, root_file: Path, tmp_path: Path
) -> None:
    pem, _ = issuing_ca.issue("x.contoso.com").write(tmp_path, "x")
    common = ["--ca-file", str(root_file), "--no-system-roots", "--no-fetch", "--format", "json"]
    result = run_exporter("preflight", str(pem), "--name", "::1", *common)
    assert result.returncode == 1, result.stderr
    assert {b["checks"][0] for b in json.loads(result.stdout)["would_break"]} == {"name_match"}
    clean = run_exporter("preflight", str(pem), "--name", "x.contoso.com", *common)
    assert clean.returncode == 0, clean.stderr
    assert json.loads(clean.stdout)["plan"] == {}  # no servers to deploy to


def test_a_password_file_windows_wrote_and_one_with_a_nul(
    issuing_ca: CA, root_file: Path, tmp_path: Path
) -> None:
    """Notepad's "Unicode" is UTF-16 with a BOM: read. A NUL without one would reach
    cryptography's Rust, whose panic prints the password: refused before, by name."""
    good = issuing_ca.issue("x.contoso.com")
    pfx = tmp_path / "x.pfx"
    pfx.write_bytes(
        pkcs12.serialize_key_and_certificates(
            b"x",
            good.key,
            good.cert,
            good.chain[1:],
            serialization.BestAvailableEncryption(b"s3cret-Pa55"),
        )
    )
    utf16 = tmp_path / "utf16"
    utf16.write_bytes(b"\xff\xfe" + "s3cret-Pa55\r\n".encode("utf-16-le"))
    nul = tmp_path / "nul"
    nul.write_bytes("s3cret-Pa55".encode("utf-16-le"))
    common = ["--name", "x.contoso.com", "--ca-file", str(root_file), "--no-fetch"]
    ok = run_exporter("preflight", str(pfx), "--password-file", str(utf16), *common)
    assert ok.returncode == 0, ok.stderr
    bad = run_exporter("preflight", str(pfx), "--password-file", str(nul), *common)
    assert bad.returncode == 2
    assert f"--password-file {nul}: holds a NUL character" in bad.stderr
    assert bad.stderr.count("\n") == 1
    for secret in ("s3cret", "115, 0, 51", "Traceback"):
        assert secret not in bad.stdout + bad.stderr


def test_a_value_the_plan_cannot_quote_is_a_comment(org, issuing_ca: CA, tmp_path: Path) -> None:
    """A file name with a line break cannot be a PowerShell literal: the import is
    advice, and in the .ps1 every line of it is a comment."""
    path, _ = org
    odd = tmp_path / "a\nb.pem"
    issued = issuing_ca.issue("mail.contoso.com", "autodiscover.contoso.com")
    odd.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in issued.chain))
    result = run_exporter(
        "preflight", str(odd), "--config.file", str(path), "--format", "powershell", "--no-fetch"
    )
    assert result.returncode == 0, result.stderr
    assert "# ADVICE: " in result.stdout
    for line in result.stdout.splitlines():
        assert line.startswith(("#", "$ErrorActionPreference", "Enable-ExchangeCertificate")), line
