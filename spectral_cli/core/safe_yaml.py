"""Untrusted YAML, parsed safely: PyYAML's safe loader (``1e-3`` read as a float, as in YAML
1.2), with alias expansion, nesting, duplicate keys and unreadable numbers refused as
:class:`~spectral_cli.core.errors.BadInput` before anything is built. Used by
:mod:`spectral_cli.core.config` for config files and ``--set`` values."""

from __future__ import annotations

import re
from typing import Any

import yaml

from spectral_cli.core.errors import BadInput

MAX_CONFIG_NODES = 100_000  # YAML nodes after alias expansion (an "alias bomb" is refused)


class SpectralLoader(yaml.SafeLoader):
    """PyYAML's safe loader, reading ``1e-3`` as a float like YAML 1.2 (YAML 1.1 needs a dot)."""


SpectralLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def _expanded_size(node: yaml.Node, memo: dict[int, int]) -> int:
    """Nodes of the document once every alias is expanded (shared nodes counted per use)."""
    key = id(node)
    if key in memo:
        return memo[key]
    memo[key] = 1  # a recursive alias counts once; construction refuses it anyway
    size = 1
    if isinstance(node, yaml.SequenceNode):
        size += sum(_expanded_size(child, memo) for child in node.value)
    elif isinstance(node, yaml.MappingNode):
        size += sum(_expanded_size(k, memo) + _expanded_size(v, memo) for k, v in node.value)
    memo[key] = size
    return size


def _duplicate_key(node: yaml.Node, seen: set[int]) -> str | None:
    """The first key written twice in one mapping of ``node``'s tree (YAML keeps the last one
    silently: ``epochs: 1`` then ``epochs: 2``, or two ``train:`` sections)."""
    if id(node) in seen:
        return None
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        keys: set[str] = set()
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value != "<<":
                if key.value in keys:
                    return str(key.value)
                keys.add(key.value)
            found = _duplicate_key(value, seen)
            if found is not None:
                return found
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            found = _duplicate_key(item, seen)
            if found is not None:
                return found
    return None


def safe_yaml(text: str, source: str) -> Any:
    """Parse untrusted YAML: aliases may not expand beyond :data:`MAX_CONFIG_NODES` nodes and
    nesting may not exhaust the stack; both are bad input, refused before anything is built."""
    try:
        node = yaml.compose(text, Loader=SpectralLoader)
        if node is None:
            return None
        memo: dict[int, int] = {}
        size = _expanded_size(node, memo)
        if len(memo) > MAX_CONFIG_NODES:  # written out: no alias to blame
            raise BadInput(
                f"{source} holds {len(memo):,} YAML nodes (keys and values); a config is "
                f"limited to {MAX_CONFIG_NODES:,}"
            )
        if size > MAX_CONFIG_NODES:
            raise BadInput(
                f"{source} expands to more than {MAX_CONFIG_NODES:,} YAML nodes (aliases); "
                "write the values out instead of nesting aliases"
            )
        twice = _duplicate_key(node, set())
        if twice is not None:
            raise BadInput(f"{source} sets {twice!r} twice in one mapping; keep one of them")
        return yaml.load(text, Loader=SpectralLoader)
    except RecursionError:
        raise BadInput(f"{source} is nested too deeply to be a config") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BadInput(f"{source} is not valid YAML ({first})") from None
    except ValueError as exc:  # an integer of more than 4,300 digits (int() refuses it)
        why = str(exc)[:60]
        raise BadInput(f"{source} holds a number that cannot be read ({why}...)") from None
