"""Schema versions: what each upgrade adds, and applying the ones a database lacks.

The `schema_version` table holds one row per version reached (version, name, applied_at);
the highest is the database's version. Version 1 is the first schema mailflow shipped
(commit ccf3c5d, frozen in tests/fixtures/models_v1.py); every later change is one entry
of schema_steps.MIGRATIONS, applied in order, each in its own transaction with its
version row.

- A new, empty database gets the current models directly, stamped with the latest version.
- A database with mailflow's tables and no `schema_version` table was made before versions
  existed: its version is read from what it holds (the last migration whose columns,
  tables and indexes are all present; at least 1), then it is upgraded step by step.
- A database at a version newer than this code knows is refused (SchemaError), never
  touched.

Only one process upgrades at a time: a PostgreSQL advisory lock, or a file lock beside
the SQLite file; the one that waited finds the work done.

Adding a migration: see schema_steps.py.
"""

from __future__ import annotations

import fcntl
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from peewee import (
    Database,
    DateTimeField,
    IntegerField,
    Model,
    PostgresqlDatabase,
    SqliteDatabase,
    TextField,
)
from playhouse.migrate import PostgresqlMigrator, SchemaMigrator, SqliteMigrator

from mailflow.clock import stamp
from mailflow.errors import SchemaError
from mailflow.store.models import ALL_MODELS, database
from mailflow.store.record import log_event
from mailflow.store.schema_steps import BASELINE, LATEST, MIGRATIONS, CreateTable, Migration

log = logging.getLogger(__name__)

# pg_advisory_lock key of the schema upgrade (any constant; other locks use other keys).
SCHEMA_LOCK_KEY = 0x6D61696C666C6F77  # "mailflow"


class SchemaVersion(Model):
    """One row per schema version the database reached."""

    version = IntegerField(primary_key=True)
    name = TextField()
    applied_at = DateTimeField()

    class Meta:
        database = database
        table_name = "schema_version"


# --- reading the state --------------------------------------------------------------------


@dataclass(frozen=True)
class Status:
    version: int | None  # None: an empty database
    latest: int
    detected: bool  # no schema_version table: the version was read from the tables
    pending: tuple[Migration, ...]

    @property
    def newer(self) -> bool:
        return self.version is not None and self.version > self.latest


def _mailflow_tables(db: Database) -> set[str]:
    names = {m._meta.table_name for m in ALL_MODELS}
    return names & set(db.get_tables())


def _baseline_tables() -> set[str]:
    """The tables of version 1: every table but those a later step creates."""
    later = {
        op.model._meta.table_name
        for migration in MIGRATIONS
        for op in migration.operations
        if isinstance(op, CreateTable)
    }
    return {m._meta.table_name for m in ALL_MODELS} - later


def detect_version(db: Database) -> int:
    """The version of a database made before versions existed, from what it holds."""
    missing = _baseline_tables() - set(db.get_tables())
    if missing:
        raise SchemaError(
            f"the database has some of mailflow's tables but not {', '.join(sorted(missing))}: "
            "it is no mailflow schema that can be upgraded"
        )
    version = BASELINE
    for migration in MIGRATIONS:
        if not migration.done(db):
            break
        version = migration.version
    return version


def recorded_version(db: Database) -> int | None:
    """The highest version in schema_version, None when the table is missing or empty."""
    if SchemaVersion._meta.table_name not in db.get_tables():
        return None
    with SchemaVersion.bind_ctx(db):
        row = SchemaVersion.select().order_by(SchemaVersion.version.desc()).first()
    return row.version if row else None


def status(db: Database) -> Status:
    version = recorded_version(db)
    detected = False
    if version is None and _mailflow_tables(db):
        version, detected = detect_version(db), True
    start = version or 0
    pending = tuple(m for m in MIGRATIONS if m.version > start) if version else ()
    return Status(version, LATEST, detected, pending)


def render_status(s: Status) -> str:
    """`mailflow db status`: what the database is at, what an upgrade would apply."""
    refuse_newer(s)
    if s.version is None:
        return (
            f"schema: empty database (latest version {s.latest})\n"
            "`mailflow db upgrade` (or `init`, or `run`) creates it\n"
        )
    how = " (no version table: detected from the tables)" if s.detected else ""
    lines = [f"schema version: {s.version}{how}", f"latest version: {s.latest}"]
    if not s.pending:
        return "\n".join([*lines, "up to date"]) + "\n"
    lines.append(f"pending: {len(s.pending)} (back the database up, then `mailflow db upgrade`)")
    lines += [f"  {m.version}  {m.name}" for m in s.pending]
    return "\n".join(lines) + "\n"


def refuse_newer(s: Status) -> None:
    if s.newer:
        raise SchemaError(
            f"the database schema is at version {s.version}, newer than this mailflow knows "
            f"(version {s.latest}): run a newer mailflow, or restore the backup taken before "
            "the upgrade"
        )


