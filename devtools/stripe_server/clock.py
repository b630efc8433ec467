"""The server's clock: real time plus an offset the admin API moves forward (Stripe's own clock never jumps, tests do).

Every timestamp the server writes (`created`, `finalized_at`, `next_payment_attempt`, idempotency-key ages) reads
this clock, so advancing it is how a test lets an hour, a day or a retry schedule pass.
"""

from __future__ import annotations

import time


class ServerClock:
    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def travel_to(self, timestamp: float) -> None:
        """Make `now` read `timestamp` (never backwards: the admin API only advances)."""
        self.offset = max(self.offset, timestamp - time.time())

    def reset(self) -> None:
        self.offset = 0.0

    def describe(self) -> dict[str, float | int]:
        return {"now": int(self()), "offset": self.offset}
