"""Template helpers for the portal: state badges and readable reason codes."""

from __future__ import annotations

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

from core.portal import FORM_TOKEN_FIELD, new_form_token

register = template.Library()


@register.simple_tag
def form_token() -> SafeString:
    """A one-time token for a form whose answer shows a secret (see contracts.portal, "forms sent once")."""
    return format_html('<input type="hidden" name="{}" value="{}">', FORM_TOKEN_FIELD, new_form_token())


@register.filter
def humanize_code(code: str | None) -> str:
    """`velocity_anomaly` -> `Velocity anomaly` (machine codes stay visible in a title attribute)."""
    if not code:
        return ""
    text = str(code).replace("_", " ").replace(".", " · ")
    return text[:1].upper() + text[1:]


@register.simple_tag
def badge(value: str | None, kind: str = "state") -> SafeString:
    """A coloured label for a state or decision; the colour comes from `portal.css` (`.badge-<kind>-<value>`)."""
    value = str(value or "none")
    return format_html(
        '<span class="badge badge-{}-{}" title="{}">{}</span>', kind, value, value, humanize_code(value)
    )
