"""What a change of the Stripe connection accepts: the bodies the API and the portal parse, and the
functions that parse them after the checks the service makes first (an admin sending a bad body learns
that only an owner may change the connection, as the service would tell them)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel

from contracts.models import ApiKey, Membership, Vendor
from contracts.terms import Terms, parse
from core.errors import ValidationFailed
from settlement.stripe_connections.account import (
    Mode,
    own_account_connection_get,
    owner_require,
    platform_require,
)

SecretKey = Annotated[
    str,
    Field(
        max_length=255,
        pattern=r"^(sk|rk)_(live|test)_[A-Za-z0-9_]+$",
        description="A secret (sk_live_…, sk_test_…) or, better, restricted (rk_live_…, rk_test_…) key of "
        "the vendor's Stripe account. Write-only.",
    ),
]
WebhookSecret = Annotated[
    str,
    Field(
        max_length=255,
        pattern=r"^whsec_[A-Za-z0-9_+/=]+$",
        description="The signing secret (whsec_…) of the webhook endpoint the vendor added in its Stripe "
        "account for /webhooks/stripe/{vendor_id}. Write-only.",
    ),
]
AccountId = Annotated[
    str,
    Field(
        max_length=100,
        pattern=r"^acct_[A-Za-z0-9]+$",
        description="A connected account (acct_…) of the deployment's Stripe platform.",
    ),
]
TaxEnabled = Annotated[
    bool | None,
    Field(description="Stripe Tax computes tax on the vendor's invoices; omitted: unchanged (off when new)."),
]


class OwnAccountIn(Terms):
    mode: Literal["own_account"]
    secret_key: SecretKey
    webhook_secret: WebhookSecret
    tax_enabled: TaxEnabled = None


class ConnectedAccountIn(Terms):
    mode: Literal["connected_account"]
    account_id: AccountId
    tax_enabled: TaxEnabled = None


class StripeConnectionIn(
    RootModel[Annotated[OwnAccountIn | ConnectedAccountIn, Field(discriminator="mode")]]
):
    """The body of a connection (the API's schema): one of the two modes, secrets write-only."""


class ModeIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    mode: Literal["own_account", "connected_account"]


class RotateIn(Terms):
    secret_key: SecretKey | None = None
    webhook_secret: WebhookSecret | None = None


def stripe_connection_parse(
    data: object, *, vendor: Vendor, by: Membership | ApiKey
) -> OwnAccountIn | ConnectedAccountIn:
    """A connection's body, read for its mode, once the caller is known to be an owner (and, for a
    connected account, the platform available)."""
    owner_require(vendor, by)
    if parse(ModeIn, data).mode == Mode.OWN_ACCOUNT.value:
        return parse(OwnAccountIn, data)
    platform_require()
    return parse(ConnectedAccountIn, data)


def stripe_rotation_parse(data: object, *, vendor: Vendor, by: Membership | ApiKey) -> RotateIn:
    """A rotation's body (a new key, a new webhook secret, or both), once the caller is known to be an
    owner and the vendor to be connected to its own account."""
    owner_require(vendor, by)
    own_account_connection_get(vendor)
    fields = parse(RotateIn, data)
    rotation_require(fields)
    return fields


def rotation_require(fields: RotateIn) -> None:
    """A rotation changes something: a new key, a new webhook secret, or both."""
    if fields.secret_key is None and fields.webhook_secret is None:
        raise ValidationFailed.on_field(
            "secret_key", "required", "Enter a new secret key, a new webhook secret, or both."
        )
