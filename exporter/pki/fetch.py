"""Fetching what certificates point at (AIA caIssuers, CRLs, OCSP), as a domain
member's chain engine does, bounded and cached.

Only URLs a certificate names are fetched, and only at the host they name:
``http://`` hosts resolve through the configured internal DNS (the resolver the
probes use), a redirect to another host is not followed, and ``ldap:///`` URLs (AD
CS writes them with no host, meaning "the domain's directory") are read through
the configured ``ldap:`` connection; an ``ldap://`` URL naming any other host is
refused. Every failure is a :class:`Fetched` with an error, never an exception.

Every fetch is bounded in size, and in time as a whole: connect to last byte by one
deadline however a peer trickles (:mod:`exporter.probe.document`'s exchange), its
``timeout`` or the caller's sooner ``deadline`` (a chain's budget). A fetch the budget
cut short is not cached: its URL did not get its whole timeout.

Bodies are cached by URL (:class:`FetchCache`, kept across refreshes), until the
earliest of: the HTTP caching headers, what the caller says the body is good for
(a CRL's nextUpdate), and the caller's ``max_age``. Failures are kept briefly so a
refresh asks each dead URL once.
"""

from __future__ import annotations

import email.utils
import http.client
import ipaddress
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import SplitResult, unquote, urlsplit

from exporter.config.ldap import LdapConfig
from exporter.probe.dns import DnsResolver
from exporter.probe.document import http_request, read_body, time_left

FAILURE_TTL = 30.0
MAX_ENTRIES = 4096
MAX_REDIRECTS = 3
_USER_AGENT = "Microsoft-CryptoAPI/10.0"  # what Windows' chain engine sends


@dataclass(frozen=True)
class Fetched:
    """One URL's body, or why there is none.

    Attributes:
        body: the bytes, None on failure (then ``error`` says why, in a sentence
            that names the URL's host).
        expires_at: until when (time.time()) the cache keeps it.
    """

    url: str
    body: bytes | None
    error: str | None = None
    expires_at: float = 0.0


class FetchCache:
    """URL -> Fetched, shared across refreshes; one fetch per URL at a time."""

    def __init__(self) -> None:
        self._entries: dict[tuple[str, bytes], Fetched] = {}
        self._locks: dict[tuple[str, bytes], threading.Lock] = {}
        self._guard = threading.Lock()

    def lock(self, key: tuple[str, bytes]) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    def get(self, key: tuple[str, bytes], now: float) -> Fetched | None:
        entry = self._entries.get(key)
        return entry if entry is not None and entry.expires_at > now else None

    def put(self, key: tuple[str, bytes], entry: Fetched, now: float) -> None:
        with self._guard:
            self._entries[key] = entry
            if len(self._entries) > MAX_ENTRIES:  # bounded: drop what has expired
                self._entries = {k: v for k, v in self._entries.items() if v.expires_at > now}
                self._locks = {k: v for k, v in self._locks.items() if k in self._entries}


