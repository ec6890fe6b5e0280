"""Ambassadors manage their participation by mail: PAUSE, ABSENT, REPRISE, PROFIL, STOP.

They write to the shared address from their registered address. Decisions:

- A command is the WHOLE subject, or else the WHOLE first line of the body, once reply
  prefixes ("Re:", "TR:"), a leading greeting ("Bonjour," — a body line that is only a
  greeting, even with a name, is skipped) and a trailing politeness ("merci") are set aside.
  Words and synonyms live in rules/commands.toml; a sentence that merely contains "pause" is
  no command. ABSENT takes the rest of its line as the date (or, for a bare "ABSENT"
  subject, the first line of the body).
- Every registered address counts, active or not. Someone who left by STOP (`left_at` set)
  may come back with REPRISE. Someone the coordinator deactivated in the directory
  (`active` false, no `left_at`) may not: the coordinator decided, so they are told to write
  to the coordinator. A former ambassador's other commands get the help, which says so.
- Someone outside the directory writing a command word (not a synonym: those are ordinary
  French) is politely refused; any other mail of theirs is a request.
- An out-of-office from an active ambassador that announces a return date sets
  `absent_until` when it is later than the absence already set; it is never answered.

Every command is answered (notices.reply, once per inbound message) and logged as an Event.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from mailflow.clock import local_now, stamp
from mailflow.context import Context
from mailflow.core.absence import (
    ONE_DAY,
    DateRules,
    autoreply_return,
    available_from,
    command_return,
    french_date,
    last_day_away,
)
from mailflow.core.addresses import message_id_of, sender
from mailflow.core.commands import (
    ABSENT,
    PAUSE,
    PROFILE,
    RESUME,
    STOP,
    Command,
    CommandRules,
    command_of,
)
from mailflow.core.outcomes import Outcome
from mailflow.core.readable import readable_text, subject_of
from mailflow.services.confirm import AMBASSADOR, ask_confirmation, needs_confirmation
from mailflow.services.handover import LEFT
from mailflow.services.notices import reply
from mailflow.services.reassign import ESCALATED, HANDED_OVER, describe_handover, hand_over_all
from mailflow.services.sender_proof import UNAUTHENTICATED, passes, sender_proof
from mailflow.services.views import ambassador_view, request_view
from mailflow.store.directory import find_ambassador
from mailflow.store.models import Ambassador, Conversation, InboundMessage
from mailflow.store.record import log_event

REFUSED = Outcome.COMMAND_REFUSED
KIND_LABELS = {"metier": "métier", "formation": "formation", "vae": "VAE"}
STOP_CAUSE = "ambassador left the network (STOP)"


# -- the pipeline's entry points -------------------------------------------------------------


def refuse_stray_command(
    ctx: Context, inbound: InboundMessage, msg: EmailMessage, address: str
) -> str | None:
    """A command word from outside the directory is refused; None lets the request through."""
    rules = ctx.rules.commands
    command = command_of(msg, rules, strict=True)
    if command is None:
        return None
    word = rules.display[command.name]
    log_event("refused", f"command {word} from an address that is no ambassador", inbound=inbound)
    reply(ctx, inbound, "command_refused", address, _msgid(msg), {"command": word})
    return REFUSED


def note_autoreply_absence(ctx: Context, inbound: InboundMessage, msg: EmailMessage) -> None:
    """An ambassador's out-of-office with a return date keeps new requests away till then."""
    who = sender(msg)
    ambassador = find_ambassador(who[1]) if who else None
    if ambassador is None or not ambassador.active:
        return
    inbound.role = "ambassador"
    dates, zone = ctx.rules.commands.dates, ctx.cfg.schedule.zone
    today = local_now(zone)
    back = autoreply_return(f"{subject_of(msg)}\n{readable_text(msg)}", dates, today)
    if back is None or back <= today.date():
        return
    until = available_from(back, zone)
    if ambassador.absent_until is not None and ambassador.absent_until >= until:
        return
    proof = sender_proof(ctx.cfg, msg)
    if proof is not None and not passes(proof):  # a forged out-of-office: ignored
        log_event(
            UNAUTHENTICATED,
            f"ambassador #{ambassador.id}: absence until {back.isoformat()} not set from an "
            f"automatic reply whose sender is not authenticated ({proof.reason})",
            inbound=inbound,
        )
        return
    _save(ambassador, absent_until=until)
    log_event(
        "ambassador",
        f"ambassador #{ambassador.id}: absence set from an automatic reply until "
        f"{back.isoformat()} 00:00 (available again that day)",
        inbound=inbound,
    )


@dataclass(frozen=True)
class Asked:
    ctx: Context
    inbound: InboundMessage
    msg: EmailMessage
    ambassador: Ambassador
    command: Command | None
    rules: CommandRules


def handle_ambassador_mail(
    ctx: Context,
    inbound: InboundMessage,
    msg: EmailMessage,
    ambassador: Ambassador,
    *,
    confirmed: bool = False,
) -> str:
    """Mail from a registered ambassador to the shared address: a command, or the help.
    A command from unproven mail waits for a confirmation first (services/confirm.py), unless
    `confirmed` (it is that confirmation)."""
    inbound.role = "ambassador"
    rules = ctx.rules.commands
    command = command_of(msg, rules, strict=False)
    asked = Asked(ctx, inbound, msg, ambassador, command, rules)
    name = command.name if command else ""
    if not ambassador.active and name not in (RESUME, PROFILE):
        name = ""
    if name and not confirmed and needs_confirmation(ctx, inbound, msg, AMBASSADOR, name):
        word = rules.display[name]
        log_event("ambassador", f"ambassador #{ambassador.id}: {word} asked", inbound=inbound)
        return ask_confirmation(ctx, inbound, msg, AMBASSADOR, name, ambassador.email, word=word)
    return _ACTIONS.get(name, _help)(asked)


