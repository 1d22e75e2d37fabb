"""exporter/certfile.py: the files admins have, made by Debian's openssl CLI and by
cryptography at run time, each read right (leaf, chain order, format); the bad ones
give one line naming the file; a private key never comes back."""

from __future__ import annotations

import dataclasses
import itertools
import subprocess
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import (
    BestAvailableEncryption,
    Encoding,
    NoEncryption,
    PrivateFormat,
    pkcs7,
    pkcs12,
)

from exporter.certfile import (
    CertificateFile,
    CertificateFileError,
    CertificateFormat,
    der_chain,
    read_certificate_file,
)
from tests.pki import CA, Issued, self_signed

PASSWORD = b"Pfx-Passw0rd!"


@pytest.fixture(scope="module")
def root() -> CA:
    return CA("Contoso Certfile Root")


@pytest.fixture(scope="module")
def issuing(root: CA) -> CA:
    return CA("Contoso Certfile Issuing CA", parent=root)


@pytest.fixture(scope="module")
def leaf(issuing: CA) -> Issued:
    return issuing.issue("mail.contoso.com", "autodiscover.contoso.com")


def pem(*certs: x509.Certificate) -> bytes:
    return b"".join(cert.public_bytes(Encoding.PEM) for cert in certs)


def key_pem(issued: Issued) -> bytes:
    return issued.key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())


def openssl(*args: str | Path, stdin: bytes = b"") -> None:
    subprocess.run(["openssl", *map(str, args)], input=stdin, capture_output=True, check=True)


def read(path: Path, password: bytes | None = None, *chain: Path) -> CertificateFile:
    return read_certificate_file(path, password, chain)


def assert_no_key(result: CertificateFile, issued: Issued) -> None:
    """Nothing of the private key in the result: only certificates and the format,
    no PRIVATE in its repr, the key's scalar in none of its DER."""
    fields = [f.name for f in dataclasses.fields(result)]
    assert fields == ["leaf", "chain", "format", "has_key"]
    assert type(result.has_key) is bool  # whether there was a key; never the key
    assert result.has_key == (result.format is CertificateFormat.PKCS12)
    assert isinstance(result.leaf, x509.Certificate)
    assert all(isinstance(cert, x509.Certificate) for cert in result.chain)
    assert isinstance(result.format, CertificateFormat)
    assert "PRIVATE" not in repr(result)
    assert isinstance(issued.key, ec.EllipticCurvePrivateKey)
    scalar = issued.key.private_numbers().private_value.to_bytes(32, "big")
    assert scalar not in b"".join(der_chain(result))


# -- cryptography-made files ------------------------------------------------------------


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))))
def test_a_pem_bundle_in_any_order_gives_the_leaf_and_the_chain_upwards(
    tmp_path: Path, root: CA, issuing: CA, leaf: Issued, order: tuple[int, ...]
) -> None:
    certs = [root.cert, leaf.cert, issuing.cert]
    path = tmp_path / "bundle.pem"
    path.write_bytes(pem(*(certs[i] for i in order)))
    result = read(path)
    assert result.leaf == leaf.cert
    assert result.chain == (issuing.cert, root.cert)
    assert result.format is CertificateFormat.PEM


def test_a_pem_with_its_private_key_reads_the_certificates_and_drops_the_key(
    tmp_path: Path, root: CA, issuing: CA, leaf: Issued
) -> None:
    path = tmp_path / "with-key.pem"
    path.write_bytes(b"friendly text\n" + pem(root.cert) + key_pem(leaf) + pem(leaf.cert))
    path.write_bytes(path.read_bytes() + pem(issuing.cert))
    result = read(path)
    assert (result.leaf, result.chain) == (leaf.cert, (issuing.cert, root.cert))
    assert_no_key(result, leaf)


def test_a_der_cer_is_the_leaf_alone(tmp_path: Path, leaf: Issued) -> None:
    path = tmp_path / "exported.cer"
    path.write_bytes(leaf.der())
    result = read(path)
    assert (result.leaf, result.chain, result.format) == (leaf.cert, (), CertificateFormat.DER)
    assert der_chain(result) == (leaf.der(),)


