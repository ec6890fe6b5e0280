"""The ambassador directory: CSV import (all or nothing, by email) and listing."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time
from pathlib import Path

from email_validator import EmailNotValidError, validate_email

from mailflow.clock import stamp
from mailflow.core.charter import CharterRules, HonorabilityRules, valid_until
from mailflow.core.textnorm import fold, words
from mailflow.errors import ImportRowError, MailflowError
from mailflow.services.charter import accept_on_paper
from mailflow.store.models import Ambassador, database
from mailflow.store.record import log_event
from mailflow.understand.place_index import Commune, PlaceIndex
from mailflow.understand.referential import Referential

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
# `charte`: the day the coordinator holds the ambassador's signed membership form (the
# charter in force, signed on paper: docs/charter.md); empty: asked by mail.
OPTIONAL_COLUMNS = ("active", "charte")
_KINDS = {"metier": "metier", "formation": "formation", "vae": "vae"}
_TRUE = {"1", "oui", "yes", "true", "vrai", "o", "y", ""}
_FALSE = {"0", "non", "no", "false", "faux", "n"}
MAX_CAPACITY = 1000  # open conversations at once: more is a typo, not a volunteer
# The separators a spreadsheet exports with: French Excel writes ';', some tools a tab.
SEPARATORS = {",": "comma", ";": "semicolon ';'", "\t": "tab"}
# Control characters have no place in a name, a title or an address (a NUL, a form feed);
# line breaks inside a quoted cell are folded into spaces like any run of white space.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_WHOLE = re.compile(r"([+-]?)0*([0-9]+)")
_ARTICLES = ("le", "la", "les", "l")
_LONG_TEXT = ("first_name", "last_name", "title", "sector", "city")  # each at most its column
# Trailing words of a city that name a part of it ("Paris 15e", "Caen Cedex 9").
_CITY_PART = re.compile(r"(?:\d+(?:e|er|eme)?|cedex|arrondissement|arr)")


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
    charter_on: date | None = None  # `charte`: signed on paper that day


@dataclass(frozen=True)
class ImportResult:
    created: int
    updated: int
    unchanged: int
    separator: str = ","  # the one the file used (see SEPARATORS)
    unplaced: tuple[str, ...] = ()  # warnings: titles that got no ROME code (`unplaced`)
    on_paper: int = 0  # charter signatures on paper recorded (`charte`)


def normalise_email(address: str) -> str:
    """Validated address, lower-cased whole: mail systems treat case as insignificant in
    practice, and we compare senders against the directory. Raises ValueError."""
    try:
        info = validate_email(address.strip(), check_deliverability=False, test_environment=True)
    except EmailNotValidError as exc:
        raise ValueError(str(exc)) from exc
    return info.normalized.lower()


def separator_of(text: str) -> str:
    """The separator under which the header names the most required columns (',' when tied)."""
    first = text.lstrip("\ufeff").split("\n", 1)[0]

    def named(separator: str) -> int:
        cells = next(csv.reader([first], delimiter=separator), [])
        return len({c.strip().lower() for c in cells} & set(REQUIRED_COLUMNS))

    return max(SEPARATORS, key=named)  # max keeps the first of equals: the comma


def read_rows(text: str, ref: Referential, separator: str = ",") -> list[AmbassadorRow]:
    """Parse and validate a whole CSV; the first bad row raises with its line number."""
    text = text.lstrip("\ufeff")
    if not text.strip():
        raise ImportRowError("the file is empty")
    reader = csv.DictReader(io.StringIO(text), delimiter=separator)
    said = "" if separator == "," else f" (columns separated by {SEPARATORS[separator]})"
    header = [(h or "").strip().lower() for h in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise ImportRowError(f"line 1: missing column(s): {', '.join(missing)}{said}")
    twice = next((c for c in header if c and header.count(c) > 1), None)
    if twice:
        raise ImportRowError(f"line 1: column {twice} appears twice")
    reader.fieldnames = header
    rows: list[AmbassadorRow] = []
    seen: dict[str, int] = {}
    try:
        for raw in reader:
            line = reader.line_num
            if raw.get(None):
                raise ImportRowError(f"line {line}: more values than columns{said}")
            if not any((v or "").strip() for v in raw.values()):
                continue
            row = _row(line, _cells(line, raw), ref)
            if row.email in seen:
                raise ImportRowError(
                    f"line {line}: {row.email} already appears on line {seen[row.email]}"
                )
            seen[row.email] = line
            rows.append(row)
    except csv.Error as exc:
        raise ImportRowError(f"line {reader.line_num + 1}: {exc}") from exc
    return rows


def _cells(line: int, raw: dict[str | None, str | None]) -> dict[str, str]:
    """The row's values, white space folded; a control character is an error."""
    cells: dict[str, str] = {}
    for key, value in raw.items():
        if not key:
            continue
        found = _CONTROL.search(value or "")
        if found:
            what = "NUL" if found.group() == "\x00" else repr(found.group())
            raise ImportRowError(
                f"line {line}: column {key}: contains a control character ({what})"
            )
        cells[key] = " ".join((value or "").split())
    return cells


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
    for column, text in (*((c, values[c]) for c in _LONG_TEXT), ("title", words(values["title"]))):
        room = Ambassador._meta.fields[column].max_length
        if len(text) > room:  # PostgreSQL would refuse it; SQLite would keep it whole
            raise fail(column, f"is {len(text)} characters long, {room} at most")
    kind = _KINDS.get(words(values["kind"]))
    if kind is None:
        raise fail("kind", f"{values['kind']!r} is not one of metier, formation, vae")
    department = _department(values["department"], ref)
    if department is None:
        raise fail("department", f"{values['department']!r} is not a French département code")
    capacity = _capacity(values["capacity"], fail)
    postcode = values["postcode"]
    if postcode and not (len(postcode) == 5 and postcode.isdigit() and postcode.isascii()):
        raise fail("postcode", f"{postcode!r} is not a 5-digit postcode")
    active_text = fold(values.get("active", ""))
    if active_text not in _TRUE | _FALSE:
        raise fail("active", f"{values.get('active')!r} is not oui/non")
    charter_on = _paper_day(values.get("charte", ""), fail)
    trade = ref.match_trade(values["title"])
    commune = _commune(line, department, values["city"], postcode, ref)
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
        insee=commune.insee if commune else None,
        postcode=postcode,
        capacity=capacity,
        active=None if not active_text else active_text not in _FALSE,
        charter_on=charter_on,
    )


