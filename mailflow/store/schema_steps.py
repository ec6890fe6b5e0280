"""The schema's history: each upgrade after the first shipped schema, oldest first.

Adding a migration (e.g. an index the benchmarks want) is a five-line job:

1. change models.py, so that a new database gets it (`Meta.indexes`, a new field, ...);
2. append to MIGRATIONS below, with the next number and a name an operator understands:

       Migration(10, "index on outbound_mail.recipient (rate limits)", (
           AddIndex("outbound_mail", ("recipient",)),
       )),

   Operations: AddColumn(table, column, field) (nullable or with a default), AddIndex(table,
   columns, unique=False), CreateTable(frozen model). Fields and models are written out
   here, never taken from models.py, so that an old step stays what it was when later
   models change. Each operation skips itself when its object is already there.
3. tests/e2e/test_migrations.py then checks that a database upgraded from version 1 has
   exactly the schema of a new one, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from peewee import (
    AutoField,
    BigIntegerField,
    BooleanField,
    CharField,
    Database,
    DateField,
    DateTimeField,
    Field,
    IntegerField,
    Model,
    PostgresqlDatabase,
    TextField,
)
from playhouse.migrate import SchemaMigrator

BASELINE = 1  # the first shipped schema (commit ccf3c5d, tests/fixtures/models_v1.py)


# --- operations ---------------------------------------------------------------------------


class Operation(Protocol):
    def done(self, db: Database) -> bool:
        """True when the database already has what this operation adds."""
        ...

    def apply(self, db: Database, migrator: SchemaMigrator) -> None: ...


@dataclass(frozen=True)
class AddColumn:
    table: str
    column: str
    field: Field

    def done(self, db: Database) -> bool:
        return self.column in {c.name for c in db.get_columns(self.table)}

    def apply(self, db: Database, migrator: SchemaMigrator) -> None:
        migrator.add_column(self.table, self.column, self.field).run()


@dataclass(frozen=True)
class AddIndex:
    table: str
    columns: tuple[str, ...]
    unique: bool = False

    def done(self, db: Database) -> bool:
        return any(
            tuple(i.columns) == self.columns and i.unique == self.unique
            for i in db.get_indexes(self.table)
        )

    def apply(self, db: Database, migrator: SchemaMigrator) -> None:
        migrator.add_index(self.table, self.columns, self.unique).run()


@dataclass(frozen=True)
class WidenToBigint:
    """An integer column made 64-bit. SQLite's INTEGER already is: only PostgreSQL changes."""

    table: str
    column: str

    def done(self, db: Database) -> bool:
        if not isinstance(db, PostgresqlDatabase):
            return True
        types = {c.name: c.data_type for c in db.get_columns(self.table)}
        return types.get(self.column) == "bigint"

    def apply(self, db: Database, migrator: SchemaMigrator) -> None:
        migrator.alter_column_type(self.table, self.column, BigIntegerField(null=True)).run()


@dataclass(frozen=True)
class CreateTable:
    model: type[Model]

    def done(self, db: Database) -> bool:
        return self.model._meta.table_name in db.get_tables()

    def apply(self, db: Database, migrator: SchemaMigrator) -> None:
        with self.model.bind_ctx(db, bind_refs=False, bind_backrefs=False):
            self.model.create_table(safe=True)


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    operations: Sequence[Operation] = field(default_factory=tuple)

    def done(self, db: Database) -> bool:
        return all(op.done(db) for op in self.operations)


class SettingV3(Model):
    """The `setting` table as version 3 created it."""

    key = CharField(max_length=100, primary_key=True)
    value = TextField()

    class Meta:
        table_name = "setting"


class ServerErasureV10(Model):
    """The `server_erasure` table as version 10 created it."""

    id = AutoField()
    message_id = CharField(max_length=998)
    queued_at = DateTimeField()

    class Meta:
        table_name = "server_erasure"


class PendingCommandV11(Model):
    """The `pending_command` table as version 11 created it (its indexes: AddIndex)."""

    id = AutoField()
    token = CharField(max_length=64)
    kind = CharField(max_length=16)
    command = CharField(max_length=16)
    address = CharField(max_length=320)
    inbound_id = IntegerField()
    request_id = IntegerField(null=True)
    state = CharField(max_length=16, default="pending")
    created_at = DateTimeField()
    expires_at = DateTimeField()
    done_at = DateTimeField(null=True)
    done_inbound_id = IntegerField(null=True)

    class Meta:
        table_name = "pending_command"


class AlertV13(Model):
    """The `alert` table as version 12 created it (its index: AddIndex)."""

    id = AutoField()
    kind = CharField(max_length=32)
    request_id = IntegerField(null=True)
    detail = TextField(default="")
    created_at = DateTimeField()
    sent_at = DateTimeField(null=True)
    outbound_id = IntegerField(null=True)

    class Meta:
        table_name = "alert"