@pytest.mark.parametrize("encoding", [Encoding.DER, Encoding.PEM])
def test_a_p7b_from_cryptography(
    tmp_path: Path, root: CA, issuing: CA, leaf: Issued, encoding: Encoding
) -> None:
    path = tmp_path / "bundle.p7b"
    path.write_bytes(pkcs7.serialize_certificates([root.cert, leaf.cert, issuing.cert], encoding))
    result = read(path)
    assert (result.leaf, result.chain) == (leaf.cert, (issuing.cert, root.cert))
    assert result.format is CertificateFormat.PKCS7


@pytest.mark.parametrize("password", [PASSWORD, None])
def test_a_pfx_from_cryptography_with_and_without_a_password(
    tmp_path: Path, root: CA, issuing: CA, leaf: Issued, password: bytes | None
) -> None:
    protection = BestAvailableEncryption(password) if password else NoEncryption()
    data = pkcs12.serialize_key_and_certificates(
        b"exchange", leaf.key, leaf.cert, [root.cert, issuing.cert], protection
    )
    path = tmp_path / "exchange.pfx"
    path.write_bytes(data)
    result = read(path, password)
    assert (result.leaf, result.chain) == (leaf.cert, (issuing.cert, root.cert))
    assert result.format is CertificateFormat.PKCS12
    assert_no_key(result, leaf)
    assert der_chain(result) == (leaf.der(), issuing.der(), root.der())


def test_extra_chain_files_add_intermediates_once_in_any_format(
    tmp_path: Path, root: CA, issuing: CA, leaf: Issued
) -> None:
    (tmp_path / "leaf.cer").write_bytes(leaf.der())
    (tmp_path / "chain.p7b").write_bytes(
        pkcs7.serialize_certificates([root.cert, issuing.cert], Encoding.DER)
    )
    # The leaf and the intermediate again: each is kept once, the leaf not in the chain.
    (tmp_path / "again.pem").write_bytes(pem(issuing.cert, leaf.cert))
    result = read(tmp_path / "leaf.cer", None, tmp_path / "chain.p7b", tmp_path / "again.pem")
    assert (result.leaf, result.chain) == (leaf.cert, (issuing.cert, root.cert))
    assert result.format is CertificateFormat.DER
    # Negative control: without them the file gives the leaf alone.
    assert read(tmp_path / "leaf.cer").chain == ()


def test_a_leaf_in_an_extra_chain_file_is_a_chain_certificate(
    tmp_path: Path, issuing: CA, leaf: Issued
) -> None:
    other = issuing.issue("other.contoso.com")
    (tmp_path / "leaf.pem").write_bytes(pem(leaf.cert))
    (tmp_path / "more.pem").write_bytes(pem(other.cert, issuing.cert))
    result = read(tmp_path / "leaf.pem", None, tmp_path / "more.pem")
    assert (result.leaf, result.chain) == (leaf.cert, (issuing.cert, other.cert))


def test_a_utf16_pem_as_windows_powershell_writes_it(
    tmp_path: Path, issuing: CA, leaf: Issued
) -> None:
    path = tmp_path / "utf16.pem"
    path.write_bytes(pem(leaf.cert, issuing.cert).decode().encode("utf-16"))
    result = read(path)
    assert (result.leaf, result.chain) == (leaf.cert, (issuing.cert,))


def test_the_chain_follows_key_identifiers_past_a_same_named_ca(
    tmp_path: Path, root: CA, issuing: CA
) -> None:
    """A renewed issuing CA keeps its name and gets a new key: the AKI picks the one
    that issued the leaf; the old one goes to the end."""
    renewed = CA("Contoso Certfile Issuing CA", parent=root)
    issued = renewed.issue("mail.contoso.com")
    path = tmp_path / "renewed.pem"
    path.write_bytes(pem(issued.cert, issuing.cert, root.cert, renewed.cert))
    assert read(path).chain == (renewed.cert, root.cert, issuing.cert)
    # Negative control: the old CA's own leaf takes the old CA.
    path.write_bytes(pem(issuing.issue("old.contoso.com").cert, renewed.cert, issuing.cert))
    assert read(path).chain == (issuing.cert, renewed.cert)


def test_exchanges_self_signed_certificate_is_a_leaf(tmp_path: Path) -> None:
    exchange = self_signed("EXCH01", "exch01.contoso.local")
    path = tmp_path / "selfsigned.cer"
    path.write_bytes(exchange.der())
    assert (read(path).leaf, read(path).chain) == (exchange.cert, ())


