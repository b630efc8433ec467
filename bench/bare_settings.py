"""The product's settings with the bench's bare-view urlconf: same middleware, same database config."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.bare_urls"
