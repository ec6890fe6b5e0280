"""Ambassadors' personal data: `person export` and `person forget` on an ambassador's address
(and on an address that is both a person's and an ambassador's)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailflow.admin.directory import import_file
from mailflow.context import Context
from mailflow.inbound.pipeline import parse
from mailflow.store.models import (
    Ambassador,
    Conversation,
    Event,
    InboundMessage,
    OutboundMail,
    Person,
    Request,
)
from tests.mailstack import free_port
from tests.privacy_support import (
    ASK_TOM,
    BAKER,
    LEA,
    TOM,
    cli,
    mail,
    opened,
    relay,
    run,
    traces,
    write_config,
)

RELAY = "relay@mailflow.test"
ZOE = "zoe@users.test"
ASK_ZOE = "Bonjour, je voudrais rencontrer un boulanger à Caen.\nZoé"
ASK_LEA = "Bonjour, j'ai 13 ans et je voudrais rencontrer une boulangère près de Caen.\nLéa"
JULIEN = "amb2@pros.test"  # boulanger à Rouen: the next baker


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_config(tmp_path, mailbox=f"port = {free_port()}")  # nothing listens there


@pytest.fixture
def ctx(config: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Context]:
    monkeypatch.setenv("MAILFLOW_NOW", "2026-03-02T09:00:00")
    with opened(config) as context:
        yield context


def text(row: OutboundMail) -> str:
    return " ".join(parse(bytes(row.raw)).get_body(("plain",)).get_content().split())


def two_requests_for_marie(ctx: Context) -> tuple[Conversation, Conversation]:
    """Léa and Zoé ask for a baker near Caen: both go to Marie, who answers Léa (quoting her
    own address in her signature) and asks for her profile."""
    assert run(ctx, mail(f"Léa <{LEA}>", RELAY, ASK_LEA)) == {"request-offered": 1}
    assert run(ctx, mail(f"Zoé <{ZOE}>", RELAY, ASK_ZOE)) == {"request-offered": 1}
    lea_conv, zoe_conv = Conversation.select().order_by(Conversation.id)
    assert lea_conv.ambassador.email == zoe_conv.ambassador.email == BAKER
    answer = f"Bonjour Léa ({LEA.lower()}), avec plaisir !\nMarie Lefèvre - {BAKER}"
    run(ctx, mail(f"Marie <{BAKER}>", relay(ctx, lea_conv.ambassador_token), answer, "Re"))
    assert run(ctx, mail(f"Marie <{BAKER}>", RELAY, "", "PROFIL")) == {"ambassador-profile": 1}
    return lea_conv, zoe_conv


def test_export_gives_an_ambassador_their_entry_and_conversations_without_persons_addresses(
    ctx: Context, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    two_requests_for_marie(ctx)
    code, out, _ = cli(config, capsys, "person", "export", "AMB1@pros.test")
    assert code == 0
    data = json.loads(out)
    assert data["person"] is None and data["requests"] == []
    entry = data["ambassador"]
    assert (entry["email"], entry["first_name"], entry["last_name"]) == (BAKER, "Marie", "Lefèvre")
    assert [c["request"]["first_name"] for c in entry["conversations"]] == ["Léa", "Zoé"]
    assert entry["conversations"][0]["request"]["trade"] == "Boulanger / Boulangère"
    sent = " ".join(m["text"] for m in data["messages_sent"])
    assert "avec plaisir" in sent and len(data["messages_sent"]) == 2
    assert {"intro", "ambassador_profile"} <= {m["purpose"] for m in data["mails_received"]}
    assert LEA.lower() not in out.lower() and ZOE not in out  # no person's address
    [event] = Event.select().where(Event.kind == "privacy-export")
    assert event.cause == "personal data of ambassador #1 exported"


def test_forget_an_ambassador_hands_over_closes_and_erases(
    ctx: Context, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lea_conv, zoe_conv = two_requests_for_marie(ctx)
    marie = Ambassador.get(Ambassador.email == BAKER)
    assert traces(config, BAKER) and traces(config, "Lefèvre")

    code, out, err = cli(config, capsys, "person", "forget", BAKER)
    assert code == 1 and "remain on the server" in err  # no mailbox in this test
    assert "ambassador #1 forgotten: 2 request(s) handed over" in out

    assert traces(config, BAKER) == [] and traces(config, "Lefèvre") == []
    marie = Ambassador.get_by_id(marie.id)
    assert marie.email == "forgotten-ambassador-1@invalid"
    assert (marie.first_name, marie.last_name, marie.city, marie.active) == ("", "", "", False)
    assert marie.left_at is not None
    # As after a STOP: both requests go to Julien, both persons are told.
    for conv in (lea_conv, zoe_conv):
        assert Conversation.get_by_id(conv.id).state == "closed"
        [new] = Conversation.select().where(
            (Conversation.request == conv.request) & (Conversation.state == "open")
        )
        assert new.ambassador.email == JULIEN and new.request.state == "offered"
    # Léa, whom Marie had answered, hears that her exchange stops and Julien takes over;
    # Zoé, still waiting, simply hears that Julien will answer.
    news = {
        n.request_id: n
        for n in OutboundMail.select().where(OutboundMail.purpose << ["reassigned", "handover"])
    }
    assert set(news) == {lea_conv.request_id, zoe_conv.request_id}
    assert news[lea_conv.request_id].purpose == "handover"
    assert "vient de quitter le réseau" in text(news[lea_conv.request_id])
    assert news[zoe_conv.request_id].purpose == "reassigned"
    assert "ne fait plus partie du réseau" in text(news[zoe_conv.request_id])
    # Her exchanges are emptied; the persons' requests stay whole.
    for row in InboundMessage.select().where(InboundMessage.conversation << [lea_conv, zoe_conv]):
        assert bytes(row.raw) == b""
    assert "boulangère" in Request.get_by_id(lea_conv.request_id).message
    # Her old relay address is closed: Léa writing to it gets a notice, nothing goes on.
    outcome = run(ctx, mail(f"Léa <{LEA}>", relay(ctx, lea_conv.person_token), "Merci !", "Re"))
    assert outcome == {"closed-address": 1}
    [event] = Event.select().where(Event.kind == "ambassador-forgotten")
    assert "ambassador #1 forgotten" in event.cause and "@" not in event.cause
    code, _, err = cli(config, capsys, "person", "forget", "forgotten-ambassador-1@invalid")
    assert code == 2 and "already forgotten" in err


def test_an_address_both_person_and_ambassador_is_erased_in_both_roles(
    ctx: Context, config: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert run(ctx, mail(f"Tom <{TOM}>", RELAY, ASK_TOM)) == {"request-offered": 1}
    directory = tmp_path / "more.csv"
    directory.write_text(
        "email,first_name,last_name,kind,title,sector,department,city,postcode,capacity\n"
        f"{TOM},Tom,Leroy,metier,Électricien,Bâtiment,14,Caen,14000,2\n",
        encoding="utf-8",
    )
    import_file(directory, ctx.ref)
    code, out, _ = cli(config, capsys, "person", "export", TOM)
    data = json.loads(out)
    assert data["person"]["email"] == TOM and data["ambassador"]["last_name"] == "Leroy"

    code, out, _ = cli(config, capsys, "person", "forget", TOM)
    tom = Person.get(Person.email.startswith("forgotten-"))
    assert f"person #{tom.id} forgotten: 1 request(s) anonymised" in out
    assert "ambassador #10 forgotten: 0 request(s) handed over" in out
    assert Ambassador.get_by_id(10).email == "forgotten-ambassador-10@invalid"
    assert traces(config, TOM) == [] and traces(config, "Leroy") == []
