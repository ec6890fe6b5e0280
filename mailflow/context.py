"""Everything a pipeline stage needs, loaded once and passed in (no globals).

The rules (every file under [paths] rules that the code reads) are read here, once per
Context, into one frozen Rules: a mistake in any of them stops `mailflow run` (or the command)
at start-up with the file and key named, instead of failing on the first mail that needs it.
Nothing else reads a rule file: decisions take the rules they need as data.

The referential (the ROME trades and the communes, indexed) takes seconds to build, and
every command and `run --once` needs it: it is kept built in a cache file
(`MAILFLOW_CACHE_DIR`, by default `$XDG_CACHE_HOME/mailflow` or `~/.cache/mailflow`), named
by a hash of every rules file and of mailflow's own code, so an edit of either builds it
again. `MAILFLOW_CACHE_DIR=off` builds it every time.
"""

from __future__ import annotations

import gc
import hashlib
import io
import logging
import os
import pickle
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from mailflow.config import Config
from mailflow.core.business_days import BusinessCalendar, load_calendar
from mailflow.core.charter import RULES_FILE as CHARTER_FILE
from mailflow.core.charter import CharterRules, load_charter_rules
from mailflow.core.classify import ClassifyRules, load_classify_rules
from mailflow.core.commands import CommandRules, load_command_rules
from mailflow.core.confirmation import ConfirmationRules, load_confirmation_rules
from mailflow.core.consent import MinorsPolicy, load_minors_policy
from mailflow.core.console_rules import ConsoleRules, load_console_rules
from mailflow.core.feedback_answer import FeedbackRules, load_feedback_rules
from mailflow.core.followup_policy import FollowupPolicy, load_policy
from mailflow.core.labels import Labels, load_labels
from mailflow.core.route import DEFAULT_POLICY, MatchingPolicy, load_matching_policy
from mailflow.core.structures import DEFAULT_RULES as NO_STRUCTURES
from mailflow.core.structures import StructureRules, load_structure_rules
from mailflow.understand.mail import UnderstandingRules, load_understanding_rules
from mailflow.understand.referential import Referential, load_referential


@dataclass(frozen=True, slots=True)
class Rules:
    """The rules directory, parsed: one value per file (the referential: several)."""

    followup: FollowupPolicy  # followup.toml
    calendar: BusinessCalendar  # holidays.toml
    commands: CommandRules  # commands.toml, its dates for ABSENT and out-of-offices too
    confirmation: ConfirmationRules  # confirmation.toml
    feedback: FeedbackRules  # feedback.toml
    classify: ClassifyRules  # classify.toml
    understanding: UnderstandingRules  # understanding.toml
    referential: Referential  # rome/, geo/, place_names.toml, understanding.toml [referential]
    labels: Labels  # labels.toml, rome/domaines.csv, geo/departements.json: French words
    matching: MatchingPolicy = DEFAULT_POLICY  # matching.toml: how far a match may stretch
    structures: StructureRules = NO_STRUCTURES  # structures.toml: partner structures, policy
    console: ConsoleRules = ConsoleRules()  # console.toml: the web console's limits
    charter: CharterRules | None = None  # charter.toml (None only in Rules built by hand)
    minors: MinorsPolicy = MinorsPolicy()  # minors.toml: consent for children under 15


def load_rules(rules_dir: Path) -> Rules:
    """Read and check every rule file; the first wrong one is a RulesError naming it."""
    rules_dir = Path(rules_dir)
    return Rules(
        followup=load_policy(rules_dir),
        calendar=load_calendar(rules_dir),
        commands=load_command_rules(rules_dir),
        confirmation=load_confirmation_rules(rules_dir),
        feedback=load_feedback_rules(rules_dir),
        classify=load_classify_rules(rules_dir),
        understanding=load_understanding_rules(rules_dir),
        labels=load_labels(rules_dir),
        matching=load_matching_policy(rules_dir),
        structures=load_structure_rules(rules_dir),
        console=load_console_rules(rules_dir),
        charter=load_charter_rules(charter_file(rules_dir)),
        minors=load_minors_policy(rules_dir),
        referential=_referential(rules_dir),  # last: the slow one (seconds, unless cached)
    )


CHARTER_ENV = "MAILFLOW_CHARTER_RULES"


def charter_file(rules_dir: Path) -> Path:
    """rules/charter.toml, or the file MAILFLOW_CHARTER_RULES names instead (when set and not
    empty): a trial installation, or the test suite, whose directories are all "signed on
    paper" (tests/conftest.py), may run under another charter policy without a copy of the
    whole rules folder."""
    instead = os.environ.get(CHARTER_ENV, "").strip()
    return Path(instead) if instead else Path(rules_dir) / CHARTER_FILE


log = logging.getLogger(__name__)
CACHE_ENV = "MAILFLOW_CACHE_DIR"
CACHE_KEPT = 8  # referential cache files kept (the newest): one per rules directory in use
_CODE = Path(__file__).resolve().parent  # mailflow/: its code is part of the cache key


