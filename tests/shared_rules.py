"""One Rules per rules directory for the whole test session.

mailflow reads its rules once per Context (context.load_rules), which is once per process in
production; tests build hundreds of contexts in one process, and the referential alone takes
a few seconds to index. conftest points mailflow.context.load_rules at `shared` for every
test: a directory whose files have not changed since is not read again. A test that edits a
rules file gets a fresh read (the key holds every file's size and modification time).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from mailflow import context
from mailflow.config import PROJECT_ROOT
from mailflow.context import Rules
from mailflow.core.consent import NONE, load_minors_policy

read_rules = context.load_rules  # the real one, for the tests of the loading itself
_READ: dict[tuple, Rules] = {}


def _key(rules_dir: Path) -> tuple:
    folder = Path(rules_dir).resolve()
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    charter = context.charter_file(folder)  # the charter's policy may come from elsewhere
    files += [charter] if charter.parent != folder else []
    return (folder, tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in files))


def shared(rules_dir: Path) -> Rules:
    """The rules of `rules_dir`, read once, with ONE change for every in-process test:
    `[minors] consent = "none"`. Before issue 14 a child's request was routed at once, and
    many tests write as a 12- or 14-year-old about something else (details, privacy, the
    corpus); under the real default ("guardian") their request would wait for a parent.
    The default itself is tested by tests/e2e/test_consent_e2e.py (the real `mailflow`
    processes, on the real rules) and by tests that ask for `guardian_rules` below."""
    key = _key(rules_dir)
    if key not in _READ:
        _READ[key] = read_rules(rules_dir)
    rules = _READ[key]
    return dataclasses.replace(rules, minors=dataclasses.replace(rules.minors, consent=NONE))


def guardian_rules(rules: Rules) -> Rules:
    """`rules` with the real file's `[minors]` policy back (its default: "guardian")."""
    return dataclasses.replace(rules, minors=load_minors_policy(PROJECT_ROOT / "rules"))
