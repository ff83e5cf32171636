"""Characters that change how text around them is shown, or hide: control characters, bidi
overrides and isolates. One definition for everything that shows a user's text: one-line errors,
the HTML report and Markdown; names refuse them on the way in (collectors.values)."""

from __future__ import annotations

import re

# The bidi marks, embeddings, overrides and isolates (U+202E turns "exe.txt" around), and the line
# and paragraph separators; with the C0 and C1 controls and DEL below.
_BIDI = "\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069"
INVISIBLE = re.compile(f"[\x00-\x1f\x7f-\x9f{_BIDI}]")
INVISIBLE_BUT_SPACING = re.compile(f"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f{_BIDI}]")  # HTML keeps tab, line breaks


def visible(text: str, pattern: re.Pattern[str] = INVISIBLE) -> str:
    """`text` with each character `pattern` matches written as its escape: "a\\u202eb"."""
    return pattern.sub(lambda match: f"\\u{ord(match.group()):04x}", text)
