"""``--web.config.file``: the Prometheus exporter-toolkit format, so the file an SRE
already writes for node_exporter works here unchanged (docs/web-configuration.md of
prometheus/exporter-toolkit).

    tls_server_config:
      cert_file: server.crt              # relative paths: to this file's directory
      key_file: server.key
      client_auth_type: RequireAndVerifyClientCert
      client_ca_file: clients-ca.pem
      min_version: TLS12                 # TLS10 .. TLS13
      max_version: TLS13
      cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256]   # Go's names, TLS <= 1.2
      prefer_server_cipher_suites: true
    http_server_config:
      http2: true                        # accepted; this server speaks HTTP/1.1
      headers: {Strict-Transport-Security: max-age=31536000}
    basic_auth_users: {alice: $2y$10$...}   # bcrypt hashes

Checking a bcrypt hash is slow by design: checks are serialised (one at a time, so
a flood of bad passwords costs one core, not all), successful ones are cached by a
SHA-256 of the credentials (as exporter-toolkit does), and an unknown user is
checked against a constant dummy hash so timing does not reveal which users exist.
The toolkit keys this exporter does not implement are refused by name.
"""

from __future__ import annotations

import base64
import hashlib
import ssl
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import bcrypt

from exporter.config.yamlsource import ConfigError, Problem, Reader, load_yaml

# A constant bcrypt hash (cost 10, as htpasswd -B makes them) of a password nobody
# has: an unknown user costs what a known one does.
_DUMMY_HASH = b"$2b$10$Y6C1cMd8utD5JdkfYIn2luN9z.WH6wcCd7aygI.CavzYxuCk1yvGG"

VERSIONS = {
    "TLS10": ssl.TLSVersion.TLSv1,
    "TLS11": ssl.TLSVersion.TLSv1_1,
    "TLS12": ssl.TLSVersion.TLSv1_2,
    "TLS13": ssl.TLSVersion.TLSv1_3,
}
# Go's tls.CipherSuites() (the secure list the toolkit accepts) in OpenSSL's names.
# The TLS 1.3 suites are accepted and, as in Go, not configurable.
CIPHER_SUITES = {
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA": "ECDHE-ECDSA-AES128-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA": "ECDHE-ECDSA-AES256-SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA": "ECDHE-RSA-AES128-SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA": "ECDHE-RSA-AES256-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256": "ECDHE-ECDSA-AES128-GCM-SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384": "ECDHE-ECDSA-AES256-GCM-SHA384",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256": "ECDHE-RSA-AES128-GCM-SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384": "ECDHE-RSA-AES256-GCM-SHA384",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-RSA-CHACHA20-POLY1305",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-ECDSA-CHACHA20-POLY1305",
    "TLS_AES_128_GCM_SHA256": "",
    "TLS_AES_256_GCM_SHA384": "",
    "TLS_CHACHA20_POLY1305_SHA256": "",
}
CLIENT_AUTH = {
    "NoClientCert": ssl.CERT_NONE,
    "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
    "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
}
# The toolkit's two modes that take a client certificate without verifying it.
_UNVERIFIED = {"RequestClientCert", "RequireAnyClientCert"}
HEADERS = {
    "Content-Security-Policy": None,
    "X-Frame-Options": ("deny", "sameorigin"),
    "X-Content-Type-Options": ("nosniff",),
    "X-XSS-Protection": None,
    "Strict-Transport-Security": None,
}
_TLS_KEYS = (
    "cert_file",
    "key_file",
    "client_auth_type",
    "client_ca_file",
    "min_version",
    "max_version",
    "cipher_suites",
    "prefer_server_cipher_suites",
)
# Toolkit keys this exporter does not implement: refused by name, never ignored.
_NOT_IMPLEMENTED = {
    "tls_server_config": ("cert", "key", "client_ca", "client_allowed_sans", "curve_preferences"),
    "": ("rate_limit",),
}


@dataclass(frozen=True)
class WebConfig:
    cert_file: str | None = None
    key_file: str | None = None
    users: dict[str, bytes] = field(default_factory=dict)
    client_auth: str = "NoClientCert"
    client_ca_file: str | None = None
    min_version: str = "TLS12"
    max_version: str = "TLS13"
    cipher_suites: tuple[str, ...] = ()
    prefer_server_cipher_suites: bool = True
    headers: dict[str, str] = field(default_factory=dict)
    http2: bool = True  # accepted for the toolkit's sake; HTTP/1.1 is served

    def ssl_context(self) -> ssl.SSLContext | None:
        if not self.cert_file or not self.key_file:
            return None
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = VERSIONS[self.min_version]
        context.maximum_version = VERSIONS[self.max_version]
        suites = [CIPHER_SUITES[s] for s in self.cipher_suites if CIPHER_SUITES[s]]
        if suites:
            context.set_ciphers(":".join(suites))
        if self.prefer_server_cipher_suites:
            context.options |= ssl.OP_CIPHER_SERVER_PREFERENCE
        else:
            context.options &= ~ssl.OP_CIPHER_SERVER_PREFERENCE
        context.load_cert_chain(self.cert_file, self.key_file)
        context.verify_mode = CLIENT_AUTH[self.client_auth]
        if self.client_ca_file:
            context.load_verify_locations(cafile=self.client_ca_file)
        return context


