"""The one typed configuration object, loaded and validated once from a TOML file."""

from __future__ import annotations

import os
import tomllib
from dataclasses import MISSING, dataclass, fields
from pathlib import Path
from typing import Any

from email_validator import EmailNotValidError, validate_email

from .errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = "mailflow.toml"
# Overrides [database] url, so a deployment keeps the database password out of the file.
DATABASE_URL_VARIABLE = "MAILFLOW_DATABASE_URL"


@dataclass(frozen=True)
class MailboxConfig:
    """The shared mailbox the daemon reads over IMAP."""

    host: str
    port: int
    username: str
    password: str
    ssl: bool = False
    folder: str = "INBOX"
    processed_folder: str = "mailflow/processed"
    quarantine_folder: str = "mailflow/quarantine"
    idle: bool = True
    poll_seconds: int = 30
    idle_seconds: int = 300
    timeout_seconds: int = 30


@dataclass(frozen=True)
class SmtpConfig:
    """Where the daemon hands its mail."""

    host: str
    port: int
    starttls: bool = False
    ssl: bool = False
    username: str = ""
    password: str = ""
    timeout_seconds: int = 30
    max_attempts: int = 8


@dataclass(frozen=True)
class RelayConfig:
    """The public address; conversations use relay+TOKEN@domain."""

    address: str
    display_name: str = "Ambassadeurs"

    @property
    def local_part(self) -> str:
        return self.address.rsplit("@", 1)[0]

    @property
    def domain(self) -> str:
        return self.address.rsplit("@", 1)[1]

    def token_address(self, token: str) -> str:
        return f"{self.local_part}+{token}@{self.domain}"


@dataclass(frozen=True)
class CoordinatorConfig:
    email: str
    name: str = "Coordination"
    digest: bool = True  # the daily digest mail (hour in rules/followup.toml)


@dataclass(frozen=True)
class LimitsConfig:
    """What mailflow accepts and how often it answers automatically."""

    max_message_bytes: int = 20 * 1024 * 1024  # above: polite answer, message quarantined
    max_attachment_bytes: int = 10 * 1024 * 1024
    # Attachment types relayed (MIME type or "type/*"); anything else is removed with a note.
    allowed_attachment_types: str = (
        "image/*, application/pdf, text/plain, text/calendar, "
        "application/vnd.openxmlformats-officedocument.*, application/msword, "
        "application/vnd.oasis.opendocument.*, application/rtf"
    )
    auto_reply_interval_days: int = 3  # same automatic answer to the same sender at most once
    max_relayed_per_conversation_per_hour: int = 20
    # Refusals to people writing to a relay address that is not theirs (or that does not
    # exist), all senders together, per 24 hours: forged senders must not turn mailflow
    # into a backscatter source. Beyond it, refused messages are only logged.
    max_stranger_refusals_per_day: int = 5


@dataclass(frozen=True)
class PrivacyConfig:
    """Personal data kept only as long as needed (RGPD): closed requests are anonymised
    `retention_days` after they closed; counts for statistics stay."""

    retention_days: int = 365


@dataclass(frozen=True)
class NewsletterConfig:
    """Mail to every ambassador, paced so the SMTP relay is not flooded (0: no limit)."""

    per_minute: int = 60


@dataclass(frozen=True)
class DatabaseConfig:
    url: str


@dataclass(frozen=True)
class PathsConfig:
    """Where rules and mail templates live (default: the project's own folders)."""

    rules: Path
    templates: Path


@dataclass(frozen=True)
class Config:
    mailbox: MailboxConfig
    smtp: SmtpConfig
    relay: RelayConfig
    coordinator: CoordinatorConfig
    database: DatabaseConfig
    paths: PathsConfig
    source: Path
    limits: LimitsConfig = LimitsConfig()
    privacy: PrivacyConfig = PrivacyConfig()
    newsletter: NewsletterConfig = NewsletterConfig()


_SECTIONS: dict[str, type] = {
    "mailbox": MailboxConfig,
    "smtp": SmtpConfig,
    "relay": RelayConfig,
    "coordinator": CoordinatorConfig,
    "database": DatabaseConfig,
}


def config_path(explicit: str | None) -> Path:
    """--config wins, then MAILFLOW_CONFIG, then ./mailflow.toml."""
    return Path(explicit or os.environ.get("MAILFLOW_CONFIG") or DEFAULT_CONFIG)


