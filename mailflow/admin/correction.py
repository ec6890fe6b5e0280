"""The coordinator corrects what was understood of a request: `mailflow request set`, or
`request assign` with the same options (--trade, --kind, --place/--department, --age,
--situation, --writer). A trade given as words is read by the same trade index as the
person's mail (understand/trade_index.py), or given as a ROME code; a place by the same
place index.
What cannot be read is refused with a sentence, before anything changes.

The correction is an event of its own (`corrected`, with old and new values, in `log`),
and the request's columns take the new values, so statistics count the request as
corrected.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mailflow.clock import stamp
from mailflow.core.minors import likely_under_15
from mailflow.core.textnorm import words
from mailflow.core.values import KINDS, SITUATIONS, WRITER_ROLES
from mailflow.errors import MailflowError
from mailflow.store.models import Request
from mailflow.store.record import log_event
from mailflow.understand.person import find_situation
from mailflow.understand.referential import Referential
from mailflow.understand.rules import UnderstandingRules

_ROME_CODE = re.compile(r"[A-N]\d{4}")
_PLACE = ("department", "region", "commune", "insee", "postcode")


@dataclass(frozen=True)
class Given:
    """What the coordinator typed; None: not corrected."""

    trade: str | None = None
    kind: str | None = None
    place: str | None = None
    department: str | None = None
    age: int | None = None
    situation: str | None = None
    writer: str | None = None  # a role of WRITER_ROLES, or "jeune": the young person wrote

    def any(self) -> bool:
        return any(v is not None for v in vars(self).values())


def resolve(given: Given, ref: Referential, rules: UnderstandingRules) -> dict[str, object]:
    """The request's columns the correction sets; a MailflowError names what is unreadable."""
    columns: dict[str, object] = {}
    if given.trade is not None:
        columns.update(_trade(given.trade.strip(), ref))
    if given.kind is not None:
        kind = words(given.kind).replace(" ", "_")
        if kind not in KINDS:
            raise MailflowError(
                f"type inconnu : « {given.kind} » (métier, formation ou vae attendu)"
            )
        columns["kind"] = kind
    if given.place is not None and given.department is not None:
        raise MailflowError("donnez --place ou --department, pas les deux")
    if given.place is not None:
        place = ref.match_place(given.place)
        if place is None:
            raise MailflowError(f"lieu inconnu : « {given.place} » (une ville, un département)")
        columns.update({key: getattr(place, key) for key in _PLACE})
    if given.department is not None:
        place = ref.match_department_code(given.department.strip().upper())
        if place is None:
            raise MailflowError(f"département inconnu : « {given.department} » (ex. 14, 2A)")
        columns.update({key: getattr(place, key) for key in _PLACE})
    if given.age is not None:
        if not rules.age_min <= given.age <= rules.age_max:
            raise MailflowError(
                f"âge hors des limites : {given.age} (de {rules.age_min} à {rules.age_max} ans)"
            )
        columns["age"] = given.age
    if given.situation is not None:
        columns["situation"] = _situation(given.situation, rules)
    if given.writer is not None:
        columns["writer_role"] = _writer(given.writer)
    return columns


# Said for "the young person wrote themselves": the request's writer_role is then None.
_SELF = frozenset({"jeune", "lui meme", "elle meme", "soi", "self", "aucun", "personne"})


def _writer(text: str) -> str | None:
    code = words(text).replace(" ", "_")
    if code in WRITER_ROLES:
        return code
    if words(text) in _SELF or text.strip() == "-":
        return None
    raise MailflowError(
        f"rôle inconnu : « {text} » ({', '.join(WRITER_ROLES)} attendu, ou « jeune » "
        "quand le jeune a écrit lui-même)"
    )


def _trade(text: str, ref: Referential) -> dict[str, object]:
    code = text.upper()
    if _ROME_CODE.fullmatch(code):
        label = ref.rome_label(code)
        if label is None:
            raise MailflowError(f"code ROME inconnu : {code}")
        return {"trade_text": label, "code_rome": code, "rome_label": label}
    hit = ref.trades.match(text) if text else None
    if hit is None:
        raise MailflowError(
            f"métier inconnu : « {text} » ; essayez un autre mot (« boulanger », "
            "« développeur web ») ou un code ROME (D1102)"
        )
    return {"trade_text": text, "code_rome": hit.trade.code_rome, "rome_label": hit.trade.label}


def _situation(text: str, rules: UnderstandingRules) -> str:
    code = words(text).replace(" ", "_")
    if code in SITUATIONS:
        return code
    found = find_situation(text, rules)
    if found is None:
        raise MailflowError(f"situation inconnue : « {text} » ({', '.join(SITUATIONS)} attendu)")
    return str(found.value)


def apply(request: Request, columns: dict[str, object]) -> str | None:
    """Set the columns (inside the caller's transaction); returns the event's cause, None
    when nothing changes."""
    if columns.get("code_rome") and "kind" not in columns and request.kind is None:
        columns = {**columns, "kind": "metier"}  # as understand() reads a named trade
    changed = {k: v for k, v in columns.items() if getattr(request, k) != v}
    if not changed:
        return None
    shown = ", ".join(
        f"{key} {getattr(request, key) if getattr(request, key) is not None else '-'} -> "
        f"{value if value is not None else '-'}"
        for key, value in changed.items()
        if key not in ("region", "insee", "postcode", "rome_label")
    )
    for key, value in changed.items():
        setattr(request, key, value)
    earlier = [
        (r.age, r.created_at)
        for r in Request.select(Request.age, Request.created_at).where(
            (Request.person == request.person_id)
            & (Request.id != request.id)
            & Request.age.is_null(False)
        )
    ]
    request.minor = likely_under_15(request.age, request.situation, earlier, stamp())
    request.updated_at = stamp()
    request.save()
    cause = f"corrected by the coordinator: {shown}"
    log_event("corrected", cause, request=request)
    return cause
