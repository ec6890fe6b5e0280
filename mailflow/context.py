"""Everything a pipeline stage needs, loaded once and passed in (no globals).

The rules (every file under [paths] rules that the code reads) are read here, once per
Context, into one frozen Rules: a mistake in any of them stops `mailflow run` (or the command)
at start-up with the file and key named, instead of failing on the first mail that needs it.
Nothing else reads a rule file: decisions take the rules they need as data.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mailflow.config import Config
from mailflow.core.business_days import BusinessCalendar, load_calendar
from mailflow.core.classify import ClassifyRules, load_classify_rules
from mailflow.core.commands import CommandRules, load_command_rules
from mailflow.core.confirmation import ConfirmationRules, load_confirmation_rules
from mailflow.core.feedback_answer import FeedbackRules, load_feedback_rules
from mailflow.core.followup_policy import FollowupPolicy, load_policy
from mailflow.core.labels import Labels, load_labels
from mailflow.core.route import DEFAULT_POLICY, MatchingPolicy, load_matching_policy
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
        referential=load_referential(rules_dir),  # last: the slow one (a few seconds)
    )


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
