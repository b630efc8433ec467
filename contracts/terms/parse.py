"""The terms models' base, and parse: the one validator the API, the portal and the admin share, turning
pydantic's errors into our field errors."""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from core.errors import ValidationFailed, field_path


class Terms(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


PRICING_TAGS = frozenset({"per_unit", "graduated", "volume", "package", "percentage"})
T = TypeVar("T", bound=BaseModel)


def _without_union_tags(loc: tuple[str | int, ...]) -> tuple[str | int, ...]:
    """Pydantic puts the discriminator's value in an error's location; a user's path has no such step."""
    return tuple(
        part
        for index, part in enumerate(loc)
        if not (index > 0 and loc[index - 1] == "pricing" and part in PRICING_TAGS)
    )


def parse(model: type[T], data: object, *, prefix: tuple[str | int, ...] = ()) -> T:
    """Validate input against a terms model, turning pydantic's errors into our field errors."""
    if not isinstance(data, dict):
        raise ValidationFailed("The request body must be a JSON object.", code="invalid_body")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ValidationFailed.from_pairs(
            (
                field_path(_without_union_tags((*prefix, *error["loc"]))) or "non_field_errors",
                error["type"],
                error["msg"],
            )
            for error in exc.errors(include_url=False)
        ) from None
