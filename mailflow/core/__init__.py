"""Pure decisions and values: no I/O, no database, no network, no templates.

Lives here: the request life cycle, outcomes, classifying a mail, reading Authentication-Results
and bounces, routing, minors and their consent, absences, business days, the follow-up policy,
addresses and relay tokens, text folding, the frozen values passed between stages, reading an
ambassador's command word (or a person's STOP) from a mail; the parsed rule files (commands,
confirmation, feedback answers, matching; rules_file.py reads one, naming the key at fault),
which context.load_rules reads once into the Context's Rules.

May import: the standard library, `mailflow.config`, `mailflow.clock`, `mailflow.errors`, and
itself. Never peewee, imapclient, aiosmtplib or jinja2.
"""
