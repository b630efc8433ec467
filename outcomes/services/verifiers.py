"""External verifiers (rule 6b): call the verifier for the outcomes waiting for it, outside any transaction,
store its answer or the failure, and re-evaluate.

A verifier is named in the policy and configured by the operator only (settings.VERIFIERS), so a vendor
cannot point Verity at an address of its choosing: an HTTP verifier (`url`, `secret`) gets a POST signed
the Standard Webhooks way, sent like an outbound webhook (core.transport: no private addresses unless
the operator allows them, no redirects, a bounded response), and must answer 2xx with a body signed with
the same secret under the request's `webhook-id`; a Python verifier (`entry_point`,
"package.module:function") is called with the same request as a dict. Either answers
`{"decision": "accept" | "reject" | "flag", "reasons": [...], "version": "..."}`. Anything else (a timeout,
an error, a bad or missing signature, an answer it cannot read) is a failure: counted, retried later
with backoff, never an accept; after the policy's `max_failures` the result is `unavailable` and the
outcome goes to a person.

A call is claimed first (its `next_attempt_at` pushed past the call's time limit, if nobody moved it
meanwhile), so two runs never call the verifier twice for one attempt.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import importlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from django.conf import settings
from django.utils import timezone
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from core.transport import webhook_post
from outcomes.models import Outcome, OutcomeState, VerifierResult
from outcomes.rules.base import OutcomeFacts, iso
from outcomes.rules.verifier import Verifier, VerifierParams
from outcomes.services.outcome_facts import gather
from outcomes.services.verification import outcomes_evaluate

logger = logging.getLogger(__name__)

ERROR_CHARS = 200
# The longest a failed call waits before the next one, however many failures.
BACKOFF_MAX = dt.timedelta(days=1)
# A claimed call is not claimed again before its time limit and this margin have passed.
CLAIM_MARGIN = dt.timedelta(seconds=30)
# Outcomes a verifier is not called for while they are in these states (another rule already settled them).
NOT_CALLED = (OutcomeState.REJECTED, OutcomeState.REVERSED)


class VerifierFailure(Exception):
    """A call that gave no usable answer: its message (secret-free, short) is recorded."""


class VerifierAnswer(BaseModel):
    """What a verifier answers."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    decision: Literal["accept", "reject", "flag"]
    reasons: Annotated[list[Annotated[str, StringConstraints(max_length=500)]], Field(max_length=20)] = []
    version: Annotated[str, StringConstraints(min_length=1, max_length=64)]


@dataclass(frozen=True)
class VerifierCall:
    """One call's request: who is asked, under which id, about what, within how long."""

    name: str
    request_id: str
    request: dict[str, Any]
    timeout: float


def verifier_request(
    *, facts: OutcomeFacts, request_id: str, verifier: str, now: dt.datetime
) -> dict[str, Any]:
    """The request a verifier receives: the outcome and its merged evidence."""
    outcome = facts.outcome
    return {
        "type": "outcome.verification_requested",
        "request_id": request_id,
        "verifier": verifier,
        "requested_at": iso(now),
        "outcome": {
            "id": outcome.pk,
            "contract_id": str(outcome.contract_id),
            "contract": facts.contract.reference,
            "outcome_type": outcome.outcome_type_key,
            "natural_key": outcome.natural_key,
            "occurred_at": iso(outcome.occurred_at),
        },
        "evidence": facts.evidence,
    }


def _answer(data: Any) -> VerifierAnswer:
    try:
        return VerifierAnswer.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "answer"
        raise VerifierFailure(f"malformed answer: {where}: {first['msg']}") from None


def _call_http(config: dict[str, str], call: VerifierCall, now: dt.datetime) -> VerifierAnswer:
    try:
        webhook = Webhook(config["secret"])
    except Exception:  # the library's own errors for a secret that is not base64 (never echoed)
        raise VerifierFailure(f"verifier {call.name}'s secret is not a whsec_ signing secret") from None
    body = json.dumps(call.request, sort_keys=True, default=str).encode()
    headers = {
        "webhook-id": call.request_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": webhook.sign(call.request_id, now, body),
    }
    result = webhook_post(url=config["url"], body=body, headers=headers, now=now, timeout=call.timeout)
    if result.status_code is None or result.error:
        raise VerifierFailure(result.error or "no answer")
    if not result.succeeded:
        raise VerifierFailure(f"HTTP {result.status_code}")
    if result.truncated:
        raise VerifierFailure("answer too large")
    if result.headers.get("webhook-id") != call.request_id:
        raise VerifierFailure("answer signed for another request (webhook-id)")
    try:
        data = webhook.verify(result.body, result.headers)
    except WebhookVerificationError as error:
        raise VerifierFailure(f"bad answer signature: {error}") from None
    except ValueError:
        raise VerifierFailure("malformed answer: not JSON") from None
    return _answer(data)


def _entry_point(path: str) -> Callable[[dict[str, Any]], Any]:
    module_name, _, function_name = path.partition(":")
    function = getattr(importlib.import_module(module_name), function_name, None)
    if not callable(function):
        raise VerifierFailure(f"entry point {path} is not a function")
    return function


