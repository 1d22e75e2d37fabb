"""LDAP I/O: connect, bind, and read what Outlook reads, with paged searches (AD
returns at most 1000 entries a page). Every failure becomes an LdapFailure with a
reason; the password never appears in a message.
"""

from __future__ import annotations

import contextlib
import math
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar

from ldap3 import ANONYMOUS, BASE, NONE, SIMPLE, SUBTREE, Connection, Server, Tls
from ldap3.core import exceptions as lx
from ldap3.utils.conv import escape_filter_chars

from exporter.config.ldap import LdapConfig
from exporter.discovery.ad import SCP_POINTER_KEYWORD, SCP_URL_KEYWORD, Entry

SERVER_FILTER = "(objectClass=msExchExchangeServer)"
SCP_FILTER = (
    "(&(objectClass=serviceConnectionPoint)"
    f"(|(keywords={escape_filter_chars(SCP_POINTER_KEYWORD)})"
    f"(keywords={escape_filter_chars(SCP_URL_KEYWORD)})))"
)
VDIR_FILTER = "(&(objectClass=msExchVirtualDirectory)(!(objectClass=container)))"
SERVER_ATTRS = [
    "cn",
    "networkAddress",
    "serialNumber",
    "msExchServerSite",
    "msExchCurrentServerRoles",
]
SCP_ATTRS = ["cn", "serviceBindingInformation", "keywords"]
VDIR_ATTRS = ["cn", "objectClass", "msExchInternalHostName", "msExchExternalHostName"]
# Attribute names: exporter/discovery/ad_surfaces.py says where they come from.
SMTP_FILTER = "(objectClass=msExchSmtpReceiveConnector)"
POP_IMAP_FILTER = "(|(objectClass=protocolCfgIMAPServer)(objectClass=protocolCfgPOPServer))"
SURFACE_ATTRS = [
    "cn",
    "objectClass",
    "msExchSmtpReceiveBindings",
    "msExchSMTPReceiveConnectorFQDN",
    "msExchSmtpTLSCertificate",
    "msExchSmtpReceiveEnabled",
    "msExchPOPIMAPInternalConnectionSettings",
    "msExchPopImapX509CertificateName",
    "msExchSecureBindings",
]


class LdapReason(StrEnum):
    UNREACHABLE = "unreachable"
    TLS_ERROR = "tls_error"
    INVALID_CREDENTIALS = "invalid_credentials"
    BIND_FAILED = "bind_failed"
    TIMEOUT = "timeout"
    SEARCH_FAILED = "search_failed"
    NO_CONFIGURATION_NC = "no_configuration_nc"
    INTERNAL_ERROR = "internal_error"


class LdapFailure(Exception):
    def __init__(self, reason: LdapReason, message: str) -> None:
        super().__init__(f"{reason.value}: {message}")
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class DirectoryData:
    """``surfaces``: receive connectors and IMAP/POP settings, read only when
    ``ldap.components`` asks for SMTP, IMAP or POP."""

    configuration_dn: str
    servers: list[Entry]
    scps: list[Entry]
    vdirs: list[Entry]
    surfaces: list[Entry] = field(default_factory=list)


def _connection(cfg: LdapConfig) -> Connection:
    tls = Tls(
        validate=ssl.CERT_REQUIRED, ca_certs_file=cfg.ca_file, version=ssl.PROTOCOL_TLS_CLIENT
    )
    server = Server(
        cfg.host,
        port=cfg.port,
        use_ssl=cfg.use_ssl,
        tls=tls,
        get_info=NONE,
        connect_timeout=cfg.timeout,
    )
    password = cfg.password.reveal() if cfg.password else None
    # ldap3 packs receive_timeout into SO_RCVTIMEO with struct "LL": whole seconds only.
    return Connection(
        server,
        user=cfg.bind_dn,
        password=password,
        authentication=SIMPLE if cfg.bind_dn else ANONYMOUS,
        receive_timeout=max(1, math.ceil(cfg.timeout)),
        raise_exceptions=True,
        read_only=True,
        auto_referrals=False,
        check_names=False,
    )


def _failure(exc: Exception, cfg: LdapConfig, stage: str) -> LdapFailure:
    text = str(exc) or type(exc).__name__
    if cfg.password is not None:
        text = cfg.password.redact(text)
    where = f"{cfg.url}: {stage}"
    if isinstance(exc, lx.LDAPInvalidCredentialsResult):
        return LdapFailure(
            LdapReason.INVALID_CREDENTIALS,
            f"{where}: the directory refused the bind DN or password",
        )
    # A timeout first: a hung LDAPS directory times out inside the TLS handshake, and
    # ldap3's message then says "ssl" too, though nothing is wrong with TLS.
    if (
        isinstance(exc, (lx.LDAPResponseTimeoutError, socket.timeout, TimeoutError))
        or "timed out" in text.lower()
        or "timeout" in text.lower()
    ):
        return LdapFailure(LdapReason.TIMEOUT, f"{where}: no answer within {cfg.timeout:g}s")
    if (
        isinstance(exc, (lx.LDAPStartTLSError, ssl.SSLError))
        or "certificate" in text.lower()
        or "ssl" in text.lower()
    ):
        return LdapFailure(LdapReason.TLS_ERROR, f"{where}: TLS failed: {text}")
    if isinstance(exc, lx.LDAPBindError | lx.LDAPAuthMethodNotSupportedResult):
        return LdapFailure(LdapReason.BIND_FAILED, f"{where}: {text}")
    if isinstance(exc, lx.LDAPSocketOpenError | lx.LDAPSocketReceiveError | OSError):
        return LdapFailure(LdapReason.UNREACHABLE, f"{where}: {text}")
    return LdapFailure(LdapReason.SEARCH_FAILED, f"{where}: {text}")


