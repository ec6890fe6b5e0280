"""The ways "@" and "." are written around an address, read by both scrubbing and detection.

The replacement side (scrub.py) and the detection side (leaks.py) are separate code, so
that a bug in one is caught by the other; the list of written forms is one, here, so that
neither can lag behind the other when a new form is added.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

# Over normalised text (lower case, entities and %XX decoded). "=40" / "=2e": a
# quoted-printable body read without decoding.
AT_SYMBOLS = ("@", "=40")
AT_WORDS = ("at", "arobase", "arrobase", "chez")
DOT_SYMBOLS = (".", "=2e")
DOT_WORDS = ("dot", "point")
BRACKETS = ("()", "[]", "{}", "<>")
# Words an unknown address may use: "at" and "chez" are too common to mark a third party.
OTHER_AT_WORDS = ("arobase", "arrobase")
# In a person's own request, where no address is ever wanted: "at" too ("x at gmail.com"
# is no French prose), but not "chez" ("un stage chez Orange.fr").
OWN_TEXT_AT_WORDS = (*OTHER_AT_WORDS, "at")


def any_of(items: Sequence[str]) -> str:
    """A regex group matching any of `items`, longest first."""
    if not items:
        return "(?!x)x"  # matches nothing
    return "(?:" + "|".join(re.escape(i) for i in sorted(items, key=len, reverse=True)) + ")"


OPEN = "[" + "".join(re.escape(b[0]) for b in BRACKETS) + "]"
CLOSE = "[" + "".join(re.escape(b[1]) for b in BRACKETS) + "]"
