"""Coordinators' care from the command line: `mailflow person`, `privacy`, `minors` and
`newsletter`; erasure and purge exit 1 when copies remain on the mail server.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from mailflow.config import Config

if TYPE_CHECKING:
    from mailflow.context import Context


def cmd_export(cfg: Config, args: argparse.Namespace) -> int:
    from mailflow.privacy import export as privacy_export

    print(json.dumps(privacy_export.export(args.email), ensure_ascii=False, indent=2))
    return 0


def cmd_minors(cfg: Config, args: argparse.Namespace) -> int:
    from mailflow.privacy import export as privacy_export

    rows = privacy_export.minor_requests()
    text = json.dumps(rows, ensure_ascii=False, indent=2) + "\n" if args.json else None
    print(text or privacy_export.render_minors(rows), end="")
    return 0


def cmd_minors_approve(ctx: Context, args: argparse.Namespace) -> int:
    from mailflow.admin import minors
    from mailflow.cli.request import _flush

    print(minors.approve(ctx, args.id))
    return _flush(ctx)


def cmd_minors_refuse(ctx: Context, args: argparse.Namespace) -> int:
    from mailflow.admin import minors
    from mailflow.cli.request import _flush

    print(minors.refuse(ctx, args.id))
    return _flush(ctx)


def cmd_newsletter(cfg: Config, args: argparse.Namespace) -> int:
    from mailflow.admin import newsletter

    queued, sent = newsletter.send_newsletter(cfg, args.template, args.campaign, args.per_minute)
    if queued.resumed is not None:
        print(
            f"newsletter {queued.name}: resuming the unfinished campaign of this template, "
            f"started {queued.resumed.started_at:%Y-%m-%d %H:%M} UTC"
        )
    print(
        f"newsletter {queued.name}: {queued.queued} queued now, {queued.already} earlier; "
        f"{sent.sent} sent, {sent.waiting} waiting for a retry, {sent.failed} failed"
        + (
            f", {sent.unconfirmed} unconfirmed (handed to SMTP by a run that stopped "
            "before the server's answer: not sent again, see mailflow log)"
            if sent.unconfirmed
            else ""
        )
    )
    return 0


def cmd_forget(cfg: Config, args: argparse.Namespace) -> int:
    """Exit 1 when the database part is done but copies remain on the server."""
    email = args.email
    from mailflow.context import load_context
    from mailflow.privacy.forget import forget, render

    out, error = render(forget(cfg, email, lambda: load_context(cfg)), email, cfg)
    print(out, end="")
    if error:
        print(f"mailflow: {error}", file=sys.stderr)
        return 1
    return 0


def cmd_purge(cfg: Config, args: argparse.Namespace) -> int:
    """Exit 1 when the database part is done but copies remain on the server."""
    dry_run = args.dry_run
    from mailflow.clock import wall
    from mailflow.privacy.forget import server_folders
    from mailflow.privacy.retention import last_change, purge

    done = purge(cfg, dry_run)
    verb = "would be anonymised" if dry_run else "anonymised"
    for r in done.requests:
        since = "unmatched since" if r.state == "unmatched" else "closed"
        day = wall(last_change(r), cfg.schedule.zone, "%Y-%m-%d")  # the coordinator's day
        print(f"request #{r.id} [{r.state}] {since} {day}")
    days = cfg.privacy.retention_days
    print(f"{len(done.requests)} request(s) {verb} (retention {days} days)")
    would = "would be " if dry_run else ""
    print(
        f"{done.mails} mail(s) linked to no request {verb}; {done.unlinked} mail(s) sent on "
        f"no one's behalf {would}erased; {done.events} event(s) outside any request "
        f"{would}cleared of addresses"
    )
    if done.server is None:
        return 0
    if done.server.error is None:
        print(f"server: {done.server.removed} message(s) removed from {server_folders(cfg)}")
        return 0
    print(
        f"mailflow: copies of erased mail remain on the server ({done.server.error}); "
        "run `mailflow privacy purge` again once the mailbox answers (the daemon also "
        "removes them at its next cycle)",
        file=sys.stderr,
    )
    return 1
