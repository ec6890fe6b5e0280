"""The bare forwarder: the least a relay must do, as the yardstick for mailflow.

IDLE on a shared mailbox, fetch what is new, hand each message unchanged to SMTP for one
fixed recipient, move it out of the inbox. No parsing, routing, database or retry: the
time it takes is what the mail stack and the two protocols cost on this machine.

    python -m bench.forwarder IMAP_PORT SMTP_PORT MAILBOX RECIPIENT
"""

from __future__ import annotations

import signal
import smtplib
import sys
import threading

from imapclient import IMAPClient

HOST, PASSWORD, DONE_FOLDER, BATCH = "127.0.0.1", "secret", "done", 50
RECHECK_SECONDS = 5  # at most this long in IDLE before looking for new mail again


def forward_new(client: IMAPClient, smtp_port: int, mailbox: str, to: str, last: int) -> int:
    """Forward every message above UID `last` over one SMTP connection (as mailflow's
    outbox flush does); returns the highest UID forwarded."""
    uids = sorted(u for u in client.search(["UID", f"{last + 1}:*"]) if u > last)
    if not uids:
        return last
    with smtplib.SMTP(HOST, smtp_port, timeout=60) as smtp:
        for start in range(0, len(uids), BATCH):
            batch = uids[start : start + BATCH]
            for _, data in sorted(client.fetch(batch, ["BODY.PEEK[]"]).items()):
                smtp.sendmail(mailbox, [to], data[b"BODY[]"])
            client.move(batch, DONE_FOLDER)
            last = batch[-1]
    return last


def serve(imap_port: int, smtp_port: int, mailbox: str, to: str, stop: threading.Event) -> None:
    with IMAPClient(HOST, port=imap_port, ssl=False, timeout=60) as client:
        client.login(mailbox, PASSWORD)
        if not client.folder_exists(DONE_FOLDER):
            client.create_folder(DONE_FOLDER)
        client.select_folder("INBOX")
        last = 0
        while not stop.is_set():
            # Until a search finds nothing: mail that arrived meanwhile was announced in the
            # reply to an earlier command, and IDLE would not announce it again.
            while (done := forward_new(client, smtp_port, mailbox, to, last)) != last:
                last = done
            # A message that arrives between the search and IDLE is announced before IDLE
            # starts, and that EXISTS is not seen again: leave IDLE every few seconds to
            # look (mailflow's daemon checks for unread mail before each IDLE). The common
            # path, an EXISTS during IDLE, is as fast as before.
            client.idle()
            try:
                for _ in range(RECHECK_SECONDS):
                    if stop.is_set():
                        break
                    responses = client.idle_check(timeout=1)
                    if any(len(r) > 1 and r[1] == b"EXISTS" for r in responses):
                        break
            finally:
                client.idle_done()


def main(argv: list[str]) -> int:
    imap_port, smtp_port, mailbox, to = int(argv[0]), int(argv[1]), argv[2], argv[3]
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    serve(imap_port, smtp_port, mailbox, to, stop)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
