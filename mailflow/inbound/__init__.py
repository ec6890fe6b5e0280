"""One module per kind of inbound mail, and the pipeline that dispatches them.

Lives here: the pipeline, relaying within a conversation, ambassadors' commands, automated
mail, bounces, answers to a request for details or for feedback, size limits, sender checks.

May import: `mailflow.services` and everything below it, `mailflow.transport`'s parsing and
error families. Not the other middle packages (followup, privacy, admin, review), not cli.
"""
