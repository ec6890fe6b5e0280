"""Partner structures from the coordinator's spreadsheet: `mailflow structures import FILE.csv`
(all or nothing, every bad row reported by line before anything is written) and the list in
use (`mailflow structures list`).

The imported list goes to the `structure` table and replaces the whole previous import;
while that table holds rows, it is the list the daemon reads (services/structures.py), and
rules/structures.toml's own list (example data as shipped) is set aside; its [policy] and
[kinds] apply to both (docs/structures.md).

Columns (header row, any order): key, name, kind (required); domains, addresses (several
separated by spaces, commas or '|'), aliases (several separated by '|'), notify (oui/non,
empty: the policy's default). UTF-8 (with or without Excel's BOM) or Windows-1252, as French
Excel saves "CSV (séparateur : point-virgule)"; ',' or ';' between columns.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mailflow.clock import stamp
from mailflow.core.structures import Structure, StructureRules, check_unique, structure
from mailflow.core.textnorm import fold
from mailflow.errors import ImportRowError
from mailflow.store.models import PartnerStructure, database
from mailflow.store.record import log_event

REQUIRED_COLUMNS = ("key", "name", "kind")
OPTIONAL_COLUMNS = ("domains", "addresses", "aliases", "notify")
SEPARATORS = {",": "comma", ";": "semicolon ';'"}
_TRUE, _FALSE = (
    {"1", "oui", "yes", "true", "vrai", "o", "y"},
    {"0", "non", "no", "false", "faux", "n"},
)
_MANY = re.compile(r"[\s,|]+")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
MAX_SHOWN = 50  # bad rows listed; the count says how many more


@dataclass(frozen=True)
class ImportResult:
    count: int
    replaced: int  # rows of the previous import
    separator: str
    encoding: str


def decode(data: bytes) -> tuple[str, str]:
    """The text and its encoding: UTF-8 (Excel's BOM dropped), else Windows-1252."""
    data = data.removeprefix(b"\xef\xbb\xbf")
    try:
        return data.decode("utf-8"), "UTF-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "Windows-1252"
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ImportRowError(
            f"line {line}: neither UTF-8 nor Windows-1252 (save the file as CSV UTF-8)"
        ) from exc


def separator_of(text: str) -> str:
    first = text.split("\n", 1)[0]

    def named(sep: str) -> int:
        cells = next(csv.reader([first], delimiter=sep), [])
        return len({c.strip().lower() for c in cells} & set(REQUIRED_COLUMNS + OPTIONAL_COLUMNS))

    return max(SEPARATORS, key=named)


def read_rows(text: str, separator: str) -> list[Structure]:
    """Every row checked; all the bad ones are reported together, by line."""
    if not text.strip():
        raise ImportRowError("the file is empty")
    reader = csv.DictReader(io.StringIO(text), delimiter=separator)
    header = [(h or "").strip().lower() for h in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        said = "" if separator == "," else f" (columns separated by {SEPARATORS[separator]})"
        raise ImportRowError(f"line 1: missing column(s): {', '.join(missing)}{said}")
    twice = next((c for c in header if c and header.count(c) > 1), None)
    if twice:
        raise ImportRowError(f"line 1: column {twice} appears twice")
    reader.fieldnames = header
    rows: list[tuple[int, Structure]] = []
    errors: list[str] = []
    try:
        for raw in reader:
            line = reader.line_num
            if raw.get(None):
                errors.append(f"line {line}: more values than columns")
                continue
            cells = {k: v or "" for k, v in raw.items() if k}
            if not any(v.strip() for v in cells.values()):
                continue
            try:
                rows.append((line, _row(cells)))
            except ValueError as exc:
                errors.append(f"line {line}: {exc}")
    except csv.Error as exc:
        errors.append(f"line {reader.line_num + 1}: {exc}")
    errors += _clashes(rows)
    if errors:
        more = len(errors) - MAX_SHOWN
        shown = errors[:MAX_SHOWN] + ([f"... and {more} more"] if more > 0 else [])
        raise ImportRowError(f"{len(errors)} bad row(s), nothing imported:\n" + "\n".join(shown))
    if not rows:
        raise ImportRowError("no structure in the file (only a header)")
    return [s for _, s in rows]


def _row(cells: dict[str, str]) -> Structure:
    for key, value in cells.items():
        if _CONTROL.search(value):
            raise ValueError(f"column {key}: contains a control character")
    notify_text = fold(cells.get("notify", "").strip())
    if notify_text and notify_text not in _TRUE | _FALSE:
        raise ValueError(f"column notify: {cells['notify']!r} is not oui/non")
    return structure(
        cells["key"],
        cells["name"],
        cells["kind"],
        [d for d in _MANY.split(cells.get("domains", "")) if d],
        [a for a in _MANY.split(cells.get("addresses", "")) if a],
        [a for a in cells.get("aliases", "").split("|") if a.strip()],
        None if not notify_text else notify_text in _TRUE,
    )


def _clashes(rows: Sequence[tuple[int, Structure]]) -> list[str]:
    """A key, domain or address given twice, named with both lines."""
    owners: dict[tuple[str, str], int] = {}
    found: list[str] = []
    for line, s in rows:
        for what, values in (("key", (s.key,)), ("domain", s.domains), ("address", s.addresses)):
            for v in values:
                first = owners.setdefault((what, v), line)
                if first != line:
                    found.append(f"line {line}: {what} {v} already appears on line {first}")
    return found


def import_file(path: Path) -> ImportResult:
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise ImportRowError(f"{path}: file not found") from exc
    except OSError as exc:
        raise ImportRowError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    try:
        text, encoding = decode(data)
        separator = separator_of(text)
        rows = read_rows(text, separator)
        check_unique(rows)  # read_rows named the lines; this is the model's own check
    except ImportRowError as exc:
        raise ImportRowError(f"{path}: {exc}") from exc
    replaced = write(rows, str(path))
    return ImportResult(len(rows), replaced, separator, encoding)


def write(rows: Sequence[Structure], source: str) -> int:
    """The whole list replaced, in one transaction; returns how many rows it replaced."""
    now = stamp()
    with database.atomic():
        replaced = PartnerStructure.delete().execute()
        for s in rows:
            PartnerStructure.create(
                key=s.key,
                name=s.name,
                kind=s.kind,
                domains="\n".join(s.domains),
                addresses="\n".join(s.addresses),
                aliases="\n".join(s.aliases),
                notify=s.notify,
                imported_at=now,
            )
        log_event(
            "import",
            f"partner structures imported from {source}: {len(rows)} (replacing {replaced})",
        )
    return replaced


def listing(rules: StructureRules, imported: Sequence[Structure]) -> dict:
    """The list in use and where it comes from, for `structures list`."""
    source = "database (mailflow structures import)" if imported else "rules/structures.toml"
    shown = imported or rules.structures
    return {
        "source": source,
        "example": not imported and rules.example,
        "notify_default": rules.notify_default,
        "structures": [
            {
                "key": s.key,
                "name": s.name,
                "kind": s.kind,
                "domains": list(s.domains),
                "addresses": list(s.addresses),
                "aliases": list(s.aliases),
                "notify": rules.notify_default if s.notify is None else s.notify,
            }
            for s in shown
        ],
    }
