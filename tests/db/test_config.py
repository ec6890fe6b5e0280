"""The configuration names the key at fault, never a traceback."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from mailflow.cli.main import main
from mailflow.config import DATABASE_URL_VARIABLE, PROJECT_ROOT, load_config, parse_config
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
        ("[mailbox]  ", "paths = 3\n[mailbox]  ", "[paths] must be a table"),
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


def test_toml_syntax_error_names_the_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, EXAMPLE.replace("port = 2525", "port = 25 25", 1))
    line = EXAMPLE.splitlines().index("port = 2525") + 1
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value).startswith(f"{path}: not valid TOML")
    assert f"line {line}," in str(caught.value)


def test_file_that_is_not_utf8_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "nonutf.toml"
    path.write_bytes(b"\xff\xfe[\x00m\x00a\x00i\x00l\x00")  # UTF-16, as Notepad may save
    with pytest.raises(ConfigError, match=r"nonutf\.toml: line 1: not valid UTF-8"):
        load_config(path)
    latin1 = tmp_path / "latin1.toml"
    latin1.write_bytes(EXAMPLE.replace('"Ambassadeurs"', '"Réseau"').encode("latin-1"))
    line = EXAMPLE.splitlines().index('display_name = "Ambassadeurs"') + 1
    with pytest.raises(ConfigError, match=rf"latin1\.toml: line {line}: not valid UTF-8"):
        load_config(latin1)


def test_utf8_with_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + EXAMPLE.encode("utf-8"))
    assert load_config(path).smtp.port == 2525


def test_folder_and_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="is a folder, not a configuration file"):
        load_config(tmp_path)
    path = write(tmp_path, EXAMPLE)

    def refuse(self: Path) -> bytes:  # root reads any file: the refusal is simulated
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", refuse)
    with pytest.raises(ConfigError, match="mailflow.toml: cannot read: Permission denied"):
        load_config(path)


def with_value(section: str, key: str, value: Any) -> dict[str, Any]:
    raw = tomllib.loads(EXAMPLE)
    raw.setdefault(section, {})[key] = value
    return raw


@pytest.mark.parametrize(
    ("section", "key", "value", "message"),
    [
        ("mailbox", "port", 99999, "mailbox.port must be a port number (1-65535), got 99999"),
        ("mailbox", "port", 0, "mailbox.port must be a port number (1-65535), got 0"),
        ("smtp", "port", 99999, "smtp.port must be a port number (1-65535), got 99999"),
        ("smtp", "port", 0, "smtp.port must be a port number (1-65535), got 0"),
        ("smtp", "port", 10**23, f"smtp.port must be a port number (1-65535), got {10**23}"),
        ("mailbox", "host", "", "mailbox.host must not be empty"),
        ("smtp", "host", "  ", "smtp.host must not be empty"),
        ("mailbox", "username", "", "mailbox.username must not be empty"),
        ("mailbox", "folder", "", "mailbox.folder must not be empty"),
        ("mailbox", "processed_folder", "", "mailbox.processed_folder must not be empty"),
        ("mailbox", "quarantine_folder", " ", "mailbox.quarantine_folder must not be empty"),
        (
            "mailbox",
            "processed_folder",
            "INBOX",
            "mailbox.processed_folder must differ from mailbox.folder",
        ),
        (
            "mailbox",
            "quarantine_folder",
            "mailflow/processed",
            "mailbox.quarantine_folder must differ from mailbox.processed_folder",
        ),
        ("mailbox", "folder", "IN\nBOX", "mailbox.folder must not contain control characters"),
        ("relay", "display_name", "", "relay.display_name must not be empty"),
        (
            "relay",
            "display_name",
            "Ambassadeurs\r\nBcc: x@y.test",
            "relay.display_name must not contain control characters",
        ),
        ("relay", "address", "", "relay.address must not be empty"),
        ("relay", "address", "relay", "relay.address is not a valid address: 'relay'"),
        ("relay", "address", "relay@", "relay.address is not a valid address"),
        ("coordinator", "email", "", "coordinator.email must not be empty"),
        ("coordinator", "email", "coordinateur@", "coordinator.email is not a valid address"),
        (
            "coordinator",
            "email",
            "Relay+x@Mailflow.test",
            "coordinator.email must not be the relay address",
        ),
        ("coordinator", "name", "", "coordinator.name must not be empty"),
        ("mailbox", "poll_seconds", 0, "mailbox.poll_seconds must be at least 1 second, got 0"),
        ("mailbox", "idle_seconds", 0, "mailbox.idle_seconds must be at least 1 second"),
        ("mailbox", "timeout_seconds", 0, "mailbox.timeout_seconds must be at least 1 second"),
        ("mailbox", "poll_seconds", 10**30, "mailbox.poll_seconds must be at most 86400 seconds"),
        ("mailbox", "poll_seconds", -30, "mailbox.poll_seconds must not be negative"),
        ("smtp", "timeout_seconds", 0, "smtp.timeout_seconds must be at least 1 second"),
        ("smtp", "max_attempts", 0, "smtp.max_attempts must be at least 1, got 0"),
        ("smtp", "starttls", True, "smtp.ssl and smtp.starttls are both true"),
        ("limits", "max_message_bytes", -1, "limits.max_message_bytes must not be negative"),
        ("limits", "max_attachment_bytes", 2**41, "limits.max_attachment_bytes must be at most"),
        (
            "limits",
            "auto_reply_interval_days",
            10**20,
            "limits.auto_reply_interval_days must be at most 3650 days",
        ),
        (
            "limits",
            "max_relayed_per_conversation_per_hour",
            -5,
            "limits.max_relayed_per_conversation_per_hour must not be negative",
        ),
        ("privacy", "retention_days", 0, "privacy.retention_days must be at least 1 day"),
        ("privacy", "retention_days", 10**9, "privacy.retention_days must be at most 36500 days"),
        ("newsletter", "per_minute", 10**12, "newsletter.per_minute must be at most 1000000"),
        ("database", "url", "", "database.url must not be empty"),
        ("database", "url", "mysql://u:pw@h/db", "database.url must start with sqlite:///"),
    ],
)
def test_wrong_value_names_the_key(
    section: str, key: str, value: Any, message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = with_value(section, key, value)
    if (section, key) == ("smtp", "starttls"):
        raw["smtp"]["ssl"] = True
    with pytest.raises(ConfigError) as caught:
        parse_config(raw, Path("mailflow.toml"))
    assert str(caught.value).startswith(f"mailflow.toml: {message}")
    assert "pw@" not in str(caught.value)  # no password of a URL in a message


@pytest.mark.parametrize(
    ("section", "key", "value"),
    [
        ("mailbox", "port", 1),
        ("smtp", "port", 65535),
        ("mailbox", "password", ""),  # a server may take an empty password
        ("smtp", "username", ""),  # no SMTP authentication
        ("limits", "max_message_bytes", 0),  # 0: no cap (limits.oversize_reason)
        ("limits", "max_attachment_bytes", 0),
        ("limits", "auto_reply_interval_days", 0),  # 0: the same answer every time
        ("limits", "max_relayed_per_conversation_per_hour", 0),  # 0: no cap
        ("newsletter", "per_minute", 0),  # 0: no limit
        ("privacy", "retention_days", 1),
        ("limits", "allowed_attachment_types", "image/*,\n application/pdf"),
    ],
)
def test_edge_values_that_mean_something_are_accepted(section: str, key: str, value: Any) -> None:
    cfg = parse_config(with_value(section, key, value), Path("mailflow.toml"))
    assert getattr(getattr(cfg, section), key) == value


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("port = 2525", "port = 99999", "smtp.port must be a port number (1-65535), got 99999"),
        ('folder = "INBOX"', 'folder = ""', "mailbox.folder must not be empty"),
        ('display_name = "Ambassadeurs"', 'display_name = ""', "relay.display_name"),
    ],
)
def test_cli_bad_value_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], old: str, new: str, message: str
) -> None:
    path = write(tmp_path, EXAMPLE.replace(old, new, 1))
    assert main(["--config", str(path), "log"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"mailflow: {path}: {message}") and err.count("\n") == 1


def test_cli_unreadable_config_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "nonutf.toml"
    path.write_bytes(b"\xff\xfe[mailbox]\n")
    assert main(["--config", str(path), "log"]) == 2
    err = capsys.readouterr().err
    assert err == f"mailflow: {path}: line 1: not valid UTF-8 (save the file as UTF-8)\n"
    assert main(["--config", str(tmp_path), "log"]) == 2
    assert (
        capsys.readouterr().err == f"mailflow: {tmp_path}: is a folder, not a configuration file\n"
    )


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
    monkeypatch.setenv(DATABASE_URL_VARIABLE, "mysql://mailflow:pw@db.example/mailflow")
    with pytest.raises(ConfigError) as caught:  # named as the environment's, not the file's
        load_config(path)
    assert str(caught.value) == (
        f"{DATABASE_URL_VARIABLE} must start with sqlite:/// or postgresql://, got 'mysql://'"
    )


def test_cli_plumbing_answers_bad_input_without_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`init` where the file cannot be written, an empty --config, ids out of any range."""
    target = tmp_path / "no-such-folder" / "mailflow.toml"
    assert main(["--config", str(target), "init"]) == 2
    err = capsys.readouterr().err
    assert (
        err
        == f"mailflow: {target}: cannot write the configuration file: No such file or directory\n"
    )
    assert main(["--config", "", "log"]) == 2
    assert capsys.readouterr().err == "mailflow: --config: the path is empty\n"
    path = write(tmp_path, EXAMPLE.replace("db/mailflow.sqlite3", "t.sqlite3"))
    for args in (["quarantine", "drop", "x"], ["message", "show", "1e3"]):
        with pytest.raises(SystemExit) as caught:  # argparse: usage and one error line, exit 2
            main(["--config", str(path), *args])
        assert caught.value.code == 2
        err = capsys.readouterr().err
        assert "argument id: " in err and "Traceback" not in err, args
    for number in (str(2**63 - 1), "99999999999999999999999", "0"):  # looked up, or not at all
        assert main(["--config", str(path), "quarantine", "show", number]) == 2
        assert capsys.readouterr().err.startswith(f"mailflow: no stored message #{number}")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("mx.example.org", ("mx.example.org",)),
        (["mx1.example.org", " mx2.example.org "], ("mx1.example.org", "mx2.example.org")),
        ("*.messagingengine.com", ("*.messagingengine.com",)),
        ("", ()),  # empty: no check, as without the key
        ([], ()),
    ],
)
def test_authserv_id_is_one_name_or_a_list(value: Any, expected: tuple[str, ...]) -> None:
    cfg = parse_config(with_value("mailbox", "authserv_id", value), Path("mailflow.toml"))
    assert cfg.mailbox.authserv_id == expected
    assert cfg.mailbox.unauthenticated == "quarantine"  # the default keeps the mail


