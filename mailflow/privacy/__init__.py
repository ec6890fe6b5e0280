"""Personal data (RGPD): erasure, export, retention, what an erased log keeps.

Lives here: erasing a person or an ambassador, `mailflow person forget`, the export, the
retention that anonymises old requests, the rules for anonymised log rows.

May import: `mailflow.services` and everything below it, `mailflow.transport`'s server copies.
Not the other middle packages (inbound, followup, admin, review), not cli.
"""
