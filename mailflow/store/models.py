"""The database schema: every party, request, conversation, message and state change."""

from __future__ import annotations

from peewee import (
    AutoField,
    BigIntegerField,
    BlobField,
    BooleanField,
    DatabaseProxy,
    DateField,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    Model,
    PostgresqlDatabase,
)

from mailflow.core.outcomes import OutboxStatus
from mailflow.store.fields import CharField, TextField

database = DatabaseProxy()


def storable_id(value: int) -> bool:
    """Whether `value` can be a row id here: a larger number would not simply match nothing,
    the driver would fail on it (ids are 32-bit on PostgreSQL, 64-bit on SQLite)."""
    bits = 31 if isinstance(database.obj, PostgresqlDatabase) else 63
    return 0 < value < 2**bits


class BaseModel(Model):
    class Meta:
        database = database
        legacy_table_names = False


class Ambassador(BaseModel):
    """A volunteer of the directory; `email` is their real, private address."""

    id = AutoField()
    email = CharField(max_length=320, unique=True)
    first_name = CharField(max_length=100)
    last_name = CharField(max_length=100)
    kind = CharField(max_length=16)  # metier | formation | vae
    title = CharField(max_length=200)
    # indexed for routing when it searched in SQL; it now uses route_index (in memory)
    title_words = CharField(max_length=200, index=True)  # folded title, for title matching
    code_rome = CharField(max_length=5, null=True, index=True)
    sector = CharField(max_length=200, default="")
    department = CharField(max_length=3)
    region = CharField(max_length=3, null=True)
    city = CharField(max_length=200, default="")
    insee = CharField(max_length=5, null=True)
    postcode = CharField(max_length=5, default="")
    capacity = IntegerField(default=1)
    active = BooleanField(default=True)  # False once the ambassador left (STOP)
    paused = BooleanField(default=False)  # PAUSE: no new requests until REPRISE
    absent_until = DateTimeField(null=True)  # ABSENT jusqu'au ...: no new requests before
    left_at = DateTimeField(null=True)
    bounce_state = CharField(max_length=16, default="ok")  # ok | failing (hard bounce)
    bounced_at = DateTimeField(null=True)
    last_contacted_at = DateTimeField(null=True)
    created_at = DateTimeField()
    updated_at = DateTimeField()
    # The contrôle d'honorabilité a coordinator recorded (`ambassadors honorability`): who
    # checked, the day it was done, its last valid day (core/charter.py). None: never.
    honorability_by = CharField(max_length=200, null=True)
    honorability_on = DateField(null=True)
    honorability_until = DateField(null=True)


class Person(BaseModel):
    """Someone who asked for a meeting; `email` is their real, private address."""

    id = AutoField()
    email = CharField(max_length=320, unique=True)
    first_name = CharField(max_length=100, null=True)
    created_at = DateTimeField()


