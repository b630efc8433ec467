"""The outbound webhooks benchmark (`make bench-webhooks-out`): events/s from the outbox to a receiver.

In one run, on one freshly created database (drop, create, migrate):

1. start the local receiver (devtools/webhook_receiver) in its own process on loopback: it verifies
   every signature with `standardwebhooks` and answers 200, as a customer's system would;
2. register one vendor endpoint for it (notifications.services.endpoint_create) and write `--events`
   events to the outbox through the recorder the domain apps publish to (notifications.outbox);
3. time notifications.dispatch.dispatch() until every event is delivered: fan-out, claims under a
   lease, signing, the POSTs (several at once) and each attempt's record;
4. the ceiling, in the same run, from this one process: the same envelopes, signed with
   `standardwebhooks` and POSTed to the same receiver on as many threads, over kept-alive
   connections, with nothing read from or written to the database.

Prints events/s, the ratio to the ceiling and the goal (>= 0.5 x the ceiling). See docs/performance.md.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.bulk import (
    ROOT,
    Server,
    Timer,
    add_database_arguments,
    cpu_cell,
    django_setup,
    drop_database,
    log,
    machine,
    print_table,
    print_title,
    profiled,
    recreate_database,
    save_results,
)

GOAL_RATIO = 0.5
SECRET = "whsec_" + "YmVuY2gtb25seS1ub3QtYS1zZWNyZXQtMTIzNDU2Nzg="  # the bench's own receiver only
RECEIVER_PORT = 12199


def receiver_start(port: int) -> subprocess.Popen[bytes]:
    """The receiver in its own process, so it never competes with the sender for this one's GIL."""
    process = subprocess.Popen(  # noqa: S603 - our own module, fixed arguments
        [
            sys.executable,
            "-m",
            "devtools.webhook_receiver",
            "--port",
            str(port),
            "--secret",
            SECRET,
            "--log-level",
            "WARNING",
        ],
        cwd=ROOT,
    )
    import socket

    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"the receiver did not start on port {port}")


def seed(count: int, url: str) -> Any:
    """A vendor with one endpoint for `url`, and `count` events in the outbox (not yet fanned out)."""
    from django.db import transaction

    from contracts.models import Vendor
    from core.events import DomainEvent
    from notifications.dispatch import dispatch_deferred
    from notifications.outbox import events_record
    from notifications.services.endpoints import endpoint_create

    vendor = Vendor.objects.create(name="Bench vendor", slug="bench-vendor")
    endpoint, _ = endpoint_create(vendor=vendor, url=url, secret=SECRET, actor="bench")
    events = [
        DomainEvent(
            type="outcome.billable",
            vendor_id=vendor.pk,
            object_id=str(100_000 + index),
            data={
                "outcome_type": "resolution",
                "natural_key": f"TICKET-{index}",
                "state": "billable",
                "previous_state": "maturing",
                "reason": "matured",
            },
        )
        for index in range(count)
    ]
    # Written without waking the dispatcher: the timed run below is the only delivery.
    with dispatch_deferred(), transaction.atomic():
        for start in range(0, count, 1000):
            events_record(events[start : start + 1000])
    return endpoint


def run_dispatch(count: int, profile: Path | None = None) -> dict[str, Any]:
    from notifications.dispatch import dispatch
    from notifications.models import Attempt, Delivery, DeliveryStatus

    with profiled(profile, sort="tottime", lines=25), Timer() as timer:
        attempts = succeeded = 0
        while succeeded < count:
            summary = dispatch(limit=count)
            attempts += summary.attempts
            succeeded += summary.succeeded
            if not summary.attempts and not summary.fanned_out:
                break
    delivered = Delivery.objects.filter(status=DeliveryStatus.SUCCEEDED).count()
    return {
        "events": count,
        "delivered": delivered,
        "attempts": attempts,
        "attempt_rows": Attempt.objects.count(),
        "elapsed": timer.elapsed,
        "cpu_cell": cpu_cell(timer),
    }