def test_a_v1_root_that_issued_the_leaf_is_its_chain(tmp_path: Path) -> None:
    v1 = CA("Contoso Legacy Root", key="rsa2048", version1=True)
    issued = v1.issue("legacy.contoso.com")
    path = tmp_path / "legacy.pem"
    path.write_bytes(pem(v1.cert, issued.cert))
    result = read(path)
    assert (result.leaf, result.chain) == (issued.cert, (v1.cert,))


def test_a_v1_root_with_only_a_ca_it_issued_has_no_leaf(tmp_path: Path) -> None:
    """The v1 root has no basicConstraints, but it issued a certificate here: a CA."""
    v1 = CA("Contoso Legacy Root", key="rsa2048", version1=True)
    path = tmp_path / "legacy-cas.pem"
    path.write_bytes(pem(v1.cert, CA("Contoso Legacy Issuing", parent=v1).cert))
    with pytest.raises(CertificateFileError) as caught:
        read(path)
    assert str(caught.value) == f"{path}: no leaf: only CA certificates (2), no server's"


def test_of_several_non_ca_certificates_the_one_nothing_is_issued_by(
    tmp_path: Path, root: CA
) -> None:
    """An intermediate without basicConstraints or keyUsage is not a CA by its
    extensions; it issued the leaf, so the leaf is the leaf."""
    bare = CA("Contoso Bare Intermediate", parent=root, basic_constraints=False, key_usage=False)
    issued = bare.issue("mail.contoso.com")
    path = tmp_path / "bare.pem"
    path.write_bytes(pem(bare.cert, issued.cert, root.cert))
    result = read(path)
    assert (result.leaf, result.chain) == (issued.cert, (bare.cert, root.cert))


def test_two_leaves_in_a_pfx_take_the_keys_own_but_in_a_pem_are_an_error(
    tmp_path: Path, issuing: CA, leaf: Issued
) -> None:
    other = issuing.issue("other.contoso.com")
    pfx = tmp_path / "two.pfx"
    pfx.write_bytes(
        pkcs12.serialize_key_and_certificates(
            None, leaf.key, leaf.cert, [other.cert, issuing.cert], NoEncryption()
        )
    )
    assert read(pfx).leaf == leaf.cert
    assert read(pfx).chain == (issuing.cert, other.cert)
    bundle = tmp_path / "two.pem"
    bundle.write_bytes(pem(other.cert, issuing.cert, leaf.cert))
    with pytest.raises(CertificateFileError) as caught:
        read(bundle)
    assert str(caught.value) == f"{bundle}: 2 leaves found (certificates that are not CAs)"


# -- files made by Debian's openssl CLI -------------------------------------------------


@pytest.fixture
def lab_files(tmp_path: Path, root: CA, issuing: CA, leaf: Issued) -> Path:
    """The lab's hierarchy as PEM files for openssl to convert."""
    (tmp_path / "root.pem").write_bytes(root.pem())
    (tmp_path / "issuing.pem").write_bytes(issuing.pem())
    (tmp_path / "chain.pem").write_bytes(pem(root.cert, issuing.cert))
    (tmp_path / "leaf.pem").write_bytes(leaf.cert_pem())
    (tmp_path / "leaf.key").write_bytes(key_pem(leaf))
    return tmp_path


def test_openssl_der(lab_files: Path, leaf: Issued) -> None:
    openssl("x509", "-in", lab_files / "leaf.pem", "-outform", "DER", "-out", lab_files / "l.cer")
    result = read(lab_files / "l.cer")
    assert (result.leaf, result.chain, result.format) == (leaf.cert, (), CertificateFormat.DER)


@pytest.mark.parametrize("outform", ["DER", "PEM"])
def test_openssl_crl2pkcs7(
    lab_files: Path, root: CA, issuing: CA, leaf: Issued, outform: str
) -> None:
    """openssl writes the certificates' SET OF unsorted (BER, not DER): read, and
    without cryptography's warning reaching the admin."""
    out = lab_files / "b.p7b"
    names = ("root", "leaf", "issuing")
    files = [arg for name in names for arg in ("-certfile", lab_files / f"{name}.pem")]
    openssl("crl2pkcs7", "-nocrl", *files, "-outform", outform, "-out", out)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = read(out)
    assert (result.leaf, result.chain) == (leaf.cert, (issuing.cert, root.cert))
    assert result.format is CertificateFormat.PKCS7