class Request(BaseModel):
    """One ask: a trade, training or VAE path, where, by whom."""

    id = AutoField()
    person = ForeignKeyField(Person, backref="requests")
    state = CharField(max_length=32, index=True)
    kind = CharField(max_length=16, null=True)
    trade_text = CharField(max_length=200, null=True)
    code_rome = CharField(max_length=5, null=True)
    rome_label = CharField(max_length=200, null=True)
    diploma = CharField(max_length=50, null=True)
    department = CharField(max_length=3, null=True)
    region = CharField(max_length=3, null=True)
    commune = CharField(max_length=200, null=True)
    insee = CharField(max_length=5, null=True)
    postcode = CharField(max_length=5, null=True)
    age = IntegerField(null=True)
    minor = BooleanField(default=False)  # under 15: coordinators review it (`mailflow minors`)
    situation = CharField(max_length=32, null=True)
    first_name = CharField(max_length=100, null=True)
    message = TextField(default="")
    created_at = DateTimeField(index=True)
    updated_at = DateTimeField()
    first_answer_at = DateTimeField(null=True)  # the first ambassador answer
    escalated_at = DateTimeField(null=True)
    feedback_token = CharField(max_length=64, unique=True, null=True)
    feedback_asked_at = DateTimeField(null=True)
    feedback_score = IntegerField(null=True)  # 1..5
    feedback_met = BooleanField(null=True)  # met the ambassador?
    feedback_answered_at = DateTimeField(null=True)
    closed_at = DateTimeField(null=True)
    person_bounced_at = DateTimeField(null=True)  # mail to the person bounced
    # A duplicate: the id of the request it joined (`request merge`); not counted apart.
    merged_into = IntegerField(null=True)
    # The language the person wrote in ("en"; "fr" or None: French): the one their mails use.
    lang = CharField(max_length=8, null=True)
    # The partner structure that relayed it (core/structures.py, docs/structures.md): its
    # key (None with a kind alone: "ma conseillère Mission Locale"), its kind, how
    # ("from", "through", "text"), and the adviser's address only when the policy tells
    # them of the first answer (erased with the request).
    structure = CharField(max_length=64, null=True)
    structure_kind = CharField(max_length=32, null=True)
    structure_via = CharField(max_length=16, null=True)
    structure_adviser = CharField(max_length=320, null=True)
    # Who wrote, when an adult writes for a young person (core.values.WRITER_ROLES: parent,
    # enseignant, conseiller_orientation...); None: the person writes for themselves.
    writer_role = CharField(max_length=32, null=True)
    # The young person's own address, when the adult who wrote gave it ("il vous écrira de
    # son adresse : ...") or put them in Cc: they may write through the person's relay
    # addresses too (inbound/relay.py); masked from the ambassador like the person's.
    young_address = CharField(max_length=320, null=True)

    class Meta:
        # for `mailflow stats` (stats_sql._people): each person's requests in order, with the
        # age and situation of each, read from the index alone (a request row is wide: its
        # text) and without a sort.
        indexes = ((("person", "created_at", "id", "age", "situation"), False),)


class Conversation(BaseModel):
    """A request offered to one ambassador, with its two relay tokens.

    The ambassador writes to `ambassador_token` (the masked person); the person writes to
    `person_token` (the masked ambassador). Each token names both the conversation and the
    side expected to write through it.
    """

    id = AutoField()
    request = ForeignKeyField(Request, backref="conversations")
    ambassador = ForeignKeyField(Ambassador, backref="conversations")
    ambassador_token = CharField(max_length=64, unique=True)
    person_token = CharField(max_length=64, unique=True)
    state = CharField(max_length=16, default="open", index=True)  # open | closed
    created_at = DateTimeField()  # when the request was offered to this ambassador
    reminders_sent = IntegerField(default=0)
    ambassador_answered_at = DateTimeField(null=True)  # first answer in this conversation
    ambassador_last_at = DateTimeField(null=True)
    person_last_at = DateTimeField(null=True)
    person_nudged_at = DateTimeField(null=True)
    closed_at = DateTimeField(null=True)
    closed_reason = CharField(max_length=40, null=True)
    # "exact", or "stretched:" and what differs from the request ("trade,department"):
    # route.quality. None: offered before the match was recorded (schema version 12).
    match_quality = CharField(max_length=64, null=True)


class InboundMessage(BaseModel):
    """A message read from the shared mailbox, stored before it is touched on the server."""

    id = AutoField()
    message_id = CharField(max_length=998, index=True)
    sha256 = CharField(max_length=64, unique=True)
    # IMAP UIDs and UIDVALIDITY go up to 2**32 - 1: beyond PostgreSQL's 4-byte integer
    uidvalidity = BigIntegerField(null=True)
    uid = BigIntegerField(null=True)
    folder = CharField(max_length=200, default="INBOX")
    raw = BlobField()
    size = IntegerField()
    received_at = DateTimeField()
    status = CharField(max_length=16, default="stored", index=True)  # stored|processed|quarantined
    outcome = CharField(max_length=40, null=True)
    reason = TextField(null=True)
    sender = CharField(max_length=320, null=True)
    subject = TextField(null=True)
    relay_token = CharField(max_length=64, null=True)
    role = CharField(max_length=16, null=True)  # person | ambassador | stranger | ...
    request = ForeignKeyField(Request, null=True, backref="inbound")
    conversation = ForeignKeyField(Conversation, null=True, backref="inbound")
    server_done = BooleanField(default=False)  # moved/flagged on the IMAP server
    processed_at = DateTimeField(null=True)
    processed_by = CharField(max_length=200, null=True)  # host:pid of the daemon (leases.py)


