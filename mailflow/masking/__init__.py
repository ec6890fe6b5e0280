"""The relayed copy, masked: headers, bodies, MIME text, addresses hidden.

Lives here: the relayed message part by part, the headers it keeps, the scrubbing of addresses
(and names) in any text, the ways an address is written, the leak check.

May import: `mailflow.core` and the top-level config, clock and errors. Never peewee,
imapclient, aiosmtplib or jinja2.
"""
