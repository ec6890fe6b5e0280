"""The charter asked of every ambassador of the directory, and reminded (services/charter.py).

Run with the follow-ups (followup/run.py), from the database and `now` alone: an active
ambassador who was never asked the version in force (new in the directory by any path, an
existing deployment's ambassadors after the upgrade, or everyone once rules/charter.toml
names a new version) gets the welcome mail with the charter; one who has not answered gets
a reminder every `remind_after_days`, `reminders` times at most, then nothing more (the
directory's list shows them as not signed). Each ambassador in its own transaction, with
its mail (idempotency keys): a job cut short sends nothing twice.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from mailflow.context import Context
from mailflow.core.charter import CharterRules, reminder_due
from mailflow.services.charter import ask, remind, signature_of
from mailflow.store.models import Ambassador, CharterSignature

ASKED, REMINDED = "charter-asked", "charter-reminded"


def askable():  # noqa: ANN201 - a peewee expression
    """Ambassadors a mail can reach: in the network, their address not bouncing."""
    return (Ambassador.active == True) & (Ambassador.bounce_state != "failing")  # noqa: E712


def charter_steps(ctx: Context, now: datetime, step: Callable[..., None]) -> None:
    """Every welcome mail and reminder due at `now`; `step(action)` runs one in its
    transaction (followup/run.step)."""
    rules = ctx.rules.charter
    if rules is None or not rules.asked:
        return
    asked = CharterSignature.select(CharterSignature.ambassador_id).where(
        CharterSignature.version == rules.version
    )
    never = Ambassador.select(Ambassador.id).where(askable() & Ambassador.id.not_in(asked))
    for row in list(never.order_by(Ambassador.id)):
        step(lambda a=row.id: _ask(ctx, rules, a, now))
    waiting = CharterSignature.select(CharterSignature.id).where(
        (CharterSignature.version == rules.version)
        & CharterSignature.accepted_at.is_null()
        & CharterSignature.asked_at.is_null(False)
        & (CharterSignature.reminders_sent < rules.reminders)
    )
    for row in list(waiting.order_by(CharterSignature.id)):
        step(lambda r=row.id: _remind(ctx, rules, r, now))


def _ask(ctx: Context, rules: CharterRules, ambassador_id: int, now: datetime) -> str:
    ambassador = Ambassador.get_or_none(Ambassador.id == ambassador_id)
    if ambassador is None or signature_of(ambassador_id, rules.version) is not None:
        return ""  # erased, or asked meanwhile by another process
    ask(ctx, rules, ambassador, now)
    return ASKED


def _remind(ctx: Context, rules: CharterRules, row_id: int, now: datetime) -> str:
    row = CharterSignature.get_or_none(CharterSignature.id == row_id)
    if row is None or row.accepted_at is not None or row.asked_at is None:
        return ""
    ambassador = Ambassador.get_or_none((Ambassador.id == row.ambassador_id) & askable())
    days = (now - row.asked_at).total_seconds() / 86400
    if ambassador is None or not reminder_due(days, row.reminders_sent, rules):
        return ""
    remind(ctx, ambassador, row, now)
    return REMINDED
