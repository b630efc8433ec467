"""Portal forms whose inputs are named by the API's field paths (`terms.outcome_types[0].pricing.tiers[1].up_to`).

A form posts flat path names; `nest` rebuilds the JSON body the API would receive, the same service
or serializer validates it, and `bind` puts each field error next to the input its path names (or
the nearest enclosing one). Hand-written because Django forms have no nested lists and the API's
validators (pydantic terms, DRF serializers) must stay the only ones, so errors are identical.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from rest_framework import exceptions, serializers

from core.api.errors import flatten_details
from core.currencies import major_units, minor_units
from core.errors import DomainError, FieldErrors, field_path

PATH_PART = re.compile(r"\.?([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]")

# How an input's text becomes the JSON value the API expects (empty text: the field is left out, but
# for the kinds in BLANK_MEANS, whose empty text is a value). MONEY is an amount typed in major units
# of a currency, the API's integer of minor units (see `money_minor`); FIELD_KINDS is "name: kind" lines.
TEXT, INT, INT_OR_NULL, INT_LIST = "text", "int", "int_or_null", "int_list"
BOOL, FLOAT, TEXT_LIST, FIELD_KINDS, MONEY = "bool", "float", "text_list", "field_kinds", "money"
# "name: number" lines, as FIELD_KINDS, each number an integer (e.g. hours per disqualifier).
NAMED_INTS = "named_ints"
# A list of texts that may hold commas themselves (evidence checks): one item per line.
TEXT_LINES = "text_lines"
BLANK_MEANS: dict[str, Any] = {
    INT_OR_NULL: None,
    TEXT_LIST: [],
    TEXT_LINES: [],
    FIELD_KINDS: {},
    NAMED_INTS: {},
}
AMOUNT = re.compile(r"-?[0-9]{1,30}(\.[0-9]{1,30})?")
FIELD_KIND_LINE = re.compile(r"\s*([^:\s]+)\s*:\s*(\S+)\s*")


def path_parts(path: str) -> list[str | int]:
    """'tiers[1].up_to' -> ['tiers', 1, 'up_to'] (the inverse of core.errors.field_path)."""
    parts: list[str | int] = []
    position = 0
    for match in PATH_PART.finditer(path):
        if match.start() != position:
            raise ValueError(f"Not a field path: {path!r}")
        name, index = match.groups()
        parts.append(int(index) if index is not None else name)
        position = match.end()
    if position != len(path) or not parts:
        raise ValueError(f"Not a field path: {path!r}")
    return parts


def _as_lists(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    if node and all(isinstance(key, int) for key in node):
        return [_as_lists(node[index]) for index in sorted(node)]
    return {key: _as_lists(value) for key, value in node.items()}


def nest(values: Mapping[str, Any]) -> dict[str, Any]:
    """{'a.b[0].c': 1} -> {'a': {'b': [{'c': 1}]}}; names that are not paths are ignored."""
    root: dict[Any, Any] = {}
    for path, value in values.items():
        try:
            parts = path_parts(path)
        except ValueError:
            continue
        node = root
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[parts[-1]] = value
    return dict(_as_lists(root))


class MalformedInput(ValueError):
    """Text that cannot become the JSON value its input stands for (an amount, a list of name: kind lines)."""


def coerce(text: str, kind: str) -> Any:
    """An input's text as the API's JSON value. Text that is not a number stays text, so the API's
    validator refuses it with its own message ('Input should be a valid integer')."""
    text = text.strip() if kind != TEXT else text
    if kind in BLANK_MEANS and not text:
        return copy.copy(BLANK_MEANS[kind])
    if kind in (INT, INT_OR_NULL):
        return int(text) if re.fullmatch(r"-?\d{1,18}", text) else text
    if kind == FLOAT:
        return float(text) if re.fullmatch(r"-?\d{1,18}(\.\d{1,18})?", text) else text
    if kind == BOOL:
        return {"true": True, "on": True, "false": False}.get(text.lower(), text)
    if kind == INT_LIST:
        return [coerce(item, INT) for item in re.split(r"[,\s]+", text) if item]
    if kind == TEXT_LIST:
        return [item.strip() for item in text.split(",") if item.strip()]
    if kind == TEXT_LINES:
        return [line.strip() for line in text.splitlines() if line.strip()]
    if kind == FIELD_KINDS:
        return _field_kinds(text)
    if kind == NAMED_INTS:
        return {name: coerce(value, INT) for name, value in _field_kinds(text).items()}
    return text


def _field_kinds(text: str) -> dict[str, str]:
    found = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        match = FIELD_KIND_LINE.fullmatch(line)
        if match is None:
            raise MalformedInput(f"Line {number}: write a field and its kind, e.g. ticket_status: string.")
        found[match.group(1)] = match.group(2)
    return found


def money_minor(text: str, currency: str) -> int:
    """An amount typed in major units of `currency` ("500.00") as the API's integer of minor units
    (50000 for USD), exactly; an amount with more decimals than the currency has is refused."""
    text = text.strip()
    if not AMOUNT.fullmatch(text):
        example = money_text(minor_units(Decimal(500), currency), currency)
        raise MalformedInput(f"Write an amount in {currency} as digits, e.g. {example}.")
    try:
        return minor_units(Decimal(text), currency)
    except ValueError as exc:
        raise MalformedInput(str(exc)) from None


def money_text(amount_minor: int, currency: str) -> str:
    """An integer of minor units as the text of an amount input: 50000 USD is "500.00", 500 JPY "500"."""
    return format(major_units(amount_minor, currency), "f")


def display(value: Any, kind: str) -> str:
    """A JSON value as an input's text (the inverse of `coerce`; amounts: see `money_text`)."""
    if value is None:
        return ""
    if kind == BOOL:
        return "true" if value is True else "false" if value is False else str(value)
    if kind in (INT_LIST, TEXT_LIST):
        return ", ".join(str(item) for item in value)
    if kind in (FIELD_KINDS, NAMED_INTS):
        return "\n".join(f"{name}: {item}" for name, item in value.items())
    if kind == TEXT_LINES:
        return "\n".join(str(item) for item in value)
    return str(value)