# Today's default (AES-256, PBKDF2), Windows' classic TripleDES/SHA-1, and RC2-40.
PFX_CIPHERS = {
    "default": (),
    "3des": ("-certpbe", "PBE-SHA1-3DES", "-keypbe", "PBE-SHA1-3DES", "-macalg", "sha1"),
    "legacy": ("-legacy",),
}


@pytest.mark.parametrize("cipher", sorted(PFX_CIPHERS))
def test_openssl_pkcs12_export(
    lab_files: Path, root: CA, issuing: CA, leaf: Issued, cipher: str
) -> None:
    out = lab_files / "exchange.pfx"
    openssl("pkcs12", "-export", "-in", lab_files / "leaf.pem", "-inkey", lab_files / "leaf.key",
            "-certfile", lab_files / "chain.pem", "-passout", f"pass:{PASSWORD.decode()}",
            *PFX_CIPHERS[cipher], "-out", out)  # fmt: skip
    result = read(out, PASSWORD)
    assert (result.leaf, result.chain) == (leaf.cert, (issuing.cert, root.cert))
    assert result.format is CertificateFormat.PKCS12
    assert_no_key(result, leaf)
    with pytest.raises(CertificateFileError, match="wrong password"):
        read(out, b"not-it")


def test_openssl_pkcs12_with_an_empty_password_opens_without_one(
    lab_files: Path, leaf: Issued
) -> None:
    out = lab_files / "empty.pfx"
    openssl("pkcs12", "-export", "-in", lab_files / "leaf.pem", "-inkey", lab_files / "leaf.key",
            "-passout", "pass:", "-out", out)  # fmt: skip
    assert read(out).leaf == leaf.cert


def test_openssl_pkcs12_dumped_to_pem_with_bag_attributes_and_the_key(
    lab_files: Path, root: CA, issuing: CA, leaf: Issued
) -> None:
    """``openssl pkcs12 -nodes`` writes Bag Attributes text and the unencrypted key
    beside the certificates: the certificates are read, the key is not."""
    pfx, dump = lab_files / "exchange.pfx", lab_files / "dump.pem"
    openssl("pkcs12", "-export", "-in", lab_files / "leaf.pem", "-inkey", lab_files / "leaf.key",
            "-certfile", lab_files / "chain.pem", "-passout", "pass:x", "-out", pfx)  # fmt: skip
    openssl("pkcs12", "-in", pfx, "-passin", "pass:x", "-nodes", "-out", dump)
    assert b"PRIVATE KEY" in dump.read_bytes()
    assert b"Bag Attributes" in dump.read_bytes()
    result = read(dump)
    assert (result.leaf, result.chain) == (leaf.cert, (issuing.cert, root.cert))
    assert_no_key(result, leaf)


def test_an_openssl_req_hierarchy(tmp_path: Path) -> None:
    """``openssl req -x509`` makes a CA (Debian's openssl.cnf: CA:TRUE); a leaf it
    signs with ``-CA`` and CA:FALSE is the leaf, whichever comes first."""
    newkey = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "30")
    ca, ca_key, srv = tmp_path / "ca.pem", tmp_path / "ca.key", tmp_path / "srv.pem"
    openssl("req", "-x509", *newkey, "-keyout", ca_key, "-out", ca, "-subj", "/CN=OpenSSL Test CA")
    openssl("req", "-x509", *newkey, "-keyout", tmp_path / "srv.key", "-out", srv,
            "-subj", "/CN=mail.fabrikam.com", "-CA", ca, "-CAkey", ca_key,
            "-addext", "basicConstraints=critical,CA:FALSE",
            "-addext", "subjectAltName=DNS:mail.fabrikam.com")  # fmt: skip
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(ca.read_bytes() + srv.read_bytes())
    result = read(bundle)
    assert result.leaf.subject.rfc4514_string() == "CN=mail.fabrikam.com"
    assert [c.subject.rfc4514_string() for c in result.chain] == ["CN=OpenSSL Test CA"]
    # Negative control: the CA alone has no leaf.
    with pytest.raises(CertificateFileError) as caught:
        read(ca)
    assert str(caught.value) == f"{ca}: no leaf: only CA certificates (1), no server's"


# -- the bad ones: one line naming the file ---------------------------------------------


