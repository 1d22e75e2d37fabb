"""``exchange-cert-exporter healthcheck``: the container's HEALTHCHECK, which must pass
whatever ``--web.config.file`` turned on. ``/-/healthy`` needs no credentials (it
says only that the process runs), so basic auth is no obstacle; TLS is spoken when
plain HTTP is refused, without verifying the exporter's own certificate (the check
runs beside it, on loopback); and with client certificates required, the TLS
alert that asks for one is itself the proof that the server is up.
"""

from __future__ import annotations

import http.client
import ssl

HEALTHY_ALERTS = ("CERTIFICATE_REQUIRED", "HANDSHAKE_FAILURE", "BAD_CERTIFICATE")


def check(host: str, port: int, timeout: float = 4.0) -> tuple[bool, str]:
    """(healthy, what was seen) for the exporter at ``host:port``."""
    plain = _get(http.client.HTTPConnection(host, port, timeout=timeout))
    if plain[0]:
        return plain
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # our own server on loopback: see the docstring
    secure = _get(http.client.HTTPSConnection(host, port, timeout=timeout, context=context))
    if secure[0]:
        return secure
    return False, f"http: {plain[1]}; https: {secure[1]}"


def _get(connection: http.client.HTTPConnection) -> tuple[bool, str]:
    try:
        connection.request("GET", "/-/healthy")
        status = connection.getresponse().status
    except ssl.SSLError as exc:
        reason = str(getattr(exc, "reason", "") or exc).upper()
        if any(alert in reason for alert in HEALTHY_ALERTS):
            return True, f"TLS up, it asks for a client certificate ({reason.lower()})"
        return False, f"TLS failed: {exc}"
    except (OSError, http.client.HTTPException) as exc:
        return False, f"{type(exc).__name__}: {exc}"
    finally:
        connection.close()
    return status == 200, f"HTTP {status}"
