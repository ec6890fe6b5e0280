"""`mailflow quarantine`: list, show, retry or drop the messages that could not be
processed.
"""

from __future__ import annotations

import argparse
import sys

from mailflow.cli.setup import open_db
from mailflow.config import Config


def cmd_quarantine(cfg: Config, args: argparse.Namespace) -> int:
    from mailflow.admin import quarantine as q

    open_db(cfg)
    if args.action == "list":
        print(q.render_list(q.list_quarantine(), cfg.schedule.zone), end="")
    elif args.action == "show":
        entry, headers, raw = q.show(args.id, args.raw)
        if args.raw:
            sys.stdout.flush()
            sys.stdout.buffer.write(raw)
        else:
            print(q.render_show(entry, headers, cfg.schedule.zone), end="")
    elif args.action == "retry":
        q.retry(args.id)
        print(f"message #{args.id} released: the next `mailflow run` processes it again")
    else:
        q.drop(args.id)
        print(f"message #{args.id} dropped (kept in the database for the log)")
    return 0
