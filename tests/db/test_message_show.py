"""`mailflow message show ID [--raw] [--outbound]`: one stored message, summary or exact bytes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mailflow.cli.main import main
from mailflow.store.models import InboundMessage, OutboundMail, database
from mailflow.transport.ingest import store
from tests.db.test_log_filters import build

# Latin-1 body, CRLF line ends, a header with a raw non-ASCII byte: must come back untouched.
ODD = (
    b"From: =?utf-8?q?Z=C3=A9lie?= <zelie@users.test>\r\n"
    b"To: relay@mailflow.test\r\n"
    b"Subject: caf\xe9\r\n"
    b"Message-ID: <odd@users.test>\r\n"
    b"Content-Type: text/plain; charset=latin-1\r\n"
    b"\r\n"
    b"Je voudrais rencontrer un p\xe2tissier \xe0 Caen.\r\n\x00\xff\r\n"
)


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    yield build(tmp_path, monkeypatch)
    database.obj.close()
    database.initialize(None)


class Capture:
    """stdout as bytes and stderr as text, through the real file descriptors."""

    def __init__(self, capfdbinary: pytest.CaptureFixture[bytes]) -> None:
        self.cap = capfdbinary

    def run(self, config: Path, *args: str) -> tuple[int, bytes, str]:
        code = main(["--config", str(config), "message", "show", *args])
        out = self.cap.readouterr()
        return code, out.out, out.err.decode()


@pytest.fixture
def cli(capfdbinary: pytest.CaptureFixture[bytes]) -> Capture:
    return Capture(capfdbinary)


def test_inbound_summary(config: Path, cli: Capture) -> None:
    row = InboundMessage.get(InboundMessage.outcome == "relayed")
    code, out, _ = cli.run(config, str(row.id))
    text = out.decode()
    assert code == 0
    assert text.startswith(f"inbound message #{row.id} (processed)\n")
    assert "outcome:      relayed" in text
    # received at 10:00 UTC on 3 March (tests.db.test_log_filters.build): 11:00 in Paris (UTC+1)
    assert "times in:     Europe/Paris\nreceived:     2026-03-03 11:00:00\n" in text
    assert "processed:    2026-03-03 11:00:00\n" in text
    assert "from role:    ambassador" in text
    assert "request:      #1 [answered] metier: Boulanger / Boulangère" in text
    assert "conversation: #1" in text
    assert "Subject: Demande" in text and "From: Marie Lefèvre <amb1@pros.test>" in text
    assert "avec plaisir" not in text  # a summary, not the body
    relay = OutboundMail.get(OutboundMail.inbound == row.id)
    assert f"caused:       #{relay.id}" in text


def test_quarantined_message_shows_its_reason(config: Path, cli: Capture) -> None:
    row = store(ODD, "INBOX", 1, 9)
    InboundMessage.update(status="quarantined", reason="RuntimeError: disk on fire").where(
        InboundMessage.id == row.id
    ).execute()
    code, out, _ = cli.run(config, str(row.id))
    text = out.decode()
    assert (
        code == 0 and "(quarantined)" in text and "reason:       RuntimeError: disk on fire" in text
    )
    assert "request:      -" in text and "From: Zélie <zelie@users.test>" in text


def test_raw_is_the_exact_stored_bytes(config: Path, cli: Capture) -> None:
    row = store(ODD, "INBOX", 1, 9)
    code, out, _ = cli.run(config, str(row.id), "--raw")
    assert code == 0 and out == ODD
    intro = OutboundMail.get(OutboundMail.purpose == "intro")
    code, out, _ = cli.run(config, str(intro.id), "--outbound", "--raw")
    assert code == 0 and out == bytes(intro.raw)


def test_outbound_summary(config: Path, cli: Capture) -> None:
    intro = OutboundMail.get(OutboundMail.purpose == "intro")
    code, out, _ = cli.run(config, str(intro.id), "--outbound")
    text = out.decode()
    assert code == 0 and text.startswith(f"outbound mail #{intro.id} (queued)\n")
    assert "purpose:      intro" in text and "to role:      ambassador" in text
    # queued with Léa's request at 09:00 UTC on 2 March: 10:00 in Paris; not sent yet
    assert (
        "times in:     Europe/Paris\nqueued:       2026-03-02 10:00:00\nsent:         -\n" in text
    )
    assert "request:      #1" in text and f"caused by:    inbound #{intro.inbound_id}" in text
    assert "Subject: Une demande de rencontre : Boulanger / Boulangère" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("999",), "mailflow: no inbound message #999\n"),
        (("999", "--raw"), "mailflow: no inbound message #999\n"),
        (("999", "--outbound"), "mailflow: no outbound mail #999\n"),
    ],
)
def test_unknown_id(config: Path, cli: Capture, args: tuple[str, ...], message: str) -> None:
    code, out, err = cli.run(config, *args)
    assert code == 2 and out == b"" and err == message


@pytest.mark.parametrize("args", [("99999999999999999999",), ("99999999999999999999", "--raw")])
def test_an_id_beyond_any_database_is_unknown_not_a_crash(
    config: Path, cli: Capture, args: tuple[str, ...]
) -> None:
    code, out, err = cli.run(config, *args)
    assert (code, out) == (2, b"")
    assert err == "mailflow: no inbound message #99999999999999999999\n"
    code, out, err = cli.run(config, "-7", "--outbound")
    assert (code, out, err) == (2, b"", "mailflow: no outbound mail #-7\n")


def test_raw_of_an_erased_message_says_so(config: Path, cli: Capture) -> None:
    from mailflow.config import load_config
    from mailflow.privacy.erasure import find_person, forget_person
    from mailflow.privacy.retention_unlinked import kept_addresses

    asked = InboundMessage.get(InboundMessage.sender == "lea@users.test")
    forget_person(find_person("lea@users.test"), kept_addresses(load_config(config)))
    code, out, err = cli.run(config, str(asked.id), "--raw")
    assert (code, out) == (2, b"")
    assert err == (
        f"mailflow: inbound message #{asked.id}: its content was erased (personal data removed)\n"
    )
    code, out, _ = cli.run(config, str(asked.id))
    assert code == 0 and "size:         erased (personal data removed)" in out.decode()