class OutboundMail(BaseModel):
    """The outbox: queued in the transaction of the decision that caused it."""

    id = AutoField()
    idempotency_key = CharField(max_length=200, unique=True)
    purpose = CharField(max_length=40)  # intro | ack | relay | help | unmatched | ...
    message_id = CharField(max_length=998, index=True)
    envelope_from = CharField(max_length=320)
    recipient = CharField(max_length=320)
    recipient_role = CharField(max_length=16)  # person | ambassador | coordinator | sender
    subject = TextField(default="")
    raw = BlobField()
    # queued -> sending -> handed (final "." about to go) -> sent | failed | unconfirmed (the
    # 250 never recorded: may or may not have arrived); bounced after a DSN (see send.py for
    # what each state guarantees after a crash)
    status = CharField(max_length=16, default=OutboxStatus.QUEUED.value, index=True)
    attempts = IntegerField(default=0)
    next_attempt_at = DateTimeField()
    last_error = TextField(null=True)
    created_at = DateTimeField()
    sent_at = DateTimeField(null=True)
    bounced_at = DateTimeField(null=True)
    bounce_status = CharField(max_length=16, null=True)  # DSN status code, e.g. 5.1.1
    request = ForeignKeyField(Request, null=True, backref="outbound")
    conversation = ForeignKeyField(Conversation, null=True, backref="outbound")
    inbound = ForeignKeyField(InboundMessage, null=True, backref="caused")
    # The id of the outbox row this one waits for: sent only once that one was accepted by
    # the server (the person's ack waits for the ambassador's intro, transport/send.py), and
    # cancelled if it was refused (services/unreachable.py). A plain id, as PendingCommand's.
    held_for = IntegerField(null=True)

    class Meta:
        # the sender's due rows; rate limits (same answer to the same address lately)
        indexes = ((("status", "next_attempt_at"), False), (("purpose", "created_at"), False))


class MessageIdMap(BaseModel):
    """Original Message-ID <-> the id of the copy we sent, so threads hold on both sides."""

    id = AutoField()
    conversation = ForeignKeyField(Conversation, backref="message_ids")
    original_id = CharField(max_length=998, index=True)
    relayed_id = CharField(max_length=998, index=True)


class Event(BaseModel):
    """The exchange log: every state change and notable decision, with its cause."""

    id = AutoField()
    at = DateTimeField(index=True)
    kind = CharField(max_length=40)  # state | import | refused | quarantine | ...
    request = ForeignKeyField(Request, null=True, backref="events")
    conversation = ForeignKeyField(Conversation, null=True, backref="events")
    inbound = ForeignKeyField(InboundMessage, null=True, backref="events")
    outbound = ForeignKeyField(OutboundMail, null=True, backref="events")
    old_state = CharField(max_length=32, null=True)
    new_state = CharField(max_length=32, null=True)
    cause = TextField(default="")

    class Meta:
        # stats, retention, the few state events to "reassigned" / "unmatched" among millions
        indexes = ((("kind", "new_state"), False),)


class ServerErasure(BaseModel):
    """A mail whose stored bytes were erased (RGPD) and whose copy on the IMAP server is
    still to be removed, found by its Message-ID: `person forget`, `privacy purge` and the
    daemon remove it and this row when the server answers (transport/server_copies.py)."""

    id = AutoField()
    message_id = CharField(max_length=998)
    queued_at = DateTimeField()


