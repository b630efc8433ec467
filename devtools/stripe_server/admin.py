"""A thin stdlib client for the server's /__admin JSON API (tests and scripts use it; stripe's SDK cannot)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

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

    # state
    def state(self) -> JSON:
        result: JSON = self._call("GET", "/state")
        return result

    def reset(self) -> None:
        self._call("POST", "/reset")

    def requests(self) -> list[JSON]:
        result: list[JSON] = self._call("GET", "/requests")["requests"]
        return result

    def events(self, type_: str | None = None) -> list[JSON]:
        suffix = "" if type_ is None else f"?type={type_}"
        result: list[JSON] = self._call("GET", f"/events{suffix}")["events"]
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
    ) -> JSON:
        body = {
            "url": url,
            "secret": secret,
            "enabled_events": enabled_events,
            "paused": paused,
            "timeout": timeout,
        }
        result: JSON = self._call("POST", "/webhook", body)
        return result

    def remove_webhook(self) -> None:
        self._call("DELETE", "/webhook")

    def pause_webhooks(self) -> None:
        self._call("POST", "/webhook", {**self._call("GET", "/webhook"), "paused": True})

    def release_webhooks(self, order: str | list[str] = "fifo") -> list[JSON]:
        result: list[JSON] = self._call("POST", "/webhook/release", {"order": order})["deliveries"]
        return result

    def drain_webhooks(self, timeout: float = 10.0) -> bool:
        return bool(self._call("POST", "/webhook/drain", {"timeout": timeout})["drained"])

    def deliver_event(
        self, event_id: str, *, times: int = 1, secret: str | None = None, timestamp: int | None = None
    ) -> list[JSON]:
        body = {"times": times, "secret": secret, "timestamp": timestamp}
        result: list[JSON] = self._call("POST", f"/events/{event_id}/deliver", body)["deliveries"]
        return result

    def deliveries(self) -> list[JSON]:
        result: list[JSON] = self._call("GET", "/deliveries")["deliveries"]
        return result
