"""Template helpers for an outcome's trail: raw JSON shown as the sender wrote it, indented; a verdict's reason
in the plain words its rule declares."""

from __future__ import annotations

from typing import Any

from django import template

from outcomes.rules import reason_text as _reason_text
from outcomes.timeline import pretty_json as _pretty_json

register = template.Library()


@register.filter
def pretty_json(value: Any) -> str:
    return _pretty_json(value)


@register.filter
def reason_text(code: str) -> str:
    """What a reason code means, as the rule that gives it says ("" for a code no rule declares)."""
    return _reason_text(code)
