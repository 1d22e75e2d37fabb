"""``--web.config.file``: the Prometheus exporter-toolkit format, so the file an SRE
already writes for node_exporter works here unchanged.

    tls_server_config: {cert_file: server.crt, key_file: server.key}
    basic_auth_users: {alice: $2y$10$...}   # bcrypt hashes

Checking a bcrypt hash is slow by design; successful checks are cached by a
SHA-256 of the credentials (as exporter-toolkit does), and an unknown user is
checked against a dummy hash so timing does not reveal which users exist.
"""

from __future__ import annotations

import base64
import hashlib
import ssl
import threading
from dataclasses import dataclass, field
from pathlib import Path

import bcrypt

from exporter.config.yamlsource import ConfigError, Problem, Reader, load_yaml

_DUMMY_HASH = bcrypt.hashpw(b"not a password", bcrypt.gensalt(rounds=10))


@dataclass(frozen=True)
class WebConfig:
    cert_file: str | None = None
    key_file: str | None = None
    users: dict[str, bytes] = field(default_factory=dict)

    def ssl_context(self) -> ssl.SSLContext | None:
        if not self.cert_file or not self.key_file:
            return None
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.cert_file, self.key_file)
        return context


def load_web_config(path: str) -> WebConfig:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(path, [Problem("", f"cannot read: {exc.strerror or exc}")]) from None
    data = load_yaml(text, path)
    problems: list[Problem] = []
    root = Reader(problems, "", data, data.line)
    tls = root.section("tls_server_config")
    cert, key = tls.opt_text("cert_file"), tls.opt_text("key_file")
    tls.finish(("cert_file", "key_file"))
    if bool(cert) != bool(key):
        tls.problem("", "cert_file and key_file go together")
    for name, value in (("cert_file", cert), ("key_file", key)):
        if value and not Path(value).is_file():
            tls.problem(name, f"{value} is not a readable file")
    users_section = root.section("basic_auth_users")
    users: dict[str, bytes] = {}
    for user in list(users_section.data):
        hashed = users_section.text(user)
        if not hashed.startswith(("$2a$", "$2b$", "$2y$")):
            users_section.problem(user, "must be a bcrypt hash ($2y$...), not a password")
            continue
        users[str(user)] = hashed.encode()
    users_section.finish(tuple(users_section.data))
    root.finish(("tls_server_config", "basic_auth_users", "http_server_config"))
    if problems:
        raise ConfigError(path, problems)
    config = WebConfig(cert, key, users)
    if config.cert_file:
        try:
            config.ssl_context()
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(path, [Problem("tls_server_config", f"unusable: {exc}")]) from None
    return config


class BasicAuth:
    """Checks an Authorization header against the configured users."""

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
        ok = bcrypt.checkpw(password.encode(), hashed) and user in self.users
        if ok:
            with self._lock:
                self._good.add(key)
        return ok
