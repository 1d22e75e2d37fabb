"""OpenLDAP slapd as a private instance on free loopback ports: its own config and
data directories, the AD-shaped schema in tests/data/ldap, LDAPS and StartTLS with
a certificate from the test's CA, and AD's 1000-entry page limit.
"""

from __future__ import annotations

import base64
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from tests.ad_data import CONFIG_DN, DOMAIN_DN, Obj
from tests.peers.dnsmasq import free_port
from tests.peers.process import stop as stop_process

SLAPD = "/usr/sbin/slapd"
SLAPADD = "/usr/sbin/slapadd"
SCHEMA = Path(__file__).parent.parent / "data" / "ldap" / "exchange.schema"
BIND_DN = f"CN=svc-exporter,CN=Users,{DOMAIN_DN}"
ADMIN_DN = f"CN=admin,{DOMAIN_DN}"


def _value(text: str) -> str:
    if text.isascii() and text.isprintable() and not text.startswith((" ", ":", "<")):
        return f" {text}"
    return ": " + base64.b64encode(text.encode()).decode()


def ldif(objs: list[Obj]) -> str:
    blocks = []
    for obj in objs:
        cn = obj.dn.split(",", 1)[0].split("=", 1)[1].replace("\\", "")
        lines = [
            f"dn:{_value(obj.dn)}",
            *(f"objectClass: {c}" for c in obj.classes),
            f"cn:{_value(cn)}",
        ]
        for name, values in obj.attrs.items():
            lines += [
                f"{name}:: {base64.b64encode(v).decode()}"
                if isinstance(v, bytes)
                else f"{name}:{_value(v)}"
                for v in values
            ]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


class Slapd:
    def __init__(
        self,
        workdir: Path,
        objs: list[Obj],
        password: str,
        cert: Path,
        key: Path,
        ca: Path,
        address: str = "127.0.0.1",
    ) -> None:
        self.workdir = workdir
        self.address = address
        self.port = free_port(address)
        self.ldaps_port = free_port(address)
        for sub in ("config-db", "domain-db"):
            (workdir / sub).mkdir(parents=True, exist_ok=True)
        (workdir / "rootdse.ldif").write_text(
            f"dn:\nobjectClass: top\nconfigurationNamingContext: {CONFIG_DN}\n"
        )
        self.conf = workdir / "slapd.conf"
        self.conf.write_text(f"""
include /etc/ldap/schema/core.schema
include {SCHEMA}
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile {workdir}/slapd.pid
rootDSE {workdir}/rootdse.ldif
TLSCertificateFile {cert}
TLSCertificateKeyFile {key}
TLSCACertificateFile {ca}
sizelimit size.soft=1000 size.hard=1000 size.prtotal=unlimited
access to attrs=userPassword by anonymous auth by * none
access to dn.base="" by * read
access to * by users read by * none

database mdb
suffix "{CONFIG_DN}"
rootdn "CN=admin,{CONFIG_DN}"
rootpw admin-secret
directory {workdir}/config-db
maxsize 104857600
limits * size.soft=1000 size.hard=1000 size.prtotal=unlimited

database mdb
suffix "{DOMAIN_DN}"
rootdn "{ADMIN_DN}"
rootpw admin-secret
directory {workdir}/domain-db
maxsize 104857600
""")
        config_objs = [Obj(CONFIG_DN, ["container"]), *objs]
        domain = [
            Obj(DOMAIN_DN, ["dcObject", "organization"], {"o": ["Contoso"], "dc": ["contoso"]}),
            Obj(f"CN=Users,{DOMAIN_DN}", ["container"]),
            Obj(BIND_DN, ["person"], {"sn": ["exporter"], "userPassword": [password]}),
        ]
        for suffix, entries in ((CONFIG_DN, config_objs), (DOMAIN_DN, domain)):
            data = workdir / f"{suffix.split(',')[0].split('=')[1]}.ldif"
            text = ldif(entries)
            if suffix == DOMAIN_DN:  # dcObject/organization entries have no cn
                text = text.replace("cn: contoso\n", "", 1)
            data.write_text(text)
            subprocess.run(
                [SLAPADD, "-q", "-f", str(self.conf), "-b", suffix, "-l", str(data)],
                check=True,
                capture_output=True,
            )
        self.process: subprocess.Popen[bytes] | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"ldap://{self.address}:{self.port}"

    @property
    def ldaps_url(self) -> str:
        return f"ldaps://{self.address}:{self.ldaps_port}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [SLAPD, "-f", str(self.conf), "-h", f"{self.url}/ {self.ldaps_url}/", "-d", "0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                out = self.process.stdout.read().decode() if self.process.stdout else ""
                raise RuntimeError(f"slapd exited: {out}")
            try:
                with socket.create_connection((self.address, self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("slapd did not listen within 15s")

    def pause(self) -> None:
        """SIGSTOP: the socket still accepts, but nothing answers (a hung DC)."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGCONT)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.resume()
            stop_process(self.process, timeout=5)
