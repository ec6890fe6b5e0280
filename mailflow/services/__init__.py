"""Operations the stages share: composing mails, notices, rate limits, offers.

Lives here: rendering a template into a mail, automatic notices, the brakes on automatic mail,
offering a request to an ambassador (intake), reassigning it, closing conversations (handover),
ending a request (the person's STOP, the close after feedback), how parties are shown in mails,
whether a mail proves its sender (sender_proof) and the confirmation a command from unproven
mail waits for (confirm: asked, then expired by the daemon's scheduled job), and a child's
request held for an adult's consent (consent: asked, recorded, given, refused, withdrawn).

May import: `mailflow.store`, `mailflow.understand.mail`, `mailflow.masking`, `mailflow.core`,
the top-level modules, jinja2. Not inbound, followup, privacy, admin, review, transport, cli.
Within it: `notices` reads `ratelimit`, never the other way (the relay cap's notice is in
inbound/rate_hold.py).
"""