def _call_python(config: dict[str, str], call: VerifierCall) -> VerifierAnswer:
    try:
        function = _entry_point(config["entry_point"])
    except (ImportError, ValueError) as error:
        raise VerifierFailure(f"entry point not importable: {error}") from None
    # A thread, so a verifier that never returns fails the call at its time limit (the thread is left
    # to finish on its own: Python cannot stop it).
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="verifier")
    try:
        data = pool.submit(function, call.request).result(timeout=call.timeout)
    except concurrent.futures.TimeoutError:
        raise VerifierFailure(f"timed out after {call.timeout:g} s") from None
    except Exception as error:  # the verifier's own error: a failure, never ours
        raise VerifierFailure(f"{type(error).__name__}: {error}") from None
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    return _answer(data)


def verifier_call(call: VerifierCall, *, now: dt.datetime) -> VerifierAnswer:
    """Ask the verifier named `call.name`; VerifierFailure for anything but a valid answer."""
    config = settings.VERIFIERS.get(call.name)
    if not isinstance(config, dict):
        raise VerifierFailure(f"no verifier named {call.name} is configured")
    if config.get("url") and config.get("secret"):
        return _call_http(config, call, now)
    if config.get("entry_point"):
        return _call_python(config, call)
    raise VerifierFailure(f"verifier {call.name} has neither url and secret nor entry_point")


def _backoff(params: VerifierParams, failures: int) -> dt.timedelta:
    return min(dt.timedelta(minutes=params.retry_minutes) * 2 ** (failures - 1), BACKOFF_MAX)


def _claim(result: VerifierResult, params: VerifierParams, now: dt.datetime) -> bool:
    """Take this attempt: push its next attempt past the call's time limit, if no one else did."""
    lease = now + dt.timedelta(seconds=params.timeout_seconds) + CLAIM_MARGIN
    claimed = VerifierResult.objects.filter(
        pk=result.pk, status=VerifierResult.Status.PENDING, next_attempt_at=result.next_attempt_at
    ).update(next_attempt_at=lease)
    return claimed == 1


def _record(
    result: VerifierResult, params: VerifierParams, answer: VerifierAnswer | VerifierFailure, now: dt.datetime
) -> None:
    """Store the call's answer, or its failure, if the row is still the pending one we claimed."""
    pending = VerifierResult.objects.filter(
        pk=result.pk, status=VerifierResult.Status.PENDING, failures=result.failures
    )
    if isinstance(answer, VerifierAnswer):
        pending.update(
            status=answer.decision,
            version=answer.version,
            reasons=list(answer.reasons),
            answered_at=now,
            latency_ms=result.latency_ms,
            next_attempt_at=None,
            last_error="",
        )
        return
    failures = result.failures + 1
    unavailable = failures >= params.max_failures
    pending.update(
        status=VerifierResult.Status.UNAVAILABLE if unavailable else VerifierResult.Status.PENDING,
        failures=failures,
        last_error=str(answer)[:ERROR_CHARS],
        latency_ms=result.latency_ms,
        next_attempt_at=None if unavailable else now + _backoff(params, failures),
    )


def verifiers_call_due(*, now: dt.datetime | None = None, limit: int | None = None) -> int:
    """Call the verifiers of the outcomes whose call is due, store each answer or failure, and
    re-evaluate those outcomes. Returns how many calls were made."""
    now = now or timezone.now()
    due = list(
        VerifierResult.objects.filter(status=VerifierResult.Status.PENDING, next_attempt_at__lte=now)
        .exclude(outcome__state__in=NOT_CALLED)
        .order_by("next_attempt_at", "id")[: limit or settings.VERIFIER_BATCH]
    )
    if not due:
        return 0
    facts = {
        f.outcome.pk: f for f in gather(list(Outcome.objects.filter(pk__in=[r.outcome_id for r in due])))
    }
    called: list[int] = []
    for result in due:
        outcome_facts = facts.get(result.outcome_id)
        if outcome_facts is None:
            continue
        params = Verifier.params(outcome_facts)
        if not params.enabled or params.verifier != result.verifier or not _claim(result, params, now):
            continue
        request_id = f"vrq_{result.pk}_{result.failures + 1}"  # one per attempt
        request = verifier_request(
            facts=outcome_facts, request_id=request_id, verifier=result.verifier, now=now
        )
        call = VerifierCall(result.verifier, request_id, request, float(params.timeout_seconds))
        started = time.perf_counter()
        answer: VerifierAnswer | VerifierFailure
        try:
            answer = verifier_call(call, now=now)
        except VerifierFailure as failure:
            answer = failure
            logger.warning(
                "Verifier %s failed on outcome %s: %s", result.verifier, result.outcome_id, failure
            )
        result.latency_ms = max(0, round((time.perf_counter() - started) * 1000))
        _record(result, params, answer, now)
        called.append(result.outcome_id)
    if called:
        outcomes_evaluate(outcome_ids=called, now=now)
    return len(called)
