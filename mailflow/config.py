"""The one typed configuration object, loaded and validated once from a TOML file."""

from __future__ import annotations

import os
import tomllib
from dataclasses import MISSING, dataclass, fields
from functools import cached_property
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from email_validator import EmailNotValidError, validate_email

from mailflow.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent  # the repository, in a checkout
# What the code reads at run time (rules/, templates/, the example configuration): a wheel
# carries them in mailflow/data/ (setup.py copies them there); a checkout reads the
# repository's own top-level folders, where people edit them. [paths] can point elsewhere.
PACKAGED_DATA = Path(__file__).resolve().parent / "data"
DATA_ROOT = PACKAGED_DATA if PACKAGED_DATA.is_dir() else PROJECT_ROOT
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
    # The authserv-ids of the provider's receiving server (a string or a list; "*.example.org"
    # for every host under it). Set, mail from a conversation's party or an ambassador's
    # command must carry that server's SPF/DKIM/DMARC pass (core/authresults.py); empty: no check.
    authserv_id: tuple[str, ...] = ()
    unauthenticated: str = "quarantine"  # or "refuse": what becomes of mail that fails it


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
    # Multiparts and forwarded messages inside one another, at most: deeper mail is kept in
    # quarantine unread (parsing it would exhaust Python's stack), the sender told.
    max_mime_depth: int = 50
    # What one message may cost to relay (docs/security.md, limits): the text scrubbed, all its text
    # parts together (scrubbing holds about ten times it), and its MIME parts (parsing
    # stops there). Above either: refused like an oversize message.
    max_text_bytes: int = 4 * 1024 * 1024
    max_parts: int = 1000
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
    # CPU time one message may take to be processed; beyond it the message is quarantined and
    # the daemon goes on with the next (budget.py). 0: no budget. A 20 MB reply at the text
    # cap takes 10-15 s here: the default leaves room for a slower server and a busy one.
    cpu_seconds: int = 60


@dataclass(frozen=True)
class PrivacyConfig:
    """Personal data kept only as long as needed (RGPD): requests that can no longer
    progress (closed, expired, withdrawn, unmatched) are anonymised `retention_days` after
    their last change, mail linked to no request that long after it came, their copies on
    the IMAP server removed; counts for statistics stay (privacy/retention.py)."""

    retention_days: int = 365


@dataclass(frozen=True)
class NewsletterConfig:
    """Mail to every ambassador, paced so the SMTP relay is not flooded (0: no limit)."""

    per_minute: int = 60


@dataclass(frozen=True)
class ScheduleConfig:
    """Where the programme's days begin and end: business days, the day an absence ends,
    the digest's hour, the years and months of the statistics. Stored times stay naive UTC;
    only day, month and year boundaries use this zone."""

    timezone: str = "Europe/Paris"

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class WebConfig:
    """The coordinators' console, `mailflow web` (docs/console.md): where it listens, the
    address people type (behind a reverse proxy: its https URL, which also marks the
    session cookie Secure), how long a sign-in lasts."""

    bind: str = "127.0.0.1"
    port: int = 8025
    public_url: str = ""  # "": http://bind:port
    session_lifetime_minutes: int = 480

    @property
    def url(self) -> str:
        return (self.public_url or f"http://{self.bind}:{self.port}").rstrip("/")

    @property
    def secure(self) -> bool:
        return self.url.startswith("https://")


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
    schedule: ScheduleConfig = ScheduleConfig()
    web: WebConfig = WebConfig()


# Every number's accepted range, by key. 0 is accepted only where the code reads it as
# "no limit" (limits.py, ratelimit.py, newsletter.py); an upper bound keeps a typo (an extra
# zero or ten) from reaching the code as a value it cannot use (OverflowError, years of wait).
_RANGES: dict[str, tuple[int, int]] = {
    "mailbox.port": (1, 65535),
    "mailbox.poll_seconds": (1, 86_400),
    "mailbox.idle_seconds": (1, 86_400),
    "mailbox.timeout_seconds": (1, 3_600),
    "smtp.port": (1, 65535),
    "smtp.timeout_seconds": (1, 3_600),
    "smtp.max_attempts": (1, 1_000),
    "limits.max_message_bytes": (0, 2**40),  # 0: no cap
    "limits.max_attachment_bytes": (0, 2**40),  # 0: no cap
    "limits.max_mime_depth": (1, 100),  # mime_depth.SAFE_DEPTH: deeper exhausts the stack
    "limits.max_text_bytes": (0, 2**40),  # 0: no cap
    "limits.max_parts": (0, 10_000_000),  # 0: no cap
    "limits.auto_reply_interval_days": (0, 3_650),  # 0: the same answer every time
    "limits.max_relayed_per_conversation_per_hour": (0, 1_000_000),  # 0: no cap
    "limits.cpu_seconds": (0, 86_400),  # 0: no budget
    "privacy.retention_days": (1, 36_500),
    "newsletter.per_minute": (0, 1_000_000),  # 0: no limit
    "web.port": (1, 65535),
    "web.session_lifetime_minutes": (1, 43_200),  # at most 30 days
}
# Text that must say something: an empty folder or display name is never what was meant
# (display_name "" gives `From: "Léa via "`). Passwords may be empty; smtp.username too
# (no authentication).
_NOT_EMPTY = frozenset(
    {
        "mailbox.host",
        "mailbox.username",
        "mailbox.folder",
        "mailbox.processed_folder",
        "mailbox.quarantine_folder",
        "smtp.host",
        "relay.address",
        "relay.display_name",
        "coordinator.email",
        "coordinator.name",
        "database.url",
        "web.bind",
    }
)
# Text where a line break or tab is harmless (a password is what it is; the attachment
# types are split on commas and stripped). Elsewhere one would end up in a header or command.
_FREE_TEXT = frozenset({"mailbox.password", "smtp.password", "limits.allowed_attachment_types"})
# Text keys that take one of a few words.
_CHOICES: dict[str, tuple[str, ...]] = {"mailbox.unauthenticated": ("quarantine", "refuse")}
_UNITS = {"_minutes": "minute", "_seconds": "second", "_days": "day", "_bytes": "byte"}