class Setting(BaseModel):
    """Values the installation keeps: the VERP signing key, the last day the scheduler
    retried the unmatched requests (followup_unmatched.RETRY_DAY)."""

    key = CharField(max_length=100, primary_key=True)
    value = TextField()


class MailboxState(BaseModel):
    """How far the mailbox has been read: UIDVALIDITY and the last stored UID per folder."""

    folder = CharField(max_length=200, primary_key=True)
    uidvalidity = BigIntegerField()  # up to 2**32 - 1, as the UIDs
    last_uid = BigIntegerField(default=0)


class PendingCommand(BaseModel):
    """A command from unauthenticated mail, waiting for its sender's confirmation.

    The confirmation mail goes to `address` from `relay+TOKEN@...`: only the owner of the
    address receives it, so only they can answer it (services/confirm.py). Ids are plain integers,
    not foreign keys: erasing a message (RGPD) must not be blocked by its pending command."""

    id = AutoField()
    token = CharField(max_length=64, unique=True)
    kind = CharField(max_length=16)  # ambassador | person-stop | feedback
    command = CharField(max_length=16)  # pause, absent, resume, stop, feedback
    address = CharField(max_length=320, index=True)  # who must confirm, lower-case
    inbound_id = IntegerField()  # the mail that asked for it
    request_id = IntegerField(null=True)  # feedback: the request it is about
    state = CharField(max_length=16, default="pending")  # pending | confirmed | expired
    created_at = DateTimeField()
    expires_at = DateTimeField()
    done_at = DateTimeField(null=True)
    done_inbound_id = IntegerField(null=True)  # the confirming reply


class CharterSignature(BaseModel):
    """One version of the charter asked of one ambassador, and their acceptance (the proof).

    Asked by mail: the welcome mail went from `relay+TOKEN@...` (only the ambassador
    receives it), and the reply that accepted is `inbound_id`, with its Message-ID and time
    (services/charter.py). Signed on paper: the coordinator holds the membership form
    (`charte` column of the directory's CSV): `how` is "paper", `recorded_by` says where it
    was recorded from. Plain ids, not foreign keys, as PendingCommand's: erasing a message
    must not be blocked by the proof it was (the ambassador's erasure removes their rows)."""

    id = AutoField()
    ambassador_id = IntegerField(index=True)
    version = CharField(max_length=32)
    covers_minors = BooleanField(default=False)  # the version's, when it was asked
    token = CharField(max_length=64, unique=True, null=True)  # paper: none
    asked_at = DateTimeField(null=True)  # the welcome mail queued
    reminders_sent = IntegerField(default=0)
    reminded_at = DateTimeField(null=True)
    accepted_at = DateTimeField(null=True)  # None: not accepted (yet)
    how = CharField(max_length=16, null=True)  # mail | paper
    inbound_id = IntegerField(null=True)  # the accepting reply
    proof_message_id = CharField(max_length=998, null=True)  # its Message-ID header
    recorded_by = CharField(max_length=200, null=True)  # paper: the import that recorded it
    created_at = DateTimeField()

    class Meta:
        indexes = ((("ambassador_id", "version"), True),)


class Alert(BaseModel):
    """Something the coordinator is told at once, batched by kind (core/alerts.py): pending
    while `sent_at` is empty, then the outbox row of the summary that told it. Plain ids,
    not foreign keys: erasing a request (RGPD) must not be blocked by its alert."""

    id = AutoField()
    kind = CharField(max_length=32)  # core/alerts.py AlertKind
    request_id = IntegerField(null=True)
    detail = TextField(default="")  # French, one line, for the coordinator; no address
    created_at = DateTimeField()
    sent_at = DateTimeField(null=True)
    outbound_id = IntegerField(null=True)

    class Meta:
        indexes = ((("kind", "sent_at"), False),)


