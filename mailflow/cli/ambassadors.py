"""`mailflow ambassadors`: import, list and clear-bounce on the ambassador directory."""

from __future__ import annotations

import argparse
import json

from mailflow.config import Config


def cmd_import(cfg: Config, args: argparse.Namespace) -> int:
    from mailflow.admin.directory import SEPARATORS, import_file
    from mailflow.context import load_context

    ctx = load_context(cfg)  # rules checked
    result = import_file(args.file, ctx.ref, args.strict, ctx.rules.charter)
    said = (
        "" if result.separator == "," else f" (columns separated by {SEPARATORS[result.separator]})"
    )
    print(
        f"imported {args.file}{said}: {result.created} created, {result.updated} updated, "
        f"{result.unchanged} unchanged"
    )
    for warning in result.unplaced:
        print(f"warning: {warning}")
    if result.on_paper:
        print(f"charter signed on paper recorded for {result.on_paper} ambassador(s)")
    return 0


def cmd_clear_bounce(cfg: Config, args: argparse.Namespace) -> int:
    from mailflow.admin.directory import clear_bounce

    ambassador = clear_bounce(args.email)
    print(f"ambassador #{ambassador.id} ({ambassador.email}): available for new requests")
    return 0


def cmd_list(cfg: Config, args: argparse.Namespace) -> int:
    from mailflow.review.directory_view import directory_rows, render_directory

    rows = directory_rows(cfg.schedule.zone, _charter(cfg))
    print(
        json.dumps(rows, ensure_ascii=False, indent=2)
        if args.json
        else render_directory(rows, cfg.schedule.zone)
    )
    return 0


def _charter(cfg: Config):  # noqa: ANN202 - CharterRules
    """rules/charter.toml alone (the list needs no referential)."""
    from mailflow.context import load_charter_of

    return load_charter_of(cfg)


def cmd_honorability(cfg: Config, args: argparse.Namespace) -> int:
    from mailflow.admin.directory import record_honorability
    from mailflow.clock import local_today

    on = args.on or local_today(cfg.schedule.zone)
    rules = _charter(cfg).honorability
    ambassador = record_honorability(args.email, args.checked_by, on, args.valid_until, rules)
    print(
        f"ambassador #{ambassador.id} ({ambassador.email}): honorability checked by "
        f"{ambassador.honorability_by} on {ambassador.honorability_on:%Y-%m-%d}, valid until "
        f"{ambassador.honorability_until:%Y-%m-%d}"
    )
    return 0
