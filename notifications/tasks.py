"""Celery tasks of the outbound webhooks: thin wrappers around the dispatcher and the retention sweep."""

from celery import shared_task

from notifications.dispatch import DISPATCH_BUDGET_SECONDS, dispatch, prune


# acks_late: a worker killed mid-dispatch leaves the message to another; the leases make that harmless.
@shared_task(
    acks_late=True,
    ignore_result=True,
    soft_time_limit=DISPATCH_BUDGET_SECONDS + 120,
    time_limit=DISPATCH_BUDGET_SECONDS + 180,
)
def dispatch_webhooks() -> dict[str, object]:
    return dispatch().as_dict()


@shared_task(acks_late=True, ignore_result=True, soft_time_limit=600, time_limit=660)
def prune_webhooks() -> dict[str, int]:
    summary = prune()
    return {"attempts": summary.attempts, "deliveries": summary.deliveries, "events": summary.events}
