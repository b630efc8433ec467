"""What a parsed JSON document may hold that PostgreSQL cannot store: NUL characters and lone surrogates.

Both are valid JSON escapes (\\u0000, \\ud800) but neither text nor jsonb keeps them, so input holding
them is refused as bad input (400) before it reaches the database (where it would be a 500).
"""

from __future__ import annotations

import re
from typing import Any

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def holds_unstorable_text(value: Any) -> bool:
    """True if any string of the document, key or value, holds a NUL or a lone surrogate."""
    if isinstance(value, str):
        return _UNSTORABLE.search(value) is not None
    if isinstance(value, dict):
        return any(holds_unstorable_text(k) or holds_unstorable_text(v) for k, v in value.items())
    if isinstance(value, list):
        return any(holds_unstorable_text(item) for item in value)
    return False
