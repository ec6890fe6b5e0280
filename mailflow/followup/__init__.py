"""Chasing every request to an answer, and the coordinator's daily digest.

Lives here: the follow-up steps (`run.followup_steps`), reminders and reassignment, asking for
feedback, unmatched requests, children's requests waiting for consent, the digest and its parts.
The scheduled job that runs them with the other packages' timed work (confirmations expired,
held mail released, retention) is `mailflow.daemon.run_followups`, above the middle packages;
closing a request is services/ending.py.

May import: `mailflow.services` and everything below it, `mailflow.transport`'s outbox states.
Not the other middle packages (inbound, privacy, admin, review), not cli.
"""
