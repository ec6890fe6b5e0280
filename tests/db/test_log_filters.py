"""`mailflow log` filters, and parties named by role and first name (never by address)."""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterator
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import pytest

from mailflow.admin.directory import import_file
from mailflow.cli.main import main
from mailflow.config import PROJECT_ROOT, load_config
from mailflow.context import load_context
from mailflow.inbound.pipeline import process_pending
from mailflow.store.db import open_database
from mailflow.store.models import Conversation, InboundMessage, database
from mailflow.transport.ingest import store
from tests.testconfig import write_config

ASKS = (  # (when, body, sender): requests #1, #2, #3
    (
        "2026-03-02T09:00:00",
        "Je voudrais rencontrer une boulangère près de Caen.",
        "Léa Martin <lea@users.test>",
    ),
    (
        "2026-03-10T09:00:00",
        "Bonjour, j'ai 16 ans et je voudrais rencontrer une aide-soignante près de Saint-Lô.",
        "Tom Petit <tom@users.test>",
    ),
    (
        "2026-04-01T09:00:00",
        "Je voudrais rencontrer un charpentier à Lyon.",
        "Zoé Durand <zoe@users.test>",
    ),
)


def mail(body: str, sender: str, to: str = "relay@mailflow.test") -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, to, "Demande"
    msg["Message-ID"] = make_msgid(domain="users.test")
    msg.set_content(body)
    return bytes(msg)


