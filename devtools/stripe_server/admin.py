"""A thin stdlib client for the server's /__admin JSON API (tests and scripts use it; stripe's SDK cannot)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any, Literal
from urllib.parse import urlencode

JSON = dict[str, Any]


class AdminError(RuntimeError):
    """The admin API answered with an error."""


class AdminClient:
    def __init__(self, base_url: str, *, timeout: float = 30.0) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError("base_url must be an http(s) URL")
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(  # noqa: S310 - scheme checked in __init__
            f"{self.base_url}/__admin{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 - see above
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            raise AdminError(
                f"{method} /__admin{path}: {exc.code} {exc.read().decode(errors='replace')}"
            ) from exc

    # state (every account merged unless `account` names one)
    def state(self, account: str | None = None) -> JSON:
        result: JSON = self._call("GET", f"/state{_query(account=account)}")
        return result

    def reset(self) -> None:
        self._call("POST", "/reset")

    def requests(self, account: str | None = None) -> list[JSON]:
        result: list[JSON] = self._call("GET", f"/requests{_query(account=account)}")["requests"]
        return result

    def events(self, type_: str | None = None, *, account: str | None = None) -> list[JSON]:
        result: list[JSON] = self._call("GET", f"/events{_query(type=type_, account=account)}")["events"]
        return result

    # accounts and Connect
    def create_account(
        self, account_id: str, *, keys: list[str] | None = None, platform: str | None = None
    ) -> JSON:
        """Register an account owning `keys` (sk_test_/rk_test_), or a connected account under `platform`."""
        body: JSON = {"id": account_id, "keys": keys or []}
        if platform is not None:
            body["platform"] = platform
        result: JSON = self._call("POST", "/accounts", body)
        return result

    def accounts(self) -> list[JSON]:
        result: list[JSON] = self._call("GET", "/accounts")["accounts"]
        return result

    # automatic tax
    def configure_tax(self, rates: dict[str, str], *, account: str | None = None) -> JSON:
        """Test tax rates in percent per country ("*": every other one) for automatic tax; default 10%."""
        result: JSON = self._call("POST", "/tax", {"account": account, "rates": rates})
        return result

    # faults
    def add_faults(self, *rules: JSON) -> list[JSON]:
        """Each rule: {"action": "500"|"429"|"timeout"|"drop_after_commit", "method": .., "path": .., "count": ..}."""
        result: list[JSON] = self._call("POST", "/faults", list(rules))["added"]
        return result

    def faults(self) -> list[JSON]:
        result: list[JSON] = self._call("GET", "/faults")["faults"]
        return result

    def clear_faults(self) -> None:
        self._call("DELETE", "/faults")

    # webhooks
    def configure_webhook(
        self,
        url: str,
        secret: str,
        *,
        enabled_events: list[str] | None = None,
        paused: bool | None = None,
        timeout: float | None = None,
        account: str | None = None,
        connect: bool = False,
    ) -> JSON:
        """The account's endpoint (default account when None); `connect=True`: its Connect endpoint, which receives
        its connected accounts' events."""
        body = {
            "account": account,
            "connect": connect,
            "url": url,
            "secret": secret,
            "enabled_events": enabled_events,
            "paused": paused,
            "timeout": timeout,
        }
        result: JSON = self._call("POST", "/webhook", body)
        return result

    def remove_webhook(self, *, account: str | None = None, connect: bool = False) -> None:
        self._call("DELETE", f"/webhook{_query(account=account, connect=connect)}")

    def pause_webhooks(self, *, account: str | None = None, connect: bool = False) -> None:
        current = self._call("GET", f"/webhook{_query(account=account, connect=connect)}")
        self._call("POST", "/webhook", {**current, "account": account, "connect": connect, "paused": True})

    def release_webhooks(
        self, order: str | list[str] = "fifo", *, account: str | None = None, connect: bool = False
    ) -> list[JSON]:
        body = {"order": order, "account": account, "connect": connect}
        result: list[JSON] = self._call("POST", "/webhook/release", body)["deliveries"]
        return result

    def drain_webhooks(self, timeout: float = 10.0) -> bool:
        return bool(self._call("POST", "/webhook/drain", {"timeout": timeout})["drained"])

    def deliver_event(
        self,
        event_id: str,
        *,
        times: int = 1,
        secret: str | None = None,
        timestamp: int | None = None,
        connect: bool = False,
    ) -> list[JSON]:
        """To the event's account's endpoint, or (`connect`) to its platform's Connect endpoint."""
        body = {"times": times, "secret": secret, "timestamp": timestamp, "connect": connect}
        result: list[JSON] = self._call("POST", f"/events/{event_id}/deliver", body)["deliveries"]
        return result

    def deliveries(self) -> list[JSON]:
        result: list[JSON] = self._call("GET", "/deliveries")["deliveries"]
        return result

    # payments side: server clock, automatic collection, Checkout
    def clock(self) -> JSON:
        """{"now": unix seconds on the server's clock, "offset": seconds ahead of real time}."""
        result: JSON = self._call("GET", "/clock")
        return result

    def advance_clock(self, seconds: float) -> JSON:
        """Move the server clock forward, running the automatic collection that falls due; adds the event ids."""
        result: JSON = self._call("POST", "/clock", {"advance": seconds})
        return result

    def configure_collection(
        self,
        *,
        account: str | None = None,
        retry_days: list[int] | None = None,
        after_final_failure: str | None = None,
        overdue_days: int | Literal["unchanged"] | None = "unchanged",
    ) -> JSON:
        """Stripe's custom retry schedule (days after the previous attempt), what follows the last failure
        ("leave_open" | "mark_uncollectible" | "void"), and days after due_date for invoice.overdue (None: never)."""
        body: JSON = {} if account is None else {"account": account}
        if retry_days is not None:
            body["retry_days"] = retry_days
        if after_final_failure is not None:
            body["after_final_failure"] = after_final_failure
        if overdue_days != "unchanged":
            body["overdue_days"] = overdue_days
        result: JSON = self._call("POST", "/collection", body)
        return result

    def collection(self, *, account: str | None = None) -> JSON:
        result: JSON = self._call("GET", f"/collection{_query(account=account)}")
        return result

    def complete_checkout(self, session_id: str, payment_method: str = "pm_card_visa") -> JSON:
        """Complete a setup-mode Checkout Session as the customer would; returns the completed session."""
        result: JSON = self._call(
            "POST", f"/checkout/{session_id}/complete", {"payment_method": payment_method}
        )
        return result


def _query(**values: str | bool | None) -> str:
    """A query string of the values given (None and False left out)."""
    given = {
        name: str(value).lower() if isinstance(value, bool) else value
        for name, value in values.items()
        if value
    }
    return f"?{urlencode(given)}" if given else ""
