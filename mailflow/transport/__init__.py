"""The mail servers, over the network: IMAP ingest and server copies, SMTP send.

Lives here: storing the shared mailbox's mail, removing erased copies from the server, the
crash-safe sender and its lock, back-off and recovery, the network and database error families.

May import: `mailflow.store` and everything below it, imapclient, aiosmtplib. Not services,
the middle packages or cli. The daemon loop that drives it is `mailflow.daemon`, on top.
"""
