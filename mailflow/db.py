"""Opening the database named by the configuration (SQLite or PostgreSQL)."""

from __future__ import annotations

import logging
from pathlib import Path

from peewee import Database, OperationalError, PostgresqlDatabase, SqliteDatabase
from playhouse.db_url import parse

from . import migrations
from .errors import ConfigError
from .models import database

log = logging.getLogger(__name__)


def open_database(url: str, base: Path, upgrade: bool = True) -> Database:
    """Bind the models to `url` (relative SQLite paths are taken from `base`) and, unless
    `upgrade` is False, bring the schema to the latest version (see migrations.py)."""
    db, lock_path = connect(url, base)
    if upgrade:
        done = migrations.upgrade(db, lock_path)
        if done.applied or done.before is None or done.detected:
            log.info("%s", done.describe())
    return db


def connect(url: str, base: Path) -> tuple[Database, Path | None]:
    """Bind the models to `url` and connect, without touching the schema. Returns the
    database and, for a SQLite file, the lock file that serialises schema upgrades."""
    lock_path: Path | None = None
    if url.startswith("sqlite:///"):
        target = url.removeprefix("sqlite:///")
        path = Path(target) if target == ":memory:" else (base / target)
        if target != ":memory:":
            path.parent.mkdir(parents=True, exist_ok=True)
            lock_path = path.with_name(path.name + ".upgrade-lock")
        db: Database = SqliteDatabase(
            str(path),
            pragmas={
                "journal_mode": "wal",
                "synchronous": "full",
                "foreign_keys": 1,
                "busy_timeout": 10000,
            },
        )
    elif url.startswith(("postgresql://", "postgres://")):
        params = parse(url)
        db = PostgresqlDatabase(params.pop("database"), **params)
    else:
        raise ConfigError(f"database.url must start with sqlite:/// or postgresql://, got {url!r}")
    database.initialize(db)
    try:
        db.connect(reuse_if_open=True)
    except OperationalError as exc:
        raise ConfigError(f"database.url: cannot open {url!r}: {exc}") from exc
    return db, lock_path
