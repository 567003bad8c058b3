"""Conversion between the pickled OmegaConf `modalities` node and plain data."""

from __future__ import annotations

import collections
import typing
from typing import Any

from vima_schema.models import GenerationConfig, ResolverValue
from vima_schema.standins import (
    AnyNode,
    ContainerMetadata,
    DictConfig,
    ListConfig,
    Metadata,
    OmegaNode,
)

MODALITIES_KEY = "modalities"


def _plain(node: Any) -> Any:
    if isinstance(node, DictConfig):
        content = node.state.get("_content")
        return {k: _plain(v) for k, v in content.items()} if isinstance(content, dict) else content
    if isinstance(node, ListConfig):
        content = node.state.get("_content")
        return [_plain(v) for v in content] if isinstance(content, list) else content
    if isinstance(node, AnyNode):
        return node.state.get("_val")
    if isinstance(node, OmegaNode):
        raise ValueError(f"unexpected OmegaConf object {type(node).__name__} in 'modalities'")
    return node


def split_modalities(value: Any) -> tuple[list[Any], GenerationConfig | None]:
    """Split a stored `modalities` value into its plain list and its generation config."""
    if isinstance(value, list):
        return value, None
    if not isinstance(value, ListConfig):
        raise ValueError(f"'modalities' must be a list or ListConfig, got {type(value).__name__}")
    modalities = _plain(value)
    if not isinstance(modalities, list):
        raise ValueError("'modalities' ListConfig has no list content")
    parent = value.state.get("_parent")
    if not isinstance(parent, DictConfig):
        return modalities, None
    metadata = parent.state["_metadata"].state
    cache = [
        ResolverValue(resolver=resolver, args=tuple(args), value=result)
        for resolver, entries in metadata.get("resolver_cache", {}).items()
        for args, result in entries.items()
    ]
    return modalities, GenerationConfig(
        values=_plain(parent), flags=dict(metadata.get("flags") or {}), resolver_cache=cache
    )


def _metadata(key: Any, container: type | None, flags: dict[str, Any] | None = None) -> OmegaNode:
    state: dict[str, Any] = {
        "ref_type": typing.Any,
        "object_type": container,
        "optional": True,
        "key": key,
        "flags": flags if flags is not None else {},
        "flags_root": False,
        "resolver_cache": collections.defaultdict(dict),
    }
    if container is None:
        return Metadata(state)
    state["key_type"] = int if container is list else typing.Any
    state["element_type"] = typing.Any
    return ContainerMetadata(state)


def _node(value: Any, key: Any, parent: OmegaNode | None) -> OmegaNode:
    if isinstance(value, dict):
        node: OmegaNode = DictConfig({"_metadata": _metadata(key, dict), "_parent": parent})
        node.state["_content"] = {k: _node(v, k, node) for k, v in value.items()}
    elif isinstance(value, list):
        node = ListConfig({"_metadata": _metadata(key, list), "_parent": parent})
        node.state["_content"] = [_node(v, i, node) for i, v in enumerate(value)]
    else:
        node = AnyNode({"_metadata": _metadata(key, None), "_parent": parent, "_val": value})
    return node


def join_modalities(modalities: list[Any], config: GenerationConfig | None) -> Any:
    """Inverse of `split_modalities`: a plain list, or a ListConfig inside its config tree."""
    if config is None:
        return list(modalities)
    root = DictConfig({"_metadata": _metadata(None, dict, dict(config.flags)), "_parent": None})
    cache = root.state["_metadata"].state["resolver_cache"]
    for entry in config.resolver_cache:
        cache[entry.resolver][tuple(entry.args)] = entry.value
    content: dict[str, OmegaNode] = {}
    for key, value in config.values.items():
        source = modalities if key == MODALITIES_KEY else value
        content[key] = _node(source, key, root)
    root.state["_content"] = content
    if MODALITIES_KEY not in content:
        return _node(list(modalities), MODALITIES_KEY, root)
    return content[MODALITIES_KEY]
