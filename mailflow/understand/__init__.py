"""Understanding a person's request: what they ask, where, who they are.

Lives here: the request reader and its fields, the understanding rules, word tokens, the
indexes of French places and ROME trades, and the referential that holds them.

May import: `mailflow.core` and the top-level config, clock and errors. Never peewee,
imapclient, aiosmtplib or jinja2.
"""
