"""The product's settings with the beat schedule compressed for the soak (bench.soak): the same periodic
tasks, every SOAK_BEAT_SECONDS (default 10) instead of every one or five minutes, so a period that ends
in the middle of a few-minute soak is closed within it."""

import os

from config.settings import *  # noqa: F403
from config.settings import CELERY_BEAT_SCHEDULE as _SCHEDULE

_EVERY = float(os.environ.get("SOAK_BEAT_SECONDS", "10"))
CELERY_BEAT_SCHEDULE = {name: {**entry, "schedule": _EVERY} for name, entry in _SCHEDULE.items()}
