"""Operations the stages share: composing mails, notices, rate limits, offers.

Lives here: rendering a template into a mail, automatic notices, the brakes on automatic mail,
offering a request to an ambassador (intake), reassigning it, closing conversations (handover),
ending a request, how parties are shown in mails.

May import: `mailflow.store`, `mailflow.understand.mail`, `mailflow.masking`, `mailflow.core`,
the top-level modules, jinja2. Not inbound, followup, privacy, admin, review, transport, cli.
Known cycle (issue 11, step 2 breaks it): `ending` reaches `inbound.ambassador_mail`;
`notices` and `ratelimit` import each other (inside a function).
"""
