"""`mailflow request assign/set/close/merge/relay-late`: a coordinator's hand on one
request, whose mails are then sent at once unless a running daemon holds the outbox.
"""

from __future__ import annotations

import argparse
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mailflow.context import Context

DUPLICATE_WORDS = re.compile(r"doublon|duplicate|en double", re.IGNORECASE)


def cmd_assign(ctx: Context, args: argparse.Namespace) -> int:
    from mailflow.admin import request as request_admin
    from mailflow.admin.correction import Given

    given = Given(
        args.trade, args.kind, args.place, args.department, args.age, args.situation, args.writer
    )
    print(request_admin.assign(ctx, args.id, args.email, args.force, given))
    return _flush(ctx)


def cmd_set(ctx: Context, args: argparse.Namespace) -> int:
    from mailflow.admin import request as request_admin
    from mailflow.admin.correction import Given

    given = Given(
        args.trade, args.kind, args.place, args.department, args.age, args.situation, args.writer
    )
    print(request_admin.set_fields(ctx, args.id, given))
    return 0  # no mail: nothing to send


def cmd_close(ctx: Context, args: argparse.Namespace) -> int:
    from mailflow.admin import request as request_admin

    print(request_admin.close(ctx, args.id, args.reason, args.withdrawn, args.notify))
    if args.reason and DUPLICATE_WORDS.search(args.reason):
        print(
            "remarque : une demande fermée compte toujours comme une demande dans les "
            "statistiques ; pour un doublon, rattachez-le à la demande qu'il répète : "
            f"mailflow request merge <demande gardée> {args.id}"
        )
    return _flush(ctx)


def cmd_merge(ctx: Context, args: argparse.Namespace) -> int:
    from mailflow.admin import request as request_admin

    print(request_admin.merge(ctx, args.id, args.duplicate))
    return _flush(ctx)


def cmd_relay_late(ctx: Context, args: argparse.Namespace) -> int:
    from mailflow.inbound.relay import relay_late

    print(relay_late(ctx, args.message))
    return _flush(ctx)


def _flush(ctx: Context) -> int:
    from mailflow.transport.send import flush_outbox

    flushed = flush_outbox(ctx.cfg.smtp)  # a running daemon sends them instead when it holds it
    if flushed.busy:
        print("mails queued: the running daemon sends them")
    elif flushed.sent or flushed.deferred or flushed.failed:
        print(f"mails: {flushed.sent} sent, {flushed.deferred} deferred, {flushed.failed} failed")
    return 0
