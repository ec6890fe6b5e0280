"""`mailflow quarantine`: list, show, retry or drop the messages that could not be
processed.
"""

from __future__ import annotations

import argparse
import sys

from mailflow.config import Config


def cmd_list(cfg: Config, args: argparse.Namespace) -> int:
    from mailflow.admin import quarantine as q

    print(q.render_list(q.list_quarantine(), cfg.schedule.zone), end="")
    return 0


def cmd_show(cfg: Config, args: argparse.Namespace) -> int:
    from mailflow.admin import quarantine as q

    entry, headers, raw = q.show(args.id, args.raw)
    if args.raw:
        sys.stdout.flush()
        sys.stdout.buffer.write(raw)
    else:
        print(q.render_show(entry, headers, cfg.schedule.zone), end="")
    return 0


def cmd_retry(cfg: Config, args: argparse.Namespace) -> int:
    from mailflow.admin import quarantine as q

    q.retry(args.id)
    print(f"message #{args.id} released: the next `mailflow run` processes it again")
    return 0


def cmd_drop(cfg: Config, args: argparse.Namespace) -> int:
    from mailflow.admin import quarantine as q

    q.drop(args.id)
    print(f"message #{args.id} dropped (kept in the database for the log)")
    return 0
