"""A repeated request: the same person asking again for the same thing (pure).

People write again when they hear nothing quickly, or forget they wrote. A second request
would count twice in the figures, mail the coordinator twice and lose what the first said
(an age, a place). So a new mail from a person joins their open request when it asks for
the same trade (same ROME code, or the same words when there is no code), or when neither
was understood, within the window of rules/followup.toml [duplicates]. What the new mail
adds completes the open request; nothing it says overwrites what was known.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from mailflow.core.textnorm import words

# Completed only when the open request does not know them; the place as one whole.
PLACE = ("department", "region", "commune", "insee", "postcode")
SINGLE = ("kind", "age", "situation", "first_name", "diploma", "writer_role")


@dataclass(frozen=True)
class Asked:
    """What a request (open, or the new mail) asks for, as duplicates compare it."""

    code_rome: str | None
    trade_text: str | None
    understood: bool


@dataclass(frozen=True)
class OpenRequest:
    id: int
    asked: Asked
    created_at: datetime


def same_ask(a: Asked, b: Asked) -> bool:
    if not a.understood and not b.understood:
        return True
    if not (a.understood and b.understood):
        return False
    if a.code_rome or b.code_rome:
        return a.code_rome == b.code_rome
    return bool(words(a.trade_text or "")) and words(a.trade_text or "") == words(
        b.trade_text or ""
    )


def joins(
    new: Asked, open_requests: Iterable[OpenRequest], now: datetime, window_days: int
) -> int | None:
    """The id of the open request the new mail joins (the latest that fits), or None."""
    if window_days <= 0:
        return None
    since = now - timedelta(days=window_days)
    fits = [r for r in open_requests if r.created_at >= since and same_ask(r.asked, new)]
    return max(fits, key=lambda r: (r.created_at, r.id)).id if fits else None


def completion(known: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """The fields to set on the open request: those it lacks and the new mail gives."""
    found = {k: new[k] for k in SINGLE if known.get(k) is None and new.get(k) is not None}
    if known.get("department") is None and new.get("department") is not None:
        found |= {k: new.get(k) for k in PLACE}
    return found
