"""Every `mailflow` command once, as data: its path on the command line, what it needs opened
before it runs, and the function that runs it. `main` reads this table to dispatch, and
tests/db/test_cli_table.py checks it against the parser (parser.py), so a command cannot be
parsed without being dispatched, or listed here without being parsed.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from mailflow.cli import ambassadors, care, quarantine, request, review, setup, structures, web
from mailflow.errors import MailflowError


class Needs(Enum):
    """What dispatch prepares before the handler runs, and so what the handler is given."""

    PATH = "the configuration file's path, not its content (init writes it)"
    CONFIG = "the loaded configuration; the handler opens the database its own way"
    DATABASE = "the loaded configuration, with the database opened and upgraded"
    CONTEXT = "the database opened, and the rules and referential loaded (a Context)"


@dataclass(frozen=True)
class Command:
    needs: Needs
    # handler(path | cfg | ctx, args) -> exit status; the first argument follows `needs`
    run: Callable[[Any, argparse.Namespace], int]
    # argument combinations argparse cannot express, refused before anything is opened
    check: Callable[[argparse.Namespace], None] | None = None


def _list_only(args: argparse.Namespace) -> None:
    if args.json:
        raise MailflowError(f"--json goes with the list, not with `{args.command} {args.action}`")


# The command path is the words typed after `mailflow` (its options aside): `ambassadors`
# alone is the list, as `ambassadors list` is.
COMMANDS: dict[tuple[str, ...], Command] = {
    ("init",): Command(Needs.PATH, setup.cmd_init),
    ("run",): Command(Needs.CONTEXT, setup.cmd_run),
    ("ambassadors",): Command(Needs.DATABASE, ambassadors.cmd_list),
    ("ambassadors", "list"): Command(Needs.DATABASE, ambassadors.cmd_list),
    ("ambassadors", "import"): Command(Needs.DATABASE, ambassadors.cmd_import, _list_only),
    ("ambassadors", "clear-bounce"): Command(
        Needs.DATABASE, ambassadors.cmd_clear_bounce, _list_only
    ),
    ("structures",): Command(Needs.DATABASE, structures.cmd_list),
    ("structures", "list"): Command(Needs.DATABASE, structures.cmd_list),
    ("structures", "import"): Command(Needs.DATABASE, structures.cmd_import, _list_only),
    ("ambassadors", "honorability"): Command(
        Needs.DATABASE, ambassadors.cmd_honorability, _list_only
    ),
    ("log",): Command(Needs.DATABASE, review.cmd_log, review.check_log),
    ("stats",): Command(Needs.DATABASE, review.cmd_stats),
    ("report",): Command(Needs.DATABASE, review.cmd_report),
    ("message", "show"): Command(Needs.DATABASE, review.cmd_message),
    ("request", "assign"): Command(Needs.CONTEXT, request.cmd_assign),
    ("request", "set"): Command(Needs.CONTEXT, request.cmd_set),
    ("request", "close"): Command(Needs.CONTEXT, request.cmd_close),
    ("request", "merge"): Command(Needs.CONTEXT, request.cmd_merge),
    ("request", "relay-late"): Command(Needs.CONTEXT, request.cmd_relay_late),
    ("quarantine", "list"): Command(Needs.DATABASE, quarantine.cmd_list),
    ("quarantine", "show"): Command(Needs.DATABASE, quarantine.cmd_show),
    ("quarantine", "retry"): Command(Needs.DATABASE, quarantine.cmd_retry),
    ("quarantine", "drop"): Command(Needs.DATABASE, quarantine.cmd_drop),
    ("person", "export"): Command(Needs.DATABASE, care.cmd_export),
    ("person", "forget"): Command(Needs.DATABASE, care.cmd_forget),
    ("privacy", "purge"): Command(Needs.DATABASE, care.cmd_purge),
    ("minors",): Command(Needs.DATABASE, care.cmd_minors),
    ("minors", "approve"): Command(Needs.CONTEXT, care.cmd_minors_approve),
    ("minors", "refuse"): Command(Needs.CONTEXT, care.cmd_minors_refuse),
    ("newsletter", "send"): Command(Needs.DATABASE, care.cmd_newsletter),
    ("db", "status"): Command(Needs.CONFIG, setup.cmd_db_status),
    ("db", "upgrade"): Command(Needs.CONFIG, setup.cmd_db_upgrade),
    ("web",): Command(Needs.CONTEXT, web.cmd_serve),
    ("web", "user", "add"): Command(Needs.DATABASE, web.cmd_user_add),
    ("web", "user", "list"): Command(Needs.DATABASE, web.cmd_user_list),
    ("web", "user", "disable"): Command(Needs.DATABASE, web.cmd_user_disable),
}


def command_path(args: argparse.Namespace) -> tuple[str, ...]:
    """The table's key for parsed arguments: the command, then its action if it has one,
    then the action's own (`web user add`)."""
    words = (getattr(args, "action", None), getattr(args, "subaction", None))
    return (args.command, *(w for w in words if w is not None))
