"""Enqueueing the build of committed deliveries off the request's path: one message per burst."""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from functools import cache
from typing import Any

logger = logging.getLogger(__name__)


@cache
def _build_task() -> Any:
    from outcomes.tasks import build_outcomes_for_delivery  # tasks import this module

    return build_outcomes_for_delivery


class BuildQueue:
    """Enqueues outcome building for committed deliveries, off the request's path.

    A web process hands delivery ids to one background thread, which sends what accumulated over
    GATHER_SECONDS (and while it was sending the previous message) as one task: one broker round
    trip per burst instead of one per request (a Celery publish costs more CPU than the rest of a
    single-event request). If a message is lost (broker down, process killed with ids still
    pending), the events stay unlinked and the periodic sweep builds them. In eager mode (no
    broker: the embedded default and the tests) the build runs at once, in the caller.
    """

    GATHER_SECONDS = 0.2

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: list[int] = []
        self._wake = threading.Event()
        self._pid = 0

    def submit(self, delivery_id: int) -> None:
        task = _build_task()
        if task.app.conf.task_always_eager:
            task.delay(delivery_id)
            return
        with self._lock:
            self._pending.append(delivery_id)
            if self._pid != os.getpid():  # the first use in this process (threads do not survive a fork)
                self._pid = os.getpid()
                threading.Thread(target=self._run, name="verity-build-queue", daemon=True).start()
        self._wake.set()

    def flush(self) -> None:
        from outcomes.tasks import build_outcomes_for_deliveries

        with self._lock:
            delivery_ids, self._pending = self._pending, []
        if not delivery_ids:
            return
        try:
            if len(delivery_ids) == 1:
                _build_task().delay(delivery_ids[0])
            else:
                build_outcomes_for_deliveries.delay(delivery_ids)
        except Exception:
            logger.exception("Could not enqueue deliveries %s; the sweep will build them.", delivery_ids)

    def _run(self) -> None:
        while True:
            self._wake.wait()
            time.sleep(self.GATHER_SECONDS)  # let a burst gather: one message for all of it
            self._wake.clear()
            self.flush()


build_queue = BuildQueue()
atexit.register(build_queue.flush)
