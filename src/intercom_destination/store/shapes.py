"""A dead letter's reason shape: what groups dead letters on the console's `/dead` page.

Reasons name the person, the event or the attribute they are about in quotes (Python's repr:
`'d1'`, or `"o'brien"` when the value holds a single quote), so the commonest failure would make
one group per person. A reason's shape is its text with each quoted value replaced by `'…'`;
numbers are kept, so reasons that differ by HTTP status (400, 404, 500) stay apart. One
definition, used by both backends: the store groups and selects in Python over distinct reasons.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

#: A quoted value as repr writes it, with backslash escapes; the quote must not follow a letter
#: or digit, so an apostrophe inside a word ("didn't") does not open one.
_QUOTED = re.compile(r"""(?<!\w)(?:'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")""")

#: What stands for a quoted value in a shape.
PLACEHOLDER = "'…'"


def reason_shape(reason: str) -> str:
    """`reason` with each quoted value replaced by `PLACEHOLDER`."""
    return _QUOTED.sub(PLACEHOLDER, reason)


def of_shape(reasons: Iterable[str | None], shape: str) -> list[str]:
    """The distinct reasons among `reasons` whose shape is `shape`."""
    return sorted({r for r in reasons if r is not None and reason_shape(r) == shape})
