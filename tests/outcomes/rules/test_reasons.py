"""Each rule declares every reason code its verdicts carry, each with a plain-language text, and two
rules sharing a code mean the same by it: the registry's lookups (reason_text, FLAGS) can then answer
for any verdict. The codes a rule emits are read from its code (the accept/reject/hold/flag calls), so
a new reason cannot be emitted without being declared."""

from __future__ import annotations

import ast
import inspect
import sys

from outcomes.rules import FLAGS, REASONS, RULES, reason_text
from outcomes.rules.base import Reason, Rule

# The verdict helpers of outcomes.rules.base, and the position of their reason argument.
REASON_ARGUMENT = {"accept": 0, "reject": 0, "flag": 0, "hold": 1}


def _codes_in(node: ast.expr, namespace: dict[str, object]) -> set[str]:
    """The reason codes an argument can hold: a literal, a module constant, or a choice of either."""
    if isinstance(node, ast.IfExp):
        return _codes_in(node.body, namespace) | _codes_in(node.orelse, namespace)
    if isinstance(node, ast.Constant | ast.Name | ast.Attribute):
        value = eval(compile(ast.Expression(node), "<reason>", "eval"), namespace)  # noqa: S307 - the rule's own names
        assert isinstance(value, str), ast.unparse(node)
        return {value}
    raise AssertionError(f"A reason code the test cannot read: {ast.unparse(node)}")


def emitted_codes(rule: Rule) -> set[str]:
    """Every reason code the rule's class passes to a verdict helper."""
    namespace = vars(sys.modules[type(rule).__module__])
    codes: set[str] = set()
    for node in ast.walk(ast.parse(inspect.getsource(type(rule)))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in REASON_ARGUMENT:
            codes |= _codes_in(node.args[REASON_ARGUMENT[node.func.id]], namespace)
    return codes


def test_each_rule_declares_exactly_the_reason_codes_it_emits() -> None:
    for rule in RULES:
        declared = {reason.code for reason in rule.reasons}
        assert emitted_codes(rule) == declared, rule.name
        assert len(rule.reasons) == len(declared), f"{rule.name} declares a code twice"


def test_every_reason_code_has_a_text() -> None:
    codes = set().union(*(emitted_codes(rule) for rule in RULES))
    assert len(codes) == 83
    for code in codes:
        assert reason_text(code).strip(), code
        assert reason_text(code) == REASONS[code].text


def test_no_two_rules_give_a_code_different_meanings() -> None:
    meanings: dict[str, set[Reason]] = {}
    for rule in RULES:
        for reason in rule.reasons:
            meanings.setdefault(reason.code, set()).add(reason)
    assert {code: len(found) for code, found in meanings.items() if len(found) > 1} == {}
    # The one shared code: the suppression flag, raised by the suppression and confirmation rules.
    assert sorted(r.name for r in RULES if any(x.code == "suppression_suspected" for x in r.reasons)) == [
        "confirmation",
        "suppression",
    ]


def test_each_flag_says_who_decides_it() -> None:
    assert list(FLAGS) == [
        "facts_disagree",
        "verifier_flagged",
        "verifier_unavailable",
        "verifier_accuracy_sample",
        "suppression_suspected",
        "sender_anonymised",
        "sender_shared_with_vendor",
        "reversal_anomaly",
        "disqualifier_contested",
        "velocity_anomaly",
        "customer_cap_exceeded",
    ]
    for flag in FLAGS.values():
        assert flag.deciders
        assert flag.suspicion
        assert flag.who_decides.endswith(".")


def test_the_pipelines_own_codes_have_words_and_an_unknown_code_has_none() -> None:
    assert reason_text("all_rules_accept") == "Every rule that applies accepts it."
    assert reason_text("billed") == "Billed on a finalized invoice."
    assert reason_text("velocity_anomaly_cleared") == (
        "Cleared on review: far more outcomes than usual on one day for this contract and type: possible "
        "inflation (the vendor billing too much)."
    )
    assert reason_text("velocity_anomaly_rejected_on_review").startswith(
        "Rejected on review: far more outcomes"
    )
    assert reason_text("no_such_flag_cleared") == ""
    assert reason_text("within_cap") == ""