# -- the commands ----------------------------------------------------------------------------


def _pause(asked: Asked) -> str:
    already = asked.ambassador.paused
    _save(asked.ambassador, paused=True)
    cause = "already paused" if already else "paused by mail (PAUSE)"
    return _answer(asked, "ambassador_pause", Outcome.AMBASSADOR_PAUSE, cause, already=already)


def _absent(asked: Asked) -> str:
    argument = asked.command.argument if asked.command else ""
    zone = asked.ctx.cfg.schedule.zone
    back = command_return(argument, asked.rules.dates, local_now(zone))
    today = local_now(zone).date()
    if back is None or back <= today:
        problem = "unparsed" if back is None else "past"
        cause = f"ABSENT not applied ({problem} date): {argument!r}"
        data = {"problem": problem, "today": french_date(today, asked.rules.dates)}
        return _answer(asked, "ambassador_absent", Outcome.AMBASSADOR_ABSENT_INVALID, cause, **data)
    _save(asked.ambassador, absent_until=available_from(back, zone))
    last = back - ONE_DAY
    cause = f"absent by mail until {last.isoformat()} inclusive (ABSENT)"
    data = {
        "problem": None,
        "last_day": french_date(last, asked.rules.dates),
        "back_on": french_date(back, asked.rules.dates),
        "paused": asked.ambassador.paused,
    }
    return _answer(asked, "ambassador_absent", Outcome.AMBASSADOR_ABSENT, cause, **data)


def _resume(asked: Asked) -> str:
    a = asked.ambassador
    if not a.active and a.left_at is None:
        cause = "REPRISE not applied: deactivated in the directory by the coordinator"
        return _answer(
            asked, "ambassador_resume", Outcome.AMBASSADOR_RESUME, cause, state="blocked"
        )
    state = "rejoined" if not a.active else _status(a)
    _save(a, active=True, left_at=None, paused=False, absent_until=None)
    cause = f"available again by mail (REPRISE; was {state})"
    return _answer(asked, "ambassador_resume", Outcome.AMBASSADOR_RESUME, cause, state=state)


def _profile(asked: Asked) -> str:
    data = {"profile": profile_view(asked.ctx, asked.ambassador, asked.rules.dates)}
    return _answer(asked, "ambassador_profile", Outcome.AMBASSADOR_PROFILE, "profile sent", **data)


def _stop(asked: Asked) -> str:
    a = asked.ambassador
    _save(a, active=False, left_at=stamp())
    done = hand_over_all(asked.ctx, a, LEFT, STOP_CAUSE, asked.inbound)
    cause = f"left the network by mail (STOP); {describe_handover(done)}"
    return _answer(
        asked,
        "ambassador_stop",
        Outcome.AMBASSADOR_STOP,
        cause,
        handed_over=done[HANDED_OVER],
        escalated=done[ESCALATED],
    )


def _help(asked: Asked) -> str:
    a = asked.ambassador
    left = french_date(a.left_at.date(), asked.rules.dates) if a.left_at else None
    cause = "no command recognised: help sent" if a.active else "former ambassador: help sent"
    data = {"former": not a.active, "left_on": left, "can_rejoin": a.left_at is not None}
    return _answer(asked, "ambassador_help", Outcome.AMBASSADOR_HELP, cause, **data)


_ACTIONS = {PAUSE: _pause, ABSENT: _absent, RESUME: _resume, PROFILE: _profile, STOP: _stop}


# -- helpers ---------------------------------------------------------------------------------


def _answer(asked: Asked, template: str, outcome: str, cause: str, **data: Any) -> str:
    a = asked.ambassador
    log_event("ambassador", f"ambassador #{a.id}: {cause}", inbound=asked.inbound)
    data = {
        "ambassador": ambassador_view(a),
        "commands": asked.rules.display,
        "coordinator": asked.ctx.cfg.coordinator.email,
        "open_count": len(_open_conversations(a)),
        **data,
    }
    reply(asked.ctx, asked.inbound, template, a.email, _msgid(asked.msg), data, role="ambassador")
    return outcome


def _msgid(msg: EmailMessage) -> str | None:
    return message_id_of(msg)


def _save(ambassador: Ambassador, **changes: Any) -> None:
    for key, value in changes.items():
        setattr(ambassador, key, value)
    ambassador.updated_at = stamp()
    ambassador.save()


def _open_conversations(ambassador: Ambassador) -> list[Conversation]:
    query = Conversation.select().where(
        (Conversation.ambassador == ambassador) & (Conversation.state == "open")
    )
    return list(query.order_by(Conversation.id))


def _status(a: Ambassador) -> str:
    if not a.active:
        return "left" if a.left_at else "inactive"
    if a.paused:
        return "paused"
    return "absent" if a.absent_until and a.absent_until > stamp() else "active"


def profile_view(ctx: Context, a: Ambassador, dates: DateRules) -> dict[str, Any]:
    """The directory entry as the ambassador may see it, with what it means right now."""
    absent = a.absent_until and a.absent_until > stamp()
    last_day = last_day_away(a.absent_until, ctx.cfg.schedule.zone) if absent else None
    department = ctx.ref.department_name(a.department)
    return {
        "name": f"{a.first_name} {a.last_name}",
        "kind": KIND_LABELS.get(a.kind, a.kind),
        "title": a.title,
        "sector": a.sector or "non précisé",
        "department": f"{department} ({a.department})" if department else a.department,
        "city": a.city or "non précisée",
        "capacity": a.capacity,
        "status": _status(a),
        "absent_last_day": french_date(last_day, dates) if last_day else None,
        "open": [request_view(c.request, ctx.ref) for c in _open_conversations(a)],
    }
