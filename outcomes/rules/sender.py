"""Rule 17: who is sending. A signature proves the sender holds a source's secret, not who it is: a
claim or confirmation from an anonymising network (the operator's list) hides where it came from,
and a customer's confirmation from an address the vendor's own agent posts from suggests the vendor
is speaking as the customer. Both are flagged for the customer (or an operator), never the vendor.

Only public addresses say who is behind them: loopback, private and reserved addresses (a proxy not
configured, a private network, the tests) and the operator's shared networks are never compared. The
rule records a verdict only when it has something to say.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from django.conf import settings
from django.db.models.functions import TruncDate
from pydantic import Field

from contracts.models import WebhookSource
from contracts.policy import RuleParams
from core.networks import NetworkSet, networks_file
from outcomes.models import Delivery, Party
from outcomes.rules.base import (
    BILLS_CUSTOMER,
    EventFact,
    FlagReason,
    OutcomeFacts,
    Reason,
    Rule,
    Verdict,
    flag,
    reject,
)

logger = logging.getLogger(__name__)


class SenderParams(RuleParams):
    """Rule 17: claims and confirmations from anonymising networks; confirmations sent from the vendor's address."""

    title = "Who is sending"
    anonymising_networks: Annotated[
        Literal["ignore", "flag", "reject"],
        Field(
            description=(
                "What happens to an outcome claimed or confirmed from an anonymising network "
                "(Tor and the like, as listed by the operator)."
            )
        ),
    ] = "flag"
    shared_with_vendor: Annotated[
        Literal["ignore", "flag"],
        Field(
            description=(
                "What happens when the customer's confirmation comes from an address the vendor's "
                "own agent posts from."
            )
        ),
    ] = "flag"
    shared_window_days: Annotated[
        int,
        Field(
            ge=0,
            le=366,
            description=(
                "Days before or after the confirmation in which the vendor's agent posting from the "
                "same address counts (0: the same day)."
            ),
        ),
    ] = 30

    def describe(self) -> str | None:
        parts = []
        if self.anonymising_networks != "ignore":
            verb = "rejected" if self.anonymising_networks == "reject" else "flagged"
            parts.append(f"outcomes claimed or confirmed from anonymising networks are {verb}")
        if self.shared_with_vendor == "flag":
            parts.append(
                "a confirmation from an address the vendor's agent used within "
                f"{self.shared_window_days} days is flagged for the customer"
            )
        if not parts:
            return None
        text = "; ".join(parts)
        return text[:1].upper() + text[1:] + "."


_WHO_DECIDES = (
    "accepting it bills the customer, so only the customer or a neutral operator accepts it; the "
    "customer may also reject it. The vendor, whose traffic it suspects, never clears it: a vendor admin "
    "may only reject it, giving up the bill."
)
SENDER_ANONYMISED = FlagReason(
    "sender_anonymised",
    "Claimed or confirmed from an anonymising network on the operator's list: the sender hid where it is.",
    suspicion="an anonymised sender flag",
    on_accept=BILLS_CUSTOMER,
    deciders=frozenset({Party.CUSTOMER}),
    silence_against=Party.VENDOR,  # undecided by its deadline: not billed (flag_deadlines)
    evidence_to_clear=False,
    who_decides=f"An anonymised-sender flag (sender_anonymised) is the customer's: {_WHO_DECIDES}",
)
SENDER_SHARED_WITH_VENDOR = FlagReason(
    "sender_shared_with_vendor",
    (
        "The customer's confirmation came from an address the vendor's own agent posts from: the "
        "vendor may be confirming its own claim as the customer."
    ),
    suspicion="a shared-sender flag",
    on_accept=BILLS_CUSTOMER,
    deciders=frozenset({Party.CUSTOMER}),
    silence_against=Party.VENDOR,  # undecided by its deadline: not billed (flag_deadlines)
    evidence_to_clear=False,
    who_decides=f"A shared-sender flag (sender_shared_with_vendor) is the customer's: {_WHO_DECIDES}",
)
SENDER_ANONYMISED_REFUSED = "sender_anonymised_refused"


def telling(address: str | None, shared: NetworkSet) -> bool:
    """Whether an address says who is behind it: public, and not on a network many parties share."""
    if address is None:
        return False
    ip = ipaddress.ip_address(address)
    return ip.is_global and ip not in shared


@dataclass(frozen=True)
class SenderStats:
    """What the rule knows of a batch: the anonymising networks, and the UTC days on which each vendor's
    agents posted from each of the batch's confirming addresses."""

    anonymising: NetworkSet
    agent_days: dict[tuple[Any, str], set[dt.date]] = field(default_factory=dict)


