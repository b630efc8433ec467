"""DRF's JSON parser, refusing (400 malformed_json, not a 500 later) what the database could not store.

Python's json reads NUL characters and lone surrogates (\\u0000, \\ud800), which neither text nor
jsonb columns take, and raises RecursionError (not ValueError) on very deep nesting.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import IO, Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError

from core.jsontext import holds_unstorable_text


class JSONParser(parsers.JSONParser):
    def parse(
        self, stream: IO[Any], media_type: str | None = None, parser_context: Mapping[str, Any] | None = None
    ) -> Any:
        try:
            document = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - the document is nested too deeply.") from None
        if holds_unstorable_text(document):
            raise ParseError("JSON parse error - a string holds a NUL character or a lone surrogate.")
        return document
