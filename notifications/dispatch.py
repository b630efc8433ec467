"""The dispatcher (placeholder until the delivery engine lands): wake() after an outbox commit."""


def wake() -> None:
    """Ask for the outbox to be dispatched soon (placeholder: nothing yet)."""
