"""*À traiter*: what needs a person now, read from what the daemon already records.

Alerts raised lately (services/alerts.py), quarantined mail (admin/quarantine.py), requests
waiting too long for details or for an ambassador, stretched offers whose ambassador has
not answered yet, open requests from people likely under 15, escalated requests still open,
and ambassadors whose address bounces. Each item names its request, for the link.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mailflow.admin.quarantine import list_quarantine
from mailflow.clock import stamp
from mailflow.core import lifecycle as lc
from mailflow.core.console_rules import ConsoleRules
from mailflow.review.log_parties import ambassador_name
from mailflow.store.models import Alert, Ambassador, Conversation, Request

ALERT_WORDS = {
    "under-15": "demande d'une personne qui a sans doute moins de 15 ans",
    "intro-refused": "le serveur a refusé la mise en relation",
    "help-unclear": "réponse à l'aide toujours pas comprise",
    "escalated": "plus personne à qui proposer la demande",
}


@dataclass(frozen=True)
class Item:
    what: str  # French
    at: datetime | None
    request: int | None = None
    quarantined: int | None = None  # an inbound message's id, for retry / drop
    ambassador: int | None = None  # a bouncing ambassador's id, for "the address works"
    detail: str = ""


def _requests(query: Any, what: str, at: str = "updated_at") -> list[Item]:
    return [Item(what, getattr(r, at), r.id) for r in query.order_by(Request.id)]


def collect(rules: ConsoleRules) -> dict[str, list[Item]]:
    """The sections of the page, each a list (empty: nothing to do there)."""
    now = stamp()
    open_states = sorted(lc.OPEN_STATES)
    alerts = Alert.select().where(Alert.created_at > now - rules.alert_age)
    stalled = Request.select().where(
        Request.state.in_([lc.NEEDS_INFO, lc.UNMATCHED])
        & (Request.updated_at < now - rules.stalled)
        & Request.merged_into.is_null()
    )
    stretched = (
        Conversation.select(Conversation, Ambassador)
        .join(Ambassador)
        .where(
            (Conversation.state == "open")
            & Conversation.match_quality.startswith("stretched")
            & Conversation.ambassador_answered_at.is_null()
        )
    )
    minors = Request.select().where(Request.minor & Request.state.in_(open_states))
    escalated = Request.select().where(
        Request.escalated_at.is_null(False) & Request.state.in_(open_states)
    )
    bounced = Ambassador.select().where((Ambassador.bounce_state == "failing") & Ambassador.active)
    return {
        "alerts": [
            Item(ALERT_WORDS.get(a.kind, a.kind), a.created_at, a.request_id, detail=a.detail)
            for a in alerts.order_by(Alert.created_at.desc())
        ],
        "quarantine": [
            Item(e.reason or "sans raison notée", e.received_at, quarantined=e.id, detail=e.subject)
            for e in list_quarantine()
        ],
        "stalled": [
            Item(
                "attend des précisions" if r.state == lc.NEEDS_INFO else "sans ambassadeur",
                r.updated_at,
                r.id,
            )
            for r in stalled.order_by(Request.updated_at)
        ],
        "stretched": [
            Item(
                f"proposée à {ambassador_name(c.ambassador)}, qui n'a pas encore répondu",
                c.created_at,
                c.request_id,
                detail=(c.match_quality or "").removeprefix("stretched:"),
            )
            for c in stretched.order_by(Conversation.created_at)
        ],
        "minors": _requests(minors, "personne sans doute de moins de 15 ans", "created_at"),
        "escalated": _requests(escalated, "signalée à la coordination", "escalated_at"),
        "bounced": [
            Item(
                f"{ambassador_name(a)} : son adresse ne reçoit plus le courrier",
                a.bounced_at,
                ambassador=a.id,
            )
            for a in bounced.order_by(Ambassador.id)
        ],
    }


SECTIONS = (
    ("alerts", "Alertes récentes"),
    ("quarantine", "Courrier en quarantaine"),
    ("stalled", "Demandes qui attendent depuis trop longtemps"),
    ("stretched", "Rapprochements approximatifs sans réponse"),
    ("minors", "Moins de 15 ans"),
    ("escalated", "Demandes signalées"),
    ("bounced", "Ambassadeurs injoignables"),
)
