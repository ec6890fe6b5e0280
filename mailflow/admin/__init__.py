"""What coordinators change: the directory, one request, the quarantine, newsletters, a
child's request held for review (minors approve/refuse).

May import: `mailflow.services` and everything below it, `mailflow.transport`'s sender.
Not the other middle packages (inbound, followup, privacy, review), not cli.
"""