class StructureV16(Model):
    """The `structure` table as version 16 created it (its unique index: AddIndex)."""

    id = AutoField()
    key = CharField(max_length=64)
    name = CharField(max_length=200)
    kind = CharField(max_length=32)
    domains = TextField(default="")
    addresses = TextField(default="")
    aliases = TextField(default="")
    notify = BooleanField(null=True)
    imported_at = DateTimeField()

    class Meta:
        table_name = "structure"


class CharterSignatureV17(Model):
    """The `charter_signature` table as version 17 created it (its indexes: AddIndex)."""

    id = AutoField()
    ambassador_id = IntegerField()
    version = CharField(max_length=32)
    covers_minors = BooleanField(default=False)
    token = CharField(max_length=64, null=True)
    asked_at = DateTimeField(null=True)
    reminders_sent = IntegerField(default=0)
    reminded_at = DateTimeField(null=True)
    accepted_at = DateTimeField(null=True)
    how = CharField(max_length=16, null=True)
    inbound_id = IntegerField(null=True)
    proof_message_id = CharField(max_length=998, null=True)
    recorded_by = CharField(max_length=200, null=True)
    created_at = DateTimeField()

    class Meta:
        table_name = "charter_signature"


class WebAccountV19(Model):
    """The `web_account` table as version 19 created it (its unique index: AddIndex)."""

    id = AutoField()
    email = CharField(max_length=320)
    role = CharField(max_length=16)
    password_hash = CharField(max_length=200, null=True)
    active = BooleanField(default=True)
    generation = IntegerField(default=0)
    created_at = DateTimeField()
    disabled_at = DateTimeField(null=True)
    last_signin_at = DateTimeField(null=True)
    link_hash = CharField(max_length=64, null=True)
    link_expires_at = DateTimeField(null=True)
    link_sent_at = DateTimeField(null=True)

    class Meta:
        table_name = "web_account"


class WebSigninV19(Model):
    """The `web_signin` table as version 19 created it (its indexes: AddIndex)."""

    id = AutoField()
    at = DateTimeField()
    email = CharField(max_length=320)
    client = CharField(max_length=64)
    ok = BooleanField(default=False)

    class Meta:
        table_name = "web_signin"


class ConsentV20(Model):
    """The `consent` table as version 20 created it (its indexes: AddIndex)."""

    id = AutoField()
    request_id = IntegerField()
    policy = CharField(max_length=16, default="guardian")
    adult_address = CharField(max_length=320, null=True)
    token = CharField(max_length=64)
    child_token = CharField(max_length=64, null=True)
    state = CharField(max_length=16, default="pending")
    created_at = DateTimeField()
    asked_at = DateTimeField(null=True)
    reminders_sent = IntegerField(default=0)
    reminded_at = DateTimeField(null=True)
    decided_at = DateTimeField(null=True)
    proof_inbound_id = IntegerField(null=True)
    decided_by = CharField(max_length=32, null=True)
    guardian_copy = BooleanField(default=False)
    with_child = BooleanField(default=False)
    writer_is_adult = BooleanField(default=False)

    class Meta:
        table_name = "consent"


def _columns(table: str, **fields: Field) -> tuple[AddColumn, ...]:
    return tuple(AddColumn(table, name, f) for name, f in fields.items())


# --- the migrations, oldest first ---------------------------------------------------------

MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        2,
        "follow-ups: ambassador pause and absence, answer and feedback dates, reminders",
        _columns(
            "ambassador",
            paused=BooleanField(default=False),
            absent_until=DateTimeField(null=True),
            left_at=DateTimeField(null=True),
        )
        + _columns(
            "request",
            first_answer_at=DateTimeField(null=True),
            escalated_at=DateTimeField(null=True),
            feedback_token=CharField(max_length=64, unique=True, null=True),
            feedback_asked_at=DateTimeField(null=True),
            feedback_score=IntegerField(null=True),
            feedback_met=BooleanField(null=True),
            feedback_answered_at=DateTimeField(null=True),
            closed_at=DateTimeField(null=True),
        )
        + _columns(
            "conversation",
            reminders_sent=IntegerField(default=0),
            ambassador_answered_at=DateTimeField(null=True),
            ambassador_last_at=DateTimeField(null=True),
            person_last_at=DateTimeField(null=True),
            person_nudged_at=DateTimeField(null=True),
            closed_reason=CharField(max_length=40, null=True),
        ),
    ),
    Migration(
        3,
        "bounces: ambassador and person bounce state, DSN status, settings (VERP key)",
        _columns(
            "ambassador",
            bounce_state=CharField(max_length=16, default="ok"),
            bounced_at=DateTimeField(null=True),
        )
        + _columns("request", person_bounced_at=DateTimeField(null=True))
        + _columns(
            "outbound_mail",
            bounced_at=DateTimeField(null=True),
            bounce_status=CharField(max_length=16, null=True),
        )
        + (CreateTable(SettingV3),),
    ),
    Migration(
        4,
        "minors: requests from people under 15 flagged for review",
        _columns("request", minor=BooleanField(default=False)),
    ),
    Migration(
        5,
        "indexes for the sender, follow-ups, rate limits and statistics",
        (
            AddIndex("outbound_mail", ("status", "next_attempt_at")),
            AddIndex("outbound_mail", ("purpose", "created_at")),
            AddIndex("conversation", ("state",)),
            AddIndex("event", ("kind", "new_state")),
        ),
    ),
    Migration(
        6,
        "IMAP UIDs and UIDVALIDITY as 64-bit integers (they reach 2**32 - 1)",
        (
            WidenToBigint("inbound_message", "uidvalidity"),
            WidenToBigint("inbound_message", "uid"),
            WidenToBigint("mailbox_state", "uidvalidity"),
            WidenToBigint("mailbox_state", "last_uid"),
        ),
    ),
    Migration(
        7,
        "several daemons: which daemon processed each inbound message",
        _columns("inbound_message", processed_by=CharField(max_length=200, null=True)),
    ),
    Migration(
        8,
        "indexes for routing: ambassadors by ROME code and by title",
        (
            AddIndex("ambassador", ("code_rome",)),
            AddIndex("ambassador", ("title_words",)),
        ),
    ),
    Migration(
        9,
        "index for statistics: each person's requests in order, with age and situation",
        (AddIndex("request", ("person_id", "created_at", "id", "age", "situation")),),
    ),
    Migration(
        10,
        "personal data: server copies of erased mail still to remove from the mailbox",
        (CreateTable(ServerErasureV10),),
    ),
    Migration(
        11,
        "forged senders: commands from unauthenticated mail waiting for confirmation",
        (
            CreateTable(PendingCommandV11),
            AddIndex("pending_command", ("token",), unique=True),
            AddIndex("pending_command", ("address",)),
        ),
    ),
    Migration(
        12,
        "stretched matches: how closely each offer matched its request",
        _columns("conversation", match_quality=CharField(max_length=64, null=True)),
    ),
    Migration(
        13,
        "refused introductions and alerts: the person's mail waits for the intro; "
        "what the coordinator is told at once",
        (
            AddColumn("outbound_mail", "held_for", IntegerField(null=True)),
            CreateTable(AlertV13),
            AddIndex("alert", ("kind", "sent_at")),
        ),
    ),
    Migration(
        14,
        "duplicates: a request merged into the one it repeats (request merge)",
        _columns("request", merged_into=IntegerField(null=True)),
    ),
    Migration(
        15,
        "requests in English: the language each request was written in, for its mails",
        _columns("request", lang=CharField(max_length=8, null=True)),
    ),
    Migration(
        16,
        "partner structures: the imported list, and which one relayed each request",
        (
            CreateTable(StructureV16),
            AddIndex("structure", ("key",), unique=True),
            *_columns(
                "request",
                structure=CharField(max_length=64, null=True),
                structure_kind=CharField(max_length=32, null=True),
                structure_via=CharField(max_length=16, null=True),
                structure_adviser=CharField(max_length=320, null=True),
            ),
        ),
    ),
    Migration(
        17,
        "the ambassadors' charter: each version asked and accepted (with its proof), and "
        "the honorability check of adults who meet children",
        (
            CreateTable(CharterSignatureV17),
            AddIndex("charter_signature", ("token",), unique=True),
            AddIndex("charter_signature", ("ambassador_id",)),
            AddIndex("charter_signature", ("ambassador_id", "version"), unique=True),
            *_columns(
                "ambassador",
                honorability_by=CharField(max_length=200, null=True),
                honorability_on=DateField(null=True),
                honorability_until=DateField(null=True),
            ),
        ),
    ),
    Migration(
        18,
        "adults writing for a young person: who wrote each request (parent, enseignant...), "
        "and the young person's own address when the adult gave it",
        _columns(
            "request",
            writer_role=CharField(max_length=32, null=True),
            young_address=CharField(max_length=320, null=True),
        ),
    ),
    Migration(
        19,
        "the coordinators' console: accounts and sign-in attempts",
        (
            CreateTable(WebAccountV19),
            AddIndex("web_account", ("email",), unique=True),
            CreateTable(WebSigninV19),
            AddIndex("web_signin", ("email", "at")),
            AddIndex("web_signin", ("client", "at")),
        ),
    ),
    Migration(
        20,
        "consent for children under 15: the adult's (or a coordinator's) consent per request",
        (
            CreateTable(ConsentV20),
            AddIndex("consent", ("token",), unique=True),
            AddIndex("consent", ("child_token",), unique=True),
            AddIndex("consent", ("request_id",)),
            AddIndex("consent", ("adult_address",)),
        ),
    ),
)
LATEST = MIGRATIONS[-1].version if MIGRATIONS else BASELINE
