"""`mailflow init`, `run` and `db`: the configuration file, the database and the daemon;
and `open_db`, the one way every other command opens the configured database.
"""

from __future__ import annotations

import argparse
import logging
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from mailflow.config import DATA_ROOT, Config, load_config
from mailflow.errors import ConfigError

if TYPE_CHECKING:
    from mailflow.context import Context

log = logging.getLogger(__name__)


def open_db(cfg: Config) -> None:
    """The configured database, opened alike by every command; store/db.py (and peewee) is only
    imported once a command needs it, so `--help` and argument errors stay quick."""
    from mailflow.store.db import open_database

    open_database(cfg.database.url, cfg.source.parent)


def cmd_init(path: Path, args: argparse.Namespace) -> int:
    if not path.exists():
        try:
            shutil.copyfile(DATA_ROOT / "mailflow.example.toml", path)
        except OSError as exc:
            raise ConfigError(
                f"{path}: cannot write the configuration file: {exc.strerror or exc}"
            ) from exc
        print(f"wrote {path}: edit it, then run `mailflow run`")
        print("  set [mailbox] authserv_id there (how to find it: the comment above it)")
    cfg = load_config(path)
    open_db(cfg)
    print(f"database ready: {cfg.database.url}")
    return 0


def cmd_run(ctx: Context, args: argparse.Namespace) -> int:
    from mailflow.daemon import Daemon, run_once
    from mailflow.inbound.sender_check import unchecked_warning

    warning = unchecked_warning(ctx.cfg)
    if warning:
        log.warning("%s", warning)
    if args.once:
        print(f"run --once: {run_once(ctx)}")
        return 0
    daemon = Daemon(ctx)
    daemon.install_signals()
    daemon.run()
    return 0


def cmd_db_status(cfg: Config, args: argparse.Namespace) -> int:
    from mailflow.store import migrations
    from mailflow.store.db import connect

    db, _ = connect(cfg.database.url, cfg.source.parent, must_exist=True)
    try:
        print(migrations.render_status(migrations.status(db)), end="")
        return 0
    finally:
        db.close()


def cmd_db_upgrade(cfg: Config, args: argparse.Namespace) -> int:
    from mailflow.store import migrations
    from mailflow.store.db import connect

    db, lock_path = connect(cfg.database.url, cfg.source.parent)
    try:
        print(migrations.upgrade(db, lock_path).describe())
        return 0
    finally:
        db.close()
