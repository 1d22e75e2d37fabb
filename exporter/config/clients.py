"""``clients:`` and ``client_components:``: which client families the organisation
has, and which components each uses (evaluate/clients.py; ../shared/CLIENTS.md).

``clients: [outlook, apple, browser]`` is the default; an organisation without Macs
or phones says ``clients: [outlook, browser]`` and ``apple`` is judged nowhere.
``client_components: {FAMILY: [component, ...]}`` replaces one family's default
list of components.
"""

from __future__ import annotations

from collections.abc import Mapping

from exporter.config.yamlsource import Reader
from exporter.evaluate.clients import DEFAULT_COMPONENTS, Family
from exporter.model import Component

_FAMILIES = ", ".join(f.value for f in Family)
_COMPONENTS = ", ".join(c.value for c in Component)


def parse_clients(root: Reader) -> tuple[str, ...]:
    if not root.has("clients"):
        root.raw("clients")
        return tuple(f.value for f in Family)
    names = root.str_list("clients")
    out: list[str] = []
    for index, name in enumerate(names):
        if name not in {f.value for f in Family}:
            root.problem(
                f"clients[{index}]", f"unknown client family {name!r} (expected {_FAMILIES})"
            )
        elif name not in out:
            out.append(name)
    return tuple(out)


def parse_client_components(section: Reader) -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    if not isinstance(section.data, dict):
        return out
    for family in section.data:
        if family not in {f.value for f in Family}:
            section.problem(str(family), f"unknown client family (expected {_FAMILIES})")
            continue
        components = section.str_list(str(family))
        for index, name in enumerate(components):
            if name not in {c.value for c in Component}:
                section.problem(
                    f"{family}[{index}]", f"unknown component {name!r} (expected {_COMPONENTS})"
                )
        out[str(family)] = tuple(c for c in components if c in {x.value for x in Component})
    return out


def client_families(
    clients: tuple[str, ...], overrides: Mapping[str, tuple[str, ...]]
) -> dict[Family, frozenset[Component]]:
    """The enabled families, each with the components it uses."""
    return {
        Family(name): (
            frozenset(Component(c) for c in overrides[name])
            if name in overrides
            else DEFAULT_COMPONENTS[Family(name)]
        )
        for name in clients
    }
