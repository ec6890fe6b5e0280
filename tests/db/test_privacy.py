"""Personal data: export, erasure leaving no trace, retention, minors; each action an event.

The mailbox of these tests never answers: the server part of an erasure is reported as left
to do (tests/test_privacy_server_e2e.py erases on the real Dovecot)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from mailflow.config import PROJECT_ROOT, load_config
from mailflow.context import Context
from mailflow.privacy.retention import anonymise_expired
from mailflow.store.models import (
    Ambassador,
    Conversation,
    Event,
    InboundMessage,
    OutboundMail,
    Person,
    Request,
    ServerErasure,
)
from tests.mailstack import free_port
from tests.privacy_support import (
    ASK_TOM,
    LEA,
    TOM,
    cli,
    confirmed,
    converse,
    file_traces,
    mail,
    opened,
    row_traces,
    run,
    statistics,
    traces,
    write_config,
)

RELAY = "relay@mailflow.test"
UNKNOWN_TOKEN = "relay+" + "a" * 24 + "@mailflow.test"
PILOT = "Bonjour, j'ai 17 ans et je voudrais rencontrer un pilote de ligne à Rouen."


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_config(tmp_path, mailbox=f"port = {free_port()}")  # nothing listens there


@pytest.fixture
def ctx(config: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Context]:
    monkeypatch.setenv("MAILFLOW_NOW", "2026-03-02T09:00:00")
    with opened(config) as context:
        yield context


def emptied() -> set[tuple[str, int]]:
    """The stored mails whose bytes are empty, in and out."""
    return {("in", m.id) for m in InboundMessage.select() if not bytes(m.raw)} | {
        ("out", m.id) for m in OutboundMail.select() if not bytes(m.raw)
    }


def server_left(err: str) -> bool:
    """The one line saying the server part is not done, and how to finish it."""
    return (
        err.count("\n") == 1
        and err.startswith("mailflow: copies of")
        and "remain on the server" in err
        and "again" in err
    )


def test_export_holds_everything_but_no_ambassador_address(
    ctx: Context, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    converse(ctx)
    code, out, _ = cli(config, capsys, "person", "export", "LEA@users.test")
    assert code == 0
    data = json.loads(out)
    assert data["person"]["email"] == LEA.lower() and data["ambassador"] is None
    [request] = data["requests"]
    assert request["age"] == 13 and request["minor"] is True and request["code_rome"] == "D1102"
    assert "boulangère" in request["message"]
    assert request["conversations"][0]["ambassador"] == {"id": 1, "first_name": "Marie"}
    assert any(e["kind"] == "state" for e in request["events"])
    texts = [m["text"] for m in data["messages_sent"]]
    assert len(texts) == 3 and "boulangère" in texts[0] and "Coucou Tom" in texts[2]
    assert data["messages_sent"][0]["headers"]["subject"] == "Demande"
    received = {m["purpose"] for m in data["mails_received"]}
    assert {"ack", "relay", "stranger_refused"} <= received
    assert any("avec plaisir" in m["text"] for m in data["mails_received"])
    assert "pros.test" not in out.lower()  # no ambassador address, even quoted
    assert Event.select().where(Event.kind == "privacy-export").count() == 1


def test_unknown_person_is_one_line_exit_2(
    ctx: Context, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = cli(config, capsys, "person", "export", "nobody@users.test")
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and "nobody@users.test" in err
    assert cli(config, capsys, "person", "forget", "nobody@users.test")[0] == 2


def test_forget_leaves_no_trace_and_keeps_statistics(
    ctx: Context, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    converse(ctx)
    before = statistics(config, capsys)
    # the test can see the address before, in the rows and in the files...
    assert row_traces(LEA) and file_traces(config, LEA)
    lea = Person.get(Person.email == LEA.lower())
    notice = OutboundMail.get(OutboundMail.purpose == "stranger_coordinator")
    assert LEA.lower().encode() in bytes(notice.raw).lower()
    hers = InboundMessage.select().where(InboundMessage.sender == LEA.lower())
    her_mail = {m.message_id for m in hers}

    code, out, err = cli(config, capsys, "person", "forget", LEA)
    # the database part is done; the server's copies are not, and the command says so
    assert code == 1 and f"person #{lea.id} forgotten" in out and server_left(err)
    assert f"person forget {LEA}" in err

    assert traces(config, LEA) == []  # ...and nowhere after: file bytes, columns, blobs
    assert traces(config, "Léa") == []
    assert statistics(config, capsys) == before
    lea = Person.get_by_id(lea.id)
    assert lea.email == f"forgotten-{lea.id}@invalid" and lea.first_name is None
    request = Request.get(Request.person == lea)
    assert (request.message, request.first_name, request.state) == ("", None, "withdrawn")
    assert Conversation.get(Conversation.request == request).state == "closed"
    for row in InboundMessage.select().where(InboundMessage.request == request):
        assert bytes(row.raw) == b""
    assert not OutboundMail.select().where(
        (OutboundMail.request == request) & (OutboundMail.status == "queued")
    )
    # the server copies of what she wrote wait for the mailbox, by Message-ID
    assert her_mail <= {e.message_id for e in ServerErasure.select()}
    # Tom is untouched.
    tom = Request.get(Request.age == 17)
    assert tom.first_name == "Tom" and "plombier" in tom.message
    assert bytes(OutboundMail.get(OutboundMail.recipient == TOM).raw)
    [event] = Event.select().where(Event.kind == "person-forgotten")
    assert "person forgotten" in event.cause and "@" not in event.cause
    assert cli(config, capsys, "person", "export", LEA)[0] == 2

    # Run again (the way to finish once the mailbox answers): nothing more in the database.
    code, out, err = cli(config, capsys, "person", "forget", LEA)
    assert code == 1 and "no person or ambassador holds" in out and server_left(err)
    assert Event.select().where(Event.kind == "person-forgotten").count() == 1
    assert statistics(config, capsys) == before


def test_placeholders_are_refused_and_counts_are_honest(
    ctx: Context, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    converse(ctx)
    # Someone whose address holds Léa's: another person, left whole by her erasure.
    malea = "malea@users.test"
    run(ctx, mail(f"Maléa <{malea}>", RELAY, ASK_TOM.replace("Tom", "Maléa")))
    lea, tom = Person.get(Person.email == LEA.lower()), Person.get(Person.email == TOM)
    full = emptied()
    code, out, _ = cli(config, capsys, "person", "forget", LEA)
    counted = int(out.split("request(s) anonymised, ")[1].split(" ")[0])
    assert counted == len(emptied() - full)  # each mail emptied counted once

    events = Event.select().where(Event.kind == "person-forgotten").count()
    for command in ("forget", "export"):
        code, out, err = cli(config, capsys, "person", command, f"Forgotten-{lea.id}@invalid")
        assert (code, out) == (2, "") and err.count("\n") == 1
        assert "placeholder of someone already forgotten" in err
    assert Event.select().where(Event.kind == "person-forgotten").count() == events

    # A second person forgotten gets a placeholder of their own (no clash on person.email).
    before = emptied()
    code, out, _ = cli(config, capsys, "person", "forget", TOM)
    assert f"person #{tom.id} forgotten: 1 request(s) anonymised" in out
    assert int(out.split("anonymised, ")[1].split(" ")[0]) == len(emptied() - before)
    assert Person.get_by_id(lea.id).email == f"forgotten-{lea.id}@invalid"
    assert Person.get_by_id(tom.id).email == f"forgotten-{tom.id}@invalid"

    other = Person.get(Person.email == malea)  # untouched, rows and mail
    assert other.first_name == "Maléa"
    assert "plombier" in Request.get(Request.person == other).message
    assert all(bytes(m.raw) for m in InboundMessage.select().where(InboundMessage.sender == malea))


def test_retention_anonymises_only_old_finished_requests(
    ctx: Context, config: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    converse(ctx)
    lea_request = Request.get(Request.age == 13)
    Request.update(state="closed", closed_at=at("2026-03-10T09:00:00")).where(
        Request.id == lea_request.id
    ).execute()
    before = statistics(config, capsys)

    monkeypatch.setenv("MAILFLOW_NOW", "2026-04-01T09:00:00")  # 22 days later: not yet
    code, out, _ = cli(config, capsys, "privacy", "purge", "--dry-run")
    assert code == 0 and "0 request(s) would be anonymised" in out
    monkeypatch.setenv("MAILFLOW_NOW", "2026-04-15T09:00:00")  # 36 days: due
    code, out, _ = cli(config, capsys, "privacy", "purge", "--dry-run")
    assert f"request #{lea_request.id} [closed] closed 2026-03-10" in out
    assert "1 request(s) would be" in out
    assert Request.get_by_id(lea_request.id).message  # a dry run changes nothing

    code, out, err = cli(config, capsys, "privacy", "purge")
    assert code == 1 and "1 request(s) anonymised" in out  # the server's copies stay queued
    assert "privacy purge" in err and server_left(err)
    assert traces(config, LEA) == []  # nothing left of her: forgotten
    assert statistics(config, capsys) == before
    tom = Request.get(Request.age == 17)  # open: kept whole
    assert tom.message and tom.first_name == "Tom"
    assert bytes(OutboundMail.get(OutboundMail.recipient == TOM).raw)
    assert not anonymise_expired(ctx, at("2026-04-15T09:00:00"))  # done once
    kinds = [e.cause for e in Event.select().where(Event.kind == "privacy-purge")]
    assert len(kinds) == 3 and "dry run" in kinds[0]


def test_retention_covers_unmatched_requests_and_mail_linked_to_no_request(
    ctx: Context, config: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    stranger, paul, zoe, julien = (
        "inconnu@ailleurs.test",
        "paul@users.test",
        "zoe@users.test",
        "amb2@pros.test",
    )
    assert run(ctx, mail(f"Paul <{paul}>", RELAY, PILOT)) == {"request-unmatched": 1}
    assert run(ctx, mail(stranger, UNKNOWN_TOKEN, "Je cherche quelqu'un", "Coucou"))
    pause = mail(f"Julien <{julien}>", RELAY, "", "PAUSE")
    assert confirmed(ctx, pause) == {"ambassador-pause": 1}
    run(ctx, mail(f"Tom <{TOM}>", RELAY, ASK_TOM))  # offered: live
    monkeypatch.setenv("MAILFLOW_NOW", "2026-03-22T09:00:00")
    assert run(ctx, mail(f"Zoé <{zoe}>", RELAY, PILOT)) == {"request-unmatched": 1}
    before = statistics(config, capsys)
    assert row_traces(stranger) and row_traces(paul)
    paul_request = Request.get(Request.person == Person.get(Person.email == paul))

    monkeypatch.setenv("MAILFLOW_NOW", "2026-03-31T09:00:00")  # 29 days: nothing yet
    code, out, _ = cli(config, capsys, "privacy", "purge", "--dry-run")
    assert "0 request(s) would be" in out and "0 mail(s) linked to no request would be" in out
    monkeypatch.setenv("MAILFLOW_NOW", "2026-04-02T09:00:00")  # 31 days after the first ones
    code, out, err = cli(config, capsys, "privacy", "purge")
    assert f"request #{paul_request.id} [unmatched] unmatched since 2026-03-02" in out
    assert "1 request(s) anonymised" in out
    assert "3 mail(s) linked to no request anonymised" in out  # + Julien's confirmation
    assert code == 1 and server_left(err)  # their server copies: for the mailbox

    paul_request = Request.get_by_id(paul_request.id)
    assert (paul_request.state, paul_request.message) == ("expired", "")
    assert traces(config, paul) == [] and traces(config, stranger) == []
    assert statistics(config, capsys) == before
    command = InboundMessage.get(InboundMessage.outcome == "ambassador-pause")
    assert bytes(command.raw) == b"" and command.sender != julien
    assert bytes(OutboundMail.get(OutboundMail.purpose == "ambassador_pause").raw) == b""
    assert Ambassador.get(Ambassador.email == julien).paused  # the directory is no mail
    zoe_request = Request.get(Request.person == Person.get(Person.email == zoe))
    assert zoe_request.state == "unmatched" and "pilote" in zoe_request.message
    assert Request.get(Request.person == Person.get(Person.email == TOM)).message

    monkeypatch.setenv("MAILFLOW_NOW", "2026-04-22T09:00:00")  # Zoé's turn, 31 days on
    code, out, _ = cli(config, capsys, "privacy", "purge")
    assert "1 request(s) anonymised" in out and "0 mail(s) linked" in out
    assert traces(config, zoe) == [] and statistics(config, capsys) == before


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_minors_are_flagged_and_listed(
    ctx: Context, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    converse(ctx)
    assert [r.age for r in Request.select().where(Request.minor == True)] == [13]  # noqa: E712
    code, out, _ = cli(config, capsys, "minors")
    assert code == 0
    lea = Request.get(Request.age == 13)
    assert f"#{lea.id} [answered] age 13" in out or f"#{lea.id} [in_conversation] age 13" in out
    assert "Marie" in out and f"mailflow log --request {lea.id}" in out
    assert "age 17" not in out
    code, out, _ = cli(config, capsys, "minors", "--json")
    [row] = json.loads(out)
    assert row["ambassador"] == "Marie" and "amb1" not in out
    assert Event.select().where(Event.kind == "minors-review").count() == 2


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ("[privacy]\nretention_days = 0\n", "privacy.retention_days must be at least 1 day"),
        ('[privacy]\nretention_days = "un an"\n', "privacy.retention_days must be int"),
        ("[privacy]\nkeep = 3\n", "unknown key privacy.keep"),
        ("[newsletter]\nper_minute = -1\n", "newsletter.per_minute must not be negative"),
    ],
)
def test_privacy_and_newsletter_settings_are_checked(
    tmp_path: Path, section: str, message: str
) -> None:
    from mailflow.errors import ConfigError

    text = (PROJECT_ROOT / "mailflow.example.toml").read_text(encoding="utf-8")
    path = tmp_path / "mailflow.toml"
    path.write_text(text + "\n" + section, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_config(path)
    path.write_text(text, encoding="utf-8")
    cfg = load_config(path)
    assert (cfg.privacy.retention_days, cfg.newsletter.per_minute) == (365, 60)
