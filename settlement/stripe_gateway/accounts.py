"""The Stripe account behind a vendor's connection: the harmless call (GET /v1/account) that checks a key,
or a connected account under the platform key, before Verity saves or trusts it.

`client(account).v1.accounts.retrieve_current()` (GET /v1/account, no id) asks for the key's own account, or, with
`Stripe-Account` set, for the connected account (https://docs.stripe.com/api/accounts/retrieve,
https://docs.stripe.com/connect/authentication). Nothing is created or changed in Stripe.
"""

from __future__ import annotations

from typing import Any

import stripe

from settlement.stripe_gateway.client import StripeAccount, client, outage_is_unavailable


class StripeKeyRefused(Exception):
    """Stripe refused the key: unknown, expired or revoked (401), or not allowed to read its account (403)."""


class StripeAccountNotConnected(Exception):
    """The platform key has no access to that account: it does not exist or is not connected (any more)."""


def _message(exc: stripe.StripeError) -> str:
    # Stripe's own words; it masks any key it quotes (sk_test_****abcd).
    return str(exc.user_message or exc)


def stripe_account_check(*, account: StripeAccount) -> dict[str, str]:
    """The account's id, display name and country, as Stripe has them. Raises StripeKeyRefused,
    StripeAccountNotConnected (an `account` the platform cannot act on) or StripeUnavailable (outage)."""
    try:
        with outage_is_unavailable("checking the Stripe account"):
            remote: Any = client(account).v1.accounts.retrieve_current()
    except stripe.AuthenticationError as exc:
        raise StripeKeyRefused(_message(exc)) from None
    except (stripe.PermissionError, stripe.InvalidRequestError) as exc:
        if account.account:
            raise StripeAccountNotConnected(_message(exc)) from None
        raise StripeKeyRefused(_message(exc)) from None
    facts = remote.to_dict() if hasattr(remote, "to_dict") else dict(remote)
    if account.account and facts.get("id") != account.account:
        raise StripeAccountNotConnected(f"Stripe answered for {facts.get('id')!r}, not {account.account!r}.")
    profile = facts.get("business_profile") or {}
    dashboard = (facts.get("settings") or {}).get("dashboard") or {}
    return {
        "id": str(facts.get("id") or ""),
        "name": str(profile.get("name") or dashboard.get("display_name") or ""),
        "country": str(facts.get("country") or ""),
    }
