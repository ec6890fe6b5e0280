"""When a batch of alerts is due (core/alerts.py), and how a refused intro reads as a
bounce (services/unreachable.py): decisions from data, no database."""

from __future__ import annotations

from datetime import datetime, timedelta

from mailflow.core.alerts import ALERT_KINDS, AlertKind, due_kinds
from mailflow.core.dsn import PERMANENT
from mailflow.services.unreachable import smtp_verdict

T = datetime(2026, 12, 7, 10, 0)
M = timedelta(minutes=1)


def test_a_kind_waits_the_batch_delay_then_the_hour() -> None:
    pending = {AlertKind.UNDER_15: T}
    assert due_kinds(pending, {}, T + 4 * M, 5, 60) == []
    assert due_kinds(pending, {}, T + 5 * M, 5, 60) == ["under-15"]
    last = {AlertKind.UNDER_15: T - 30 * M}
    assert due_kinds(pending, last, T + 5 * M, 5, 60) == []
    assert due_kinds(pending, last, T + 30 * M, 5, 60) == ["under-15"]


def test_kinds_are_capped_apart_and_listed_in_order() -> None:
    pending = {AlertKind.ESCALATED: T, AlertKind.INTRO_REFUSED: T, "later-kind": T}
    last = {AlertKind.ESCALATED: T - 10 * M}
    assert due_kinds(pending, last, T + 6 * M, 5, 60) == ["intro-refused", "later-kind"]
    assert ALERT_KINDS == ("under-15", "intro-refused", "help-unclear", "escalated")


def test_a_5xx_reply_is_a_permanent_failure_with_its_status() -> None:
    error = "550 5.1.1 <ghost@pros.test>: Recipient address rejected: User unknown"
    verdict = smtp_verdict(error, "ghost@pros.test")
    assert verdict is not None
    assert (verdict.severity, verdict.status, verdict.diagnostic) == (PERMANENT, "5.1.1", error)
    assert smtp_verdict("554 Transaction failed", "x@y").status == "554"
    assert smtp_verdict("gave up after 8 attempts: 451 try later", "x@y") is None
