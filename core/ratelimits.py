"""Rate limits per webhook source and per API key: fixed-window counters in Django's cache.

django-ratelimit counts (cache.add then cache.incr: atomic on Redis, one small key per window) rather
than DRF's SimpleRateThrottle, which keeps every request's timestamp in one cached list, rewritten
without a lock on each request: racy across processes, and costly at the generous rates we allow.
The limiter fails open: if the cache is unreachable, requests pass (logged), so a Redis outage never
turns ingestion away.
"""

from __future__ import annotations

import logging
import math

from django.http import HttpRequest
from django_ratelimit.core import get_usage

logger = logging.getLogger(__name__)


def rate_limit_retry_after(*, request: HttpRequest, scope: str, key: str, rate: str) -> int | None:
    """Count this request against `key`'s limit in `scope`; None when it may pass, else the seconds
    to wait before the window resets (for Retry-After). An empty rate means no limit."""
    if not rate:
        return None
    try:
        usage = get_usage(request, group=scope, key=lambda _group, _request: key, rate=rate, increment=True)
    except Exception:
        logger.warning("Rate limit %s not checked: the cache is unreachable.", scope, exc_info=True)
        return None
    if usage is None or not usage["should_limit"]:
        return None
    time_left: float = usage["time_left"]
    return max(1, math.ceil(time_left))
