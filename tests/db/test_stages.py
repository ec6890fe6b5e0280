"""The inbound flow as a table (inbound/pipeline.py STAGES): locking reads the same table as
dispatch, and locks everything the former hand-kept rule locked, never less.

The former rule is kept here, word for word, as the oracle: every message of the corpus
(tests/corpus) and of a scenario (relays to several conversations, an ambassador's command and its
confirmation, a person's STOP, bounces, out-of-office) is locked by both, and the two scopes
must be the same."""

from __future__ import annotations

from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from mailflow.context import Context
from mailflow.core.addresses import sender
from mailflow.core.classify import AUTO_REPLY, BOUNCE, Classification
from mailflow.inbound import pipeline
from mailflow.inbound.automated import return_path_address, returned_mail
from mailflow.inbound.relay import find_conversation
from mailflow.services.confirm import AMBASSADOR, find_pending
from mailflow.services.ending import open_requests
from mailflow.store.directory import find_ambassador
from mailflow.store.models import Conversation, InboundMessage, PendingCommand, Request
from tests.corpus_runner import corpus_files, fresh_context, load_expected, run_file
from tests.inprocess import close_context, mail_bytes, open_context
from tests.inprocess import store_and_process as run

Scope = tuple[tuple[int, ...], tuple[str, ...], bool]
NOW = "2026-11-20T09:00:00"  # a Friday
REQUEST = "Je voudrais rencontrer une boulangère près de Caen."


def todays_rule(
    ctx: Context,
    msg: EmailMessage,
    token: str | None,
    verdict: Classification,
    others: list[str] | None = None,
) -> Scope:
    """pipeline.lock_for before the table (main, f94b404), returning what it locked."""
    who = sender(msg)
    address = who[1] if who else ""
    requests: list[int] = []
    confirming = False
    for each in [token] + (others or []) if token else []:
        conv, _ = find_conversation(each)
        if conv is not None:
            requests.append(conv.request_id)
        else:
            asked = Request.get_or_none(Request.feedback_token == each)
            requests += [asked.id] if asked is not None else []
            pending = find_pending(each) if asked is None else None
            requests += [pending.request_id] if pending and pending.request_id else []
            confirming = confirming or (pending is not None and pending.kind == AMBASSADOR)
    returned = returned_mail(return_path_address(msg, ctx.cfg.relay), ctx.cfg.relay)
    if returned is not None and returned.request_id is not None:
        requests.append(returned.request_id)
    wide = verdict.outcome in (BOUNCE, AUTO_REPLY) or (
        not verdict.automated
        and (confirming or not token)
        and bool(address)
        and find_ambassador(address)
    )
    if address and not verdict.automated:
        requests += [r.id for r in open_requests(address)]
    return _plain(requests, [address], bool(wide))


def _plain(requests: object, addresses: object, wide: bool) -> Scope:
    return (
        tuple(sorted(set(requests))),  # type: ignore[call-overload]
        tuple(sorted({a.strip().lower() for a in addresses if a})),  # type: ignore[attr-defined]
        wide,
    )


@pytest.fixture
def compared(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Scope, Scope]]:
    """Every lock_for call: (the stage's kind, the former rule's scope, the table's)."""
    seen: list[tuple[str, Scope, Scope]] = []
    real = pipeline.lock_for

    def both(ctx, inbound, msg, token, verdict, others=None):  # type: ignore[no-untyped-def]
        before = todays_rule(ctx, msg, token, verdict, others)
        scope = real(ctx, inbound, msg, token, verdict, others)
        kind = pipeline.locking_stage(pipeline.Mail(ctx, inbound, msg, token, verdict)).kind
        seen.append((kind, before, _plain(scope.requests, scope.addresses, scope.whole_directory)))
        return scope

    monkeypatch.setattr(pipeline, "lock_for", both)
    return seen


def _differing(seen: list[tuple[str, Scope, Scope]]) -> list[tuple[str, Scope, Scope]]:
    return [(kind, before, now) for kind, before, now in seen if before != now]


FILES = corpus_files()


@pytest.mark.parametrize("eml", FILES, ids=[p.name for p in FILES])
def test_every_corpus_message_is_locked_as_before(
    eml: Path, tmp_path: Path, compared: list[tuple[str, Scope, Scope]]
) -> None:
    with fresh_context(tmp_path) as ctx:  # a fresh database per file, as tests/db/test_corpus.py
        run_file(ctx, eml, load_expected(eml))
    assert compared and _differing(compared) == []


@pytest.fixture
def ctx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Context]:
    monkeypatch.setenv("MAILFLOW_NOW", NOW)
    yield open_context(tmp_path)  # not trusted: commands wait for a confirmation
    close_context()


def test_commands_confirmations_and_relays_to_several_conversations_lock_as_before(
    ctx: Context, compared: list[tuple[str, Scope, Scope]]
) -> None:
    lea, paul = "Léa <lea@users.test>", "Paul <paul@users.test>"
    assert run(ctx, mail_bytes(REQUEST, sender=lea)) == {"request-offered": 1}
    assert run(ctx, mail_bytes(REQUEST, sender=paul)) == {"request-offered": 1}
    first, second = Conversation.select().order_by(Conversation.id)
    baker = first.ambassador.email
    # the ambassador answers both conversations in one mail
    to = ", ".join(f"relay+{c.ambassador_token}@mailflow.test" for c in (first, second))
    run(ctx, mail_bytes("Bonjour, avec plaisir.", sender=baker, to=to, subject="Re: Demande"))
    run(ctx, mail_bytes("Merci !", sender=lea, to=f"relay+{first.person_token}@mailflow.test"))
    # an unauthenticated PAUSE asks for a confirmation, answered through its relay address
    run(ctx, mail_bytes("\n", sender=baker, subject="PAUSE", authenticated=False))
    pending = PendingCommand.get()
    run(ctx, mail_bytes("OUI", sender=baker, to=f"relay+{pending.token}@mailflow.test"))
    run(ctx, mail_bytes("\n", sender=paul, subject="STOP"))
    run(ctx, mail_bytes("Absent", sender=baker, subject="Absent", Auto_Submitted="auto-replied"))
    assert InboundMessage.select().where(InboundMessage.status == "stored").count() == 0
    assert _differing(compared) == []
    kinds = [kind for kind, _, _ in compared]
    assert (
        kinds.count("no sender") == 7 and "automated: auto-reply, spam, list, our own loop" in kinds
    )
    several = [now for _, _, now in compared if len(now[0]) >= 2]
    assert several, compared  # the relay to both conversations locked both requests
    wide = [now for kind, _, now in compared if now[2] and kind == "no sender"]
    assert len(wide) == 2, compared  # the PAUSE and its confirmation took the directory
    assert compared[-1][2][2]  # the out-of-office took it too


def test_dispatch_and_locking_read_one_table() -> None:
    kinds = [stage.kind for stage in pipeline.STAGES]
    assert len(kinds) == len(set(kinds)) == 14  # 13; a child names an adult (issue 14)
    assert kinds[0] == "a bounce" and kinds[-1] == "a new request"
    for stage in pipeline.STAGES:  # every stage locks its requests and its sender
        assert {pipeline.Lock.REQUESTS, pipeline.Lock.SENDER} <= stage.locks, stage.kind
