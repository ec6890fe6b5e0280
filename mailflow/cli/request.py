"""`mailflow request assign/set/close`: a coordinator's hand on one request, whose mails are
then sent at once unless a running daemon holds the outbox.
"""

from __future__ import annotations

import argparse

from mailflow.cli.setup import open_db
from mailflow.config import Config


def cmd_request(cfg: Config, args: argparse.Namespace) -> int:
    from mailflow.admin import request as request_admin
    from mailflow.admin.correction import Given
    from mailflow.context import load_context
    from mailflow.transport.send import flush_outbox

    open_db(cfg)
    ctx = load_context(cfg)
    if args.action in ("assign", "set"):
        given = Given(args.trade, args.kind, args.place, args.department, args.age, args.situation)
    if args.action == "assign":
        print(request_admin.assign(ctx, args.id, args.email, args.force, given))
    elif args.action == "set":
        print(request_admin.set_fields(ctx, args.id, given))
        return 0  # no mail: nothing to send
    else:
        print(request_admin.close(ctx, args.id, args.reason, args.withdrawn, args.notify))
    flushed = flush_outbox(cfg.smtp)  # a running daemon sends them instead when it holds it
    if flushed.busy:
        print("mails queued: the running daemon sends them")
    elif flushed.sent or flushed.deferred or flushed.failed:
        print(f"mails: {flushed.sent} sent, {flushed.deferred} deferred, {flushed.failed} failed")
    return 0
