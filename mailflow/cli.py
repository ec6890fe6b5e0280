"""The `mailflow` command: parse arguments, load config once, call one function, print."""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
from pathlib import Path

from .config import PROJECT_ROOT, Config, config_path, load_config
from .errors import MailflowError


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="mailflow", description=__doc__)
    p.add_argument(
        "--config", help="configuration file (default: $MAILFLOW_CONFIG or ./mailflow.toml)"
    )
    p.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("init", help="write a configuration file if missing and create the database")
    run = sub.add_parser("run", help="run the daemon until SIGTERM / SIGINT")
    run.add_argument(
        "--once", action="store_true", help="process everything waiting, flush the outbox and exit"
    )
    amb = sub.add_parser("ambassadors", help="the ambassador directory")
    amb_sub = amb.add_subparsers(dest="action", required=True)
    imp = amb_sub.add_parser("import", help="import or update ambassadors from a UTF-8 CSV")
    imp.add_argument("file", type=Path)
    lst = amb_sub.add_parser("list", help="show the directory")
    lst.add_argument("--json", action="store_true")
    log = sub.add_parser("log", help="the exchange log, one timeline per request")
    log.add_argument("--request", type=int, metavar="ID")
    log.add_argument("--json", action="store_true")
    return p


def _open(cfg: Config) -> None:
    from .db import open_database

    open_database(cfg.database.url, cfg.source.parent)


def cmd_init(path: Path) -> int:
    if not path.exists():
        shutil.copyfile(PROJECT_ROOT / "mailflow.example.toml", path)
        print(f"wrote {path}: edit it, then run `mailflow run`")
    cfg = load_config(path)
    _open(cfg)
    print(f"database ready: {cfg.database.url}")
    return 0


def cmd_run(cfg: Config, once: bool) -> int:
    from .context import load_context
    from .daemon import Daemon, run_once

    _open(cfg)
    ctx = load_context(cfg)
    if once:
        print(f"run --once: {run_once(ctx)}")
        return 0
    daemon = Daemon(ctx)
    daemon.install_signals()
    daemon.run()
    return 0


def cmd_ambassadors(cfg: Config, args: argparse.Namespace) -> int:
    from .directory import import_file
    from .directory_view import directory_rows, render_directory
    from .referential import load_referential

    _open(cfg)
    if args.action == "import":
        result = import_file(args.file, load_referential(cfg.paths.rules))
        print(
            f"imported {args.file}: {result.created} created, {result.updated} updated, "
            f"{result.unchanged} unchanged"
        )
        return 0
    rows = directory_rows()
    print(json.dumps(rows, ensure_ascii=False, indent=2) if args.json else render_directory(rows))
    return 0


def cmd_log(cfg: Config, args: argparse.Namespace) -> int:
    from .logview import log_data, render_text

    _open(cfg)
    data = log_data(args.request)
    if args.request is not None and not data["requests"]:
        raise MailflowError(f"no request #{args.request}")
    print(
        json.dumps(data, ensure_ascii=False, indent=2) if args.json else render_text(data),
        end="" if not args.json else "\n",
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    path = config_path(args.config)
    try:
        if args.command == "init":
            return cmd_init(path)
        cfg = load_config(path)
        if args.command == "run":
            return cmd_run(cfg, args.once)
        if args.command == "ambassadors":
            return cmd_ambassadors(cfg, args)
        return cmd_log(cfg, args)
    except MailflowError as exc:
        print(f"mailflow: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
