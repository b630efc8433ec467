"""`python -m devtools.webhook_receiver --port 8025 --secret whsec_...`: the demo's local receiver."""

from __future__ import annotations

import argparse
import logging
import signal
import threading

from devtools.webhook_receiver.server import receiver_start, receiver_stop


def main() -> None:
    parser = argparse.ArgumentParser(description="A local Standard Webhooks receiver that logs what it gets.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8025)
    parser.add_argument(
        "--secret", action="append", default=[], help="a whsec_… secret to verify with (repeatable)"
    )
    parser.add_argument("--log-level", default="INFO", help="WARNING: no line per request (the benchmark)")
    arguments = parser.parse_args()
    logging.basicConfig(level=arguments.log_level.upper(), format="%(asctime)s webhook-receiver %(message)s")
    receiver = receiver_start(secrets=arguments.secret, host=arguments.host, port=arguments.port)
    logging.getLogger("devtools.webhook_receiver").info("listening on %s", receiver.url)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    receiver_stop(receiver)


if __name__ == "__main__":
    main()
