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


# The units of ParsedRequest.quoted, as the request's columns.
QUOTED_KEYS = {
    "trade": (*TRADE, "diploma"),
    "kind": ("kind",),
    "place": PLACE,
    "age": ("age",),
    "situation": ("situation",),
}


def completed(
    stored: Mapping[str, object],
    said: Mapping[str, object],
    quoted: frozenset[str] = frozenset(),
) -> dict[str, object]:
    """The fields of `said` that change the stored request, with their new values. A unit
    of `quoted` (ParsedRequest.quoted: read only from the earlier mails a reply quotes) only
    fills a request that lacks it: the person's old words, quoted under their reply, never
    undo what was stored since (a coordinator's correction, a detail given later)."""
    said = dict(said)
    for name in quoted:
        keys = QUOTED_KEYS.get(name, ())
        if any(stored.get(key) is not None for key in keys):
            for key in keys:
                said.pop(key, None)
    merged: dict[str, object] = {}
    grouped = {key for unit in UNITS for key in unit}
    for unit in UNITS:
        if any(said.get(key) is not None for key in unit):
            merged.update({key: said.get(key) for key in unit if key in said})
    for key, value in said.items():
        if key not in grouped and key not in NOT_MERGED and value is not None:
            merged[key] = value
    return {key: value for key, value in merged.items() if stored.get(key) != value}
