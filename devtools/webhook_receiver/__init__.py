"""A local webhook receiver for the demo and the tests: verifies Standard Webhooks signatures, counts what
it got, and fails on demand.

    python -m devtools.webhook_receiver --port 8025 --secret whsec_...

Programmatically (tests): `with running_receiver(secrets=[...]) as receiver:` then `receiver.url`,
`receiver.fail_next(2, Failure.ERROR)`, `receiver.received` ... A threaded HTTP/1.1 server on loopback.
"""

from devtools.webhook_receiver.server import Failure, Received, Receiver, running_receiver

__all__ = ["Failure", "Received", "Receiver", "running_receiver"]
