"""What a dead sender left behind, put right by the next lock holder (see send.py).

Kept apart from sending because it decides, without any server, what each row's state
means after a crash: `sending` was never ended and is sent again, `handed` may have
arrived and is not.
"""

from __future__ import annotations

import logging

from mailflow.clock import stamp
from mailflow.core.outcomes import OutboxStatus
from mailflow.store.models import OutboundMail, database
from mailflow.store.record import log_event

log = logging.getLogger(f"{__package__}.send")  # its lines keep the name they had in send.py
UNCONFIRMED = OutboxStatus.UNCONFIRMED  # handed to SMTP, the server's 250 never recorded


def recover() -> tuple[int, int]:
    """Rows a dead sender left: `sending` ones are queued again, `handed` ones are not sent
    again but marked `unconfirmed` (see send.py's docstring); each is logged. Returns
    (requeued, unconfirmed)."""
    requeued = unconfirmed = 0
    left = OutboundMail.select().where(
        OutboundMail.status.in_([OutboxStatus.SENDING, OutboxStatus.HANDED])
    )
    for row in left.order_by(OutboundMail.id):  # logged in the same order on every backend
        since = f"{row.next_attempt_at:%Y-%m-%d %H:%M:%S}"
        if row.status == OutboxStatus.SENDING:
            row.status = OutboxStatus.QUEUED
            kind = "send-recovered"
            why = f"found 'sending' since {since} after a crash, before DATA ended: queued again"
            requeued += 1
        else:
            row.status, row.sent_at = UNCONFIRMED, stamp()
            row.last_error = f"250 not seen: the sender died after handing it over ({since})"
            kind = "send-unconfirmed"
            why = (
                f"handed to SMTP at {since}, then the sender died before the server's answer "
                "was recorded: unconfirmed (it may or may not have arrived), not sent again"
            )
            unconfirmed += 1
        with database.atomic():
            row.save()
            log_event(
                kind,
                f"{row.purpose} mail {why}",
                outbound=row,
                request=row.request_id,
                conversation=row.conversation_id,
            )
        log.warning("mail %s %s", row.id, why)
    return requeued, unconfirmed
