"""Verification policy: per outcome type, which anti-gaming rules apply and their parameters.

Each rule of docs/product.md ("Rules that resist gaming") declares its parameters beside its code
(outcomes.rules.<rule>: a `RuleParams` subclass), every parameter with a documented default and bounds,
so a stored policy is always complete and valid. Contracts stores and shows policies without knowing
the rules: the outcomes app registers the policy's model here when it is ready (`policy_register`, a
slot like Django's AUTH_USER_MODEL), and contracts asks for it when it needs it (`policy_model`), never
at import. Authenticity and idempotency are enforced at ingestion and have no parameters.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, ClassVar

from django.core.exceptions import ImproperlyConfigured
from pydantic import BaseModel, ConfigDict, GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, core_schema

HOUR = 3600
DAY = 24 * HOUR


def count_text(value: int) -> str:
    return f"{value:,}"


def percent_text(value: Decimal | float) -> str:
    return f"{Decimal(str(value)).normalize():f} %"


def listing_text(items: list[str]) -> str:
    return ", ".join(item.replace("_", " ") for item in items)


class RuleParams(BaseModel):
    """A rule's parameters; each has a `description` in plain words, the portal form's help beside its input,
    and the rule says what its parameters mean in one sentence (`describe`) for the contract's pages."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    title: ClassVar[str]  # the rule's name for people (the portal form's heading)

    def describe(self) -> str | None:
        """The rule's parameters as a sentence, or None when the rule is off (or has nothing to require)."""
        return None


# The policy's model, one section per rule with parameters: registered by the outcomes app (OutcomesConfig.ready).
_registered: dict[str, type[BaseModel]] = {}


def policy_register(model: type[BaseModel]) -> None:
    """Make `model` the verification policy contracts validates, stores and shows."""
    _registered["policy"] = model


def policy_model() -> type[BaseModel]:
    """The registered verification policy's model."""
    try:
        return _registered["policy"]
    except KeyError:
        raise ImproperlyConfigured(
            "No verification policy is registered: the outcomes app registers it when Django is set up "
            "(outcomes.apps.OutcomesConfig.ready); is 'outcomes' in INSTALLED_APPS?"
        ) from None


def default_policy() -> BaseModel:
    """The policy with every rule at its defaults."""
    return policy_model()()


class RegisteredPolicy:
    """A field holding a verification policy of the registered model (`Annotated[BaseModel, RegisteredPolicy]`):
    validated, and described in JSON Schema, by asking the slot when it happens, not when the field's
    model is built. It dumps as the policy's own model_dump."""

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        # Validated by the registered model; the inner schema's ref marks the field as one holding a
        # model, which JSON Schema describes by reference, without a title of the field's own.
        return core_schema.no_info_before_validator_function(
            _validate_policy, core_schema.any_schema(ref="contracts.policy.RegisteredPolicy")
        )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        # A reference to the model's definition (a component of its own in the OpenAPI schema), as a field
        # typed with the model itself would be: calling the handler on the model's schema would inline it.
        model_schema = policy_model().__pydantic_core_schema__
        reference = core_schema.definition_reference_schema(model_schema["ref"])
        return handler(core_schema.definitions_schema(reference, [model_schema]))


def _validate_policy(value: Any) -> BaseModel:
    return policy_model().model_validate(value)