def run_ceiling(count: int, url: str, threads: int) -> dict[str, Any]:
    """The same envelopes, signed and POSTed from this process on `threads` threads, kept-alive."""
    import datetime as dt

    import urllib3
    from standardwebhooks import Webhook

    from notifications.models import Event
    from notifications.payloads import envelope_build, envelope_serialize

    endpoint_events = list(Event.objects.order_by("id")[:count])
    from notifications.models import Endpoint

    endpoint = Endpoint.objects.get()
    bodies = [
        (event.webhook_id, envelope_serialize(envelope_build(event=event, endpoint=endpoint)))
        for event in endpoint_events
    ]
    pool = urllib3.PoolManager(maxsize=threads, retries=False)
    signer = Webhook(SECRET)

    def post(item: tuple[str, bytes]) -> int:
        msg_id, body = item
        now = dt.datetime.now(dt.UTC)
        headers = {
            "content-type": "application/json",
            "webhook-id": msg_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": signer.sign(msg_id, now, body),
        }
        return pool.request("POST", url, body=body, headers=headers, redirect=False).status

    with Timer() as timer, ThreadPoolExecutor(max_workers=threads) as executor:
        statuses = list(executor.map(post, bodies))
    return {
        "posts": len(statuses),
        "ok": sum(status == 200 for status in statuses),
        "elapsed": timer.elapsed,
        "cpu_cell": cpu_cell(timer),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=5000, help="events in the outbox (5000)")
    parser.add_argument("--port", type=int, default=RECEIVER_PORT, help="the receiver's loopback port")
    parser.add_argument(
        "--profile", action="store_true", help="cProfile the dispatcher (var/bench-webhooks-out.prof)"
    )
    add_database_arguments(parser, name="webhooks_out")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    # The receiver is on loopback over plain HTTP: the operator's allow-list and no HTTPS requirement.
    os.environ["WEBHOOKS_OUT_ALLOWED_NETWORKS"] = "127.0.0.0/8"
    os.environ["WEBHOOKS_OUT_REQUIRE_HTTPS"] = "false"

    server = Server.from_url(args.server_url)
    log(f"database {args.db_name}: drop, create, migrate")
    recreate_database(server, args.db_name)
    receiver = receiver_start(args.port)
    url = f"http://127.0.0.1:{args.port}/webhooks"
    try:
        django_setup(server, args.db_name)
        from django.db import connection

        from notifications.dispatch import POST_THREADS

        seed(args.events, url)
        log(f"{args.events:,} events in the outbox; dispatching")
        pipeline = run_dispatch(
            args.events, ROOT / "var" / "bench-webhooks-out.prof" if args.profile else None
        )
        log(f"delivered {pipeline['delivered']:,} in {pipeline['elapsed']:.2f} s; ceiling")
        ceiling = run_ceiling(args.events, url, POST_THREADS)
        info = machine()
        connection.close()
    finally:
        receiver.terminate()
        receiver.wait(timeout=10)
        if not args.keep_db:
            drop_database(server, args.db_name)

    rate = pipeline["delivered"] / pipeline["elapsed"]
    ceiling_rate = ceiling["ok"] / ceiling["elapsed"]
    ratio = rate / ceiling_rate
    complete = pipeline["delivered"] == args.events and ceiling["ok"] == args.events
    save_results(args, info, pipeline=pipeline, ceiling=ceiling)
    print_title("outbound webhooks benchmark", info)
    print(  # noqa: T201
        f"{args.events:,} events, one vendor endpoint on a loopback receiver verifying each signature "
        f"(its own process); {POST_THREADS} POSTs at once; ceiling: the same envelopes signed and POSTed "
        "from one process on as many threads, no database"
    )
    print_table(
        [
            (
                f"{pipeline['delivered']:,} / {args.events:,}",
                f"{pipeline['elapsed']:.2f} s",
                f"{rate:,.0f}",
                f"{ceiling_rate:,.0f} ({ceiling['ok']:,} in {ceiling['elapsed']:.2f} s)",
                f"{ratio:.2f}",
                f">= {GOAL_RATIO}",
                "PASS" if ratio >= GOAL_RATIO and complete else "FAIL",
                pipeline["cpu_cell"],
            )
        ],
        (
            "delivered",
            "time",
            "events/s",
            "ceiling POSTs/s",
            "ratio",
            "goal",
            "result",
            "CPU bench / postgres / other",
        ),
        args.markdown,
    )
    return 0 if ratio >= GOAL_RATIO and complete else 1


if __name__ == "__main__":
    sys.exit(main())
