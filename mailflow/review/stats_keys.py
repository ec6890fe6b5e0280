"""The keys every figure of `mailflow stats` is filed under, and how a stored value finds its key.

Shared by the SQL (stats_sql.py), which files ages and situations as it reads them, and by
the shaping of the sections (stats.py), which lists the fixed keys in their order; the
definitions of the figures are in stats.py's docstring.
"""

from __future__ import annotations

from functools import cache

from mailflow.core.textnorm import fold
from mailflow.core.values import AGE_BANDS, KINDS, WRITER_ROLES, age_band
from mailflow.errors import MailflowError

UNKNOWN = "unknown"
UNDER = f"under_{AGE_BANDS[0][0]}"
_BAND_KEY = {label: (f"{lo}+" if hi is None else f"{lo}-{hi - 1}") for lo, hi, label in AGE_BANDS}
AGE_KEYS = (UNDER, *_BAND_KEY.values(), UNKNOWN)  # youngest first
NAMED_SITUATIONS = ("collegien", "lyceen", "apprenti", "etudiant", "demandeur_emploi", "salarie")
SITUATION_KEYS = (*NAMED_SITUATIONS, "other", UNKNOWN)
KIND_KEYS = (*KINDS, UNKNOWN)
SCORE_KEYS = ("1", "2", "3", "4", "5", UNKNOWN)
MET_KEYS = ("yes", "no", UNKNOWN)
# How each request was met, by its latest offer (route.quality): exactly, stretched, or not
# offered at all though routed (unmet), or never routed (not understood yet, withdrawn...);
# "unknown": offered before the match was recorded.
MATCH_KEYS = ("exact", "stretched", "unmet", "not_offered", UNKNOWN)
STRETCH_KEYS = ("trade", "kind", "department", "region")  # route.STRETCHES
ALL = "all"
# Who wrote each request (request.writer_role), the programme's Tableau 1 "Adultes —
# Qualité": the adults' roles, then "self" (the person wrote for themselves) and "unknown"
# (no role, and nothing read of the person either: no age, no situation).
SELF = "self"
ADULT_KEYS = (*WRITER_ROLES, SELF, UNKNOWN)


class StatsError(MailflowError):
    """A breakdown does not add up to its total: a bug, reported instead of wrong figures."""


@cache
def age_key(age: int | None) -> str:
    label = age_band(age)
    return UNKNOWN if label is None else _BAND_KEY.get(label, UNDER)


@cache
def situation_key(value: str | None) -> str:
    text = fold(value or "").strip()
    if not text:
        return UNKNOWN
    return text if text in NAMED_SITUATIONS else "other"


def adult_key(role: str | None, known: bool) -> str:
    """The "adults" key of a request: its writer's role (another stored value: "autre"),
    else "self" when something of the person is `known` (an age, a situation), else
    "unknown"."""
    text = (role or "").strip()
    if text:
        return text if text in WRITER_ROLES else "autre"
    return SELF if known else UNKNOWN