_SECTIONS: dict[str, type] = {
    "mailbox": MailboxConfig,
    "smtp": SmtpConfig,
    "relay": RelayConfig,
    "coordinator": CoordinatorConfig,
    "database": DatabaseConfig,
}


def config_path(explicit: str | None) -> Path:
    """--config wins, then MAILFLOW_CONFIG, then ./mailflow.toml."""
    if explicit is not None and not explicit.strip():
        raise ConfigError("--config: the path is empty")
    return Path(explicit or os.environ.get("MAILFLOW_CONFIG") or DEFAULT_CONFIG)


def load_config(path: Path) -> Config:
    """Read and validate; every error names the file and the key at fault.

    MAILFLOW_DATABASE_URL, when set and not empty, replaces `[database] url` (which may
    then be left out of the file): the password of a PostgreSQL URL stays in the service's
    environment file, and the test suite points every run at its own database this way.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise ConfigError(
            f"{path}: configuration file not found (run `mailflow init` to write one)"
        ) from exc
    except IsADirectoryError as exc:
        raise ConfigError(f"{path}: is a folder, not a configuration file") from exc
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    data = data.removeprefix(b"\xef\xbb\xbf")  # a BOM, as some Windows editors write: fine
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigError(f"{path}: line {line}: not valid UTF-8 (save the file as UTF-8)") from exc
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    return parse_config(_with_database_url(raw, os.environ.get(DATABASE_URL_VARIABLE, "")), path)


def _with_database_url(raw: dict[str, Any], url: str) -> dict[str, Any]:
    """`raw` with `[database] url` replaced by `url` (from the environment) when not empty."""
    if not url.strip():
        return raw
    _check_database_url(url, DATABASE_URL_VARIABLE)  # not the file's fault: say where it is
    database = raw.get("database", {})
    if not isinstance(database, dict):
        return raw  # parse_config reports the malformed section
    return {**raw, "database": {**database, "url": url.strip()}}


def parse_config(raw: dict[str, Any], path: Path) -> Config:
    optional = {"paths", "limits", "privacy", "newsletter", "schedule", "web"}
    unknown = sorted(set(raw) - set(_SECTIONS) - optional)
    if unknown:
        raise ConfigError(f"{path}: unknown section [{unknown[0]}]")
    sections = {name: _section(raw, name, cls, path) for name, cls in _SECTIONS.items()}
    for key, value in (
        ("relay.address", sections["relay"].address),
        ("coordinator.email", sections["coordinator"].email),
    ):
        _check_address(value, key, path)
    _check_together(sections, path)
    limits = _section(raw, "limits", LimitsConfig, path) if "limits" in raw else LimitsConfig()
    privacy = _section(raw, "privacy", PrivacyConfig, path) if "privacy" in raw else PrivacyConfig()
    newsletter = (
        _section(raw, "newsletter", NewsletterConfig, path)
        if "newsletter" in raw
        else NewsletterConfig()
    )
    schedule = _section(raw, "schedule", ScheduleConfig, path) if "schedule" in raw else None
    schedule = schedule or ScheduleConfig()
    try:
        schedule.zone  # noqa: B018 - validated once, here
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(
            f"{path}: schedule.timezone {schedule.timezone!r} is not a known time zone "
            '(e.g. "Europe/Paris")'
        ) from exc
    web = _section(raw, "web", WebConfig, path) if "web" in raw else WebConfig()
    _check_public_url(web.public_url, path)
    return Config(
        **sections,
        paths=_paths(raw.get("paths", {}), path),
        source=path.resolve(),
        limits=limits,
        privacy=privacy,
        newsletter=newsletter,
        schedule=schedule,
        web=web,
    )


def _check_public_url(url: str, path: Path) -> None:
    """web.public_url: empty, or an http(s) URL without a path's trailing noise."""
    if url and (not url.startswith(("http://", "https://")) or any(c.isspace() for c in url)):
        raise ConfigError(
            f"{path}: web.public_url must be an http:// or https:// address "
            f'(e.g. "https://console.example.org"), got {url!r}'
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
    if str(type_name) == "tuple[str, ...]":
        return _names(value, key, path)
    expected = {"str": str, "int": int, "bool": bool}[str(type_name)]
    if expected is int and isinstance(value, bool) or not isinstance(value, expected):
        raise ConfigError(
            f"{path}: {key} must be {expected.__name__}, got {type(value).__name__} {value!r}"
        )
    if expected is int and value < 0:
        raise ConfigError(f"{path}: {key} must not be negative, got {value}")
    if expected is int and key in _RANGES:
        _check_range(value, key, path)
    if expected is str and key in _NOT_EMPTY and not value.strip():
        raise ConfigError(f"{path}: {key} must not be empty")
    if expected is str and key not in _FREE_TEXT:
        bad = next((c for c in value if ord(c) < 32 or ord(c) == 127), None)
        if bad is not None:  # a line break in a header or an IMAP command
            raise ConfigError(
                f"{path}: {key} must not contain control characters, found {bad!r} in {value!r}"
            )
    if key in _CHOICES and value not in _CHOICES[key]:
        words = ", ".join(f'"{c}"' for c in _CHOICES[key])
        raise ConfigError(f"{path}: {key} must be one of {words}, got {value!r}")
    return value


def _names(value: Any, key: str, path: Path) -> tuple[str, ...]:
    """A host name or a list of them ("" or [] for none), each one word without spaces:
    an authserv-id as servers write it, or "*.example.org"."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise ConfigError(
            f"{path}: {key} must be a string or a list of strings, got {type(value).__name__}"
        )
    names = tuple(i.strip() for i in items if i.strip())
    for name in names:
        bare = name.removeprefix("*.")
        if not bare or any(c.isspace() or c in ';()"*=' or ord(c) < 32 for c in bare):
            raise ConfigError(
                f"{path}: {key}: {name!r} is not a server name "
                '(e.g. "mx.example.org", or "*.example.org" for all its hosts)'
            )
    return names


def _check_range(value: int, key: str, path: Path) -> None:
    low, high = _RANGES[key]
    if low <= value <= high:
        return
    if key.endswith(".port"):
        raise ConfigError(f"{path}: {key} must be a port number (1-65535), got {value}")
    unit = next((u for suffix, u in _UNITS.items() if key.endswith(suffix)), "")

    def amount(n: int) -> str:
        return f"{n} {unit}{'s' if n != 1 else ''}" if unit else str(n)

    bound = f"at least {amount(low)}" if value < low else f"at most {amount(high)}"
    raise ConfigError(f"{path}: {key} must be {bound}, got {value}")


def _check_together(sections: dict[str, Any], path: Path) -> None:
    """Keys that are fine alone but not together."""
    mailbox, smtp, relay = sections["mailbox"], sections["smtp"], sections["relay"]
    folders = {"mailbox.folder": mailbox.folder}
    for key in ("mailbox.processed_folder", "mailbox.quarantine_folder"):
        value = getattr(mailbox, key.split(".")[1])
        same = next((k for k, v in folders.items() if v.strip() == value.strip()), None)
        if same:  # mail moved into the folder it is read from would be read again, forever
            raise ConfigError(f"{path}: {key} must differ from {same} (both {value!r})")
        folders[key] = value
    if smtp.ssl and smtp.starttls:
        raise ConfigError(
            f"{path}: smtp.ssl and smtp.starttls are both true: choose one "
            "(ssl: TLS from the start, usually port 465; starttls: usually port 587)"
        )
    coordinator = sections["coordinator"].email
    local, _, domain = coordinator.lower().rpartition("@")
    if domain == relay.domain.lower() and local.split("+")[0] == relay.local_part.lower():
        raise ConfigError(
            f"{path}: coordinator.email must not be the relay address ({relay.address}): "
            "the coordinator's notices would come back to the relay"
        )
    _check_database_url(sections["database"].url, f"{path}: database.url")


def _check_database_url(url: str, key: str) -> None:
    """A URL store/db.py can open; the message shows its scheme only (no password in a log)."""
    url = url.strip()
    if not url.startswith(("sqlite:///", "postgresql://", "postgres://")):
        scheme = url.split("://")[0] + "://" if "://" in url else url[:20]
        raise ConfigError(f"{key} must start with sqlite:/// or postgresql://, got {scheme!r}")


def _check_address(value: str, key: str, path: Path) -> None:
    try:
        validate_email(value, check_deliverability=False, test_environment=True)
    except EmailNotValidError as exc:
        raise ConfigError(f"{path}: {key} is not a valid address: {value!r} ({exc})") from exc
    if "+" in value.split("@")[0] and key == "relay.address":
        raise ConfigError(f"{path}: {key} must not contain '+': tokens are added after it")


def _paths(values: Any, path: Path) -> PathsConfig:
    if not isinstance(values, dict):
        raise ConfigError(f"{path}: [paths] must be a table")
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
        rules=resolve("rules", DATA_ROOT / "rules"),
        templates=resolve("templates", DATA_ROOT / "templates" / "mails"),
    )
