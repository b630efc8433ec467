"""The demo's app config: management commands only, no models."""

from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "devtools.demo"
    label = "demo"
    verbose_name = "Demo"