def load_config(path: Path) -> Config:
    """Read and validate; every error names the file and the key at fault.

    MAILFLOW_DATABASE_URL, when set and not empty, replaces `[database] url` (which may
    then be left out of the file): the password of a PostgreSQL URL stays in the service's
    environment file, and the test suite points every run at its own database this way.
    """
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(
            f"{path}: configuration file not found (run `mailflow init` to write one)"
        ) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc
    return parse_config(_with_database_url(raw, os.environ.get(DATABASE_URL_VARIABLE, "")), path)


def _with_database_url(raw: dict[str, Any], url: str) -> dict[str, Any]:
    """`raw` with `[database] url` replaced by `url` (from the environment) when not empty."""
    if not url.strip():
        return raw
    database = raw.get("database", {})
    if not isinstance(database, dict):
        return raw  # parse_config reports the malformed section
    return {**raw, "database": {**database, "url": url.strip()}}


def parse_config(raw: dict[str, Any], path: Path) -> Config:
    unknown = sorted(set(raw) - set(_SECTIONS) - {"paths", "limits", "privacy", "newsletter"})
    if unknown:
        raise ConfigError(f"{path}: unknown section [{unknown[0]}]")
    sections = {name: _section(raw, name, cls, path) for name, cls in _SECTIONS.items()}
    for key, value in (
        ("relay.address", sections["relay"].address),
        ("coordinator.email", sections["coordinator"].email),
    ):
        _check_address(value, key, path)
    limits = _section(raw, "limits", LimitsConfig, path) if "limits" in raw else LimitsConfig()
    privacy = _section(raw, "privacy", PrivacyConfig, path) if "privacy" in raw else PrivacyConfig()
    if privacy.retention_days < 1:
        raise ConfigError(f"{path}: privacy.retention_days must be at least 1 day")
    newsletter = (
        _section(raw, "newsletter", NewsletterConfig, path)
        if "newsletter" in raw
        else NewsletterConfig()
    )
    return Config(
        **sections,
        paths=_paths(raw.get("paths", {}), path),
        source=path.resolve(),
        limits=limits,
        privacy=privacy,
        newsletter=newsletter,
    )


def _section(raw: dict[str, Any], name: str, cls: type, path: Path) -> Any:
    values = raw.get(name)
    if values is None:
        raise ConfigError(f"{path}: missing section [{name}]")
    if not isinstance(values, dict):
        raise ConfigError(f"{path}: [{name}] must be a table")
    known = {f.name: f for f in fields(cls)}
    for key in values:
        if key not in known:
            raise ConfigError(f"{path}: unknown key {name}.{key}")
    kwargs: dict[str, Any] = {}
    for key, spec in known.items():
        if key not in values:
            if spec.default is MISSING:
                raise ConfigError(f"{path}: missing key {name}.{key}")
            continue
        kwargs[key] = _typed(values[key], spec.type, f"{name}.{key}", path)
    return cls(**kwargs)


def _typed(value: Any, type_name: Any, key: str, path: Path) -> Any:
    expected = {"str": str, "int": int, "bool": bool}[str(type_name)]
    if expected is int and isinstance(value, bool) or not isinstance(value, expected):
        raise ConfigError(
            f"{path}: {key} must be {expected.__name__}, got {type(value).__name__} {value!r}"
        )
    if expected is int and value < 0:
        raise ConfigError(f"{path}: {key} must not be negative, got {value}")
    if expected is str and key.endswith(("host", "address", "email", "url")) and not value:
        raise ConfigError(f"{path}: {key} must not be empty")
    return value


def _check_address(value: str, key: str, path: Path) -> None:
    try:
        validate_email(value, check_deliverability=False, test_environment=True)
    except EmailNotValidError as exc:
        raise ConfigError(f"{path}: {key} is not a valid address: {value!r} ({exc})") from exc
    if "+" in value.split("@")[0] and key == "relay.address":
        raise ConfigError(f"{path}: {key} must not contain '+': tokens are added after it")


def _paths(values: dict[str, Any], path: Path) -> PathsConfig:
    unknown = sorted(set(values) - {"rules", "templates"})
    if unknown:
        raise ConfigError(f"{path}: unknown key paths.{unknown[0]}")
    base = path.resolve().parent

    def resolve(key: str, default: Path) -> Path:
        if key not in values:
            return default
        if not isinstance(values[key], str):
            raise ConfigError(f"{path}: paths.{key} must be str")
        target = (base / values[key]).resolve()
        if not target.is_dir():
            raise ConfigError(f"{path}: paths.{key}: folder {target} does not exist")
        return target

    return PathsConfig(
        rules=resolve("rules", PROJECT_ROOT / "rules"),
        templates=resolve("templates", PROJECT_ROOT / "templates" / "mails"),
    )
