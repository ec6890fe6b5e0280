"""The ambassador directory: CSV import (all or nothing, by email) and listing."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from email_validator import EmailNotValidError, validate_email

from .clock import stamp
from .errors import ImportRowError, MailflowError
from .models import Ambassador, database
from .record import log_event
from .referential import Referential
from .textnorm import fold, words

REQUIRED_COLUMNS = (
    "email",
    "first_name",
    "last_name",
    "kind",
    "title",
    "sector",
    "department",
    "city",
    "postcode",
    "capacity",
)
OPTIONAL_COLUMNS = ("active",)
_KINDS = {"metier": "metier", "formation": "formation", "vae": "vae"}
_TRUE = {"1", "oui", "yes", "true", "vrai", "o", "y", ""}
_FALSE = {"0", "non", "no", "false", "faux", "n"}


@dataclass(frozen=True)
class AmbassadorRow:
    """One validated CSV row, ready to be written."""

    line: int
    email: str
    first_name: str
    last_name: str
    kind: str
    title: str
    code_rome: str | None
    sector: str
    department: str
    region: str | None
    city: str
    insee: str | None
    postcode: str
    capacity: int
    active: bool | None  # None: not said in the file (new: active; existing: unchanged)


@dataclass(frozen=True)
class ImportResult:
    created: int
    updated: int
    unchanged: int


def normalise_email(address: str) -> str:
    """Validated address, lower-cased whole: mail systems treat case as insignificant in
    practice, and we compare senders against the directory. Raises ValueError."""
    try:
        info = validate_email(address.strip(), check_deliverability=False, test_environment=True)
    except EmailNotValidError as exc:
        raise ValueError(str(exc)) from exc
    return info.normalized.lower()


def read_rows(text: str, ref: Referential) -> list[AmbassadorRow]:
    """Parse and validate a whole CSV; the first bad row raises with its line number."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [(h or "").strip().lower() for h in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise ImportRowError(f"line 1: missing column(s): {', '.join(missing)}")
    reader.fieldnames = header
    rows: list[AmbassadorRow] = []
    seen: dict[str, int] = {}
    for raw in reader:
        line = reader.line_num
        if raw.get(None):
            raise ImportRowError(f"line {line}: more values than columns")
        if not any((v or "").strip() for v in raw.values()):
            continue
        row = _row(line, {k: (v or "").strip() for k, v in raw.items() if k}, ref)
        if row.email in seen:
            raise ImportRowError(
                f"line {line}: {row.email} already appears on line {seen[row.email]}"
            )
        seen[row.email] = line
        rows.append(row)
    return rows


def _row(line: int, values: dict[str, str], ref: Referential) -> AmbassadorRow:
    def fail(column: str, why: str) -> ImportRowError:
        return ImportRowError(f"line {line}: column {column}: {why}")

    try:
        email = normalise_email(values["email"])
    except ValueError as exc:
        raise fail("email", f"{values['email']!r} is not a valid address ({exc})") from exc
    for column in ("first_name", "last_name", "title"):
        if not values[column]:
            raise fail(column, "is empty")
    kind = _KINDS.get(words(values["kind"]))
    if kind is None:
        raise fail("kind", f"{values['kind']!r} is not one of metier, formation, vae")
    department = _department(values["department"], ref)
    if department is None:
        raise fail("department", f"{values['department']!r} is not a French département code")
    try:
        capacity = int(values["capacity"])
    except ValueError as exc:
        raise fail("capacity", f"{values['capacity']!r} is not a whole number") from exc
    if capacity < 0:
        raise fail("capacity", f"{capacity} is negative")
    postcode = values["postcode"]
    if postcode and not (len(postcode) == 5 and postcode.isdigit()):
        raise fail("postcode", f"{postcode!r} is not a 5-digit postcode")
    active_text = fold(values.get("active", ""))
    if active_text not in _TRUE | _FALSE:
        raise fail("active", f"{values.get('active')!r} is not oui/non")
    trade = ref.match_trade(values["title"])
    place = ref.match_place(f"{values['city']} {postcode}".strip()) if values["city"] else None
    insee = place.insee if place and place.department == department else None
    return AmbassadorRow(
        line=line,
        email=email,
        first_name=values["first_name"],
        last_name=values["last_name"],
        kind=kind,
        title=values["title"],
        code_rome=trade.code_rome if trade else None,
        sector=values["sector"],
        department=department,
        region=ref.region_of(department),
        city=values["city"],
        insee=insee,
        postcode=postcode,
        capacity=capacity,
        active=None if not active_text else active_text not in _FALSE,
    )


def _department(text: str, ref: Referential) -> str | None:
    code = text.strip().upper()
    if code.isdigit() and len(code) == 1:
        code = "0" + code
    if ref.region_of(code):
        return code
    place = ref.match_place(text)
    return place.department if place and place.department else None


def import_rows(rows: Iterable[AmbassadorRow], source: str) -> ImportResult:
    """Write every row in one transaction: created, updated (by email) or unchanged."""
    created = updated = unchanged = 0
    now = stamp()
    with database.atomic():
        for row in rows:
            fields = _fields(row)
            existing = Ambassador.get_or_none(Ambassador.email == row.email)
            if existing is None:
                Ambassador.create(**fields, created_at=now, updated_at=now)
                created += 1
            elif any(getattr(existing, k) != v for k, v in fields.items()):
                Ambassador.update(**fields, updated_at=now).where(
                    Ambassador.id == existing.id
                ).execute()
                updated += 1
            else:
                unchanged += 1
        log_event(
            "import",
            f"ambassadors imported from {source}: "
            f"{created} created, {updated} updated, {unchanged} unchanged",
        )
    return ImportResult(created, updated, unchanged)


def _fields(row: AmbassadorRow) -> dict[str, object]:
    return {
        "email": row.email,
        "first_name": row.first_name,
        "last_name": row.last_name,
        "kind": row.kind,
        "title": row.title,
        "title_words": words(row.title),
        "code_rome": row.code_rome,
        "sector": row.sector,
        "department": row.department,
        "region": row.region,
        "city": row.city,
        "insee": row.insee,
        "postcode": row.postcode,
        "capacity": row.capacity,
        **({} if row.active is None else {"active": row.active}),
    }


def import_file(path: Path, ref: Referential) -> ImportResult:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ImportRowError(f"{path}: file not found") from exc
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise ImportRowError(f"line {line}: not valid UTF-8 (save the file as UTF-8)") from exc
    return import_rows(read_rows(text, ref), str(path))


def clear_bounce(address: str) -> Ambassador:
    """The coordinator checked the address with the ambassador: new requests may go to them
    again. Their conversations handed over while it bounced stay with the new ambassadors."""
    try:
        email = normalise_email(address)
    except ValueError as exc:
        raise MailflowError(f"{address!r} is not an email address: {exc}") from exc
    with database.atomic():
        ambassador = Ambassador.get_or_none(Ambassador.email == email)
        if ambassador is None:
            raise MailflowError(f"no ambassador with the address {email}")
        if ambassador.bounce_state != "failing":
            raise MailflowError(
                f"ambassador #{ambassador.id} ({email}): the address is not failing"
            )
        since = f"{ambassador.bounced_at:%Y-%m-%d}" if ambassador.bounced_at else "unknown date"
        ambassador.bounce_state, ambassador.bounced_at = "ok", None
        ambassador.updated_at = stamp()
        ambassador.save()
        log_event(
            "ambassador",
            f"ambassador #{ambassador.id}: bounce state cleared by the coordinator "
            f"(failing since {since}); new requests may go to them again",
        )
    return ambassador