def _write(data: bytes) -> Callable[[Path], Path]:
    def make(path: Path) -> Path:
        path.write_bytes(data)
        return path

    return make


def _pfx(password: bytes) -> Callable[[Path], Path]:
    def make(path: Path) -> Path:
        issued = CA("Contoso Pfx CA").issue("mail.contoso.com")
        protection = BestAvailableEncryption(password)
        path.write_bytes(
            pkcs12.serialize_key_and_certificates(None, issued.key, issued.cert, [], protection)
        )
        return path

    return make


def _ca_only(path: Path) -> Path:
    root = CA("Contoso Lonely Root")
    path.write_bytes(pem(root.cert, CA("Contoso Lonely Issuing", parent=root).cert))
    return path


def _missing(path: Path) -> Path:
    return path


def _directory(path: Path) -> Path:
    path.mkdir()
    return path


def _empty_p7b(path: Path) -> Path:
    openssl("crl2pkcs7", "-nocrl", "-outform", "DER", "-out", path)
    return path


GARBAGE = bytes(range(256)) * 4
KEY_ONLY = key_pem(CA("Contoso Key Only").issue("x.contoso.com"))
NOT_CERT = "not a certificate file (none of PEM, DER, PKCS#7, PKCS#12)"
WRONG_PASSWORD = "wrong password for this PKCS#12 file (or it is damaged)"
BAD_FILES: list[tuple[str, Callable[[Path], Path], bytes | None, str]] = [
    ("garbage", _write(GARBAGE), None, NOT_CERT),
    ("text", _write(b"hello, this is not a certificate\n"), None, NOT_CERT),
    ("empty", _write(b""), None, f"empty file, {NOT_CERT}"),
    ("der-cut-short", _write(CA("Contoso Cut").der()[:200]), None, NOT_CERT),
    ("pfx-wrong", _pfx(PASSWORD), b"Not-The-Passw0rd", WRONG_PASSWORD),
    ("pfx-none", _pfx(PASSWORD), None, "a PKCS#12 file that needs a password"),
    ("ca-only", _ca_only, None, "no leaf: only CA certificates (2), no server's"),
    ("missing", _missing, None, "cannot read it: No such file or directory"),
    ("directory", _directory, None, "cannot read it: Is a directory"),
    ("key-only", _write(KEY_ONLY), None, "a PEM file with no certificate (it holds PRIVATE KEY)"),
    ("bad-block", _write(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
     None, "PEM block 1 (CERTIFICATE) does not decode"),
    ("empty-p7b", _empty_p7b, None, "a PKCS#7 file with no certificate that decodes"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "make", "password", "problem"), BAD_FILES, ids=[row[0] for row in BAD_FILES]
)
def test_a_bad_file_is_one_line_naming_it(
    tmp_path: Path, name: str, make: Callable[[Path], Path], password: bytes | None, problem: str
) -> None:
    path = make(tmp_path / f"{name}.crt")
    with pytest.raises(CertificateFileError) as caught:
        read(path, password)
    assert str(caught.value) == f"{path}: {problem}"
    assert "\n" not in str(caught.value)
    if password:
        assert password.decode() not in str(caught.value)


def test_the_right_password_opens_the_same_pfx(tmp_path: Path) -> None:
    """The negative control of the password cases: the same file opens with it."""
    assert read(_pfx(PASSWORD)(tmp_path / "ok.pfx"), PASSWORD).format is CertificateFormat.PKCS12


def test_a_bad_extra_chain_file_is_named(tmp_path: Path, leaf: Issued) -> None:
    (tmp_path / "leaf.cer").write_bytes(leaf.der())
    bad = _write(GARBAGE)(tmp_path / "intermediates.p7b")
    with pytest.raises(CertificateFileError) as caught:
        read(tmp_path / "leaf.cer", None, bad)
    assert str(caught.value) == f"{bad}: {NOT_CERT}"


def test_a_file_name_with_a_newline_stays_one_line(tmp_path: Path) -> None:
    path = _write(GARBAGE)(tmp_path / "evil\nname\x1b[2J.pem")
    with pytest.raises(CertificateFileError) as caught:
        read(path)
    message = str(caught.value)
    assert "\n" not in message
    assert "\x1b" not in message
    assert message.endswith(f"evil\\x0aname\\x1b[2J.pem: {NOT_CERT}")
