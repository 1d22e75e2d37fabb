"""Just enough SMTP, IMAP and POP3 to reach the TLS handshake: the greeting, the
capabilities, and the STARTTLS command (RFC 3207; RFC 2595 for IMAP's STARTTLS and
POP3's STLS). Sans-I/O: the poller feeds it what the server sent and sends what it
returns, so the dialogue is tested without sockets and bounded by the poller's one
deadline (a server that greets and then stalls costs one timeout).

Every way a server can fail this part is a reason, never an exception:
``bad_greeting`` (it did not say 220 / ``* OK`` / ``+OK``), ``no_starttls`` (its
capabilities do not offer it), ``starttls_refused`` (offered, then refused) and
``protocol_error`` (a reply that is not the protocol's, or longer than any is).
"""

from __future__ import annotations

from dataclasses import dataclass

from exporter.probe.results import TlsReason

# The longest reply the dialogue keeps; a multi-line EHLO reply is well under 4 KB.
MAX_REPLY = 64 * 1024


@dataclass(frozen=True)
class Step:
    """What to do next: ``send`` these bytes (may be empty), start TLS when ``ready``,
    or stop with ``failure`` (reason and detail)."""

    send: bytes = b""
    ready: bool = False
    failure: tuple[TlsReason, str] | None = None


_WAIT = Step()


