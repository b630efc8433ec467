"""Decode Stripe's bracket-notation form parameters; urllib parses flat pairs, nothing in the stdlib nests them."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl

_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_PART = re.compile(r"\[([^\[\]]*)\]")

# Top-level parameters whose children are free-form string maps, never arrays (metadata[0]=x is a key "0").
MAP_PARAMS = frozenset({"metadata"})


class FormError(ValueError):
    """A parameter name that is not valid bracket notation."""

    def __init__(self, message: str, param: str) -> None:
        super().__init__(message)
        self.param = param


def parse_form(raw: str) -> dict[str, Any]:
    """`a=1&m[k]=v&e[0]=x&e[]=y&n[a][b]=z` -> {"a": "1", "m": {"k": "v"}, "e": ["x", "y"], "n": {"a": {"b": "z"}}}.

    Stripe's encoding (and the official SDKs') sends arrays as `name[0]=..`, `name[1]=..` or `name[]=..`; an
    empty value is kept (Stripe uses `metadata[key]=` to delete a key and `metadata=` to clear the map).
    """
    root: dict[str, Any] = {}
    for name, value in parse_qsl(raw, keep_blank_values=True):
        match = _KEY.match(name)
        if match is None:
            raise FormError(f"Invalid parameter name: {name}", name)
        parts = [match.group(1), *_PART.findall(match.group(2))]
        _insert(root, parts, value, name)
    return {key: _listify(value, key in MAP_PARAMS) for key, value in root.items()}


def _insert(node: dict[str, Any], parts: list[str], value: str, name: str) -> None:
    head, rest = parts[0], parts[1:]
    if not rest:
        if head == "":
            node.setdefault("__append__", []).append(value)
        elif isinstance(node.get(head), dict):
            raise FormError(f"Invalid value for {name}: expected a hash", name)
        else:
            node[head] = value
        return
    if head == "":
        # `a[][b]=..`: each such key starts a new element.
        child: dict[str, Any] = {}
        node.setdefault("__append__", []).append(child)
    else:
        existing = node.get(head)
        if existing is not None and not isinstance(existing, dict):
            raise FormError(f"Invalid value for {name}: expected a string", name)
        child = node.setdefault(head, {})
    _insert(child, rest, value, name)


def _listify(value: Any, is_map: bool) -> Any:
    """Turn {"0": a, "1": b} and appended `[]` values into lists, except inside free-form maps."""
    if not isinstance(value, dict):
        return value
    appended = value.pop("__append__", None)
    if is_map:
        if appended is not None:
            value[""] = appended[-1]
        return value
    converted = {key: _listify(child, False) for key, child in value.items()}
    if appended is not None and not converted:
        return [_listify(item, False) for item in appended]
    if converted and all(key.isdigit() for key in converted):
        ordered = [converted[key] for key in sorted(converted, key=int)]
        return ordered + [_listify(item, False) for item in appended or []]
    if appended is not None:
        converted[""] = appended
    return converted
