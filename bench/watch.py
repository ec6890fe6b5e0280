"""Seeing mail arrive: a tight IMAP poll of one recipient INBOX.

IDLE would add Dovecot's fixed 500 ms notification delay to every figure, so the watcher
sends NOOP every `interval` seconds instead (Dovecot re-scans the Maildir on NOOP) and
stamps a message with the time of the NOOP reply that first showed it. The detection
granularity is therefore `interval` plus one IMAP round trip; nothing is subtracted.
"""

from __future__ import annotations

import re
import threading
import time

from imapclient import IMAPClient

from tests.mailstack import HOST, PASSWORD, MailStack

MARKER = re.compile(rb"\[bench (\d+)\]")


def marker(n: int) -> str:
    return f"[bench {n}]"


class ArrivalWatcher:
    """Records `arrivals[n] = time.monotonic()` for each message whose Subject says [bench n]."""

    def __init__(self, stack: MailStack, user: str, interval: float = 0.01) -> None:
        self.stack, self.user, self.interval = stack, user, interval
        self.arrivals: dict[int, float] = {}
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.error: BaseException | None = None

    def __enter__(self) -> ArrivalWatcher:
        self._thread.start()
        self._ready.wait(30)
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(30)

    def wait_for(self, wanted: set[int], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not wanted <= self.arrivals.keys() and time.monotonic() < deadline:
            if self.error:
                raise self.error
            time.sleep(0.05)

    def _run(self) -> None:
        try:
            with IMAPClient(HOST, port=self.stack.imap_port, ssl=False, timeout=30) as client:
                client.login(self.user, PASSWORD)
                client.select_folder("INBOX", readonly=True)
                last = max(client.search("ALL") or [0])
                self._ready.set()
                while not self._stop.is_set():
                    _, responses = client.noop()
                    seen_at = time.monotonic()
                    if any(len(r) > 1 and r[1] == b"EXISTS" for r in responses):
                        last = self._collect(client, last, seen_at)
                    time.sleep(self.interval)
        except BaseException as exc:  # reported to the waiting thread
            self.error = exc
            self._ready.set()

    def _collect(self, client: IMAPClient, last: int, seen_at: float) -> int:
        uids = [u for u in client.search(["UID", f"{last + 1}:*"]) if u > last]
        if not uids:
            return last
        fetched = client.fetch(uids, ["BODY.PEEK[HEADER.FIELDS (SUBJECT)]"])
        for data in fetched.values():
            found = MARKER.search(data[b"BODY[HEADER.FIELDS (SUBJECT)]"])
            if found:
                self.arrivals.setdefault(int(found.group(1)), seen_at)
        return max(uids)