def _referential(rules_dir: Path) -> Referential:
    """The referential from the cache when it holds this rules directory's, else built
    and written there. The build allocates hundreds of thousands of small objects: the
    garbage collector is paused meanwhile (its passes over them cost a third of it)."""
    folder = cache_dir()
    path = folder / f"referential-{_cache_key(rules_dir)}.pickle" if folder else None
    if path is not None and (cached := _read_cache(path)) is not None:
        return cached
    with _collector_paused():
        built = load_referential(rules_dir)
    if path is not None:
        _write_cache(path, built)
    return built


def cache_dir() -> Path | None:
    """Where the built referential is kept; None when off or not creatable."""
    value = os.environ.get(CACHE_ENV, "").strip()
    if value.lower() in ("off", "0", "no", "none"):
        return None
    folder = Path(value)
    try:
        if not value:
            base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
            folder = Path(base) / "mailflow"
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    except (OSError, RuntimeError, KeyError) as exc:  # no home, read-only: no cache
        log.debug("no cache for the referential (%s): %s", value or "~/.cache", exc)
        return None
    return folder


def _cache_key(rules_dir: Path) -> str:
    digest = hashlib.sha256(sys.version.encode())
    for base, pattern in ((Path(rules_dir), "*"), (_CODE, "*.py")):
        for path in sorted(p for p in base.rglob(pattern) if p.is_file()):
            digest.update(str(path.relative_to(base)).encode() + b"\0")
            digest.update(path.read_bytes())
    return digest.hexdigest()[:32]


def _safe(path: Path) -> bool:
    """Unpickling runs code: only a file and folder this user owns, that nobody else may
    write, are read (a shared or world-writable cache is ignored)."""
    for p in (path, path.parent):
        st = p.stat()
        if st.st_uid != os.getuid() or st.st_mode & 0o022:
            log.warning("cache %s ignored: not owned by this user, or writable by others", p)
            return False
    return True


def _read_cache(path: Path) -> Referential | None:
    try:
        if not path.exists() or not _safe(path):
            return None
        data = path.read_bytes()
        with _collector_paused():
            value = pickle.loads(data)
        os.utime(path)  # the newest used is the last pruned
    except Exception as exc:  # a torn or stale file: built again, and rewritten
        log.debug("referential cache %s unreadable: %s", path, exc)
        return None
    return value if isinstance(value, Referential) else None


def _write_cache(path: Path, value: Referential) -> None:
    """Written under a unique name, then renamed: a reader never sees half a file, and
    two processes building at once both succeed. The oldest files beyond CACHE_KEPT go."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        buffer = io.BytesIO()
        _Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(value)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(buffer.getbuffer())
        os.replace(tmp, path)
        others = sorted(path.parent.glob("referential-*.pickle"), key=lambda p: p.stat().st_mtime)
        for old in others[:-CACHE_KEPT]:
            old.unlink(missing_ok=True)
    except Exception as exc:  # a full disk or a read-only folder: no cache, no failure
        log.debug("referential cache %s not written: %s", path, exc)
        tmp.unlink(missing_ok=True)


def _mapping_proxy(items: dict[Any, Any]) -> MappingProxyType[Any, Any]:
    return MappingProxyType(items)


class _Pickler(pickle.Pickler):
    """The referential's read-only mappings (MappingProxyType) as the dicts they wrap."""

    def reducer_override(self, obj: Any) -> Any:
        if type(obj) is MappingProxyType:
            return _mapping_proxy, (dict(obj),)
        return NotImplemented


@contextmanager
def _collector_paused() -> Iterator[None]:
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


@dataclass(frozen=True)
class Context:
    cfg: Config
    rules: Rules

    @property
    def ref(self) -> Referential:
        """Shorthand: trades and places, read on every request."""
        return self.rules.referential

    @property
    def understanding(self) -> UnderstandingRules:
        return self.rules.understanding

    @property
    def classify(self) -> ClassifyRules:
        return self.rules.classify

    @property
    def matching(self) -> MatchingPolicy:
        return self.rules.matching

    @property
    def loop_marker(self) -> str:
        return self.cfg.relay.address

    @property
    def templates(self):  # noqa: ANN201 - a Path
        return self.cfg.paths.templates


def load_context(cfg: Config, rules: Rules | None = None) -> Context:
    """The Context of `cfg`, its rules read from [paths] rules, unless `rules` (already
    read from the same directory: tests share one Rules between their contexts)."""
    return Context(cfg=cfg, rules=rules if rules is not None else load_rules(cfg.paths.rules))


def load_labels_of(cfg: Config) -> Labels:
    """labels.toml (with the ROME domains' and départements' names) alone: `stats` and
    `report` show only these words, and would otherwise wait seconds for the referential."""
    return load_labels(cfg.paths.rules)


def load_structures_of(cfg: Config) -> StructureRules:
    """structures.toml alone: `structures list|import`, `stats` and `report` name the
    partner structures and need no referential."""
    return load_structure_rules(cfg.paths.rules)


def load_charter_of(cfg: Config) -> CharterRules:
    """charter.toml alone: `ambassadors list` and `honorability` need no referential."""
    return load_charter_rules(charter_file(cfg.paths.rules))
