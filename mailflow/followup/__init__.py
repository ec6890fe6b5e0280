"""Chasing every request to an answer, and the coordinator's daily digest.

Lives here: the daily run, reminders and reassignment, feedback and closing, unmatched
requests, the digest and its parts.

May import: `mailflow.services` and everything below it, `mailflow.transport`'s outbox states.
Not the other middle packages (inbound, privacy, admin, review), not cli.
"""
