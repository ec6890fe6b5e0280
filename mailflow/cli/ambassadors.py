"""`mailflow ambassadors`: import, list and clear-bounce on the ambassador directory."""

from __future__ import annotations

import argparse
import json

from mailflow.cli.setup import open_db
from mailflow.config import Config
from mailflow.errors import MailflowError


def cmd_ambassadors(cfg: Config, args: argparse.Namespace) -> int:
    from mailflow.admin.directory import SEPARATORS, clear_bounce, import_file
    from mailflow.context import load_context
    from mailflow.review.directory_view import directory_rows, render_directory

    if args.json and args.action not in (None, "list"):
        raise MailflowError(f"--json goes with the list, not with `ambassadors {args.action}`")
    open_db(cfg)
    if args.action == "import":
        result = import_file(args.file, load_context(cfg).ref)
        said = (
            ""
            if result.separator == ","
            else f" (columns separated by {SEPARATORS[result.separator]})"
        )
        print(
            f"imported {args.file}{said}: {result.created} created, {result.updated} updated, "
            f"{result.unchanged} unchanged"
        )
        return 0
    if args.action == "clear-bounce":
        ambassador = clear_bounce(args.email)
        print(f"ambassador #{ambassador.id} ({ambassador.email}): available for new requests")
        return 0
    rows = directory_rows(cfg.schedule.zone)
    print(
        json.dumps(rows, ensure_ascii=False, indent=2)
        if args.json
        else render_directory(rows, cfg.schedule.zone)
    )
    return 0