class Fetcher:
    """Fetches for one refresh: the cycle's resolver, the configured directory."""

    def __init__(
        self,
        resolver: DnsResolver,
        ldap: LdapConfig | None,
        cache: FetchCache,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.resolver = resolver
        self.ldap = ldap
        self.cache = cache
        self.clock = clock

    def fetch(
        self,
        url: str,
        *,
        max_bytes: int,
        max_age: float,
        timeout: float,
        deadline: float | None = None,
        budget: str = "the budget",
        post: bytes | None = None,
        content_type: str = "",
        good_until: Callable[[bytes], float | None] | None = None,
    ) -> Fetched:
        """GET ``url`` (or POST ``post``), from the cache when it is still good.
        ``timeout`` bounds the whole request; ``deadline`` (time.monotonic()), when
        sooner, is the caller's: ``budget`` names it in the error when it cuts in."""
        key = (url, post or b"")
        start = time.monotonic()
        end = _Deadline(start + timeout, "the timeout")
        cut = deadline is not None and deadline < end.at
        if deadline is not None and cut:
            end = _Deadline(deadline, f"what was left of {budget}")
        lock = self.cache.lock(key)
        if not lock.acquire(timeout=max(0.0, end.at - start)):
            return Fetched(url, None, f"{url}: still being fetched when {end.what} ran out")
        try:
            now = self.clock()
            cached = self.cache.get(key, now)
            if cached is not None:
                return cached
            if time.monotonic() >= end.at:
                return Fetched(url, None, f"{url}: not fetched: {budget} was spent")
            try:
                body, fresh_for = self._fetch(url, max_bytes, end, post, content_type)
            except _FetchError as exc:
                if cut:  # the URL did not get its whole timeout: another chain may try it
                    return Fetched(url, None, str(exc))
                entry = Fetched(url, None, str(exc), now + FAILURE_TTL)
            else:
                lifetime = min(max_age, fresh_for if fresh_for is not None else max_age)
                until = good_until(body) if good_until is not None else None
                expires = now + lifetime if until is None else min(now + lifetime, until)
                entry = Fetched(url, body, None, expires)
            self.cache.put(key, entry, now)
            return entry
        finally:
            lock.release()

    def _fetch(
        self, url: str, max_bytes: int, end: _Deadline, post: bytes | None, content_type: str
    ) -> tuple[bytes, float | None]:
        scheme = url.split(":", 1)[0].lower()
        if scheme == "http":
            body, headers = self._http(url, max_bytes, end, post, content_type)
            return body, _freshness(headers, self.clock())
        if scheme == "ldap" and post is None:
            return self._ldap(url, max_bytes), None
        raise _FetchError(f"{url}: {scheme}:// is not fetched (http:// and ldap:/// are)")

    def _http(
        self, url: str, max_bytes: int, end: _Deadline, post: bytes | None, content_type: str
    ) -> tuple[bytes, dict[str, str]]:
        for _ in range(MAX_REDIRECTS + 1):
            parts = urlsplit(url)
            host = parts.hostname or ""
            address = self._address(url, host)  # bounded by dns.timeout, once a cycle
            status, headers, body = _http_exchange(
                url, address, parts, post, content_type, max_bytes, end
            )
            if status in (301, 302, 303, 307, 308):
                target = urlsplit(headers.get("location", ""))
                moved = bool(target.netloc) and (
                    (target.hostname or "").lower() != host.lower() or target.port != parts.port
                )
                if moved or target.scheme not in ("", "http"):
                    raise _FetchError(
                        f"{url}: redirected to {headers.get('location', '')!r}, another host "
                        "or port; not followed (only the hosts certificates name are fetched)"
                    )
                url = parts._replace(path=target.path, query=target.query).geturl()
                continue
            if status != 200:
                raise _FetchError(f"{url}: HTTP {status}")
            return body, headers
        raise _FetchError(f"{url}: more than {MAX_REDIRECTS} redirects")

    def _address(self, url: str, host: str) -> str:
        try:
            return str(ipaddress.ip_address(host))
        except ValueError:
            pass
        answer = self.resolver.lookup(host)
        if not answer.addresses:
            detail = answer.detail or answer.reason.value
            raise _FetchError(f"{url}: {host} does not resolve in internal DNS ({detail})")
        return answer.addresses[0]

    def _ldap(self, url: str, max_bytes: int) -> bytes:
        from exporter.discovery.ldap import LdapFailure, read_binary_attribute  # noqa: PLC0415

        host, dn, attribute = parse_ldap_url(url)
        if self.ldap is None:
            raise _FetchError(f"{url}: no directory is configured (ldap:) to read it from")
        if host and host.lower() != self.ldap.host.lower():
            raise _FetchError(
                f"{url}: names the directory {host}, not the configured {self.ldap.host}; "
                "not fetched"
            )
        try:
            values = read_binary_attribute(self.ldap, dn, attribute)
        except LdapFailure as exc:
            raise _FetchError(f"{url}: {exc.message}") from None
        if not values:
            raise _FetchError(f"{url}: the directory has no {attribute} at {dn}")
        if len(values[0]) > max_bytes:
            raise _FetchError(f"{url}: larger than {max_bytes} bytes")
        return values[0]


class _FetchError(Exception):
    pass


@dataclass(frozen=True)
class _Deadline:
    """When a fetch must end (time.monotonic()), and what set it, for the error."""

    at: float
    what: str


_LDAP_URL = re.compile(r"^ldap://(?P<host>[^/]*)/(?P<dn>[^?]*)(?:\?(?P<attrs>[^?]*))?", re.I)


def parse_ldap_url(url: str) -> tuple[str, str, str]:
    """(host, DN, first attribute) of an RFC 4516 URL; host "" for ``ldap:///``."""
    match = _LDAP_URL.match(url)
    if match is None or not match.group("dn"):
        raise _FetchError(f"{url}: not an LDAP URL with a DN")
    attribute = (match.group("attrs") or "").split(",")[0].split(";")[0]
    if not attribute:
        raise _FetchError(f"{url}: names no attribute to read")
    host = match.group("host").rsplit(":", 1)[0] if match.group("host") else ""
    return host, unquote(match.group("dn")), attribute


def _http_exchange(
    url: str,
    address: str,
    parts: SplitResult,
    post: bytes | None,
    content_type: str,
    max_bytes: int,
    end: _Deadline,
) -> tuple[int, dict[str, str], bytes]:
    """One request to ``address``, connect to last byte by ``end``."""
    host, port = parts.hostname or "", parts.port or 80
    path = parts.path or "/"
    target = f"{path}?{parts.query}" if parts.query else path
    headers = [("Host", host if port == 80 else f"{host}:{port}"), ("User-Agent", _USER_AGENT)]
    if post is not None:
        headers.append(("Content-Type", content_type))
    sock = None
    try:
        sock = socket.create_connection((address, port), timeout=time_left(end.at))
        method = "POST" if post is not None else "GET"
        response = http_request(sock, method, target, headers, post, end.at)
        fields = {k.lower(): v for k, v in response.getheaders()}
        body = read_body(response, max_bytes) if response.status == 200 else b""
    except TimeoutError:
        raise _FetchError(f"{url}: no answer within {end.what}") from None
    except (OSError, http.client.HTTPException, ValueError) as exc:
        raise _FetchError(f"{url}: {exc.__class__.__name__}: {exc}") from None
    finally:
        if sock is not None:
            sock.close()
    if body is None:
        raise _FetchError(f"{url}: larger than the {max_bytes} bytes allowed")
    return response.status, fields, body


def _freshness(headers: dict[str, str], now: float) -> float | None:
    """Seconds the response may be cached for, from Cache-Control or Expires."""
    control = headers.get("cache-control", "").lower()
    if "no-store" in control or "no-cache" in control:
        return 0.0
    match = re.search(r"max-age=(\d+)", control)
    if match:
        return float(match.group(1))
    expires = headers.get("expires")
    if expires:
        try:
            when = email.utils.parsedate_to_datetime(expires)
        except (TypeError, ValueError):
            return 0.0
        return max(0.0, when.timestamp() - now)
    return None