def _entries(conn: Connection, base: str, query: str, attrs: list[str], page: int) -> list[Entry]:
    out: list[Entry] = []
    results: Any = conn.extend.standard.paged_search(
        base, query, search_scope=SUBTREE, attributes=attrs, paged_size=page, generator=True
    )
    for item in results:
        if item.get("type") != "searchResEntry":
            continue
        raw = item.get("raw_attributes") or {}
        attrs_text = {
            str(name).lower(): [
                v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in values
            ]
            for name, values in raw.items()
        }
        out.append(Entry(str(item["dn"]), attrs_text))
    return out


class _Session:
    """A connected, bound connection; ``stage`` names the step under way, for the
    failure message."""

    def __init__(self, cfg: LdapConfig) -> None:
        self.cfg = cfg
        self.conn = _connection(cfg)
        self.stage = "connect"

    def __enter__(self) -> _Session:
        try:
            self.conn.open()
            if self.cfg.start_tls:
                self.stage = "StartTLS"
                self.conn.start_tls()
            self.stage = "bind"
            self.conn.bind()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *_exc: object) -> None:
        with contextlib.suppress(lx.LDAPException, OSError):
            self.conn.unbind()


_T = TypeVar("_T")


def _guarded(cfg: LdapConfig, work: Callable[[_Session], _T]) -> _T:
    """Run ``work`` in a session; every ldap3 or socket error becomes an LdapFailure."""
    session = _Session(cfg)
    try:
        with session:
            return work(session)
    except LdapFailure:
        raise
    except (lx.LDAPException, OSError, ssl.SSLError) as exc:
        raise _failure(exc, cfg, session.stage) from None


def fetch_directory(cfg: LdapConfig) -> DirectoryData:
    """Everything discovery needs, in one connection; raises LdapFailure."""

    def read(session: _Session) -> DirectoryData:
        conn = session.conn
        session.stage = "RootDSE"
        configuration_dn = cfg.configuration_dn or _configuration_dn(conn)
        if not configuration_dn:
            raise LdapFailure(
                LdapReason.NO_CONFIGURATION_NC,
                f"{cfg.url}: the RootDSE has no "
                "configurationNamingContext; set ldap.configuration_dn",
            )
        session.stage = "search"
        surfaces: list[Entry] = []
        wanted = {c.value for c in cfg.components}
        if wanted & {"smtp", "smtp_submission"}:
            surfaces += _entries(conn, configuration_dn, SMTP_FILTER, SURFACE_ATTRS, cfg.page_size)
        if wanted & {"imap", "pop"}:
            surfaces += _entries(
                conn, configuration_dn, POP_IMAP_FILTER, SURFACE_ATTRS, cfg.page_size
            )
        return DirectoryData(
            configuration_dn,
            _entries(conn, configuration_dn, SERVER_FILTER, SERVER_ATTRS, cfg.page_size),
            _entries(conn, configuration_dn, SCP_FILTER, SCP_ATTRS, cfg.page_size),
            _entries(conn, configuration_dn, VDIR_FILTER, VDIR_ATTRS, cfg.page_size),
            surfaces,
        )

    return _guarded(cfg, read)


def _configuration_dn(conn: Connection) -> str | None:
    conn.search("", "(objectClass=*)", search_scope=BASE, attributes=["configurationNamingContext"])
    for item in conn.response or []:
        raw = item.get("raw_attributes") or {}
        for name, values in raw.items():
            if str(name).lower() == "configurationnamingcontext" and values:
                value = values[0]
                return value.decode() if isinstance(value, bytes) else str(value)
    return None


def read_binary_attribute(cfg: LdapConfig, dn: str, attribute: str) -> list[bytes]:
    """The raw values of one attribute of one entry (an AD CS ``cACertificate`` or
    ``certificateRevocationList``), through the configured directory; [] when the
    entry or attribute is absent; raises LdapFailure."""

    def read(session: _Session) -> list[bytes]:
        session.stage = f"read {attribute}"
        try:
            session.conn.search(dn, "(objectClass=*)", search_scope=BASE, attributes=[attribute])
        except lx.LDAPNoSuchObjectResult:
            return []
        for item in session.conn.response or []:
            for name, values in (item.get("raw_attributes") or {}).items():
                if str(name).split(";")[0].lower() == attribute.lower():
                    return [bytes(v) for v in values]
        return []

    return _guarded(cfg, read)
