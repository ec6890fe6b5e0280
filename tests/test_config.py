"""The configuration names the key at fault, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailflow.cli import main
from mailflow.config import DATABASE_URL_VARIABLE, PROJECT_ROOT, load_config
from mailflow.errors import ConfigError
from tests import testdb

EXAMPLE = (PROJECT_ROOT / "mailflow.example.toml").read_text(encoding="utf-8")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mailflow.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_example_config_loads(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, EXAMPLE))
    assert cfg.mailbox.port == 1143 and cfg.mailbox.ssl is False
    assert cfg.smtp.port == 2525 and cfg.smtp.username == ""
    assert cfg.relay.token_address("abc") == "relay+abc@mailflow.test"
    assert cfg.coordinator.email == "coordinator@mailflow.test"
    assert cfg.paths.templates == PROJECT_ROOT / "templates" / "mails"


@pytest.mark.parametrize(
    ("old", "new", "names"),
    [
        ("port = 1143", 'port = "1143"', "mailbox.port must be int"),
        ("ssl = false", 'ssl = "no"', "mailbox.ssl must be bool"),
        ("port = 2525", "port = 2525\nsmtp_host = 'x'", "unknown key smtp.smtp_host"),
        ('email = "coordinator@mailflow.test"', 'email = "coordinator"', "coordinator.email"),
        ('address = "relay@mailflow.test"', 'address = "relay+x@mailflow.test"', "relay.address"),
        ("[coordinator]", "[coordinateur]", "unknown section [coordinateur]"),
        ('username = "relay@mailflow.test"\n', "", "missing key mailbox.username"),
        ("port = 1143", "port = -1", "mailbox.port must not be negative"),
    ],
)
def test_wrong_key_or_value_is_named(tmp_path: Path, old: str, new: str, names: str) -> None:
    assert old in EXAMPLE
    with pytest.raises(ConfigError, match=names.replace("[", r"\[").replace("+", r"\+")):
        load_config(write(tmp_path, EXAMPLE.replace(old, new, 1)))


def test_invalid_toml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(write(tmp_path, "[mailbox\nhost="))
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.toml")


def test_cli_reports_config_error_without_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, EXAMPLE.replace("port = 2525", "port = true"))
    assert main(["--config", str(path), "log"]) == 2
    err = capsys.readouterr().err
    assert "smtp.port must be int" in err and "Traceback" not in err


def test_environment_variable_names_the_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, EXAMPLE.replace('"sqlite:///db/mailflow.sqlite3"', '"sqlite:///x.db"'))
    monkeypatch.setenv("MAILFLOW_CONFIG", str(path))
    assert main(["log"]) == 0
    assert "No requests recorded yet." in capsys.readouterr().out
    if testdb.SQLITE:  # on PostgreSQL, MAILFLOW_DATABASE_URL overrides the file's url
        assert (tmp_path / "x.db").exists()
    else:
        assert not (tmp_path / "x.db").exists()


def test_database_url_from_the_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, EXAMPLE)
    monkeypatch.setenv(DATABASE_URL_VARIABLE, " postgresql://mailflow:pw@db.example/mailflow ")
    assert load_config(path).database.url == "postgresql://mailflow:pw@db.example/mailflow"
    # then the file may leave the url out: the password lives only in the environment
    without = tmp_path / "without-url.toml"
    without.write_text(EXAMPLE.replace('url = "sqlite:///db/mailflow.sqlite3"', ""), "utf-8")
    assert load_config(without).database.url.endswith("@db.example/mailflow")
    monkeypatch.setenv(DATABASE_URL_VARIABLE, "")  # empty: the file's url
    assert load_config(path).database.url == "sqlite:///db/mailflow.sqlite3"
    with pytest.raises(ConfigError, match="missing key database.url"):
        load_config(without)