def _paper_day(text: str, fail) -> date | None:  # noqa: ANN001 - _row's fail(column, why)
    """The `charte` column: a day, written 2026-03-02 or 02/03/2026; empty: none."""
    if not text:
        return None
    try:
        if re.fullmatch(r"\d{1,2}/\d{1,2}/\d{4}", text):
            day, month, year = (int(p) for p in text.split("/"))
            return date(year, month, day)
        return date.fromisoformat(text)
    except ValueError:
        raise fail("charte", f"{text!r} is not a date (2026-03-02 or 02/03/2026)") from None


def _capacity(text: str, fail) -> int:  # noqa: ANN001 - _row's fail(column, why)
    """0 to MAX_CAPACITY, written in plain digits."""
    found = _WHOLE.fullmatch(text)
    if not found:
        raise fail("capacity", f"{text!r} is not a whole number")
    sign, digits = found.groups()
    shown = text if len(text) <= 30 else text[:27] + "..."
    if sign == "-" and digits != "0":
        raise fail("capacity", f"{shown} is negative")
    if len(digits) > len(str(MAX_CAPACITY)) or int(digits) > MAX_CAPACITY:
        raise fail("capacity", f"{shown} is above the maximum of {MAX_CAPACITY}")
    return int(digits)


def _commune(
    line: int, department: str, city: str, postcode: str, ref: Referential
) -> Commune | None:
    """The commune the row names, checked against its postcode and département (Etalab data,
    rules/geo). A row may name no city and no postcode (an ambassador of the département)."""
    places = ref.places
    served = places.postcodes.get(postcode, ()) if postcode else ()
    if postcode and not served:
        raise ImportRowError(f"line {line}: column postcode: {postcode} is not a French postcode")
    if not city:
        if postcode:
            raise ImportRowError(
                f"line {line}: column city: is empty (postcode {postcode} is {_names(served)})"
            )
        return None
    named = _communes_named(city, places)
    if postcode:
        both = [c for c in named if postcode in c.postcodes]
        if not both and named:
            codes = " ".join(named[0].postcodes) or "none"
            raise ImportRowError(
                f"line {line}: city {city} and postcode {postcode} do not match: "
                f"{postcode} is {_names(served)}; {named[0].name} ({named[0].department}) "
                f"has postcode(s) {codes}"
            )
        if not both:
            raise ImportRowError(
                f"line {line}: city {city!r} is not a commune of postcode {postcode} "
                f"({postcode} is {_names(served)})"
            )
        named = both
    elif not named:
        raise ImportRowError(f"line {line}: column city: {city!r} is not a French commune")
    here = [c for c in named if c.department == department]
    if not here:
        where = named[0]
        raise ImportRowError(
            f"line {line}: department {department} does not match {city} {postcode}".rstrip()
            + f": {where.name} is in département {where.department} "
            f"({ref.department_name(where.department) or 'unknown'})"
        )
    return here[0]


def _communes_named(city: str, places: PlaceIndex) -> tuple[Commune, ...]:
    """Every commune with this name, most populous first; "Havre" finds "Le Havre", and
    "Paris 15e" or "Caen Cedex 9" find Paris and Caen."""
    keys = places.key(city).split()
    while keys:
        found = places.named(" ".join(keys))  # own, everyday and delegated names
        if found:
            return tuple(dict.fromkeys(n.commune for n in found))
        if len(keys) < 2 or not _CITY_PART.fullmatch(keys[-1]):
            return ()
        keys = keys[:-1]
    return ()


def _names(communes: Sequence[Commune]) -> str:
    shown = ", ".join(c.name for c in communes[:3])
    return shown + (f" and {len(communes) - 3} more" if len(communes) > 3 else "")


