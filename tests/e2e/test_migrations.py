"""Schema upgrades on real databases, SQLite and PostgreSQL: from the first schema (frozen in
tests/fixtures/models_v1.py, with rows in it) to the latest, once, and only once."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from peewee import Database, PostgresqlDatabase, SqliteDatabase
from playhouse.db_url import parse
from playhouse.migrate import PostgresqlMigrator, SqliteMigrator

from mailflow.cli.main import main
from mailflow.config import DATABASE_URL_VARIABLE
from mailflow.errors import SchemaError
from mailflow.store import migrations
from mailflow.store.db import connect, open_database
from mailflow.store.migrations import LATEST, MIGRATIONS
from mailflow.store.models import Ambassador, Conversation, Event, OutboundMail, Request, database
from tests import testconfig, testdb
from tests.fixtures import models_v1 as v1

T0 = datetime(2026, 3, 2, 9, 0)

# --- the run's backend (tests/testdb.py): fresh databases on it ---------------------------


@pytest.fixture
def new_url(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[], str]]:
    """A factory of URLs of fresh, empty databases on the run's backend.

    The tests name their databases themselves (several per test), so the suite-wide
    MAILFLOW_DATABASE_URL must not redirect them."""
    monkeypatch.delenv(DATABASE_URL_VARIABLE, raising=False)
    if testdb.SQLITE:
        names = iter(range(1000))
        yield lambda: f"sqlite:///{tmp_path}/db{next(names)}.sqlite3"
        return
    server = request.getfixturevalue("pgstack")
    made: list[str] = []

    def make() -> str:
        made.append(server.create_database())
        return made[-1]

    try:
        yield make
    finally:
        for url in made:
            server.drop_database(url)


@pytest.fixture(autouse=True)
def _unbind() -> Iterator[None]:
    yield
    if database.obj is not None:
        database.obj.close()
    database.initialize(None)


def raw_database(url: str) -> Database:
    if url.startswith("sqlite:///"):
        return SqliteDatabase(url.removeprefix("sqlite:///"), pragmas={"foreign_keys": 1})
    params = parse(url)
    return PostgresqlDatabase(params.pop("database"), **params)


# --- an installation of the first schema, with rows -------------------------------------


def build_v1(url: str, rows: bool = True) -> None:
    """The first schema, as the first mailflow created it, with a request in flight."""
    db = raw_database(url)
    v1.database.initialize(db)
    try:
        db.create_tables(v1.ALL_MODELS)
        if rows:
            with db.atomic():
                _v1_rows()
    finally:
        db.close()
        v1.database.initialize(None)


def _v1_rows() -> None:
    amb = v1.Ambassador.create(
        email="marie@pros.test",
        first_name="Marie",
        last_name="Lefèvre",
        kind="metier",
        title="Boulangère",
        title_words="boulangere",
        code_rome="D1102",
        department="14",
        city="Caen",
        capacity=2,
        created_at=T0,
        updated_at=T0,
    )
    person = v1.Person.create(email="lea@users.test", first_name="Léa", created_at=T0)
    req = v1.Request.create(
        person=person,
        state="offered",
        kind="metier",
        trade_text="boulangère",
        code_rome="D1102",
        rome_label="Boulangerie - viennoiserie",
        department="14",
        age=15,
        situation="college",
        first_name="Léa",
        message="Je voudrais rencontrer une boulangère près de Caen.",
        created_at=T0,
        updated_at=T0,
    )
    conv = v1.Conversation.create(
        request=req,
        ambassador=amb,
        ambassador_token="a" * 20,
        person_token="p" * 20,
        created_at=T0,
    )
    inbound = v1.InboundMessage.create(
        message_id="<ask-1@users.test>",
        sha256="0" * 64,
        uidvalidity=7,
        uid=1,
        raw=b"From: lea@users.test\r\nSubject: Demande\r\n\r\nBonjour\r\n",
        size=48,
        received_at=T0,
        status="processed",
        outcome="new-request",
        sender="lea@users.test",
        subject="Demande",
        role="person",
        request=req,
        server_done=True,
        processed_at=T0,
    )
    outbound = v1.OutboundMail.create(
        idempotency_key="intro:1",
        purpose="intro",
        message_id="<intro-1@mailflow.test>",
        envelope_from="relay@mailflow.test",
        recipient="marie@pros.test",
        recipient_role="ambassador",
        subject="Une demande pour vous",
        raw=b"Subject: Une demande pour vous\r\n\r\nBonjour Marie\r\n",
        next_attempt_at=T0,
        created_at=T0,
        request=req,
        conversation=conv,
        inbound=inbound,
    )
    v1.MessageIdMap.create(
        conversation=conv, original_id="<ask-1@users.test>", relayed_id="<intro-1@mailflow.test>"
    )
    for old, new in (("new", "offered"),):
        v1.Event.create(
            at=T0,
            kind="state",
            request=req,
            inbound=inbound,
            old_state=old,
            new_state=new,
            cause="offered to ambassador #1 (same ROME code, same département)",
        )
    v1.Event.create(at=T0, kind="import", cause="directory imported: 1 created")
    v1.Event.create(at=T0, kind="queued", request=req, outbound=outbound, cause="intro queued")
    v1.MailboxState.create(folder="INBOX", uidvalidity=7, last_uid=1)


# --- what a schema is made of, to compare two databases -----------------------------------


def schema_of(db: Database) -> dict[str, Any]:
    tables: dict[str, Any] = {}
    for table in sorted(db.get_tables()):
        columns = {
            (c.name, c.data_type.lower(), c.null, c.primary_key) for c in db.get_columns(table)
        }
        indexes = {
            (i.name, tuple(i.columns), i.unique)
            for i in db.get_indexes(table)
            if not i.name.startswith("sqlite_autoindex")
        }
        fks = {(f.column, f.dest_table, f.dest_column) for f in db.get_foreign_keys(table)}
        tables[table] = {"columns": columns, "indexes": indexes, "foreign_keys": fks}
    return tables


def versions(db: Database) -> list[int]:
    rows = db.execute_sql("SELECT version FROM schema_version ORDER BY version").fetchall()
    return [v for (v,) in rows]


def write_config(folder: Path, url: str) -> Path:
    return testconfig.write_config(
        folder, database=url, name=f"mailflow-{uuid.uuid4().hex[:6]}.toml"
    )


# --- the tests ----------------------------------------------------------------------------


def test_a_new_database_is_created_at_the_latest_version(new_url: Callable[[], str]) -> None:
    db = open_database(new_url(), Path("."))
    assert versions(db) == [LATEST]
    assert Event.select().count() == 0  # nothing to tell: no upgrade happened
    assert migrations.upgrade(db).describe() == f"schema at version {LATEST}, up to date"


def test_the_first_schema_is_upgraded_with_its_rows_intact(
    new_url: Callable[[], str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = new_url()
    build_v1(url)
    config = write_config(tmp_path, url)
    assert main(["--config", str(config), "db", "status"]) == 0
    out = capsys.readouterr().out
    assert "schema version: 1 (no version table: detected from the tables)" in out
    assert f"latest version: {LATEST}" in out
    assert all(f"  {m.version}  {m.name}" in out for m in MIGRATIONS)

    assert main(["--config", str(config), "db", "upgrade"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(
        f"schema upgraded from version 1 (no version table: detected from its tables) to {LATEST}"
    )

    db = open_database(url, tmp_path)
    assert versions(db) == list(range(1, LATEST + 1))
    # the rows the first mailflow wrote, with the defaults of the columns added since
    marie = Ambassador.get(Ambassador.email == "marie@pros.test")
    assert (marie.paused, marie.bounce_state, marie.active, marie.capacity) == (
        False,
        "ok",
        True,
        2,
    )
    req = Request.get()
    assert (req.state, req.minor, req.first_answer_at, req.first_name) == (
        "offered",
        False,
        None,
        "Léa",
    )
    conv = Conversation.get()
    assert (conv.reminders_sent, conv.state, conv.ambassador_id) == (0, "open", marie.id)
    mail = OutboundMail.get()
    assert (mail.status, bytes(mail.raw)[:9]) == ("queued", b"Subject: ")
    schema_events = [e.cause for e in Event.select().where(Event.kind == "schema")]
    assert len(schema_events) == len(MIGRATIONS) and "version 1 (detected" in schema_events[0]

    # ... usable by the current code: the log, the statistics, the directory
    assert main(["--config", str(config), "log", "--json"]) == 0
    log = json.loads(capsys.readouterr().out)
    (timeline,) = log["requests"]
    assert timeline["state"] == "offered"
    entries = timeline["timeline"]
    # one instant: the request's mail, the state change, the intro that change sends
    assert [e["type"] for e in entries] == ["message", "state", "message"]
    assert entries[2]["to"] == {"role": "ambassador", "name": "Marie L."}  # the queued intro
    assert main(["--config", str(config), "stats", "--year", "2026", "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)["by_year"]["2026"]
    assert (figures["requests"], figures["people_by_age_band"]["10-15"]) == (1, 1)
    assert main(["--config", str(config), "ambassadors", "list", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["email"] == "marie@pros.test"


def test_an_upgraded_database_has_exactly_the_schema_of_a_new_one(
    new_url: Callable[[], str],
) -> None:
    """Every column, index and foreign key of the current models, none missing, none
    extra: a change to store/models.py without its migration fails here."""
    old = new_url()
    build_v1(old)
    open_database(old, Path(".")).close()
    fresh = new_url()
    open_database(fresh, Path(".")).close()
    got, want = raw_database(old), raw_database(fresh)
    try:
        assert schema_of(got) == schema_of(want)
    finally:
        got.close()
        want.close()


def test_running_again_changes_nothing(new_url: Callable[[], str], tmp_path: Path) -> None:
    url = new_url()
    build_v1(url)
    db = open_database(url, tmp_path)
    before = (versions(db), Event.select().count(), schema_of(db))
    db.close()
    db = open_database(url, tmp_path)
    assert migrations.upgrade(db).applied == ()
    assert (versions(db), Event.select().count(), schema_of(db)) == before


def test_a_database_newer_than_the_code_is_refused(
    new_url: Callable[[], str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = new_url()
    db = open_database(url, tmp_path)
    with migrations.SchemaVersion.bind_ctx(db):
        migrations.SchemaVersion.create(version=LATEST + 1, name="future", applied_at=T0)
    db.close()
    with pytest.raises(SchemaError, match=f"version {LATEST + 1}, newer .* \\(version {LATEST}\\)"):
        open_database(url, tmp_path)
    config = write_config(tmp_path, url)
    for command in (["log"], ["run", "--once"], ["db", "status"], ["db", "upgrade"]):
        assert main(["--config", str(config), *command]) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and "Traceback" not in err
        assert err.startswith("mailflow: the database schema is at version")
    db = raw_database(url)
    assert versions(db) == [LATEST, LATEST + 1]  # untouched
    db.close()


def test_a_database_from_between_versions_is_detected_and_completed(
    new_url: Callable[[], str], tmp_path: Path
) -> None:
    """Made before versions existed, by a mailflow that had version 2's columns and part of
    version 3's (as the old add-missing-columns code could leave it): detected as 2, then
    3 adds only what is missing."""
    url = new_url()
    build_v1(url)
    db = raw_database(url)
    migrator = SqliteMigrator(db) if isinstance(db, SqliteDatabase) else PostgresqlMigrator(db)
    if isinstance(db, SqliteDatabase):
        db.pragma("foreign_keys", 0)  # a column rebuild copies the table (see store/migrations.py)
    with db.atomic():
        for op in MIGRATIONS[0].operations:
            op.apply(db, migrator)
        MIGRATIONS[1].operations[1].apply(db, migrator)  # ambassador.bounced_at only
    db.close()
    db, _ = connect(url, tmp_path)
    status = migrations.status(db)
    assert (status.version, status.detected) == (2, True)
    assert [m.version for m in status.pending] == list(range(3, LATEST + 1))
    done = migrations.upgrade(db)
    assert (done.before, done.after) == (2, LATEST)
    assert versions(db) == list(range(2, LATEST + 1))
    assert Ambassador.get().bounce_state == "ok"


@pytest.mark.parametrize("start", ["first schema", "empty"])
def test_two_upgraders_at_once_upgrade_once(
    new_url: Callable[[], str], tmp_path: Path, start: str
) -> None:
    """Two `mailflow db upgrade` started together, held at the lock until both wait there:
    one upgrades (or creates the schema), the other finds the work done."""
    url = new_url()
    if start == "first schema":
        build_v1(url)
    config = write_config(tmp_path, url)
    logs = [tmp_path / f"upgrader{i}.log" for i in (1, 2)]
    with _holding_schema_lock(url):
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "mailflow", "--config", str(config), "db", "upgrade"],
                stdout=subprocess.PIPE,
                stderr=log.open("w"),
                text=True,
            )
            for log in logs
        ]
        deadline = time.monotonic() + 30
        while not all("waiting for it" in log.read_text() for log in logs):
            assert time.monotonic() < deadline, [log.read_text() for log in logs]
            time.sleep(0.05)
    outputs = sorted(p.communicate(timeout=60)[0].strip() for p in procs)
    assert [p.returncode for p in procs] == [0, 0], [log.read_text() for log in logs]
    assert outputs[0] == f"schema at version {LATEST}, up to date"
    db = raw_database(url)
    if start == "empty":
        assert outputs[1] == f"schema created at version {LATEST}"
        assert versions(db) == [LATEST]
    else:
        assert outputs[1].startswith("schema upgraded from version 1")
        assert versions(db) == list(range(1, LATEST + 1))
        kinds = db.execute_sql("SELECT COUNT(*) FROM event WHERE kind = 'schema'").fetchone()
        assert kinds == (len(MIGRATIONS),)
    db.close()


class _holding_schema_lock:
    """Hold the upgrade lock as another mailflow process would."""

    def __init__(self, url: str) -> None:
        self.url = url

    def __enter__(self) -> None:
        if self.url.startswith("sqlite:///"):
            import fcntl

            self.handle: Any = open(self.url.removeprefix("sqlite:///") + ".upgrade-lock", "a+b")
            fcntl.flock(self.handle, fcntl.LOCK_EX)
        else:
            import psycopg2

            self.handle = psycopg2.connect(self.url)
            self.handle.autocommit = True
            self.handle.cursor().execute(
                "SELECT pg_advisory_lock(%s)", (migrations.SCHEMA_LOCK_KEY,)
            )

    def __exit__(self, *exc: object) -> None:
        self.handle.close()  # closing releases the lock, on both


@pytest.mark.skipif(not testdb.SQLITE, reason="about a SQLite file: the SQLite run has it")
def test_status_of_a_missing_sqlite_file_says_so_and_creates_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, "sqlite:///missing/mailflow.sqlite3")
    assert main(["--config", str(config), "db", "status"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("mailflow: no database at ") and "`mailflow init`" in err
    assert not (tmp_path / "missing").exists()
    assert main(["--config", str(config), "db", "upgrade"]) == 0
    assert (tmp_path / "missing" / "mailflow.sqlite3").exists()
    assert main(["--config", str(config), "db", "status"]) == 0
    assert f"schema version: {LATEST}" in capsys.readouterr().out