def test_sender_authentication_is_off_by_default() -> None:
    cfg = parse_config(tomllib.loads(EXAMPLE), Path("mailflow.toml"))
    assert cfg.mailbox.authserv_id == () and cfg.mailbox.unauthenticated == "quarantine"
    refuse = with_value("mailbox", "unauthenticated", "refuse")
    assert parse_config(refuse, Path("mailflow.toml")).mailbox.unauthenticated == "refuse"


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("authserv_id", 3, "mailbox.authserv_id must be a string or a list of strings, got int"),
        ("authserv_id", ["mx.example.org", 1], "mailbox.authserv_id must be a string or a list"),
        ("authserv_id", "mx.example.org; dkim=pass", "mailbox.authserv_id: 'mx.example.org; "),
        ("authserv_id", "mx one.example.org", "mailbox.authserv_id: 'mx one.example.org'"),
        ("authserv_id", "*.", "mailbox.authserv_id: '*.' is not a server name"),
        ("unauthenticated", "drop", 'mailbox.unauthenticated must be one of "quarantine", '),
        ("unauthenticated", True, "mailbox.unauthenticated must be str"),
    ],
)
def test_wrong_sender_authentication_setting_names_the_key(
    key: str, value: Any, message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(with_value("mailbox", key, value), Path("mailflow.toml"))
    assert str(caught.value).startswith(f"mailflow.toml: {message}")
