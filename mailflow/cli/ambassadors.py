"""`mailflow ambassadors`: import, list and clear-bounce on the ambassador directory."""

from __future__ import annotations

import argparse
import json

from mailflow.config import Config


def cmd_import(cfg: Config, args: argparse.Namespace) -> int:
    from mailflow.admin.directory import SEPARATORS, import_file
    from mailflow.context import load_context

    result = import_file(args.file, load_context(cfg).ref, args.strict)  # rules checked
    said = (
        "" if result.separator == "," else f" (columns separated by {SEPARATORS[result.separator]})"
    )
    print(
        f"imported {args.file}{said}: {result.created} created, {result.updated} updated, "
        f"{result.unchanged} unchanged"
    )
    for warning in result.unplaced:
        print(f"warning: {warning}")
    return 0


def cmd_clear_bounce(cfg: Config, args: argparse.Namespace) -> int:
    from mailflow.admin.directory import clear_bounce

    ambassador = clear_bounce(args.email)
    print(f"ambassador #{ambassador.id} ({ambassador.email}): available for new requests")
    return 0


def cmd_list(cfg: Config, args: argparse.Namespace) -> int:
    from mailflow.review.directory_view import directory_rows, render_directory

    rows = directory_rows(cfg.schedule.zone)
    print(
        json.dumps(rows, ensure_ascii=False, indent=2)
        if args.json
        else render_directory(rows, cfg.schedule.zone)
    )
    return 0
