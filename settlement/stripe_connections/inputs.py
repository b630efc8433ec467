"""What a change of the Stripe connection accepts: the bodies the API and the portal parse."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel

from contracts.terms import Terms

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


class TaxIn(Terms):
    tax_enabled: bool