def build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Three requests through the real pipeline; Marie (amb1) answers Léa through the relay."""
    path = write_config(tmp_path)
    cfg = load_config(path)
    open_database(cfg.database.url, tmp_path)
    ctx = load_context(cfg)
    import_file(PROJECT_ROOT / "examples" / "ambassadors.csv", ctx.ref)
    for now, body, sender in ASKS:
        monkeypatch.setenv("MAILFLOW_NOW", now)
        store(mail(body, sender), "INBOX", 1, None)
        process_pending(ctx)
    conv = Conversation.get(Conversation.request == 1)
    monkeypatch.setenv("MAILFLOW_NOW", "2026-03-03T10:00:00")
    to = f"relay+{conv.ambassador_token}@mailflow.test"
    store(mail("Bonjour Léa, avec plaisir !", "Marie Lefèvre <amb1@pros.test>", to), "INBOX", 1, 2)
    assert process_pending(ctx) == {"relayed": 1}
    store(mail("Ceci n'est pas une demande", "MAILER-DAEMON@example.org"), "INBOX", 1, 3)
    process_pending(ctx)
    return path


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    yield build(tmp_path, monkeypatch)
    database.obj.close()
    database.initialize(None)


def log(config: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["--config", str(config), "log", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def ids(config: Path, capsys: pytest.CaptureFixture[str], *args: str) -> list[int]:
    code, out, err = log(config, capsys, "--json", *args)
    assert code == 0, err
    data = json.loads(out)
    assert "other_messages" not in data  # filtered: only requests
    return [r["id"] for r in data["requests"]]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--person", "lea@users.test"), [1]),
        (("--person", "LEA@Users.Test"), [1]),
        (("--person", "nobody@users.test"), []),
        (("--ambassador", "amb1@pros.test"), [1]),
        (("--ambassador", "amb4@pros.test"), [2]),
        (("--ambassador", "amb2@pros.test"), []),
        (("--trade", "boulangere"), [1]),
        (("--trade", "BOULANGÈRE"), [1]),
        (("--trade", "d11"), [1]),
        (("--trade", "D1102"), [1]),
        (("--trade", "aide soignante"), [2]),
        (("--trade", "Aide-Soignant"), [2]),
        (("--trade", "charpentière"), [3]),
        (("--trade", "astronaute"), []),
        (("--department", "14"), [1]),
        (("--department", "50"), [2]),
        (("--state", "unmatched"), [3]),
        (("--state", "answered"), [1]),
        (("--since", "2026-03-05"), [2, 3]),
        (("--until", "2026-03-10"), [1, 2]),  # inclusive: created 2026-03-10 09:00
        (("--since", "2026-03-10", "--until", "2026-03-10"), [2]),
        (("--outcome", "relayed"), [1]),
        (("--outcome", "request-unmatched"), [3]),
        (("--outcome", "bounce"), []),
        (("--department", "14", "--state", "unmatched"), []),
        (("--trade", "boulanger", "--person", "lea@users.test", "--state", "answered"), [1]),
    ],
)
def test_filters(
    config: Path, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], expected: list[int]
) -> None:
    assert ids(config, capsys, *args) == expected


def test_unfiltered_and_request_json_keep_their_shape(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = log(config, capsys, "--json")
    data = json.loads(out)
    assert code == 0 and list(data) == ["requests", "other_messages"]
    assert [r["id"] for r in data["requests"]] == [1, 2, 3]
    assert [m["outcome"] for m in data["other_messages"]] == ["bounce"]
    code, out, _ = log(config, capsys, "--request", "2", "--json")
    data = json.loads(out)
    assert code == 0 and list(data) == ["requests"] and data["requests"][0]["id"] == 2
    code, _, err = log(config, capsys, "--request", "99")
    assert code == 2 and "no request #99" in err


def test_messages_name_their_parties_without_addresses(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = log(config, capsys, "--json", "--request", "1")
    assert code == 0 and "@" not in out
    messages = [e for e in json.loads(out)["requests"][0]["timeline"] if e["type"] == "message"]
    parties = {(e["direction"], e.get("purpose")): (e["from"], e["to"]) for e in messages}
    marie = {"role": "ambassador", "name": "Marie L."}
    lea = {"role": "person", "name": "Léa"}
    mailflow = {"role": "mailflow", "name": None}
    inbound = [(e["from"], e["to"]) for e in messages if e["direction"] == "in"]
    assert inbound == [(lea, mailflow), (marie, lea)]
    assert parties[("out", "intro")] == (mailflow, marie)
    assert parties[("out", "ack")] == (mailflow, lea)
    assert parties[("out", "relay")] == (marie, lea)
    code, out, _ = log(config, capsys)
    assert code == 0 and "@" not in out
    assert "from ambassador Marie L. to person Léa" in out
    assert "intro from mailflow to ambassador Marie L." in out


def test_empty_result_and_bad_filters(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = log(config, capsys, "--department", "75")
    assert code == 0 and out == "No request matches these filters.\n"
    for args, message in [
        (("--state", "lost"), "--state 'lost': one of new, needs_info"),
        (("--since", "02/03/2026"), "--since '02/03/2026': expected a date YYYY-MM-DD"),
        (("--until", "2026-13-01"), "--until '2026-13-01'"),
        (("--since", "2026-04-01", "--until", "2026-03-01"), "is after --until"),
        (("--outcome", "nonsense"), "--outcome 'nonsense': one of auto-reply, bounce,"),
        (("--outcome", "relayed "), None),  # spaces around a valid name are fine
    ]:
        code, out, err = log(config, capsys, *args)
        if message is None:
            assert code == 0 and out.startswith("Times in Europe/Paris\nRequest #1 "), err
            continue
        assert code == 2 and message in err and len(err.strip().splitlines()) == 1
        assert out == ""
    _, _, err = log(config, capsys, "--outcome", "nonsense")
    for valid in ("relayed", "request-offered", "too-large", "ambassador-stop"):
        assert f" {valid}," in err or err.rstrip().endswith(f" {valid}")


def test_an_outcome_only_an_older_mailflow_wrote_is_still_a_valid_filter(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    InboundMessage.update(outcome="legacy-outcome").where(InboundMessage.id == 1).execute()
    assert ids(config, capsys, "--outcome", "legacy-outcome") == [1]
    _, _, err = log(config, capsys, "--outcome", "nonsense")
    assert err.rstrip().endswith(", legacy-outcome")


def test_the_outcome_list_names_every_outcome_mailflow_gives() -> None:
    from mailflow.core import classify
    from mailflow.core.outcomes import OUTCOMES
    from mailflow.inbound import (
        ambassador_mail,
        automated,
        bounces,
        feedback,
        limits,
        pipeline,
        relay,
        sender_check,
    )
    from mailflow.services import ending, intake, ratelimit

    named = {
        classify.AUTO_REPLY, classify.BOUNCE, classify.MAILING_LIST, classify.OWN_LOOP,
        bounces.BOUNCE_RECORDED, bounces.BOUNCE_UNMATCHED, pipeline.QUARANTINED,
        pipeline.NO_SENDER, pipeline.OWN_ADDRESS, limits.TOO_LARGE, intake.OFFERED,
        intake.NEEDS_INFO, intake.UNMATCHED, relay.RELAYED, relay.REFUSED_STRANGER,
        relay.REFUSED_UNKNOWN, relay.CLOSED_NOTICE, ratelimit.RATE_LIMITED,
        feedback.FEEDBACK_RECORDED, feedback.FEEDBACK_UNCLEAR, ambassador_mail.REFUSED,
        classify.SPAM, automated.TO_RETURN_PATH, ending.PERSON_STOP,
        sender_check.UNAUTHENTICATED,
    }  # fmt: skip
    source = Path(ambassador_mail.__file__).read_text(encoding="utf-8")
    named |= set(re.findall(r'"(ambassador-[a-z-]+)"', source))
    corpus = PROJECT_ROOT / "tests" / "corpus"
    for path in corpus.glob("*.expected.toml"):
        named.add(tomllib.loads(path.read_text(encoding="utf-8"))["outcome"])
    assert len(named) > 25 and named <= set(OUTCOMES)
    assert len(set(OUTCOMES)) == len(OUTCOMES)


def test_a_request_id_beyond_any_database_is_unknown_not_a_crash(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = log(config, capsys, "--request", "99999999999999999999")
    assert (code, out) == (2, "")
    assert err == "mailflow: no request #99999999999999999999\n"
