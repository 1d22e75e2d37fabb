"""A value that must never be printed: repr, str and format all give ``<secret>``
(blackbox_exporter's rule for secrets in config). Only ``reveal()`` gives the text,
and only the LDAP bind calls it."""

from __future__ import annotations


class Secret:
    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "<secret>"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return "<secret>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("secret", len(self._value)))

    def redact(self, text: str) -> str:
        """``text`` with every occurrence of the secret replaced (for error messages)."""
        return text.replace(self._value, "<secret>") if self._value else text
