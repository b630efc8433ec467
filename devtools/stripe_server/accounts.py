"""Stripe accounts: one object space (a Store) per account, the API keys that belong to each, and Connect.

On Stripe every object belongs to one account and a secret or restricted key belongs to one account
(https://docs.stripe.com/keys). Here a key registered through the admin API (`POST /__admin/accounts`) belongs to its
account, and every other key to the *default account* (`acct_1LocalStripeDflt`): the server is one Stripe account
until a test asks for more, so any number of unregistered keys keep sharing one object space as they always did.
The default account exists from the start, so admin calls made before any request (a webhook endpoint, collection
settings, tax rates) have somewhere to go. A platform key acts on a connected account with the `Stripe-Account`
header (https://docs.stripe.com/connect/authentication).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from typing import Any

from .clock import ServerClock
from .errors import INVALID_REQUEST, ApiError
from .objects import JSON, SHAPES, RequestContext, from_shape
from .state import Store

ACCOUNT_ID = re.compile(r"^acct_[A-Za-z0-9]+$")
API_KEY = re.compile(r"^(sk|rk)_test_[A-Za-z0-9_]+$")  # secret and restricted test-mode keys
DEFAULT_ACCOUNT = "acct_1LocalStripeDflt"


def masked(api_key: str) -> str:
    """A key as Stripe's errors show it: its prefix and last four characters."""
    return f"{api_key[:8]}****{api_key[-4:]}"


def no_access(api_key: str, account_id: str) -> ApiError:
    """Stripe's answer to a key acting on (or reading) an account that is not its own nor connected to it."""
    return ApiError(
        403,
        INVALID_REQUEST,
        f"The provided key '{masked(api_key)}' does not have access to account '{account_id}' (or that account does "
        "not exist). Application access may have been revoked.",
        code="account_invalid",
        replayable=False,
    )


class Account:
    """One Stripe account: its objects and events (`store`), its keys, and its platform when it is connected."""

    def __init__(self, account_id: str, store: Store, *, platform: str | None = None) -> None:
        self.id = account_id
        self.store = store
        self.keys: set[str] = set()
        self.platform = platform
        self.created = store.now()

    def render(self) -> JSON:
        """The `account` object (Stripe's example object with this account's id)."""
        example = copy.deepcopy(SHAPES["account"])
        example["external_accounts"]["url"] = f"/v1/accounts/{self.id}/external_accounts"
        return from_shape(
            "account",
            {
                **example,
                "id": self.id,
                "created": self.created,
                "email": None,
                "type": "custom" if self.platform else "standard",
                "controller": {"type": "application"} if self.platform else {"type": "account"},
            },
        )

    def describe(self) -> JSON:
        return {
            "id": self.id,
            "keys": sorted(masked(key) for key in self.keys),
            "platform": self.platform,
            "tax_rates": {country: str(rate) for country, rate in self.store.tax_rates.items()},
        }


class Accounts:
    """Every account of the server, found by id or by key. Callers hold the server's lock."""

    def __init__(self, clock: ServerClock, wire: Callable[[Account], None]) -> None:
        """`wire` connects each new account's store to the server (its event sink)."""
        self.clock = clock
        self._wire = wire
        self._by_id: dict[str, Account] = {}
        self._by_key: dict[str, Account] = {}
        self.default = self._new(DEFAULT_ACCOUNT)

    def _new(self, account_id: str, platform: str | None = None) -> Account:
        account = Account(account_id, Store(self.clock), platform=platform)
        account.store.event_account = account_id if platform is not None else None
        self._wire(account)
        self._by_id[account_id] = account
        return account

    def all(self) -> list[Account]:
        """The default account first, then the others in registration order."""
        return list(self._by_id.values())

    def get(self, account_id: str) -> Account | None:
        return self._by_id.get(account_id)

    def select(self, account_id: str | None) -> Account:
        """The account an admin call names, or the default account; KeyError for an unknown id."""
        if account_id is None:
            return self.default
        account = self._by_id.get(account_id)
        if account is None:
            raise KeyError(f"no account {account_id}")
        return account

    def for_key(self, api_key: str) -> Account:
        """The key's account: the one it was registered with, else the default account."""
        account = self._by_key.get(api_key)
        if account is None:
            account = self.default
            account.keys.add(api_key)
            self._by_key[api_key] = account
        return account

    def registered(self, api_key: str) -> bool:
        """Whether the admin API registered the key (such keys are accepted even when `--api-key` limits keys)."""
        account = self._by_key.get(api_key)
        return account is not None and account is not self.default

    def register(self, spec: dict[str, Any]) -> Account:
        """`{"id": "acct_…", "keys": [...], "platform": "acct_…"}` from the admin API."""
        unknown = set(spec) - {"id", "keys", "platform"}
        if unknown:
            raise ValueError(f"unknown account field(s): {', '.join(sorted(unknown))}")
        account_id = spec.get("id")
        if not isinstance(account_id, str) or not ACCOUNT_ID.match(account_id):
            raise ValueError("id must be an acct_… id")
        if account_id in self._by_id:
            raise ValueError(f"account {account_id} already exists")
        keys = spec.get("keys", [])
        if not isinstance(keys, list) or not all(isinstance(key, str) and API_KEY.match(key) for key in keys):
            raise ValueError("keys must be a list of sk_test_… / rk_test_… keys")
        taken = [key for key in keys if self.registered(key)]
        if taken:
            raise ValueError(
                f"key(s) already belong to an account: {', '.join(masked(key) for key in taken)}"
            )
        platform = spec.get("platform")
        if platform is not None:
            owner = self._by_id.get(platform) if isinstance(platform, str) else None
            if owner is None:
                raise ValueError(f"platform {platform} is not an account")
            if owner.platform is not None:
                raise ValueError("a connected account cannot be a platform")
        account = self._new(account_id, platform)
        for key in keys:
            self.default.keys.discard(key)  # a key used before it was registered moves to its account
            account.keys.add(key)
            self._by_key[key] = account
        return account

    def acting_as(self, account: Account, api_key: str, header: str | None) -> Account:
        """The account a request acts on: the key's own, or the one its `Stripe-Account` header names."""
        if header is None or header == account.id:
            return account
        target = self._by_id.get(header)
        if target is None or target.platform != account.id:
            raise no_access(api_key, header)
        return target

    def retrieve(self, account: Account, api_key: str, account_id: str) -> JSON:
        """`GET /v1/accounts/{id}`: the account itself or one connected to it."""
        target = self._by_id.get(account_id)
        if target is None or (target is not account and target.platform != account.id):
            raise no_access(api_key, account_id)
        return target.render()

    def advance(self, seconds: float, ctx: RequestContext, event_log: list[JSON]) -> list[str]:
        """Move the clock forward, doing every account's due work in time order; the ids of the events emitted."""
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        target = self.clock() + seconds
        first_event = len(event_log)
        accounts = self.all()
        while True:
            due = [
                (found[0], order, account, found)
                for order, account in enumerate(accounts)
                if (found := account.store.collection.next_due(target)) is not None
            ]
            if not due:
                break
            when, _, account, found = min(due, key=lambda item: (item[0], item[1]))
            self.clock.travel_to(when)
            account.store.collection.run_due(found, ctx)
        self.clock.travel_to(target)
        return [event["id"] for event in event_log[first_event:]]
