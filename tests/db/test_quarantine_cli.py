"""`mailflow quarantine list | show | retry | drop`: the coordinator's view of stuck mail."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import pytest

from mailflow.admin.directory import import_file
from mailflow.cli.main import main
from mailflow.config import PROJECT_ROOT, load_config
from mailflow.context import load_context
from mailflow.inbound.pipeline import process_pending, quarantine
from mailflow.store.db import open_database
from mailflow.store.models import Event, InboundMessage, Request, database
from mailflow.transport.ingest import store
from tests.testconfig import write_config


def mail(body: str, subject: str = "Demande") -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "Léa <lea@users.test>", "relay@mailflow.test", subject
    msg["Message-ID"] = make_msgid(domain="users.test")
    msg.set_content(body)
    return bytes(msg)


@pytest.fixture
def config(tmp_path: Path) -> Iterator[Path]:
    path = write_config(tmp_path, "\n[limits]\nmax_message_bytes = 5000\n")
    cfg = load_config(path)
    open_database(cfg.database.url, tmp_path)
    ctx = load_context(cfg)
    import_file(PROJECT_ROOT / "examples" / "ambassadors.csv", ctx.ref)
    broken = store(mail("Je voudrais rencontrer une boulangère près de Caen."), "INBOX", 1, 7)
    quarantine(broken.id, "RuntimeError: disk on fire")
    store(mail("x" * 6000, subject="Gros fichier"), "INBOX", 1, 8)
    assert process_pending(ctx) == {"too-large": 1}
    yield path
    database.obj.close()
    database.initialize(None)


def cli(config: Path, *args: str) -> int:
    return main(["--config", str(config), "quarantine", *args])


def test_list(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    InboundMessage.update(received_at=datetime(2026, 7, 1, 22, 30)).where(
        InboundMessage.id == 1
    ).execute()
    assert cli(config, "list") == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "Times in Europe/Paris"
    assert out[1].split() == ["ID", "RECEIVED", "FROM", "SUBJECT", "REASON"]
    assert len(out) == 4
    assert out[2].split()[0] == "1" and "lea@users.test" in out[2] and "disk on fire" in out[2]
    assert out[2].split()[1:3] == ["2026-07-02", "00:30:00"]  # 22:30 UTC, summer: UTC+2
    assert "Gros fichier" in out[3] and "too large" in out[3]


def test_show_and_raw(config: Path, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    InboundMessage.update(received_at=datetime(2026, 1, 10, 9, 5)).where(
        InboundMessage.id == 2
    ).execute()
    assert cli(config, "show", "2") == 0
    out = capsysbinary.readouterr().out.decode()
    assert "message #2 (quarantined)" in out and "reason:   too large" in out
    assert "received: 2026-01-10 10:05:00 (Europe/Paris)\n" in out  # 09:05 UTC, winter: UTC+1
    assert f"size:     {InboundMessage.get_by_id(2).size} bytes" in out
    assert "Subject: Gros fichier" in out and "xxxx" not in out
    assert cli(config, "show", "1", "--raw") == 0
    assert capsysbinary.readouterr().out == bytes(InboundMessage.get_by_id(1).raw)


def test_retry_processes_it_again(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(config, "retry", "1") == 0
    assert "released" in capsys.readouterr().out
    assert InboundMessage.get_by_id(1).status == "stored"
    [event] = Event.select().where(Event.kind == "quarantine-retry")
    assert "disk on fire" in event.cause and "stays in" in event.cause
    ctx = load_context(load_config(config))
    assert process_pending(ctx) == {"request-offered": 1}
    assert Request.select().count() == 1
    assert cli(config, "list") == 0
    assert "disk on fire" not in capsys.readouterr().out


def test_drop_keeps_the_bytes(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    raw = bytes(InboundMessage.get_by_id(2).raw)
    assert cli(config, "drop", "2") == 0
    row = InboundMessage.get_by_id(2)
    assert row.status == "dropped" and bytes(row.raw) == raw
    assert Event.select().where(Event.kind == "quarantine-drop").count() == 1
    capsys.readouterr()
    assert cli(config, "list") == 0
    assert "Gros fichier" not in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("show", "99"), "mailflow: no stored message #99"),
        (("retry", "99"), "mailflow: no stored message #99"),
        (("drop", "99"), "mailflow: no stored message #99"),
        (("show", "99999999999999999999"), "mailflow: no stored message #99999999999999999999"),
        (("retry", "99999999999999999999"), "mailflow: no stored message #9999999999999999999"),
        (("drop", "99999999999999999999"), "mailflow: no stored message #9999999999999999999"),
        (("show", "9223372036854775808"), "mailflow: no stored message #9223372036854775808"),
        (("show", "0"), "mailflow: no stored message #0"),
        (("drop", "-1"), "mailflow: no stored message #-1"),
    ],
)
def test_unknown_id_is_one_line_exit_2(
    config: Path, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], message: str
) -> None:
    assert cli(config, *args) == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1


def test_only_quarantined_messages_can_be_retried_or_dropped(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cli(config, "drop", "2")
    capsys.readouterr()
    assert cli(config, "retry", "2") == 2
    assert "is not in quarantine (status: dropped)" in capsys.readouterr().err


def test_every_command_is_recorded_in_the_log(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def kinds() -> list[tuple[str, int | None]]:
        query = Event.select().where(Event.kind.startswith("quarantine-")).order_by(Event.id)
        return [(e.kind, e.inbound_id) for e in query]

    assert cli(config, "list") == 0
    assert cli(config, "show", "1") == 0
    assert cli(config, "show", "2", "--raw") == 0
    assert cli(config, "retry", "1") == 0
    assert cli(config, "drop", "2") == 0
    capsys.readouterr()
    assert kinds() == [
        ("quarantine-list", None),
        ("quarantine-show", 1),
        ("quarantine-show", 2),
        ("quarantine-retry", 1),
        ("quarantine-drop", 2),
    ]
    causes = [e.cause for e in Event.select().where(Event.kind.startswith("quarantine-"))]
    assert "2 message(s) (#1, #2)" in causes[0]
    assert "headers" in causes[1] and "raw bytes" in causes[2]


def test_message_show_with_an_id_beyond_any_integer_is_one_line_exit_2(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for args in (("99999999999999999999",), ("99999999999999999999", "--outbound")):
        assert main(["--config", str(config), "message", "show", *args]) == 2
        err = capsys.readouterr().err
        assert err.startswith("mailflow: no ") and err.count("\n") == 1, err
