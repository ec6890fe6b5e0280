"""Read-only views for coordinators: log, one message, the directory, stats, report.

May import: `mailflow.services` and everything below it. Writes nothing but what it shows.
Not the other middle packages (inbound, followup, privacy, admin), not cli.
"""