class Dialogue:
    """One connection's plain-text part. ``protocol`` is the URL scheme (``smtp``,
    ``imap``, ``pop3``); ``helo`` the name the SMTP client gives (an address
    literal such as ``[127.0.0.1]`` needs no DNS, RFC 5321 4.1.3)."""

    def __init__(self, protocol: str, helo: str = "[127.0.0.1]") -> None:
        self.protocol, self.helo = protocol, helo
        self.phase = "greeting"
        self._buffer = b""
        self._lines: list[str] = []  # of the reply being read
        self._capabilities: list[str] = []

    @property
    def waiting_for(self) -> str:
        """What the server owes, for a timeout's message."""
        names = {"smtp": "SMTP", "imap": "IMAP", "pop3": "POP3"}
        return f"the {names.get(self.protocol, self.protocol)} {self.phase.replace('_', ' ')}"

    def receive(self, data: bytes) -> Step:
        """The server sent ``data`` (b"" when it closed the connection)."""
        if not data:
            return _fail(
                TlsReason.RESET, f"the server closed the connection before {self.waiting_for}"
            )
        self._buffer += data
        while b"\n" in self._buffer:
            raw, self._buffer = self._buffer.split(b"\n", 1)
            step = self._line(raw.rstrip(b"\r").decode("utf-8", "replace"))
            if step is not _WAIT:
                return step
        if len(self._buffer) > MAX_REPLY:
            return _fail(TlsReason.PROTOCOL_ERROR, f"a line longer than {MAX_REPLY} bytes")
        return _WAIT

    def _line(self, line: str) -> Step:
        self._lines.append(line)
        if sum(len(x) for x in self._lines) > MAX_REPLY:
            return _fail(TlsReason.PROTOCOL_ERROR, f"a reply longer than {MAX_REPLY} bytes")
        if self.protocol == "smtp":
            return self._smtp(line)
        if self.protocol == "imap":
            return self._imap(line)
        return self._pop3(line)

    # SMTP: 220 greeting, EHLO -> 250 lines (STARTTLS among them), STARTTLS -> 220.
    def _smtp(self, line: str) -> Step:
        code, last = line[:3], line[3:4] != "-"
        if not code.isdigit():
            return _fail(_bad(self.phase), f"not an SMTP reply: {_quote(line)}")
        if not last:
            return _WAIT  # a multi-line reply goes on
        lines, self._lines = self._lines, []
        if self.phase == "greeting":
            if code != "220":
                return _fail(TlsReason.BAD_GREETING, f"the server greeted with {_quote(line)}")
            self.phase = "EHLO_reply"
            return Step(f"EHLO {self.helo}\r\n".encode())
        if self.phase == "EHLO_reply":
            if code != "250":
                return _fail(TlsReason.PROTOCOL_ERROR, f"EHLO was answered {_quote(line)}")
            offered = {x[4:].split(" ")[0].upper() for x in lines}
            if "STARTTLS" not in offered:
                return _fail(TlsReason.NO_STARTTLS, "the EHLO reply does not offer STARTTLS")
            self.phase = "STARTTLS_reply"
            return Step(b"STARTTLS\r\n")
        if code != "220":
            return _fail(TlsReason.STARTTLS_REFUSED, f"STARTTLS was answered {_quote(line)}")
        return Step(ready=True)

    # IMAP: * OK greeting, a1 CAPABILITY (STARTTLS), a2 STARTTLS -> a2 OK.
    def _imap(self, line: str) -> Step:
        words = line.split(" ")
        if self.phase == "greeting":
            self._lines = []
            if words[:2] not in (["*", "OK"], ["*", "PREAUTH"]):
                return _fail(TlsReason.BAD_GREETING, f"the server greeted with {_quote(line)}")
            self.phase = "CAPABILITY_reply"
            return Step(b"a1 CAPABILITY\r\n")
        if words[0] == "*":
            if len(words) > 1 and words[1].upper() == "CAPABILITY":
                self._capabilities += [w.upper() for w in words[2:]]
            return _WAIT  # untagged data before the tagged reply
        tag, status = words[0], (words[1].upper() if len(words) > 1 else "")
        self._lines = []
        if self.phase == "CAPABILITY_reply":
            if tag != "a1" or status != "OK":
                return _fail(TlsReason.PROTOCOL_ERROR, f"CAPABILITY was answered {_quote(line)}")
            if "STARTTLS" not in self._capabilities:
                return _fail(TlsReason.NO_STARTTLS, "the CAPABILITY reply does not offer STARTTLS")
            self.phase = "STARTTLS_reply"
            return Step(b"a2 STARTTLS\r\n")
        if tag != "a2" or status != "OK":
            return _fail(TlsReason.STARTTLS_REFUSED, f"STARTTLS was answered {_quote(line)}")
        return Step(ready=True)

    # POP3: +OK greeting, CAPA -> +OK lines "." (STLS), STLS -> +OK.
    def _pop3(self, line: str) -> Step:
        if self.phase == "greeting":
            self._lines = []
            if not line.startswith("+OK"):
                return _fail(TlsReason.BAD_GREETING, f"the server greeted with {_quote(line)}")
            self.phase = "CAPA_reply"
            return Step(b"CAPA\r\n")
        if self.phase == "CAPA_reply":
            first = self._lines[0]
            if first.startswith("-ERR"):
                # CAPA is optional (RFC 2449); STLS may still be there.
                self._lines, self.phase = [], "STLS_reply"
                return Step(b"STLS\r\n")
            if not first.startswith("+OK"):
                return _fail(TlsReason.PROTOCOL_ERROR, f"CAPA was answered {_quote(first)}")
            if line != ".":
                return _WAIT
            offered = {x.split(" ")[0].upper() for x in self._lines[1:-1]}
            self._lines = []
            if "STLS" not in offered:
                return _fail(TlsReason.NO_STARTTLS, "the CAPA reply does not offer STLS")
            self.phase = "STLS_reply"
            return Step(b"STLS\r\n")
        if not line.startswith("+OK"):
            return _fail(TlsReason.STARTTLS_REFUSED, f"STLS was answered {_quote(line)}")
        return Step(ready=True)


def _bad(phase: str) -> TlsReason:
    return TlsReason.BAD_GREETING if phase == "greeting" else TlsReason.PROTOCOL_ERROR


def _fail(reason: TlsReason, detail: str) -> Step:
    return Step(failure=(reason, detail))


def _quote(line: str) -> str:
    """A server's line for a message: printable, and short."""
    text = "".join(c if c.isprintable() else "?" for c in line)
    return repr(text[:120] + ("..." if len(text) > 120 else ""))
