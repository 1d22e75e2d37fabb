"""The ``ldap:`` section: how to read the Exchange inventory from Active Directory.

The bind password never sits in the YAML: it comes from ``bind_password_file`` or
the environment variable named by ``bind_password_env``, and is held as a Secret.
A simple bind over unencrypted LDAP is refused unless ``allow_insecure: true``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from exporter.config.yamlsource import Reader
from exporter.model import Component
from exporter.secret import Secret

# The HTTPS URLs Outlook is given, the back end and the Auth certificate: everything
# the directory gives without more attributes. SMTP, IMAP and POP are opt-in.
DEFAULT_COMPONENTS = (
    *(c for c in Component if c.is_virtual_directory),
    Component.BACKEND,
    Component.AUTH_CERTIFICATE,
)


@dataclass(frozen=True)
class LdapConfig:
    """Attributes:
    use_ssl: ldaps:// (port 636 by default).
    bind_dn: None for an anonymous bind (AD refuses most anonymous searches).
    configuration_dn: None means "read configurationNamingContext from the RootDSE".
    sites, servers: when non-empty, only servers in these AD sites / with these names.
    components: what the directory inventory holds (``ldap.components``); the
        default is every virtual directory plus ``backend`` and ``auth_certificate``.
    """

    host: str
    port: int
    use_ssl: bool
    start_tls: bool
    bind_dn: str | None
    password: Secret | None
    ca_file: str | None
    timeout: float
    configuration_dn: str | None
    sites: tuple[str, ...]
    servers: tuple[str, ...]
    allow_insecure: bool
    page_size: int
    components: tuple[Component, ...] = DEFAULT_COMPONENTS

    @property
    def url(self) -> str:
        return f"{'ldaps' if self.use_ssl else 'ldap'}://{self.host}:{self.port}"

    @property
    def encrypted(self) -> bool:
        return self.use_ssl or self.start_tls


_KEYS = (
    "url",
    "start_tls",
    "bind_dn",
    "bind_password_file",
    "bind_password_env",
    "ca_file",
    "timeout",
    "configuration_dn",
    "sites",
    "servers",
    "allow_insecure",
    "page_size",
    "components",
)


def parse_ldap(section: Reader) -> LdapConfig | None:
    if not section.data:
        section.finish(_KEYS)
        return None
    if "bind_password" in section.data:
        section.problem(
            "bind_password",
            "never put the password in the file: use bind_password_file or bind_password_env",
        )
    url = section.text("url", required=True)
    start_tls = section.flag("start_tls", False)
    bind_dn = section.opt_text("bind_dn")
    password = _password(section)
    ca_file = section.opt_text("ca_file")
    if ca_file and not Path(ca_file).is_file():
        section.problem("ca_file", f"{ca_file} is not a readable file")
    config = LdapConfig(
        host="",
        port=0,
        use_ssl=False,
        start_tls=start_tls,
        bind_dn=bind_dn,
        password=password,
        ca_file=ca_file,
        timeout=section.duration("timeout", 10.0),
        configuration_dn=section.opt_text("configuration_dn"),
        sites=tuple(section.str_list("sites")),
        servers=tuple(section.str_list("servers")),
        allow_insecure=section.flag("allow_insecure", False),
        page_size=section.integer("page_size", 500, minimum=1),
        components=_components(section),
    )
    section.finish(_KEYS)
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if url and (scheme not in ("ldap", "ldaps") or not parts.hostname):
        section.problem("url", f"{url!r} is not an ldap:// or ldaps:// URL with a host")
        return config
    try:
        port = parts.port or (636 if scheme == "ldaps" else 389)
    except ValueError:
        section.problem("url", f"{url!r} has a bad port")
        return config
    if scheme == "ldaps" and start_tls:
        section.problem("start_tls", "goes with ldap://, not ldaps:// (already encrypted)")
    encrypted = scheme == "ldaps" or start_tls
    if bind_dn and not encrypted and not config.allow_insecure:
        section.problem(
            "url",
            "a simple bind over unencrypted ldap:// sends the password in "
            "clear: use ldaps://, start_tls: true, or set allow_insecure: true",
        )
    if bind_dn and password is None:
        section.problem("bind_dn", "needs bind_password_file or bind_password_env")
    return LdapConfig(
        host=parts.hostname or "",
        port=port,
        use_ssl=scheme == "ldaps",
        start_tls=start_tls,
        bind_dn=bind_dn,
        password=password,
        ca_file=ca_file,
        timeout=config.timeout,
        configuration_dn=config.configuration_dn,
        sites=config.sites,
        servers=config.servers,
        allow_insecure=config.allow_insecure,
        page_size=config.page_size,
        components=config.components,
    )


def _components(section: Reader) -> tuple[Component, ...]:
    if not section.has("components"):
        return DEFAULT_COMPONENTS
    names = {c.value for c in Component}
    chosen: list[Component] = []
    for index, name in enumerate(section.str_list("components")):
        if name not in names:
            section.problem(
                f"components[{index}]",
                f"{name!r} is not a component (one of: {', '.join(sorted(names))})",
            )
        elif Component(name) not in chosen:
            chosen.append(Component(name))
    return tuple(chosen)


def _password(section: Reader) -> Secret | None:
    path = section.opt_text("bind_password_file")
    env = section.opt_text("bind_password_env")
    if path and env:
        section.problem(
            "bind_password_env", "give bind_password_file or bind_password_env, not both"
        )
        return None
    if path:
        try:
            text = Path(path).read_text(encoding="utf-8").rstrip("\r\n")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            section.problem("bind_password_file", f"cannot read {path}: {reason}")
            return None
        if not text:
            section.problem("bind_password_file", f"{path} is empty")
            return None
        return Secret(text)
    if env:
        value = os.environ.get(env)
        if not value:
            section.problem("bind_password_env", f"environment variable {env} is not set")
            return None
        return Secret(value)
    return None
