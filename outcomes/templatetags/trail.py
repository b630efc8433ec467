"""Template helpers for an outcome's trail: raw JSON shown as the sender wrote it, indented."""

from __future__ import annotations

from typing import Any

from django import template

from outcomes.timeline import pretty_json as _pretty_json

register = template.Library()


@register.filter
def pretty_json(value: Any) -> str:
    return _pretty_json(value)
