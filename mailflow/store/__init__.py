"""The database: schema, migrations, leases, the exchange log, outbox rows.

Lives here: the peewee models and their text fields, opening the database, schema upgrades,
the leases several daemons share, the event log, queueing outgoing mail, VERP return paths
(whose secret is stored), the directory's lookups (an ambassador by address).

May import: `mailflow.core`, the top-level modules, peewee.
"""
