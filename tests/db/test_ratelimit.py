"""The brakes: one automatic answer per kind and sender per interval; a relay quota per hour."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mailflow.context import Context
from mailflow.services.ratelimit import recent_auto_reply
from mailflow.store.models import Alert, Conversation, Event, OutboundMail
from tests.inprocess import close_context, mail_bytes, open_context
from tests.inprocess import store_and_process as run

LIMITS = """
[limits]
auto_reply_interval_days = 3
max_relayed_per_conversation_per_hour = 2
"""


@pytest.fixture
def ctx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Context]:
    monkeypatch.setenv("MAILFLOW_NOW", "2026-03-02T09:00:00")
    yield open_context(tmp_path, LIMITS, trusted=True)
    close_context()


def mail(body: str, sender: str = "Léa <lea@users.test>", to: str = "relay@mailflow.test") -> bytes:
    return mail_bytes(body, sender, to, subject="Bonjour")


def sent(purpose: str, to: str | None = None) -> int:
    query = OutboundMail.select().where(OutboundMail.purpose == purpose)
    return query.where(OutboundMail.recipient == to).count() if to else query.count()


VAGUE = "Bonjour, je voudrais des informations s'il vous plaît."


def test_same_automatic_answer_at_most_once_per_interval(
    ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run(ctx, mail(VAGUE), mail(VAGUE + " Merci"), mail(VAGUE + " !")) == {
        "request-needs-info": 3
    }
    # the second mail completes the first request: the shorter answer for someone who does
    # not know yet (services/unclear.py), once; the third gets nothing new, the coordinator
    # is told each time: by a notice the first time, then (the hour since that notice not
    # passed) by a pending alert for the hourly summary (services/alerts.py)
    assert sent("help", "lea@users.test") == 1
    assert sent("help_unclear", "lea@users.test") == 1
    limited = Event.select().where(Event.kind == "rate-limited")
    assert limited.count() == 1 and "help_unclear not sent again" in limited[0].cause
    assert sent("help_unclear_coordinator", "coordinator@mailflow.test") == 1
    alerts = Alert.select().where(Alert.kind == "help-unclear").order_by(Alert.id)
    assert [a.sent_at is None for a in alerts] == [False, True]
    assert "rien reçu de nouveau" in alerts[-1].detail
    assert run(ctx, mail(VAGUE, sender="tom@users.test")) == {"request-needs-info": 1}
    assert sent("help", "tom@users.test") == 1  # another sender is answered
    monkeypatch.setenv("MAILFLOW_NOW", "2026-03-05T09:00:01")  # three days later
    run(ctx, mail(VAGUE + " (encore)"))
    assert sent("help_unclear", "lea@users.test") == 2


def test_the_limit_is_per_kind_and_case_blind(ctx: Context) -> None:
    run(ctx, mail(VAGUE))
    assert recent_auto_reply(ctx.cfg.limits, "help", "LEA@users.test") is not None
    assert recent_auto_reply(ctx.cfg.limits, "unmatched", "lea@users.test") is None
    run(ctx, mail("Je voudrais rencontrer un pilote de ligne à Rouen.", sender="LEA@users.test"))
    assert sent("unmatched") == 1  # a different kind of answer still goes out


def test_command_receipts_are_always_sent(ctx: Context) -> None:
    """An ambassador who writes PAUSE, REPRISE, PAUSE gets each confirmation."""
    for word in ("PAUSE", "REPRISE", "PAUSE"):
        run(ctx, mail(word, sender="amb1@pros.test"))
    assert sent("ambassador_pause") == 2 and sent("ambassador_resume") == 1


def test_interval_zero_turns_the_limit_off(ctx: Context) -> None:
    from dataclasses import replace

    limits = replace(ctx.cfg.limits, auto_reply_interval_days=0)
    run(ctx, mail(VAGUE))
    assert recent_auto_reply(limits, "help", "lea@users.test") is None


def test_relay_quota_per_conversation_and_hour(
    ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run(ctx, mail("Je voudrais rencontrer une boulangère près de Caen.")) == {
        "request-offered": 1
    }
    conv = Conversation.get()
    to_person = f"relay+{conv.ambassador_token}@mailflow.test"
    replies = [mail(f"Réponse {i}", sender="amb1@pros.test", to=to_person) for i in range(4)]
    assert run(ctx, *replies) == {"relayed": 2, "rate-limited": 2}
    assert sent("relay") == 2
    assert sent("rate_limited_coordinator", "coordinator@mailflow.test") == 1  # once a day
    [first, _] = Event.select().where(Event.kind == "rate-limited").order_by(Event.id)
    assert "2 messages relayed" in first.cause and "cap 2" in first.cause
    monkeypatch.setenv("MAILFLOW_NOW", "2026-03-02T10:00:01")
    assert run(ctx, mail("Réponse 5", sender="amb1@pros.test", to=to_person)) == {"relayed": 1}


def unknown_token(n: int) -> str:
    """A relay address of the right shape that no conversation has."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    return f"relay+{'q' * 22}{letters[n // 26]}{letters[n % 26]}@mailflow.test"


def test_forged_senders_on_unknown_relay_addresses_get_capped_refusals_and_one_notice(
    ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    forged = [mail("hello", sender=f"s{i}@spam.test", to=unknown_token(i)) for i in range(10)]
    assert len({unknown_token(i) for i in range(10)}) == 10
    assert run(ctx, *forged) == {"refused-unknown-token": 10}
    cap = ctx.cfg.limits.max_stranger_refusals_per_day
    assert cap == 5  # the default
    assert sent("stranger_refused") == cap  # no backscatter beyond the daily cap
    assert sent("stranger_coordinator", "coordinator@mailflow.test") == 1
    limited = [e.cause for e in Event.select().where(Event.kind == "rate-limited")]
    assert sum("stranger_refused not sent" in c for c in limited) == 10 - cap
    assert sum("stranger_coordinator not sent" in c for c in limited) == 9
    monkeypatch.setenv("MAILFLOW_NOW", "2026-03-03T09:00:01")  # the next day: one more notice
    assert run(ctx, mail("hello", sender="s0@spam.test", to=unknown_token(11))) == {
        "refused-unknown-token": 1
    }
    assert sent("stranger_coordinator") == 2


def test_one_stranger_writing_five_times_gets_one_refusal_and_the_coordinator_one_notice(
    ctx: Context,
) -> None:
    again = [mail(f"hello {i}", sender="same@spam.test", to=unknown_token(i)) for i in range(5)]
    assert run(ctx, *again) == {"refused-unknown-token": 5}
    assert sent("stranger_refused", "same@spam.test") == 1
    assert sent("stranger_coordinator") == 1
    assert OutboundMail.select().count() == 2


def test_strangers_on_a_conversation_are_told_to_the_coordinator_once_a_day_per_conversation(
    ctx: Context,
) -> None:
    run(ctx, mail("Je voudrais rencontrer une boulangère près de Caen."))
    conv = Conversation.get()
    to_amb = f"relay+{conv.person_token}@mailflow.test"
    strangers = [mail(f"Bonjour {i}", sender=f"x{i}@other.test", to=to_amb) for i in range(3)]
    assert run(ctx, *strangers) == {"refused-stranger": 3}
    assert sent("stranger_coordinator") == 1
    assert sent("stranger_refused") == 3  # three senders, under the daily cap
    assert sent("relay") == 0
