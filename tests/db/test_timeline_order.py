"""`mailflow log`: a request's timeline in the order things happened, within one second too.

Times are shown to the second, but stored to the microsecond: a reply received 0.6 s after
the introduction it answers comes after it, and the request's creation comes before the
mails it causes. At one same instant (a frozen MAILFLOW_NOW), what a received message
caused follows it, state changes before the mails they send.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from mailflow.cli.main import main
from mailflow.store.models import (
    Ambassador,
    Conversation,
    Event,
    InboundMessage,
    OutboundMail,
    Person,
    Request,
)
from tests.inprocess import close_context, open_context, write_config

SECOND = datetime(2026, 3, 2, 10, 0, 0)


def ms(n: int) -> datetime:
    return SECOND + timedelta(milliseconds=n)


@pytest.fixture
def config(tmp_path: Path) -> Iterator[Path]:
    open_context(tmp_path)
    yield write_config(tmp_path)
    close_context()


def inbound(n: int, at: datetime, request: Request, **fields: object) -> InboundMessage:
    return InboundMessage.create(
        message_id=f"<in{n}@x>", sha256=f"{n:064d}", raw=b"x", size=1, received_at=at,
        request=request, status="processed", **fields,
    )  # fmt: skip


def outbound(key: str, at: datetime, request: Request, cause: InboundMessage, **f: object) -> None:
    OutboundMail.create(
        idempotency_key=key, purpose=key, message_id=f"<{key}@x>", envelope_from="b@x.test",
        recipient="r@x.test", recipient_role="ambassador", subject=key, raw=b"x",
        next_attempt_at=at, created_at=at, request=request, inbound=cause, **f,
    )  # fmt: skip


def state(at: datetime, request: Request, cause: InboundMessage | None, old: str | None, new: str):
    Event.create(
        at=at, kind="state", request=request, inbound=cause, old_state=old, new_state=new,
        cause=f"to {new}",
    )  # fmt: skip


def timeline(config: Path, capsys: pytest.CaptureFixture[str], request_id: int) -> list[str]:
    assert main(["--config", str(config), "log", "--json", "--request", str(request_id)]) == 0
    [r] = json.loads(capsys.readouterr().out)["requests"]
    return [
        e["subject"] if e["type"] == "message" else f"{e['type'].upper()} {e.get('to', '')}".strip()
        for e in r["timeline"]
    ]


def test_entries_of_one_second_in_the_order_they_happened(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    person = Person.create(email="lea@users.test", first_name="Léa", created_at=SECOND)
    request = Request.create(person=person, state="answered", created_at=ms(200),
                             updated_at=ms(950))  # fmt: skip
    conv = Conversation.create(
        request=request, ambassador=Ambassador.get(Ambassador.email == "amb1@pros.test"),
        ambassador_token="a1", person_token="p1", created_at=ms(300),
    )  # fmt: skip
    # written in an order unlike the real one: the reply's rows first
    reply = inbound(2, ms(900), request, subject="reply", role="ambassador", conversation=conv)
    outbound("relay", ms(950), request, reply, conversation=conv)
    state(ms(950), request, reply, "offered", "answered")
    asked = inbound(1, ms(100), request, subject="asked", role="person")
    state(ms(300), request, asked, "new", "offered")
    outbound("intro", ms(300), request, asked, conversation=conv)  # the same instant
    state(ms(200), request, asked, None, "new")
    assert timeline(config, capsys, request.id) == [
        "asked",
        "STATE new",
        "STATE offered",  # the state change before the mail it sends, same instant
        "intro",
        "reply",  # 0.6 s after the intro, in the same second
        "STATE answered",
        "relay",
    ]
    assert main(["--config", str(config), "log", "--request", str(request.id)]) == 0
    text = capsys.readouterr().out
    # 10:00 UTC in early March (winter time, UTC+1) reads 11:00 in Paris
    lines = [line for line in text.splitlines() if "2026-03-02 11:00:00" in line]
    assert len(lines) == 7
    assert "STATE - -> new" in lines[1] and "'intro'" in lines[3] and "'reply'" in lines[4]


def test_at_one_frozen_instant_each_message_is_followed_by_what_it_caused(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    person = Person.create(email="lea@users.test", first_name="Léa", created_at=SECOND)
    request = Request.create(person=person, state="answered", created_at=SECOND,
                             updated_at=SECOND)  # fmt: skip
    first = inbound(1, SECOND, request, subject="asked", role="person")
    second = inbound(2, SECOND, request, subject="reply", role="ambassador")
    outbound("relay", SECOND, request, second)
    state(SECOND, request, second, "offered", "answered")
    outbound("intro", SECOND, request, first)
    Event.create(at=SECOND, kind="reminder", request=request, cause="by the scheduler")
    state(SECOND, request, first, None, "new")
    state(SECOND, request, first, "new", "offered")
    assert timeline(config, capsys, request.id) == [
        "asked",
        "STATE new",
        "STATE offered",
        "intro",
        "reply",
        "STATE answered",
        "relay",
        "REMINDER",  # caused by no message: after those that were
    ]
