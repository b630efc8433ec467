"""Rule 6b: an external verifier named by the policy, configured by the operator. The outcome is held until
the verifier's answer is stored (called outside the verification transaction, by
outcomes.services.verifiers); a timeout, an error or a bad signature keeps it held and never accepts it;
after max_failures a person decides. A share of accepts goes to a person, whose decisions measure the
verifier's accuracy."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from pytest_django.fixtures import Settings as SettingsWrapper
from standardwebhooks import Webhook

from core import transport
from core.errors import DomainError
from outcomes.models import OutcomeState, Party, ReviewDecision, VerifierResult
from outcomes.rules.sampling import sample_draw
from outcomes.rules.verifier import accuracy_sampled
from outcomes.services.review import review_decide
from outcomes.services.verifiers import verifiers_call_due
from tests.support.facts import outcome_facts
from tests.support.portal import make_member, signed_in
from tests.support.rule_stories import DAY, HOUR, T0, Story, make_story
from tests.support.vendors import make_vendor_api

pytestmark = pytest.mark.django_db

SECRET = "whsec_" + "dmVyaWZpZXItc2VjcmV0LWZvci10ZXN0cw=="
WRONG_SECRET = "whsec_" + "YW5vdGhlci1zZWNyZXQtZm9yLXRlc3Rz"
HERE = __name__
RELEASE = threading.Event()


# Python verifiers, as an operator would point VERIFIERS at them.
def accept_all(request: dict[str, Any]) -> dict[str, Any]:
    return {"decision": "accept", "reasons": ["looks resolved"], "version": "judge-1.2"}


def reject_greetings(request: dict[str, Any]) -> dict[str, Any]:
    resolved = "refund" in json.dumps(request["evidence"])
    return {
        "decision": "accept" if resolved else "reject",
        "reasons": [] if resolved else ["greeting only"],
        "version": "judge-1.2",
    }


def broken(request: dict[str, Any]) -> dict[str, Any]:
    raise RuntimeError("model overloaded")


def silent(request: dict[str, Any]) -> dict[str, Any]:
    RELEASE.wait(5)  # never answers within the call's time limit (released by the test)
    return {"decision": "accept", "version": "late"}


def half_answer(request: dict[str, Any]) -> dict[str, Any]:
    return {"decision": "maybe"}


@pytest.fixture
def verifiers(settings: SettingsWrapper) -> dict[str, dict[str, str]]:
    configured = {
        name: {"entry_point": f"{HERE}:{name}"}
        for name in ("accept_all", "reject_greetings", "broken", "silent", "half_answer")
    }
    settings.VERIFIERS = configured
    return configured


POLICY = {"maturation": {"hold_hours": 0}, "confirmation": {"required": False}}
# Claims arrive at T0 and are evaluated at T1 (after the build sweep's grace minute).
T1 = T0 + HOUR
MINUTE = dt.timedelta(minutes=1)


def story_with(verifier: str, **params: Any) -> Story:
    return make_story(
        {**POLICY, "verifier": {"enabled": True, "verifier": verifier, "sample_percent": 0, **params}}
    )


def result(story: Story, key: str) -> VerifierResult:
    return VerifierResult.objects.get(outcome=story.outcome(key))


def test_the_outcome_is_held_until_the_verifier_answers_then_its_answer_decides(verifiers: Any) -> None:
    story = story_with("reject_greetings")
    story.claim(T0, "T-1", evidence={"summary": "refund issued"})
    story.claim(T0, "T-2", evidence={"summary": "hello"})

    story.evaluate(T1)

    assert story.decided("T-1", "verifier") == ("hold", "verifier_pending")
    assert story.state("T-1") == OutcomeState.MATURING  # held, not billable, while nobody answered
    assert result(story, "T-1").status == VerifierResult.Status.PENDING

    assert verifiers_call_due(now=T1) == 2

    assert story.state("T-1") == OutcomeState.BILLABLE
    accepted = story.verdict("T-1", "verifier")
    assert (accepted.decision, accepted.reason) == ("accept", "verifier_accepted")
    assert accepted.facts["verifier"] == "reject_greetings"
    assert accepted.facts["version"] == "judge-1.2"
    assert story.state("T-2") == OutcomeState.REJECTED
    rejected = story.verdict("T-2", "verifier")
    assert (rejected.reason, rejected.facts["reasons"]) == ("verifier_rejected", ["greeting only"])
    answered = result(story, "T-1")
    assert (answered.version, answered.answered_at, answered.latency_ms is not None) == (
        "judge-1.2",
        T1,
        True,
    )
    # Nothing left to call: each outcome's verifier answers once.
    assert verifiers_call_due(now=T0 + DAY) == 0


def test_a_timeout_holds_and_never_accepts(verifiers: Any) -> None:
    story = story_with("silent", timeout_seconds=1, retry_minutes=10)
    story.claim(T0, "T-1")
    story.evaluate(T1)
    RELEASE.clear()
    try:
        assert verifiers_call_due(now=T1) == 1
    finally:
        RELEASE.set()

    pending = result(story, "T-1")
    assert (pending.status, pending.failures, pending.last_error) == ("pending", 1, "timed out after 1 s")
    assert pending.next_attempt_at == T1 + 10 * MINUTE
    assert story.state("T-1") == OutcomeState.MATURING
    verdict = story.verdict("T-1", "verifier")
    assert (verdict.decision, verdict.reason, verdict.facts["failures"]) == ("hold", "verifier_pending", 1)
    # Not retried before its backoff.
    assert verifiers_call_due(now=T1 + 9 * MINUTE) == 0


def test_repeated_failures_back_off_then_a_person_decides(verifiers: Any) -> None:
    story = story_with("broken", retry_minutes=10, max_failures=3)
    story.claim(T0, "T-1")
    story.evaluate(T1)

    for at, next_at in ((T1, T1 + 10 * MINUTE), (T1 + 10 * MINUTE, T1 + 30 * MINUTE)):
        assert verifiers_call_due(now=at) == 1
        assert result(story, "T-1").next_attempt_at == next_at  # 10, then 20 minutes
        assert story.state("T-1") == OutcomeState.MATURING
    assert verifiers_call_due(now=T1 + 30 * MINUTE - dt.timedelta(seconds=1)) == 0
    assert verifiers_call_due(now=T1 + 30 * MINUTE) == 1

    unavailable = result(story, "T-1")
    assert (unavailable.status, unavailable.failures) == ("unavailable", 3)
    assert unavailable.last_error == "RuntimeError: model overloaded"
    assert story.state("T-1") == OutcomeState.FLAGGED
    assert story.decided("T-1", "verifier") == ("flag", "verifier_unavailable")
    assert not ReviewDecision.objects.exists()


def test_an_unreadable_answer_or_an_unknown_verifier_is_a_failure(verifiers: Any) -> None:
    story = story_with("half_answer")
    story.claim(T0, "T-1")
    story.evaluate(T1)
    verifiers_call_due(now=T1)
    assert (
        result(story, "T-1").last_error
        == "malformed answer: decision: Input should be 'accept', 'reject' or 'flag'"
    )
    assert story.state("T-1") == OutcomeState.MATURING

    unknown = story_with("not-configured")
    unknown.claim(T0, "U-1")
    unknown.evaluate(T1)
    verifiers_call_due(now=T1)
    assert result(unknown, "U-1").last_error == "no verifier named not-configured is configured"
    assert unknown.state("U-1") == OutcomeState.MATURING


# An HTTP verifier on loopback: it checks the request's signature and answers signed.
@dataclass
class HttpVerifier:
    url: str
    answer_secret: str = SECRET
    requests: list[dict[str, Any]] = field(default_factory=list)
    bad_request_signatures: int = 0


@pytest.fixture
def http_verifier(settings: SettingsWrapper) -> Iterator[HttpVerifier]:
    state = HttpVerifier(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            headers = {name.lower(): value for name, value in self.headers.items()}
            try:
                request = Webhook(SECRET).verify(body, headers)
            except Exception:
                state.bad_request_signatures += 1
                self.send_response(401)
                self.end_headers()
                return
            state.requests.append(request)
            answer = json.dumps({"decision": "accept", "reasons": [], "version": "http-7"}).encode()
            now = dt.datetime.now(dt.UTC)
            self.send_response(200)
            self.send_header("webhook-id", headers["webhook-id"])
            self.send_header("webhook-timestamp", str(int(now.timestamp())))
            self.send_header(
                "webhook-signature", Webhook(state.answer_secret).sign(headers["webhook-id"], now, answer)
            )
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/verify"
    settings.VERIFIERS = {"http-judge": {"url": state.url, "secret": SECRET}}
    settings.WEBHOOKS_OUT_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    settings.WEBHOOKS_OUT_REQUIRE_HTTPS = False
    transport.pools_clear()
    yield state
    server.shutdown()
    server.server_close()
    transport.pools_clear()


def test_an_http_verifier_is_signed_both_ways(http_verifier: HttpVerifier) -> None:
    story = story_with("http-judge")
    now = dt.datetime.now(dt.UTC)  # the answer's signature is checked against the real clock
    story.claim(now - HOUR, "T-1", evidence={"summary": "refund issued"})
    story.evaluate(now)

    assert verifiers_call_due(now=now) == 1

    assert http_verifier.bad_request_signatures == 0
    [request] = http_verifier.requests
    assert request["outcome"]["natural_key"] == "T-1"
    assert request["evidence"] == {"summary": "refund issued"}
    assert request["request_id"] == f"vrq_{result(story, 'T-1').pk}_1"
    assert story.decided("T-1", "verifier") == ("accept", "verifier_accepted")
    assert result(story, "T-1").version == "http-7"


def test_an_answer_with_a_bad_signature_is_a_failure_and_holds(http_verifier: HttpVerifier) -> None:
    http_verifier.answer_secret = WRONG_SECRET
    story = story_with("http-judge")
    now = dt.datetime.now(dt.UTC)
    story.claim(now - HOUR, "T-1")
    story.evaluate(now)

    assert verifiers_call_due(now=now) == 1

    failed = result(story, "T-1")
    assert (failed.status, failed.failures) == ("pending", 1)
    assert failed.last_error == "bad answer signature: No matching signature found"
    assert story.decided("T-1", "verifier") == ("hold", "verifier_pending")
    assert story.state("T-1") == OutcomeState.MATURING


def test_the_accuracy_sample_is_the_draw_below_the_share() -> None:
    facts = outcome_facts()
    percent = sample_draw(facts.outcome, "verifier") * 100
    assert accuracy_sampled(facts, percent + 1e-9)
    assert not accuracy_sampled(facts, percent)
    assert not accuracy_sampled(facts, 0)
    assert accuracy_sampled(facts, 100)
    # Independent of the audit sample's own draw for the same outcome.
    assert sample_draw(facts.outcome) != sample_draw(facts.outcome, "verifier")


def test_about_the_configured_share_of_accepts_is_sampled() -> None:
    drawn = sum(accuracy_sampled(outcome_facts(outcome={"natural_key": f"T-{n}"}), 5.0) for n in range(4000))
    assert 150 <= drawn <= 250  # 5 % of 4000 is 200; the bounds are over 3.5 standard deviations


def test_sampled_accepts_go_to_the_customer_and_measure_the_verifiers_accuracy(verifiers: Any) -> None:
    story = story_with("accept_all", sample_percent=100)
    for key in ("T-1", "T-2", "T-3"):
        story.claim(T0, key)
    story.evaluate(T1)
    verifiers_call_due(now=T1)
    assert story.decided("T-1", "verifier") == ("flag", "verifier_accuracy_sample")
    assert story.state("T-1") == OutcomeState.FLAGGED

    # Accepting bills the customer: the vendor never does.
    with pytest.raises(DomainError) as refused:
        review_decide(
            outcome=story.outcome("T-1"),
            flag_reason="verifier_accuracy_sample",
            verdict=ReviewDecision.Verdict.ACCEPT,
            party=Party.VENDOR_ADMIN,
            actor="vendor:ops",
            justification="the verifier is right",
        )
    assert refused.value.code == "decision_needs_other_party"
    for key, verdict in (("T-1", ReviewDecision.Verdict.ACCEPT), ("T-2", ReviewDecision.Verdict.REJECT)):
        review_decide(
            outcome=story.outcome(key),
            flag_reason="verifier_accuracy_sample",
            verdict=verdict,
            party=Party.CUSTOMER,
            actor="customer:ops",
        )
    assert story.state("T-1") == OutcomeState.BILLABLE
    assert story.state("T-2") == OutcomeState.REJECTED

    api = make_vendor_api(vendor=story.contract.vendor)
    response = api.client.get("/api/v1/verifier-accuracy")
    assert response.status_code == 200
    assert response.json() == [
        {
            "verifier": "accept_all",
            "accepted": 3,
            "sampled": 3,
            "upheld": 1,
            "overturned": 1,
            "decided": 2,
            "accuracy": "0.5000",
        }
    ]
    page = signed_in(make_member(vendor=story.contract.vendor)).get("/review/").content.decode()
    assert "Verifier accuracy" in page
    assert "50 % of 2 decided" in page
