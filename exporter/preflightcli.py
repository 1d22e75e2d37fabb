"""``exchange-cert-exporter preflight``: reads the certificate file and the
inventory, runs exporter/preflight.py, prints the result and returns its exit code
(0 nothing would break, 1 something would, 2 bad input). A bad file, password,
time or config is one line naming it; the private key of a .pfx is never kept,
printed or logged (exporter/certfile.py)."""

from __future__ import annotations

import argparse
import datetime as dt
import ipaddress
import json
import os
import sys
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes

from exporter.certfile import CertificateFileError, der_chain, read_certificate_file
from exporter.config import Config, ConfigError, load_config, load_config_mapping
from exporter.hostnames import dns_name
from exporter.preflight import preflight
from exporter.remediation.deploy import deployment, key_note
from exporter.render.preflight import (
    preflight_json,
    preflight_powershell,
    preflight_table,
)
from exporter.textsafe import terminal_safe
from exporter.truststore import TrustStore, load_trust_store


class PreflightInputError(Exception):
    """Bad input: one line, exit 2."""


def cmd_preflight(args: argparse.Namespace) -> int:
    if bool(args.config_file) == bool(args.name):
        raise PreflightInputError("give --config.file or --name (one of them)")
    config = load_config(args.config_file) if args.config_file else _bare_config(args)
    password = _password(args)
    try:
        cert = read_certificate_file(Path(args.cert_file), password, [Path(p) for p in args.chain])
    except CertificateFileError as exc:
        raise PreflightInputError(str(exc)) from None
    store = _store(config, args)
    at = _at(args.at)
    names = [_host_name(name) for name in args.name]
    result = preflight(config, der_chain(cert), store, at, fetch=not args.no_fetch, names=names)
    if not result.verdicts:
        raise PreflightInputError(f"{args.config_file}: no endpoints to judge the certificate on")
    thumbprint = cert.leaf.fingerprint(hashes.SHA1()).hex().upper()  # noqa: S303 - a thumbprint
    # With --name there are no servers to deploy to: the verdict only.
    plan = (
        {}
        if result.would_break or names
        else deployment(result.verdicts, args.cert_file, thumbprint, with_key=cert.has_key)
    )
    note = key_note(cert.has_key)
    if args.format == "json":
        sys.stdout.write(json.dumps(preflight_json(result, plan, note), indent=2) + "\n")
    elif args.format == "powershell":
        sys.stdout.write(preflight_powershell(plan, note))
    else:
        sys.stdout.write(preflight_table(result, plan, note))
    return 1 if result.would_break else 0


def _host_name(text: str) -> str:
    """A --name as the URL host it becomes: a DNS name (IDNA for non-ASCII) or an IP
    address (IPv6 in brackets)."""
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        name = dns_name(text)
        if name is None:
            raise PreflightInputError(
                f"--name {terminal_safe(text)!r}: not a DNS name or an IP address"
            ) from None
        return name
    return f"[{address}]" if address.version == 6 else str(address)


def _bare_config(args: argparse.Namespace) -> Config:
    # No inventory: the names are the flags', the anchors --ca-file's.
    trust = {"ca_files": list(args.ca_file), "system": not args.no_system_roots}
    data: dict[str, Any] = {"servers": [], "trust": trust}
    try:
        return load_config_mapping(data, "<command line>")
    except ConfigError as exc:
        raise PreflightInputError(
            "; ".join(_as_flag(p.path, p.message) for p in exc.problems)
        ) from None


def _as_flag(path: str, message: str) -> str:
    if path.startswith("trust.ca_files"):
        return f"--ca-file: {message}"
    if path == "trust":
        return "no trust anchors: give --ca-file, or drop --no-system-roots"
    return f"{path}: {message}"


def _store(config: Config, args: argparse.Namespace) -> TrustStore:
    base = config.trust.store
    if not args.config_file:
        return base  # --ca-file is the bare config's already
    if args.no_system_roots:
        base = TrustStore(
            tuple(a for a in base.anchors if not base.is_public(a)), base.intermediates
        )
    try:
        extra = load_trust_store(list(args.ca_file), False)
    except ValueError as exc:
        raise PreflightInputError(f"--ca-file: {exc}") from None
    return TrustStore(
        base.anchors + extra.anchors, base.intermediates + extra.intermediates, base.public
    )


def _at(text: str | None) -> dt.datetime:
    if text is None:
        return dt.datetime.now(dt.UTC)
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise PreflightInputError(f"--at {text!r}: not an RFC 3339 time") from None
    if when.tzinfo is None:
        raise PreflightInputError(f"--at {text!r}: give the time zone (Z or +01:00)")
    try:
        return when.astimezone(dt.UTC)
    except OverflowError:
        raise PreflightInputError(f"--at {text!r}: out of range") from None


def _password(args: argparse.Namespace) -> bytes | None:
    """The .pfx password as UTF-8 bytes (what OpenSSL's PKCS#12 code expects). A file
    Windows saved as UTF-16 (with its byte-order mark) is decoded; a password that
    is not text is one line that names where it came from, never its characters."""
    if args.password_file:
        where = f"--password-file {args.password_file}"
        try:
            raw = Path(args.password_file).read_bytes()
        except OSError as exc:
            raise PreflightInputError(f"{where}: {exc.strerror}") from None
        for bom, codec in ((b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be")):
            if raw.startswith(bom):
                raw = raw[len(bom) :].decode(codec, "replace").encode("utf-8", "replace")
        raw = raw.removeprefix(b"\xef\xbb\xbf").rstrip(b"\r\n")
        return _text_password(raw, where)
    if args.password_env:
        value = os.environ.get(args.password_env)
        if value is None:
            name = args.password_env
            raise PreflightInputError(f"--password-env {name}: the variable is not set")
        try:
            raw = value.encode("utf-8")
        except UnicodeEncodeError:
            raise PreflightInputError(
                f"--password-env {args.password_env}: not UTF-8 text"
            ) from None
        return _text_password(raw, f"--password-env {args.password_env}")
    return None


def _text_password(raw: bytes, where: str) -> bytes:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise PreflightInputError(f"{where}: not UTF-8 text") from None
    if "\0" in text:
        raise PreflightInputError(f"{where}: holds a NUL character (UTF-16 without its BOM?)")
    return raw