def _anonymising() -> NetworkSet:
    """The operator's list; an unreadable file is logged and treated as empty (verification goes on)."""
    try:
        return networks_file(settings.SENDER_ANONYMISING_NETWORKS_FILE)
    except (OSError, ValueError):
        logger.exception("Cannot read SENDER_ANONYMISING_NETWORKS_FILE; no network counts as anonymising.")
        return NetworkSet(())


class Sender(Rule[SenderParams]):
    name = "sender"
    params_model = SenderParams
    policy_key = "sender"
    reasons = (
        SENDER_ANONYMISED,
        Reason(
            SENDER_ANONYMISED_REFUSED,
            "Claimed or confirmed from an anonymising network on the operator's list: refused, as the "
            "contract says.",
        ),
        SENDER_SHARED_WITH_VENDOR,
    )

    def prepare(self, batch: Sequence[OutcomeFacts], now: dt.datetime) -> SenderStats:
        """The days each vendor's agents posted from the batch's confirming public addresses, in one query
        over the window around them (by the sender index); none when no confirmation has one."""
        stats = SenderStats(_anonymising())
        shared = NetworkSet(settings.SENDER_SHARED_NETWORKS)
        vendors, addresses, starts, ends = set(), set(), [], []
        # A batch's confirmations come from a few addresses: each is parsed and looked up once.
        told: dict[str | None, bool] = {}
        for facts in batch:
            params = self.params(facts)
            if params.shared_with_vendor == "ignore":
                continue
            window = dt.timedelta(days=params.shared_window_days)
            for event in facts.confirmations:
                if event.sender not in told:
                    told[event.sender] = telling(event.sender, shared)
                if told[event.sender]:
                    vendors.add(facts.contract.vendor_id)
                    addresses.add(event.sender)
                    day = _day_start(event.received_at)
                    starts.append(day - window)
                    ends.append(day + window + dt.timedelta(days=1))
        if not addresses:
            return stats
        rows = (
            Delivery.objects.filter(
                sender__in=addresses,
                received_at__gte=min(starts),
                received_at__lt=max(ends),
                source__kind=WebhookSource.Kind.VENDOR_AGENT,
                source__vendor_id__in=vendors,
            )
            .annotate(day=TruncDate("received_at", tzinfo=dt.UTC))
            .values_list("source__vendor_id", "sender", "day")
            .distinct()
        )
        agent_days: dict[tuple[Any, str], set[dt.date]] = defaultdict(set)
        for vendor_id, address, day in rows:
            agent_days[(vendor_id, str(address))].add(day)
        return SenderStats(stats.anonymising, dict(agent_days))

    def evaluate(self, facts: OutcomeFacts, prepared: dict[str, Any], now: dt.datetime) -> Verdict | None:
        params = self.params(facts)
        stats: SenderStats = prepared[self.name]
        if params.anonymising_networks != "ignore" and stats.anonymising:
            spoken = {e.event_id: e for e in [*facts.claims, *facts.confirmations]}.values()
            hidden = [e for e in spoken if e.sender is not None and e.sender in stats.anonymising]
            if hidden:
                details = {"events": [_described(e) for e in sorted(hidden, key=lambda e: e.event_id)]}
                if params.anonymising_networks == "reject":
                    return reject(SENDER_ANONYMISED_REFUSED, **details)
                return flag(SENDER_ANONYMISED.code, **details)
        if params.shared_with_vendor == "flag":
            for event in sorted(facts.confirmations, key=lambda e: (e.received_at, e.event_id)):
                days = stats.agent_days.get((facts.contract.vendor_id, event.sender or ""), set())
                confirmed_on = event.received_at.astimezone(dt.UTC).date()
                near = sorted(d for d in days if abs((d - confirmed_on).days) <= params.shared_window_days)
                if near:
                    return flag(
                        SENDER_SHARED_WITH_VENDOR.code,
                        **_described(event),
                        confirmed_on=confirmed_on.isoformat(),
                        agent_days=[d.isoformat() for d in near],
                        window_days=params.shared_window_days,
                    )
        return None


def _day_start(instant: dt.datetime) -> dt.datetime:
    return dt.datetime.combine(instant.astimezone(dt.UTC).date(), dt.time(), tzinfo=dt.UTC)


def _described(event: EventFact) -> dict[str, Any]:
    return {
        "event_id": event.event_id,
        "kind": event.kind,
        "sender": event.sender,
        "from_customer": event.from_customer,
    }
