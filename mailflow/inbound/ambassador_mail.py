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

from peewee import fn

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
    CommandRules,
)
from mailflow.core.outcomes import Outcome
from mailflow.core.readable import readable_text, subject_of
from mailflow.core.textnorm import fold, words
from mailflow.followup import run as followup
from mailflow.inbound.confirm import AMBASSADOR, ask_confirmation, needs_confirmation
from mailflow.inbound.sender_check import UNAUTHENTICATED, passes, sender_proof
from mailflow.services.handover import LEFT
from mailflow.services.notices import reply
from mailflow.services.views import ambassador_view, request_view
from mailflow.store.models import Ambassador, Conversation, InboundMessage
from mailflow.store.record import log_event

REFUSED = Outcome.COMMAND_REFUSED
KIND_LABELS = {"metier": "métier", "formation": "formation", "vae": "VAE"}
STOP_CAUSE = "ambassador left the network (STOP)"


@dataclass(frozen=True)
class Command:
    name: str
    argument: str  # the folded rest of the line: ABSENT's date


# -- reading a command ---------------------------------------------------------------------


def _bare(line: str, rules: CommandRules) -> str:
    """The folded line without reply prefixes and a leading greeting."""
    text = fold(line).strip()
    while match := rules.prefix.match(text):
        text = text[match.end() :].strip()
    greeting = rules.greeting.match(text)
    return text[greeting.end() :].lstrip(" ,;:!.-\t") if greeting else text


def _only_politeness(text: str, rules: CommandRules) -> bool:
    rest = words(text)
    while rest:
        polite = next((p for p in rules.politeness if rest == p or rest.endswith(" " + p)), None)
        if polite is None:
            return False
        rest = rest[: -len(polite)].strip()
    return True


def first_line(body: str, rules: CommandRules) -> str:
    """The first line that says something: not empty, not quoted, not only a greeting."""
    for line in body.splitlines():
        text = line.strip()
        if not text or text.startswith(">"):
            continue
        rest = _bare(text, rules)
        named = text.endswith((",", "!")) and len(words(rest).split()) <= 3
        greeting_only = rules.greeting.match(fold(text)) and (
            not words(rest) or (named and not any(p.match(rest) for _, p in rules.loose))
        )
        if not greeting_only:
            return text
    return ""


def match_line(line: str, rules: CommandRules, *, strict: bool) -> Command | None:
    text = _bare(line, rules)
    for name, pattern in rules.strict if strict else rules.loose:
        match = pattern.match(text)
        if match is None:
            continue
        rest = text[match.end() :].strip(" ,;:!.-\t")
        if name == ABSENT:
            dated = rules.dates.date.search(rest) or not words(rest)
            return Command(name, rest) if dated or not strict else None
        if _only_politeness(rest, rules):
            return Command(name, "")
    return None


def read_command(
    subject: str, body: str, rules: CommandRules, *, strict: bool, forwarded: bool = False
) -> Command | None:
    """The subject's command, else the first body line's; None for anything else. A
    forwarded mail (`forwarded`, or said so by its subject or body) is never STOP."""
    line = first_line(body, rules)
    found = match_line(subject, rules, strict=strict)
    if found and found.name == ABSENT and not words(found.argument):
        return Command(ABSENT, fold(line))  # "Subject: ABSENT", date in the body
    found = found or match_line(line, rules, strict=strict)
    if found and found.name == STOP and (forwarded or is_forwarded(subject, body, rules)):
        return None
    return found


def is_forwarded(subject: str, body: str, rules: CommandRules) -> bool:
    """A forward prefix anywhere in the subject's chain ("Re: TR: STOP"), or a line of the
    body announcing a forwarded message ("---------- Forwarded message ---------")."""
    text = fold(subject).strip()
    while match := rules.prefix.match(text):
        if rules.forward.match(text):
            return True
        text = text[match.end() :].strip()
    return any(
        any(marker in words(line) for marker in rules.forward_markers)
        for line in body.splitlines()
        if line.strip()
    )


def command_of(msg: EmailMessage, rules: CommandRules, *, strict: bool) -> Command | None:
    """`read_command` on a whole mail: one that carries another whole mail attached
    (message/rfc822: "forward as attachment") counts as forwarded."""
    attached = any(part.get_content_type() == "message/rfc822" for part in msg.walk())
    return read_command(
        subject_of(msg), readable_text(msg), rules, strict=strict, forwarded=attached
    )


# -- the pipeline's entry points -------------------------------------------------------------


def find_ambassador(address: str) -> Ambassador | None:
    return Ambassador.get_or_none(fn.LOWER(Ambassador.email) == address.lower())


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
    A command from unproven mail waits for a confirmation first (confirm.py), unless
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
    done = followup.hand_over_all(asked.ctx, a, LEFT, STOP_CAUSE, asked.inbound)
    cause = f"left the network by mail (STOP); {followup.describe_handover(done)}"
    return _answer(
        asked,
        "ambassador_stop",
        Outcome.AMBASSADOR_STOP,
        cause,
        handed_over=done[followup.HANDED_OVER],
        escalated=done[followup.ESCALATED],
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
