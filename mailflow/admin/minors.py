"""`mailflow minors approve/refuse REQUEST`: a coordinator's decision on a child's request
held for review (`[minors] consent = "review"`, rules/minors.toml), or on one still waiting
for an adult (a coordinator may decide there too, e.g. after a phone call with the parent).

Approved, the request is routed at once (services/intake.route_request) and the child gets
the usual acknowledgement; refused, it ends and the child is told kindly. Recorded in the
consent row (decided by the coordinator, no message as proof) and logged.
"""

from __future__ import annotations

from mailflow.context import Context
from mailflow.core import consent as cs
from mailflow.core import lifecycle as lc
from mailflow.errors import MailflowError
from mailflow.services import consent as consent_service
from mailflow.services.intake import route_request
from mailflow.store.leases import lock_scope, write_transaction
from mailflow.store.models import Consent, InboundMessage, Request, storable_id


def _held(request_id: int) -> tuple[Request, Consent]:
    request = Request.get_or_none(Request.id == request_id) if storable_id(request_id) else None
    if request is None:
        raise MailflowError(f"no request #{request_id}")
    consent = consent_service.current_consent(request.id)
    if request.state != lc.AWAITING_CONSENT or consent is None or consent.state != cs.PENDING:
        raise MailflowError(
            f"request #{request.id} is not waiting for a consent (state: {request.state}); "
            "see mailflow minors"
        )
    return request, consent


def approve(ctx: Context, request_id: int) -> str:
    with write_transaction():
        lock_scope([request_id])
        request, consent = _held(request_id)
        consent_service.give(ctx, consent, request, None, by="coordinator")
        first = (
            InboundMessage.select(InboundMessage.message_id)
            .where(InboundMessage.request == request)
            .order_by(InboundMessage.id)
            .first()
        )
        outcome = route_request(
            ctx, None, request, request.person.email, first.message_id if first else None
        )
    return f"demande n°{request.id} : accord enregistré ; {outcome} ({request.state})"


def refuse(ctx: Context, request_id: int) -> str:
    with write_transaction():
        lock_scope([request_id])
        request, consent = _held(request_id)
        consent_service.refuse(ctx, consent, request, None, by="coordinator")
    return f"demande n°{request.id} : refusée ; l'enfant en est prévenu ({request.state})"
