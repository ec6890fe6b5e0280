"""The charter asked of each ambassador, their acceptance recorded, and who routing may pick.

An ambassador of the directory who has not been asked the version in force (rules/charter.toml)
gets a welcome mail with the charter (templates/mails/charter_welcome.txt, which includes
charter.txt), sent from `relay+TOKEN@...` with a new unguessable token
(addresses.new_token), as the confirmations of services/confirm.py: only the ambassador
receives it, so only they can answer it, and the reply lands in inbound/charter_reply.py. The
follow-up job asks and reminds (followup/charter.py). Routing (services/intake.py) keeps to
the ambassadors `vetted` says, the SQL twin of core/charter.refusal.
"""

from __future__ import annotations

from datetime import date, datetime

from mailflow.context import Context
from mailflow.core.addresses import new_token
from mailflow.core.charter import CharterRules, Requirement, Signed, Standing, requirement
from mailflow.services.notices import send_auto
from mailflow.store.models import Ambassador, CharterSignature, InboundMessage
from mailflow.store.record import log_event

EVENT = "charter"
MAIL, PAPER = "mail", "paper"
WELCOME, REMINDER = "charter_welcome", "charter_reminder"


def need_for(ctx: Context, minor: bool) -> Requirement | None:
    """What the policy asks of the ambassador of a request (from a child under 15 or not)."""
    rules = ctx.rules.charter
    return requirement(rules, minor) if rules is not None else None


def vetted(need: Requirement | None, today: date):  # noqa: ANN201 - a peewee expression
    """The ambassadors who meet `need` on `today` (None: no condition), as core/charter.refusal
    decides for one: the version in force accepted; for a child, a version covering minors
    accepted and an honorability check valid that day."""
    if need is None:
        return None
    accepted = CharterSignature.accepted_at.is_null(False)
    where = None
    if need.version is not None:
        signed = CharterSignature.select(CharterSignature.ambassador_id).where(
            accepted & (CharterSignature.version == need.version)
        )
        where = Ambassador.id.in_(signed)
    if need.minors:
        covering = CharterSignature.select(CharterSignature.ambassador_id).where(
            accepted & (CharterSignature.covers_minors == True)  # noqa: E712 - peewee
        )
        checked = (
            Ambassador.id.in_(covering)
            & (Ambassador.honorability_on <= today)
            & (Ambassador.honorability_until >= today)
        )
        where = checked if where is None else where & checked
    return where


def standing_of(ambassador: Ambassador) -> Standing:
    """What the directory holds of one ambassador, for core/charter.refusal."""
    rows = CharterSignature.select().where(
        (CharterSignature.ambassador_id == ambassador.id)
        & CharterSignature.accepted_at.is_null(False)
    )
    return Standing(
        signed=tuple(
            Signed(r.version, r.covers_minors) for r in rows.order_by(CharterSignature.id)
        ),
        checked_on=ambassador.honorability_on,
        valid_until=ambassador.honorability_until,
    )


def signature_of(ambassador_id: int, version: str) -> CharterSignature | None:
    return CharterSignature.get_or_none(
        (CharterSignature.ambassador_id == ambassador_id) & (CharterSignature.version == version)
    )


def find_invitation(token: str) -> CharterSignature | None:
    """The charter asked through this relay token (the welcome mail's sender)."""
    return CharterSignature.get_or_none(CharterSignature.token == token)


def signed_before(ambassador_id: int, version: str) -> bool:
    return (
        CharterSignature.select()
        .where(
            (CharterSignature.ambassador_id == ambassador_id)
            & (CharterSignature.version != version)
            & CharterSignature.accepted_at.is_null(False)
        )
        .exists()
    )


def _data(ctx: Context, ambassador: Ambassador, row: CharterSignature) -> dict:
    rules = ctx.rules.charter
    return {
        "first_name": ambassador.first_name,
        "version": row.version,
        "covers_minors": row.covers_minors,
        "renewal": signed_before(ambassador.id, row.version),
        "reminders_sent": row.reminders_sent,
        "required": rules.required if rules is not None else True,
    }


def ask(
    ctx: Context, rules: CharterRules, ambassador: Ambassador, now: datetime
) -> CharterSignature:
    """Ask `ambassador` to accept the version in force: the row, then the welcome mail (in
    the caller's transaction)."""
    row = CharterSignature.create(
        ambassador_id=ambassador.id,
        version=rules.version,
        covers_minors=rules.covers_minors,
        token=new_token(),
        asked_at=now,
        created_at=now,
    )
    send_auto(
        ctx, WELCOME, key=f"{WELCOME}:{row.id}", to=ambassador.email, role="ambassador",
        data=_data(ctx, ambassador, row), from_token=row.token, at=now,
    )  # fmt: skip
    log_event(
        EVENT,
        f"ambassador #{ambassador.id}: charter version {row.version} sent (welcome mail); "
        "no new request before they accept it"
        + ("" if rules.required else " (only requests from children under 15 wait for it)"),
    )
    return row


def remind(ctx: Context, ambassador: Ambassador, row: CharterSignature, now: datetime) -> None:
    """One more mail with the charter, from the same relay address."""
    row.reminders_sent += 1
    row.reminded_at = now
    row.save()
    send_auto(
        ctx, REMINDER, key=f"{REMINDER}:{row.id}:{row.reminders_sent}", to=ambassador.email,
        role="ambassador", data=_data(ctx, ambassador, row), from_token=row.token, at=now,
    )  # fmt: skip
    log_event(
        EVENT,
        f"ambassador #{ambassador.id}: charter version {row.version} not accepted yet; "
        f"reminder {row.reminders_sent} sent",
    )


def accept_by_mail(
    row: CharterSignature, inbound: InboundMessage, message_id: str | None, now: datetime
) -> None:
    """The reply that accepts, kept as the proof: which message, its Message-ID, when."""
    row.accepted_at, row.how = now, MAIL
    row.inbound_id, row.proof_message_id = inbound.id, message_id
    row.save()
    log_event(
        EVENT,
        f"ambassador #{row.ambassador_id}: charter version {row.version} accepted by reply "
        f"(message {message_id or 'without Message-ID'}); requests may go to them",
        inbound=inbound,
    )


def accept_on_paper(
    ambassador: Ambassador, rules: CharterRules, on: datetime, recorded_by: str
) -> bool:
    """The coordinator holds the signed membership form: the version in force is recorded as
    signed on paper on that day. False when it was already accepted (nothing changed)."""
    row = signature_of(ambassador.id, rules.version)
    if row is not None and row.accepted_at is not None:
        return False
    if row is None:
        row = CharterSignature(ambassador_id=ambassador.id, version=rules.version, created_at=on)
    row.covers_minors = rules.covers_minors
    row.accepted_at, row.how, row.recorded_by = on, PAPER, recorded_by
    row.save()
    log_event(
        EVENT,
        f"ambassador #{ambassador.id}: charter version {rules.version} signed on paper on "
        f"{on:%Y-%m-%d} (recorded from {recorded_by})",
    )
    return True
