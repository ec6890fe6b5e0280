"""One module per kind of inbound mail, and the pipeline that dispatches them.

Lives here: the pipeline, relaying within a conversation, ambassadors' commands, automated mail,
bounces, answers to a request for details or for feedback, replies about a child's consent, size
limits, sender checks (holding what fails; the proof itself is services/sender_proof.py), the
hourly relay cap and the release of the mail it held (`pipeline.release_calm`, called by the
daemon's scheduled job). The reading of command words is core/commands.py, the ambassador lookup
store/directory.py.

May import: `mailflow.services` and everything below it, `mailflow.transport`'s parsing and
error families. Not the other middle packages (followup, privacy, admin, review), not cli.
"""
