"""One Rules per rules directory for the whole test session.

mailflow reads its rules once per Context (context.load_rules), which is once per process in
production; tests build hundreds of contexts in one process, and the referential alone takes
a few seconds to index. conftest points mailflow.context.load_rules at `shared` for every
test: a directory whose files have not changed since is not read again. A test that edits a
rules file gets a fresh read (the key holds every file's size and modification time).
"""

from __future__ import annotations

from pathlib import Path

from mailflow import context
from mailflow.context import Rules

read_rules = context.load_rules  # the real one, for the tests of the loading itself
_READ: dict[tuple, Rules] = {}


def _key(rules_dir: Path) -> tuple:
    folder = Path(rules_dir).resolve()
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    charter = context.charter_file(folder)  # the charter's policy may come from elsewhere
    files += [charter] if charter.parent != folder else []
    return (folder, tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in files))


def shared(rules_dir: Path) -> Rules:
    key = _key(rules_dir)
    if key not in _READ:
        _READ[key] = read_rules(rules_dir)
    return _READ[key]
