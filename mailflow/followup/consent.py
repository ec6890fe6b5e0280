"""A child's request waiting for an adult's consent is not left waiting for ever: the adult
(or, while no adult's address is known, the child) is reminded after each of `[minors]
remind_after_days`, then after `expire_after_days` the request expires with a kind word to
both (rules/minors.toml, core/consent.due_step; the mails are services/consent.py's)."""

from __future__ import annotations

from datetime import datetime

from mailflow.context import Context
from mailflow.core import consent as cs
from mailflow.core import lifecycle as lc
from mailflow.services import consent as consent_service
from mailflow.store.models import Consent, Request


def pending_guardian_consents():  # noqa: ANN201 - a peewee query
    """Consents waiting for an adult (a coordinator's review waits for the coordinator)."""
    held = Request.select(Request.id).where(Request.state == lc.AWAITING_CONSENT)
    return Consent.select(Consent.id, Consent.request_id).where(
        (Consent.state == cs.PENDING)
        & (Consent.policy == cs.GUARDIAN)
        & Consent.request_id.in_(held)
    )


def consent_step(ctx: Context, consent_id: int, now: datetime) -> str | None:
    """The reminder or the expiry due at `now` for one consent (in the caller's transaction,
    its request locked), or nothing."""
    consent = Consent.get_by_id(consent_id)
    request = Request.get_by_id(consent.request_id)
    since = consent.asked_at or consent.created_at
    step = cs.due_step(since, consent.reminders_sent, now, ctx.rules.minors)
    if step == cs.Step.EXPIRE:
        return consent_service.expire(ctx, consent, request)
    if step == cs.Step.REMIND:
        return consent_service.remind(ctx, consent, request)
    return None