def _department(text: str, ref: Referential) -> str | None:
    code = text.strip().upper()
    if code.isdigit() and len(code) == 1:
        code = "0" + code
    if ref.region_of(code):
        return code
    place = ref.match_place(text)
    return place.department if place and place.department else None


def import_rows(
    rows: Iterable[AmbassadorRow], source: str, charter: CharterRules | None = None
) -> ImportResult:
    """Write every row in one transaction: created, updated (by email) or unchanged. A new
    ambassador is asked to accept the charter by the daemon's next follow-ups
    (followup/charter.py), unless the row's `charte` says it was signed on paper."""
    created = updated = unchanged = on_paper = 0
    now = stamp()
    with database.atomic():
        for row in rows:
            fields = _fields(row)
            existing = Ambassador.get_or_none(Ambassador.email == row.email)
            if existing is None:
                existing = Ambassador.create(**fields, created_at=now, updated_at=now)
                created += 1
            elif any(getattr(existing, k) != v for k, v in fields.items()):
                Ambassador.update(**fields, updated_at=now).where(
                    Ambassador.id == existing.id
                ).execute()
                updated += 1
            else:
                unchanged += 1
            if row.charter_on is not None and charter is not None:
                day = datetime.combine(row.charter_on, time())  # the day, at midnight UTC
                on_paper += accept_on_paper(existing, charter, day, f"{source} line {row.line}")
        log_event(
            "import",
            f"ambassadors imported from {source}: "
            f"{created} created, {updated} updated, {unchanged} unchanged"
            + (f"; charter signed on paper recorded for {on_paper}" if on_paper else ""),
        )
    return ImportResult(created, updated, unchanged, on_paper=on_paper)


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


def unplaced(rows: Iterable[AmbassadorRow], ref: Referential) -> tuple[str, ...]:
    """One line per title that got no ROME code, with the nearest ROME titles: such an
    ambassador is only ever routed by the words of their title, never by trade code or
    domain, so a request for the same trade in other words never reaches them."""
    return tuple(
        f"line {row.line}: {row.title!r} ({row.email}) gets no ROME code; nearest ROME "
        f"titles: {'; '.join(ref.closest_titles(row.title))} (write one of them, or the "
        "usual name of the trade, in the title column)"
        for row in rows
        if row.code_rome is None
    )


def import_file(
    path: Path, ref: Referential, strict: bool = False, charter: CharterRules | None = None
) -> ImportResult:
    """Read, check and write a CSV file (all or nothing); errors name the file and line.
    A title that gets no ROME code is a warning in the result, an error when `strict`."""
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise ImportRowError(f"{path}: file not found") from exc
    except IsADirectoryError as exc:
        raise ImportRowError(f"{path}: is a folder, not a CSV file") from exc
    except OSError as exc:
        raise ImportRowError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    data = data.removeprefix(b"\xef\xbb\xbf")  # the BOM Excel writes with "CSV UTF-8"
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ImportRowError(
            f"{path}: line {line}: not valid UTF-8 (save the file as CSV UTF-8)"
        ) from exc
    separator = separator_of(text)
    try:
        rows = read_rows(text, ref, separator)
    except ImportRowError as exc:
        raise ImportRowError(f"{path}: {exc}") from exc
    warnings = unplaced(rows, ref)
    if strict and warnings:
        raise ImportRowError(f"{path}: nothing imported (--strict): " + "\n".join(warnings))
    result = import_rows(rows, str(path), charter)
    return replace(result, separator=separator, unplaced=warnings)


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


def record_honorability(
    address: str,
    checked_by: str,
    on: date,
    until: date | None,
    rules: HonorabilityRules,
) -> Ambassador:
    """The coordinator checked the ambassador's honorability (who, the day, its last valid
    day: by default `valid_days` later): requests from children under 15 may go to them
    once they accepted a charter covering minors (core/charter.py)."""
    try:
        email = normalise_email(address)
    except ValueError as exc:
        raise MailflowError(f"{address!r} is not an email address: {exc}") from exc
    who = " ".join(checked_by.split())
    if not who:
        raise MailflowError("--checked-by: say who checked (a name)")
    last = valid_until(on, until, rules)
    if last < on:
        raise MailflowError(f"--valid-until {last:%Y-%m-%d} is before --on {on:%Y-%m-%d}")
    with database.atomic():
        ambassador = Ambassador.get_or_none(Ambassador.email == email)
        if ambassador is None:
            raise MailflowError(f"no ambassador with the address {email}")
        ambassador.honorability_by = who[: Ambassador.honorability_by.max_length]
        ambassador.honorability_on, ambassador.honorability_until = on, last
        ambassador.updated_at = stamp()
        ambassador.save()
        log_event(
            "ambassador",
            f"ambassador #{ambassador.id}: honorability check recorded by the coordinator "
            f"(checked by {ambassador.honorability_by} on {on:%Y-%m-%d}, valid until "
            f"{last:%Y-%m-%d})",
        )
    return ambassador
