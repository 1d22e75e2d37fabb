"""``exchange-cert-exporter preflight``: reads the certificate file and the
inventory, runs exporter/preflight.py, prints the result and returns its exit code
(0 nothing would break, 1 something would, 2 bad input). A bad file, password,
time or config is one line naming it; the private key of a .pfx is never kept,
printed or logged (exporter/certfile.py)."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes

from exporter.certfile import CertificateFileError, der_chain, read_certificate_file
from exporter.config import Config, ConfigError, load_config, load_config_mapping
from exporter.preflight import preflight
from exporter.render.preflight import (
    deployment,
    key_note,
    preflight_json,
    preflight_powershell,
    preflight_table,
)
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
    result = preflight(config, der_chain(cert), store, at, fetch=not args.no_fetch, names=args.name)
    thumbprint = cert.leaf.fingerprint(hashes.SHA1()).hex().upper()  # noqa: S303 - a thumbprint
    plan = (
        {}
        if result.would_break
        else deployment(result, args.cert_file, thumbprint, with_key=cert.has_key)
    )
    note = key_note(cert.has_key)
    if args.format == "json":
        sys.stdout.write(json.dumps(preflight_json(result, plan, note), indent=2) + "\n")
    elif args.format == "powershell":
        sys.stdout.write(preflight_powershell(plan, note))
    else:
        sys.stdout.write(preflight_table(result, plan, note))
    return 1 if result.would_break else 0


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
    return when.astimezone(dt.UTC)


def _password(args: argparse.Namespace) -> bytes | None:
    if args.password_file:
        try:
            return Path(args.password_file).read_bytes().rstrip(b"\r\n")
        except OSError as exc:
            why = exc.strerror
            raise PreflightInputError(f"--password-file {args.password_file}: {why}") from None
    if args.password_env:
        value = os.environ.get(args.password_env)
        if value is None:
            name = args.password_env
            raise PreflightInputError(f"--password-env {name}: the variable is not set")
        return value.encode()
    return None
