"""mailflow introduces people who want to learn about a trade, a training or a VAE path to
ambassadors who live it, by email, through masked relay addresses: neither side sees the
other's real address. `mailflow run` is the daemon; the other commands let coordinators
import the directory, review the exchanges, act on one request and care for personal data."""

from __future__ import annotations

import argparse
import logging
import os
import select
import signal
import sys

from mailflow.cli.commands import COMMANDS, Needs, command_path
from mailflow.cli.parser import build_parser
from mailflow.cli.setup import open_db
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
    """Run the command of the table (commands.py) named by `args`, after opening what it
    needs; a MailflowError is one line on stderr and exit status 2."""
    command = COMMANDS[command_path(args)]
    try:
        path = config_path(args.config)
        if command.needs is Needs.PATH:
            return command.run(path, args)
        cfg = load_config(path)
        if command.check is not None:
            command.check(args)  # before the database is opened (or created)
        if command.needs is Needs.CONFIG:
            return command.run(cfg, args)
        open_db(cfg)
        if command.needs is Needs.DATABASE:
            return command.run(cfg, args)
        from mailflow.context import load_context  # rules and referential: only when needed

        return command.run(load_context(cfg), args)
    except MailflowError as exc:
        print(f"mailflow: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