def lookup(data: Any, path: str) -> Any:
    """The value at a field path of nested data, or None."""
    node = data
    for part in path_parts(path):
        if isinstance(part, int):
            node = node[part] if isinstance(node, list) and part < len(node) else None
        else:
            node = node.get(part) if isinstance(node, dict) else None
        if node is None:
            return None
    return node


def is_within(path: str, anchor: str) -> bool:
    """Whether `path` is `anchor` or a field inside it ('a.b[0]' is within 'a.b', 'a.bc' is not)."""
    return path == anchor or path.startswith((anchor + ".", anchor + "["))


def dom_id(path: str) -> str:
    return "f-" + re.sub(r"[^A-Za-z0-9]+", "-", path).strip("-")


@dataclass(frozen=True)
class Spec:
    """How an input is declared: its label, how its text becomes JSON, its widget, and its value when
    the data has none (a policy parameter's default)."""

    label: str
    kind: str = TEXT
    widget: str = "text"
    help: str = ""
    choices: tuple[tuple[str, str], ...] = ()
    default: Any = None


@dataclass
class Input:
    """One form input (or an anchor such as a tier table) and the errors its path collected."""

    name: str
    label: str
    kind: str = TEXT
    value: str = ""
    choices: list[tuple[str, str]] = field(default_factory=list)
    help: str = ""
    # text, number, decimal, select, textarea, checkbox, email, password (a secret: never filled back),
    # none (an anchor: errors only)
    widget: str = "text"
    unit: str = ""  # shown beside the input: the currency an amount is typed in
    group: str = ""  # what the input belongs to, for the error summary ("Outcome type 2")
    form_name: str = ""  # tells apart inputs of the same name in several forms on one page
    errors: list[str] = field(default_factory=list)

    @property
    def id(self) -> str:
        return dom_id(f"{self.form_name}.{self.name}" if self.form_name else self.name)

    @property
    def error_id(self) -> str:
        return f"{self.id}-errors"


@dataclass
class Form:
    """Inputs in display order, the errors no input claimed, and the total count for the summary."""

    inputs: dict[str, Input]
    unplaced: list[str] = field(default_factory=list)
    summary: list[tuple[str, str]] = field(default_factory=list)  # (input id, "where: message")
    error_count: int = 0

    def __getitem__(self, name: str) -> Input:
        return self.inputs[name]


class SectionedForm:
    """A form shown in sections (a dataclass with a bound `form` and its inputs grouped for the template):
    the error summary reads the bound form's counts."""

    form: Form

    @property
    def error_count(self) -> int:
        return self.form.error_count

    @property
    def unplaced(self) -> list[str]:
        return self.form.unplaced

    @property
    def summary(self) -> list[tuple[str, str]]:
        return self.form.summary


def bind(inputs: Iterable[Input], errors: FieldErrors | None = None, *, form_name: str = "") -> Form:
    """Give each error to the innermost input or anchor whose path encloses the error's path.

    An error deeper than its input (a field inside a list of evidence fields) names the rest of
    its path; errors no input encloses are kept as `unplaced` for the top of the form.
    """
    form = Form(inputs={item.name: item for item in inputs})
    for named in form.inputs.values():
        named.form_name = form_name
    names = sorted(form.inputs, key=len, reverse=True)
    for path, items in (errors or {}).items():
        owner = next((name for name in names if is_within(path, name)), None)
        for item in items:
            form.error_count += 1
            rest = path[len(owner) :].lstrip(".") if owner else path
            message = f"{rest}: {item['message']}" if rest and rest != "non_field_errors" else item["message"]
            if owner is None:
                form.unplaced.append(message)
                continue
            target = form.inputs[owner]
            target.errors.append(message)
            where = " · ".join(part for part in (target.group, target.label) if part)
            form.summary.append((target.id, f"{where}: {message}"))
    return form


def serializer_errors(serializer: serializers.Serializer[Any]) -> FieldErrors:
    """A DRF serializer's errors in the API's field-error shape (the same paths and messages)."""
    details = exceptions.ValidationError(serializer.errors).get_full_details()
    found: FieldErrors = {}
    flatten_details(details, (), found)
    return found


def errors_of(exc: DomainError) -> FieldErrors:
    """A service's error as field errors; one that names no field goes to the top of the form."""
    return exc.field_errors or {"non_field_errors": [{"code": exc.code, "message": exc.message}]}


def single_error(path: str, message: str, code: str = "invalid") -> FieldErrors:
    return {field_path(path_parts(path)): [{"code": code, "message": message}]}
