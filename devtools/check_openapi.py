"""`make lint`'s check of the published OpenAPI document (`python -m devtools.check_openapi`).

drf-spectacular's own validation (`spectacular --validate`) accepts what a client generator trips on:
an operation under the default tag (its path's first word), an `info.version` that names no release,
and schema keywords outside OpenAPI 3.1's vocabulary (pydantic's `ge`, `max_digits`; OpenAPI 3.0's
`nullable`), which readers ignore, so the constraint they stood for is lost. This fails on each.
"""

from __future__ import annotations

import os
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

# The Schema Object of OpenAPI 3.1: JSON Schema 2020-12's vocabularies (core, applicator, unevaluated,
# validation, meta-data, format annotation, content) and OpenAPI's own fixed fields; `x-` extensions too.
SCHEMA_KEYWORDS = frozenset(
    {
        # core
        *("$schema", "$id", "$ref", "$anchor", "$dynamicRef", "$dynamicAnchor", "$vocabulary"),
        *("$comment", "$defs"),
        # applicator and unevaluated
        *("allOf", "anyOf", "oneOf", "not", "if", "then", "else", "dependentSchemas", "prefixItems"),
        *("items", "contains", "properties", "patternProperties", "additionalProperties"),
        *("propertyNames", "unevaluatedItems", "unevaluatedProperties"),
        # validation
        *("type", "enum", "const", "multipleOf", "maximum", "exclusiveMaximum", "minimum"),
        *("exclusiveMinimum", "maxLength", "minLength", "pattern", "maxItems", "minItems"),
        *("uniqueItems", "maxContains", "minContains", "maxProperties", "minProperties", "required"),
        "dependentRequired",
        # meta-data, format, content
        *("title", "description", "default", "deprecated", "readOnly", "writeOnly", "examples"),
        *("format", "contentEncoding", "contentMediaType", "contentSchema"),
        # OpenAPI's fixed fields
        *("discriminator", "xml", "externalDocs", "example"),
    }
)
# Keywords whose value is a schema, a list of schemas, or a map of names to schemas.
ONE_SCHEMA = frozenset(
    {
        *("items", "additionalProperties", "not", "if", "then", "else", "contains", "propertyNames"),
        *("unevaluatedItems", "unevaluatedProperties", "contentSchema"),
    }
)
SCHEMA_LISTS = frozenset({"allOf", "anyOf", "oneOf", "prefixItems"})
SCHEMA_MAPS = frozenset({"properties", "patternProperties", "$defs", "dependentSchemas"})
# Example values are data, not schemas: a "schema" key inside one means nothing.
DATA_KEYS = frozenset({"example", "examples", "default", "enum", "const"})


def package_version() -> str:
    with (ROOT / "pyproject.toml").open("rb") as pyproject:
        return str(tomllib.load(pyproject)["project"]["version"])


def _schema_keyword_problems(schema: Any, where: str) -> Iterator[str]:
    if not isinstance(schema, dict):
        return  # `true`/`false` are schemas too
    for keyword, value in schema.items():
        if keyword not in SCHEMA_KEYWORDS and not keyword.startswith("x-"):
            yield f"{where}: `{keyword}` is not an OpenAPI 3.1 schema keyword"
        if keyword in ONE_SCHEMA:
            yield from _schema_keyword_problems(value, f"{where}/{keyword}")
        elif keyword in SCHEMA_LISTS and isinstance(value, list):
            for index, item in enumerate(value):
                yield from _schema_keyword_problems(item, f"{where}/{keyword}/{index}")
        elif keyword in SCHEMA_MAPS and isinstance(value, dict):
            for name, item in value.items():
                yield from _schema_keyword_problems(item, f"{where}/{keyword}/{name}")


def _schemas(node: Any, where: str) -> Iterator[tuple[Any, str]]:
    """Every schema the document holds outside other schemas: components' and those under a `schema` key
    (parameters, headers, media types)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in DATA_KEYS:
                continue
            if key == "schema" or where.endswith("/components/schemas"):
                yield value, f"{where}/{key}"
            else:
                yield from _schemas(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _schemas(item, f"{where}/{index}")


def openapi_problems(document: dict[str, Any], *, version: str) -> list[str]:
    """What is wrong with the document, one line each; empty when nothing is."""
    problems: list[str] = []
    if not str(document.get("openapi", "")).startswith("3.1."):
        problems.append(f"openapi is {document.get('openapi')!r}: the keyword allow-list is OpenAPI 3.1's")
    if document.get("info", {}).get("version") != version:
        problems.append(
            f"info.version is {document.get('info', {}).get('version')!r}, the package's {version!r}"
        )
    declared = [tag.get("name") for tag in document.get("tags", [])]
    used: set[str] = set()
    # The `webhooks` section's operations (the events Verity sends) are tagged like the paths' ones.
    sections = [*document.get("paths", {}).items(), *document.get("webhooks", {}).items()]
    for path, operations in sections:
        for method, operation in operations.items():
            tags = operation.get("tags", [])
            used.update(tags)
            if len(tags) != 1 or tags[0] not in declared:
                problems.append(f"{method.upper()} {path}: tags {tags}, not one of the declared {declared}")
    problems += [f"tag {name!r} is declared but no operation has it" for name in declared if name not in used]
    for schema, where in _schemas(document, "#"):
        problems += _schema_keyword_problems(schema, where)
    return problems


def generated_openapi() -> dict[str, Any]:
    """The document /api/schema/ serves."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    from drf_spectacular.generators import SchemaGenerator

    return dict(SchemaGenerator().get_schema(request=None, public=True))


def main() -> int:
    problems = openapi_problems(generated_openapi(), version=package_version())
    for problem in problems:
        sys.stderr.write(f"{problem}\n")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