class PartnerStructure(BaseModel):
    """A partner structure imported from the coordinator's CSV (`mailflow structures
    import`); when any row is here, this list replaces rules/structures.toml's. Domains,
    addresses and aliases are kept as text, one per line."""

    id = AutoField()
    key = CharField(max_length=64, unique=True)
    name = CharField(max_length=200)
    kind = CharField(max_length=32)
    domains = TextField(default="")
    addresses = TextField(default="")
    aliases = TextField(default="")
    notify = BooleanField(null=True)  # None: rules/structures.toml's [policy] notify
    imported_at = DateTimeField()

    class Meta:
        table_name = "structure"


class WebAccount(BaseModel):
    """A coordinator's or an observer's account on the console (`mailflow web user add`).
    `generation` goes up at each sign-out and when the account is disabled: the session
    cookies signed before then are refused (web/sessions.py)."""

    id = AutoField()
    email = CharField(max_length=320, unique=True)  # lower-case
    role = CharField(max_length=16)  # coordinator | observer
    password_hash = CharField(max_length=200, null=True)  # argon2; None: link sign-in only
    active = BooleanField(default=True)
    generation = IntegerField(default=0)
    created_at = DateTimeField()
    disabled_at = DateTimeField(null=True)
    last_signin_at = DateTimeField(null=True)
    # The sign-in link mailed last (web/accounts.py issue_link): its SHA-256, good once.
    link_hash = CharField(max_length=64, null=True)
    link_expires_at = DateTimeField(null=True)
    link_sent_at = DateTimeField(null=True)


class WebSignin(BaseModel):
    """One sign-in attempt, good or bad: what the limits per account and per client address
    count (rules/console.toml [signin])."""

    id = AutoField()
    at = DateTimeField()
    email = CharField(max_length=320)  # as typed, lower-case (maybe no account's)
    client = CharField(max_length=64)
    ok = BooleanField(default=False)

    class Meta:
        indexes = ((("email", "at"), False), (("client", "at"), False))


class Consent(BaseModel):
    """The consent asked for a child's request (core/consent.py, services/consent.py): of an
    adult (`policy` guardian) or of a coordinator (review). The adult's mail comes from
    `relay+token@...`, the child's (asking for an adult's address) from
    `relay+child_token@...`; the reply that decided is kept as proof (`proof_inbound_id`).
    Plain ids, not foreign keys: erasing a request (RGPD) must not be blocked by it."""

    id = AutoField()
    request_id = IntegerField(index=True)
    policy = CharField(max_length=16, default="guardian")  # guardian | review
    adult_address = CharField(max_length=320, null=True, index=True)  # lower-case
    token = CharField(max_length=64, unique=True)  # the adult's relay token
    child_token = CharField(max_length=64, unique=True, null=True)
    state = CharField(max_length=16, default="pending")  # pending|given|refused|expired|withdrawn
    created_at = DateTimeField()
    asked_at = DateTimeField(null=True)  # when the adult was asked (None: address not known)
    reminders_sent = IntegerField(default=0)
    reminded_at = DateTimeField(null=True)
    decided_at = DateTimeField(null=True)
    proof_inbound_id = IntegerField(null=True)  # the reply (or None: a coordinator's command)
    decided_by = CharField(max_length=32, null=True)  # adult | coordinator | expiry
    guardian_copy = BooleanField(default=False)  # the adult is kept in copy of the exchange
    with_child = BooleanField(default=False)  # the adult and the child wrote together (Cc)
    writer_is_adult = BooleanField(default=False)  # the adult wrote the request themselves


ALL_MODELS = [
    Ambassador,
    Person,
    Request,
    Conversation,
    InboundMessage,
    OutboundMail,
    MessageIdMap,
    Event,
    MailboxState,
    Setting,
    ServerErasure,
    PendingCommand,
    Alert,
    PartnerStructure,
    CharterSignature,
    WebAccount,
    WebSignin,
    Consent,
]