# --- upgrading ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Upgrade:
    before: int | None  # None: the database was empty
    after: int
    applied: tuple[Migration, ...]
    detected: bool

    def describe(self) -> str:
        if self.before is None:
            return f"schema created at version {self.after}"
        if not self.applied and not self.detected:
            return f"schema at version {self.after}, up to date"
        how = " (no version table: detected from its tables)" if self.detected else ""
        if not self.applied:
            return f"schema at version {self.after}{how}, now recorded"
        steps = ", ".join(str(m.version) for m in self.applied)
        return f"schema upgraded from version {self.before}{how} to {self.after} (applied {steps})"


def upgrade(db: Database, lock_path: Path | None = None) -> Upgrade:
    """Bring the database to the latest version; a no-op (no lock taken) when it is there."""
    version = recorded_version(db)
    if version == LATEST:
        return Upgrade(LATEST, LATEST, (), False)
    if version is not None and version > LATEST:
        refuse_newer(Status(version, LATEST, False, ()))
    with _schema_lock(db, lock_path):
        return _upgrade_locked(db)


def _upgrade_locked(db: Database) -> Upgrade:
    s = status(db)  # again: another process may have upgraded while we waited
    refuse_newer(s)
    if s.version is None:
        with _transaction(db):
            db.create_tables([*ALL_MODELS, SchemaVersion])
            _stamp(db, LATEST, "new database, created at the current schema")
        log.info("schema: new database created at version %d", LATEST)
        return Upgrade(None, LATEST, (), False)
    if s.detected:
        with _transaction(db):
            db.create_tables([SchemaVersion])
            _stamp(db, s.version, "version detected from the tables (made before versions)")
        log.info("schema: no version table; detected version %d from the tables", s.version)
    migrator: SchemaMigrator = (
        PostgresqlMigrator(db) if isinstance(db, PostgresqlDatabase) else SqliteMigrator(db)
    )
    for migration in s.pending:
        _apply(db, migrator, migration)
    if s.pending:
        _log_events(db, s.version, s.pending, s.detected)
    return Upgrade(s.version, LATEST, s.pending, s.detected)


def _apply(db: Database, migrator: SchemaMigrator, migration: Migration) -> None:
    log.info("schema: applying version %d: %s", migration.version, migration.name)
    try:
        with _transaction(db):
            for op in migration.operations:
                if not op.done(db):
                    op.apply(db, migrator)
            _stamp(db, migration.version, migration.name)
    except Exception as exc:
        raise SchemaError(
            f"schema upgrade to version {migration.version} ({migration.name}) failed, "
            f"nothing of it was kept: {type(exc).__name__}: {exc}".replace("\n", " ")
        ) from exc
    log.info("schema: now at version %d", migration.version)


def _stamp(db: Database, version: int, name: str) -> None:
    with SchemaVersion.bind_ctx(db):
        SchemaVersion.insert(version=version, name=name, applied_at=stamp()).execute()


def _log_events(db: Database, before: int, applied: Sequence[Migration], detected: bool) -> None:
    """One `schema` event per applied version, in the exchange log."""
    origin = " (detected: no version table)" if detected else ""
    with db.atomic():
        for m in applied:
            log_event(
                "schema", f"schema upgraded from version {before}{origin} to {m.version}: {m.name}"
            )
            before, origin = m.version, ""


@contextmanager
def _transaction(db: Database) -> Iterator[None]:
    """A transaction for schema changes. SQLite: foreign keys off (a column rebuild copies
    tables, which must not cascade) and BEGIN IMMEDIATE (the write lock from the start)."""
    if not isinstance(db, SqliteDatabase):
        with db.atomic():
            yield
        return
    fks = bool(db.pragma("foreign_keys"))
    if fks:
        db.pragma("foreign_keys", 0)
    try:
        with db.atomic(lock_type="IMMEDIATE"):
            yield
            broken = db.execute_sql("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise SchemaError(f"foreign keys broken by the upgrade: {broken[:3]}")
    finally:
        if fks:
            db.pragma("foreign_keys", 1)


@contextmanager
def _schema_lock(db: Database, lock_path: Path | None) -> Iterator[None]:
    """Only one process upgrades: PostgreSQL advisory lock; SQLite: a file lock."""
    if isinstance(db, PostgresqlDatabase):
        got = db.execute_sql("SELECT pg_try_advisory_lock(%s)", (SCHEMA_LOCK_KEY,)).fetchone()[0]
        if not got:
            log.info("schema: another process is upgrading the database; waiting for it")
            db.execute_sql("SELECT pg_advisory_lock(%s)", (SCHEMA_LOCK_KEY,))
        try:
            yield
        finally:
            db.execute_sql("SELECT pg_advisory_unlock(%s)", (SCHEMA_LOCK_KEY,))
        return
    if lock_path is None:  # an in-memory database: nobody else can see it
        yield
        return
    with open(lock_path, "a+b") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info("schema: another process is upgrading %s; waiting for it", lock_path)
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