def load_web_config(path: str) -> WebConfig:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(path, [Problem("", f"cannot read: {exc.strerror or exc}")]) from None
    problems: list[Problem] = []
    data = load_yaml(text, path, problems)
    root = Reader(problems, "", data, data.line)
    base = Path(path).resolve().parent
    tls = root.section("tls_server_config")
    _refuse_unimplemented(root, tls)
    files = {key: _file(tls, key, base) for key in ("cert_file", "key_file", "client_ca_file")}
    cert, key, client_ca = files["cert_file"], files["key_file"], files["client_ca_file"]
    client_auth = _choice(tls, "client_auth_type", "NoClientCert", CLIENT_AUTH)
    low = _choice(tls, "min_version", "TLS12", VERSIONS)
    high = _choice(tls, "max_version", "TLS13", VERSIONS)
    suites = tuple(tls.str_list("cipher_suites"))
    for index, suite in enumerate(suites):
        if suite not in CIPHER_SUITES:
            tls.problem(f"cipher_suites[{index}]", f"{suite!r} is not one of Go's secure suites")
    prefer = tls.flag("prefer_server_cipher_suites", True)
    tls.finish(_TLS_KEYS + _NOT_IMPLEMENTED["tls_server_config"])
    if bool(cert) != bool(key):
        tls.problem("", "cert_file and key_file go together")
    if VERSIONS[low] > VERSIONS[high]:
        tls.problem("min_version", f"{low} is above max_version {high}")
    if client_auth != "NoClientCert" and not client_ca:
        tls.problem("client_ca_file", f"is required for client_auth_type {client_auth}")
    if client_auth != "NoClientCert" and not cert:
        tls.problem(
            "client_auth_type", "needs cert_file and key_file (client certificates are TLS)"
        )
    http = root.section("http_server_config")
    http2 = http.flag("http2", True)
    headers = _headers(http.section("headers"))
    http.finish(("http2", "headers"))
    users = _users(root.section("basic_auth_users"))
    root.finish(("tls_server_config", "basic_auth_users", "http_server_config", "rate_limit"))
    if problems:
        raise ConfigError(path, problems)
    config = WebConfig(
        cert, key, users, client_auth, client_ca, low, high, suites, prefer, headers, http2
    )
    if config.cert_file:
        try:
            config.ssl_context()
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(path, [Problem("tls_server_config", f"unusable: {exc}")]) from None
    return config


def _refuse_unimplemented(root: Reader, tls: Reader) -> None:
    for section, keys in ((tls, _NOT_IMPLEMENTED["tls_server_config"]), (root, ("rate_limit",))):
        for key in keys:
            if section.has(key):
                section.problem(key, "is not supported by this exporter; remove it")


def _file(tls: Reader, key: str, base: Path) -> str | None:
    """A file named in the config, relative to the config's own directory (as the
    toolkit resolves them); a problem when it cannot be read."""
    value = tls.opt_text(key)
    if not value:
        return None
    resolved = base / value
    if not resolved.is_file():
        tls.problem(key, f"{value} is not a readable file")
    return str(resolved)


def _choice(section: Reader, key: str, default: str, allowed: Mapping[str, object]) -> str:
    value = section.opt_text(key) or default
    if value in _UNVERIFIED:
        section.problem(
            key,
            f"{value} takes a client certificate without verifying it and is not supported; "
            "use RequireAndVerifyClientCert",
        )
        return default
    if value not in allowed:
        section.problem(key, f"{value!r} is not one of: {', '.join(allowed)}")
        return default
    return value


def _headers(section: Reader) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name in list(section.data):
        if name not in HEADERS:
            continue
        value = section.text(name)
        accepted = HEADERS[name]
        if value and accepted is not None and value.lower() not in accepted:
            section.problem(name, f"{value!r} is not one of: {', '.join(accepted)}")
        elif value:
            headers[name] = value
    section.finish(tuple(HEADERS))
    return headers


def _users(section: Reader) -> dict[str, bytes]:
    users: dict[str, bytes] = {}
    for user in list(section.data):
        hashed = section.text(user)
        if not hashed.startswith(("$2a$", "$2b$", "$2y$")):
            section.problem(user, "must be a bcrypt hash ($2y$...), not a password")
            continue
        users[str(user)] = hashed.encode()
    section.finish(tuple(section.data))
    return users


class BasicAuth:
    """Checks an Authorization header against the configured users."""

    # One bcrypt check at a time, across every server in the process.
    _bcrypt_lock = threading.Lock()

    def __init__(self, users: dict[str, bytes]) -> None:
        self.users = users
        self._good: set[bytes] = set()
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return bool(self.users)

    def check(self, header: str | None) -> bool:
        if not self.users:
            return True
        if not header or not header.startswith("Basic "):
            return False
        try:
            decoded = base64.b64decode(header[6:], validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return False
        user, sep, password = decoded.partition(":")
        if not sep:
            return False
        hashed = self.users.get(user, _DUMMY_HASH)
        key = hashlib.sha256(user.encode() + b"\0" + password.encode() + b"\0" + hashed).digest()
        with self._lock:
            if key in self._good:
                return user in self.users
        with self._bcrypt_lock:
            ok = bcrypt.checkpw(password.encode(), hashed) and user in self.users
        if ok:
            with self._lock:
                self._good.add(key)
        return ok
