"""What a person's later mail adds to their request (a reply to the help mail, a new mail
while the request waits for details): pure, so the merge is tested without a database.

A value the new mail says wins (a person may correct themselves: "pardon, j'ai 16 ans");
a value it does not say keeps the stored one, so "j'ai 17 ans" in a reply never erases the
place given in the first mail. A place and a trade are each one unit: a new place replaces
the whole stored place (a department alone must not keep the commune of another one), a new
trade its words and ROME code together.
"""

from __future__ import annotations

from collections.abc import Mapping

PLACE = ("department", "region", "commune", "insee", "postcode")
TRADE = ("trade_text", "code_rome", "rome_label")
UNITS = (PLACE, TRADE)
NOT_MERGED = frozenset({"message", "minor"})  # appended, and recomputed from the merge


def completed(stored: Mapping[str, object], said: Mapping[str, object]) -> dict[str, object]:
    """The fields of `said` that change the stored request, with their new values."""
    merged: dict[str, object] = {}
    grouped = {key for unit in UNITS for key in unit}
    for unit in UNITS:
        if any(said.get(key) is not None for key in unit):
            merged.update({key: said.get(key) for key in unit if key in said})
    for key, value in said.items():
        if key not in grouped and key not in NOT_MERGED and value is not None:
            merged[key] = value
    return {key: value for key, value in merged.items() if stored.get(key) != value}
