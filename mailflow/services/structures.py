"""Partner structures at work: which one relayed a new request (stored on it), and the
adviser told once when the young person got their first answer (docs/structures.md).

The decisions are core/structures.py's; here the list in use is read (the imported table
when it holds rows, else rules/structures.toml's), and the notice queued in the caller's
transaction.
"""

from __future__ import annotations

from email.message import EmailMessage

from mailflow.context import Context
from mailflow.core.addresses import header_addresses
from mailflow.core.structures import (
    FROM,
    THROUGH,
    Structure,
    adviser_to_tell,
    attribute,
    notifies,
    structure,
)
from mailflow.services.notices import send_auto
from mailflow.services.views import request_view
from mailflow.store.models import InboundMessage, PartnerStructure, Request
from mailflow.store.record import log_event

NOTICE = "structure_answered"  # the template, and the outbox purpose


def imported() -> tuple[Structure, ...]:
    """The list `mailflow structures import` wrote (checked then), in key order."""
    return tuple(
        structure(
            p.key,
            p.name,
            p.kind,
            p.domains.split(),
            p.addresses.split(),
            [a for a in p.aliases.split("\n") if a.strip()],
            p.notify,
        )
        for p in PartnerStructure.select().order_by(PartnerStructure.key)
    )


def in_use(ctx: Context) -> tuple[Structure, ...]:
    """The imported list when there is one, else the rules file's."""
    return imported() or ctx.rules.structures.structures


def copied_addresses(ctx: Context, msg: EmailMessage, sender: str) -> list[str]:
    """To and Cc, without the programme's own addresses and the sender's."""
    relay = ctx.cfg.relay
    local, domain = relay.local_part.lower(), relay.domain.lower()
    ours = {relay.address.lower(), ctx.cfg.coordinator.email.lower(), sender.lower()}
    found: list[str] = []
    for name in ("To", "Cc"):
        for _, address in header_addresses(msg, name):
            address = address.lower()
            box, _, host = address.rpartition("@")
            relayed = host == domain and (box == local or box.startswith(f"{local}+"))
            if address not in ours and not relayed and host != f"{local}.{domain}":
                found.append(address)
    return list(dict.fromkeys(found))


def attribute_request(
    ctx: Context, request: Request, msg: EmailMessage, text: str, sender: str
) -> None:
    """Store which structure relayed this new request (or the open request a new mail
    joins, when none had); the adviser's address only when the policy will tell them of
    the first answer, still to come. Logged."""
    rules, listed = ctx.rules.structures, in_use(ctx)
    found = attribute(sender, copied_addresses(ctx, msg, sender), text, rules, listed)
    if found is None:
        return
    told = request.first_answer_at is not None  # a request joined after its first answer
    keep = found.via in (FROM, THROUGH) and notifies(found.key, rules, listed) and not told
    request.structure = found.key
    request.structure_kind = found.kind
    request.structure_via = found.via
    request.structure_adviser = found.adviser if keep else None
    request.save()
    named = found.key or f"a {found.kind} not named"
    log_event(
        "structure",
        f"relayed by partner structure {named} ({found.via})"
        + ("; its adviser will be told of the first answer" if keep else ""),
        request=request,
    )


def tell_adviser(ctx: Context, request: Request, inbound: InboundMessage | None) -> None:
    """The request was answered for the first time: its structure's adviser, when the
    policy says so, gets a short mail (first name and trade; no ambassador, no message).
    Once per request: the outbox key, and the address is cleared once used."""
    if not request.structure_adviser:
        return
    rules, listed = ctx.rules.structures, in_use(ctx)
    to = adviser_to_tell(
        request.structure, request.structure_adviser, request.person.email, rules, listed
    )
    request.structure_adviser = None  # needed no more: kept no longer than the first answer
    request.save()
    if to is None:
        return
    name = next((s.name for s in listed if s.key == request.structure), None)
    view = request_view(request, ctx.ref)
    send_auto(
        ctx,
        NOTICE,
        key=f"{NOTICE}:{request.id}",
        to=to,
        role="adviser",
        data={
            "request": {"first_name": view["first_name"], "trade_label": view["trade_label"]},
            "structure_name": name,
            "coordinator": ctx.cfg.coordinator.email,
        },
        request=request,
        inbound=inbound,
    )
    log_event(
        "structure",
        f"the adviser of partner structure {request.structure} told of the first answer",
        request=request,
        inbound=inbound,
    )
