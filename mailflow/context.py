"""Everything a pipeline stage needs, loaded once and passed in (no globals)."""

from __future__ import annotations

from dataclasses import dataclass

from mailflow.config import Config
from mailflow.core.classify import ClassifyRules, load_classify_rules
from mailflow.core.route import DEFAULT_POLICY, MatchingPolicy, load_matching_policy
from mailflow.understand.mail import UnderstandingRules, load_understanding_rules
from mailflow.understand.referential import Referential, load_referential


@dataclass(frozen=True)
class Context:
    cfg: Config
    ref: Referential
    understanding: UnderstandingRules
    classify: ClassifyRules
    matching: MatchingPolicy = DEFAULT_POLICY  # rules/matching.toml

    @property
    def loop_marker(self) -> str:
        return self.cfg.relay.address

    @property
    def templates(self):  # noqa: ANN201 - a Path
        return self.cfg.paths.templates


def load_context(cfg: Config) -> Context:
    rules = cfg.paths.rules
    return Context(
        cfg=cfg,
        ref=load_referential(rules),
        understanding=load_understanding_rules(rules),
        classify=load_classify_rules(rules),
        matching=load_matching_policy(rules),
    )
