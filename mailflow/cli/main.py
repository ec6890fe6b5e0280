"""The `mailflow` command: parse arguments, load config once, call one function, print."""

from __future__ import annotations

import argparse
import logging
import os
import select
import signal
import sys

from mailflow.cli.ambassadors import cmd_ambassadors
from mailflow.cli.care import cmd_care
from mailflow.cli.parser import build_parser
from mailflow.cli.quarantine import cmd_quarantine
from mailflow.cli.request import cmd_request
from mailflow.cli.review import cmd_log, cmd_message, cmd_report, cmd_stats
from mailflow.cli.setup import cmd_db, cmd_init, cmd_run
from mailflow.config import config_path, load_config
from mailflow.errors import MailflowError


def _reader_gone() -> bool:
    """True when stdout is a pipe whose reader closed it (`mailflow log | head -1`), as
    opposed to a broken connection to a mail or database server."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return False
    poller = select.poll()
    poller.register(fd, select.POLLOUT)
    return any(events & select.POLLERR for _, events in poller.poll(0))


def main(argv: list[str] | None = None) -> int:
    args = build_parser(__doc__).parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        # the offset says which clock a line is on (a server often runs on UTC)
        datefmt="%Y-%m-%d %H:%M:%S%z",
        stream=sys.stderr,
    )
    try:
        code = _command(args)
        sys.stdout.flush()  # here, not at exit: a closed pipe is then handled below
        return code
    except BrokenPipeError:
        if not _reader_gone():
            raise
        # The reader has what it wanted: stop quietly, like other tools killed by SIGPIPE,
        # and send what is still buffered nowhere instead of failing again at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + signal.SIGPIPE


def _command(args: argparse.Namespace) -> int:
    try:
        path = config_path(args.config)
        if args.command == "init":
            return cmd_init(path)
        cfg = load_config(path)
        if args.command == "run":
            return cmd_run(cfg, args.once)
        if args.command == "ambassadors":
            return cmd_ambassadors(cfg, args)
        if args.command == "quarantine":
            return cmd_quarantine(cfg, args)
        if args.command in ("person", "privacy", "minors", "newsletter"):
            return cmd_care(cfg, args)
        if args.command == "stats":
            return cmd_stats(cfg, args)
        if args.command == "report":
            return cmd_report(cfg, args)
        if args.command == "message":
            return cmd_message(cfg, args)
        if args.command == "db":
            return cmd_db(cfg, args)
        if args.command == "request":
            return cmd_request(cfg, args)
        return cmd_log(cfg, args)
    except MailflowError as exc:
        print(f"mailflow: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
