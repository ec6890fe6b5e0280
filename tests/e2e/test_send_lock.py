"""One sender at a time, on both backends: while another process holds the outbox (an
advisory lock on PostgreSQL, a lock file beside SQLite's), a flush leaves everything to it,
even the rows a dead sender left; once that process is gone, the next flush takes over."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailflow.clock import stamp
from mailflow.config import SmtpConfig
from mailflow.store.db import open_database
from mailflow.store.models import OutboundMail, database
from mailflow.transport.send import FlushResult, flush_outbox
from tests.inprocess import mail_bytes

HOLD = """
import sys, time
from pathlib import Path
from mailflow.store.db import open_database
from mailflow.transport.send_lock import sender_lock
open_database(sys.argv[1], Path(sys.argv[2]))
with sender_lock() as mine:
    print("holding" if mine else "refused", flush=True)
    time.sleep(120)
"""
NOWHERE = SmtpConfig(host="127.0.0.1", port=1, timeout_seconds=2)  # nothing listens there


@pytest.fixture
def db(tmp_path: Path, database_url: str) -> Iterator[None]:
    handle = open_database(database_url, tmp_path)
    yield
    handle.close()
    database.initialize(None)


def left_sending() -> OutboundMail:
    """A row a killed sender left in `sending`: the next sender must requeue it."""
    return OutboundMail.create(
        idempotency_key="left-by-a-dead-sender",
        purpose="ack",
        message_id="<left@mailflow.test>",
        envelope_from="relay@mailflow.test",
        recipient="lea@users.test",
        recipient_role="person",
        raw=mail_bytes("Bonjour"),
        status="sending",
        next_attempt_at=stamp(),
        created_at=stamp(),
    )


def test_a_second_sender_leaves_the_outbox_to_the_first(
    db: None, tmp_path: Path, database_url: str
) -> None:
    row = left_sending()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, database_url, str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        assert flush_outbox(NOWHERE) == FlushResult(busy=True)  # nothing tried
        assert OutboundMail.get_by_id(row.id).status == "sending"  # not touched
    finally:
        holder.kill()  # a sender that dies: its lock goes with it
        holder.wait(timeout=30)
    result = flush_outbox(NOWHERE)  # now this process sends: recovers, then tries SMTP
    assert OutboundMail.get_by_id(row.id).status == "queued"
    assert result.deferred == 1 and result.sent == 0
